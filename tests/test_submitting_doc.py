"""docs/submitting.md is executed: its shell commands (the ```bash blocks, in order) and its example
entry (the ```python block headed ``# optimizers/<file>.py``) run in a clone of this repository,
so the page cannot drift from the commands.

What the test changes, and only that (each change must apply, or the test fails):

* the page's suite ``standard`` becomes ``smoke`` (seconds instead of hours),
  ``bench tune --trials 8`` becomes ``--trials 2``, and ``bench validate`` gets ``--held-out 0``
  (on smoke's 2 runs per problem the held-out test needs more fresh instances than the rest of
  the page costs before it can fail at all, and bench validate refuses fewer; that check has its
  own tests in tests/bench/test_validate.py);
* "your fork on GitHub" is a bare clone of this repository's HEAD in a temporary folder (its
  branch ``main``): ``git clone`` clones it and ``git push`` pushes to it;
* the install line is checked to be the README's install with the test tools, and not run: this
  environment already has everything, and PYTHONPATH points at the clone so the clone's code
  (and the new entry in it) is what runs.

The rendering test checks that the steps are headings and no code block sits inside a list item
(the old page's numbered list rendered steps 3-4 inside step 2 under mkdocs).
"""

from __future__ import annotations

import html.parser
import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "submitting.md"
CLONE_URL = "https://github.com/YOU/saddlebench.git"
INSTALL = 'pip install torch==2.13.0 && pip install -e ".[dev]"'
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.M | re.S)
EOF_MARK = "SUBMITTING_DOC_EOF"


def blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of the page's top-level fenced blocks, in order."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]


def script(text: str, fork: pathlib.Path, trials: int = 2) -> str:
    """The bash script the test runs: the page's commands and its entry file, adapted as the
    module docstring says."""
    lines = ["PS4='+ [${SECONDS}s] '", "set -euxo pipefail"]
    seen = {"clone": False, "install": False, "entry": False, "suite": False, "trials": False,
            "validate": False}
    for lang, body in blocks(text):
        if lang == "python":
            first, _, _ = body.partition("\n")
            match = re.fullmatch(r"# (optimizers/\w+\.py)", first.strip())
            if match is None:
                continue  # a python snippet, not the entry file
            assert EOF_MARK not in body
            lines.append(f"cat > {match.group(1)} <<'{EOF_MARK}'\n{body}{EOF_MARK}")
            seen["entry"] = True
            continue
        if lang != "bash":
            continue
        for line in body.splitlines():
            if line.startswith("git clone "):
                assert line == f"git clone {CLONE_URL}", line
                line = f"git clone {fork} saddlebench"
                seen["clone"] = True
            elif line.startswith("pip install"):
                assert line == INSTALL, f"the install line is not the README's: {line}"
                line = ": installed already"
                seen["install"] = True
            if re.search(r"\bstandard\b", line):
                line = re.sub(r"\bstandard\b", "smoke", line)
                seen["suite"] = True
            if line.startswith("bench tune ") and "--trials 8" in line:
                line = line.replace("--trials 8", f"--trials {trials}")
                seen["trials"] = True
            if line.startswith("bench validate "):
                assert "--held-out" not in line, line
                line += " --held-out 0"
                seen["validate"] = True
            lines.append(line)
    missing = [k for k, v in seen.items() if not v]
    assert not missing, f"the page no longer has what the test adapts: {missing}"
    return "\n".join(lines) + "\n"


def make_fork(tmp: pathlib.Path) -> pathlib.Path:
    """A bare repository whose branch main is this repository's HEAD: the fork on GitHub."""
    fork = tmp / "fork.git"
    run = dict(check=True, capture_output=True, text=True, timeout=300)
    subprocess.run(["git", "init", "-q", "--bare", str(fork)], **run)
    # --update-shallow: this repository may be a shallow clone (CI checkouts are)
    subprocess.run(["git", "-C", str(fork), "fetch", "-q", "--update-shallow", str(ROOT),
                    "+HEAD:refs/heads/main"], **run)
    subprocess.run(["git", "-C", str(fork), "symbolic-ref", "HEAD", "refs/heads/main"], **run)
    return fork


def run_page(text: str, tmp: pathlib.Path, timeout: float = 1200) -> subprocess.CompletedProcess:
    fork = make_fork(tmp)
    work = tmp / "work"
    work.mkdir()
    clone = work / "saddlebench"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(clone), *filter(None, [env.get("PYTHONPATH")])])
    env.update(GIT_AUTHOR_NAME="Submitter", GIT_AUTHOR_EMAIL="submitter@example.org",
               GIT_COMMITTER_NAME="Submitter", GIT_COMMITTER_EMAIL="submitter@example.org",
               GIT_CONFIG_NOSYSTEM="1", HOME=str(tmp))
    assert shutil.which("bench"), "the bench command is not installed"
    return subprocess.run(["bash", "-c", script(text, fork)], cwd=work, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)


# ----------------------------------------------------------------------------------- the page runs
def test_the_page_runs(tmp_path):
    proc = run_page(PAGE.read_text(), tmp_path)
    assert proc.returncode == 0, f"the page's commands failed (exit {proc.returncode}):\n" \
                                 f"{proc.stdout[-8000:]}"
    clone = tmp_path / "work" / "saddlebench"
    records = [json.loads(line) for line in
               (clone / "leaderboard" / "results" / "smoke" / "my-method.jsonl").read_text().splitlines()]
    assert {r["track"] for r in records} == {"tuned", "defaults"}
    assert all(r["sealed"] for r in records)
    assert (clone / "leaderboard" / "tuning" / "my-method.json").is_file()
    assert (clone / "site" / "index.html").is_file()
    pushed = subprocess.run(["git", "-C", str(tmp_path / "fork.git"), "ls-tree", "-r", "--name-only",
                             "my-method"], capture_output=True, text=True, check=True).stdout.split()
    assert {"optimizers/my_method.py", "leaderboard/tuning/my-method.json",
            "leaderboard/results/smoke/my-method.jsonl"} <= set(pushed)


# ----------------------------------------------------------------------------------- it can fail
@pytest.mark.parametrize("old, new", [
    ("bench run --optimizer my-method --suite smoke", "bench run --optimizer my-methd --suite smoke"),
    ("super().__init__(params, dict(lr=lr))", "super().__init__(params, dict(lr=lr)"),
])
def test_a_broken_page_fails(tmp_path, old, new):
    """Mutations that fail early (seconds): a misspelled entry, an entry that does not import."""
    text = PAGE.read_text()
    assert old in text
    proc = run_page(text.replace(old, new, 1), tmp_path, timeout=600)
    assert proc.returncode != 0, proc.stdout[-3000:]


def test_script_adapts_the_page(tmp_path):
    text = script(PAGE.read_text(), tmp_path / "fork.git")
    assert f"git clone {tmp_path / 'fork.git'} saddlebench" in text
    assert "--suite smoke" in text and "standard" not in text
    assert "bench tune --optimizer my-method --suite smoke --trials 2" in text
    assert "pip install" not in text
    assert "bench validate --since origin/main --suite smoke --held-out 0" in text
    with pytest.raises(AssertionError):
        script(PAGE.read_text().replace(INSTALL, "pip install -e ."), tmp_path)


# ----------------------------------------------------------------------------------- rendering
class _Outline(html.parser.HTMLParser):
    """h2 titles, and code blocks with the number of list items around them."""

    def __init__(self):
        super().__init__()
        self.depth = 0  # open <li>
        self.h2: list[str] = []
        self.pre: list[tuple[int, int]] = []  # (index of the last h2, <li> depth)
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        if tag == "li":
            self.depth += 1
        elif tag == "h2":
            self._in_h2 = True
            self.h2.append("")
        elif tag == "pre":
            self.pre.append((len(self.h2) - 1, self.depth))

    def handle_endtag(self, tag):
        if tag == "li":
            self.depth -= 1
        elif tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2:
            self.h2[-1] += data


def test_steps_render_as_sections():
    import markdown
    import yaml

    config = yaml.safe_load((ROOT / "leaderboard" / "mkdocs.yml").read_text())
    extensions = [e if isinstance(e, str) else next(iter(e)) for e in config["markdown_extensions"]]
    page = markdown.markdown(PAGE.read_text(), extensions=extensions)
    outline = _Outline()
    outline.feed(page)
    steps = [t.strip().rstrip("¶") for t in outline.h2 if re.match(r"\d+\.", t.strip())]
    assert [int(s.split(".")[0]) for s in steps] == list(range(1, len(steps) + 1)), outline.h2
    assert len(steps) >= 8
    assert outline.pre, "no code block rendered"
    assert all(depth == 0 for _, depth in outline.pre), "a code block renders inside a list item"
    # every fenced block renders as its own code block, under a step
    assert len(outline.pre) == len(blocks(PAGE.read_text()))
    assert all(0 <= h for h, _ in outline.pre)
