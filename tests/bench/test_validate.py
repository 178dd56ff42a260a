"""``bench validate`` on real submissions: entry modules in tests/bench/submissions/ (or built
from the sealed-run attack set), records made by real sealed runs on the smoke suite into a
temporary results folder, the command run as a user runs it (bench.cli.main).

Smoke has one public instance and 2 run seeds per problem, so the held-out check needs 10
held-out instances to be able to fail (bench.validate_stats.min_held_out_instances); the tests
that exercise it pass ``--held-out 10``, the others ``--held-out 0``.
"""

from __future__ import annotations

import ast
import json
import math
import pathlib
import shutil
import subprocess

import pytest

from bench.cli import main
from bench.validate_stats import (Comparison, min_held_out_instances, rank_sum_p_value,
                                  smallest_p_value)

HERE = pathlib.Path(__file__).parent
SUBMISSIONS = HERE / "submissions"
HONEST = SUBMISSIONS / "good_rmsprop.py"
MEMORIZER = SUBMISSIONS / "memorize_public.py"
ATTACKS = HERE / "attacks" / "attack_entries.py"
SMOKE = ["--suite", "smoke", "-j", "1"]


def make_records(spec: pathlib.Path, results: pathlib.Path) -> pathlib.Path:
    """Run the smoke suite for the submission at its defaults, sealed, as `bench run` does;
    returns its records file ``results/smoke/<name>.jsonl``."""
    from bench.entry_info import describe
    from bench.executors import run_tasks
    from bench.profiles import get_profile
    from bench.sandbox import sandbox
    from bench.store import ResultsStore
    from bench.suites import get_suite
    from bench.validate_checks import locate_submission, submission_info, suite_tasks

    sub = locate_submission(str(spec))
    sub.meta = describe(sub.ref, sandbox())
    sub.info = submission_info(sub)
    smoke = get_suite("smoke")
    choice = sub.choice("defaults", smoke.families(), results / "no-tuning")
    run_tasks(suite_tasks(choice, smoke, get_profile("cpu")), ResultsStore(results / "smoke"),
              executor="serial")
    return results / "smoke" / f"{sub.name}.jsonl"


@pytest.fixture(scope="module")
def honest_records(tmp_path_factory) -> pathlib.Path:
    return make_records(HONEST, tmp_path_factory.mktemp("honest"))


def copy_results(records: pathlib.Path, tmp_path: pathlib.Path) -> pathlib.Path:
    """A fresh results folder holding a copy of ``records``; returns the copy."""
    dest = tmp_path / "results" / "smoke" / records.name
    dest.parent.mkdir(parents=True)
    shutil.copyfile(records, dest)
    return dest


def validate(capsys, *argv):
    """``bench validate`` on the defaults track only (these submissions have no tuning file),
    unless the test says which tracks."""
    if "--tracks" not in argv:
        argv = (*argv, "--tracks", "defaults")
    code = main(["validate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def section(report: str, title: str) -> str:
    """The text of the report's section ``title`` (up to the next section)."""
    start = report.index(f". {title}: ")
    end = report.find("\n### ", start)
    return report[start:] if end < 0 else report[start:end]


def edit_lines(path: pathlib.Path, edit) -> None:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(edit(i, rec), sort_keys=True) + "\n"
                            for i, rec in enumerate(lines)))


# ------------------------------------------------------------------------------ whole submissions
def test_honest_submission_passes(honest_records, tmp_path, capsys):
    copy_results(honest_records, tmp_path)
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    code, out, err = validate(capsys, str(HONEST), *SMOKE, "--results", str(tmp_path / "results"),
                              "--reproduce", "all", "--held-out", "10", "--report", str(summary))
    assert code == 0, out + err[-3000:]
    assert out.startswith("## bench validate: PASS")
    for title in ("Entry module", "Records", "Reproduction", "Held-out instances"):
        assert section(out, title).startswith(f". {title}: pass"), section(out, title)
    assert "4 of 4 re-run records match" in out
    assert summary.read_text() == "earlier step\n" + out + "\n"  # appended, not replaced


def test_edited_counts_fail_reproduction_naming_the_record(honest_records, tmp_path, capsys):
    records = copy_results(honest_records, tmp_path)

    def edit(i, rec):
        if rec["problem"] == "reddi2d:canonical" and rec["run_seed"] == 1:
            rec["calls_to_sosp"] -= 40  # a faster run than the one measured
            rec["sosp_bracket"][1] -= 40
        return rec

    edit_lines(records, edit)
    code, out, err = validate(capsys, str(HONEST), *SMOKE, "--results", str(tmp_path / "results"),
                              "--reproduce", "all", "--held-out", "0")
    assert code == 1, out
    text = section(out, "Reproduction")
    assert text.startswith(". Reproduction: **FAIL**")
    assert "reddi2d:canonical instance 0, init seed 1, run seed 1, track defaults" in text
    assert "calls_to_sosp: claimed" in text and "sosp_bracket" in text
    assert "3 of 4 re-run records match" in text
    assert section(out, "Records").startswith(". Records: pass")  # the line itself is well-formed


def test_records_of_another_code_version_are_flagged(honest_records, tmp_path, capsys):
    records = copy_results(honest_records, tmp_path)
    edit_lines(records, lambda i, rec: {**rec, "harness_version": "0123456789abcdef"})
    code, out, err = validate(capsys, str(HONEST), *SMOKE, "--results", str(tmp_path / "results"),
                              "--reproduce", "0", "--held-out", "0")
    assert code == 1
    text = section(out, "Records")
    assert text.startswith(". Records: **FAIL**")
    assert "lines 1, 2, 3, 4: harness_version 0123456789abcdef" in text
    assert "records from another code version; re-run them" in text


def test_memorizer_reproduces_but_fails_on_held_out_instances(tmp_path, capsys):
    make_records(MEMORIZER, tmp_path / "results")
    code, out, err = validate(capsys, str(MEMORIZER), *SMOKE, "--results", str(tmp_path / "results"),
                              "--reproduce", "all", "--held-out", "10")
    assert code == 1
    assert section(out, "Entry module").startswith(". Entry module: pass")
    assert section(out, "Records").startswith(". Records: pass")
    assert section(out, "Reproduction").startswith(". Reproduction: pass")
    held = section(out, "Held-out instances")
    assert held.startswith(". Held-out instances: **FAIL**")
    assert "| defaults | reddi2d:canonical | 2/2, 1 | 20/20," in held  # certified after one call
    assert "reddi2d:canonical (track defaults): held-out runs cost" in held
    assert "| defaults | quad-saddle:small |" in held and held.count("**FAIL** |") == 1


def attack_submission(folder: pathlib.Path, attack: str) -> pathlib.Path:
    """An entry module made of the attack set's class ``attack`` and the top-level definitions
    it uses (not the set's module-level code)."""
    source = ATTACKS.read_text()
    tree = ast.parse(source)
    defined = {getattr(n, "name", None) or n.targets[0].id: n for n in tree.body
               if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Assign))}
    keep, todo = set(), [attack]
    while todo:
        name = todo.pop()
        if name in defined and name not in keep:
            keep.add(name)
            todo += [n.id for n in ast.walk(defined[name]) if isinstance(n, ast.Name)]
    nodes = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
             or (n in defined.values() and (getattr(n, "name", None) or n.targets[0].id) in keep)]
    body = "\n\n".join(ast.get_source_segment(source, n) for n in nodes)
    name = attack.lower()
    path = folder / f"{name}.py"
    path.write_text(f"from optimizers.base import Entry, LogUniform\n{body}\n\n"
                    f"ENTRY = Entry(name={name!r}, optimizer={attack}, defaults={{'lr': 0.05}}, "
                    f"search_space={{'lr': LogUniform(1e-3, 1.0)}}, elementwise=False, "
                    f"authors='attacker', paper='none', license='MIT')\n")
    return path


def test_cheating_entries_fail(tmp_path, capsys):
    # the whole attack set as one module: refused by the lint, before any of it runs
    whole = tmp_path / "attack_set.py"
    whole.write_text(ATTACKS.read_text() + "\nfrom optimizers.base import Entry\nENTRY = Entry("
                     "name='attack-set', optimizer=GcScan, authors='a', paper='b', license='MIT')\n")
    code, out, err = validate(capsys, str(whole), *SMOKE, "--results", str(tmp_path), "--held-out", "0")
    assert code == 1
    module = section(out, "Entry module")
    assert module.startswith(". Entry module: **FAIL**") and "lint: the entry reaches into the harness" in module
    assert "calls vars()" in module and "import, metadata and conformance not run" in module
    assert section(out, "Reproduction").startswith(". Reproduction: not run")
    # an attack the lint does not see (getattr under another name, over dir(closure)): the
    # sealed worker holds nothing of the harness, so its search fails and the sealed
    # conformance runs end in error
    alias = attack_submission(tmp_path, "GetattrAlias")
    code, out, err = validate(capsys, str(alias), *SMOKE, "--results", str(tmp_path), "--held-out", "0")
    assert code == 1
    module = section(out, "Entry module")
    assert "lint: clean" in module and "metadata: name getattralias" in module
    assert "conformance: sealed runs on suite smoke at the defaults ended in error" in module
    assert "reddi2d:canonical run seed 0: error: RuntimeError: attack failed" in module


# ------------------------------------------------------------------------------ records, in detail
def described(spec: pathlib.Path):
    """The submission at ``spec``, imported (sealed) and described, as check 1 leaves it."""
    from bench.entry_info import describe
    from bench.sandbox import sandbox
    from bench.validate_checks import locate_submission, submission_info

    sub = locate_submission(str(spec))
    sub.meta = describe(sub.ref, sandbox())
    sub.info = submission_info(sub)
    return sub


def smoke_context(results: pathlib.Path, tuning_dir: pathlib.Path, tracks=("defaults",)):
    from bench.profiles import get_profile
    from bench.suites import get_suite
    from bench.validate_checks import Context

    return Context(suite=get_suite("smoke"), profile=get_profile("cpu"), results=results,
                   reproduce=None, held_out=0, workers=1, tuning_dir=tuning_dir,
                   reproduce_seed=0, held_out_seeds=(), tracks=tracks)


def test_record_defects_are_each_named(honest_records, tmp_path):
    from bench.validate_records import check_records

    records = copy_results(honest_records, tmp_path)
    by_run = {(r["problem"], r["run_seed"]): r for r in map(json.loads, records.read_text().splitlines())}
    lines = [{**by_run["reddi2d:canonical", 0], "track": "custom"},
             {**by_run["reddi2d:canonical", 1], "sealed": False},
             by_run["quad-saddle:small", 0], by_run["quad-saddle:small", 0],
             {**by_run["quad-saddle:small", 1], "entry": "other", "entry_name": "other"}]
    records.write_text("".join(json.dumps(r) + "\n" for r in lines) + "not json\n")
    check, usable = check_records(described(HONEST), smoke_context(tmp_path / "results", tmp_path))
    text = "\n".join(check.lines)
    assert check.failed and len(usable) == 2
    for expected in ["line 1: track custom: only the tuned and defaults tracks are published",
                     "line 2: sealed: false", "line 4: the same run key as line 3",
                     "line 5: entry 'other' (entry_name 'other'): this file holds the records of "
                     "good-rmsprop only", "line 6: not valid JSON",
                     "track defaults: 2 of 4 runs of the suite are missing: quad-saddle:small "
                     "instance 0, seeds 1/1; reddi2d:canonical instance 0, seeds 0/0"]:
        assert expected in text, text


def test_tuned_records_must_name_the_committed_tuning_file(tmp_path):
    from bench.executors import run_tasks
    from bench.store import ResultsStore
    from bench.tuning import tuning_path, write_tuning
    from bench.validate_checks import suite_tasks, tuning_coverage
    from bench.validate_records import check_records
    from optimizers.base import LogUniform

    sub, tuning_dir, results = described(HONEST), tmp_path / "tuning", tmp_path / "results"
    ctx = smoke_context(results, tuning_dir, tracks=("tuned",))
    doc = {"entry": sub.name, "entry_source_hash": sub.source_hash, "suite": "smoke",
           "suite_version": "1", "protocol": {"trials": 8},
           "choice": {f: {"trial": 3, "hparams": {"lr": 0.005}} for f in ("reddi2d", "quad-saddle")}}
    write_tuning(tuning_path(sub.name, tuning_dir), doc)
    choice = sub.choice("tuned", ctx.suite.families(), tuning_dir)
    run_tasks(suite_tasks(choice, ctx.suite, ctx.profile), ResultsStore(results / "smoke"), executor="serial")
    check, usable = check_records(sub, ctx)
    assert check.status == "pass" and len(usable) == 4, check.lines
    assert tuning_coverage(sub.name, {"lr": LogUniform(1e-4, 1e-1)}, tuning_dir) == []
    # tuned again, and the records were not re-run: they name a file that is no longer there
    doc["choice"]["reddi2d"] = {"trial": 5, "hparams": {"lr": 0.004, "alpha": 0.9}}
    write_tuning(tuning_path(sub.name, tuning_dir), doc)
    check, _ = check_records(sub, ctx)
    text = "\n".join(check.lines)
    assert check.failed and "tuning sha256 is" in text and "re-run the tuned track" in text
    assert 'hparams {"lr": 0.005}, the tuned track runs {"alpha": 0.9, "lr": 0.004}' in text
    assert tuning_coverage(sub.name, {"lr": LogUniform(1e-4, 1e-1)}, tuning_dir) == [
        f"{tuning_path(sub.name, tuning_dir)} tunes alpha on reddi2d, which the search_space "
        f"does not declare"]


# ------------------------------------------------------------------------------ --since
def git(repo: pathlib.Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True,
                          env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
                               "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(repo)}).stdout


@pytest.fixture()
def pr_repo(tmp_path, monkeypatch):
    """A repository whose main branch holds another entry's records; HEAD is a branch that
    submits good_rmsprop.py with a records file."""
    repo = tmp_path / "repo"
    (repo / "optimizers").mkdir(parents=True)
    (repo / "results" / "smoke").mkdir(parents=True)
    (repo / "results" / "smoke" / "other.jsonl").write_text('{"line": 1}\n{"line": 2}\n')
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "submission")
    shutil.copyfile(HONEST, repo / "optimizers" / "good_rmsprop.py")
    (repo / "results" / "smoke" / "good-rmsprop.jsonl").write_text('{"line": 1}\n')
    monkeypatch.chdir(repo)
    return repo


def commit(repo: pathlib.Path) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "change")


def test_since_finds_the_submitted_entry(pr_repo):
    from bench.validate_scope import diff_scope

    commit(pr_repo)
    scope = diff_scope("main", pathlib.Path("results"), "smoke", [])
    assert scope.problems == []
    assert scope.entries == ["optimizers/good_rmsprop.py"]


@pytest.mark.parametrize("edit, message", [
    (lambda f: f.write_text(f.read_text() + '{"line": 3}\n'),
     "touches the records of other, which this pull request does not submit"),
    (lambda f: f.write_text('{"line": 1}\n{"line": 2, "calls_to_sosp": 1}\n'),
     "line 2: an existing record line is changed or removed"),
    (lambda f: f.unlink(), "deletes a records file"),
])
def test_since_refuses_a_diff_that_edits_other_entries_records(pr_repo, capsys, edit, message):
    edit(pr_repo / "results" / "smoke" / "other.jsonl")
    commit(pr_repo)
    code, out, err = validate(capsys, "--since", "main", "--results", "results", *SMOKE)
    assert code == 1, err
    assert "### Scope of the diff main...HEAD" in out and "**FAIL**" in out
    assert "`results/smoke/other.jsonl`" in out and message in out
    assert "The entries were not validated" in out


def test_since_refuses_harness_changes_and_other_tuning_files(pr_repo, capsys):
    (pr_repo / "bench").mkdir()
    (pr_repo / "bench" / "oracle.py").write_text("CHARGE = 0\n")
    (pr_repo / "leaderboard" / "tuning").mkdir(parents=True)
    (pr_repo / "leaderboard" / "tuning" / "good-rmsprop.json").write_text("{}\n")  # its own: fine
    (pr_repo / "leaderboard" / "tuning" / "sgd.json").write_text("{}\n")
    commit(pr_repo)
    code, out, err = validate(capsys, "--since", "main", "--results", "results", *SMOKE)
    assert code == 1 and "`bench/oracle.py`: changes the harness or the validator" in out
    assert "`leaderboard/tuning/sgd.json`: changes the tuning file of sgd" in out
    assert "good-rmsprop.json" not in out


# ------------------------------------------------------------------------------ usage errors
@pytest.mark.parametrize("argv, message", [
    ([], "name the entries to validate"),
    (["no-such-entry"], "unknown optimizer 'no-such-entry'"),
    (["missing/optimizers/x.py"], "does not exist"),
    (["torch.optim.Adam"], "is not an entry"),
    ([str(HONEST), "--reproduce", "some"], "--reproduce takes a whole number of records or 'all'"),
    ([str(HONEST), "--held-out", "-1"], "--held-out takes a whole number"),
    ([str(HONEST), "--suite", "smoke"], "--held-out 2 is too few for suite smoke"),
    ([str(HONEST), "--suite", "nope"], "unknown suite"),
    ([str(HONEST), "--profile", "nope"], "unknown profile"),
    ([str(HONEST), "--since", "no-such-ref"], "--since needs a git checkout"),
])
def test_usage_errors(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not a git checkout
    code, out, err = validate(capsys, *argv)
    assert code == 2, out + err
    assert err.startswith("bench: error:") and message in err, err
    assert out == ""


def test_too_few_held_out_instances_names_the_fix(capsys):
    code, out, err = validate(capsys, str(HONEST), "--suite", "smoke", "--held-out", "9")
    assert code == 2 and "pass --held-out 10 or more, or --held-out 0 to skip" in err


# ------------------------------------------------------------------------------ the statistics
def test_rank_sum_p_value_is_the_exact_permutation_probability():
    import itertools
    import random

    from bench.validate_stats import midranks

    rng = random.Random(0)
    for _ in range(200):
        n_c, n_h = rng.randint(1, 5), rng.randint(1, 6)
        values = [rng.choice([1, 2, 3, 5, 8, 100]) for _ in range(n_c + n_h)]
        ranks = midranks(values)
        observed = sum(ranks[n_c:])
        subsets = list(itertools.combinations(range(n_c + n_h), n_h))
        exact = sum(sum(ranks[i] for i in s) >= observed - 1e-9 for s in subsets) / len(subsets)
        assert rank_sum_p_value(values[:n_c], values[n_c:]) == pytest.approx(exact, abs=1e-12)
    assert rank_sum_p_value([1, 1], [5] * 20) == pytest.approx(1 / math.comb(22, 2))
    assert rank_sum_p_value([5] * 20, [1, 1]) == 1.0
    assert rank_sum_p_value([3, 3], [3, 3, 3]) == 1.0  # all ties: no evidence


def test_power_needs_and_the_ratio_floor():
    assert smallest_p_value(2, 20) == pytest.approx(1 / 231)
    assert min_held_out_instances(2, 2, comparisons=2) == 10  # smoke
    assert min_held_out_instances(15, 5, comparisons=8) == 1  # standard, one track
    assert min_held_out_instances(15, 5, comparisons=16) == 1  # standard, both tracks
    separated = Comparison("tuned", "p", (100.0,) * 15, (300.0,) * 10, 15, 10, 8)
    assert separated.p_value < 0.01 / 8 and separated.ratio == 3.0 and not separated.flagged
    memorized = Comparison("tuned", "p", (1.0,) * 15, (300.0,) * 10, 15, 10, 8)
    assert memorized.flagged
    failing = Comparison("tuned", "p", (100.0,) * 15, (2e5,) * 10, 15, 0, 8)
    assert failing.flagged  # failures cost 2 x budget


def test_both_tracks_are_required_by_default(honest_records, tmp_path, capsys):
    copy_results(honest_records, tmp_path)
    code, out, _ = validate(capsys, str(HONEST), "--results", str(tmp_path / "results"), "-s",
                            "smoke", "--reproduce", "0", "--held-out", "0",
                            "--tracks", "defaults,tuned")
    assert code == 1 and "track tuned: no record; a submission runs the suite on both tracks" in out
    code, out, _ = validate(capsys, str(HONEST), "--results", str(tmp_path / "results"), "-s",
                            "smoke", "--reproduce", "0", "--held-out", "0", "--tracks", "tuned,x")
    assert code == 2
