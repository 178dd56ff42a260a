r"""SGD + NEON negative-curvature extraction (Xu, Rong, Yang 2018 "NEON";
Allen-Zhu & Li 2018 "NEON2"), first-order only (finite-difference HVPs).

One ``step()`` is one SGD step :math:`x\leftarrow x-\eta g` (``closure()``). After it, if the
minibatch gradient norm is :math:`\le\varepsilon_g` or the block of ``K`` SGD steps ends,
``nc_extract`` runs (normalized power iteration on :math:`I-\eta_{nc}H`)::

    u = r_nc zeta/||zeta||, zeta ~ N(0, I)
    for tau in range(T_nc):
        u = u - eta_nc * (grad_B(x + u) - grad_B(x))     # same minibatch B in both (same_sample=True)
        u = r_nc u/||u||
    v = u/||u||;  lam = v.(grad_B'(x + r_nc v) - grad_B'(x)) / r_nc     # fresh B'
    found iff lam <= -eps_h/2

and if found the NC step :math:`x\leftarrow x-\frac{|\hat\lambda|}{\hat\rho}\,s\,v`,
:math:`s=\mathrm{sign}(v^\top g)` (random :math:`\pm1` if 0). A minibatch :math:`B` is
``nc_batch`` samples (default :math:`\min(n,64)`): that many/batch_size closure pairs, each pair
``grad(x+u)`` fresh then ``grad(x, same_sample=True)``, all charged.

Defaults: :math:`\eta_{nc}=1/\hat L`; :math:`r_{nc}=10^{-4}` (float64) / :math:`10^{-3}`
(float32) for ``r_nc=None``; :math:`T_{nc}=\min(10^4,\lceil(\hat L/\varepsilon_h)\ln(d/\delta)\rceil)`,
:math:`\delta=0.1`, for ``nc_iters=None``; ``K=1000``.

**Problem facts.** ``eps_g``, ``eps_h``, ``L``, ``rho`` default to None and are resolved at the
first ``step()`` (stored in ``state["facts"]``; an explicit value overrides):
:math:`\varepsilon_g,\varepsilon_h` <- ``closure.facts.eps_g/eps_h``; :math:`\hat L` <-
``facts.smoothness``, where undeclared the estimate :math:`\max_k\|\hat Hv_k\|` of ``L_iters``
(20) power-iteration steps on the same finite differences as ``nc_extract`` (:math:`r_{nc}`,
``nc_batch``; charged), 1 if that is 0; :math:`\hat\rho` <- ``facts.hessian_lipschitz``, where
undeclared ``rho_fallback`` (default 1), a step-length choice (the NC step is
:math:`|\hat\lambda|/\hat\rho`), not a problem fact.

References: Y. Xu, J. Rong, T. Yang. First-order stochastic algorithms for escaping from saddle
points in almost linear time. NeurIPS 2018. Z. Allen-Zhu, Y. Li. NEON2: finding local minima via
first-order oracles. NeurIPS 2018.
"""

from __future__ import annotations

import math

import torch

from optimizers import _common as C
from optimizers.base import Entry, LogUniform


class NEON(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-3, K: int = 1000, L: float | None = None,
                 rho: float | None = None, eps_g: float | None = None, eps_h: float | None = None,
                 r_nc: float | None = None, nc_iters: int | None = None, nc_lr: float | None = None,
                 nc_batch: int = 64, delta: float = 0.1, rho_fallback: float = 1.0,
                 L_iters: int = 20):
        C.check_positive("lr", lr)
        C.check_int("K", K, 1)
        C.check_positive("L", L, allow_none=True)
        C.check_positive("rho", rho, allow_none=True)
        C.check_positive("eps_g", eps_g, allow_none=True)
        C.check_positive("eps_h", eps_h, allow_none=True)
        C.check_positive("r_nc", r_nc, allow_none=True)
        C.check_int("nc_iters", nc_iters, 1, allow_none=True)
        C.check_positive("nc_lr", nc_lr, allow_none=True)
        C.check_int("nc_batch", nc_batch, 1)
        C.check_interval("delta", delta, 0.0, 1.0, lo_open=True)
        C.check_positive("rho_fallback", rho_fallback)
        C.check_int("L_iters", L_iters, 1)
        super().__init__(params, dict(lr=lr, K=K, L=L, rho=rho, eps_g=eps_g, eps_h=eps_h,
                                      r_nc=r_nc, nc_iters=nc_iters, nc_lr=nc_lr, nc_batch=nc_batch,
                                      delta=delta, rho_fallback=rho_fallback, L_iters=L_iters))
        C.require_single_param(self)

    @staticmethod
    def _fd(closure, x, u, pairs):
        """Mean over ``pairs`` minibatches of grad_B(x + u) - grad_B(x) (same B in both)."""
        acc = torch.zeros_like(x)
        for _ in range(pairs):
            acc += closure.grad(x + u)
            acc -= closure.grad(x, same_sample=True)
        return acc / pairs

    def resolve_facts(self, closure, x, group, st) -> dict:
        """(L, rho, eps_g, eps_h): explicit, else closure.facts, else the documented fallback."""
        eps_g = C.require_fact(group["eps_g"], closure, "eps_g", "neon")
        eps_h = C.require_fact(group["eps_h"], closure, "eps_h", "neon")
        rho = float(C.fact(group["rho"], closure, "hessian_lipschitz", group["rho_fallback"]))

        def estimate():
            r = group["r_nc"] or C.fd_step(x.dtype)
            pairs = C.batch_calls(closure, group["nc_batch"])
            gen = C.generator(self, st, x.device)
            est = C.power_norm(lambda v: self._fd(closure, x, r * v, pairs) / r,
                               C.randn_like(x, gen), group["L_iters"])
            C.save_rng(self, st)
            return est if est > 0 else 1.0

        L = float(C.fact(group["L"], closure, "smoothness", estimate))
        return dict(L=L, rho=rho, eps_g=eps_g, eps_h=eps_h)

    def nc_extract(self, closure, x, group, gen, facts):
        """(v, lam_hat): a negative-curvature direction and its curvature estimate, or None."""
        d = x.numel()
        r = group["r_nc"] or C.fd_step(x.dtype)
        eta = group["nc_lr"] or 1.0 / facts["L"]
        iters = group["nc_iters"] or min(10_000, math.ceil(facts["L"] / facts["eps_h"]
                                                           * math.log(d / group["delta"])))
        pairs = C.batch_calls(closure, group["nc_batch"])
        u = r * C.sphere(x.shape, gen, x.dtype, x.device)
        for _ in range(iters):
            u = u - eta * self._fd(closure, x, u, pairs)
            un = u.norm()
            if float(un) == 0.0:
                u = r * C.sphere(x.shape, gen, x.dtype, x.device)
            else:
                u = r * u / un
        v = u / u.norm()
        lam = float(torch.dot(v.flatten(), self._fd(closure, x, r * v, pairs).flatten())) / r
        return (v, lam) if lam <= -facts["eps_h"] / 2 else None

    @torch.no_grad()
    def step(self, closure=None):
        if closure is None:
            raise ValueError("NEON.step needs the SaddleBench closure")
        p, group = C.single_param(self)
        st = self.state[p]
        if not st:
            st.update(step=0, extractions=0, nc_steps=0)
        if "facts" not in st:
            st["facts"] = self.resolve_facts(closure, p.detach().clone(), group, st)
        facts = st["facts"]
        with torch.enable_grad():
            loss = closure()
        g = p.grad.detach().clone()
        p.add_(g, alpha=-group["lr"])
        st["step"] += 1
        if float(g.norm()) <= facts["eps_g"] or st["step"] % group["K"] == 0:
            gen = C.generator(self, st, p.device)
            found = self.nc_extract(closure, p.detach().clone(), group, gen, facts)
            st["extractions"] += 1
            if found is not None:
                v, lam = found
                vg = float(torch.dot(v.flatten(), g.flatten()))
                s = math.copysign(1.0, vg) if vg != 0 else \
                    (1.0 if C.uniform(gen) < 0.5 else -1.0)
                p.add_(v, alpha=-abs(lam) / facts["rho"] * s)
                st["nc_steps"] += 1
            C.save_rng(self, st)
        return loss


ENTRY = Entry(
    name="neon",
    optimizer=NEON,
    # eps_g, eps_h, L, rho: from closure.facts (see the module docstring)
    # torch.optim.SGD's default lr (1e-3) for the SGD steps, K = 1000 SGD steps per block of the
    # SGD+NEON meta-algorithm; nc_iters = None: the power-iteration length of the theory,
    # min(1e4, ceil(L/eps_h ln(d/delta))) from the facts (the default rule); rho from the facts.
    # The old per-family values: rho_fallback = 0.3 acted only where a problem declares no rho
    # (reddi2d and quad-saddle declare one, so it did nothing there) and stays the documented
    # step-length fallback 1; nc_iters = 30 / 100 (a handful of power steps suffice on the toys)
    # trades extraction cost against accuracy and is now searchable.
    defaults={"lr": 1e-3, "K": 1000},
    # tuned track: the SGD step over sgd's range and the extraction length nc_iters (10 .. 1000)
    search_space={"lr": LogUniform(1e-4, 1.0), "nc_iters": LogUniform(10, 1000, integer=True)},
    summary="SGD plus NEON negative-curvature extraction (finite-difference power iteration with "
            "same-sample gradients) and a negative-curvature step.",
    authors="Xu, Rong, Yang; Allen-Zhu, Li",
    paper="First-order stochastic algorithms for escaping from saddle points in almost linear time. "
          "NeurIPS 2018",
    url="https://arxiv.org/abs/1711.01944",
    license="MIT",
    oracle_class="first-order",
    elementwise=False,
)
