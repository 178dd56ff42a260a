"""What code produced a result: the harness version that goes into every run's resume key.

A stored result stays valid only while the code that produced it is unchanged. The entry's own
code is covered by :meth:`optimizers.base.Entry.source_hash` (its file and the local helper
modules it imports); everything else that shapes a run -- the oracle, counting, certificate,
runner, sandbox, profiles, suites (``bench/``) and the problem definitions (``problems/``) -- is
covered by :func:`harness_version`. Editing any of those files gives new keys, so ``bench run``
re-runs instead of resuming onto results measured by different code.

What is hashed is the code, not its prose: each file without comments, docstrings and
blank lines (:func:`code_tokens`). Rewording a docstring keeps the version;
changing a statement, a constant, a name or a file's path changes it.

The front end is left out (:func:`front_end`, listed in ``bench/front_end.txt``): modules that
parse commands, schedule tasks, choose hyperparameters or write the store, and that no run
executes. Everything they decide (entry, hyperparameters, problem, seeds, budget, profile,
track) is written into each record field by field, so editing them cannot change a recorded
number unseen, and the leaderboard's archive stays valid across an edit of the command line. A
module is in the harness unless it is listed there, and ``tests/bench/test_store_provenance.py``
runs sealed runs in a fresh process and fails if any module they load is in the list.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import pathlib
import tokenize

#: the packages whose sources make up the harness (relative to the repository/package root)
HARNESS_PACKAGES = ("bench", "problems")

#: the file naming the modules of the harness packages that no run executes, one path per line
#: (a data file, so that listing a new front-end module does not change the harness version)
FRONT_END_FILE = pathlib.Path(__file__).resolve().parent / "front_end.txt"


def front_end(path: pathlib.Path = FRONT_END_FILE) -> frozenset[str]:
    """The front-end modules (paths relative to the repository root; see the module docstring)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return frozenset(line for line in lines if line)


def harness_files(root: pathlib.Path | None = None) -> list[pathlib.Path]:
    """Every ``*.py`` of the harness packages but the :func:`front_end`, sorted by their path
    relative to ``root``."""
    root = root or pathlib.Path(__file__).resolve().parent.parent
    skip = front_end(root / "bench" / FRONT_END_FILE.name)
    files = []
    for pkg in HARNESS_PACKAGES:
        files.extend(p for p in (root / pkg).rglob("*.py")
                     if "__pycache__" not in p.parts
                     and p.relative_to(root).as_posix() not in skip)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def _docstring_starts(tree: ast.AST) -> set[tuple[int, int]]:
    """(line, column) of every module, class and function docstring."""
    starts = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                starts.add((body[0].lineno, body[0].col_offset))
    return starts


def code_tokens(source: bytes) -> bytes:
    """A Python source without its comments, docstrings, trailing spaces and blank lines (the
    rest byte for byte, so the result does not depend on the Python version's tokenizer)."""
    text = source.decode("utf-8")
    docstrings = _docstring_starts(ast.parse(text))
    lines = text.splitlines()
    cuts: dict[int, list[tuple[int, int]]] = {}  # line index -> (start col, end col) to blank
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT or (tok.type == tokenize.STRING and tok.start in docstrings):
            (r0, c0), (r1, c1) = tok.start, tok.end
            for r in range(r0, r1 + 1):
                width = len(lines[r - 1])
                cuts.setdefault(r - 1, []).append((c0 if r == r0 else 0, c1 if r == r1 else width))
    kept = []
    for i, line in enumerate(lines):
        for c0, c1 in sorted(cuts.get(i, []), reverse=True):
            line = line[:c0] + line[c1:]
        if line.strip():
            kept.append(line.rstrip())
    return "\n".join(kept).encode()


def _digest(root: pathlib.Path | None = None) -> str:
    root = root or pathlib.Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in harness_files(root):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        data = code_tokens(path.read_bytes())
        h.update(str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def harness_version() -> str:
    """Short sha256 (16 hex digits) over the names and :func:`code_tokens` of
    :func:`harness_files` (``bench/**/*.py`` and ``problems/**/*.py`` but the front end), sorted
    by path. Computed once per process (the sources a process runs
    are the ones it imported at start; an edit takes effect in the next process)."""
    return _digest()
