"""Sealed vs in-process: steps/s of the same entry on the same problem, one seed.

Run with timings:  python -m pytest tests/benchmarks/test_sealed_overhead.py --benchmark-enable
(under the default --benchmark-disable each benchmark runs once, as a test).

A round is ``STEPS`` steps of sgd-momentum between two checkpoints, driven by the runner's two
drivers (bench.drivers): ``SealedEntry`` (the entry in a sealed worker, one round trip per
oracle call, the iterate copied back at the checkpoint) and ``InProcessEntry`` (the entry in
this process, the debugging mode). Start-up (fork, optimizer construction) is outside the
timed region. Goals (issue "Sealed runs"): sealed >= 0.5x in-process at d = 2, >= 0.9x at
d >= 1e3.
"""

import time

import pytest
import torch

from bench.drivers import InProcessEntry, RunSetup, SealedEntry
from bench.entries import resolve_entry
from bench.oracle import Oracle
from bench.sandbox import sandbox
from problems import make_problem

SIZES = {"d=2": "reddi2d:canonical", "d=10": "quad-saddle:small", "d=1e3": "quad-saddle:large",
         "d=1e5": "quad-saddle:xxl"}
STEPS = 200


def _driver(pid: str, sealed: bool):
    from bench.sandbox import tune_malloc

    tune_malloc()  # as runner.execute does in every harness process
    torch.set_num_threads(1)
    choice = resolve_entry("sgd-momentum[lr=1e-4]")[0]
    problem = make_problem(pid)
    w0 = problem.initial_point(0).clone()
    setup = RunSetup(dict(choice.entry.ref), dict(choice.overrides), problem.family, w0, 0)
    oracles = [Oracle(problem, w0.clone(), 0, 10**12)]
    if sealed:
        driver = SealedEntry(setup, oracles[0], sandbox())
    else:
        def factory(w):
            oracles[0] = Oracle(problem, w, 0, 10**12)
            return oracles[0]
        driver = InProcessEntry(setup, factory, stall_steps=10_000)
    driver.start()

    def run():
        counts = oracles[0].counts
        snap = driver.advance(counts.cost + STEPS, time.perf_counter() + 600)
        assert snap.w.numel() == problem.dim
    return driver, run, oracles


@pytest.mark.parametrize("mode", ["sealed", "in-process"])
@pytest.mark.parametrize("size", SIZES)
def test_steps(benchmark, size, mode):
    driver, run, oracles = _driver(SIZES[size], mode == "sealed")
    benchmark.group = f"sealed vs in-process {size}"
    benchmark.extra_info["steps_per_round"] = STEPS
    try:
        benchmark(run)
    finally:
        driver.close()
    assert oracles[0].counts.grad_calls >= STEPS
