r"""Momentum annealing (Liu, Chen, Zhou, Zhao, arXiv:1802.05155).

Heavy ball with a time-varying momentum :math:`\mu_t` and the step :math:`\eta` fixed, in
PyTorch form:

.. math::  m_t = \mu_t m_{t-1} + g_t\ (m_{-1}=0),\qquad \theta_{t+1} = \theta_t - \eta\,m_t,

which for fixed :math:`\eta` is exactly Liu et al.'s Polyak form
:math:`\theta_{t+1}=\theta_t-\eta g_t+\mu_t(\theta_t-\theta_{t-1})`. Schedules on the window
:math:`[t_1,t_2]=[\text{t1\_frac}\,T,\ \text{t2\_frac}\,T]` (defaults 0.5T, 0.75T),
:math:`\mu_0=0.9\to\mu_{end}=0`:

* ``step``: :math:`\mu_t=\mu_0` for :math:`t<t_1`, then :math:`\mu_{end}`;
* ``linear``: :math:`\mu_0\to\mu_{end}` linearly on :math:`[t_1,t_2]` (the gradual decrease of
  Defazio 2020);
* ``cosine``: :math:`\mu_{end}+(\mu_0-\mu_{end})(1+\cos(\pi(t-t_1)/(t_2-t_1)))/2` on the window;
* ``constant``: :math:`\mu_t=\mu_0` (baseline).

``anneal="lr"`` is the LR-annealing baseline instead: :math:`\mu=\mu_0` constant and
:math:`\eta_t` goes from :math:`\eta` to :math:`\eta(1-\mu_0)` on the same window and shape.

**Horizon T.** ``total_steps`` if given; otherwise (``None``) it is read once, at the first
step, from the closure: :math:`T=\lfloor\text{budget\_left}/\text{batch\_size}\rfloor`, the
number of steps the run's budget allows (one closure call per step). It is stored in the state.
:meth:`MomentumAnnealing.effective_lr` reports :math:`\eta_t/(1-\mu_t)` at the current step.

References: T. Liu, Z. Chen, E. Zhou, T. Zhao. Toward deeper understanding of nonconvex
stochastic optimization with momentum using diffusion approximations. arXiv:1802.05155, 2018.
"""

from __future__ import annotations

import math

import torch

from optimizers import _common as C
from optimizers.base import Entry, LogUniform, Uniform

SCHEDULES = ("step", "linear", "cosine", "constant")


def anneal_factor(t: int, total: int, schedule: str, t1_frac: float, t2_frac: float) -> float:
    """1 before the window, 0 after it, the schedule's shape in between."""
    t1, t2 = t1_frac * total, t2_frac * total
    if schedule == "constant" or t < t1:
        return 1.0
    if schedule == "step" or t >= t2 or t2 <= t1:
        return 0.0
    x = (t - t1) / (t2 - t1)
    return 1.0 - x if schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * x))


class MomentumAnnealing(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.9, momentum_end: float = 0.0,
                 schedule: str = "linear", total_steps: int | None = None, t1_frac: float = 0.5,
                 t2_frac: float = 0.75, anneal: str = "momentum"):
        C.check_positive("lr", lr)
        C.check_interval("momentum", momentum, 0.0, 1.0)
        C.check_interval("momentum_end", momentum_end, 0.0, 1.0)
        C.check_choice("schedule", schedule, SCHEDULES)
        C.check_int("total_steps", total_steps, 1, allow_none=True)
        C.check_interval("t1_frac", t1_frac, 0.0, 1.0, hi_open=False)
        C.check_interval("t2_frac", t2_frac, 0.0, 1.0, hi_open=False)
        if t2_frac < t1_frac:
            raise ValueError(f"Invalid t2_frac: {t2_frac} < t1_frac={t1_frac}")
        C.check_choice("anneal", anneal, ("momentum", "lr"))
        super().__init__(params, dict(lr=lr, momentum=momentum, momentum_end=momentum_end,
                                      schedule=schedule, total_steps=total_steps, t1_frac=t1_frac,
                                      t2_frac=t2_frac, anneal=anneal))

    def _current(self, group, t: int, total: int) -> tuple[float, float]:
        a = anneal_factor(t, total, group["schedule"], group["t1_frac"], group["t2_frac"])
        if group["anneal"] == "momentum":
            mu = group["momentum_end"] + (group["momentum"] - group["momentum_end"]) * a
            return group["lr"], mu
        lr_end = group["lr"] * (1.0 - group["momentum"])
        return lr_end + (group["lr"] - lr_end) * a, group["momentum"]

    def effective_lr(self, group: int = 0) -> float:
        """eta_t / (1 - mu_t) at the next step."""
        g = self.param_groups[group]
        p = g["params"][0]
        st = self.state.get(p, {})
        total = st.get("total_steps") or g["total_steps"] or 1
        lr, mu = self._current(g, st.get("step", 0), total)
        return lr / (1.0 - mu)

    @torch.no_grad()
    def step(self, closure=None):
        if closure is None:
            raise ValueError("MomentumAnnealing.step needs a closure that computes the gradient")
        horizon = None
        if any(g["total_steps"] is None for g in self.param_groups):
            first = self.param_groups[0]["params"][0]
            if "total_steps" not in self.state[first]:
                left = getattr(closure, "budget_left", None)
                if left is None:
                    raise ValueError("Invalid total_steps: None needs a SaddleBench closure "
                                     "(budget_left); give total_steps")
                horizon = max(1, int(left) // max(1, int(getattr(closure, "batch_size", 1))))
        with torch.enable_grad():
            loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if "total_steps" not in st:
                    st["total_steps"] = group["total_steps"] or horizon
                    st["step"] = 0
                t = st["step"]
                lr, mu = self._current(group, t, st["total_steps"])
                if "momentum_buffer" not in st:
                    st["momentum_buffer"] = p.grad.clone()
                else:
                    st["momentum_buffer"].mul_(mu).add_(p.grad)
                p.add_(st["momentum_buffer"], alpha=-lr)
                st["step"] = t + 1
        return loss


ENTRY = Entry(
    name="momentum-annealing",
    optimizer=MomentumAnnealing,
    # torch.optim.SGD's default lr (1e-3); mu0 = 0.9 -> mu_end = 0 on a linear window, the
    # defaults of Liu et al.'s schedules
    defaults={"lr": 1e-3, "momentum": 0.9, "momentum_end": 0.0, "schedule": "linear"},
    # as sgd-momentum: PyTorch-form lr (effective-step range 1e-4 .. 1 at mu0 = 0.9) and mu0
    search_space={"lr": LogUniform(1e-5, 1e-1), "momentum": Uniform(0.5, 0.99)},
    summary="Heavy ball (PyTorch form) with momentum annealed mu0 -> mu_end (step/linear/cosine) at "
            "fixed lr; horizon from the budget; effective step lr/(1-mu_t).",
    authors="Liu, Chen, Zhou, Zhao",
    paper="Toward deeper understanding of nonconvex stochastic optimization with momentum using "
          "diffusion approximations. arXiv:1802.05155, 2018",
    url="https://arxiv.org/abs/1802.05155",
    license="MIT",
    elementwise=True,
)
