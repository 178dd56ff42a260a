import math
import pathlib

import pytest
import torch

import bench.runner as runner
from bench.entries import resolve_entry
from bench.runner import RunTask, execute

HERE = pathlib.Path(__file__).parent
MISBEHAVING = HERE / "entries_for_tests.py"


def _task(cpu, spec, problem="reddi2d:canonical", budget=20_000, time_limit=60, seed=0):
    return RunTask(resolve_entry(spec)[0], problem, 0, seed, seed, cpu, budget=budget,
                   time_limit=time_limit)


def test_certified_run_reports_calls_escape_and_provenance(cpu):
    rec = execute(_task(cpu, "adam", budget=50_000))
    assert rec.status == "certified"
    assert rec.escape_calls is not None and rec.escape_calls <= rec.calls_to_sosp
    assert rec.final_grad_norm <= rec.eps_g and rec.final_lambda_min >= -rec.eps_h
    assert rec.counts["cost"] == rec.calls_to_sosp
    assert rec.hardware["cores"] and rec.versions["torch"] == torch.__version__
    assert rec.hparams == {"lr": 1e-3} and rec.entry_source_hash
    assert len(rec.trajectory["cost"]) == len(rec.trajectory["f"]) <= runner.MAX_TRAJECTORY_POINTS


def test_same_seeds_give_identical_counts(cpu):
    a = execute(_task(cpu, "sgd-momentum", problem="quad-saddle:small", budget=30_000, seed=1))
    b = execute(_task(cpu, "sgd-momentum", problem="quad-saddle:small", budget=30_000, seed=1))
    c = execute(_task(cpu, "sgd-momentum", problem="quad-saddle:small", budget=30_000, seed=2))
    assert a.status == b.status == "certified"
    assert (a.calls_to_sosp, a.escape_calls, a.counts, a.trajectory["f"]) == \
        (b.calls_to_sosp, b.escape_calls, b.counts, b.trajectory["f"])
    assert c.calls_to_sosp != a.calls_to_sosp


def test_checkpoints_are_two_percent_apart():
    """The documented schedule: c_{k+1} = max(c_k + 1, ceil(1.02 c_k))."""
    c, seen = 1, []
    while c < 10**7:
        nxt = runner._next_checkpoint(c)
        assert nxt == max(c + 1, math.ceil(1.02 * c))
        seen.append(nxt / c)
        c = nxt
    assert max(r for r, c0 in zip(seen, range(len(seen))) if c0 > 400) <= 1.0201


def test_certified_count_is_an_honest_bracket(cpu):
    """calls_to_sosp is the top of [last uncertified checkpoint, first certified one]: for an
    entry taking one call per step the interval is exactly one 2% checkpoint gap wide."""
    rec = execute(_task(cpu, "sgd-momentum", problem="quad-saddle:small", budget=30_000))
    assert rec.status == "certified"
    low, high = rec.sosp_bracket
    assert high == rec.calls_to_sosp == rec.counts["cost"]
    assert high == max(low + 1, math.ceil(1.02 * low))
    lows = rec.escape_bracket
    assert lows[1] == rec.escape_calls and lows[0] < lows[1]


def test_a_step_past_a_checkpoint_widens_the_bracket(cpu):
    """An entry taking 400 calls per step jumps past several checkpoints: the bracket says so."""
    rec = execute(_task(cpu, "cubic-newton", problem="quad-saddle:small", budget=200_000))
    if rec.status != "certified":
        pytest.skip(f"cubic-newton did not certify here ({rec.status})")
    low, high = rec.sosp_bracket
    assert high == rec.calls_to_sosp and low < high


def test_budget_exhausted(cpu):
    rec = execute(_task(cpu, "sgd", budget=2_000))
    assert rec.status == "budget_exhausted" and rec.calls_to_sosp is None
    assert rec.counts["cost"] == 2_000 and rec.final_lambda_min == pytest.approx(-0.1, abs=0.01)


def test_diverging_entry(cpu):
    rec = execute(_task(cpu, "sgd[lr=5.0]", problem="quad-saddle:small"))
    assert rec.status == "diverged" and "lower its step size" in rec.message


def test_nan_entry_is_diverged(cpu):
    rec = execute(_task(cpu, f"{MISBEHAVING}:ReturnsNaN"))
    assert rec.status == "diverged" and "NaN" in rec.message


def test_crashing_entry_is_an_error_record(cpu):
    rec = execute(_task(cpu, f"{MISBEHAVING}:Raises"))
    assert rec.status == "error" and "boom from the entry" in rec.message
    assert rec.counts["grad_calls"] == 3


def test_entry_ignoring_closure_is_an_error(cpu):
    rec = execute(_task(cpu, f"{MISBEHAVING}:IgnoresClosure"))
    assert rec.status == "error" and "must call closure()" in rec.message


def test_hanging_entry_times_out(cpu, monkeypatch):
    monkeypatch.setattr(runner, "HARD_LIMIT_GRACE", 0.0)
    rec = execute(_task(cpu, f"{MISBEHAVING}:Hangs", time_limit=1.0))
    assert rec.status == "timeout" and "hangs" in rec.message


def test_invalid_hyperparameter_is_an_error_naming_it(cpu):
    rec = execute(_task(cpu, "sgd[lr=-1.0]"))
    assert rec.status == "error" and "lr" in rec.message


def test_float32_profile_certifies_with_float64_certificate():
    from bench.profiles import get_profile

    rec = execute(RunTask(resolve_entry("adam")[0], "reddi2d:canonical", 0, 0, 0,
                          get_profile("cpu-fp32"), budget=50_000, time_limit=60))
    assert rec.status == "certified" and rec.profile == "cpu-fp32"


def test_cheating_entry_pays_for_everything(cpu):
    from tests.bench.test_sealed_attacks import unlinted

    choice = unlinted(f"{HERE / 'cheating_entry.py'}:Cheater")
    rec = execute(RunTask(choice, "reddi2d:canonical", 0, 0, 0, cpu, budget=2_000, time_limit=60))
    assert "leaks" not in rec.message and rec.status != "error", rec.message
    c = rec.counts
    # every step: 1 minibatch gradient + full gradient (n=10) + full f (10) + full HVP (10)
    assert c["fval_calls"] >= 1 and c["hvp_calls"] in (c["fval_calls"], c["fval_calls"] - 1)
    assert c["fval_samples"] == 10 * c["fval_calls"] and c["hvp_samples"] == 10 * c["hvp_calls"]
    full_grads = (c["grad_samples"] - c["grad_calls"]) / 9  # a full call costs 10, a minibatch 1
    assert full_grads in (c["fval_calls"], c["fval_calls"] + 1)
    assert c["cost"] == c["grad_samples"] + c["fval_samples"] + c["hvp_samples"] <= 2_000


def test_entries_that_reach_into_the_harness_are_rejected():
    from bench.entries import EntryError

    for cls in ("Cheater", "Sneaky"):
        with pytest.raises(EntryError, match="reaches into the harness"):
            resolve_entry(f"{HERE / 'cheating_entry.py'}:{cls}")
