import numpy as np
import pytest
import scipy.sparse.linalg as spla
import torch

from bench.certificate import Certifier, kw_iterations, lanczos_min
from problems import make_problem

QUAD_SIZES = ["reddi2d:canonical", "reddi2d:paper", "quad-saddle:small", "quad-saddle:medium",
              "quad-saddle:large", "quad-saddle:small[rotate=true]", "quad-saddle:medium[rotate=true,spectrum=logspaced]"]


def _points(p):
    gen = torch.Generator().manual_seed(0)
    away = p.saddle.point + 0.3 * torch.randn(p.dim, generator=gen, dtype=torch.float64)
    minimum = p.saddle.point.clone()
    if p.family == "quad-saddle":
        u = torch.zeros(p.dim, dtype=torch.float64)
        u[p.dim - p.k:] = p.u_star
        minimum = u if p.Q is None else p.Q @ u
    return {"saddle": p.saddle.point, "away": away, "minimum": minimum}


@pytest.mark.parametrize("pid", QUAD_SIZES)
def test_dense_and_lanczos_agree_with_eigvalsh(pid):
    p = make_problem(pid)
    dense = Certifier(p, dense_max_dim=10**9)
    lanczos = Certifier(p, dense_max_dim=0)
    for where, w in _points(p).items():
        exact = float(torch.linalg.eigvalsh(p.hessian(w))[0])
        lam_d, _, _ = dense.lambda_min(w)
        lam_l, hvps, residual = lanczos.lambda_min(w)
        assert lam_d == pytest.approx(exact, abs=1e-10), where
        if exact < -p.eps_h:
            # the negative-curvature certificate is one-sided: a Ritz value below -eps_h
            assert lam_l < -p.eps_h and lam_l >= exact - 1e-9, where
        else:
            assert lam_l == pytest.approx(exact, abs=0.1 * p.eps_h), where


def test_saddle_lambda_min_matches_closed_form():
    for pid in QUAD_SIZES:
        p = make_problem(pid)
        lam, _, _ = Certifier(p).lambda_min(p.saddle.point)
        assert lam == pytest.approx(p.saddle.lambda_min, abs=1e-9)


def test_lanczos_agrees_with_scipy_eigsh_on_a_dense_spectrum():
    rng = np.random.default_rng(0)
    d = 600
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    evals = np.concatenate([[-0.05], np.linspace(0.0, 2.0, d - 1)])
    h = (q * evals) @ q.T
    ht = torch.as_tensor(h)
    res = lanczos_min(lambda v: ht @ v, torch.as_tensor(rng.standard_normal(d)), eps_h=0.01)
    ref = spla.eigsh(spla.aslinearoperator(h), k=1, which="SA", tol=1e-8)[0][0]
    assert res.reason == "negative"
    assert res.theta >= ref - 1e-9 and res.theta < -0.01
    # without negative curvature the iteration runs to the K-W count and converges
    h2 = (q * np.abs(evals)) @ q.T
    h2t = torch.as_tensor(h2)
    res2 = lanczos_min(lambda v: h2t @ v, torch.as_tensor(rng.standard_normal(d)), eps_h=0.01)
    ref2 = np.linalg.eigvalsh(h2)[0]  # 0.0 exactly; ARPACK's relative tol stops at 0.0033 here
    assert res2.reason in ("converged", "max_iter")
    assert res2.iterations >= min(300, kw_iterations(d, 0.01, 2.0, 1e-3))
    assert res2.theta == pytest.approx(ref2, abs=1e-3)


def test_kw_count_matches_the_worked_example():
    # k >= 1/2 + ln(1.648 sqrt(d)/delta) / (2 sqrt(eps_h/(2L))) (Kuczynski-Wozniakowski 1992 applied
    # to L I - H) at L=1, eps_h=0.01, d=1000, delta=0.01 is k >= 61.02, so 62
    assert kw_iterations(1000, 0.01, 1.0, 0.01) == 62


def test_gate_skips_the_eigen_solve():
    p = make_problem("quad-saddle:medium")
    c = Certifier(p)
    far = torch.full((p.dim,), 0.5, dtype=torch.float64)
    cert = c.check(far)
    assert not cert.certified and cert.lambda_min is None and cert.method == "gate"
    assert c.check(p.saddle.point).lambda_min == pytest.approx(-0.1)
    assert not c.check(p.saddle.point).certified


def test_minimum_is_certified():
    p = make_problem("reddi2d:canonical")
    w = torch.tensor([0.0, 10 ** -0.25], dtype=torch.float64)
    cert = Certifier(p).check(w)
    assert cert.certified and cert.lambda_min == pytest.approx(0.8)
