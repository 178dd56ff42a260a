"""What code produced a result: the harness version that goes into every run's resume key.

A stored result stays valid only while the code that produced it is unchanged. The entry's own
code is covered by :meth:`optimizers.base.Entry.source_hash` (its file and the local helper
modules it imports); everything else that shapes a run -- the oracle, counting, certificate,
runner, sandbox, profiles, suites (``bench/``) and the problem definitions (``problems/``) -- is
covered by :func:`harness_version`. Editing any of those files gives new keys, so ``bench run``
re-runs instead of resuming onto results measured by different code.

The front end is left out (:data:`FRONT_END`): modules that parse commands, schedule tasks,
choose hyperparameters or write the store, and that no run executes. Everything they decide
(entry, hyperparameters, problem, seeds, budget, profile, track) is written into each record
field by field, so editing them cannot change a recorded number unseen, and the leaderboard's
archive stays valid across an edit of the command line. A module is in the harness unless it is
listed here, and ``tests/bench/test_store_provenance.py`` runs sealed runs in a fresh process
and fails if any module they load is in the list.
"""

from __future__ import annotations

import functools
import hashlib
import pathlib

#: the packages whose sources make up the harness (relative to the repository/package root)
HARNESS_PACKAGES = ("bench", "problems")

#: modules of the harness packages that no run executes (see the module docstring)
FRONT_END = frozenset({
    "bench/__main__.py", "bench/cli.py", "bench/tune_command.py", "bench/tuning.py",
    "bench/executors.py", "bench/dask_executor.py", "bench/store.py",
    "bench/batch_check.py",
})


def harness_files(root: pathlib.Path | None = None) -> list[pathlib.Path]:
    """Every ``*.py`` of the harness packages but the :data:`FRONT_END`, sorted by their path
    relative to ``root``."""
    root = root or pathlib.Path(__file__).resolve().parent.parent
    files = []
    for pkg in HARNESS_PACKAGES:
        files.extend(p for p in (root / pkg).rglob("*.py")
                     if "__pycache__" not in p.parts
                     and p.relative_to(root).as_posix() not in FRONT_END)
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
    """Short sha256 (16 hex digits) over the names and contents of :func:`harness_files`
    (``bench/**/*.py`` and ``problems/**/*.py`` but the front end), sorted by path. Computed once per process (the sources a process runs
    are the ones it imported at start; an edit takes effect in the next process)."""
    return _digest()
