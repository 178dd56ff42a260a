r"""Noisy (perturbed) SGD, PSGD (Ge, Huang, Jin, Yuan 2015, Alg. 1).

.. math::  w_{t+1} = w_t - \eta\,(g_t + \sigma_n n_t),

with :math:`g_t` the minibatch gradient of ``closure()`` at :math:`w_t` and

* ``noise="sphere"`` (default, the paper's law): :math:`n_t \sim \mathrm{Unif}(\mathbb S^{d-1})`,
  unit norm, drawn jointly over all parameters (one norm per run: not elementwise);
* ``noise="gauss"`` (``psgd_gauss``): :math:`n_t \sim \mathcal N(0, I_d/d)`, so
  :math:`\mathbb E\|n_t\|^2 = 1`.

:math:`\sigma_n=1` is the paper's choice; the search space spans :math:`\sigma_n\in[10^{-3},1]`.
The noise comes from a generator kept in ``self.state`` (seeded from torch's global RNG on the
first step), so seeded runs are deterministic and ``load_state_dict`` resumes the stream.

References: R. Ge, F. Huang, C. Jin, Y. Yuan. Escaping from saddle points — online stochastic
gradient for tensor decomposition. COLT 2015.
"""

from __future__ import annotations

import torch

from optimizers import _common as C
from optimizers.base import Entry, LogUniform


class PSGD(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-3, sigma_n: float = 1.0, noise: str = "sphere"):
        C.check_positive("lr", lr)
        C.check_nonneg("sigma_n", sigma_n)
        C.check_choice("noise", noise, ("sphere", "gauss"))
        super().__init__(params, dict(lr=lr, sigma_n=sigma_n, noise=noise))

    @torch.no_grad()
    def step(self, closure=None):
        if closure is None:
            raise ValueError("PSGD.step needs a closure that computes the gradient")
        with torch.enable_grad():
            loss = closure()
        params = [p for g in self.param_groups for p in g["params"] if p.grad is not None]
        if not params:
            return loss
        first = params[0]
        st = self.state[first]
        gen = C.generator(self, st, first.device)
        d = sum(p.numel() for p in params)
        z = [C.randn_like(p, gen) for p in params]
        C.save_rng(self, st)
        i = 0
        for group in self.param_groups:
            if group["noise"] == "sphere":
                scale = 1.0 / float(torch.sqrt(sum((x * x).sum() for x in z)).clamp_min(1e-300))
            else:
                scale = 1.0 / d ** 0.5
            for p in group["params"]:
                if p.grad is None:
                    continue
                p.add_(p.grad + group["sigma_n"] * scale * z[i], alpha=-group["lr"])
                i += 1
        st["step"] = st.get("step", 0) + 1
        return loss


ENTRY = Entry(
    name="psgd",
    optimizer=PSGD,
    # torch.optim.SGD's default lr (1e-3); sigma_n = 1, unit-sphere noise (Ge et al. 2015)
    defaults={"lr": 1e-3, "sigma_n": 1.0, "noise": "sphere"},
    # the step over sgd's range, and the noise norm sigma_n over 1e-3 .. 1 (the paper's 1 and
    # the smaller norms, 0.05 .. 0.1, that certify where 1 leaves a noise floor above eps_g)
    search_space={"lr": LogUniform(1e-4, 1.0), "sigma_n": LogUniform(1e-3, 1.0)},
    summary="SGD plus isotropic noise of norm sigma_n on the unit sphere (Ge et al. 2015).",
    authors="Ge, Huang, Jin, Yuan",
    paper="Escaping from saddle points - online stochastic gradient for tensor decomposition. COLT 2015",
    url="https://arxiv.org/abs/1503.02101",
    license="MIT",
    elementwise=False,
)
