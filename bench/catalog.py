"""Problem facts without building problems: :meth:`problems.base.Problem.describe` of every
registered problem id, cached on disk per harness version.

Building an instance can take seconds (a dataset, a saddle found numerically), so ``bench list
problems`` and the site read the facts from a cache file,
``$SADDLEBENCH_CACHE/problem-facts-<harness version>.json`` (default ``~/.cache/saddlebench``).
The harness version (:func:`bench.provenance.harness_version`) covers the problem code, so a
changed problem never reads stale facts; a missing, unreadable or foreign file is rebuilt.
"""

from __future__ import annotations

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


def cache_file() -> pathlib.Path:
    from bench.provenance import harness_version

    return cache_dir() / f"problem-facts-{harness_version()}.json"


def _read(path: pathlib.Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return {}
    facts = data.get("problems")
    return facts if isinstance(facts, dict) else {}


def _write(path: pathlib.Path, facts: dict[str, Any]) -> None:
    """Atomic replace; a cache that cannot be written is only slower, never an error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
            json.dump({"format": FORMAT, "problems": facts}, f, sort_keys=True)
        os.replace(f.name, path)
    except OSError:
        pass


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def describe(problem_ids: list[str]) -> dict[str, dict[str, Any]]:
    """``{id: facts}`` for canonical problem ids; a problem that fails to build maps to
    ``{"error": message}`` (and is retried next time, not cached)."""
    from problems import make_problem

    path = cache_file()
    cached = _read(path)
    out, new = {}, False
    for pid in problem_ids:
        if pid in cached:
            out[pid] = cached[pid]
            continue
        try:
            facts = {k: _jsonable(v) for k, v in make_problem(pid).describe().items()}
        except Exception as exc:  # one broken problem must not hide the others
            out[pid] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        out[pid] = cached[pid] = facts
        new = True
    if new:
        _write(path, cached)
    return out


def all_problem_ids(family: str | None = None) -> list[str]:
    """Every registered ``family:size`` id (of one family when given), in registry order."""
    from problems import families

    return [f"{name}:{size}" for name, cls in families().items()
            if family is None or name == family for size in cls.sizes]
