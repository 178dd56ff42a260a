r"""SGD + NEON negative-curvature extraction (SPEC.md B16; Xu, Rong, Yang 2018 "NEON";
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
:math:`\delta=0.1`, for ``nc_iters=None``; ``K=1000``. :math:`\hat L` (``L``), :math:`\hat\rho`
(``rho``), :math:`\varepsilon_g`, :math:`\varepsilon_h` are problem facts: per-family hyperparameters.

References: Y. Xu, J. Rong, T. Yang. First-order stochastic algorithms for escaping from saddle
points in almost linear time. NeurIPS 2018. Z. Allen-Zhu, Y. Li. NEON2: finding local minima via
first-order oracles. NeurIPS 2018.
"""

from __future__ import annotations

import math

import torch

from optimizers import _common as C
from optimizers import _families
from optimizers.base import Entry


class NEON(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-3, K: int = 1000, L: float = 1.0, rho: float = 1.0,
                 eps_g: float = 5e-3, eps_h: float = 1e-2, r_nc: float | None = None,
                 nc_iters: int | None = None, nc_lr: float | None = None, nc_batch: int = 64,
                 delta: float = 0.1):
        C.check_positive("lr", lr)
        C.check_int("K", K, 1)
        C.check_positive("L", L)
        C.check_positive("rho", rho)
        C.check_positive("eps_g", eps_g)
        C.check_positive("eps_h", eps_h)
        C.check_positive("r_nc", r_nc, allow_none=True)
        C.check_int("nc_iters", nc_iters, 1, allow_none=True)
        C.check_positive("nc_lr", nc_lr, allow_none=True)
        C.check_int("nc_batch", nc_batch, 1)
        C.check_interval("delta", delta, 0.0, 1.0, lo_open=True)
        super().__init__(params, dict(lr=lr, K=K, L=L, rho=rho, eps_g=eps_g, eps_h=eps_h,
                                      r_nc=r_nc, nc_iters=nc_iters, nc_lr=nc_lr, nc_batch=nc_batch,
                                      delta=delta))
        C.require_single_param(self)

    @staticmethod
    def _fd(closure, x, u, pairs):
        """Mean over ``pairs`` minibatches of grad_B(x + u) - grad_B(x) (same B in both)."""
        acc = torch.zeros_like(x)
        for _ in range(pairs):
            acc += closure.grad(x + u)
            acc -= closure.grad(x, same_sample=True)
        return acc / pairs

    def nc_extract(self, closure, x, group, gen):
        """(v, lam_hat) or None (SPEC.md B16)."""
        d = x.numel()
        r = group["r_nc"] or (1e-4 if x.dtype == torch.float64 else 1e-3)
        eta = group["nc_lr"] or 1.0 / group["L"]
        iters = group["nc_iters"] or min(10_000, math.ceil(group["L"] / group["eps_h"]
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
        return (v, lam) if lam <= -group["eps_h"] / 2 else None

    @torch.no_grad()
    def step(self, closure=None):
        if closure is None:
            raise ValueError("NEON.step needs the SaddleBench closure")
        p, group = C.single_param(self)
        st = self.state[p]
        if not st:
            st.update(step=0, extractions=0, nc_steps=0)
        with torch.enable_grad():
            loss = closure()
        g = p.grad.detach().clone()
        p.add_(g, alpha=-group["lr"])
        st["step"] += 1
        if float(g.norm()) <= group["eps_g"] or st["step"] % group["K"] == 0:
            gen = C.generator(self, st, p.device)
            found = self.nc_extract(closure, p.detach().clone(), group, gen)
            st["extractions"] += 1
            if found is not None:
                v, lam = found
                vg = float(torch.dot(v.flatten(), g.flatten()))
                s = math.copysign(1.0, vg) if vg != 0 else \
                    (1.0 if float(torch.rand((), generator=gen)) < 0.5 else -1.0)
                p.add_(v, alpha=-abs(lam) / group["rho"] * s)
                st["nc_steps"] += 1
            C.save_rng(self, st)
        return loss


ENTRY = Entry(
    name="neon",
    optimizer=NEON,
    defaults={"lr": 1e-3, "K": 1000, "L": 1.0, "rho": 1.0, "eps_g": 5e-3, "eps_h": 1e-2},
    family_hparams={
        **_families.per_family(lambda s, g, h: {"lr": s, "L": 1 / (2 * s), "eps_g": g, "eps_h": h}),
        # rho-hat is a Hessian-Lipschitz estimate near w_s; 0.3 puts the NC step (|lam|/rho = 0.33)
        # near the reddi2d minimum at 0.56. nc_iters: I - H/L has eigenvalues {0, 1.1} there, a
        # handful of power steps suffice (SPEC's formula would give 300).
        "reddi2d": {"lr": 5e-4, "K": 1000, "L": 1.0, "rho": 0.3, "eps_g": 5e-3, "eps_h": 1e-2,
                    "nc_iters": 30},
        "quad-saddle": {"lr": 5e-4, "K": 1000, "L": 1.0, "rho": 0.3, "eps_g": 1.42e-2,
                        "eps_h": 1e-2, "nc_iters": 100},
    },
    summary="SGD plus NEON negative-curvature extraction (finite-difference power iteration with "
            "same-sample gradients) and a negative-curvature step.",
    authors="Xu, Rong, Yang; Allen-Zhu, Li",
    paper="First-order stochastic algorithms for escaping from saddle points in almost linear time. "
          "NeurIPS 2018",
    url="https://arxiv.org/abs/1711.01944",
    license="MIT",
    spec_section="B16",
    oracle_class="first-order",
    elementwise=False,
)
