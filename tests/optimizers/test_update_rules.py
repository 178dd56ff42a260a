"""Hand-computed update rules on 2-D quadratics with deterministic (fake-closure) gradients."""

import math

import pytest
import torch

from tests.optimizers.conftest import FakeClosure
from optimizers.cnc_pgd import CNCPGD
from optimizers.cnc_sgd import CNCSGD
from optimizers.cubic_newton import CubicNewton
from optimizers.momentum_annealing import MomentumAnnealing, anneal_factor
from optimizers.neon import NEON
from optimizers.ngd import NGD
from optimizers.pgd import PGD
from optimizers.psgd import PSGD
from optimizers.sgld import SGLD
from optimizers.wang_momentum import WangMomentum

D = torch.float64
I2 = torch.eye(2, dtype=D)
SADDLE = torch.diag(torch.tensor([1.0, -0.1], dtype=D))


def vec(*x):
    return torch.tensor(x, dtype=D)


def test_psgd_sphere_noise_has_norm_sigma():
    w = vec(1.0, 1.0)
    opt = PSGD([w], lr=0.1, sigma_n=0.5)
    opt.step(FakeClosure(w, I2 * 0, vec(0.0, 0.0)))
    assert math.isclose(float(w.sub(vec(1.0, 1.0)).norm()), 0.1 * 0.5, rel_tol=1e-12)
    w2 = vec(1.0, 1.0)
    PSGD([w2], lr=0.1, sigma_n=0.0).step(FakeClosure(w2, I2, vec(0.0, 0.0)))
    assert torch.allclose(w2, vec(0.9, 0.9))


def test_sgld_matched_noise_std():
    torch.manual_seed(0)
    w = torch.zeros(20000, dtype=D)
    opt = SGLD([w], lr=0.01, sigma_ref=0.3)
    opt.step(_zero(w))
    assert abs(float(w.std()) - 0.01 * 0.3) < 0.02 * 0.003
    assert math.isclose(SGLD.noise_std(dict(lr=0.01, inv_temp=2.0, sigma_ref=0)), math.sqrt(0.01))


class _zero:
    def __init__(self, w):
        self.w = w

    def __call__(self):
        self.w.grad = torch.zeros_like(self.w)
        return torch.zeros(())


def test_ngd_normalized_step_without_noise():
    w = vec(3.0, 4.0)
    opt = NGD([w], lr=0.1, sigma_n=0.0)
    opt.step(FakeClosure(w, I2, vec(0.0, 0.0)))  # g = (3,4), |g| = 5
    assert torch.allclose(w, vec(3 - 0.06, 4 - 0.08))


def test_cnc_sgd_schedule():
    w = vec(1.0, 1.0)
    opt = CNCSGD([w], lr=0.1, r=0.5, t_thres=3)
    clo = FakeClosure(w, I2 * 0, vec(1.0, 0.0))  # constant gradient (1, 0)
    xs = []
    for _ in range(6):
        opt.step(clo)
        xs.append(float(w[0]))
    steps = [1.0 - xs[0]] + [xs[i - 1] - xs[i] for i in range(1, 6)]
    assert steps == pytest.approx([0.5, 0.1, 0.1, 0.5, 0.1, 0.1])


def test_wang_momentum_rule_and_effective_lr():
    w = vec(0.0, 0.0)
    opt = WangMomentum([w], lr=0.1, momentum=0.5, r=1.0, t_thres=2)
    clo = FakeClosure(w, I2 * 0, vec(1.0, 0.0))
    # m: 1, 1.5, 1.75 ; steps: r*1, eta*1.5, r*1.75
    expect, x = [], 0.0
    for m, s in [(1.0, 1.0), (1.5, 0.1), (1.75, 1.0)]:
        x -= s * m
        expect.append(x)
    got = []
    for _ in range(3):
        opt.step(clo)
        got.append(float(w[0]))
    assert got == pytest.approx(expect)
    assert opt.effective_lr() == pytest.approx(0.2)


def test_momentum_annealing_schedules_and_rule():
    assert anneal_factor(0, 100, "linear", 0.5, 0.75) == 1.0
    assert anneal_factor(60, 100, "linear", 0.5, 0.75) == pytest.approx(0.6)
    assert anneal_factor(60, 100, "step", 0.5, 0.75) == 0.0
    assert anneal_factor(62.5, 100, "cosine", 0.5, 0.75) == pytest.approx(0.5)
    w = vec(0.0, 0.0)
    opt = MomentumAnnealing([w], lr=0.1, momentum=0.5, schedule="step", total_steps=4,
                            t1_frac=0.5)
    clo = FakeClosure(w, I2 * 0, vec(1.0, 0.0))
    got = []
    for _ in range(4):
        opt.step(clo)
        got.append(float(w[0]))
    # mu = .5,.5,0,0 -> m = 1, 1.5, 1, 1
    assert got == pytest.approx([-0.1, -0.25, -0.35, -0.45])
    w2 = vec(0.0, 0.0)
    clo2 = FakeClosure(w2, I2 * 0, vec(1.0, 0.0), budget=40)
    opt2 = MomentumAnnealing([w2], lr=0.1, momentum=0.5)
    opt2.step(clo2)
    assert opt2.state[w2]["total_steps"] == 40


def test_pgd_practical_constants_perturbation_and_gd():
    w = vec(0.0, 0.0)
    opt = PGD([w], L=1.0, eps_g=5e-3, eps_h=1e-2)
    k = PGD.constants(opt.param_groups[0], 2)
    assert k["lr"] == 0.5 and k["r"] == 5e-3 and k["g_thres"] == 5e-3
    assert k["t_thres"] == math.ceil(math.log(1e3 * math.sqrt(2)) / (0.5 * 1e-2))
    clo = FakeClosure(w, SADDLE, vec(0.0, 0.0), n=10)
    torch.manual_seed(0)
    opt.step(clo)  # perturb x = xi (|xi| <= r), then x - 0.5 * H xi
    xi = opt.state[w]["x_tilde"]  # = 0
    assert torch.equal(xi, vec(0.0, 0.0))
    # w = (I - 0.5 H) xi  =>  xi = w / diag(0.5, 1.05)
    xi = w / vec(0.5, 1.05)
    assert 0 < float(xi.norm()) <= 5e-3
    before = w.clone()
    opt.step(clo)  # plain GD now (t - t_noise <= t_thres)
    assert torch.allclose(w, before - 0.5 * (SADDLE @ before))


def test_pgd_theory_constants():
    g = dict(mode="theory", L=1.0, eps_g=1e-2, eps=None, c=0.5, rho=1.0, delta=0.1, delta_f=1.0,
             lr=None, r=None, g_thres=None, t_thres=None, f_thres=None, terminate=None, eps_h=1e-2)
    k = PGD.constants(g, 2)
    chi = 3 * max(math.log(2 * 1.0 / (0.5 * 1e-4 * 0.1)), 4)
    assert k["lr"] == 0.5 and k["r"] == pytest.approx(math.sqrt(0.5) / chi ** 2 * 1e-2)
    assert k["t_thres"] == math.ceil(chi / 0.25 / math.sqrt(1e-2)) and k["terminate"] is True


def test_cnc_pgd_single_stochastic_step_then_gd():
    w = vec(0.0, 0.0)
    noise = [vec(0.2, 0.1)]
    opt = CNCPGD([w], lr=0.5, r=2.0, g_thres=1e-3, t_thres=10)
    clo = FakeClosure(w, SADDLE, vec(0.0, 0.0), n=10, noise=noise)
    opt.step(clo)  # full grad 0 -> w = -r * (0 + noise)
    assert torch.allclose(w, vec(-0.4, -0.2))
    opt.step(clo)  # GD with full gradient
    assert torch.allclose(w, vec(-0.4 + 0.2, -0.2 - 0.5 * 0.02))


def test_cubic_newton_eigen_step_at_saddle():
    w = vec(0.0, 0.0)
    opt = CubicNewton([w], M0=1.0, eps_g=1e-3, eps_h=1e-2)
    clo = FakeClosure(w, SADDLE, vec(0.0, 0.0), n=10)
    torch.manual_seed(0)
    opt.step(clo)
    # s = +-2|lambda|/M v_min = +-0.2 e2; f decreases by 0.002 > 0.1 * model decrease -> accepted
    assert abs(float(w[1])) == pytest.approx(0.2) and abs(float(w[0])) < 1e-12
    assert opt.state[w]["M"] == 0.5


def test_neon_extracts_negative_curvature():
    w = vec(0.0, 0.0)
    opt = NEON([w], lr=1e-3, K=1, rho=1.0, nc_iters=30, nc_batch=1, eps_h=1e-2)
    clo = FakeClosure(w, SADDLE, vec(0.0, 0.0), n=10)
    torch.manual_seed(0)
    opt.step(clo)  # SGD step at 0 does nothing; extraction finds v = +-e2, lam = -0.1
    assert opt.state[w]["nc_steps"] == 1
    assert abs(float(w[1])) == pytest.approx(0.1, rel=1e-6) and abs(float(w[0])) < 1e-6
