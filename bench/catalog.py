"""Problem facts without building problems: :meth:`problems.base.Problem.describe` of every
registered problem id, cached on disk per harness version.

Building an instance can take seconds (a dataset, a saddle found numerically), so ``bench list
problems`` and the site read the facts from a cache file,
``$SADDLEBENCH_CACHE/problem-facts-<key>.json`` (default ``~/.cache/saddlebench``). The key is
a sha256 over the bytes of the harness files (:func:`bench.provenance.harness_files`, the
problem code among them): any edit there, even of a comment, gives a new file, so facts are
never stale; a missing, unreadable or foreign file is rebuilt. (The byte hash, unlike
:func:`bench.provenance.harness_version`, takes milliseconds.)
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pathlib
import tempfile
from typing import Any

FORMAT = 1


def cache_dir() -> pathlib.Path:
    """``$SADDLEBENCH_CACHE``, else ``$XDG_CACHE_HOME/saddlebench``, else ``~/.cache/saddlebench``."""
    if os.environ.get("SADDLEBENCH_CACHE"):
        return pathlib.Path(os.environ["SADDLEBENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base) / "saddlebench"


@functools.lru_cache(maxsize=1)
def code_key() -> str:
    """sha256 (16 hex digits) over the paths and bytes of the harness files."""
    from bench.provenance import harness_files

    root = pathlib.Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in harness_files(root):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def cache_file() -> pathlib.Path:
    return cache_dir() / f"problem-facts-{code_key()}.json"


def _read(path: pathlib.Path) -> dict[str, Any]:
    """The cache file's content ({} when missing, unreadable or of another format)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return {}
    return {k: v for k, v in data.items() if k in ("problems", "ids") and isinstance(v, dict)}


def _write(path: pathlib.Path, content: dict[str, Any]) -> None:
    """Atomic replace; a cache that cannot be written is only slower, never an error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
            json.dump({"format": FORMAT, **content}, f, sort_keys=True)
        os.replace(f.name, path)
    except OSError:
        pass


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def describe(problem_ids: list[str]) -> dict[str, dict[str, Any]]:
    """``{id: facts}`` for canonical problem ids; a problem that fails to build maps to
    ``{"error": message}`` (and is retried next time, not cached)."""
    path = cache_file()
    content = _read(path)
    cached = content.setdefault("problems", {})
    out, new = {}, False
    for pid in problem_ids:
        if pid in cached:
            out[pid] = cached[pid]
            continue
        try:
            from problems import make_problem  # only when a fact is missing: imports torch

            facts = {k: _jsonable(v) for k, v in make_problem(pid).describe().items()}
        except Exception as exc:  # one broken problem must not hide the others
            out[pid] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        out[pid] = cached[pid] = facts
        new = True
    if new:
        _write(path, content)
    return out


def all_problem_ids(family: str | None = None) -> list[str]:
    """Every registered ``family:size`` id (of one family when given), in registry order
    (cached like the facts: a warm call imports no problem module)."""
    path = cache_file()
    content = _read(path)
    ids = content.get("ids")
    if not ids:
        from problems import families

        ids = {name: list(cls.sizes) for name, cls in families().items()}
        _write(path, {**content, "ids": ids})
    return [f"{name}:{size}" for name, sizes in ids.items()
            if family is None or name == family for size in sizes]
