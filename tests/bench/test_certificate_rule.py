"""The certificate's decision rule (bench.certificate module docstring): threshold exactly -eps_h
on both routes, three outcomes, a norm bound that is an upper bound, the per-run union bound."""

import math

import numpy as np
import pytest
import torch

from bench.certificate import (OUTCOMES, Certificate, Certifier, _norm_bound, kw_error,
                               lanczos_min, test_steps)


class SpectrumProblem:
    """A stand-in problem with a known Hessian spectrum at every point and zero gradient."""

    def __init__(self, evals, eps_h, *, rotate_seed=None, smoothness=None):
        self.evals = torch.as_tensor(np.asarray(evals, dtype=np.float64))
        self.dim = len(evals)
        self.eps_g, self.eps_h = 1e-3, eps_h
        self.device, self.dtype = torch.device("cpu"), torch.float64
        self.smoothness = smoothness
        self.Q = None
        if rotate_seed is not None:
            q, _ = np.linalg.qr(np.random.default_rng(rotate_seed).standard_normal((self.dim, self.dim)))
            self.Q = torch.as_tensor(q)
        self.grad_value = torch.zeros(self.dim, dtype=torch.float64)

    def grad(self, w):
        return self.grad_value

    def hvp(self, w, v):
        if self.Q is None:
            return self.evals * v
        return self.Q @ (self.evals * (self.Q.T @ v))

    def hessian(self, w):
        if self.Q is None:
            return torch.diag(self.evals)
        return (self.Q * self.evals) @ self.Q.T


def _spectrum(d, lam_min, rest_lo=0.3, rest_hi=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([[lam_min], rng.uniform(rest_lo, rest_hi, d - 1)])


EPS_H = 0.01


@pytest.mark.parametrize("ratio, expected", [(0.9, "certified"), (1.1, "not_certified")])
def test_boundary_dense(ratio, expected):
    p = SpectrumProblem(_spectrum(60, -ratio * EPS_H), EPS_H, rotate_seed=1)
    c = Certifier(p)
    assert c.method == "dense"
    cert = c.check(torch.zeros(p.dim, dtype=torch.float64))
    assert cert.outcome == expected and cert.certified == (expected == "certified")
    assert cert.reason == "dense" and cert.lambda_min == pytest.approx(-ratio * EPS_H, abs=1e-12)
    assert c.failure_probability == 0.0  # exact route


@pytest.mark.parametrize("ratio, expected, reasons", [
    (0.9, "certified", ("converged",)),
    (1.1, "not_certified", ("negative",)),
])
def test_boundary_lanczos_rule(ratio, expected, reasons):
    # d = 1000, ||H|| = 1, many distinct eigenvalues: the K-W rule (not exhaustion) must decide
    p = SpectrumProblem(_spectrum(1000, -ratio * EPS_H), EPS_H)
    c = Certifier(p, dense_max_dim=0, max_iter=600)
    assert c.method == "lanczos"
    cert = c.check(torch.zeros(p.dim, dtype=torch.float64))
    assert cert.outcome == expected and cert.reason in reasons, (cert.outcome, cert.reason, cert.hvps)
    assert cert.lambda_min >= -ratio * EPS_H - 1e-12  # theta_1 >= lambda_min (interlacing)
    assert cert.hvps < 600
    if expected == "certified":
        # the proven bracket contains lambda_min and its lower end clears -eps_h
        assert -EPS_H <= cert.lambda_lower <= -ratio * EPS_H <= cert.lambda_min + 1e-12
        assert cert.norm_source == "krylov" and cert.norm_bound >= 1.0
        assert cert.delta == c.delta > 0


@pytest.mark.parametrize("ratio, expected", [(0.9, "certified"), (1.1, "not_certified")])
def test_boundary_lanczos_few_eigenvalues(ratio, expected):
    # three distinct eigenvalues: the Krylov space becomes invariant, theta_1 is exact
    evals = np.concatenate([[-ratio * EPS_H], np.full(499, 0.5), np.full(500, 1.0)])
    p = SpectrumProblem(evals, EPS_H, rotate_seed=2)
    cert = Certifier(p, dense_max_dim=0).check(torch.zeros(p.dim, dtype=torch.float64))
    assert cert.outcome == expected
    assert cert.reason == ("invariant" if expected == "certified" else "negative")


def test_boundary_lanczos_too_small_max_iter_is_undetermined():
    # lambda_min = -0.9 eps_h is true, but 300 steps cannot prove it at ||H|| = 1: never success
    p = SpectrumProblem(_spectrum(1000, -0.9 * EPS_H), EPS_H)
    cert = Certifier(p, dense_max_dim=0, max_iter=300).check(torch.zeros(p.dim, dtype=torch.float64))
    assert cert.outcome == "undetermined" and cert.reason == "max_iter" and not cert.certified


def test_issue_max_iter_case_is_not_certified():
    # issue 9: d = 3000, ||H|| ~ 100, eps_h = 0.01, lambda_min = -0.02; old code stopped at a Ritz
    # value around -0.0073 at max_iter and certified
    d, eps_h = 3000, 0.01
    rng = np.random.default_rng(3)
    evals = np.concatenate([[-0.02], rng.uniform(0.0, 100.0, d - 1)])
    p = SpectrumProblem(evals, eps_h)
    for max_iter in (30, 100, 300):
        c = Certifier(p, dense_max_dim=0, max_iter=max_iter, seed=max_iter)
        cert = c.check(torch.zeros(d, dtype=torch.float64))
        assert cert.outcome in ("undetermined", "not_certified") and not cert.certified, \
            (max_iter, cert.outcome, cert.reason, cert.lambda_min)
        if cert.outcome == "undetermined":
            assert cert.reason == "max_iter" and cert.lambda_min >= -eps_h and cert.hvps == max_iter


def test_the_rule_uses_eps_h_not_two_eps_h():
    # A direct check of the inequality: at the step where the rule certifies, the K-W error times
    # (L_hat + eps_h) is within the slack theta_1 + eps_h, so lambda_min >= -eps_h (not -2 eps_h).
    p = SpectrumProblem(_spectrum(800, -0.5 * EPS_H, seed=4), EPS_H)
    gen = torch.Generator().manual_seed(0)
    v0 = torch.randn(p.dim, generator=gen, dtype=torch.float64)
    delta = 1e-6
    res = lanczos_min(lambda v: p.hvp(None, v), v0, EPS_H, max_iter=800, delta=delta)
    assert res.reason == "converged"
    dt = delta / (2 * len(test_steps(800)))
    eps = kw_error(p.dim, res.iterations, dt)
    assert eps * (res.norm_bound + EPS_H) <= res.theta + EPS_H
    assert res.iterations in test_steps(800)
    assert res.lambda_lower >= -EPS_H and res.lambda_lower <= -0.5 * EPS_H <= res.theta + 1e-12


def test_norm_bound_is_an_upper_bound():
    # a dense spectrum up to 100 whose top is far from converged after few steps; the Krylov
    # bound (sigma_max of T~_k with the K-W margin) must still be >= ||H|| at every grid step
    rng = np.random.default_rng(5)
    d = 2000
    evals = np.concatenate([[-0.5], rng.uniform(-0.5, 100.0, d - 1)])
    norm = float(np.abs(evals).max())
    p = SpectrumProblem(evals, 0.01)
    for seed in range(3):
        gen = torch.Generator().manual_seed(seed)
        q = torch.randn(d, generator=gen, dtype=torch.float64)
        q = q / q.norm()
        alphas, betas, Q = [], [], [q]
        steps = set(test_steps(300))
        dt = 1e-6 / (2 * len(steps))
        checked = 0
        for k in range(1, 301):
            z = p.hvp(None, Q[-1])
            alphas.append(float(Q[-1] @ z))
            B = torch.stack(Q)
            for _ in range(2):
                z = z - B.T @ (B @ z)
            beta = float(z.norm())
            if k in steps:
                bound, source = _norm_bound(np.asarray(alphas), np.asarray(betas), beta, d, dt, None)
                if math.isfinite(bound):
                    assert source == "krylov" and bound >= norm, (k, bound, norm)
                    checked += 1
            betas.append(beta)
            Q.append(z / beta)
        assert checked >= 10
    # a declared bound is used only when trusted, and only when it is smaller
    assert _norm_bound(np.array([1.0, 2.0]), np.array([0.5]), 0.1, 10, 1e-6, 3.0) == (3.0, "declared")


def test_declared_smoothness_only_when_trusted():
    p = SpectrumProblem(_spectrum(1000, 0.5), EPS_H, smoothness=1.0)
    w = torch.zeros(p.dim, dtype=torch.float64)
    default = Certifier(p, dense_max_dim=0).check(w)
    trusted = Certifier(p, dense_max_dim=0, trust_declared_smoothness=True).check(w)
    assert default.certified and trusted.certified
    assert default.norm_source == "krylov" and trusted.norm_source == "declared"
    assert trusted.hvps < default.hvps  # the declared bound is usable before the Krylov one
    assert Certifier(p, dense_max_dim=0).describe()["norm_bound"] == "krylov"


def test_outcomes_and_certified_flag_agree():
    assert OUTCOMES == ("certified", "not_certified", "undetermined")
    with pytest.raises(ValueError):
        Certificate(0.0, -0.001, True, "lanczos", outcome="undetermined", reason="max_iter")
    old_style = Certificate(1.0, None, False, "gate")
    assert old_style.outcome == "not_certified" and old_style.reason == "gate"


def test_gate_failure_is_not_certified_even_with_eigen():
    p = SpectrumProblem(_spectrum(50, 0.5), EPS_H)
    p.grad_value = torch.full((p.dim,), 1.0, dtype=torch.float64)
    c = Certifier(p, dense_max_dim=0)
    cert = c.check(torch.zeros(p.dim, dtype=torch.float64), always_eigen=True)
    assert cert.outcome == "not_certified" and cert.reason == "gate" and cert.lambda_min is not None
    assert c.failure_probability == 0.0  # a gate failure cannot certify: no probability spent
    cert = c.check(torch.zeros(p.dim, dtype=torch.float64))
    assert cert.method == "gate" and cert.lambda_min is None and cert.hvps == 0


def test_failure_probability_is_the_union_over_gated_lanczos_checks():
    p = SpectrumProblem(_spectrum(500, -0.5), EPS_H, rotate_seed=6)
    c = Certifier(p, dense_max_dim=0, delta_run=1e-3, max_checks=200)
    assert c.delta == pytest.approx(5e-6)
    w = torch.zeros(p.dim, dtype=torch.float64)
    for _ in range(7):
        assert c.check(w).reason == "negative"
    assert c.probabilistic_checks == 7
    assert c.failure_probability == pytest.approx(7 * 5e-6)
    desc = c.describe()
    assert desc["delta_check"] == pytest.approx(5e-6) and desc["threshold"] == -EPS_H
    assert desc["delta_run"] == 1e-3 and desc["max_checks"] == 200 and "eps_h" in desc["rule"]
    # the warm probe after a negative check is cheap and still proves negativity
    assert c.check(w).hvps <= c.warm_probe
    # the default rule keeps a run's union below delta_run for runs of up to max_checks checks
    default = Certifier(p, dense_max_dim=0)
    assert default.delta * default.max_checks == pytest.approx(default.delta_run)
    checkpoints, cost = 0, 0
    while cost < 10**9:  # the runner's schedule: c' = max(c + 1, ceil(1.02 c))
        cost = max(cost + 1, math.ceil(cost * 1.02))
        checkpoints += 1
    assert checkpoints + 1 <= default.max_checks


def test_kw_error_matches_the_worked_count():
    # Kuczynski-Wozniakowski 1992 at d = 1000, delta = 0.01, relative accuracy 0.01/2 -> k = 62
    assert kw_error(1000, 62, 0.01) <= 0.005 < kw_error(1000, 61, 0.01)


@pytest.mark.parametrize("ratio", [1.1, 1.5])
def test_slowly_converging_negative_curvature_is_never_certified(ratio):
    # lambda_min < -eps_h hidden under a cluster just above -eps_h and ||H|| = 100: theta_1 stays
    # above -eps_h for hundreds of steps; a rule weaker than "-eps_h exactly" certifies here
    rng = np.random.default_rng(7)
    d = 2000
    evals = np.concatenate([[-ratio * EPS_H], rng.uniform(-0.9 * EPS_H, 0.0, 200),
                            rng.uniform(0.0, 100.0, d - 201)])
    p = SpectrumProblem(evals, EPS_H)
    for max_iter in (50, 150, 400):
        cert = Certifier(p, dense_max_dim=0, max_iter=max_iter, seed=max_iter).check(
            torch.zeros(d, dtype=torch.float64))
        assert not cert.certified and cert.outcome in ("undetermined", "not_certified"), \
            (max_iter, cert.reason, cert.lambda_min)
