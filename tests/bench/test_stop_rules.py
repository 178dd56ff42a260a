"""Stop rules (RunTask.stop): a run ends at its first certification (sosp), its first escape
(escape) or its budget (budget, with f averaged over the tail of the budget); the rule is part
of the resume key and of the record, and the leaderboard publishes only "sosp" runs."""

import json
import math

import pytest

from bench.entries import resolve_entry
from bench.records import SCHEMA_VERSION, RunRecord, check_record_dict, run_key
from bench.runner import TAIL_POINTS, RunTask, execute, execute_batch, seed_batches, tail_points, task_key

PROBLEM, BUDGET = "quad-saddle:small", 6_000


def _task(cpu, stop, spec="sgd-momentum", seed=1, budget=BUDGET):
    return RunTask(resolve_entry(spec)[0], PROBLEM, 0, seed, seed, cpu, budget=budget,
                   time_limit=60, stop=stop)


@pytest.fixture(scope="module")
def runs():
    from bench.profiles import get_profile

    cpu = get_profile("cpu")
    return {stop: execute(_task(cpu, stop)) for stop in ("sosp", "escape", "budget")}


def test_tail_points_are_evenly_spaced_over_the_last_tenth():
    assert tail_points(1000) == [910, 920, 930, 940, 950, 960, 970, 980, 990, 1000]
    assert tail_points(6000) == list(range(5460, 6001, 60))
    assert tail_points(5) == [5]  # fewer points, never repeated, for a tiny budget
    assert len(tail_points(10**6)) == TAIL_POINTS


def test_sosp_stops_at_the_first_certification(runs):
    r = runs["sosp"]
    assert r.stop == "sosp" and r.status == "certified"
    assert r.counts["cost"] == r.calls_to_sosp < BUDGET and r.tail == {} and r.tail_f_mean is None


def test_escape_stops_at_the_first_escape_checkpoint(runs):
    r, sosp = runs["escape"], runs["sosp"]
    assert r.stop == "escape" and r.status == "escaped"
    assert r.escape_calls == sosp.escape_calls == r.counts["cost"] < sosp.calls_to_sosp
    assert r.calls_to_sosp is None and r.escape_bracket == sosp.escape_bracket


def test_budget_runs_on_past_the_certification_and_measures_the_tail(runs):
    r, sosp = runs["budget"], runs["sosp"]
    assert r.stop == "budget" and r.status == "certified"
    # the same run up to its certification (the tail points come after it)
    assert (r.calls_to_sosp, r.escape_calls, r.sosp_bracket) == \
        (sosp.calls_to_sosp, sosp.escape_calls, sosp.sosp_bracket)
    assert r.counts["cost"] == BUDGET  # final_* at the budget
    assert r.tail["point"] == tail_points(BUDGET)
    assert all(c >= p for c, p in zip(r.tail["cost"], r.tail["point"]))
    assert r.tail["cost"][-1] == BUDGET and r.tail["f"][-1] == r.final_f
    assert r.tail_f_mean == pytest.approx(sum(r.tail["f"]) / TAIL_POINTS, rel=1e-12)
    assert len(set(r.tail["f"])) == TAIL_POINTS  # ten measurements, not one repeated
    # the iterate rattles near the minimum at f* + O(noise), below the saddle's level
    assert r.f_star < r.tail_f_mean < r.saddle_value - r.escape_delta


def test_budget_run_that_never_certifies_is_budget_exhausted_with_a_tail(cpu):
    r = execute(_task(cpu, "budget", spec="sgd[lr=1e-4]", budget=2_000))
    assert r.status == "budget_exhausted" and r.calls_to_sosp is None
    assert r.tail["point"] == tail_points(2_000) and math.isfinite(r.tail_f_mean)


def test_each_row_of_a_batch_gets_its_own_tail(cpu):
    tasks = [_task(cpu, "budget", spec="sgd", seed=s, budget=3_000) for s in (3, 4)]
    [batch] = seed_batches(tasks)
    rows = execute_batch(batch)
    assert [r.batch_size for r in rows] == [2, 2]
    for r in rows:
        assert r.tail["point"] == tail_points(3_000) and r.tail_f_mean is not None
    assert rows[0].tail["f"] != rows[1].tail["f"]


def test_rows_of_one_batch_share_their_stop_rule(cpu):
    tasks = [_task(cpu, "budget", spec="sgd", seed=3), _task(cpu, "sosp", spec="sgd", seed=4)]
    assert len(seed_batches(tasks)) == 2


def test_an_unknown_stop_rule_is_refused_naming_the_rules(cpu):
    with pytest.raises(ValueError, match="sosp, escape, budget"):
        _task(cpu, "minimum")


def test_the_stop_rule_is_in_the_key(cpu):
    keys = {stop: task_key(_task(cpu, stop)) for stop in ("sosp", "escape", "budget")}
    assert len(set(keys.values())) == 3
    args = ("sgd", "abc", "reddi2d:canonical", 0, 0, 0, "cpu", "smoke", "1", "hv")
    assert run_key(*args) == run_key(*args, stop="sosp")  # "sosp" keeps the old keys
    assert run_key(*args, stop="budget") != run_key(*args)


def test_records_carry_the_rule_and_old_records_read_as_sosp(runs):
    r = runs["budget"]
    data = json.loads(r.to_json())
    assert data["stop"] == "budget" and data["schema_version"] == SCHEMA_VERSION >= 5
    back = RunRecord.from_dict(data)
    assert back.key == r.key and back.tail == r.tail
    old = json.loads(runs["sosp"].to_json())
    for name in ("stop", "tail", "tail_f_mean"):
        del old[name]
    old["schema_version"] = 4
    assert RunRecord.from_dict(old).stop == "sosp"
    assert RunRecord.from_dict(old).key == runs["sosp"].key
    assert "stop" in check_record_dict({**data, "stop": "never"})


def test_leaderboard_publishes_only_sosp_runs(runs):
    from leaderboard.aggregate import publishable

    kept, refused = publishable(list(runs.values()))
    assert [r.stop for r in kept] == ["sosp"] and refused == 2


def test_claim_task_and_cli_pass_the_rule(tmp_path, capsys):
    from bench.claims import Claim
    from bench.cli import build_parser, main

    class Probe(Claim):
        id = "D0"

    choice = resolve_entry("sgd")[0]
    assert Probe().task(choice, PROBLEM, 0, stop="budget").stop == "budget"
    assert Probe().task(choice, PROBLEM, 0).stop == "sosp"
    args = build_parser().parse_args(["run", "-o", "sgd", "-p", PROBLEM, "--stop", "escape"])
    assert args.stop == "escape"
    code = main(["run", "-o", "sgd-momentum", "-p", PROBLEM, "--seeds", "1", "--budget", "3000",
                 "--stop", "budget", "--results", str(tmp_path), "--executor", "serial"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "median tail mean f" in out and "no comparison with the leaderboard" in out
    [line] = (tmp_path / "adhoc" / "sgd-momentum.jsonl").read_text().splitlines()
    assert json.loads(line)["stop"] == "budget"
