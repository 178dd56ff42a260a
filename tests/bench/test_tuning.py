"""The tuning protocol (bench.tuning, bench tune) and the tracks of bench run."""

import dataclasses
import json
import math
import pathlib
import types

import pytest

from bench import tuning
from bench.cli import main
from bench.entries import EntryChoice, resolve_entry
from bench.executors import run_tasks
from bench.profiles import get_profile
from bench.store import ResultsStore
from bench.suites import Suite, SuiteItem
from bench.tune_command import tuning_result, tuning_tasks
from optimizers.base import Choice, LogUniform, Uniform

ENTRY_FILE = '''
import torch
from optimizers.base import Entry, LogUniform
ENTRY = Entry(name="tiny-sgd", optimizer=torch.optim.SGD, defaults={"lr": 1e-4},
              search_space={"lr": LogUniform(1e-3, 1e-1)}, elementwise=True)
'''

# one cheap problem, tuned on instances 100 and 101, evaluated on 0
TINY = Suite("tiny", "1", "tests", (SuiteItem("reddi2d:canonical", seeds=2, budget=6000, time_limit=30),),
             tuning_instance_seeds=(100, 101), tuning_seeds=1)


def _run(**fields):
    base = dict(status="certified", calls_to_sosp=100, budget=1000)
    base.update(fields)
    return types.SimpleNamespace(**base)


# ----------------------------------------------------------------------------- trial points
def test_trial_points_are_seeded_sobol_in_the_space():
    space = {"lr": LogUniform(1e-4, 1.0).to_data(), "momentum": Uniform(0.5, 0.99).to_data(),
             "noise": Choice(("sphere", "gauss")).to_data()}
    a = tuning.trial_points(space, 8)
    assert a == tuning.trial_points(space, 8)  # the same points for every entry with this space
    assert len(a) == 8 and len({json.dumps(p, sort_keys=True) for p in a}) == 8
    lrs = sorted(p["lr"] for p in a)
    assert all(1e-4 <= x <= 1.0 for x in lrs) and all(0.5 <= p["momentum"] <= 0.99 for p in a)
    assert {p["noise"] for p in a} == {"sphere", "gauss"}
    # quasi-random: one point in each eighth of log10(lr) (a Sobol net), unlike 8 iid draws
    cells = sorted(int((math.log10(x) + 4) / 4 * 8) for x in lrs)
    assert cells == list(range(8))
    assert all(p["lr"] == float(f"{p['lr']:.2e}") for p in a)  # 3 significant digits


def test_trial_points_need_a_space():
    with pytest.raises(tuning.TuningError, match="search_space"):
        tuning.trial_points({}, 8)


def test_integer_dimensions_are_integers():
    pts = tuning.trial_points({"period": LogUniform(10, 1000, integer=True).to_data()}, 4)
    assert all(isinstance(p["period"], int) and 10 <= p["period"] <= 1000 for p in pts)


# ----------------------------------------------------------------------------- the objective
def test_failures_are_charged_twice_the_budget():
    assert tuning.run_cost(_run(), 2.0) == 100
    assert tuning.run_cost(_run(status="budget_exhausted", calls_to_sosp=None), 2.0) == 2000
    assert tuning.run_cost(_run(status="diverged", calls_to_sosp=None), 2.0) == 2000


def _table(costs_by_trial):
    """trial_table input from {trial: {problem: [(status, calls), ...]}}."""
    by_label, labels, trials = {}, [], []
    for t, problems in enumerate(costs_by_trial):
        label = f"e[lr={t}]"
        labels.append(label)
        trials.append({"lr": t})
        for pid, runs in problems.items():
            by_label.setdefault(label, {})[pid] = [
                _run(status=s, calls_to_sosp=c if s == "certified" else None, problem=pid)
                for s, c in runs]
    return tuning.trial_table(by_label, labels, trials, ["a", "b"], 2.0)


def test_choice_minimizes_the_penalized_median_per_family():
    ok, bad = "certified", "budget_exhausted"
    table = _table([
        # trial 0: fast when it works, but fails half its runs on a: median is charged
        {"a": [(ok, 50), (bad, None)], "b": [(ok, 100), (ok, 100)]},
        # trial 1: slower, always certifies
        {"a": [(ok, 300), (ok, 300)], "b": [(ok, 300), (ok, 300)]},
        # trial 2: fastest on a only
        {"a": [(ok, 200), (ok, 200)], "b": [(bad, None), (bad, None)]},
    ])
    assert table[0]["problems"]["a"]["cost"] == pytest.approx((50 + 2000) / 2 / 1000)
    assert table[1]["problems"]["a"] == {"runs": 2, "certified": 2, "cost": 0.3}
    got = tuning.choose(table, {"fa": ["a"], "fb": ["b"], "both": ["a", "b"]})
    assert got["fa"]["trial"] == 2  # 0.2 < 0.3 < 1.025
    assert got["fb"]["trial"] == 0  # 0.1
    assert got["both"]["trial"] == 1  # geomean 0.3 vs sqrt(1.025 * 0.1) = 0.32 vs sqrt(0.2 * 2)
    assert got["both"]["objective"] == pytest.approx(0.3)
    assert got["both"]["certified"] == 4 and got["both"]["runs"] == 4


def test_ties_go_to_more_certified_runs_then_the_lower_trial():
    ok, bad = "certified", "budget_exhausted"
    table = _table([
        {"a": [(bad, None), (bad, None)], "b": [(ok, 1), (ok, 1)]},
        {"a": [(bad, None), (bad, None)], "b": [(ok, 1), (ok, 1)]},
    ])
    assert tuning.choose(table, {"f": ["a"]})["f"]["trial"] == 0
    table = _table([
        {"a": [(bad, None), (bad, None)], "b": [(ok, 1)]},
        {"a": [(ok, 2000), (ok, 2000)], "b": [(ok, 1)]},  # the same cost, 2.0, but certified
    ])
    assert tuning.choose(table, {"f": ["a"]})["f"]["trial"] == 1


# ----------------------------------------------------------------------------- files and tracks
@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """`bench tune`'s steps on the tiny suite for a file entry: (entry file, tuning doc, path)."""
    root = tmp_path_factory.mktemp("tune")
    entry_file = root / "tiny_sgd.py"
    entry_file.write_text(ENTRY_FILE)
    info = resolve_entry(str(entry_file))[0].entry
    trials = tuning.trial_points(info.search_space, 4)
    labels, tasks = tuning_tasks(info, TINY, trials, get_profile("cpu"))
    assert len(tasks) == 4 * 2 and {t.instance_seed for t in tasks} == {100, 101}
    store = ResultsStore(root / "runs")
    run_tasks(tasks, store, executor="serial")
    doc = tuning_result(info, TINY, trials, labels, store.records(), 2.0)
    path = tuning.tuning_path(info.name, root / "tuning")
    tuning.write_tuning(path, doc)
    return entry_file, doc, path


def test_tuning_document_records_protocol_trials_and_choice(tuned):
    _, doc, path = tuned
    assert doc["protocol"]["trials"] == 4 and doc["protocol"]["tuning_instance_seeds"] == [100, 101]
    assert doc["runs"] == 8 and len(doc["trials"]) == 4
    best = doc["choice"]["reddi2d"]
    objectives = [tuning.family_objective(row, ["reddi2d:canonical"]) for row in doc["trials"]]
    assert best["objective"] == min(objectives)
    assert best["hparams"] == doc["trials"][best["trial"]]["hparams"]
    assert best["certified"] == 2  # the best point certifies both tuning runs
    assert json.loads(path.read_text())["choice"] == doc["choice"]


def test_tuned_and_defaults_tracks_record_where_values_came_from(tuned, tmp_path):
    entry_file, doc, path = tuned
    out = tmp_path / "res"
    for track in ("tuned", "defaults"):
        argv = ["run", "-o", str(entry_file), "-p", "reddi2d:canonical", "--seeds", "1",
                "--budget", "6000", "--track", track, "--results", str(out), "-q", "--no-compare"]
        if track == "tuned":
            argv += ["--tuning", str(path)]
        assert main(argv) == 0
    recs = {r.track: r for r in ResultsStore(out / "adhoc").records()}
    assert set(recs) == {"tuned", "defaults"}
    assert recs["tuned"].hparams == doc["choice"]["reddi2d"]["hparams"]
    assert recs["tuned"].tuning["trial"] == doc["choice"]["reddi2d"]["trial"]
    assert recs["tuned"].tuning["sha256"] == __import__("hashlib").sha256(path.read_bytes()).hexdigest()
    assert recs["defaults"].hparams == {"lr": 1e-4} and recs["defaults"].tuning == {}
    assert recs["tuned"].key != recs["defaults"].key
    assert recs["tuned"].status == "certified"


def test_a_tuning_file_for_other_code_is_refused(tuned, tmp_path):
    entry_file, doc, path = tuned
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({**doc, "entry_source_hash": "0" * 16}))
    with pytest.raises(tuning.TuningError, match="other code"):
        tuning.load_tuning(stale, resolve_entry(str(entry_file))[0].entry.source_hash())
    code = main(["run", "-o", str(entry_file), "-p", "reddi2d:canonical", "--seeds", "1",
                 "--track", "tuned", "--tuning", str(stale), "--results", str(tmp_path / "r"),
                 "-q", "--no-compare"])
    assert code == 2


def test_apply_track_rules(tuned, capsys):
    entry_file, doc, path = tuned
    choice = resolve_entry(str(entry_file))[0]
    [t] = tuning.apply_track([choice], "auto", {"reddi2d"}, path)
    assert t.track == "tuned" and t.hparams_for("reddi2d") == doc["choice"]["reddi2d"]["hparams"]
    notes = []
    [d] = tuning.apply_track([choice], "auto", {"reddi2d", "tensor"}, path, notes)
    assert d.track == "defaults" and "tensor" in notes[0]  # a family the file does not cover
    with pytest.raises(tuning.TuningError, match="tensor"):
        tuning.apply_track([choice], "tuned", {"tensor"}, path)
    [c] = tuning.apply_track([dataclasses.replace(choice, overrides={"lr": 0.01})], "auto", {"reddi2d"})
    assert c.track == "custom"
    with pytest.raises(tuning.TuningError, match="custom track"):
        tuning.apply_track([dataclasses.replace(choice, overrides={"lr": 0.01})], "tuned", {"reddi2d"})
    with pytest.raises(ValueError, match="overrides"):
        EntryChoice(choice.entry, {"lr": 0.1}, track="defaults")


def test_merge_replaces_only_the_retuned_families(tuned):
    _, doc, _ = tuned
    other = {**doc, "choice": {"tensor": {"trial": 1, "hparams": doc["trials"][1]["hparams"]}},
             "harness_version": "h2",
             "trials": [{**t, "problems": {"tensor:small": {"runs": 2, "certified": 2, "cost": 0.1}}}
                        for t in doc["trials"]]}
    merged = tuning.merge(doc, other)
    assert set(merged["choice"]) == {"reddi2d", "tensor"}
    assert merged["choice"]["reddi2d"] == doc["choice"]["reddi2d"]
    assert merged["harness_versions"] == {"reddi2d": doc["harness_version"], "tensor": "h2"}
    assert set(merged["trials"][0]["problems"]) == {"reddi2d:canonical", "tensor:small"}
    with pytest.raises(tuning.TuningError, match="trial points"):
        tuning.merge(doc, {**other, "trials": other["trials"][::-1]})
    with pytest.raises(tuning.TuningError, match="entry_source_hash"):
        tuning.merge(doc, {**other, "entry_source_hash": "x"})


# ----------------------------------------------------------------------------- committed files
COMMITTED = sorted(tuning.TUNING_DIR.glob("*.json")) if tuning.TUNING_DIR.is_dir() else []


@pytest.mark.parametrize("path", COMMITTED, ids=[p.stem for p in COMMITTED])
def test_committed_tuning_files_are_current_and_cover_the_leaderboard(path):
    """A committed tuning file matches its entry's code (an edited entry must be re-tuned) and
    chooses, for every family of the suite it was tuned on, one of its own trials."""
    from bench.suites import get_suite

    name = path.stem
    info = resolve_entry(name)[0].entry
    tf = tuning.load_tuning(path, info.source_hash())  # raises on other code
    suite = get_suite(tf.data["suite"])
    assert tf.data["suite_version"] == suite.version
    assert tf.families() == set(suite.families())
    for family, c in tf.data["choice"].items():
        assert tf.data["trials"][c["trial"]]["hparams"] == c["hparams"]
    assert tf.data["protocol"]["trials"] == len(tf.data["trials"])
