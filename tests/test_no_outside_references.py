"""The project defines everything in its own words: no source, page or configuration file of the
repository names a design document that lives outside it, or a section label pointing into one
(papers are cited by authors, venue and year instead)."""

from __future__ import annotations

import os
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]

#: what points outside: the file names of outside design documents, their section labels (written
#: after the document's name), the folder they sit in, and the field that carried the labels
OUTSIDE = re.compile(r"\bSPEC\b|\bDESIGN\.md\b|\.\./shared\b|\bspec_section\b")

#: text files of the repository (sources, pages, configuration); data files are not prose
SUFFIXES = {".py", ".md", ".txt", ".toml", ".yml", ".yaml", ".cfg", ".ini", ".js", ".css", ".html"}
SKIP_DIRS = {".git", "__pycache__", ".pytest_cache", ".benchmarks", ".venv", "site", "build",
             "bench-results", ".claims", "node_modules"}

#: tests whose checks must spell out what they look for (each checks pages or claims for it)
CHECKERS = {"tests/test_no_outside_references.py", "tests/test_doc_commands.py",
            "tests/leaderboard/test_site.py", "tests/leaderboard/test_claims_pages.py",
            "tests/bench/test_claims.py"}


def text_files(root: pathlib.Path) -> list[pathlib.Path]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            path = pathlib.Path(folder) / name
            if path.suffix in SUFFIXES or path.relative_to(root).as_posix() == ".ci/run":
                found.append(path)
    return found


def outside_references(root: pathlib.Path, skip: set[str] = frozenset()) -> list[str]:
    """``path:line: text`` of every line of :func:`text_files` that matches ``OUTSIDE``."""
    hits = []
    for path in text_files(root):
        rel = path.relative_to(root).as_posix()
        if rel in skip:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if OUTSIDE.search(line):
                hits.append(f"{rel}:{number}: {line.strip()[:100]}")
    return hits


def test_no_file_refers_to_an_outside_document():
    hits = outside_references(ROOT, CHECKERS)
    assert not hits, "say it in the project's own words (cite the paper):\n" + "\n".join(hits)


def test_the_checkers_exist_and_the_scan_finds_what_it_looks_for(tmp_path):
    for rel in CHECKERS:
        assert (ROOT / rel).is_file(), f"{rel} is listed as a checker but does not exist"
    names = [p.relative_to(ROOT).as_posix() for p in text_files(ROOT)]
    assert {"README.md", "optimizers/base.py", "problems/base.py", "docs/methodology.md",
            "bench/front_end.txt", "pyproject.toml", ".ci/run"} <= set(names)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text('"""Doc."""\nX = 1  # as in SPEC B7\n')
    (tmp_path / "pkg" / "b.py").write_text('E = dict(spec_section="A1")\n')
    (tmp_path / "c.md").write_text("See [it](../shared/SPEC.md).\n")
    (tmp_path / "d.md").write_text("SPECTRUM, FULL_SPEC_MAX and the spec of a problem are fine.\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "e.py").write_text("# SPEC.md\n")
    hits = outside_references(tmp_path)
    assert [h.split(":")[0] for h in hits] == ["c.md", "pkg/a.py", "pkg/b.py"], hits
