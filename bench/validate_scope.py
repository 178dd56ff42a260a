"""``bench validate --since REF``: what a pull request submits, and whether it stays in scope.

The changes are those of ``git diff --name-status --no-renames REF...HEAD`` (HEAD against its
merge base with REF). Submitted entries: the ENTRY arguments if given, else the entry modules
``optimizers/<name>.py`` the diff adds or changes, else (a records-only pull request) the
entries whose ``<results>/<suite>/<name>.jsonl`` it changes. The diff is out of scope when it

* touches records (any ``<results>/**/*.jsonl``) or the tuning file
  (``leaderboard/tuning/<name>.json``) of an entry it does not submit;
* changes or removes a line of a records file that exists at the merge base (records are
  append-only: the base file's lines must be the first lines of the new one), or deletes one;
* changes the harness or this validator (``bench/``, ``problems/``: the records would be checked
  by the code that made them), or a shared module of ``optimizers/`` that exists at the merge
  base (``base.py``, ``__init__.py``, ``_*.py``: other entries' source hashes would change),
  or deletes an entry module.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import subprocess

SHARED = ("base.py", "__init__.py")
TUNING_FOLDER = "leaderboard/tuning"  # relative to the repository


class ScopeError(Exception):
    """git cannot answer (not a checkout, unknown ref): a usage error."""


@dataclasses.dataclass
class Scope:
    """What ``--since`` found: the merge base, the submitted entries (paths of entry modules,
    or names), and every way the diff leaves the scope of a submission."""

    ref: str
    base: str
    changed: list[tuple[str, str]]  # (status letter, path relative to the repository)
    entries: list[str]
    problems: list[str]


def git(args: list[str], cwd: pathlib.Path) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise ScopeError("--since needs git, which is not installed") from None
    if out.returncode != 0:
        raise ScopeError(out.stderr.strip() or f"git {' '.join(args)} failed")
    return out.stdout


def entry_module(path: str) -> str | None:
    """The entry name of ``optimizers/<stem>.py`` (stem not private, not base/__init__)."""
    parts = pathlib.PurePosixPath(path).parts
    if len(parts) == 2 and parts[0] == "optimizers" and parts[1].endswith(".py") \
            and not parts[1].startswith("_") and parts[1] not in SHARED:
        return parts[1][:-3].replace("_", "-")
    return None


def diff_scope(ref: str, results: pathlib.Path, suite: str, explicit: list[str],
               cwd: pathlib.Path | None = None) -> Scope:
    """The :class:`Scope` of ``REF...HEAD`` in the repository holding ``cwd``; ``explicit`` are
    the ENTRY arguments (names or paths). Raises :class:`ScopeError`."""
    from bench.validate_checks import entry_name_of

    cwd = pathlib.Path(cwd or os.getcwd())
    try:
        top = pathlib.Path(git(["rev-parse", "--show-toplevel"], cwd).strip())
    except ScopeError as exc:
        raise ScopeError(f"--since needs a git checkout, and {cwd} is not one ({exc})") from None
    try:
        base = git(["merge-base", ref, "HEAD"], top).strip()
    except ScopeError as exc:
        raise ScopeError(f"--since {ref}: git finds no common ancestor of {ref!r} and HEAD ({exc}); "
                         f"fetch the base branch first (git fetch origin main) or name another ref") from None
    changed = []
    for line in git(["diff", "--name-status", "--no-renames", f"{ref}...HEAD"], top).splitlines():
        status, _, path = line.partition("\t")
        if path:
            changed.append((status[:1], path))
    try:
        results_rel = pathlib.Path(os.path.relpath((cwd / results).resolve(), top.resolve())).as_posix()
    except ValueError:  # another drive
        results_rel = None
    if results_rel is not None and results_rel.startswith(".."):
        results_rel = None

    modules = [(s, p) for s, p in changed if entry_module(p)]
    records = [(s, p) for s, p in changed if results_rel and p.startswith(results_rel + "/")
               and p.endswith(".jsonl")]
    suite_records = [p for _, p in records if pathlib.PurePosixPath(p).parent.name == suite]
    if explicit:
        entries = list(explicit)
    elif modules:
        entries = [os.path.relpath(top / p, cwd) for s, p in modules if s != "D"]
    else:
        entries = [pathlib.PurePosixPath(p).stem for p in suite_records]
    submitted = {entry_name_of(e) for e in entries}

    problems = []
    for status, path in changed:
        name = entry_module(path)
        parts = pathlib.PurePosixPath(path).parts
        if parts[0] in ("bench", "problems"):
            problems.append(f"`{path}`: changes the harness or the validator; a submission changes "
                            f"its entry module, its records and its tuning file only")
        elif parts[0] == "optimizers" and name is None and len(parts) == 2 and status != "A":
            problems.append(f"`{path}`: changes a shared module of optimizers/, which changes other "
                            f"entries' source hashes; add a helper of your own instead")
        elif name is not None and status == "D":
            problems.append(f"`{path}`: deletes an entry module")
    for status, path in changed:
        tuning = pathlib.PurePosixPath(path)
        if tuning.parent.as_posix() == TUNING_FOLDER and tuning.suffix == ".json" \
                and tuning.stem not in submitted:
            problems.append(f"`{path}`: changes the tuning file of {tuning.stem}, which this pull "
                            f"request does not submit")
    for status, path in records:
        owner = pathlib.PurePosixPath(path).stem
        if owner not in submitted:
            problems.append(f"`{path}`: touches the records of {owner}, which this pull request "
                            f"does not submit (submitted: {', '.join(sorted(submitted)) or 'none'})")
        if status == "D":
            problems.append(f"`{path}`: deletes a records file (records are append-only)")
        elif status == "M":
            problems += _append_only(path, base, top)
    return Scope(ref, base, changed, entries, problems)


def _append_only(path: str, base: str, top: pathlib.Path) -> list[str]:
    """Empty when the file at HEAD starts with every line it had at ``base``."""
    old = git(["show", f"{base}:{path}"], top).splitlines()
    new = git(["show", f"HEAD:{path}"], top).splitlines()
    for i, line in enumerate(old):
        if i >= len(new) or new[i] != line:
            return [f"`{path}` line {i + 1}: an existing record line is changed or removed "
                    f"(records are append-only: add new lines at the end, never edit or delete one)"]
    return []
