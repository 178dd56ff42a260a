r"""Stochastic primal averaging, SPA (Defazio 2020, arXiv:2010.00406).

.. math::  z_{k+1} = z_k - \eta_k\,g(x_k),\qquad x_{k+1} = (1-c_{k+1})\,x_k + c_{k+1}\,z_{k+1},
           \qquad z_0 = x_0,

gradients at :math:`x_k` (the parameter, and the reported iterate). Step :math:`k` uses the
group's current ``lr`` as :math:`\eta_k` and its current ``c`` as :math:`c_{k+1}`, so changing
them between steps (a scheduler) gives the time-varying method.

Equivalences (verified in tests/optimizers/test_spa.py):

* constant: SPA(:math:`\eta=\alpha/(1-\beta)`, :math:`c=1-\beta`) has the iterates of PyTorch
  SGD+momentum(:math:`\alpha`, :math:`\beta`); :meth:`SPA.from_pytorch` and
  :meth:`SPA.pytorch_params` convert; the effective step :math:`\alpha/(1-\beta)` is :math:`\eta`
  (:meth:`SPA.effective_lr`);
* time-varying: :func:`spa_to_polyak` gives the Polyak heavy-ball parameters
  :math:`\alpha_k=c_{k+1}\eta_k`, :math:`\beta_k=c_{k+1}(1-c_k)/c_k` with :math:`c_0:=1`.

References: A. Defazio. Momentum via primal averaging: theoretical insights and learning rate
schedules for non-convex optimization. arXiv:2010.00406, 2020.
"""

from __future__ import annotations

from typing import Sequence

import torch

from optimizers import _common as C
from optimizers.base import Entry, LogUniform, Uniform


def spa_to_polyak(etas: Sequence[float], cs: Sequence[float]) -> tuple[list[float], list[float]]:
    """Polyak-form (alpha_k, beta_k), k = 0..K-1, of SPA with eta_k = etas[k] and c_{k+1} = cs[k].

    Polyak form: w_{k+1} = w_k - alpha_k g(w_k) + beta_k (w_k - w_{k-1}), w_{-1} = w_0.
    """
    if len(etas) != len(cs):
        raise ValueError("Invalid cs: etas and cs must have the same length")
    alphas, betas = [], []
    c_prev = 1.0  # c_0 := 1
    for eta, c_next in zip(etas, cs):
        alphas.append(c_next * eta)
        betas.append(c_next * (1.0 - c_prev) / c_prev)
        c_prev = c_next
    return alphas, betas


class SPA(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-2, c: float = 0.1):
        C.check_positive("lr", lr)
        C.check_interval("c", c, 0.0, 1.0, lo_open=True, hi_open=False)
        super().__init__(params, dict(lr=lr, c=c))

    @staticmethod
    def from_pytorch(lr: float, momentum: float) -> dict[str, float]:
        """SPA hyperparameters equal to torch SGD(lr, momentum): eta = lr/(1-beta), c = 1-beta."""
        return {"lr": lr / (1.0 - momentum), "c": 1.0 - momentum}

    def pytorch_params(self, group: int = 0) -> dict[str, float]:
        """(lr, momentum) of the equivalent torch SGD: alpha = eta c, beta = 1 - c."""
        g = self.param_groups[group]
        return {"lr": g["lr"] * g["c"], "momentum": 1.0 - g["c"]}

    def effective_lr(self, group: int = 0) -> float:
        """alpha/(1-beta) of the equivalent heavy ball, which is eta."""
        return self.param_groups[group]["lr"]

    @torch.no_grad()
    def step(self, closure=None):
        if closure is None:
            raise ValueError("SPA.step needs a closure that computes the gradient")
        with torch.enable_grad():
            loss = closure()
        for group in self.param_groups:
            eta, c = group["lr"], group["c"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if "z" not in st:
                    st["z"] = p.detach().clone()  # z_0 = x_0
                    st["step"] = 0
                z = st["z"]
                z.add_(p.grad, alpha=-eta)
                p.mul_(1.0 - c).add_(z, alpha=c)
                st["step"] += 1
        return loss


ENTRY = Entry(
    name="spa",
    optimizer=SPA,
    # lr = eta is the effective step alpha/(1-beta): these defaults are torch SGD+momentum's
    # (lr 1e-3, momentum 0.9), i.e. sgd-momentum's defaults, in SPA form (Defazio 2020)
    defaults={"lr": 1e-2, "c": 0.1},
    # eta: the effective step, so the range of sgd's step (1e-4 .. 1); c = 1 - beta over the
    # same momenta as sgd-momentum's beta in [0.5, 0.99]
    search_space={"lr": LogUniform(1e-4, 1.0), "c": Uniform(0.01, 0.5)},
    summary="Momentum as primal averaging: z -= eta g(x); x = (1-c) x + c z (Defazio 2020); "
            "lr is the effective step eta = alpha/(1-beta).",
    authors="Defazio",
    paper="Momentum via primal averaging: theoretical insights and learning rate schedules for "
          "non-convex optimization. arXiv:2010.00406, 2020",
    url="https://arxiv.org/abs/2010.00406",
    license="MIT",
    elementwise=True,
)
