r"""CNC-SGD, "SGD(T, t_thres, r, eta)" (SPEC.md B14b; Daneshmand, Kohler, Lucchi, Hofmann 2018).

.. math::  w_{t+1} = \begin{cases} w_t - r\,\nabla f_z(w_t) & t \bmod t_{thres} = 0\\
                                  w_t - \eta\,\nabla f_z(w_t) & \text{otherwise}\end{cases}

with :math:`t=0,1,\dots` (so the very first step is a large one) and :math:`\nabla f_z` the
minibatch gradient of ``closure()``. The large step exploits the Correlated Negative Curvature
of the stochastic gradient (no injected noise). Defaults: :math:`r=10\eta` (``r=None``),
:math:`t_{thres}=100`. The paper returns a uniformly random iterate; the benchmark logs them all.

References: H. Daneshmand, J. Kohler, A. Lucchi, T. Hofmann. Escaping saddles with stochastic
gradients. ICML 2018.
"""

from __future__ import annotations

import torch

from optimizers import _common as C
from optimizers import _families
from optimizers.base import Entry


class CNCSGD(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-3, r: float | None = None, t_thres: int = 100):
        C.check_positive("lr", lr)
        C.check_positive("r", r, allow_none=True)
        C.check_int("t_thres", t_thres, 1)
        super().__init__(params, dict(lr=lr, r=r, t_thres=t_thres))

    @torch.no_grad()
    def step(self, closure=None):
        if closure is None:
            raise ValueError("CNCSGD.step needs a closure that computes the gradient")
        with torch.enable_grad():
            loss = closure()
        for group in self.param_groups:
            r = 10 * group["lr"] if group["r"] is None else group["r"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                t = st.get("step", 0)
                p.add_(p.grad, alpha=-(r if t % group["t_thres"] == 0 else group["lr"]))
                st["step"] = t + 1
        return loss


ENTRY = Entry(
    name="cnc-sgd",
    optimizer=CNCSGD,
    defaults={"lr": 1e-3, "t_thres": 100},
    family_hparams={
        **_families.per_family(lambda s: {"lr": s, "r": 10 * s, "t_thres": 100}),
        "reddi2d": {"lr": 5e-3, "r": 5e-2, "t_thres": 100},
        "quad-saddle": {"lr": 5e-4, "r": 5e-3, "t_thres": 100},
    },
    summary="SGD with a large step r every t_thres steps (CNC-SGD, Daneshmand et al. 2018).",
    authors="Daneshmand, Kohler, Lucchi, Hofmann",
    paper="Escaping saddles with stochastic gradients. ICML 2018",
    url="https://arxiv.org/abs/1803.05999",
    license="MIT",
    spec_section="B14b",
    elementwise=True,
)
