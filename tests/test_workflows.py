"""The GitHub workflows (.github/workflows) are linted and call only project commands.

* ``actionlint`` (with ``shellcheck`` on the ``run:`` scripts) finds no problem: a bad key, an
  input an action does not have, a broken expression or shell script fails here, not on GitHub.
* Every ``run:`` command is a project command or an install/git step: ``bench <sub> ...`` (its
  ``--help`` works and the whole command line parses with bench's own parser, so a misspelled
  subcommand or flag fails), ``.ci/run`` (exists, executable, runs the README's test command),
  ``pip install``, ``git fetch``, ``git checkout``. Logic lives in the project, not in the YAML.
* What the workflows promise each other: validate runs on pull requests touching entries or
  records; the site uploaded to Pages is the folder ``bench leaderboard build`` writes.

The mutation tests break a copy of the workflows and check that the checks above go red.
"""

from __future__ import annotations

import os
import pathlib
import shlex
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
OPERATORS = {"&&", "||", ";", "|"}
# commands a run: step may call besides the project's own (installing, fetching the base branch)
ALLOWED = {("pip", "install"), ("git", "fetch"), ("git", "checkout")}


def _tool(name: str) -> str:
    """The executable ``name`` from the dev extra: on PATH or beside this interpreter."""
    found = shutil.which(name) or shutil.which(name, path=str(pathlib.Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e \".[dev]\" installs it")
    return found


def actionlint(folder: pathlib.Path) -> list[str]:
    """actionlint's findings on the workflows in ``folder`` (one line each)."""
    files = sorted(str(p) for p in folder.glob("*.y*ml"))
    assert files, f"no workflow in {folder}"
    proc = subprocess.run([_tool("actionlint"), "-no-color", "-oneline",
                           "-shellcheck", _tool("shellcheck"), *files],
                          capture_output=True, text=True, cwd=folder, timeout=120)
    if proc.returncode not in (0, 1):  # 1: problems found; anything else: it did not run
        pytest.fail(f"actionlint failed to run (exit {proc.returncode}):\n{proc.stderr}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    assert (proc.returncode == 1) == bool(lines), proc.stdout + proc.stderr
    return lines


def load(folder: pathlib.Path) -> dict[str, dict]:
    """file name -> parsed workflow."""
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(folder.glob("*.y*ml"))}


def steps(workflow: dict):
    for job_id, job in (workflow.get("jobs") or {}).items():
        for step in job.get("steps") or []:
            yield job_id, step


def commands(script: str) -> list[list[str]]:
    """The simple commands of a ``run:`` script (continuations joined, comments dropped, split
    on ``&&``, ``||``, ``;`` and ``|``)."""
    out: list[list[str]] = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        current: list[str] = []
        for token in lexer:
            if token in OPERATORS:
                out.append(current)
                current = []
            else:
                current.append(token)
        out.append(current)
    return [c for c in out if c]


def _bench_words(argv: list[str]) -> list[str]:
    """The subcommand words of a bench command line (``leaderboard build``, ``validate``)."""
    words = []
    for arg in argv:
        if arg.startswith("-"):
            break
        words.append(arg)
        if arg != "leaderboard":
            break
    return words


def check_bench(argv: list[str]) -> str | None:
    """None if ``bench argv...`` is a real command line, else why not."""
    words = _bench_words(argv)
    if not words:
        return f"`bench {' '.join(argv)}` names no subcommand"
    proc = subprocess.run([_tool("bench"), *words, "--help"], capture_output=True, text=True,
                          timeout=120)
    if proc.returncode != 0:
        return (f"`bench {' '.join(words)} --help` exits {proc.returncode}: "
                f"{(proc.stderr or proc.stdout).strip()[:300]}")
    from bench.cli import CLIError, build_parser

    try:
        build_parser().parse_args(argv)
    except CLIError as exc:
        return f"`bench {' '.join(argv)}` does not parse: {exc}"
    except SystemExit as exc:  # pragma: no cover - the parser raises CLIError on errors
        return f"`bench {' '.join(argv)}` exits {exc.code} while parsing"
    return None


def command_problems(folder: pathlib.Path) -> list[str]:
    """Every ``run:`` command that is not a project command (or an allowed install/git step)."""
    problems = []
    for name, workflow in load(folder).items():
        for job_id, step in steps(workflow):
            if "run" not in step:
                continue
            for argv in commands(step["run"]):
                where = f"{name}, job {job_id}, step {step.get('name', step['run'][:40])!r}"
                head = argv[0]
                if head == "bench":
                    why = check_bench(argv[1:])
                    if why:
                        problems.append(f"{where}: {why}")
                elif head.startswith("./") or head.startswith(".ci/"):
                    path = ROOT / head
                    if not (path.is_file() and os.access(path, os.X_OK)):
                        problems.append(f"{where}: {head} is not an executable file of the repository")
                elif tuple(argv[:2]) not in ALLOWED:
                    problems.append(f"{where}: `{' '.join(argv)}` is not a project command "
                                    f"(bench ..., .ci/run) nor one of {sorted(ALLOWED)}")
    return problems


def bench_calls(folder: pathlib.Path, name: str) -> list[list[str]]:
    return [argv[1:] for _, step in steps(load(folder)[name]) if "run" in step
            for argv in commands(step["run"]) if argv[0] == "bench"]


def uses(folder: pathlib.Path, name: str) -> dict[str, dict]:
    """action (without its version) -> the step that uses it."""
    return {step["uses"].split("@")[0]: step for _, step in steps(load(folder)[name])
            if "uses" in step}


# ----------------------------------------------------------------------------------- the checks
def test_actionlint_finds_nothing():
    assert actionlint(WORKFLOWS) == []


def test_run_steps_call_project_commands():
    assert command_problems(WORKFLOWS) == []


def test_expected_workflows():
    assert set(load(WORKFLOWS)) == {"validate.yml", "tests.yml", "site.yml"}


def _on(workflow: dict) -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1)
    return workflow.get("on", workflow.get(True))


def test_validate_runs_bench_validate_on_submissions():
    wf = load(WORKFLOWS)["validate.yml"]
    assert set(_on(wf)) == {"pull_request"}
    assert set(_on(wf)["pull_request"]["paths"]) == {"optimizers/**", "leaderboard/results/**"}
    calls = bench_calls(WORKFLOWS, "validate.yml")
    assert [c[0] for c in calls] == ["validate"]
    argv = calls[0]
    assert argv[argv.index("--since") + 1] == "origin/$BASE_REF"
    assert argv[argv.index("--report") + 1] == "$GITHUB_STEP_SUMMARY"
    assert uses(WORKFLOWS, "validate.yml")["actions/checkout"]["with"]["fetch-depth"] == 0


def test_validate_judges_with_the_base_branch_code(tmp_path):
    """The step that restores the base branch's harness and validator runs before the install,
    and (run for real in a clone with a pull request branch) puts back every judging file the
    pull request edited, keeps its new entry, and leaves the commits' diff for --since intact."""
    job_steps = [step for _, step in steps(load(WORKFLOWS)["validate.yml"])]
    names = [step.get("name", "") for step in job_steps]
    judge = next(i for i, n in enumerate(names) if "base branch's code" in n)
    assert judge < next(i for i, n in enumerate(names) if n.startswith("Install"))
    script = job_steps[judge]["run"]
    clone = tmp_path / "clone"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(clone)]
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    subprocess.run(git + ["update-ref", "refs/remotes/origin/base", "HEAD"], check=True)
    subprocess.run(git + ["checkout", "-q", "-b", "pr"], check=True)
    edited = ["bench/cli.py", "problems/base.py", "leaderboard/site.py", "optimizers/_common.py",
              "pyproject.toml"]
    for rel in edited:
        with open(clone / rel, "a") as fh:
            fh.write("\n# the pull request's change\n")
    (clone / "optimizers" / "new_entry.py").write_text("X = 1\n")
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "pr"], check=True)
    env = {**os.environ, "BASE_REF": "base"}
    subprocess.run(["bash", "-c", script], cwd=clone, env=env, check=True)
    for rel in edited:
        assert "the pull request's change" not in (clone / rel).read_text(), rel
    assert (clone / "optimizers" / "new_entry.py").exists()
    diff = subprocess.run(git + ["diff", "--name-only", "origin/base...HEAD"], capture_output=True,
                          text=True, check=True).stdout.split()
    assert set(edited) | {"optimizers/new_entry.py"} == set(diff)


def test_tests_workflow_runs_ci_run_which_runs_the_readme_test_command():
    wf = load(WORKFLOWS)["tests.yml"]
    assert {"push", "pull_request"} <= set(_on(wf))
    runs = [argv for _, step in steps(wf) if "run" in step for argv in commands(step["run"])]
    assert [".ci/run"] in runs
    readme = (ROOT / "README.md").read_text()
    test_command = 'pip install torch==2.13.0 && pip install -e ".[dev]" && python -m pytest -q'
    assert test_command in readme
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_site_deploys_the_folder_bench_leaderboard_build_writes():
    from bench.cli import build_parser

    wf = load(WORKFLOWS)["site.yml"]
    assert _on(wf)["push"]["branches"] == ["main"]
    assert wf["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert wf["concurrency"]["group"] == "pages"
    calls = bench_calls(WORKFLOWS, "site.yml")
    assert [c[:2] for c in calls] == [["leaderboard", "build"]]
    out = build_parser().parse_args(calls[0]).out
    upload = uses(WORKFLOWS, "site.yml")["actions/upload-pages-artifact"]
    assert pathlib.PurePosixPath(upload["with"]["path"]) == pathlib.PurePosixPath(out)
    deploy = wf["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["environment"]["name"] == "github-pages"
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]


# ----------------------------------------------------------------------------------- mutations
MUTATIONS = {
    "unknown job key": ("validate.yml", "    runs-on: ubuntu-latest\n",
                        "    runs-on: ubuntu-latest\n    runs-onn: ubuntu-latest\n"),
    "unknown action input": ("site.yml", "          path: site\n", "          paths: site\n"),
    "broken expression": ("validate.yml", "${{ github.base_ref }}", "${{ github.base_reff }}"),
    "shell error": ("tests.yml", "run: .ci/run", "run: if .ci/run; then"),
}
COMMAND_MUTATIONS = {
    "misspelled subcommand": ("validate.yml", "run: bench validate", "run: bench validat"),
    "unknown flag": ("validate.yml", "--report \"$", "--reportt \"$"),
    "unknown flag of a nested subcommand": ("site.yml", "build --out site", "build --outt site"),
    "misspelled nested subcommand": ("site.yml", "run: bench leaderboard build",
                                     "run: bench leaderboard built"),
    "missing script": ("tests.yml", "run: .ci/run", "run: .ci/runn"),
    "inline logic": ("tests.yml", "run: .ci/run", "run: python -m pytest -q"),
}


def _mutated(tmp_path: pathlib.Path, name: str, old: str, new: str) -> pathlib.Path:
    folder = tmp_path / ".github" / "workflows"
    shutil.copytree(WORKFLOWS, folder)
    text = (folder / name).read_text()
    assert old in text, f"mutation target {old!r} not in {name}"
    (folder / name).write_text(text.replace(old, new, 1))
    return folder


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_actionlint_catches(tmp_path, mutation):
    folder = _mutated(tmp_path, *MUTATIONS[mutation])
    assert actionlint(folder), f"actionlint missed: {mutation}"


@pytest.mark.parametrize("mutation", sorted(COMMAND_MUTATIONS))
def test_command_check_catches(tmp_path, mutation):
    folder = _mutated(tmp_path, *COMMAND_MUTATIONS[mutation])
    new = set(command_problems(folder)) - set(command_problems(WORKFLOWS))
    assert new, f"command check missed: {mutation}"


def test_commands_split():
    assert commands("pip install a \\\n  b && bench run -q  # note\n.ci/run; git fetch x | y") == [
        ["pip", "install", "a", "b"], ["bench", "run", "-q"], [".ci/run"], ["git", "fetch", "x"], ["y"]]
