"""phase-retrieval's designated saddle: a strict saddle of the empirical objective, polished to
||grad f|| < 1e-10, whose curvature the certificate's eps_h cannot pass (every size)."""

import numpy as np
import pytest
import torch

from problems import make_problem
from problems.phase_retrieval import NEWTON_ONLY_MAX_DIM


@pytest.mark.parametrize("pid", ["phase-retrieval:small", "phase-retrieval:medium",
                                 "phase-retrieval:large"])
def test_saddle_is_a_polished_strict_saddle(pid):
    p = make_problem(pid)
    w = p.saddle.point
    assert float(torch.linalg.vector_norm(p.grad(w))) < 1e-10
    evals = np.linalg.eigvalsh(p.hessian(w).numpy())
    assert evals[0] == pytest.approx(p.saddle.lambda_min, rel=1e-9)
    assert evals[0] < -2 * p.eps_h * 0.999  # eps_h <= |lambda_min| / 2: the saddle never passes
    assert p.eps_h == min(0.8 * p.wstar_norm2, 0.5 * abs(p.saddle.lambda_min))
    assert p.saddle.value > 1.0 > p.f_star  # far above the minimum value 0
    alignment = abs(float(w @ p.w_star)) / float(torch.linalg.vector_norm(w))
    assert alignment < 0.2  # reached from the sphere orthogonal to w*, not the minimum


def test_large_uses_the_two_stage_polish():
    assert make_problem("phase-retrieval:large").dim > NEWTON_ONLY_MAX_DIM >= \
        make_problem("phase-retrieval:medium").dim
