"""Seed batches in the oracle and the runner: per-row charges, retirement, per-row outcomes."""

import dataclasses
import math
import pathlib

import pytest
import torch

from bench.entries import resolve_entry
from bench.oracle import BudgetExhausted, Oracle
from bench.profiles import get_profile
from bench.runner import RunTask, SeedBatch, execute_batch, seed_batches
from problems import make_problem

CPU = get_profile("cpu")
HERE = pathlib.Path(__file__).resolve().parent


def test_each_row_draws_its_own_seeds_stream():
    p = make_problem("quad-saddle:small", 0)
    W = torch.zeros(3, p.dim, dtype=torch.float64)
    batch = Oracle(p, W, [7, 8, 9], 10**6)
    alone = [Oracle(p, torch.zeros(p.dim, dtype=torch.float64), s, 10**6) for s in (7, 8, 9)]
    for _ in range(5):
        _, G = batch.loss_grad()
        for r, o in enumerate(alone):
            _, g = o.loss_grad()
            assert torch.equal(G[r], g)


def test_retired_rows_freeze_their_counts_and_get_zeros():
    p = make_problem("reddi2d:canonical", 0)
    W = torch.full((3, 2), 0.3, dtype=torch.float64)
    o = Oracle(p, W, [0, 1, 2], budget=10)
    o.loss_grad()
    o.retire(1)
    loss, G = o.loss_grad()
    o.hvp(torch.ones_like(W), full=False)
    assert o.row_counts(1).cost == 1 and o.row_counts(0).cost == 3 and o.counts.cost == 3
    assert torch.equal(G[1], torch.zeros(2, dtype=torch.float64)) and loss[1] == 0
    assert G[0].abs().sum() > 0
    o.retire(0)
    o.retire(2)
    with pytest.raises(BudgetExhausted):
        o.loss_grad()


def test_budget_is_per_row():
    p = make_problem("reddi2d:canonical", 0)
    o = Oracle(p, torch.zeros(4, 2, dtype=torch.float64), [0, 1, 2, 3], budget=5)
    for _ in range(5):
        o.loss_grad()
    with pytest.raises(BudgetExhausted):
        o.loss_grad()
    assert o.counts.cost == 5


def _choice(**overrides):
    choice = resolve_entry(f"{HERE / 'entries_for_tests.py'}:BreaksRowZero")[0]
    return dataclasses.replace(choice, overrides=overrides, batch_seeds=True)


@pytest.mark.parametrize("at_only,status", [(False, "diverged"), (True, "error")])
def test_a_broken_row_ends_alone(at_only, status):
    choice = _choice(at_only=at_only)
    tasks = tuple(RunTask(choice, "reddi2d:canonical", 0, s, s, CPU, budget=3_000, time_limit=60)
                  for s in range(3))
    records = execute_batch(SeedBatch(tasks))
    assert records[0].status == status, records[0].message
    assert records[0].counts["cost"] < 100
    for r in records[1:]:
        assert r.status in ("certified", "budget_exhausted")
        assert r.counts["cost"] > 100 and math.isfinite(r.final_f)


def test_units_group_batched_seeds_only():
    sgd = resolve_entry("sgd")[0]
    pgd = resolve_entry("pgd")[0]
    tasks = [RunTask(c, prob, 0, s, s, CPU, budget=100) for c in (sgd, pgd)
             for prob in ("reddi2d:canonical", "quad-saddle:small") for s in range(5)]
    units = seed_batches(tasks, max_rows=3)
    sizes = [(u.tasks[0].choice.label, u.tasks[0].problem, len(u.tasks)) for u in units]
    assert sizes[:4] == [("sgd", "reddi2d:canonical", 3), ("sgd", "reddi2d:canonical", 2),
                         ("sgd", "quad-saddle:small", 3), ("sgd", "quad-saddle:small", 2)]
    assert all(n == 1 for label, _, n in sizes if label == "pgd") and len(units) == 14
    assert sorted(t.run_seed for u in units for t in u.tasks) == sorted(t.run_seed for t in tasks)


def test_the_dense_probe_only_ever_concludes_negative_curvature_that_is_there():
    """Rows that passed the gate are probed with their previous eigenvector: v^T H v < -eps_h
    proves lambda_min < -eps_h. Near a minimizer the probe must hand over to eigvalsh, which
    certifies; at the saddle it concludes "negative" (and eigvalsh agrees)."""
    from bench.certificate import Certifier
    from bench.monitor import Monitor, _dense_checks

    p = make_problem("reddi2d:canonical", 0)
    saddle = p.saddle.point
    up = torch.tensor([0.0, 1.0], dtype=torch.float64)  # the negative direction at the saddle
    # the saddle, next to it, lambda_min just above 0 (within eps_h of the threshold), convex
    W = torch.stack([saddle, saddle + 1e-3, saddle + 0.43 * up, saddle + 0.5 * up])
    monitors = [Monitor(p, Certifier(p, seed=s)) for s in range(4)]
    for m in monitors:  # a previous check at the saddle leaves its eigenvector
        m.certifier.check(saddle, always_eigen=True)
        m._last_lambda_cost = 10**9  # no lambda_min log due: the probe may run
    f, g = p.loss_grad_rows(W)
    out = _dense_checks(p, monitors, W, [0, 1, 2, 3], f.tolist(), [0.0] * 4, cost=1)
    exact = [float(torch.linalg.eigvalsh(p.hessian(w))[0]) for w in W]
    eps_h = monitors[0].certifier.eps_h
    for k in range(4):
        if out[k].reason == "negative":
            assert exact[k] < -eps_h and out[k].iterations == 1
        else:
            assert out[k].reason == "dense" and out[k].theta == exact[k]
    assert out[0].reason == "negative"
    assert 0 < exact[2] < eps_h and out[2].reason == "dense"
    assert exact[3] >= -eps_h and out[3].reason == "dense"


def test_batch_seeds_refuses_an_entry_that_shares_gradients_between_rows():
    from bench.batch_check import check_rows_independent
    from bench.entries import EntryError

    honest = resolve_entry("torch.optim.SGD[lr=0.005]")[0]
    check_rows_independent(honest, "reddi2d:canonical", CPU)  # passes
    cheat = resolve_entry(f"{HERE / 'entries_for_tests.py'}:AveragesRows")[0]
    with pytest.raises(EntryError, match="cannot run seeds as a batch"):
        check_rows_independent(cheat, "reddi2d:canonical", CPU)
