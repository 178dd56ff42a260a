"""The sample stream does not depend on the profile (dtype, device).

The oracle's generator is a CPU generator seeded from the run seed, and every family's ``draw``
draws on CPU (integer indices, or float64 numbers) before casting to the problem's dtype and
device. So a float32 run sees the float64 run's draws rounded to float32, and two profiles'
trajectories differ only by rounding.
"""

from __future__ import annotations

import pytest
import torch

from bench.oracle import Oracle
from problems import families, make_problem
from problems.conformance import ConformanceError, check_draw, check_draw_profiles

SMALLEST = {name: f"{name}:{next(iter(cls.sizes))}" for name, cls in families().items()}
# options that change what ``draw`` returns (a different kind of sample)
DRAW_VARIANTS = ["tensor:small[oracle=ica]", "quad-saddle:small[n=50]", "quad-saddle:small[batch=3]",
                 "mlp-digits:small[batch=4]", "quad-saddle:small[rotate=true]"]


@pytest.mark.parametrize("problem_id", sorted(SMALLEST.values()) + DRAW_VARIANTS)
def test_float32_draws_are_the_float64_draws_rounded(problem_id):
    check_draw_profiles(problem_id)


def test_check_draw_profiles_catches_a_dtype_dependent_stream(monkeypatch):
    """The check itself goes red when a family draws in its own dtype (the bug it guards)."""
    from problems.quadratic import QuadSaddle

    def draw_in_dtype(self, generator, count):
        return torch.randn(count, self.dim, generator=generator, dtype=self.dtype)

    monkeypatch.setattr(QuadSaddle, "draw", draw_in_dtype)
    with pytest.raises(ConformanceError, match="draw in float64 on CPU"):
        check_draw_profiles("quad-saddle:small")


def test_draw_returns_samples_in_the_problem_dtype():
    p = make_problem("quad-saddle:small", dtype=torch.float32)
    assert check_draw(p).dtype == torch.float32
    assert make_problem("reddi2d:canonical").draw(torch.Generator().manual_seed(0), 4).dtype == torch.int64


def _sgd_trajectory(problem_id: str, dtype: torch.dtype, lr: float, steps: int = 50) -> torch.Tensor:
    """Plain torch.optim.SGD on the flat parameter, every gradient through bench.oracle.Oracle."""
    problem = make_problem(problem_id, 0, dtype=dtype)
    w = problem.initial_point(1).clone().requires_grad_(True)
    oracle = Oracle(problem, w, run_seed=3, budget=10**9)
    opt = torch.optim.SGD([w], lr=lr)
    out = []
    for _ in range(steps):
        opt.step(oracle.closure)
        out.append(w.detach().to(torch.float64).clone())
    return torch.stack(out)


@pytest.mark.parametrize("problem_id,lr", [("reddi2d:canonical", 0.05), ("quad-saddle:small", 0.05)])
def test_sgd_trajectories_agree_across_dtypes(problem_id, lr):
    w64 = _sgd_trajectory(problem_id, torch.float64, lr)
    w32 = _sgd_trajectory(problem_id, torch.float32, lr)
    scale = float(w64.abs().max())
    assert scale > 1e-2, "the trajectory must move for the comparison to mean anything"
    err = float((w64 - w32).abs().max())
    # float32 rounding over 50 steps: ~1e-7 relative; a different noise stream gives O(1)
    assert err <= 1e-5 * scale, (f"{problem_id}: float32 run left the float64 run by {err:.3e} "
                                 f"(scale {scale:.3g})")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("problem_id", ["quad-saddle:small", "tensor:small[oracle=ica]", "reddi2d:canonical"])
def test_cuda_draws_are_the_cpu_draws(problem_id):
    cpu = make_problem(problem_id, 0)
    cuda = make_problem(problem_id, 0, device="cuda")
    a = cpu.draw(torch.Generator().manual_seed(5), 16)
    b = cuda.draw(torch.Generator().manual_seed(5), 16)
    assert b.device.type == "cuda" and torch.equal(a, b.cpu())
