"""Seed batches through the whole harness: seed-steps/s of S seeds as one (S, d) batch.

Run with timings:  python -m pytest tests/benchmarks/test_batched_runs.py --benchmark-enable
(under the default --benchmark-disable each case runs once, as a test, at a smaller size).

One round is ``bench.runner.execute_batch`` of sgd (a step size so small that no row certifies,
so every row runs the whole budget) on S seeds, sealed: worker start-up, every oracle call
through the channel, every checkpoint's certificate, the records. seed-steps/s = S x steps /
wall seconds, in ``extra_info``. Goal (issue "The batched engine"): >= 100x the S = 1 rate at
d = 2 with S = 256.
"""

import pytest

from bench.entries import resolve_entry
from bench.profiles import get_profile
from bench.runner import RunTask, SeedBatch, execute_batch

SIZES = {"d=2": "reddi2d:canonical", "d=10": "quad-saddle:small", "d=100": "quad-saddle:medium",
         "d=1e3": "quad-saddle:large"}
STEPS = {"d=2": 4000, "d=10": 4000, "d=100": 1000, "d=1e3": 100}  # oracle calls per row


def _batch(pid: str, seeds: int, steps: int) -> SeedBatch:
    choice = resolve_entry("sgd[lr=1e-7]")[0]
    cpu = get_profile("cpu")
    return SeedBatch(tuple(RunTask(choice, pid, 0, s, s, cpu, budget=steps, time_limit=600)
                           for s in range(seeds)))


@pytest.mark.parametrize("seeds", [1, 64, 256])
@pytest.mark.parametrize("size", SIZES)
def test_seed_steps_per_second(benchmark, size, seeds):
    steps = STEPS[size] if benchmark.enabled else max(20, STEPS[size] // 20)
    batch = _batch(SIZES[size], seeds, steps)
    benchmark.group = f"seed batch {size}"
    records = benchmark.pedantic(execute_batch, args=(batch,), rounds=1, iterations=1)
    assert len(records) == seeds
    assert all(r.status == "budget_exhausted" and r.counts["cost"] == steps for r in records)
    assert all(r.batch_size == seeds and r.sealed for r in records)
    wall = records[0].wall_seconds
    share = sum(r.certificate["seconds"] for r in records) / wall
    benchmark.extra_info.update(seed_steps_per_s=seeds * steps / wall, wall_seconds=wall,
                                optimizer_seconds=records[0].optimizer_seconds,
                                certificate_share=share, seeds=seeds, steps=steps)
