"""Embedded quadratic saddles: the 2-D Reddi toy and its d-dimensional version.

References: Wang, Lin, Abernethy, "Escaping saddle points faster with stochastic momentum",
ICLR 2020, eq. (3); Reddi et al., AISTATS 2018; Staib et al., ICML 2019.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import brentq

from .base import (INSTANCE_STREAM, Option, Problem, Saddle, draw_indices, draw_normal,
                   haar_orthogonal, rng)
from .batch import ipow, rows_matmul, rows_sum
from .diagnostics import Diagnostic, nearest_point_rows
from .registry import register


def _pow9(w: torch.Tensor) -> torch.Tensor:
    """w**9 by repeated multiplication (about 7x faster than pow)."""
    w2 = w * w
    w4 = w2 * w2
    return w4 * w4 * w


__all__ = ["NOISE_PRESETS", "QuadSaddle", "Reddi2D", "draw_indices"]  # draw_indices: re-export


# ---------------------------------------------------------------------------------------------
@register
class Reddi2D(Problem):
    r"""The 2-D toy saddle of Wang, Lin and Abernethy: a quadratic saddle confined by a 10th power.

    Objective:
        .. math::
            f(w) = \frac1n \sum_{i=1}^n \tfrac12 w^\top H w + b_i^\top w + \|w\|_{10}^{10},
            \quad H = \mathrm{diag}(1, -0.1),\ b_i \sim \mathcal N(0, \mathrm{diag}(0.1, 0.001)),\ n = 10.

        The quadratic part has curvature +1 along e_1 and -0.1 along e_2; the term
        :math:`\|w\|_{10}^{10}` keeps the function bounded below. The vectors b_i are drawn from
        the instance seed.

    Oracle:
        A finite sum of n = 10 terms. One call returns
        :math:`\nabla f_i(w) = Hw + b_i + 10\, w^{\circ 9}` for one uniform index i and costs one
        sample gradient. The Hessian :math:`H + 90\,\mathrm{diag}(w^{\circ 8})` is the same for
        every i; the noise comes only from the linear terms b_i.

    Saddle and minimum:
        canonical: the b_i are centered (their mean is subtracted), so the saddle is exactly
            :math:`w_s = 0` with :math:`f_s = 0` and :math:`\lambda_{\min} = -0.1`; the two global
            minima are :math:`(0, \pm u^\star)`, :math:`u^\star = 10^{-1/4}` from the 1-D
            stationarity equation :math:`10 u^9 - 0.1 u = 0`, with
            :math:`f^\star = -0.04 \cdot 10^{-1/2}`. Start: w_0 = 0, the saddle itself.
        paper: the paper's uncentered draws; w_0 = 0 is near, not at, the saddle, whose exact
            location and f* come from the real roots of the separable stationarity equation
            :math:`10 w_j^9 + H_{jj} w_j + \bar b_j = 0` in each coordinate.

        ``start=minimum`` starts at the minimum (0, +u*) (canonical) or at the coordinatewise
        argmin of those roots (paper). A run has escaped once f(w) <= f_s - (f_s - f*)/2 (option
        ``escape_delta`` sets the margin).

    Rotation:
        Option ``rotate`` turns the whole landscape by a Haar-random 2 x 2 orthogonal R from the
        instance seed (drawn after the b_i, which stay the same): f_R(w) = f(R^T w). H becomes
        R H R^T, the linear terms R b_i (so the noise covariance becomes
        R diag(0.1, 0.001) R^T: the noise is no longer aligned with the axes), and the wall
        :math:`\|R^\top w\|_{10}^{10}`. Saddle, minima and start rotate with it
        (w_s = R 0 = 0 for canonical); f_s, f*, lambda_min, the escape test (a level of f) and
        the certificate (||grad f||, the Hessian spectrum) are invariant under the rotation.

    Certificate and budget:
        eps_g = 5e-3 and eps_h = 1e-2 = 0.1 |lambda_min(w_s)|, so the saddle itself cannot pass.
        The registered budget is 400,000 sample gradients; a suite may set a smaller one (the
        problem page gives the budget of each board). Declared smoothness on the box
        :math:`|(R^\top w)_j| \le 0.6` (saddle, minima, start; R = I without ``rotate``):
        :math:`L = 1 + 90 \cdot 0.6^8`, :math:`\rho = 720 \cdot 0.6^7`.

    References:
        Wang, Lin, Abernethy, "Escaping saddle points faster with stochastic momentum", ICLR
        2020, eq. (3) (the toy problem); Reddi et al., "A generic approach for escaping saddle
        points", AISTATS 2018.
    """

    family = "reddi2d"
    sizes = {"canonical": {"centered": True}, "paper": {"centered": False}}
    options = {
        "init_delta": Option(float, 0.0, min=0.0, help=(
            "start w_0 = init_delta * zeta, zeta ~ N(0, I_2) from the init seed, NOT normalized "
            "(E||w_0|| ~ 1.25 init_delta); 0 starts at w = 0 (the saddle of size canonical)")),
        "rotate": Option(bool, False, help=(
            "rotate the landscape (Hessian, linear noise terms, the 10th-power wall) by a "
            "Haar-random 2 x 2 orthogonal R from the instance seed")),
    }
    reference = "Wang, Lin, Abernethy, ICLR 2020, eq. (3); Reddi et al., AISTATS 2018"
    minimum_known = True
    diagnostics = {"solution_distance": Diagnostic(
        "min ||w - w*|| / ||w*|| over the global minima w* (canonical: R(0, +-u*); paper: the "
        "one global minimum)",
        lambda p, W: nearest_point_rows(W, p.global_minima, float(p.minimizer.norm())))}

    H_DIAG = (1.0, -0.1)
    B_VARIANCE = (0.1, 0.001)

    U_STAR = 10 ** -0.25  # the minimum along e_2 (canonical): 10 u^9 - 0.1 u = 0

    @classmethod
    def start_spellings_at(cls, size):
        # canonical: the default start (init_delta = 0) is w = 0, the saddle; paper: w = 0 is near it
        return {"saddle": {"init_delta": 0.0}} if cls.sizes[size]["centered"] else {}

    def __init__(self, size, instance_seed=0, *, dtype=torch.float64, device="cpu", **options):
        super().__init__(size, instance_seed, dtype=dtype, device=device, **options)
        centered = self.sizes[size]["centered"]
        self.dim, self.n, self.batch_size = 2, 10, 1
        gen = rng(self.instance_seed, INSTANCE_STREAM)
        b = gen.standard_normal((self.n, 2)) * np.sqrt(self.B_VARIANCE)
        if centered:
            b = b - b.mean(axis=0)
        # drawn after b, so that the b_i (in the rotated frame u = R^T w) are the same
        self.R = self.tensor(haar_orthogonal(gen, 2)) if self.option_values["rotate"] else None
        self._b_np = b
        self.b = self.tensor(b)
        self.b_mean = self.b.mean(dim=0)
        self.h = self.tensor(self.H_DIAG)
        self.eps_g, self.eps_h = 5e-3, 1e-2
        # Declared on the stated region, the box |w_j| <= 0.6 (saddle, minima, start): Hess f =
        # diag(1, -0.1) + 90 diag(w^8), so ||Hess f|| <= 1 + 90 r^8 and rho = max |720 w^7| = 720 r^7.
        self.smoothness, self.hessian_lipschitz = 1.0 + 90 * 0.6 ** 8, 720 * 0.6 ** 7
        self.budget = 400_000
        self.per_sample_grad_zero_at_saddle = False
        if centered:
            w_s, lam = np.zeros(2), -0.1
            self.f_star = -0.04 * 10 ** -0.5
            w_min = np.array([0.0, self.U_STAR])
        else:
            w_s, lam, self.f_star, w_min = self._paper_saddle(b.mean(axis=0))
        self.minimizer = self._from_u(self.tensor(w_min))
        mirrored = [self._from_u(self.tensor(w_min * [1.0, -1.0]))] if centered else []
        self.global_minima = torch.stack([self.minimizer, *mirrored])  # (canonical: both signs)
        point = self._from_u(self.tensor(w_s))
        value = float(self.loss(point))
        self.saddle = Saddle(point, value, lam, escape_delta=0.5 * (value - self.f_star))
        # CNC constant E_i <grad f_i(w_s), e_2>^2: the variance of the b_i along e_2 (+ mean^2).
        grads = (np.asarray(self.H_DIAG) * w_s + b + 10 * w_s ** 9)[:, 1]
        self.cnc_gamma = float(np.mean(grads ** 2))

    def _paper_saddle(self, b_mean: np.ndarray) -> tuple[np.ndarray, float, float, np.ndarray]:
        """Exact saddle of the uncentered instance, its lambda_min, f* and a global minimum, from
        the real roots of each coordinate's stationarity equation."""
        def real_roots(lam: float, bj: float) -> np.ndarray:
            # d/dw [lam/2 w^2 + bj w + w^10] = 10 w^9 + lam w + bj
            coeffs = np.zeros(10)
            coeffs[0], coeffs[8], coeffs[9] = 10.0, lam, bj
            roots = np.roots(coeffs)
            return np.sort(roots[np.abs(roots.imag) < 1e-9].real)

        r1 = real_roots(1.0, b_mean[0])
        r2 = real_roots(-0.1, b_mean[1])
        if len(r2) != 3:
            raise ValueError(f"reddi2d:paper instance {self.instance_seed} has no saddle "
                             f"(|mean b_2| = {abs(b_mean[1]):.4f} >= 0.038); use another instance seed")
        w_s = np.array([r1[0], r2[1]])
        lam_min = -0.1 + 90 * w_s[1] ** 8
        f_star, w_min = 0.0, []
        for lam, bj, roots in ((1.0, b_mean[0], r1), (-0.1, b_mean[1], r2)):
            best = min(roots, key=lambda r: 0.5 * lam * r ** 2 + bj * r + r ** 10)
            f_star += 0.5 * lam * best ** 2 + bj * best + best ** 10
            w_min.append(best)
        return w_s, float(lam_min), float(f_star), np.array(w_min)

    # rotation: u = R^T w (the frame where H is diagonal), back w = R u; the identity without
    # rotate, so that the unrotated code is exactly the elementwise one
    def _to_u(self, w):
        return w if self.R is None else self.R.T @ w

    def _from_u(self, u):
        return u if self.R is None else self.R @ u

    def _to_u_rows(self, W):
        return W if self.R is None else rows_matmul(W, self.R)

    def _from_u_rows(self, U):
        return U if self.R is None else rows_matmul(U, self.R.T)

    def _curvature(self, u):
        u2 = u * u
        u4 = u2 * u2
        return self.h + 90 * u4 * u4

    # exact objective
    def loss(self, w):
        u = self._to_u(w)
        return 0.5 * (self.h * u * u).sum() + self.b_mean @ u + (_pow9(u) * u).sum()

    def grad(self, w):
        u = self._to_u(w)
        return self._from_u(self.h * u + self.b_mean + 10 * _pow9(u))

    def hvp(self, w, v):
        return self._from_u(self._curvature(self._to_u(w)) * self._to_u(v))

    def hessian(self, w):
        c = self._curvature(self._to_u(w))
        return torch.diag(c) if self.R is None else (self.R * c) @ self.R.T

    # stochastic oracle: one index per call
    def draw(self, generator, count):
        return self.sample_tensor(draw_indices(generator, count, self.n, self.batch_size))

    def sample_loss_grad(self, w, sample):
        b = self.b[sample].mean(dim=0)
        u = self._to_u(w)
        u9 = _pow9(u)
        loss = 0.5 * (self.h * u * u).sum() + b @ u + (u9 * u).sum()
        return loss, self._from_u(self.h * u + b + 10 * u9)

    def sample_hvp(self, w, v, sample):
        return self.hvp(w, v)  # the Hessian is the same for every i

    # batched rows (problems/batch.py): without rotate, elementwise, so gradients and HVPs are
    # bitwise the single-w ones (losses add up in another order); with rotate, U = W R
    # (rows_matmul) and back
    def _rows_loss(self, U, U9, b):
        return rows_sum((0.5 * self.h * U + b + U9) * U)

    def _loss_rows(self, W):
        U = self._to_u_rows(W)
        return self._rows_loss(U, _pow9(U), self.b_mean)

    def _grad_rows(self, W):
        U = self._to_u_rows(W)
        return self._from_u_rows(self.h * U + self.b_mean + 10 * _pow9(U))

    def _loss_grad_rows(self, W):
        U = self._to_u_rows(W)
        U9 = _pow9(U)
        return self._rows_loss(U, U9, self.b_mean), self._from_u_rows(self.h * U + self.b_mean + 10 * U9)

    def _hvp_rows(self, W, V):
        if self.R is None:
            return self.hvp(W, V)  # elementwise
        return self._from_u_rows(self._curvature(self._to_u_rows(W)) * self._to_u_rows(V))

    def _sample_loss_grad_rows(self, W, samples):
        if samples.shape[1] == 1:  # one index per call: the mean of one row is that row
            b = self.b.index_select(0, samples.view(-1))
        else:
            b = self.b[samples].mean(dim=1)  # (S, batch, 2) -> (S, 2)
        U = self._to_u_rows(W)
        U9 = _pow9(U)
        return self._rows_loss(U, U9, b), self._from_u_rows(self.h * U + b + 10 * U9)

    def _sample_hvp_rows(self, W, V, samples):
        return self._hvp_rows(W, V)

    def negative_coordinates_rows(self, D):
        """Closed form: Hess f(w_s) = R diag(c) R^T with c the curvatures at u_s = R^T w_s, so
        the negative eigenspace is spanned by the columns of R where c < 0 (e_2 unrotated)."""
        negative = torch.nonzero(self._curvature(self._to_u(self.saddle.point)) < 0).flatten()
        return self._to_u_rows(D)[:, negative]

    def initial_point(self, init_seed):
        return self.perturbed_origin(init_seed)


# ---------------------------------------------------------------------------------------------
NOISE_PRESETS = {  # (sigma_+^2, sigma_-^2)
    "aniso": (0.1, 1e-3),
    "iso": (0.1, 0.1),
    "hard": (0.1, 1e-5),
    "cnc0": (0.1, 0.0),
}


@register
class QuadSaddle(Problem):
    r"""The d-dimensional embedded quadratic saddle: k negative directions, a p-th power wall.

    Objective:
        .. math::
            f(w) = \tfrac12 u^\top\Lambda u + \sum_{j=1}^d u_j^p,\qquad u = Q^\top w,

        with :math:`\Lambda = \mathrm{diag}(1,\dots,1,-\mu,\dots,-\mu)` (d - k positive and k
        negative directions), p even (default 10, option ``p``), mu > 0 (default 0.1, option
        ``mu``) and Q = I or a Haar-random rotation from the instance seed (option ``rotate``).
        Option ``spectrum=logspaced`` spreads the positive eigenvalues over [0.1, 1]. Each size
        fixes (d, k) (small (10, 1), medium (100, 5), large (1000, 10), xl and larger
        (10^4 ... 10^7, 10)); options ``d`` and ``k`` override them (1 <= k < d), so that a sweep
        over d at fixed k, mu and noise is a set of ids (the size then only gives the budget).

    Oracle:
        A population oracle with additive Gaussian noise:

        .. math::
            F(w;\zeta) = f(w) + (Q D^{1/2}\zeta)^\top w,\qquad \zeta\sim\mathcal N(0, I_d),

        :math:`D = \mathrm{diag}(\sigma_+^2,\dots,\sigma_-^2,\dots)`: variance sigma_+^2 = 0.1
        along the positive directions and sigma_-^2 along the negative ones (option ``noise``:
        aniso 1e-3, iso 0.1, hard 1e-5, cnc0 0). One call is one fresh draw of zeta and costs one
        sample gradient (``batch`` draws averaged cost ``batch``). With option ``n`` the oracle is
        instead a finite sum of n centered draws fixed by the instance seed, and one call is one
        uniform index. The noise is linear in w, so every sample has the Hessian of f.

    Saddle and minimum:
        The strict saddle is w_s = 0 with f_s = 0 and :math:`\lambda_{\min} = -\mu` (multiplicity
        k); runs start there (option ``init_delta`` adds a perturbation
        :math:`w_0 = \delta\zeta`, not normalized). The :math:`2^k` global minima sit at
        :math:`u_j = \pm u^\star` on the negative directions, :math:`u^\star = (\mu/p)^{1/(p-2)}`, with

        .. math::
            f^\star = -k\,c_p,\qquad c_p = \mu\,\frac{p-2}{2p}\,\Big(\frac{\mu}{p}\Big)^{2/(p-2)}.

        ``start=minimum`` starts at the minimum :math:`u_j = +u^\star` on every negative
        direction (w = Q u).

        Escape is tested by projection: a run has escaped once
        :math:`\|P_-(w - w_s)\| \ge R`, P_- the projection on the negative directions and R the
        radius where a single negative direction has descended by Delta:
        :math:`-\mu R^2/2 + R^p = -\Delta`, the smaller root, with :math:`\Delta = c_p/2` by
        default. Since :math:`\sum_j u_j^p` is largest, for a given :math:`\|u_-\|`, when u_-
        lies along one direction, every point past R has its negative-subspace part of f at or
        below :math:`-\Delta` (within :math:`\|u_-\| \le u^\star`). Option ``escape_delta``
        sets Delta (0 < Delta < c_p, the depth of one direction's minimum); the record's
        escape_delta is then Delta (by default it is the f-margin k c_p/2, which equals the
        projection level c_p/2 for k = 1). The f-level test used elsewhere fails here at large
        d: the noise energy in the d - k positive directions (0.12 at d = 1000) exceeds the
        escape margin.

    Certificate and budget:
        eps_h = 0.1 mu. eps_g = max(5e-3, 3 sqrt(eta tr(Lambda_+ Sigma_+)/2)) with the reference
        step eta = ``ETA_REFERENCE`` = 5e-4: three times the gradient-noise floor of
        constant-step SGD at that step, so the noise alone does not keep a good method from
        certifying (it grows with d - k: a sweep over d changes eps_g with it). Registered budgets (sample gradients): small and medium 1,000,000, larger
        sizes 2,000,000; a suite may set a smaller one. Declared smoothness on the box
        :math:`\|Q^\top w\|_\infty \le u^\star`: :math:`L = \max\Lambda_+ + (p-1)\mu`,
        :math:`\rho = p(p-1)(p-2)(u^\star)^{p-3}`.

    References:
        The d-dimensional generalization, with its noise presets, is this project's own,
        built on the 2-D toy of Wang, Lin, Abernethy, ICLR 2020 (see reddi2d); the noise along
        the negative directions is the correlated-negative-curvature (CNC) condition of
        Daneshmand, Kohler, Lucchi, Hofmann, ICML 2018 (``cnc0`` removes it).
    """

    family = "quad-saddle"
    sizes = {
        "small": {"d": 10, "k": 1, "budget": 1_000_000},
        "medium": {"d": 100, "k": 5, "budget": 1_000_000},
        "large": {"d": 1000, "k": 10, "budget": 2_000_000},
        "xl": {"d": 10_000, "k": 10, "budget": 2_000_000},
        "xxl": {"d": 100_000, "k": 10, "budget": 2_000_000},
        "1e6": {"d": 1_000_000, "k": 10, "budget": 2_000_000},  # throughput sizes (diagonal only)
        "1e7": {"d": 10_000_000, "k": 10, "budget": 2_000_000},
    }
    options = {
        "noise": Option(str, "aniso", choices=tuple(NOISE_PRESETS), help=(
            "noise preset (sigma_+^2, sigma_-^2): aniso (0.1, 1e-3), iso (0.1, 0.1), hard (0.1, 1e-5), "
            "cnc0 (0.1, 0: no noise along the negative directions)")),
        "rotate": Option(bool, False, help=(
            "rotate the landscape by a Haar-random orthogonal Q from the instance seed "
            "(sizes with d <= 2000)")),
        "spectrum": Option(str, "flat", choices=("flat", "logspaced"), help=(
            "positive Hessian eigenvalues at the saddle: all 1 (flat) or logspaced in [0.1, 1]")),
        "mu": Option(float, 0.1, min=0.0, min_exclusive=True, help=(
            "negative curvature: lambda_min = -mu at the saddle; eps_h = 0.1 mu")),
        "p": Option(int, 10, min=4, even=True, help=(
            "degree of the confining term sum_j u_j^p (even, >= 4)")),
        "n": Option(int, None, min=1, help=(
            "finite sum of n centered noise draws from the instance seed (one call = one index); "
            "none: population oracle, one call = one fresh draw")),
        "batch": Option(int, 1, min=1, help=(
            "samples averaged per stochastic oracle call; each call costs batch sample gradients")),
        "init_delta": Option(float, 0.0, min=0.0, help=(
            "start w_0 = init_delta * zeta, zeta ~ N(0, I_d) from the init seed, NOT normalized "
            "(||w_0|| ~ init_delta sqrt(d)); 0 starts exactly at the saddle w = 0")),
        "d": Option(int, None, min=2, max=10_000_000, help=(
            "dimension d, overriding the size's (none: the size's; the budget stays the size's)")),
        "k": Option(int, None, min=1, help=(
            "number of negative directions k, 1 <= k < d, overriding the size's (none: the size's)")),
    }
    reference = "Wang, Lin, Abernethy, ICLR 2020 (the 2-D toy, generalized here to d dimensions)"

    diagnostics = {"solution_distance": Diagnostic(
        "min ||w - w*|| / ||w*|| over the 2^k global minima (u_j = +-u* on the negative "
        "directions, 0 elsewhere): sqrt(||u_+||^2 + sum_j (|u_j| - u*)^2) / (sqrt(k) u*), u = Q^T w",
        lambda p, W: p.solution_distance_rows(W))}

    ETA_REFERENCE = 5e-4  # step size at which eps_g is 3x the SGD noise floor
    MAX_ROTATED_DIM = 2000
    start_spellings = {"saddle": {"init_delta": 0.0}}  # the default start is w_s = 0
    minimum_known = True

    @classmethod
    def shape(cls, size: str, values) -> tuple[int, int]:
        """(d, k): the size's, or options ``d`` / ``k``."""
        cfg = cls.sizes[size]
        return (cfg["d"] if values.get("d") is None else int(values["d"]),
                cfg["k"] if values.get("k") is None else int(values["k"]))

    @staticmethod
    def depth(mu: float, p: int) -> float:
        """c_p = mu (p-2)/(2p) (mu/p)^(2/(p-2)): how far one negative direction descends."""
        return mu * (p - 2) / (2 * p) * (mu / p) ** (2 / (p - 2))

    def __init__(self, size, instance_seed=0, *, dtype=torch.float64, device="cpu", **options):
        super().__init__(size, instance_seed, dtype=dtype, device=device, **options)
        o = self.option_values  # checked by Option and check_options
        d, k = self.shape(size, o)
        mu, p = float(o["mu"]), int(o["p"])
        self.dim, self.k, self.mu, self.p = d, k, mu, p
        self.batch_size = int(o["batch"])
        gen = rng(self.instance_seed, INSTANCE_STREAM)
        if o["spectrum"] == "flat":
            lam_pos = np.ones(d - k)
        else:  # logspaced
            lam_pos = np.logspace(-1, 0, d - k)
        var_pos, var_neg = NOISE_PRESETS[o["noise"]]
        lam = np.concatenate([lam_pos, -mu * np.ones(k)])
        noise_var = np.concatenate([var_pos * np.ones(d - k), var_neg * np.ones(k)])
        self.lam = self.tensor(lam)
        self.noise_std = self.tensor(np.sqrt(noise_var))
        self.Q = self.tensor(haar_orthogonal(gen, d)) if o["rotate"] else None
        self.n = None if o["n"] is None else int(o["n"])
        if self.n is not None:
            zeta = gen.standard_normal((self.n, d))
            zeta -= zeta.mean(axis=0)
            self.zeta = self.tensor(zeta)
            self._noise_var_neg = float(np.mean(zeta[:, d - k:] ** 2) * var_neg)
        self.eps_g = max(5e-3, 3 * math.sqrt(self.ETA_REFERENCE * float(np.sum(lam_pos * var_pos)) / 2))
        self.eps_h = 0.1 * mu
        self.budget = self.sizes[size]["budget"]
        c_p = self.depth(mu, p)
        self.u_star = (mu / p) ** (1 / (p - 2))
        # Declared on the stated region, the box ||Q^T w||_inf <= u* (the saddle, all 3^k critical
        # points, the default start): curvatures lam_j + p(p-1) u_j^(p-2) with u*^(p-2) = mu/p give
        # ||Hess f|| <= max(lam) + (p-1) mu, rho <= p(p-1)(p-2) u*^(p-3).
        self.smoothness = float(lam_pos.max()) + (p - 1) * mu
        self.hessian_lipschitz = p * (p - 1) * (p - 2) * self.u_star ** (p - 3)
        self.f_star = -k * c_p
        self.saddle = Saddle(torch.zeros(d, dtype=dtype, device=self.device), 0.0, -mu,
                             escape_delta=0.5 * k * c_p)
        self.cnc_gamma = var_neg if self.n is None else self._noise_var_neg
        # escape radius R on one negative direction: -mu r^2/2 + r^p = -Delta (projection test)
        delta = c_p / 2 if o["escape_delta"] is None else float(o["escape_delta"])
        self.escape_radius = float(brentq(lambda r: -mu * r * r / 2 + r ** p + delta, 1e-12, self.u_star))
        self.per_sample_grad_zero_at_saddle = var_neg == 0.0

    @property
    def minimizer(self) -> torch.Tensor:
        """The global minimum u_j = +u* on the negative directions (and 0 elsewhere), w = Q u."""
        u = torch.zeros(self.dim, dtype=self.dtype, device=self.device)
        u[self.dim - self.k:] = self.u_star
        return self._from_u(u)

    @classmethod
    def check_options(cls, size, values):
        values = dict(values)
        cfg = cls.sizes[size]
        for name in ("d", "k"):  # the size's own value is the size: one id
            if values[name] == cfg[name]:
                values[name] = None
        d, k = cls.shape(size, values)
        if k >= d:
            raise cls._option_error(size, f"k={k} negative directions need a dimension d > k, got "
                                          f"d={d}; give 1 <= k < d")
        if values["rotate"] and d > cls.MAX_ROTATED_DIM:
            raise cls._option_error(size, f"rotate=true is supported up to d={cls.MAX_ROTATED_DIM} "
                                          f"(a dense Haar rotation) and this instance has d={d}; "
                                          f"use a smaller d or drop rotate")
        c_p = cls.depth(float(values["mu"]), int(values["p"]))
        if values["escape_delta"] is not None and values["escape_delta"] >= c_p:
            raise cls._option_error(size, f"escape_delta={values['escape_delta']:g}: the projection "
                                          f"test needs a radius where one negative direction has "
                                          f"descended by escape_delta, which exists only below "
                                          f"c_p = {c_p:.6g} (mu={values['mu']:g}, p={values['p']}); "
                                          f"give a smaller value")
        return values

    # rotation helpers: u = Q^T w, back = Q u
    def _to_u(self, w):
        return w if self.Q is None else self.Q.T @ w

    def _from_u(self, u):
        return u if self.Q is None else self.Q @ u

    def _pow(self, u):
        """(u^(p-1), u^p) elementwise."""
        if self.p == 10:
            u9 = _pow9(u)
            return u9, u9 * u
        up1 = u ** (self.p - 1)
        return up1, up1 * u

    def loss(self, w):
        u = self._to_u(w)
        _, up = self._pow(u)
        return 0.5 * (self.lam * u * u).sum() + up.sum()

    def grad(self, w):
        u = self._to_u(w)
        up1, _ = self._pow(u)
        return self._from_u(self.lam * u + self.p * up1)

    def _curvature(self, u):
        return self.lam + self.p * (self.p - 1) * u ** (self.p - 2)

    def hvp(self, w, v):
        u = self._to_u(w)
        return self._from_u(self._curvature(u) * self._to_u(v))

    def hessian(self, w):
        c = self._curvature(self._to_u(w))
        if self.Q is None:
            return torch.diag(c)
        return (self.Q * c) @ self.Q.T

    def draw(self, generator, count):
        if self.n is not None:
            return self.sample_tensor(draw_indices(generator, count, self.n, self.batch_size))
        return self.sample_tensor(draw_normal(generator, count, self.dim))

    def _noise(self, sample):
        if self.n is not None:
            zeta = self.zeta[sample].mean(dim=0)
        else:
            zeta = sample if self.batch_size == 1 else sample / math.sqrt(self.batch_size)
        return self._from_u(self.noise_std * zeta)

    def sample_loss_grad(self, w, sample):
        u = self._to_u(w)
        up1, up = self._pow(u)
        noise = self._noise(sample)
        loss = 0.5 * (self.lam * u * u).sum() + up.sum() + noise @ w
        return loss, self._from_u(self.lam * u + self.p * up1) + noise

    def sample_hvp(self, w, v, sample):
        return self.hvp(w, v)  # the noise is linear in w: every sample has the same Hessian

    # batched rows (problems/batch.py): u = Q^T w is the row product W Q (rows_matmul), powers
    # by multiplication (ipow), and the noise is added in u (n_u = D^1/2 zeta, n_u . u = noise . w).
    # Without rotation and with p = 10 the gradients are bitwise the single-w ones; losses add up
    # in another order, and the HVP's u**(p-2) is torch.pow in the single-w path.
    def _to_u_rows(self, W):
        return W if self.Q is None else rows_matmul(W, self.Q)

    def _from_u_rows(self, U):
        return U if self.Q is None else rows_matmul(U, self.Q.T)

    def _up1_rows(self, U):
        return _pow9(U) if self.p == 10 else ipow(U, self.p - 1)

    def _noise_u_rows(self, samples):
        if self.n is None:
            zeta = samples if self.batch_size == 1 else samples / math.sqrt(self.batch_size)
        elif samples.shape[1] == 1:  # one index per call: the mean of one row is that row
            zeta = self.zeta.index_select(0, samples.view(-1))
        else:
            zeta = self.zeta[samples].mean(dim=1)  # (S, batch, d) -> (S, d)
        return self.noise_std * zeta

    def _loss_rows(self, W):
        U = self._to_u_rows(W)
        return rows_sum((0.5 * self.lam * U + self._up1_rows(U)) * U)

    def _grad_rows(self, W):
        U = self._to_u_rows(W)
        return self._from_u_rows(self.lam * U + self.p * self._up1_rows(U))

    def _loss_grad_rows(self, W):
        U = self._to_u_rows(W)
        up1 = self._up1_rows(U)
        return rows_sum((0.5 * self.lam * U + up1) * U), self._from_u_rows(self.lam * U + self.p * up1)

    def _hvp_rows(self, W, V):
        U = self._to_u_rows(W)
        curvature = self.lam + self.p * (self.p - 1) * ipow(U, self.p - 2)
        return self._from_u_rows(curvature * self._to_u_rows(V))

    def _sample_loss_grad_rows(self, W, samples):
        U = self._to_u_rows(W)
        up1 = self._up1_rows(U)
        noise = self._noise_u_rows(samples)
        loss = rows_sum((0.5 * self.lam * U + up1 + noise) * U)
        return loss, self._from_u_rows(self.lam * U + self.p * up1 + noise)

    def _sample_hvp_rows(self, W, V, samples):
        return self._hvp_rows(W, V)  # the noise is linear in w

    def negative_coordinates_rows(self, D):
        """Closed form: the last k coordinates of u = Q^T D (the negative directions), so that
        the diagnostic negative_projection is the statistic of the escape test."""
        if self.Q is None:
            return D[:, self.dim - self.k:]
        return rows_matmul(D, self.Q[:, self.dim - self.k:])

    def solution_distance_rows(self, W):
        """Diagnostic solution_distance: the nearest minimum takes u_j = sign(u_j) u* on each
        negative direction and 0 on the positive ones."""
        U = self._to_u_rows(W)
        pos, neg = U[:, :self.dim - self.k], U[:, self.dim - self.k:].abs() - self.u_star
        return ((pos * pos).sum(1) + (neg * neg).sum(1)).sqrt() / (math.sqrt(self.k) * self.u_star)

    def escaped(self, w, f):
        """||P_-(w - w_s)|| >= R (the projection test): the f-level test is swamped at large d
        by the noise energy of the d - k positive directions (0.12 > Delta_esc at d=1000)."""
        return float(self._to_u(w)[self.dim - self.k:].norm()) >= self.escape_radius

    def initial_point(self, init_seed):
        return self.perturbed_origin(init_seed)
