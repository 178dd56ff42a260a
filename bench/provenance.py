"""What code produced a result: the harness version that goes into every run's resume key.

A stored result stays valid only while the code that produced it is unchanged. The entry's own
code is covered by :meth:`optimizers.base.Entry.source_hash` (its file and the local helper
modules it imports); everything else that shapes a run -- the oracle, counting, certificate,
runner, profiles (``bench/``) and the problem definitions (``problems/``) -- is covered by
:func:`harness_version`. Editing any of those files gives new keys, so ``bench run`` re-runs
instead of resuming onto results measured by different code.
"""

from __future__ import annotations

import functools
import hashlib
import pathlib

#: the packages whose sources make up the harness (relative to the repository/package root)
HARNESS_PACKAGES = ("bench", "problems")


def harness_files(root: pathlib.Path | None = None) -> list[pathlib.Path]:
    """Every ``*.py`` of the harness packages, sorted by their path relative to ``root``."""
    root = root or pathlib.Path(__file__).resolve().parent.parent
    files = []
    for pkg in HARNESS_PACKAGES:
        files.extend(p for p in (root / pkg).rglob("*.py") if "__pycache__" not in p.parts)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def _digest(root: pathlib.Path | None = None) -> str:
    root = root or pathlib.Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in harness_files(root):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        data = path.read_bytes()
        h.update(str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def harness_version() -> str:
    """Short sha256 (16 hex digits) over the names and contents of ``bench/**/*.py`` and
    ``problems/**/*.py``, sorted by path. Computed once per process (the sources a process runs
    are the ones it imported at start; an edit takes effect in the next process)."""
    return _digest()
