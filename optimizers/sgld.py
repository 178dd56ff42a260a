r"""Stochastic gradient Langevin dynamics, SGLD (Zhang, Liang, Charikar 2017).

.. math::  x_{k+1} = x_k - \eta\,g(x_k) + \sqrt{2\eta/\xi}\;w_k,\qquad w_k\sim\mathcal N(0, I_d),

with :math:`\xi` the inverse temperature (``inv_temp``). Default ("matched noise"):
:math:`\xi = 2/(\eta\,\sigma_{ref}^2)`, so the injected per-step std is :math:`\eta\sigma_{ref}`;
:math:`\sigma_{ref}^2 = \mathrm{tr}\,\mathrm{Cov}_i\nabla f_i(w)/d` is the per-sample gradient
noise level. ``sigma_ref=None`` estimates it at the first iterate from ``sigma_calls`` (16)
counted ``closure.grad()`` calls: :math:`\hat\sigma_{ref}^2 = b\,\mathrm{tr}\,\widehat{\mathrm{Cov}}/d`
(unbiased sample covariance of the calls' gradients, :math:`b` = ``closure.batch_size``), stored
in ``state["sigma_ref"]``; where that is 0 (per-sample gradients agree there) ``sigma_floor``
(1e-3) is used. A number given as ``sigma_ref`` is used as is. Giving ``inv_temp`` overrides
``sigma_ref``. ``noise_scale`` (default 1) multiplies the injected std, i.e. divides the
inverse temperature by ``noise_scale**2``: the temperature knob of the search space, relative to
the matched noise of the instance run (an absolute sigma_ref would mean something else on every
problem). The noise generator lives in ``self.state`` and draws in float64 on the CPU
(cast to the parameter's dtype and device).

References: Y. Zhang, P. Liang, M. Charikar. A hitting time analysis of stochastic gradient
Langevin dynamics. COLT 2017.
"""

from __future__ import annotations

import math

import torch

from optimizers import _common as C
from optimizers.base import Entry, LogUniform


class SGLD(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-3, inv_temp: float | None = None,
                 sigma_ref: float | None = None, sigma_calls: int = 16, sigma_floor: float = 1e-3,
                 noise_scale: float = 1.0):
        C.check_positive("lr", lr)
        C.check_positive("inv_temp", inv_temp, allow_none=True)
        C.check_nonneg("sigma_ref", sigma_ref, allow_none=True)
        C.check_int("sigma_calls", sigma_calls, 2)
        C.check_positive("sigma_floor", sigma_floor)
        C.check_nonneg("noise_scale", noise_scale)
        super().__init__(params, dict(lr=lr, inv_temp=inv_temp, sigma_ref=sigma_ref,
                                      sigma_calls=sigma_calls, sigma_floor=sigma_floor,
                                      noise_scale=noise_scale))

    @staticmethod
    def noise_std(group, sigma_ref: float | None = None) -> float:
        """noise_scale * sqrt(2 eta / xi): noise_scale * eta * sigma_ref under the matched default."""
        scale = group.get("noise_scale", 1.0)
        if group["inv_temp"] is None:
            return scale * group["lr"] * (group["sigma_ref"] if sigma_ref is None else sigma_ref)
        return scale * math.sqrt(2.0 * group["lr"] / group["inv_temp"])

    @staticmethod
    def estimate_sigma_ref(closure, calls: int, floor: float) -> float:
        """sqrt(b tr Cov(call gradient) / d) from ``calls`` counted calls (floor if it is 0)."""
        if not hasattr(closure, "grad"):
            raise ValueError("Invalid sigma_ref: None needs a SaddleBench closure (closure.grad); "
                             "give sigma_ref")
        G = torch.stack([closure.grad().detach().reshape(-1).to(torch.float64) for _ in range(calls)])
        var = float(G.var(dim=0, unbiased=True).sum()) / G.shape[1]
        est = math.sqrt(max(0.0, var * int(getattr(closure, "batch_size", 1))))
        return est if est > 0 else floor

    @torch.no_grad()
    def step(self, closure=None):
        if closure is None:
            raise ValueError("SGLD.step needs a closure that computes the gradient")
        first = self.param_groups[0]["params"][0]
        st = self.state[first]
        if "sigma_ref" not in st and any(g["sigma_ref"] is None and g["inv_temp"] is None
                                         for g in self.param_groups):
            g0 = next(g for g in self.param_groups if g["sigma_ref"] is None)
            st["sigma_ref"] = self.estimate_sigma_ref(closure, g0["sigma_calls"], g0["sigma_floor"])
        with torch.enable_grad():
            loss = closure()
        gen = C.generator(self, st, first.device)  # one stream, kept with the first parameter
        for group in self.param_groups:
            std = self.noise_std(group, st.get("sigma_ref") if group["sigma_ref"] is None else None)
            for p in group["params"]:
                if p.grad is None:
                    continue
                z = C.randn_like(p, gen)
                p.add_(p.grad, alpha=-group["lr"]).add_(z, alpha=std)
        C.save_rng(self, st)
        return loss


ENTRY = Entry(
    name="sgld",
    optimizer=SGLD,
    # torch.optim.SGD's default lr (1e-3); matched noise (noise_scale 1): sigma_ref estimated
    # from counted gradient calls at the first iterate (the noise level of the instance run)
    defaults={"lr": 1e-3},
    # the step over sgd's range, and the temperature as a multiple of the matched noise std
    # (noise_scale 1e-3 .. 10, i.e. inv_temp x 1e6 .. 1e-2: from nearly noiseless SGD to 10x the
    # matched noise)
    search_space={"lr": LogUniform(1e-4, 1.0), "noise_scale": LogUniform(1e-3, 10.0)},
    summary="SGD plus Gaussian Langevin noise sqrt(2 eta/xi) N(0, I) (matched-noise temperature).",
    authors="Zhang, Liang, Charikar",
    paper="A hitting time analysis of stochastic gradient Langevin dynamics. COLT 2017",
    url="https://arxiv.org/abs/1702.05575",
    license="MIT",
    # The update is elementwise (seeds could run as rows of one tensor), but the noise comes
    # from one generator per run and the sigma_ref estimate averages over the whole parameter:
    # seeds run alone until the noise has per-row generators.
    elementwise=False,
)
