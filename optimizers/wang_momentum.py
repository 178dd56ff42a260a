r"""SGD with stochastic heavy-ball momentum and a periodic large step (Wang,
Lin, Abernethy 2020, Alg. 2).

.. math::  m_t = \beta m_{t-1} + g_t\ (m_{-1}=0),\qquad
           \hat\eta_t = \begin{cases} r & t \bmod \mathcal T_{thred} = 0\\ \eta & \text{otherwise}\end{cases},
           \qquad w_{t+1} = w_t - \hat\eta_t m_t,

PyTorch form, :math:`t=0,1,\dots` (the first step is a large one, with :math:`m_0=g_0`: no
zero-state jump). ``lr`` and ``momentum`` are (:math:`\eta`, :math:`\beta`) in PyTorch form;
:meth:`WangMomentum.effective_lr` reports :math:`\eta/(1-\beta)`. Defaults:
:math:`r=\text{r\_factor}\cdot\eta`, ``r_factor=10`` (``r=None``; a number given as ``r`` is
the large step), :math:`\mathcal T_{thred}=100`. The authors' code perturbs only when an oracle
says :math:`\lambda_{\min}<-0.005`; a first-order method has no such oracle, so that shortcut
is not replicated here.

References: J.-K. Wang, C.-H. Lin, J. Abernethy. Escaping saddle points faster with stochastic
momentum. ICLR 2020.
"""

from __future__ import annotations

import torch

from optimizers import _common as C
from optimizers.base import Entry, LogUniform


class WangMomentum(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.9, r: float | None = None,
                 t_thres: int = 100, r_factor: float = 10.0):
        C.check_positive("lr", lr)
        C.check_interval("momentum", momentum, 0.0, 1.0)
        C.check_positive("r", r, allow_none=True)
        C.check_int("t_thres", t_thres, 1)
        C.check_positive("r_factor", r_factor)
        super().__init__(params, dict(lr=lr, momentum=momentum, r=r, t_thres=t_thres,
                                      r_factor=r_factor))

    def effective_lr(self, group: int = 0) -> float:
        """eta / (1 - beta) of a parameter group."""
        g = self.param_groups[group]
        return g["lr"] / (1.0 - g["momentum"])

    @torch.no_grad()
    def step(self, closure=None):
        if closure is None:
            raise ValueError("WangMomentum.step needs a closure that computes the gradient")
        with torch.enable_grad():
            loss = closure()
        for group in self.param_groups:
            r = group["r_factor"] * group["lr"] if group["r"] is None else group["r"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                t = st.get("step", 0)
                if "momentum_buffer" not in st:
                    st["momentum_buffer"] = p.grad.clone()
                else:
                    st["momentum_buffer"].mul_(group["momentum"]).add_(p.grad)
                p.add_(st["momentum_buffer"], alpha=-(r if t % group["t_thres"] == 0 else group["lr"]))
                st["step"] = t + 1
        return loss


ENTRY = Entry(
    name="wang-momentum",
    optimizer=WangMomentum,
    # torch.optim.SGD's default lr (1e-3), momentum 0.9 (the usual heavy-ball value), r = 10 lr,
    # T_thred = 100 (the defaults shared with cnc-sgd)
    defaults={"lr": 1e-3, "momentum": 0.9, "t_thres": 100},
    # PyTorch-form lr over sgd-momentum's range, and the large step as a multiple r/lr of it
    # (the signature knob, as cnc-sgd); momentum stays at 0.9 to keep the space two-dimensional
    search_space={"lr": LogUniform(1e-5, 1e-1), "r_factor": LogUniform(1.0, 30.0)},
    summary="Heavy-ball SGD (PyTorch form) with a large step r every T_thred steps (Wang et al. Alg. 2); "
            "reports effective step lr/(1-momentum).",
    authors="Wang, Lin, Abernethy",
    paper="Escaping saddle points faster with stochastic momentum. ICLR 2020",
    url="https://openreview.net/forum?id=rkeNfp4tPr",
    license="MIT",
    elementwise=True,
)
