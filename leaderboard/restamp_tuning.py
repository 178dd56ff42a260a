"""Re-stamp the committed tuning files with their entries' source hash, when the code is unchanged.

    python -m leaderboard.restamp_tuning [--entries sgd,adam] [--allow-metadata]
        [--retired-keyword NAME ...] [--check]

A tuning file (``leaderboard/tuning/<entry>.json``) carries the source hash of the entry whose
trials it holds, and the tuned track refuses it once the entry hashes differently
(:func:`bench.tuning.load_tuning`). A hash can change while the code does not: a new formula
(one that leaves prose out), a reworded docstring under the old one. For each file this command

1. takes the commit that last changed the file (``git log -1 -- <file>``) and the entry's
   sources at that commit (its module and the helper modules it imports, as they were there);
2. checks that the file's recorded hash is the hash of those sources, under the current formula
   or the one before it (sha256 of the raw bytes, :func:`raw_hash`): these are the sources the
   trials were measured with;
3. checks that their code is the current sources' code: the same files and, in each, the same
   code tokens (:func:`optimizers.base.source_code`). With ``--allow-metadata`` the
   ``Entry(...)`` call may also differ in keywords whose value is a string constant describing
   the entry, which no run reads (``DESCRIPTIVE``: summary, authors, paper, url, license), and
   with ``--retired-keyword NAME`` in a string keyword ``NAME`` that ``Entry`` no longer has;
4. writes the current hash and appends ``{from, to, checked_at, metadata}`` to the file's
   ``restamped`` list.

Anything else is refused with the first differing line: the trials were measured with other
code, so the entry must be tuned again (``bench tune -o ENTRY``). Files are handled one by one;
the exit status is 1 when any was refused.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import hashlib
import json
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
TUNING_DIR = ROOT / "leaderboard" / "tuning"

#: keywords of ``Entry(...)`` that describe the entry and that no run reads
DESCRIPTIVE = ("summary", "authors", "paper", "url", "license")

Sources = list[tuple[str, bytes]]


class RestampError(RuntimeError):
    """A tuning file that cannot be re-stamped; the message says why and what to do."""


# ------------------------------------------------------------------------------ sources
def _git(root: pathlib.Path, *args: str) -> bytes:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True)
    if done.returncode:
        raise RestampError(f"`git {' '.join(args)}` failed in {root}: "
                           f"{done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def last_commit(root: pathlib.Path, rel: str) -> str:
    """The commit that last changed ``rel`` (a path relative to ``root``)."""
    commit = _git(root, "log", "-1", "--format=%H", "--", rel).decode().strip()
    if not commit:
        raise RestampError(f"{rel} has no commit: commit the file as `bench tune` wrote it first")
    return commit


def package_at(root: pathlib.Path, commit: str, dest: pathlib.Path) -> pathlib.Path:
    """The ``optimizers/*.py`` files of ``commit`` written under ``dest``; their folder."""
    listing = _git(root, "ls-tree", "-r", "--name-only", commit, "--", "optimizers")
    names = listing.decode().split("\n")
    for name in (n for n in names if n.endswith(".py")):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_git(root, "show", f"{commit}:{name}"))
    return dest / "optimizers"


def entry_sources(package: pathlib.Path, entry: str) -> Sources:
    """The built-in entry's module and its helpers, as the harness hashes them."""
    from optimizers.base import _local_sources

    path = package / f"{entry.replace('-', '_')}.py"
    if not path.is_file():
        raise RestampError(f"{entry!r} is not a built-in entry there (no {path.name} in "
                           f"{package}); only built-in entries' tuning files can be re-stamped")
    return _local_sources(path, package)


def harness_hash(entry: str, sources: Sources) -> str:
    """The source hash the harness gives a built-in entry (bench.entry_info.source_digest)."""
    from bench.entry_info import source_digest

    return source_digest({"kind": "builtin", "name": entry}, sources)


def raw_hash(sources: Sources) -> str:
    """The formula before code tokens: sha256 (16 hex digits) of the raw bytes, main file first,
    then each helper as ``"\\0helper\\0" name "\\0" len "\\0" bytes``, sorted by name."""
    h = hashlib.sha256()
    (_, main), *helpers = sources
    h.update(main)
    for name, data in sorted(helpers):
        h.update(b"\0helper\0" + name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()[:16]


# ------------------------------------------------------------------------------ comparing
def _is_entry_call(node: ast.AST) -> bool:
    func = getattr(node, "func", None)
    return isinstance(node, ast.Call) and (getattr(func, "id", None) == "Entry"
                                           or getattr(func, "attr", None) == "Entry")


def _descriptive(kw: ast.keyword, names: tuple[str, ...]) -> bool:
    value = kw.value
    return kw.arg in names and isinstance(value, ast.Constant) and isinstance(value.value, str)


def check_retired(names: tuple[str, ...]) -> None:
    """Refuse a "retired" keyword that is still a field of Entry (it may shape runs)."""
    import dataclasses

    from optimizers.base import Entry

    alive = {f.name for f in dataclasses.fields(Entry)} & set(names)
    if alive:
        raise RestampError(f"--retired-keyword {', '.join(sorted(alive))}: Entry still has that "
                           f"field; only a keyword that Entry no longer accepts can be ignored")


def description(source: bytes, names: tuple[str, ...] = DESCRIPTIVE) -> dict[str, str]:
    """The string keywords ``names`` of the file's ``Entry(...)`` calls."""
    return {kw.arg: kw.value.value for node in ast.walk(ast.parse(source)) if _is_entry_call(node)
            for kw in node.keywords if _descriptive(kw, names)}


def without_description(source: bytes, names: tuple[str, ...] = DESCRIPTIVE) -> str:
    """The file's syntax tree without docstrings and without the string keywords ``names`` of
    its ``Entry(...)`` calls (``ast.dump``, positions left out)."""
    tree = ast.parse(source)
    scopes = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for node in ast.walk(tree):
        first = node.body[0] if isinstance(node, scopes) and node.body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                and isinstance(first.value.value, str):
            node.body = node.body[1:] or [ast.Pass()]
        if _is_entry_call(node):
            node.keywords = [kw for kw in node.keywords if not _descriptive(kw, names)]
    return ast.dump(tree)


def compare(old: Sources, new: Sources, allow_metadata: bool,
            retired: tuple[str, ...] = ()) -> list[str]:
    """The ignored keywords that differ (``DESCRIPTIVE`` with ``allow_metadata``, and
    ``retired``); RestampError for any other difference between the code of ``old`` and ``new``."""
    from optimizers.base import source_code

    check_retired(retired)
    names = (DESCRIPTIVE if allow_metadata else ()) + tuple(retired)

    if [n for n, _ in old] != [n for n, _ in new]:
        raise RestampError(f"the entry's files differ: {[n for n, _ in old]} then, "
                           f"{[n for n, _ in new]} now")
    changed: set[str] = set()
    for (name, before), (_, after) in zip(old, new):
        a, b = source_code(before), source_code(after)
        if a == b:
            continue
        if names:
            try:
                same = without_description(before, names) == without_description(after, names)
            except (SyntaxError, ValueError):
                same = False
            if same:
                d0, d1 = description(before, names), description(after, names)
                changed |= {k for k in d0.keys() | d1.keys() if d0.get(k) != d1.get(k)}
                continue
        diff = [line for line in difflib.unified_diff(a.decode(errors="replace").splitlines(),
                                                      b.decode(errors="replace").splitlines(),
                                                      lineterm="", n=0)
                if line[:1] in "+-" and line[:3] not in ("+++", "---")]
        hint = "" if allow_metadata else " (descriptive Entry keywords only? see --allow-metadata)"
        raise RestampError(f"the code of {name} changed{hint}: " + " | ".join(diff[:4]))
    return sorted(changed)


# ------------------------------------------------------------------------------ re-stamping
def restamp(path: pathlib.Path, root: pathlib.Path = ROOT, allow_metadata: bool = False,
            write: bool = True, retired: tuple[str, ...] = ()) -> str:
    """Re-stamp one tuning file (see the module docstring); what was done, as one line."""
    from bench.tuning import write_tuning

    data = json.loads(path.read_text())
    entry = data.get("entry")
    if not isinstance(entry, str) or "entry_source_hash" not in data:
        raise RestampError(f"{path} is not a tuning file (no entry / entry_source_hash)")
    now = entry_sources(root / "optimizers", entry)
    new_hash, recorded = harness_hash(entry, now), data["entry_source_hash"]
    if recorded == new_hash:
        return f"{entry}: up to date ({new_hash})"
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    commit = last_commit(root, rel)
    if json.loads(_git(root, "show", f"{commit}:{rel}")) != data:
        raise RestampError(f"{rel} differs from its last commit {commit[:12]}: commit it (or "
                           f"restore it) first, so that the commit names the sources it was made "
                           f"with")
    with tempfile.TemporaryDirectory() as tmp:
        then = entry_sources(package_at(root, commit, pathlib.Path(tmp)), entry)
    formulas = {harness_hash(entry, then): "code tokens", raw_hash(then): "raw bytes"}
    if recorded not in formulas:
        hashes = " / ".join(f"{h} ({f})" for h, f in formulas.items())
        raise RestampError(f"{rel} records hash {recorded}, but the entry's sources at "
                           f"{commit[:12]} hash to {hashes}: "
                           f"it was not made from them; tune again (`bench tune -o {entry}`)")
    try:
        metadata = compare(then, now, allow_metadata, tuple(retired))
    except RestampError as exc:
        raise RestampError(f"{rel}: {exc} since {commit[:12]}; the trials were measured with "
                           f"other code: tune again (`bench tune -o {entry}`)") from None
    note = f"metadata {', '.join(metadata)} changed" if metadata else "code unchanged"
    if write:
        data["entry_source_hash"] = new_hash
        data.setdefault("restamped", []).append(
            {"from": recorded, "to": new_hash, "checked_at": commit, "metadata": metadata})
        write_tuning(path, data)
    return (f"{entry}: {recorded} -> {new_hash}{'' if write else ' (not written: --check)'}, "
            f"{note} since {commit[:12]} ({formulas[recorded]})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tuning-dir", default=str(TUNING_DIR), help="default: %(default)s")
    p.add_argument("--entries", help="comma-separated entry names (default: every tuning file)")
    p.add_argument("--allow-metadata", action="store_true",
                   help="accept differences in Entry's descriptive string keywords "
                        f"({', '.join(DESCRIPTIVE)})")
    p.add_argument("--retired-keyword", action="append", default=[], metavar="NAME",
                   help="a string keyword of Entry(...) that Entry no longer has: accept its "
                        "removal (repeatable)")
    p.add_argument("--check", action="store_true", help="verify only; write nothing")
    a = p.parse_args(argv)
    folder = pathlib.Path(a.tuning_dir)
    paths = ([folder / f"{n.strip()}.json" for n in a.entries.split(",")] if a.entries
             else sorted(folder.glob("*.json")))
    if not paths:
        print(f"no tuning files in {folder}", file=sys.stderr)
        return 2
    refused = 0
    for path in paths:
        try:
            print(restamp(path, ROOT, allow_metadata=a.allow_metadata, write=not a.check,
                          retired=tuple(a.retired_keyword)))
        except (RestampError, OSError, ValueError) as exc:
            refused += 1
            print(f"{path.stem}: refused: {exc}", file=sys.stderr)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
