"""Diagnostics in runs (RunTask.diagnostics): measured at every checkpoint from the harness's
copy of each row, uncounted, into the record's trajectory; part of the resume key only when
asked for; no count, value or byte sent to the sealed worker changes."""

from __future__ import annotations

import json
import math

import pytest
import torch

from bench.claims import Claim
from bench.drivers import SealedEntry
from bench.entries import resolve_entry
from bench.records import RunRecord, check_record_dict, run_key
from bench.runner import RunTask, SeedBatch, execute, execute_batch, task_key
from problems import UnknownDiagnosticError, make_problem

PROBLEM = "phase-retrieval:small[init_delta=0.001]"
NAMES = ("negative_projection", "saddle_distance", "solution_distance")
SEEDS = (0, 1, 2)
BUDGET = 20_000


def _task(cpu, seed, diagnostics=(), problem=PROBLEM, spec="sgd[lr=0.005]", **kw):
    return RunTask(resolve_entry(spec)[0], problem, 0, seed, seed, cpu, budget=kw.pop("budget", BUDGET),
                   time_limit=60, diagnostics=diagnostics, **kw)


@pytest.fixture(scope="module")
def runs():
    """The same sealed batch of 3 seeds without and with diagnostics (every packet the harness
    sends to the worker recorded), and seed 1 alone with diagnostics."""
    from bench.profiles import get_profile

    cpu = get_profile("cpu")
    sent: dict[str, list[bytes]] = {"plain": [], "diagnosed": []}
    out = {}
    original = SealedEntry._send
    with pytest.MonkeyPatch.context() as mp:
        for kind, names in (("plain", ()), ("diagnosed", NAMES)):
            mp.setattr(SealedEntry, "_send", lambda self, packet, k=kind: (sent[k].append(bytes(packet)),
                                                                           original(self, packet))[1])
            out[kind] = execute_batch(SeedBatch(tuple(_task(cpu, s, names) for s in SEEDS)))
    out["alone"] = execute(_task(cpu, 1, NAMES))
    out["sent"] = sent
    return out


# ------------------------------------------------------------------------ the run is the same
def test_diagnostics_change_no_count_no_event_and_no_value(runs):
    for plain, diagnosed in zip(runs["plain"], runs["diagnosed"]):
        assert plain.status == diagnosed.status == "certified" and diagnosed.sealed
        assert plain.counts == diagnosed.counts
        assert (plain.calls_to_sosp, plain.sosp_bracket, plain.escape_calls, plain.final_f,
                plain.final_grad_norm, plain.final_lambda_min) == \
            (diagnosed.calls_to_sosp, diagnosed.sosp_bracket, diagnosed.escape_calls,
             diagnosed.final_f, diagnosed.final_grad_norm, diagnosed.final_lambda_min)
        for column in ("cost", "f", "grad_norm", "lambda_min"):
            assert plain.trajectory[column] == diagnosed.trajectory[column], column


def test_the_sealed_worker_receives_exactly_the_same_bytes(runs):
    """Everything the harness sends to the worker (set-up, pings, every oracle answer and
    checkpoint order) is byte for byte the same with and without diagnostics: the entry cannot
    read them."""
    plain, diagnosed = runs["sent"]["plain"], runs["sent"]["diagnosed"]
    assert len(plain) > 100
    assert plain == diagnosed


def test_every_checkpoint_has_every_diagnostic(runs):
    for rec in runs["diagnosed"]:
        assert rec.diagnostics == list(NAMES)
        for name in NAMES:
            assert len(rec.trajectory[name]) == len(rec.trajectory["f"]) > 10
            assert all(math.isfinite(v) for v in rec.trajectory[name])
    for rec in runs["plain"]:
        assert rec.diagnostics == [] and not set(NAMES) & set(rec.trajectory)


def test_the_values_are_those_of_the_start_and_of_the_certified_point(runs):
    p = make_problem(PROBLEM)
    for seed, rec in zip(SEEDS, runs["diagnosed"]):
        direct = p.diagnose_rows(NAMES, p.start_point(seed)[None])
        for name in NAMES:
            assert rec.trajectory[name][0] == float(direct[name][0]), name
        assert rec.trajectory["saddle_distance"][0] == pytest.approx(1e-3, rel=1e-10)  # init_delta
        assert rec.trajectory["solution_distance"][-1] < 1e-2  # certified: next to +-w*
        assert rec.trajectory["saddle_distance"][-1] > 0.5


def test_a_rows_diagnostics_are_those_it_gets_alone(runs):
    batched, alone = runs["diagnosed"][1], runs["alone"]
    for name in (*NAMES, "f", "cost"):
        assert batched.trajectory[name] == alone.trajectory[name], name


def test_rows_of_one_batch_may_ask_for_different_diagnostics(cpu):
    tasks = (_task(cpu, 0, ("saddle_distance",), budget=3_000), _task(cpu, 1, budget=3_000))
    first, second = execute_batch(SeedBatch(tasks))
    assert first.diagnostics == ["saddle_distance"] and "saddle_distance" in first.trajectory
    assert second.diagnostics == [] and "saddle_distance" not in second.trajectory


def test_budget_runs_measure_the_diagnostics_at_the_tail_points(cpu):
    rec = execute(_task(cpu, 0, ("negative_projection",), problem="quad-saddle:small",
                        spec="sgd[lr=0.01]", budget=3_000, stop="budget"))
    tail = rec.tail
    assert len(tail["negative_projection"]) == len(tail["f"]) == 10
    assert tail["negative_projection"][-1] == rec.trajectory["negative_projection"][-1]
    assert tail["negative_projection"][-1] > 0


def test_a_diverged_point_has_no_diagnostic(cpu):
    rec = execute(_task(cpu, 0, ("saddle_distance",), problem="quad-saddle:small",
                        spec="sgd[lr=100]", budget=3_000))
    assert rec.status == "diverged"
    assert math.isnan(rec.trajectory["saddle_distance"][-1])
    line = json.loads(rec.to_json())
    assert line["trajectory"]["saddle_distance"][-1] is None and check_record_dict(line) is None


# ------------------------------------------------------------------------ names and keys
def test_an_unknown_name_fails_when_the_task_is_made(cpu):
    with pytest.raises(UnknownDiagnosticError, match=r"no diagnostic 'distance'.*its diagnostics: "
                                                     r"negative_projection, saddle_distance\)"):
        _task(cpu, 0, ("distance",), problem="mlp-digits:small")


def test_names_are_sorted_and_spelled_once(cpu):
    a = _task(cpu, 0, ("solution_distance", "saddle_distance"))
    b = _task(cpu, 0, "saddle_distance,solution_distance,saddle_distance")
    assert a.diagnostics == b.diagnostics == ("saddle_distance", "solution_distance")
    assert task_key(a) == task_key(b)


PINNED = [  # run_key before diagnostics existed (harness-next at 00d2f10)
    (("sgd[lr=0.01]", "abc123", "quad-saddle:small", 0, 1, 2, "cpu", "claim-D9", "1-full",
      "h0123456789abcdef"), {}, "e6aabaa0ea8ebaa22426"),
    (("adam", "abc123", "phase-retrieval:small", 3, 4, 4, "cpu", "standard", "2", "h0123456789abcdef",
      "tuned", {"lr": 0.001}, "budget"), {}, "dbb92be7619705a369a1"),
]


@pytest.mark.parametrize("args,kw,key", PINNED)
def test_keys_without_diagnostics_are_unchanged(args, kw, key):
    assert run_key(*args, **kw) == key
    assert run_key(*args, diagnostics=()) == key
    with_names = run_key(*args, diagnostics=["saddle_distance"])
    assert with_names != key
    assert run_key(*args, diagnostics=["b_x", "a_x"]) == run_key(*args, diagnostics=["a_x", "b_x"])


def test_a_record_without_diagnostics_keeps_its_old_key():
    """A stored schema-5 line (no diagnostics field) reads with none and its key of before."""
    line = {"entry": "sgd[lr=0.01]", "entry_name": "sgd", "hparams": {}, "entry_source_hash": "abc123",
            "oracle_class": "stochastic_first_order", "problem": "quad-saddle:small",
            "family": "quad-saddle", "dim": 10, "instance_seed": 0, "init_seed": 1, "run_seed": 2,
            "profile": "cpu", "suite": "claim-D9", "suite_version": "1-full", "status": "certified",
            "harness_version": "h0123456789abcdef", "schema_version": 5}
    rec = RunRecord.from_dict(line)
    assert rec.diagnostics == [] and rec.key == "e6aabaa0ea8ebaa22426"
    assert check_record_dict({**line, "diagnostics": [3]}) is not None


def test_task_and_record_keys_agree(runs, cpu):
    plain = _task(cpu, 1)
    diagnosed = _task(cpu, 1, NAMES)
    assert task_key(plain) == runs["plain"][1].key
    assert task_key(diagnosed) == runs["diagnosed"][1].key != task_key(plain)


def test_a_claim_task_passes_its_diagnostics(cpu):
    class Probe(Claim):
        id, version = "D0", "1"

    task = Probe().task(resolve_entry("sgd")[0], "tensor:small", 3, diagnostics="solution_distance")
    assert task.diagnostics == ("solution_distance",) and task.suite == "claim-D0"
    assert Probe().task(resolve_entry("sgd")[0], "tensor:small", 3).diagnostics == ()
    with pytest.raises(UnknownDiagnosticError):
        Probe().task(resolve_entry("sgd")[0], "halfspace-blobs:small", 3, diagnostics="solution_distance")


# ------------------------------------------------------------------------ the command line
def test_bench_run_diagnostics(tmp_path, capsys):
    from bench.cli import main

    args = ["run", "-o", "sgd[lr=0.01]", "-p", "reddi2d:canonical[init_delta=0.01]", "--seeds", "2",
            "--budget", "20000", "--results", str(tmp_path), "--executor", "serial", "--no-compare"]
    assert main(args + ["--diagnostics", "solution_distance,nope"]) == 2
    err = capsys.readouterr().err
    assert "no diagnostic 'nope'" in err and "solution_distance" in err
    assert not (tmp_path / "adhoc").exists()
    assert main(args + ["--diagnostics", "solution_distance"]) == 0
    out = capsys.readouterr().out
    assert "final solution_distance (median)" in out
    lines = next((tmp_path / "adhoc").glob("*.jsonl")).read_text().splitlines()
    records = [RunRecord.from_dict(json.loads(x)) for x in lines]
    assert [r.diagnostics for r in records] == [["solution_distance"]] * 2
    assert all(r.trajectory["solution_distance"][-1] < 0.1 for r in records)


def test_bench_list_problems_shows_a_familys_diagnostics():
    from bench.list_command import list_problems

    text = list_problems("reddi2d")
    listed = text[text.index("diagnostics of reddi2d"):]
    for name in ("negative_projection", "saddle_distance", "solution_distance"):
        assert f"\n{name} " in listed
    assert "min ||w - w*|| / ||w*|| over the global minima" in listed
