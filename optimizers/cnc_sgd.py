r"""CNC-SGD, "SGD(T, t_thres, r, eta)" (Daneshmand, Kohler, Lucchi, Hofmann 2018).

.. math::  w_{t+1} = \begin{cases} w_t - r\,\nabla f_z(w_t) & t \bmod t_{thres} = 0\\
                                  w_t - \eta\,\nabla f_z(w_t) & \text{otherwise}\end{cases}

with :math:`t=0,1,\dots` (so the very first step is a large one) and :math:`\nabla f_z` the
minibatch gradient of ``closure()``. The large step exploits the Correlated Negative Curvature
of the stochastic gradient (no injected noise). Defaults: :math:`r=\text{r\_factor}\cdot\eta` with
``r_factor=10`` (``r=None``; a number given as ``r`` is the large step itself),
:math:`t_{thres}=100`. The paper returns a uniformly random iterate; the benchmark logs them all.

References: H. Daneshmand, J. Kohler, A. Lucchi, T. Hofmann. Escaping saddles with stochastic
gradients. ICML 2018.
"""

from __future__ import annotations

import torch

from optimizers import _common as C
from optimizers.base import Entry, LogUniform


class CNCSGD(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-3, r: float | None = None, t_thres: int = 100,
                 r_factor: float = 10.0):
        C.check_positive("lr", lr)
        C.check_positive("r", r, allow_none=True)
        C.check_int("t_thres", t_thres, 1)
        C.check_positive("r_factor", r_factor)
        super().__init__(params, dict(lr=lr, r=r, t_thres=t_thres, r_factor=r_factor))

    @torch.no_grad()
    def step(self, closure=None):
        if closure is None:
            raise ValueError("CNCSGD.step needs a closure that computes the gradient")
        with torch.enable_grad():
            loss = closure()
        for group in self.param_groups:
            r = group["r_factor"] * group["lr"] if group["r"] is None else group["r"]
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
    # torch.optim.SGD's default lr (1e-3); r = 10 lr and t_thres = 100, the benchmark defaults
    # of the CNC family (Daneshmand et al. 2018 give orders, not values)
    defaults={"lr": 1e-3, "t_thres": 100},
    # the step over sgd's range; the large step as a multiple r/lr of it (its signature knob),
    # 1 .. 30 around the default 10
    search_space={"lr": LogUniform(1e-4, 1.0), "r_factor": LogUniform(1.0, 30.0)},
    summary="SGD with a large step r every t_thres steps (CNC-SGD, Daneshmand et al. 2018).",
    authors="Daneshmand, Kohler, Lucchi, Hofmann",
    paper="Escaping saddles with stochastic gradients. ICML 2018",
    url="https://arxiv.org/abs/1803.05999",
    license="MIT",
    elementwise=True,
)
