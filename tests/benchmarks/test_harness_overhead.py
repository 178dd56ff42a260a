"""Harness overhead: one counted step through the oracle vs the same optimizer in a bare loop.

Run with timings:  python -m pytest tests/benchmarks --benchmark-enable --benchmark-only
(under the default --benchmark-disable each benchmark runs once, as a test).

Three loops on the same problem, each drawing its samples inside the timed region, SGD + heavy ball (lr, 0.9):
* ``harness``: torch.optim.SGD driven through the counted Oracle's closure (what `bench run` does);
* ``torch_loop``: the same torch.optim.SGD with a bare closure calling the problem directly;
* ``inplace_loop``: a hand-written in-place update, no torch.optim at all.
"""

import pytest
import torch

from bench.oracle import Oracle
from problems import make_problem

SIZES = {"d=2": "reddi2d:canonical", "d=1e3": "quad-saddle:large", "d=1e5": "quad-saddle:xxl"}
STEPS = 200
LR, BETA = 1e-4, 0.9


def _setup(pid):
    torch.set_num_threads(1)
    p = make_problem(pid, dtype=torch.float32)
    w = p.initial_point(0).clone()
    return p, w


def _harness(pid):
    p, w = _setup(pid)
    opt = torch.optim.SGD([w], lr=LR, momentum=BETA)
    oracle = Oracle(p, w, run_seed=0, budget=10**12)
    closure = oracle.closure

    def run():
        for _ in range(STEPS):
            opt.step(closure)
    return run, oracle


def _torch_loop(pid):
    p, w = _setup(pid)
    opt = torch.optim.SGD([w], lr=LR, momentum=BETA)
    gen = torch.Generator().manual_seed(0)
    it = iter(())

    def closure():
        loss, g = p.sample_loss_grad(w, next(it))
        w.grad = g
        return loss

    def run():
        nonlocal it
        it = iter(p.draw(gen, STEPS))  # sampling is timed too, as in the harness
        for _ in range(STEPS):
            opt.step(closure)
    return run


def _inplace_loop(pid):
    p, w = _setup(pid)
    gen = torch.Generator().manual_seed(0)
    buf = torch.zeros_like(w)

    def run():
        for s in p.draw(gen, STEPS):
            _, g = p.sample_loss_grad(w, s)
            buf.mul_(BETA).add_(g)
            w.add_(buf, alpha=-LR)
    return run


@pytest.mark.parametrize("size", SIZES)
def test_harness_step(benchmark, size):
    run, oracle = _harness(SIZES[size])
    benchmark.group = f"step {size}"
    benchmark.extra_info["steps_per_round"] = STEPS
    benchmark(run)
    assert oracle.counts.grad_calls >= STEPS


@pytest.mark.parametrize("size", SIZES)
def test_torch_loop_step(benchmark, size):
    benchmark.group = f"step {size}"
    benchmark.extra_info["steps_per_round"] = STEPS
    benchmark(_torch_loop(SIZES[size]))


@pytest.mark.parametrize("size", SIZES)
def test_inplace_loop_step(benchmark, size):
    benchmark.group = f"step {size}"
    benchmark.extra_info["steps_per_round"] = STEPS
    benchmark(_inplace_loop(SIZES[size]))
