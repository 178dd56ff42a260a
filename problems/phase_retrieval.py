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
from .quadratic import draw_indices
from .registry import register

SADDLE_STREAM = 7  # extra stream id (under the instance seed) for the saddle search


def _grad_hess_np(A: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = A @ w
    n = len(y)
    g = 4 * ((t * t - y) * t) @ A / n
    H = 4 * (A.T * (3 * t * t - y)) @ A / n
    return g, H


@functools.lru_cache(maxsize=8)
def _instance(d: int, n: int, wstar: str, seed: int):
    """Instance data and the Newton-polished empirical strict saddle (cached per process)."""
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
    sgen = rng(seed, INSTANCE_STREAM, SADDLE_STREAM)
    for _attempt in range(20):
        u = sgen.standard_normal(d)
        u -= (u @ w_star) / r2 * w_star
        w = u * np.sqrt(r2 / 3) / np.linalg.norm(u)
        for _ in range(50):  # Newton on grad f = 0 (lstsq step) from a point of the population saddle sphere
            g, H = _grad_hess_np(A, y, w)
            if np.linalg.norm(g) < 1e-11:  # accepted below 1e-10; 1e-14 is under round-off at d=1000
                break
            step = np.linalg.lstsq(H, g, rcond=None)[0]
            w = w - step
            if np.linalg.norm(step) < 1e-13 * np.linalg.norm(w):
                break
        g, H = _grad_hess_np(A, y, w)
        evals, evecs = np.linalg.eigh(H)
        if np.linalg.norm(g) < 1e-10 and evals[0] < -0.1 * r2:
            return A, y, w_star, w, float(evals[0]), evecs[:, 0]
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
        Sizes (d, n): small (10, 200), the paper's instance; medium (100, 2000).

    Oracle:
        A finite sum of n terms; one call is one uniform index i,
        :math:`\nabla f_i(w) = 4\big((a_i^\top w)^2 - y_i\big)(a_i^\top w)\, a_i`, costing one
        sample gradient.

    Saddle and minimum:
        The designated saddle is the empirical strict saddle found by Newton iterations
        (least-squares steps) from a random point of the population saddle sphere
        :math:`w\perp w^\star,\ \|w\|^2=\|w^\star\|^2/3` (in the population, f = 8/3 ||w*||^4
        and :math:`\lambda_{\min} = -8\|w^\star\|^2` there); its value and lambda_min are measured
        (float64 eigvalsh) when the instance is built. The global minima are :math:`\pm w^\star`
        with f* = 0, where every per-sample gradient vanishes (interpolation). w = 0 is a local
        maximum, not a saddle, with grad f_i(0) = 0 for all i. A run has escaped once
        f(w) <= f_s / 2.

        Start (option ``init``): ``saddle`` (default; :math:`w_0 = w_s + \delta\zeta/\|\zeta\|`,
        at distance exactly delta = ``init_delta``, default 1e-6), ``exact`` (w_s itself; the
        per-sample gradients there are nonzero, so SGD escapes) or ``paper``
        (w_0 ~ N(0, I/(10^4 d)), near the local maximum 0, as in Wang et al.).

    Certificate and budget:
        eps_g = 1e-3; eps_h = 0.8 ||w*||^2 = 0.1 |lambda_min| of the population saddle.
        Reference step 5e-3/d. Registered budgets: small 100,000 and medium 500,000 sample
        gradients; a suite may set a smaller one.

    References:
        Wang, Lin, Abernethy, "Escaping saddle points faster with stochastic momentum", ICLR
        2020, eq. (4) and Fig. 2 (the instance); Sun, Qu, Wright, "A geometric analysis of
        phase retrieval", FoCM 2018 (the landscape: every saddle strict, no spurious minimum).
    """

    family = "phase-retrieval"
    sizes = {
        "small": {"d": 10, "n": 200, "budget": 100_000},
        "medium": {"d": 100, "n": 2000, "budget": 500_000},
        # "large" (d=1000, n=20000) is not registered yet: polishing its saddle by dense
        # Newton takes over 10 minutes; it needs a Newton-CG polish on HVPs first.
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
    spec_section = "A5"

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
        self.eps_g, self.eps_h = 1e-3, 0.8 * r2
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
