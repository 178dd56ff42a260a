import torch

from bench.oracle import Oracle
from tests.optimizers.conftest import FakeClosure
from optimizers.spa import SPA, spa_to_polyak
from problems import make_problem


def test_spa_equals_torch_sgd_momentum_on_real_oracle():
    alpha, beta, steps = 5e-3, 0.9, 1500
    problem = make_problem("reddi2d:canonical", 0)
    traj = []
    for kind in ("torch", "spa"):
        w = problem.initial_point(0).clone()
        opt = torch.optim.SGD([w], lr=alpha, momentum=beta) if kind == "torch" else \
            SPA([w], **SPA.from_pytorch(alpha, beta))
        oracle = Oracle(problem, w, 7, budget=10**7)  # same run seed -> same sample stream
        out = []
        for _ in range(steps):
            opt.step(oracle.closure)
            out.append(w.detach().clone())
        traj.append(torch.stack(out))
    assert float((traj[0] - traj[1]).abs().max()) < 1e-10
    assert float(traj[0].abs().max()) > 1e-3  # it moved


def test_spa_time_varying_matches_polyak_map():
    A = torch.tensor([[1.0, 0.2], [0.2, -0.1]], dtype=torch.float64)
    b = torch.tensor([0.3, -0.05], dtype=torch.float64)
    etas = [0.1 + 0.01 * k for k in range(50)]
    cs = [0.2 + 0.5 * (k % 7) / 7 for k in range(50)]
    w = torch.tensor([0.5, -0.2], dtype=torch.float64)
    opt = SPA([w], lr=etas[0], c=cs[0])
    clo = FakeClosure(w, A, b)
    xs = []
    for eta, c in zip(etas, cs):
        opt.param_groups[0].update(lr=eta, c=c)
        opt.step(clo)
        xs.append(w.clone())
    alphas, betas = spa_to_polyak(etas, cs)
    x_prev = x = torch.tensor([0.5, -0.2], dtype=torch.float64)
    for k in range(50):
        x_new = x - alphas[k] * (A @ x + b) + betas[k] * (x - x_prev)
        x_prev, x = x, x_new
        assert float((x - xs[k]).abs().max()) < 1e-12


def test_spa_first_step_and_params():
    w = torch.tensor([1.0, 2.0], dtype=torch.float64)
    opt = SPA([w], lr=0.5, c=0.25)
    clo = FakeClosure(w, torch.eye(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64))
    opt.step(clo)  # z1 = x0 - 0.5 x0 = 0.5 x0 ; x1 = 0.75 x0 + 0.25 * 0.5 x0 = 0.875 x0
    assert torch.allclose(w, torch.tensor([0.875, 1.75], dtype=torch.float64))
    assert opt.pytorch_params() == {"lr": 0.125, "momentum": 0.75}
    assert opt.effective_lr() == 0.5
