"""The README and the hand-written pages (docs/*.md but methodology.md) promise only what exists:

* every ``bench ...`` command they show (in ```bash blocks and in `inline code`) is a real command
  line: its subcommand's ``--help`` works and the line parses with bench's own parser, so a
  renamed command or flag fails here;
* the README's two commands are the ones ``.ci/run`` and the install rely on;
* links point inside the repository, and nothing refers to files outside it (``SPEC.md``,
  ``../``).
"""

from __future__ import annotations

import pathlib
import re
import shlex
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md"] + sorted(p for p in (ROOT / "docs").glob("*.md")
                                      if p.name != "methodology.md")
FENCE = re.compile(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```[ \t]*$", re.M | re.S)
MAIN = "pip install torch==2.13.0 && pip install -e . && bench run"
TESTS = 'pip install torch==2.13.0 && pip install -e ".[dev]" && python -m pytest -q'


def bench_commands(text: str) -> list[str]:
    """Every ``bench ...`` command line of a page (comments dropped, ``&&`` chains split)."""
    lines = []
    for m in FENCE.finditer(text):
        if m.group(1) in ("bash", "sh", "shell", ""):
            lines += m.group(2).replace("\\\n", " ").splitlines()
    lines += re.findall(r"`(bench [^`]*)`", FENCE.sub("", text).replace("\n", " "))
    out = []
    for line in lines:
        line = line.split(" #", 1)[0].strip()
        for part in re.split(r"&&|\|\||;|\|", line):
            part = part.strip()
            if part.startswith("bench ") or part == "bench":
                out.append(part)
    return out


def _words(argv: list[str]) -> list[str]:
    words = []
    for arg in argv:
        if arg.startswith("-"):
            break
        words.append(arg)
        if arg != "leaderboard":
            break
    return words


CASES = [(p.relative_to(ROOT).as_posix(), c) for p in PAGES for c in bench_commands(p.read_text())]


def test_pages_show_commands():
    assert len(CASES) > 20
    assert {page for page, _ in CASES} >= {"README.md", "docs/submitting.md", "docs/scaling.md"}


@pytest.mark.parametrize("page, command", CASES)
def test_bench_command_exists(page, command):
    from bench.cli import CLIError, build_parser

    argv = shlex.split(command)[1:]
    if not argv:  # `bench` alone: see --help
        return
    words = _words(argv)
    exe = shutil.which("bench")
    assert exe, "the bench command is not installed"
    proc = subprocess.run([exe, *words, "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{page}: `bench {' '.join(words)} --help`: {proc.stderr.strip()}"
    if "..." in argv or argv == words:  # an elided line, a command named in prose: its --help
        return
    try:
        build_parser().parse_args(argv)
    except CLIError as exc:
        pytest.fail(f"{page}: `{command}` does not parse: {exc}")


def test_readme_commands():
    readme = (ROOT / "README.md").read_text()
    assert MAIN in readme and TESTS in readme
    assert TESTS in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_reference_outside_the_repository(page):
    text = page.read_text()
    assert "SPEC.md" not in text and "SPEC " not in text
    assert "../" not in text
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.exists() and ROOT in path.parents, f"{page.name}: link to {target}"
