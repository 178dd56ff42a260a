"""A certificate means something: it cannot pass at or near the designated saddle, nor near a
degenerate critical point (the sublevel bound ``certificate_level``), and it passes at the
declared minimizers (GitHub issue #11, item 5)."""

from __future__ import annotations

import math

import pytest
import torch

from bench.certificate import Certifier
from bench.monitor import Monitor, observe_rows
from problems import families, make_problem


def _small_ids():
    return [f"{name}:{next(iter(cls.sizes))}" for name, cls in families().items()]


@pytest.mark.parametrize("problem_id", _small_ids())
def test_saddle_not_certified_minimizer_certified(problem_id):
    p = make_problem(problem_id)
    cert = Certifier(p).check(p.saddle.point, always_eigen=True)
    assert not cert.certified, (problem_id, cert)
    minimizer = getattr(p, "minimizer", None)
    if minimizer is not None:
        cert = Certifier(p).check(minimizer, always_eigen=True)
        assert cert.certified, (problem_id, cert)


def _unit(dim, seed):
    z = torch.randn(dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return z / z.norm()


@pytest.mark.parametrize("problem_id", ["tensor:small", "tensor:medium", "tensor:small[oracle=ica]"])
def test_tensor_degenerate_origin_is_not_certified(problem_id):
    p = make_problem(problem_id)
    assert p.certificate_level == p.saddle.value == -0.25
    c = Certifier(p)
    for seed in range(3):
        x = 1e-3 * _unit(p.dim, seed)
        cert = c.check(x, always_eigen=True)
        # every local test passes at x ~ 0 (gradient ~1e-20, Hessian ~1e-5) ...
        assert cert.grad_norm <= p.eps_g and cert.lambda_min >= -p.eps_h
        # ... but f ~ 0 lies above the level f_s = -1/4
        assert not cert.certified and cert.reason == "level"
        assert cert.f == pytest.approx(float(p.loss(x))) and cert.level == -0.25
    for i in range(p.dim):
        for sign in (1.0, -1.0):
            assert c.check(sign * p.A[:, i]).certified


def test_tensor_thresholds_follow_the_rule():
    for pid in ("tensor:small", "tensor:medium"):
        p = make_problem(pid)
        assert p.eps_g == pytest.approx(math.sqrt(2 * 8 * 0.01 * 0.75))  # 0.346
        assert p.eps_h <= 0.1 * abs(p.saddle.lambda_min)


def test_tensor_level_in_records_and_monitor_batch():
    p = make_problem("tensor:small")
    c = Certifier(p)
    assert c.describe()["level"] == -0.25
    monitors = [Monitor(p, Certifier(p)) for _ in range(2)]
    W = torch.stack([1e-3 * _unit(p.dim, 0), p.A[:, 1]])

    class Counts:
        cost = 10_000
        grad_calls = 10_000
        hvp_calls = 0

    events = observe_rows(monitors, W, [0, 1], Counts(), 0.0)
    assert events == {1: "certified"}
    assert monitors[0].last_cert.reason == "level" and not monitors[0].last_cert.certified


def test_deep_linear_gradient_gate_is_tight_near_the_saddle():
    p = make_problem("deep-linear:small")
    assert p.eps_g == pytest.approx(0.4) and p.eps_h == pytest.approx(0.2)
    w_s = p.saddle.point
    c = Certifier(p)
    # points near the saddle whose gradient norm lies between the new eps_g and the old one
    # (4.65): the old gate passed them, the new one does not
    for seed in range(3):
        v = _unit(p.dim, seed)
        t = 0.05
        while float(p.grad(w_s + t * v).norm()) <= 2 * p.eps_g:
            t *= 1.5
        w = w_s + t * v
        cert = c.check(w, always_eigen=True)
        assert p.eps_g < cert.grad_norm < 4.65
        assert not cert.certified and cert.reason == "gate"
        assert float(p.loss(w)) <= p.certificate_level + 1.0


def test_deep_linear_degenerate_zero_is_below_no_level():
    # depth 3: W = 0 has a zero Hessian, so every local test passes near it; f(0) is above the
    # level (the wrong-subspace saddle's value), so it is not certified
    p = make_problem("deep-linear:medium[saddle=zero]")
    assert p.saddle.lambda_min == 0.0
    w = 1e-3 * _unit(p.dim, 0)
    cert = Certifier(p).check(w, always_eigen=True)
    assert cert.grad_norm <= p.eps_g and cert.lambda_min >= -p.eps_h
    assert not cert.certified and cert.reason == "level"
    assert make_problem("deep-linear:medium").certificate_level == p.certificate_level
    assert Certifier(p).check(p.minimizer).certified


def test_mlp_saturated_critical_manifold_is_not_certified():
    # W1 = 0, W2 = 0, b2 = log(pi), b1 = 3: gradient exactly 0 and lambda_min ~ -0.002 (tanh
    # saturated), f = f_s: a degenerate critical point that the level f <= 2.0 excludes
    p = make_problem("mlp-digits:small")
    w = p.saddle.point.clone()
    W1, b1, W2, b2 = p._split(w)
    b1[:] = 3.0
    cert = Certifier(p).check(w, always_eigen=True)
    assert cert.grad_norm <= p.eps_g and cert.lambda_min >= -p.eps_h
    assert not cert.certified and cert.reason == "level"


def test_mlp_closed_form_hessian_matches_autodiff():
    p = make_problem("mlp-digits:small")
    w = p.initial_point(0) + 0.3 * _unit(p.dim, 4) * math.sqrt(p.dim) / 10
    H = p.hessian(w)
    H_ad = torch.func.jacfwd(p.grad)(w)
    assert float((H - H_ad).abs().max()) <= 1e-12 * float(H_ad.abs().max())


def test_control_flag():
    assert families()["halfspace-blobs"].control
    assert make_problem("halfspace-blobs:small").describe()["control"] is True
    assert not any(cls.control for name, cls in families().items() if name != "halfspace-blobs")
