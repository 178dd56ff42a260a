"""Registry-wide: every entry that declares an elementwise update runs S seeds as one (S, d)
batch and gives, row by row, the same record as each seed alone (bitwise, float64 CPU).

"Alone" is a batch of one: a batched entry always takes the problems' ``*_rows`` path, whose row
r does not depend on the other rows, so a seed's record cannot depend on its batch. The runs go
through the real harness (oracle, certificate, records); most in-process for speed, one entry
sealed through the channel.
"""

import dataclasses

import pytest

from bench.profiles import get_profile
from bench.runner import RunTask, SeedBatch, execute_batch, is_batched
from optimizers import discover

from tests.optimizers.test_conformance import run_choice

ENTRIES = discover()
BATCHED = sorted(n for n, e in ENTRIES.items() if getattr(e, "elementwise", False))
CPU = get_profile("cpu")
SEEDS = (3, 0, 5)
# (problem, budget): the 2-D toy (escape and certification within the budget for most entries)
# and a population problem in d = 10 with a finite-sum variant
PROBLEMS = [("reddi2d:canonical", 12_000), ("quad-saddle:small[n=50]", 6_000)]

# record fields that must agree bit for bit (timings and creation time are measurements)
SAME = ("status", "calls_to_sosp", "grad_calls_to_sosp", "escape_calls", "counts", "steps",
        "final_f", "final_grad_norm", "final_lambda_min", "sosp_bracket", "escape_bracket")


def _tasks(name, problem, budget, seeds, sealed=False):
    choice = run_choice(name)
    return tuple(RunTask(choice, problem, 0, s, s, CPU, budget=budget, time_limit=120, sealed=sealed)
                 for s in seeds)


def _same(a, b):
    for field in SAME:
        assert getattr(a, field) == getattr(b, field), (field, getattr(a, field), getattr(b, field))
    for key in ("cost", "f", "grad_norm", "lambda_min"):
        assert a.trajectory[key] == b.trajectory[key], key


def test_the_registry_declares_batched_entries():
    assert {"sgd", "sgd-momentum", "nesterov", "adam", "rmsprop", "amsgrad", "adagrad"} <= set(BATCHED)
    assert not {"pgd", "psgd", "cubic-newton", "neon", "cnc-pgd", "ngd"} & set(BATCHED)


@pytest.mark.parametrize("problem,budget", PROBLEMS)
@pytest.mark.parametrize("name", BATCHED)
def test_batch_rows_equal_seeds_alone(name, problem, budget):
    tasks = _tasks(name, problem, budget, SEEDS)
    assert is_batched(tasks[0].choice)
    batch = execute_batch(SeedBatch(tasks))
    assert [r.run_seed for r in batch] == list(SEEDS)
    assert all(r.batch_size == len(SEEDS) for r in batch)
    for task, row in zip(tasks, batch):
        alone = execute_batch(SeedBatch((task,)))[0]
        assert alone.batch_size == 1
        _same(row, alone)
    assert all(len(set(r.trajectory["f"])) > 3 for r in batch), \
        "the iterates must move, or a bug in the batch could not show"


def test_sealed_batch_equals_in_process_and_alone():
    """Through the channel: (S, d) slots, per-row losses; the same records as in-process."""
    sealed = execute_batch(SeedBatch(_tasks("adam", "reddi2d:canonical", 6_000, SEEDS, sealed=True)))
    local = execute_batch(SeedBatch(_tasks("adam", "reddi2d:canonical", 6_000, SEEDS)))
    alone = execute_batch(SeedBatch(_tasks("adam", "reddi2d:canonical", 6_000, SEEDS[1:2], sealed=True)))
    for a, b in zip(sealed, local):
        _same(a, b)
        assert a.sealed and not b.sealed
    _same(sealed[1], alone[0])


def test_a_certified_row_stops_paying_while_the_others_go_on():
    tasks = _tasks("sgd", "reddi2d:canonical", 30_000, (0, 1, 2, 3))
    batch = execute_batch(SeedBatch(tasks))
    certified = [r for r in batch if r.status == "certified"]
    assert certified
    for r in certified:  # frozen at the certifying checkpoint
        assert r.counts["cost"] == r.calls_to_sosp
    costs = sorted(r.counts["cost"] for r in batch)
    assert costs[0] < costs[-1], "rows finishing at different checkpoints have different counts"


def test_non_elementwise_entries_run_alone():
    task = _tasks("pgd", "reddi2d:canonical", 2_000, (0,))[0]
    assert not is_batched(task.choice)
    with pytest.raises(ValueError, match="does not run seeds as a batch"):
        SeedBatch((task, dataclasses.replace(task, run_seed=1, init_seed=1)))


@pytest.mark.parametrize("name", ["adam", "amsgrad", "rmsprop", "adagrad", "momentum-annealing"])
def test_adaptive_rows_at_larger_dimension(name):
    """Adaptive entries use sqrt and division kernels with vectorized bodies and scalar tails: at
    d = 100 and an odd number of rows a row's elements sit at other positions than alone."""
    tasks = _tasks(name, "quad-saddle:medium", 1_500, (4, 1, 6, 2, 9))
    batch = execute_batch(SeedBatch(tasks))
    for task, row in zip(tasks, batch):
        _same(row, execute_batch(SeedBatch((task,)))[0])
