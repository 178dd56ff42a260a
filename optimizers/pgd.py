r"""Perturbed gradient descent, PGD (SPEC.md B10; Jin, Ge, Netrapalli, Kakade, Jordan 2017, Alg. 2).

One ``step()`` is one iteration :math:`t` of::

    if ||g(x_t)|| <= g_thres and t - t_noise > t_thres:        # identification
        x_tilde = x_t; t_noise = t; x_t = x_tilde + xi, xi ~ Unif(Ball_0(r))
    if terminate and t - t_noise == t_thres and f(x_t) - f(x_tilde) > -f_thres:
        x = x_tilde; stop                                         # certification
    x_{t+1} = x_t - eta g(x_t)                                    # GD step at the perturbed x_t

with :math:`t_{noise}=-t_{thres}-1` initially, :math:`\xi = rU^{1/d}z/\|z\|`.

**Gradients** (``gradient``): ``"auto"`` (default) uses full gradients (``closure(full=True)``,
cost n) when ``closure.finite_sum``, otherwise the stochastic variant ``pgd_sgd``: every
gradient (and function value) is the mean of ``batch`` sample gradients (default
:math:`\min(n,256)`, a multiple of the closure's batch), so the steps are minibatch-SGD steps and
the norm test is a minibatch gradient-norm test. ``"full"``/``"stochastic"`` force one.

**Modes.** ``"practical"`` (default): :math:`\eta=1/(2\hat\ell)`, :math:`g_{thres}=\varepsilon_g`,
:math:`r=\varepsilon_g/\hat\ell`, :math:`t_{thres}=\lceil\ln(10^3\sqrt d)/(\eta\varepsilon_h)\rceil`,
``terminate=False`` (run the whole budget, keep perturbing). :math:`\hat\ell` (``L``),
:math:`\varepsilon_g`, :math:`\varepsilon_h` are problem facts an entry cannot see, so they are
hyperparameters with per-family values (``family_hparams``). ``lr``, ``r``, ``g_thres``,
``t_thres`` override the derived values. With ``terminate=True`` in practical mode
:math:`f_{thres}` defaults to :math:`\varepsilon_g^2/(2\hat\ell)` (our choice: the decrease of one
GD step at gradient norm :math:`\varepsilon_g`; the paper gives only the theory value).
``"theory"``: :math:`\chi=3\max\{\ln\frac{d\ell\Delta_f}{c\varepsilon^2\delta},4\}`,
:math:`\eta=c/\ell`, :math:`r=\frac{\sqrt c}{\chi^2}\frac\varepsilon\ell`,
:math:`g_{thres}=\frac{\sqrt c}{\chi^2}\varepsilon`,
:math:`f_{thres}=\frac c{\chi^3}\sqrt{\varepsilon^3/\rho}`,
:math:`t_{thres}=\frac\chi{c^2}\frac\ell{\sqrt{\rho\varepsilon}}` from (``L``, ``rho``, ``eps``,
``c``, ``delta``, ``delta_f``), ``terminate=True`` by default.

After termination the iterate stays at :math:`\tilde x` (each later ``step()`` still evaluates
its gradient, so the run's cost advances). Function values are charged (fval_calls).

References: C. Jin, R. Ge, P. Netrapalli, S. M. Kakade, M. I. Jordan. How to escape saddle
points efficiently. ICML 2017.
"""

from __future__ import annotations

import math

import torch

from optimizers import _common as C
from optimizers import _families
from optimizers.base import Entry


class PGD(torch.optim.Optimizer):
    def __init__(self, params, mode: str = "practical", L: float = 1.0, eps_g: float = 5e-3,
                 eps_h: float = 1e-2, lr: float | None = None, r: float | None = None,
                 g_thres: float | None = None, t_thres: int | None = None,
                 f_thres: float | None = None, terminate: bool | None = None,
                 gradient: str = "auto", batch: int = 256, rho: float = 1.0, eps: float | None = None,
                 c: float = 0.5, delta: float = 0.1, delta_f: float = 1.0):
        C.check_choice("mode", mode, ("practical", "theory"))
        C.check_positive("L", L)
        C.check_positive("eps_g", eps_g)
        C.check_positive("eps_h", eps_h)
        C.check_positive("lr", lr, allow_none=True)
        C.check_positive("r", r, allow_none=True)
        C.check_nonneg("g_thres", g_thres, allow_none=True)
        C.check_int("t_thres", t_thres, 0, allow_none=True)
        C.check_nonneg("f_thres", f_thres, allow_none=True)
        if terminate is not None and not isinstance(terminate, bool):
            raise ValueError(f"Invalid terminate: {terminate!r} (must be a bool or None)")
        C.check_choice("gradient", gradient, ("auto", "full", "stochastic"))
        C.check_int("batch", batch, 1)
        C.check_positive("rho", rho)
        C.check_positive("eps", eps, allow_none=True)
        C.check_positive("c", c)
        C.check_interval("delta", delta, 0.0, 1.0, lo_open=True)
        C.check_positive("delta_f", delta_f)
        super().__init__(params, dict(mode=mode, L=L, eps_g=eps_g, eps_h=eps_h, lr=lr, r=r,
                                      g_thres=g_thres, t_thres=t_thres, f_thres=f_thres,
                                      terminate=terminate, gradient=gradient, batch=batch, rho=rho,
                                      eps=eps, c=c, delta=delta, delta_f=delta_f))
        C.require_single_param(self)

    @staticmethod
    def constants(group, d: int) -> dict:
        """(lr, r, g_thres, t_thres, f_thres, terminate) of a group on dimension d."""
        L = group["L"]
        if group["mode"] == "theory":
            eps = group["eps"] if group["eps"] is not None else group["eps_g"]
            c, rho = group["c"], group["rho"]
            chi = 3 * max(math.log(d * L * group["delta_f"] / (c * eps ** 2 * group["delta"])), 4)
            k = dict(lr=c / L, r=math.sqrt(c) / chi ** 2 * eps / L,
                     g_thres=math.sqrt(c) / chi ** 2 * eps,
                     t_thres=math.ceil(chi / c ** 2 * L / math.sqrt(rho * eps)),
                     f_thres=c / chi ** 3 * math.sqrt(eps ** 3 / rho), terminate=True)
        else:
            lr = 1.0 / (2 * L)
            k = dict(lr=lr, r=group["eps_g"] / L, g_thres=group["eps_g"],
                     t_thres=None, f_thres=group["eps_g"] ** 2 / (2 * L), terminate=False)
        for key in ("lr", "r", "g_thres", "t_thres", "f_thres", "terminate"):
            if group[key] is not None:
                k[key] = group[key]
        if k["t_thres"] is None:
            k["t_thres"] = math.ceil(math.log(1e3 * math.sqrt(d)) / (k["lr"] * group["eps_h"]))
        return k

    @torch.no_grad()
    def step(self, closure=None):
        if closure is None:
            raise ValueError("PGD.step needs the SaddleBench closure")
        p, group = C.single_param(self)
        st = self.state[p]
        if not st:
            st["t"] = 0
            st["t_noise"] = None
            st["terminated"] = False
        full = group["gradient"] == "full" or (group["gradient"] == "auto" and closure.finite_sum)
        calls = 1 if full else C.batch_calls(closure, group["batch"])

        def loss_grad(at=None):
            if full:
                return closure.loss_and_grad(at, full=True)
            return C.mean_grad(closure, calls, at)

        def fval(at=None):
            return closure.loss(at, full=True) if full else C.mean_loss(closure, calls, at)

        k = self.constants(group, p.numel())
        t = st["t"]
        t_noise = -k["t_thres"] - 1 if st["t_noise"] is None else st["t_noise"]
        loss, g = loss_grad()
        if st["terminated"]:
            p.grad = g
            return loss
        if float(g.norm()) <= k["g_thres"] and t - t_noise > k["t_thres"]:
            st["x_tilde"] = p.detach().clone()
            if k["terminate"]:
                st["f_tilde"] = fval()
            t_noise = t
            st["t_noise"] = t
            gen = C.generator(self, st, p.device)
            p.add_(C.ball(p.shape, k["r"], gen, p.dtype, p.device))
            C.save_rng(self, st)
            loss, g = loss_grad()
        if k["terminate"] and st["t_noise"] is not None and t - t_noise == k["t_thres"]:
            if float(fval()) - float(st["f_tilde"]) > -k["f_thres"]:
                p.copy_(st["x_tilde"])
                st["terminated"] = True
                st["t"] = t + 1
                return loss
        p.grad = g
        p.add_(g, alpha=-k["lr"])
        st["t"] = t + 1
        return loss


ENTRY = Entry(
    name="pgd",
    optimizer=PGD,
    defaults={"mode": "practical", "L": 1.0, "eps_g": 5e-3, "eps_h": 1e-2},
    family_hparams={
        **_families.per_family(lambda s, g, h: {"L": 1 / (2 * s), "eps_g": g, "eps_h": h}),
        # L-hat = max |lambda| of the Hessian at w_s and w* (reddi2d: 1; quad-saddle: max(1, 8 mu)=1)
        "reddi2d": {"L": 1.0, "eps_g": 5e-3, "eps_h": 1e-2},
        # population oracle -> stochastic variant; eps_g = 0.0142 is quad-saddle:small's; the
        # minibatch of 256 draws at lr 1/(2L) would sit above eps_g, so lr = 0.05.
        "quad-saddle": {"L": 1.0, "eps_g": 1.42e-2, "eps_h": 1e-2, "lr": 0.05, "batch": 256},
    },
    summary="Gradient descent plus a uniform-ball perturbation when the gradient is small "
            "(Jin et al. 2017); full gradients on finite sums, minibatch variant otherwise.",
    authors="Jin, Ge, Netrapalli, Kakade, Jordan",
    paper="How to escape saddle points efficiently. ICML 2017",
    url="https://arxiv.org/abs/1703.00887",
    license="MIT",
    spec_section="B10",
    oracle_class="first-order",
    elementwise=False,
)
