"""Rows of one batch with different hyperparameters (the trials of ``bench tune`` for an
elementwise entry): each row, a param group of its own, gives bit for bit the record of that
trial run alone (float64 CPU, the real sealed harness)."""

import dataclasses

import pytest

from bench import tuning
from bench.entries import resolve_entry
from bench.profiles import get_profile
from bench.runner import RunTask, SeedBatch, execute_batch, seed_batches
from optimizers import discover

CPU = get_profile("cpu")
BATCHED = sorted(n for n, e in discover().items() if getattr(e, "elementwise", False))
PROBLEM, BUDGET = "reddi2d:canonical", 4_000
SAME = ("status", "calls_to_sosp", "escape_calls", "counts", "steps", "final_f",
        "final_grad_norm", "final_lambda_min", "sosp_bracket", "hparams", "entry")


def _trial_tasks(name, n=3, sealed=True):
    base = resolve_entry(name)[0]
    points = tuning.trial_points(base.entry.search_space, n)
    # the same run seed on every row: rows differ only in their hyperparameters
    return [RunTask(dataclasses.replace(base, overrides=p), PROBLEM, 100, 0, 0, CPU, budget=BUDGET,
                    time_limit=60, sealed=sealed) for p in points]


def _eq(a, b):
    """Equal, with NaN equal to NaN (a diverged trial's final f)."""
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("name", BATCHED)
def test_trial_rows_equal_each_trial_alone(name):
    tasks = _trial_tasks(name)
    [batch] = seed_batches(tasks)  # the trials of one entry on one instance: one batch
    assert len(batch.tasks) == 3
    rows = execute_batch(batch)
    assert len({r.entry for r in rows}) == 3 and all(r.batch_size == 3 for r in rows)
    for task, row in zip(tasks, rows):
        alone = execute_batch(SeedBatch((dataclasses.replace(task, sealed=False),)))[0]
        for field in SAME:
            assert _eq(getattr(row, field), getattr(alone, field)), (field, getattr(row, field),
                                                                   getattr(alone, field))
        for key in ("cost", "f", "grad_norm"):
            assert _eq(row.trajectory[key], alone.trajectory[key]), key
    assert len({tuple(r.trajectory["f"]) for r in rows}) == 3, "the trials must differ"


def test_consecutive_rows_with_equal_hyperparameters_share_a_param_group():
    """A sweep (2 points x 2 seeds): consecutive equal rows are one param group (one update for
    both), and every row still gives bit for bit its run alone."""
    import torch

    from bench.entries import build_row_optimizer, load_here

    base = resolve_entry("sgd-momentum")[0]
    points = [{"lr": 1e-3, "momentum": 0.0}, {"lr": 1e-3, "momentum": 0.9}]
    tasks = [RunTask(dataclasses.replace(base, overrides=p), PROBLEM, 100, 0, seed, CPU,
                     budget=BUDGET, time_limit=60) for p in points for seed in (0, 1)]
    entry = load_here(base).entry
    opt, spans = build_row_optimizer(entry, torch.zeros(4, 2, dtype=torch.float64), "reddi2d",
                                     [t.choice.overrides for t in tasks])
    assert spans == [slice(0, 2), slice(2, 4)] and len(opt.param_groups) == 2
    assert [g["params"][0].shape[0] for g in opt.param_groups] == [2, 2]
    [batch] = seed_batches(tasks)
    rows = execute_batch(batch)
    for task, row in zip(tasks, rows):
        alone = execute_batch(SeedBatch((dataclasses.replace(task, sealed=False),)))[0]
        for field in SAME:
            assert _eq(getattr(row, field), getattr(alone, field)), field
        assert _eq(row.trajectory["f"], alone.trajectory["f"])
    assert len({tuple(r.trajectory["f"]) for r in rows}) == 4, "seeds and points must differ"


def test_rows_with_different_hyperparameters_batch_only_sealed():
    assert len(seed_batches(_trial_tasks("sgd"))) == 1
    assert len(seed_batches(_trial_tasks("sgd", sealed=False))) == 3  # in-process: one each


def test_a_row_that_leaves_a_hyperparameter_out_gets_the_entrys_default():
    """Row 0 sets ``anneal``, row 1 leaves it out: row 1 gets the constructor's default, not
    row 0's value (the constructor is given only what every row sets)."""
    import torch

    from bench.entries import build_row_optimizer, load_here

    entry = load_here(resolve_entry("momentum-annealing")[0]).entry
    w = torch.zeros(2, 3, dtype=torch.float64)
    opt, _ = build_row_optimizer(entry, w, "reddi2d", [{"anneal": "lr"}, {}])
    assert opt.param_groups[0]["anneal"] == "lr"
    assert opt.param_groups[1]["anneal"] == "momentum"  # the constructor's default
