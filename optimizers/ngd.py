r"""Normalized gradient descent with noise, "Saddle-NGD" (Levy 2016).

.. math::  x_{t+1} = x_t - \eta\,\frac{g_t}{\max(\|g_t\|, \epsilon_{div})}
            + \mathbb 1[t \bmod N_0 = 0]\;\sigma_n\,\zeta_t,\qquad \zeta_t\sim\mathcal N(0, I_d/d),

with :math:`g_t` the minibatch gradient of ``closure()`` at :math:`x_t`, the norm taken jointly
over all parameters, and :math:`t=0,1,\dots`. Defaults: :math:`N_0=1` (slide form),
:math:`\sigma_n=\eta` (``sigma_n=None``), :math:`\epsilon_{div}=10^{-12}`. ``n0=None`` selects
the variant ``levy_periodic``, :math:`N_0=\lceil\eta^{-1/2}\rceil`.

**Unverified assumption**: the noise period :math:`N_0` and the noise law of Levy 2016 were not
checked against the paper; ``levy_periodic``'s :math:`N_0=\lceil\eta^{-1/2}\rceil` is an
assumption. With constant :math:`\eta` the iterate oscillates at scale :math:`\eta`, so
:math:`\eta` must be below about :math:`\varepsilon_g/L` for an SOSP certificate.

References: K. Y. Levy. The power of normalization: faster evasion of saddle points.
arXiv:1611.04831, 2016.
"""

from __future__ import annotations

import math

import torch

from optimizers import _common as C
from optimizers.base import Entry, LogUniform


class NGD(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-3, sigma_n: float | None = None, n0: int | None = 1,
                 eps_div: float = 1e-12):
        C.check_positive("lr", lr)
        C.check_nonneg("sigma_n", sigma_n, allow_none=True)
        C.check_int("n0", n0, 1, allow_none=True)
        C.check_positive("eps_div", eps_div)
        super().__init__(params, dict(lr=lr, sigma_n=sigma_n, n0=n0, eps_div=eps_div))

    @torch.no_grad()
    def step(self, closure=None):
        if closure is None:
            raise ValueError("NGD.step needs a closure that computes the gradient")
        with torch.enable_grad():
            loss = closure()
        first = self.param_groups[0]["params"][0]
        st = self.state[first]
        t = st.get("step", 0)
        params = [p for g in self.param_groups for p in g["params"] if p.grad is not None]
        d = sum(p.numel() for p in params)
        gnorm = float(torch.sqrt(sum((p.grad * p.grad).sum() for p in params))) if params else 0.0
        gen = C.generator(self, st, first.device)
        for group in self.param_groups:
            n0 = group["n0"] if group["n0"] is not None else math.ceil(group["lr"] ** -0.5)
            sigma = group["lr"] if group["sigma_n"] is None else group["sigma_n"]
            scale = group["lr"] / max(gnorm, group["eps_div"])
            noisy = t % n0 == 0 and sigma > 0
            for p in group["params"]:
                if p.grad is None:
                    continue
                p.add_(p.grad, alpha=-scale)
                if noisy:
                    z = C.randn_like(p, gen)
                    p.add_(z, alpha=sigma / math.sqrt(d))
        C.save_rng(self, st)
        st["step"] = t + 1
        return loss


ENTRY = Entry(
    name="ngd",
    optimizer=NGD,
    # lr 1e-3 (the typical SGD step; Levy 2016 gives no value), N0 = 1, sigma_n = lr
    defaults={"lr": 1e-3, "n0": 1, "eps_div": 1e-12},
    # lr is a step LENGTH (normalized gradient): the iterate oscillates at scale lr, so the good
    # values sit below sgd's steps; four decades 1e-5 .. 1e-1. The noise std sigma_n over the
    # same range (the default sigma_n = lr lies on the diagonal of the space)
    search_space={"lr": LogUniform(1e-5, 1e-1), "sigma_n": LogUniform(1e-5, 1e-1)},
    summary="Normalized SGD plus Gaussian noise every N0 steps (Levy 2016; N0 unverified).",
    authors="Levy",
    paper="The power of normalization: faster evasion of saddle points. arXiv:1611.04831, 2016",
    url="https://arxiv.org/abs/1611.04831",
    license="MIT",
    elementwise=False,
)
