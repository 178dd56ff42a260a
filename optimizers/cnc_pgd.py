r"""CNC-PGD / "SGD-GD" (Daneshmand, Kohler, Lucchi, Hofmann 2018).

One ``step()`` is one iteration :math:`t` of::

    if ||grad f(w_t)|| <= g_thres and t - t_noise > t_thres:
        w_tilde = w_t; t_noise = t
        w_{t+1} = w_t - r grad f_z(w_t),  z ~ Unif[n]      # ONE stochastic step, large step r
    else:
        w_{t+1} = w_t - eta grad f(w_t)                     # full-gradient GD step
    if certify and t == t_noise + t_thres and f(w_t) - f(w_tilde) > -f_thres:
        stop at w_tilde

with :math:`t_{noise}=-t_{thres}-1`. The perturbation is the stochastic gradient itself (its
Correlated Negative Curvature), not injected noise. ``closure(full=True)`` gives
:math:`\nabla f` (cost n) and ``closure.grad()`` the minibatch :math:`\nabla f_z`.

**Fallback** on population oracles (``closure.finite_sum`` false): the "full" gradient is the
mean of ``batch`` sample gradients (default 256), f likewise; the perturbation stays a single
minibatch gradient. Defaults: ``t_thres=None`` gives
:math:`\lceil\ln(10^3\sqrt d)/(\eta\,\varepsilon_h)\rceil` as in PGD's practical mode,
``certify=False``, ``f_thres`` :math:`=g_{thres}^2/(2/\eta)` (our choice, as in PGD).
The randomized output :math:`w_\tau` of the paper is not drawn: the benchmark logs all iterates.

**Problem facts.** ``g_thres`` and ``eps_h`` default to None: at the first ``step()`` they are
read from ``closure.facts`` (:math:`g_{thres}=\varepsilon_g`, :math:`\varepsilon_h`, the
certificate's thresholds of the instance run) and stored in ``state["facts"]``; a value given
explicitly overrides the fact. ``lr`` and ``r`` are step-size hyperparameters (the search space
of the tuned track), not facts.

References: H. Daneshmand, J. Kohler, A. Lucchi, T. Hofmann. Escaping saddles with stochastic
gradients. ICML 2018.
"""

from __future__ import annotations

import math

import torch

from optimizers import _common as C
from optimizers.base import Entry, LogUniform


class CNCPGD(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 0.1, r: float = 0.5, g_thres: float | None = None,
                 t_thres: int | None = None, eps_h: float | None = None, certify: bool = False,
                 f_thres: float | None = None, batch: int = 256):
        C.check_positive("lr", lr)
        C.check_positive("r", r)
        C.check_nonneg("g_thres", g_thres, allow_none=True)
        C.check_int("t_thres", t_thres, 0, allow_none=True)
        C.check_positive("eps_h", eps_h, allow_none=True)
        if not isinstance(certify, bool):
            raise ValueError(f"Invalid certify: {certify!r} (must be a bool)")
        C.check_nonneg("f_thres", f_thres, allow_none=True)
        C.check_int("batch", batch, 1)
        super().__init__(params, dict(lr=lr, r=r, g_thres=g_thres, t_thres=t_thres, eps_h=eps_h,
                                      certify=certify, f_thres=f_thres, batch=batch))
        C.require_single_param(self)

    @torch.no_grad()
    def step(self, closure=None):
        if closure is None:
            raise ValueError("CNCPGD.step needs the SaddleBench closure")
        p, group = C.single_param(self)
        st = self.state[p]
        if not st:
            st.update(t=0, t_noise=None, stopped=False)
        if "facts" not in st:
            st["facts"] = dict(g_thres=C.require_fact(group["g_thres"], closure, "eps_g", "cnc-pgd"),
                               eps_h=C.require_fact(group["eps_h"], closure, "eps_h", "cnc-pgd"))
        g_thres, eps_h = st["facts"]["g_thres"], st["facts"]["eps_h"]
        full = closure.finite_sum
        calls = 1 if full else C.batch_calls(closure, group["batch"])
        t_thres = group["t_thres"]
        if t_thres is None:
            t_thres = math.ceil(math.log(1e3 * math.sqrt(p.numel())) / (group["lr"] * eps_h))
        f_thres = group["f_thres"] if group["f_thres"] is not None else g_thres ** 2 * group["lr"] / 2
        t = st["t"]
        t_noise = -t_thres - 1 if st["t_noise"] is None else st["t_noise"]
        loss, g = closure.loss_and_grad(full=True) if full else C.mean_grad(closure, calls)
        p.grad = g
        if st["stopped"]:
            return loss
        fval = (lambda: closure.loss(full=True)) if full else (lambda: C.mean_loss(closure, calls))
        if group["certify"] and st["t_noise"] is not None and t == t_noise + t_thres:
            if float(fval()) - float(st["f_tilde"]) > -f_thres:
                p.copy_(st["w_tilde"])
                st["stopped"] = True
                st["t"] = t + 1
                return loss
        if float(g.norm()) <= g_thres and t - t_noise > t_thres:
            st["w_tilde"] = p.detach().clone()
            if group["certify"]:
                st["f_tilde"] = fval()
            st["t_noise"] = t
            p.add_(closure.grad(), alpha=-group["r"])
        else:
            p.add_(g, alpha=-group["lr"])
        st["t"] = t + 1
        return loss


ENTRY = Entry(
    name="cnc-pgd",
    optimizer=CNCPGD,
    # g_thres, eps_h: from closure.facts (eps_g, eps_h of the instance run)
    # lr 0.1, r 0.5: the GD step and the large stochastic step of the class's signature (Daneshmand
    # et al. 2018 give orders, not values); population oracles: means of `batch` = 256 draws (the
    # default: the old quad-saddle setting {"batch": 256} was this default)
    defaults={"lr": 0.1, "r": 0.5},
    # the GD step over sgd's range, and the large step r (its signature knob) over four decades
    search_space={"lr": LogUniform(1e-4, 1.0), "r": LogUniform(1e-3, 10.0)},
    summary="Full-gradient GD plus ONE large stochastic-gradient step r when the gradient is small "
            "(CNC-PGD / SGD-GD, Daneshmand et al. 2018).",
    authors="Daneshmand, Kohler, Lucchi, Hofmann",
    paper="Escaping saddles with stochastic gradients. ICML 2018",
    url="https://arxiv.org/abs/1803.05999",
    license="MIT",
    elementwise=False,
)
