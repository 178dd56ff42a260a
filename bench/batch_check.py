"""The check that lets ``bench run --batch-seeds`` batch an entry that does not declare an
elementwise update (a third-party ``torch.optim`` class, a user file).

Batching S seeds is sound only if row r of the (S, d) parameter evolves exactly as the seed would
alone: an update that mixes rows (a norm over the whole tensor, a line search, shared noise)
would let one seed use the gradients charged to the others. Before any batched run, the harness
runs a few oracle calls of the entry on the run's own problem three ways, all sealed: the seeds
as one batch, the same seeds in another order, and each seed alone (a batch of one). The
trajectories it measures itself (f and ||grad f|| at every checkpoint, the final f) must agree
bit for bit; any difference refuses batching for the entry.

A passing check is evidence, not proof: an adversarial entry could behave for the first calls
only. Built-in entries prove their declaration in the test suite (tests/optimizers), and the
leaderboard's published records come from reviewed entries.
"""

from __future__ import annotations

import dataclasses

from bench.entries import EntryChoice, EntryError

CHECK_SEEDS = (0, 1, 2)
CHECK_CALLS = 200  # stochastic oracle calls per run of the check


def _signature(record) -> tuple:
    t = record.trajectory
    return (record.status, record.counts.get("cost"), record.final_f, tuple(t.get("f", ())),
            tuple(t.get("grad_norm", ())))


def check_rows_independent(choice: EntryChoice, problem: str, profile, *, sealed: bool = True,
                           instance_seed: int = 0) -> None:
    """Raise :class:`EntryError` unless ``choice`` run as a batch gives, row by row, what each
    seed gives alone on ``problem`` (see the module docstring)."""
    from bench.runner import RunTask, SeedBatch, execute_batch
    from problems import make_problem

    choice = dataclasses.replace(choice, batch_seeds=True)
    budget = CHECK_CALLS * make_problem(problem, instance_seed).batch_size

    def task(seed: int) -> RunTask:
        return RunTask(choice, problem, instance_seed, seed, seed, profile, suite="batch-check",
                       budget=budget, time_limit=60.0, sealed=sealed)

    alone = {s: execute_batch(SeedBatch((task(s),)))[0] for s in CHECK_SEEDS}
    failed = [r for r in alone.values() if r.status in ("error", "timeout", "harness_error")]
    if failed:
        raise EntryError(f"{choice.label}: the --batch-seeds check could not run the entry on "
                         f"{problem}: {failed[0].status}: {failed[0].message.splitlines()[0]}")
    for order in (CHECK_SEEDS, CHECK_SEEDS[::-1]):
        batch = execute_batch(SeedBatch(tuple(task(s) for s in order)))
        for seed, record in zip(order, batch):
            if _signature(record) != _signature(alone[seed]):
                raise EntryError(
                    f"{choice.label} cannot run seeds as a batch: in the --batch-seeds check on "
                    f"{problem}, seed {seed} in a batch of {len(order)} (order {list(order)}) did "
                    f"not follow its trajectory alone (its update mixes rows of the (S, d) "
                    f"parameter: a norm, a line search or noise over the whole tensor). Run it "
                    f"without --batch-seeds: each seed then runs alone.")
