r"""Stochastic gradient Langevin dynamics, SGLD (SPEC.md B12; Zhang, Liang, Charikar 2017).

.. math::  x_{k+1} = x_k - \eta\,g(x_k) + \sqrt{2\eta/\xi}\;w_k,\qquad w_k\sim\mathcal N(0, I_d),

with :math:`\xi` the inverse temperature (``inv_temp``). Default ("matched noise"):
:math:`\xi = 2/(\eta\,\sigma_{ref}^2)`, so the injected per-step std is :math:`\eta\sigma_{ref}`;
:math:`\sigma_{ref}^2 = \mathrm{tr}\,\mathrm{Cov}_i\nabla f_i(w_s)/d` is a problem fact, so it is a
hyperparameter (``sigma_ref``) with per-family values; 1e-3 where that covariance is 0. Giving
``inv_temp`` overrides ``sigma_ref``. The noise generator lives in ``self.state``.

References: Y. Zhang, P. Liang, M. Charikar. A hitting time analysis of stochastic gradient
Langevin dynamics. COLT 2017.
"""

from __future__ import annotations

import math

import torch

from optimizers import _common as C
from optimizers import _families
from optimizers.base import Entry


class SGLD(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-3, inv_temp: float | None = None, sigma_ref: float = 1e-3):
        C.check_positive("lr", lr)
        C.check_positive("inv_temp", inv_temp, allow_none=True)
        C.check_nonneg("sigma_ref", sigma_ref)
        super().__init__(params, dict(lr=lr, inv_temp=inv_temp, sigma_ref=sigma_ref))

    @staticmethod
    def noise_std(group) -> float:
        """sqrt(2 eta / xi): eta * sigma_ref under the matched default."""
        if group["inv_temp"] is None:
            return group["lr"] * group["sigma_ref"]
        return math.sqrt(2.0 * group["lr"] / group["inv_temp"])

    @torch.no_grad()
    def step(self, closure=None):
        if closure is None:
            raise ValueError("SGLD.step needs a closure that computes the gradient")
        with torch.enable_grad():
            loss = closure()
        first = self.param_groups[0]["params"][0]
        st = self.state[first]
        gen = C.generator(self, st, first.device)  # one stream, kept with the first parameter
        for group in self.param_groups:
            std = self.noise_std(group)
            for p in group["params"]:
                if p.grad is None:
                    continue
                z = torch.randn(p.shape, generator=gen, dtype=p.dtype, device=p.device)
                p.add_(p.grad, alpha=-group["lr"]).add_(z, alpha=std)
        C.save_rng(self, st)
        return loss


ENTRY = Entry(
    name="sgld",
    optimizer=SGLD,
    defaults={"lr": 1e-3, "sigma_ref": 1e-3},
    family_hparams={
        **_families.per_family(lambda s, g, h: {"lr": s, "sigma_ref": 1e-3}),
        # sigma_ref^2 = tr Cov(grad f_i(w_s)) / d: reddi2d (0.1 + 0.001)/2; quad-saddle aniso
        # small (9 * 0.1 + 0.001)/10.
        "reddi2d": {"lr": 5e-3, "sigma_ref": 0.2247},
        "quad-saddle": {"lr": 5e-4, "sigma_ref": 0.3002},
    },
    summary="SGD plus Gaussian Langevin noise sqrt(2 eta/xi) N(0, I) (matched-noise temperature).",
    authors="Zhang, Liang, Charikar",
    paper="A hitting time analysis of stochastic gradient Langevin dynamics. COLT 2017",
    url="https://arxiv.org/abs/1702.05575",
    license="MIT",
    spec_section="B12",
    elementwise=True,
)
