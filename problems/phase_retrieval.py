"""Real Gaussian phase retrieval with a finite sample.

References: Wang, Lin, Abernethy, ICLR 2020, eq. (4) and Fig. 2 (the paper instance);
Sun, Qu, Wright, "A geometric analysis of phase retrieval", FoCM 2018 (landscape).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from .base import INIT_STREAM, INSTANCE_STREAM, Option, Problem, Saddle, rng
from .batch import rows_dot, rows_matmul
from .diagnostics import Diagnostic, nearest_point_rows
from .quadratic import draw_indices
from .registry import register

SADDLE_STREAM = 7  # extra stream id (under the instance seed) for the saddle search
NEWTON_ONLY_MAX_DIM = 100  # above it, the saddle polish minimizes over w ⟂ w* before Newton


def _grad_hess_np(A: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = A @ w
    n = len(y)
    g = 4 * ((t * t - y) * t) @ A / n
    H = 4 * (A.T * (3 * t * t - y)) @ A / n
    return g, H


def _newton(A: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Newton's method on grad f = 0 (least-squares steps), up to 50 steps."""
    for _ in range(50):
        g, H = _grad_hess_np(A, y, w)
        if np.linalg.norm(g) < 1e-11:  # accepted below 1e-10; 1e-14 is under round-off at d=1000
            break
        step = np.linalg.lstsq(H, g, rcond=None)[0]
        w = w - step
        if np.linalg.norm(step) < 1e-13 * np.linalg.norm(w):
            break
    return w


def _restricted_minimum(A: np.ndarray, y: np.ndarray, e: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A local minimizer of f over the hyperplane w ⟂ e (e = w*/||w*||), by L-BFGS from u."""
    from scipy.optimize import minimize

    n = len(y)

    def project(v):
        return v - (v @ e) * e

    def f_and_grad(v):
        w = project(v)
        t = A @ w
        r = t * t - y
        return float(r @ r) / n, project(4 * (r * t) @ A / n)

    res = minimize(f_and_grad, project(u), jac=True, method="L-BFGS-B",
                   options=dict(maxiter=5000, maxcor=30, gtol=1e-12, ftol=1e-15))
    return project(res.x)


def _strict_saddle(A: np.ndarray, y: np.ndarray, w: np.ndarray, r2: float):
    """(w, lambda_min, its eigenvector) if w is a strict saddle (||grad f|| < 1e-10 and
    lambda_min < -0.1 ||w*||^2), else None."""
    g, H = _grad_hess_np(A, y, w)
    evals, evecs = np.linalg.eigh(H)
    if np.linalg.norm(g) < 1e-10 and evals[0] < -0.1 * r2:
        return w, float(evals[0]), evecs[:, 0]
    return None


@functools.lru_cache(maxsize=8)
def _instance(d: int, n: int, wstar: str, seed: int):
    """Instance data and its polished empirical strict saddle (cached per process).

    From a random point of the population saddle sphere, Newton's method on grad f = 0 (d <=
    :data:`NEWTON_ONLY_MAX_DIM`: the small and medium instances, as published since suite v1).
    The population saddles form a sphere of degenerate critical points, so at larger d Newton's
    method wanders along the nearly flat directions (at d = 1000 it diverges); there the polish
    has two stages: minimize f over the hyperplane w ⟂ w* (L-BFGS; there f is strongly curved
    radially and mildly along the sphere, and the minimum is a critical point of f up to the
    gradient along w*), then Newton's method from there, which converges quadratically (the
    remaining step is mostly along w*, the direction of strong negative curvature). 10-20 s at
    d = 1000 on one core.
    """
    gen = rng(seed, INSTANCE_STREAM)
    A = gen.standard_normal((n, d))
    w_star = gen.standard_normal(d)
    if wstar == "unit":
        w_star /= np.linalg.norm(w_star)
    elif wstar == "paper":
        w_star /= np.sqrt(d)
    else:
        raise ValueError(f"phase-retrieval wstar must be 'unit' or 'paper', got {wstar!r}")
    y = (A @ w_star) ** 2
    r2 = float(w_star @ w_star)
    e = w_star / np.sqrt(r2)
    sgen = rng(seed, INSTANCE_STREAM, SADDLE_STREAM)
    for _attempt in range(20):
        u = sgen.standard_normal(d)
        u -= (u @ w_star) / r2 * w_star
        w0 = u * np.sqrt(r2 / 3) / np.linalg.norm(u)
        if d > NEWTON_ONLY_MAX_DIM:
            w0 = _restricted_minimum(A, y, e, w0)
        found = _strict_saddle(A, y, _newton(A, y, w0), r2)
        if found:
            return (A, y, w_star, *found)
    raise RuntimeError(f"phase-retrieval: no strict saddle found for instance seed {seed}")


@register
class PhaseRetrieval(Problem):
    r"""Real Gaussian phase retrieval: recover a signal from the squares of random projections.

    Objective:
        .. math::
            f(w) = \frac1n\sum_{i=1}^n\big((a_i^\top w)^2 - y_i\big)^2,\quad
            y_i = (a_i^\top w^\star)^2,\quad a_i\sim\mathcal N(0, I_d),

        with the measurement vectors a_i and the signal w* drawn from the instance seed
        (option ``wstar``: ``unit``, ||w*|| = 1, the default; or ``paper``, w* ~ N(0, I/d)).
        Sizes (d, n): small (10, 200), the paper's instance; medium (100, 2000); large
        (1000, 20000).

    Oracle:
        A finite sum of n terms; one call is one uniform index i,
        :math:`\nabla f_i(w) = 4\big((a_i^\top w)^2 - y_i\big)(a_i^\top w)\, a_i`, costing one
        sample gradient.

    Saddle and minimum:
        The designated saddle is an empirical strict saddle reached from a random point of the
        population saddle sphere :math:`w\perp w^\star,\ \|w\|^2=\|w^\star\|^2/3` (in the
        population, f = 8/3 ||w*||^4 and :math:`\lambda_{\min} = -8\|w^\star\|^2` there; with
        n = 20 d samples the empirical saddle lies well off that sphere, at ||w||^2 about
        0.6-0.75 ||w*||^2, nearly orthogonal to w*) by Newton's method on grad f = 0 (to ||grad f|| < 1e-10); for d > 100, where
        Newton's method alone wanders off, f is first minimized over the hyperplane
        :math:`w\perp w^\star` (L-BFGS) and Newton's method finishes from there. Its value and lambda_min are measured (float64
        eigh) when the instance is built. The global minima are :math:`\pm w^\star`
        with f* = 0, where every per-sample gradient vanishes (interpolation). w = 0 is a local
        maximum, not a saddle, with grad f_i(0) = 0 for all i. A run has escaped once
        f(w) <= f_s / 2.

        Start (option ``init``): ``saddle`` (default; :math:`w_0 = w_s + \delta\zeta/\|\zeta\|`,
        at distance exactly delta = ``init_delta``, default 1e-6), ``exact`` (w_s itself; the
        per-sample gradients there are nonzero, so SGD escapes) or ``paper``
        (w_0 ~ N(0, I/(10^4 d)), near the local maximum 0, as in Wang et al.). ``start=saddle``
        is ``init=exact``, ``start=random`` is ``init=paper``, and ``start=minimum`` starts at
        w*.

    Certificate and budget:
        eps_g = 1e-3; eps_h = min(0.8 ||w*||^2, |lambda_min(w_s)| / 2): 0.1 |lambda_min| of the
        population saddle, lowered where the empirical saddle is flatter, so that the saddle
        itself never passes the curvature test. Reference step 5e-3/d. Registered budgets:
        small 100,000, medium 500,000 and large 2,000,000 sample gradients; a suite may set a
        smaller one.

    References:
        Wang, Lin, Abernethy, "Escaping saddle points faster with stochastic momentum", ICLR
        2020, eq. (4) and Fig. 2 (the instance); Sun, Qu, Wright, "A geometric analysis of
        phase retrieval", FoCM 2018 (the landscape: every saddle strict, no spurious minimum).
    """

    family = "phase-retrieval"
    sizes = {
        "small": {"d": 10, "n": 200, "budget": 100_000},
        "medium": {"d": 100, "n": 2000, "budget": 500_000},
        "large": {"d": 1000, "n": 20000, "budget": 2_000_000},
    }
    options = {
        "wstar": Option(str, "unit", choices=("unit", "paper"), help=(
            "the signal w*: unit (||w*|| = 1, canonical) or paper (w* ~ N(0, I/d), Wang et al.)")),
        "init": Option(str, "saddle", choices=("saddle", "exact", "paper"), help=(
            "start: saddle (w_s + init_delta zeta/||zeta||), exact (w_s itself) or paper "
            "(w_0 ~ N(0, I/(1e4 d)), near the local maximum 0)")),
        "init_delta": Option(float, 1e-6, min=0.0, help=(
            "with init=saddle only: w_0 = w_s + init_delta * zeta/||zeta|| (zeta ~ N(0, I_d) from "
            "the init seed), distance exactly init_delta from the saddle; 0 is init=exact")),
    }
    reference = "Wang, Lin, Abernethy, ICLR 2020 eq. (4); Sun, Qu, Wright, FoCM 2018"
    start_spellings = {"saddle": {"init": "exact"}, "random": {"init": "paper"}}
    minimum_known = True  # w*
    diagnostics = {"solution_distance": Diagnostic(
        "min(||w - w*||, ||w + w*||) / ||w*||: the distance to the signal up to its sign",
        lambda p, W: nearest_point_rows(W, torch.stack([p.w_star, -p.w_star]), p.wstar_norm2 ** 0.5))}

    def __init__(self, size, instance_seed=0, *, dtype=torch.float64, device="cpu", **options):
        super().__init__(size, instance_seed, dtype=dtype, device=device, **options)
        o = self.option_values  # checked by Option and check_options
        cfg = self.sizes[size]
        d, n = cfg["d"], cfg["n"]
        A, y, w_star, w_s, lam, v = _instance(d, n, str(o["wstar"]), self.instance_seed)
        self.dim, self.n, self.batch_size = d, n, 1
        self.A, self.y = self.tensor(A), self.tensor(y)
        self._w_s = w_s
        self.w_star = self.tensor(w_star)
        self.minimizer = self.w_star
        r2 = float(w_star @ w_star)
        self.wstar_norm2 = r2
        t = A @ w_s
        f_s = float(np.mean((t * t - y) ** 2))
        self.f_star = 0.0
        self.saddle = Saddle(self.tensor(w_s), f_s, lam, escape_delta=0.5 * f_s)
        per_sample = 4 * ((t * t - y) * t)[:, None] * A
        self.cnc_gamma = float(np.mean((per_sample @ v) ** 2))
        self.per_sample_grad_zero_at_saddle = False
        # eps_h below |lambda_min(w_s)| (half of it at most), so the saddle itself never passes
        self.eps_g, self.eps_h = 1e-3, min(0.8 * r2, 0.5 * abs(lam))
        self.budget = cfg["budget"]
        self.lr_reference = 5e-3 / d

    @classmethod
    def check_options(cls, size, values):
        default = cls.options["init_delta"].default
        if values["init"] != "saddle" and values["init_delta"] != default:
            raise cls._option_error(size, f"init_delta is used only with init=saddle, and init="
                                          f"{values['init']} ignores it; drop init_delta")
        if values["init"] == "saddle" and values["init_delta"] == 0:
            values = {**values, "init": "exact", "init_delta": default}  # w_0 = w_s: one id
        return values

    def loss(self, w):
        t = self.A @ w
        r = t * t - self.y
        return (r * r).mean()

    def grad(self, w):
        t = self.A @ w
        return 4 * ((t * t - self.y) * t) @ self.A / self.n

    def hvp(self, w, v):
        t = self.A @ w
        return 4 * ((3 * t * t - self.y) * (self.A @ v)) @ self.A / self.n

    def hessian(self, w):
        t = self.A @ w
        return 4 * (self.A.T * (3 * t * t - self.y)) @ self.A / self.n

    def draw(self, generator, count):
        return self.sample_tensor(draw_indices(generator, count, self.n, self.batch_size))

    def sample_loss_grad(self, w, sample):
        a = self.A[sample]
        t = a @ w
        r = t * t - self.y[sample]
        return (r * r).mean(), 4 * (r * t) @ a / len(t)

    def sample_hvp(self, w, v, sample):
        a = self.A[sample]
        t = a @ w
        return 4 * ((3 * t * t - self.y[sample]) * (a @ v)) @ a / len(t)

    # batched rows (problems/batch.py): t = A w is the row product W A^T (rows_matmul); one
    # call's rows a_i are gathered per row.
    def _loss_rows(self, W):
        t = rows_matmul(W, self.A.T)
        r = t * t - self.y
        return (r * r).mean(1)

    def _grad_rows(self, W):
        t = rows_matmul(W, self.A.T)
        return 4 * rows_matmul((t * t - self.y) * t, self.A) / self.n

    def _loss_grad_rows(self, W):
        t = rows_matmul(W, self.A.T)
        r = t * t - self.y
        return (r * r).mean(1), 4 * rows_matmul(r * t, self.A) / self.n

    def _hvp_rows(self, W, V):
        t = rows_matmul(W, self.A.T)
        return 4 * rows_matmul((3 * t * t - self.y) * rows_matmul(V, self.A.T), self.A) / self.n

    def _sample_loss_grad_rows(self, W, samples):
        a = self.A[samples]  # (S, batch, d)
        t = rows_dot(a, W[:, None, :])
        r = t * t - self.y[samples]
        return (r * r).mean(1), 4 * ((r * t)[:, :, None] * a).sum(1) / samples.shape[1]

    def _sample_hvp_rows(self, W, V, samples):
        a = self.A[samples]
        t = rows_dot(a, W[:, None, :])
        c = (3 * t * t - self.y[samples]) * rows_dot(a, V[:, None, :])
        return 4 * (c[:, :, None] * a).sum(1) / samples.shape[1]

    def initial_point(self, init_seed):
        o = self.option_values
        gen = rng(init_seed, INIT_STREAM)
        if o["init"] == "paper":
            return self.tensor(gen.standard_normal(self.dim) / np.sqrt(1e4 * self.dim))
        w0 = self._w_s.copy()
        delta = float(o["init_delta"])
        if o["init"] == "saddle" and delta:
            z = gen.standard_normal(self.dim)
            w0 = w0 + delta * z / np.linalg.norm(z)
        return self.tensor(w0)

    def describe(self):
        return {**super().describe(), "wstar_norm2": self.wstar_norm2, "lr_reference": self.lr_reference}
