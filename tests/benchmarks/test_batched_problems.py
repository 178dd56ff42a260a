"""Batched rows vs single calls: ``sample_loss_grad_rows`` on S = 256 rows against 256 calls of
``sample_loss_grad``, at d = 2 (reddi2d:canonical, the 2-D quadratic saddle) and d = 100
(quad-saddle:medium), float64, one thread.

Run with timings:
    python -m pytest tests/benchmarks/test_batched_problems.py --benchmark-enable --benchmark-only
(under the default --benchmark-disable each benchmark runs once, as a test).
"""

import pytest
import torch

from problems import make_problem

SIZES = {"d=2": "reddi2d:canonical", "d=100": "quad-saddle:medium"}
S = 256


def _setup(pid):
    torch.set_num_threads(1)
    p = make_problem(pid)
    gen = torch.Generator().manual_seed(0)
    W = p.saddle.point + 0.1 * torch.randn(S, p.dim, generator=gen, dtype=p.dtype)
    samples = torch.stack([p.draw(torch.Generator().manual_seed(k), 1)[0] for k in range(S)])
    return p, W, samples


@pytest.mark.parametrize("size", SIZES)
def test_sample_loss_grad_rows(benchmark, size):
    p, W, samples = _setup(SIZES[size])
    benchmark.group = f"sample_loss_grad S={S} {size}"
    benchmark.extra_info["rows"] = S
    loss, g = benchmark(p.sample_loss_grad_rows, W, samples)
    assert loss.shape == (S,) and g.shape == (S, p.dim)
    want = p.sample_loss_grad(W[7], samples[7])
    torch.testing.assert_close(loss[7], want[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g[7], want[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("size", SIZES)
def test_sample_loss_grad_single_calls(benchmark, size):
    p, W, samples = _setup(SIZES[size])
    benchmark.group = f"sample_loss_grad S={S} {size}"
    benchmark.extra_info["rows"] = S

    def run():
        return [p.sample_loss_grad(w, s) for w, s in zip(W, samples)]

    out = benchmark(run)
    assert len(out) == S
