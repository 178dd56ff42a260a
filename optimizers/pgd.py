r"""Perturbed gradient descent, PGD (Jin, Ge, Netrapalli, Kakade, Jordan 2017, Alg. 2).

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

**Problem facts.** :math:`\varepsilon_g`, :math:`\varepsilon_h`, :math:`\hat\ell` and
:math:`\rho` are read from ``closure.facts`` at the first ``step()`` and stored in
``state["facts"]`` (so ``state_dict()`` round-trips them); the hyperparameters ``eps_g``,
``eps_h``, ``L``, ``rho`` default to None ("None: from closure.facts") and override the facts
when given:

* ``eps_g``, ``eps_h`` <- ``facts.eps_g``, ``facts.eps_h`` (the certificate's thresholds);
* ``L`` (:math:`\hat\ell`) <- ``facts.smoothness``; where the problem declares none, an estimate
  at the first iterate :math:`x_0`: :math:`\hat\ell=\max_k\|\hat H v_k\|` over ``L_iters``
  (default 20) power-iteration steps with :math:`\hat Hv=(g(x_0+hv)-g(x_0))/h`,
  :math:`h=10^{-4}` (float64) / :math:`10^{-3}`, the gradients full on finite sums and
  ``batch``-sample same-sample pairs otherwise; every call is charged. If that estimate is 0
  (no curvature at :math:`x_0`), :math:`\hat\ell=1`;
* ``rho`` (theory mode) <- ``facts.hessian_lipschitz``, else 1.

**Modes.** ``"practical"`` (default): :math:`\eta=1/(2\hat\ell)`, :math:`g_{thres}=\varepsilon_g`,
:math:`r=\varepsilon_g/\hat\ell`, :math:`t_{thres}=\lceil\ln(10^3\sqrt d)/(\eta\varepsilon_h)\rceil`,
``terminate=False`` (run the whole budget, keep perturbing). ``lr``, ``r``, ``g_thres``,
``t_thres`` override the derived values; ``lr`` and ``r`` are the search space of the tuned track
(on a population oracle such as quad-saddle the mean of 256 draws at :math:`1/(2\hat\ell)` keeps
the gradient norm at a noise floor, and a smaller step certifies: that is for the tuning to find,
not a per-family number in this file). With
``terminate=True`` in practical mode :math:`f_{thres}` defaults to
:math:`\varepsilon_g^2/(2\hat\ell)` (our choice: the decrease of one GD step at gradient norm
:math:`\varepsilon_g`; the paper gives only the theory value).
``"theory"``: :math:`\chi=3\max\{\ln\frac{d\ell\Delta_f}{c\varepsilon^2\delta},4\}`,
:math:`\eta=c/\ell`, :math:`r=\frac{\sqrt c}{\chi^2}\frac\varepsilon\ell`,
:math:`g_{thres}=\frac{\sqrt c}{\chi^2}\varepsilon`,
:math:`f_{thres}=\frac c{\chi^3}\sqrt{\varepsilon^3/\rho}`,
:math:`t_{thres}=\frac\chi{c^2}\frac\ell{\sqrt{\rho\varepsilon}}` from (``L``, ``rho``, ``eps``
(default :math:`\varepsilon_g`), ``c``, ``delta``, ``delta_f``), ``terminate=True`` by default.

After termination the iterate stays at :math:`\tilde x` (each later ``step()`` still evaluates
its gradient, so the run's cost advances). Function values are charged (fval_calls).

References: C. Jin, R. Ge, P. Netrapalli, S. M. Kakade, M. I. Jordan. How to escape saddle
points efficiently. ICML 2017.
"""

from __future__ import annotations

import math

import torch

from optimizers import _common as C
from optimizers.base import Entry, LogUniform


class PGD(torch.optim.Optimizer):
    def __init__(self, params, mode: str = "practical", L: float | None = None,
                 eps_g: float | None = None, eps_h: float | None = None, lr: float | None = None,
                 r: float | None = None, g_thres: float | None = None, t_thres: int | None = None,
                 f_thres: float | None = None, terminate: bool | None = None,
                 gradient: str = "auto", batch: int = 256, rho: float | None = None,
                 eps: float | None = None, c: float = 0.5, delta: float = 0.1, delta_f: float = 1.0,
                 L_iters: int = 20):
        C.check_choice("mode", mode, ("practical", "theory"))
        C.check_positive("L", L, allow_none=True)
        C.check_positive("eps_g", eps_g, allow_none=True)
        C.check_positive("eps_h", eps_h, allow_none=True)
        C.check_positive("lr", lr, allow_none=True)
        C.check_positive("r", r, allow_none=True)
        C.check_nonneg("g_thres", g_thres, allow_none=True)
        C.check_int("t_thres", t_thres, 0, allow_none=True)
        C.check_nonneg("f_thres", f_thres, allow_none=True)
        if terminate is not None and not isinstance(terminate, bool):
            raise ValueError(f"Invalid terminate: {terminate!r} (must be a bool or None)")
        C.check_choice("gradient", gradient, ("auto", "full", "stochastic"))
        C.check_int("batch", batch, 1)
        C.check_positive("rho", rho, allow_none=True)
        C.check_positive("eps", eps, allow_none=True)
        C.check_positive("c", c)
        C.check_interval("delta", delta, 0.0, 1.0, lo_open=True)
        C.check_positive("delta_f", delta_f)
        C.check_int("L_iters", L_iters, 1)
        super().__init__(params, dict(mode=mode, L=L, eps_g=eps_g, eps_h=eps_h, lr=lr, r=r,
                                      g_thres=g_thres, t_thres=t_thres, f_thres=f_thres,
                                      terminate=terminate, gradient=gradient, batch=batch, rho=rho,
                                      eps=eps, c=c, delta=delta, delta_f=delta_f, L_iters=L_iters))
        C.require_single_param(self)

    @staticmethod
    def constants(group, d: int, facts: dict | None = None) -> dict:
        """(lr, r, g_thres, t_thres, f_thres, terminate) of a group on dimension d.

        ``facts``: the resolved (L, eps_g, eps_h, rho) of ``state["facts"]``; without it the
        group's explicit hyperparameters are used (they must then be given)."""
        f = {k: group.get(k) for k in ("L", "eps_g", "eps_h", "rho")}
        f.update(facts or {})
        L = f["L"]
        if group["mode"] == "theory":
            eps = group["eps"] if group["eps"] is not None else f["eps_g"]
            c, rho = group["c"], f["rho"]
            chi = 3 * max(math.log(d * L * group["delta_f"] / (c * eps ** 2 * group["delta"])), 4)
            k = dict(lr=c / L, r=math.sqrt(c) / chi ** 2 * eps / L,
                     g_thres=math.sqrt(c) / chi ** 2 * eps,
                     t_thres=math.ceil(chi / c ** 2 * L / math.sqrt(rho * eps)),
                     f_thres=c / chi ** 3 * math.sqrt(eps ** 3 / rho), terminate=True)
        else:
            lr = 1.0 / (2 * L)
            k = dict(lr=lr, r=f["eps_g"] / L, g_thres=f["eps_g"],
                     t_thres=None, f_thres=f["eps_g"] ** 2 / (2 * L), terminate=False)
        for key in ("lr", "r", "g_thres", "t_thres", "f_thres", "terminate"):
            if group[key] is not None:
                k[key] = group[key]
        if k["t_thres"] is None:
            k["t_thres"] = math.ceil(math.log(1e3 * math.sqrt(d)) / (k["lr"] * f["eps_h"]))
        return k

    def resolve_facts(self, closure, p, group, st, full: bool, calls: int) -> dict:
        """(L, eps_g, eps_h, rho): explicit hyperparameters, else closure.facts, else (L) the
        counted gradient-difference estimate, else (rho) 1; see the module docstring."""
        eps_g = C.require_fact(group["eps_g"], closure, "eps_g", "pgd")
        eps_h = C.require_fact(group["eps_h"], closure, "eps_h", "pgd")
        rho = float(C.fact(group["rho"], closure, "hessian_lipschitz", 1.0))

        def estimate():
            x, h = p.detach().clone(), C.fd_step(p.dtype)

            def hv(v):
                if full:
                    return (closure.grad(x + h * v, full=True) - closure.grad(x, full=True)) / h
                acc = torch.zeros_like(x)
                for _ in range(calls):
                    acc += closure.grad(x + h * v)
                    acc -= closure.grad(x, same_sample=True)
                return acc / (calls * h)

            gen = C.generator(self, st, p.device)
            est = C.power_norm(hv, C.randn_like(x, gen), group["L_iters"])
            C.save_rng(self, st)
            return est if est > 0 else 1.0

        L = float(C.fact(group["L"], closure, "smoothness", estimate))
        return dict(L=L, eps_g=eps_g, eps_h=eps_h, rho=rho)

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

        if "facts" not in st:
            st["facts"] = self.resolve_facts(closure, p, group, st, full, calls)
        k = self.constants(group, p.numel(), st["facts"])
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
    # eps_g, eps_h, L, rho: from closure.facts (or estimated, see the module docstring)
    # practical mode: lr = 1/(2L), r = eps_g/L, g_thres = eps_g from the facts of the instance
    # run; on population oracles the stochastic variant with means of min(n, 256) samples (the
    # default `batch`: the old quad-saddle setting {"batch": 256} was this default)
    defaults={"mode": "practical"},
    # tuned track: the GD step over sgd's range and the perturbation radius r (its signature
    # knob) over 1e-5 .. 1 (the practical r = eps_g/L runs from about 1e-5 on matrix-sensing to
    # 0.1 and more on quad-saddle); the facts (eps_g, eps_h, L, rho) are never searched
    search_space={"lr": LogUniform(1e-4, 1.0), "r": LogUniform(1e-5, 1.0)},
    summary="Gradient descent plus a uniform-ball perturbation when the gradient is small "
            "(Jin et al. 2017); full gradients on finite sums, minibatch variant otherwise.",
    authors="Jin, Ge, Netrapalli, Kakade, Jordan",
    paper="How to escape saddle points efficiently. ICML 2017",
    url="https://arxiv.org/abs/1703.00887",
    license="MIT",
    oracle_class="first-order",
    elementwise=False,
)
