"""Halfspace learning with the sigmoid loss.

Reference: Daneshmand, Kohler, Lucchi, Hofmann, "Escaping saddles with stochastic gradients",
ICML 2018 (CNC lemma; authors' code jonaskohler/escaping_saddles_with_stochastic_gradients).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import brentq, minimize

from .base import INIT_STREAM, INSTANCE_STREAM, Option, Problem, Saddle, rng
from .batch import rows_dot, rows_matmul, sigmoid
from .quadratic import draw_indices
from .registry import register


def _sig(u):
    return 1.0 / (1.0 + np.exp(-u))


def _np_loss_grad(X, y, reg, w):
    t = y * (X @ w)
    phi = _sig(-t)
    dphi = -_sig(t) * _sig(-t)
    return float(phi.mean() + 0.5 * reg * w @ w), (dphi * y) @ X / len(y) + reg * w


class _SigmoidLoss(Problem):
    r"""Shared finite-sum sigmoid loss :math:`f_i(w) = \varphi(y_i x_i^\top w) + \frac{\lambda}{2}\|w\|^2`,
    :math:`\varphi(t) = \sigma(-t)`; one oracle call = one uniform index i."""

    def _setup_data(self, X: np.ndarray, y: np.ndarray, reg: float) -> None:
        self._X_np, self._y_np, self.reg = X, y, float(reg)
        self.X, self.y = self.tensor(X), self.tensor(y)
        self.Z = self.X * self.y[:, None]  # z_i = y_i x_i
        self.n, self.dim = X.shape[0], X.shape[1]
        # Global (every w): |phi''| <= 1/(6 sqrt 3), |phi'''| <= 1/8, so ||Hess f|| <=
        # ||Z||_2^2 / (6 sqrt(3) n) + reg and rho <= max_i ||z_i|| ||Z||_2^2 / (8 n).
        zz = float(np.linalg.norm(X, 2)) ** 2 / X.shape[0]
        self.smoothness = zz / (6 * math.sqrt(3)) + abs(float(reg))
        self.hessian_lipschitz = float(np.linalg.norm(X, axis=1).max()) * zz / 8

    def _min_lbfgs(self, w0: np.ndarray) -> np.ndarray:
        res = minimize(lambda w: _np_loss_grad(self._X_np, self._y_np, self.reg, w), w0, jac=True,
                       method="L-BFGS-B", options={"gtol": 1e-13, "ftol": 1e-16, "maxiter": 20_000})
        return res.x

    @staticmethod
    def _derivs(t):
        s, sm = torch.sigmoid(t), torch.sigmoid(-t)
        return sm, -s * sm, s * sm * (1 - 2 * sm)  # phi, phi', phi''

    def loss(self, w):
        phi, _, _ = self._derivs(self.Z @ w)
        return phi.mean() + 0.5 * self.reg * (w @ w)

    def grad(self, w):
        _, d1, _ = self._derivs(self.Z @ w)
        return d1 @ self.Z / self.n + self.reg * w

    def hvp(self, w, v):
        _, _, d2 = self._derivs(self.Z @ w)
        return (d2 * (self.Z @ v)) @ self.Z / self.n + self.reg * v

    def hessian(self, w):
        _, _, d2 = self._derivs(self.Z @ w)
        eye = torch.eye(self.dim, dtype=w.dtype, device=w.device)
        return (self.Z.T * d2) @ self.Z / self.n + self.reg * eye

    def draw(self, generator, count):
        return self.sample_tensor(draw_indices(generator, count, self.n, self.batch_size))

    def sample_loss_grad(self, w, sample):
        z = self.Z[sample]
        phi, d1, _ = self._derivs(z @ w)
        return phi.mean() + 0.5 * self.reg * (w @ w), d1 @ z / len(sample) + self.reg * w

    def sample_hvp(self, w, v, sample):
        z = self.Z[sample]
        _, _, d2 = self._derivs(z @ w)
        return (d2 * (z @ v)) @ z / len(sample) + self.reg * v

    # batched rows (problems/batch.py): t = Z w is the row product W Z^T (rows_matmul); sigmoid
    # as 1/(1 + exp(-t)) (torch.sigmoid's bits depend on the position in the tensor).
    @staticmethod
    def _derivs_rows(t):
        s, sm = sigmoid(t), sigmoid(-t)
        return sm, -s * sm, s * sm * (1 - 2 * sm)

    def _loss_rows(self, W):
        phi, _, _ = self._derivs_rows(rows_matmul(W, self.Z.T))
        return phi.mean(1) + 0.5 * self.reg * rows_dot(W, W)

    def _grad_rows(self, W):
        _, d1, _ = self._derivs_rows(rows_matmul(W, self.Z.T))
        return rows_matmul(d1, self.Z) / self.n + self.reg * W

    def _loss_grad_rows(self, W):
        phi, d1, _ = self._derivs_rows(rows_matmul(W, self.Z.T))
        return (phi.mean(1) + 0.5 * self.reg * rows_dot(W, W),
                rows_matmul(d1, self.Z) / self.n + self.reg * W)

    def _hvp_rows(self, W, V):
        _, _, d2 = self._derivs_rows(rows_matmul(W, self.Z.T))
        return rows_matmul(d2 * rows_matmul(V, self.Z.T), self.Z) / self.n + self.reg * V

    def _sample_loss_grad_rows(self, W, samples):
        z = self.Z[samples]  # (S, batch, d)
        phi, d1, _ = self._derivs_rows(rows_dot(z, W[:, None, :]))
        return (phi.mean(1) + 0.5 * self.reg * rows_dot(W, W),
                (d1[:, :, None] * z).sum(1) / samples.shape[1] + self.reg * W)

    def _sample_hvp_rows(self, W, V, samples):
        z = self.Z[samples]
        _, _, d2 = self._derivs_rows(rows_dot(z, W[:, None, :]))
        zv = rows_dot(z, V[:, None, :])
        return ((d2 * zv)[:, :, None] * z).sum(1) / samples.shape[1] + self.reg * V

    def _cnc(self, w: np.ndarray, v: np.ndarray) -> float:
        t = self._y_np * (self._X_np @ w)
        g = (-_sig(t) * _sig(-t) * self._y_np)[:, None] * self._X_np + self.reg * w
        return float(np.mean((g @ v) ** 2))


@register
class HalfspaceSym(_SigmoidLoss):
    r"""Halfspace learning with the sigmoid loss on a constructed data set with a provable strict saddle.

    Objective:
        .. math::
            f(w) = \frac1n\sum_{i=1}^n \varphi(y_i x_i^\top w) + \frac{\lambda_{reg}}2\|w\|^2,
            \quad \varphi(t) = \sigma(-t) = \frac1{1+e^t},

        a smooth surrogate of the 0-1 loss of a linear classifier, with lambda_reg = 1e-3
        (option ``reg``; 0 makes inf f = 0.1 unattained, and f* is then None).

        Data: m positives at p e_1; for j = 1..k two negatives at p' e_1 + q e_{j+1} and
        p' e_1 - q e_{j+1}; n = m + 2k points in d = k + 1 dimensions, with p, p', q = 1, 0.5, 1 and
        every x scaled by max ||x_i||. The data have no randomness (the instance seed is ignored).

    Oracle:
        A finite sum; one call is one uniform index i,
        :math:`\nabla f_i(w) = \varphi'(y_i x_i^\top w)\,y_i x_i + \lambda_{reg} w`, costing one
        sample gradient. Per-sample gradients at the saddle are nonzero along the escape
        directions; the CNC lemma (c = 1) gives :math:`\gamma \ge \lambda_{\min}^2`.

    Saddle and minimum:
        The saddle is :math:`w_s = a\,e_1`, a found by Brent's method on

        .. math::
            -\frac mn\tilde p\,\sigma'(a\tilde p)+\frac{2k}n\tilde p'\,\sigma'(a\tilde p')+\lambda_{reg}\, a = 0

        (tildes: the scaled p and p'). The Hessian is diagonal there, with
        :math:`\lambda_{\min} = H_{22} < 0` of multiplicity k: the negatives pull w off the e_1
        axis in either direction. f* comes from L-BFGS started at
        :math:`w_s + 0.5\sum_j e_{j+1}` (all 2^k sign patterns are equivalent). Start: w_s itself
        (SGD escapes from it; option ``init_delta`` starts at distance exactly delta).
        ``start=minimum`` (reg > 0) starts at that L-BFGS minimizer, the point that defines f*
        (a minimum to the solver's precision). A run has escaped once f(w) <= f_s - (f_s - f*)/2.

    Certificate and budget:
        eps_h = 0.1 |lambda_min(w_s)|. eps_g follows the noise-floor rule: the per-sample
        gradients do not vanish at the minimizer, so constant-step SGD cannot bring the gradient
        norm below a floor; eps_g = max(1e-5, 3 sqrt(eta tr(H Sigma)/2)), H and Sigma the Hessian
        and the per-sample gradient covariance at the minimizer, at the reference step eta =
        ``LR_REFERENCE`` = 0.05 (three times the floor). Registered budgets: 200,000 sample
        gradients (small, medium), 500,000 (large); a suite may set a smaller one.

    References:
        Daneshmand, Kohler, Lucchi, Hofmann, "Escaping saddles with stochastic gradients",
        ICML 2018 (the sigmoid-loss halfspace problem and the CNC condition). The data set with
        a provable saddle is this project's construction, as stated here.
    """

    family = "halfspace-sym"
    sizes = {
        "small": {"k": 1, "m": 8, "budget": 200_000},
        "medium": {"k": 4, "m": 16, "budget": 200_000},
        "large": {"k": 8, "m": 32, "budget": 500_000},
    }
    options = {
        "reg": Option(float, 1e-3, min=0.0, help=(
            "lambda_reg of the (lambda_reg/2)||w||^2 term; 0: inf f = 0.1 is not attained (f* none)")),
        "init_delta": Option(float, 0.0, min=0.0, help=(
            "start w_0 = w_s + init_delta * zeta/||zeta|| (zeta ~ N(0, I_d) from the init seed): "
            "distance exactly init_delta from the saddle; 0 starts at w_s (SGD escapes from it)")),
    }
    reference = "Daneshmand, Kohler, Lucchi, Hofmann, ICML 2018 (CNC); the data set is this project's"

    P, P_NEG, Q = 1.0, 0.5, 1.0
    start_spellings = {"saddle": {"init_delta": 0.0}}  # the default start is w_s
    minimum_known = True  # by L-BFGS, where reg > 0
    LR_REFERENCE = 0.05

    def __init__(self, size, instance_seed=0, *, dtype=torch.float64, device="cpu", **options):
        super().__init__(size, instance_seed, dtype=dtype, device=device, **options)
        cfg = self.sizes[size]
        k, m = cfg["k"], cfg["m"]
        reg = float(self.option_values["reg"])
        d, n = k + 1, m + 2 * k
        X = np.zeros((n, d))
        X[:m, 0] = self.P
        for j in range(k):
            X[m + 2 * j, 0] = X[m + 2 * j + 1, 0] = self.P_NEG
            X[m + 2 * j, j + 1], X[m + 2 * j + 1, j + 1] = self.Q, -self.Q
        y = np.concatenate([np.ones(m), -np.ones(2 * k)])
        X = X / np.linalg.norm(X, axis=1).max()
        self._setup_data(X, y, reg)
        self.k, self.m, self.batch_size = k, m, 1
        pt, pn = X[0, 0], X[m, 0]

        def dsig(u):
            return _sig(u) * _sig(-u)

        a = brentq(lambda a: -m / n * pt * dsig(a * pt) + 2 * k / n * pn * dsig(a * pn) + reg * a, 0.5, 50,
                   xtol=1e-15, rtol=1e-15)
        self.a = float(a)
        w_s = np.zeros(d)
        w_s[0] = a
        self._w_s = w_s
        f_s, _ = _np_loss_grad(X, y, reg, w_s)
        qt = X[m, 1]
        d2 = lambda t: _sig(t) * _sig(-t) * (1 - 2 * _sig(-t))  # noqa: E731
        lam = 2 / n * qt ** 2 * d2(-a * pn) + reg
        self.saddle = Saddle(self.tensor(w_s), f_s, float(lam), escape_delta=0.0)
        v = np.zeros(d)
        v[1] = 1.0
        self.cnc_gamma = self._cnc(w_s, v)
        self.per_sample_grad_zero_at_saddle = False
        self.eps_h = 0.1 * abs(lam)
        if reg > 0:
            w0 = w_s.copy()
            w0[1:] += 0.5
            w_min = self._min_lbfgs(w0)
            self.f_star = _np_loss_grad(X, y, reg, w_min)[0]
            self.minimizer = self.tensor(w_min)
            escape = 0.5 * (f_s - self.f_star)
            t = y * (X @ w_min)
            G = (-_sig(t) * _sig(-t) * y)[:, None] * X + reg * w_min  # per-sample grads at w*
            H = (X.T * d2(t)) @ X / n + reg * np.eye(d)
            tr = float(np.einsum("ia,ab,ib->", G, H, G) / n)
            self.eps_g = max(1e-5, 3 * math.sqrt(self.LR_REFERENCE * tr / 2))
        else:
            self.f_star, self.minimizer = None, None
            escape = 0.5 * (f_s - 0.1)  # inf f = 0.1 (not attained)
            self.eps_g = 1e-3
        self.saddle = Saddle(self.saddle.point, f_s, float(lam), escape_delta=escape)
        self.budget = cfg["budget"]

    @classmethod
    def check_options(cls, size, values):
        if values["start"] == "minimum" and values["reg"] == 0:
            raise cls._option_error(size, "start=minimum needs reg > 0: with reg=0 the infimum "
                                          "f = 0.1 is not attained (there is no minimum to start at)")
        return values

    def initial_point(self, init_seed):
        w0 = self._w_s.copy()
        delta = float(self.option_values["init_delta"])
        if delta:
            z = rng(init_seed, INIT_STREAM).standard_normal(self.dim)
            w0 = w0 + delta * z / np.linalg.norm(z)
        return self.tensor(w0)


BLOB_MEANS = np.array([
    [-1, 0, 1, -0.5, 1, 2, 0, 4, 1],       # red, y = -1
    [-0.5, 3, 1, 0.5, 2, 4, 0, 2, 2],      # green, y = -1
    [1, 0, -1, -0.5, 2, 1, -1, 0, 3],      # blue, y = +1
    [2, -0.1, -1.5, -0.4, 1, 0.5, 0, 1, 4],  # yellow, y = +1
])
BLOB_LABELS = np.array([-1.0, -1.0, 1.0, 1.0])


@register
class HalfspaceBlobs(_SigmoidLoss):
    r"""Halfspace learning with the sigmoid loss on Gaussian blobs: a convergence control, not ranked.

    Objective:
        .. math::
            f(w) = \frac1n\sum_i \varphi(y_i x_i^\top w) + \frac{\lambda_{reg}}2\|w\|^2,\quad \varphi(t)=\sigma(-t),

        on four Gaussian blobs in :math:`\mathbb R^9` (std 2; the means of Daneshmand et al.'s
        notebook; two blobs labelled -1, two labelled +1), drawn from the instance seed and scaled so
        that max ||x_i|| = 1. lambda_reg = 1e-3 (option ``reg``, > 0) so that f* is attained.
        Sizes: small = 20 points per blob (the paper's n = 80), medium = 250 per blob (n = 1000).

    Oracle:
        A finite sum; one call is one uniform index i and costs one sample gradient.

    Saddle and minimum:
        **A control, not an escape problem** (``control = True``: suites and the site keep it out
        of the ranking). A search found no finite strict saddle on these data, so ``saddle`` is
        a plain start point: w_s = 0 (f = 1/2; the Hessian there is lambda_reg I since
        phi''(0) = 0, so lambda_min = +1e-3; the gradient is nonzero;
        ``saddle_is_critical = False``, lambda_min recorded as None). Escape means
        f <= f(0) - (f(0) - f*)/2. f* comes from L-BFGS; ``start=minimum`` starts at its
        minimizer. Use it for the CNC-lemma check at random points and as a plain convergence
        problem.

    Certificate and budget:
        eps_h = 1e-3 (there is no negative curvature to certify); eps_g by the noise-floor rule of
        halfspace-sym. Registered budget: 200,000 sample gradients.

    References:
        Daneshmand, Kohler, Lucchi, Hofmann, "Escaping saddles with stochastic gradients",
        ICML 2018, and the authors' notebook (the blob data).
    """

    family = "halfspace-blobs"
    sizes = {"small": {"per_blob": 20, "budget": 200_000}, "medium": {"per_blob": 250, "budget": 200_000}}
    options = {
        "reg": Option(float, 1e-3, min=0.0, min_exclusive=True, help=(
            "lambda_reg of the (lambda_reg/2)||w||^2 term; > 0 so that f* is attained")),
        "init_delta": Option(float, 0.0, min=0.0, help=(
            "start w_0 = init_delta * zeta, zeta ~ N(0, I_9) from the init seed, NOT normalized "
            "(||w_0|| ~ 3 init_delta); 0 starts at w = 0 (a plain start point, not a saddle)")),
    }
    reference = "Daneshmand, Kohler, Lucchi, Hofmann, ICML 2018 (authors' notebook data)"
    control = True  # no strict saddle: a convergence control, not ranked
    saddle_is_critical = False
    start_spellings = {"saddle": {"init_delta": 0.0}}  # the default start is w = 0
    minimum_known = True  # by L-BFGS
    LR_REFERENCE = 0.05

    def __init__(self, size, instance_seed=0, *, dtype=torch.float64, device="cpu", **options):
        super().__init__(size, instance_seed, dtype=dtype, device=device, **options)
        cfg = self.sizes[size]
        reg = float(self.option_values["reg"])  # > 0, checked by Option
        gen = rng(self.instance_seed, INSTANCE_STREAM)
        nb = cfg["per_blob"]
        X = np.concatenate([mu + 2.0 * gen.standard_normal((nb, 9)) for mu in BLOB_MEANS])
        y = np.repeat(BLOB_LABELS, nb)
        X = X / np.linalg.norm(X, axis=1).max()
        self._setup_data(X, y, reg)
        self.batch_size = 1
        w_min = self._min_lbfgs(np.zeros(self.dim))
        self.f_star = _np_loss_grad(X, y, reg, w_min)[0]
        self.minimizer = self.tensor(w_min)
        f0 = 0.5
        self.saddle = Saddle(self.tensor(np.zeros(self.dim)), f0, None, escape_delta=0.5 * (f0 - self.f_star))
        self.cnc_gamma = None
        self.per_sample_grad_zero_at_saddle = False
        t = y * (X @ w_min)
        G = (-_sig(t) * _sig(-t) * y)[:, None] * X + reg * w_min
        H = (X.T * (_sig(t) * _sig(-t) * (1 - 2 * _sig(-t)))) @ X / self.n + reg * np.eye(self.dim)
        tr = float(np.einsum("ia,ab,ib->", G, H, G) / self.n)
        self.eps_g = max(1e-5, 3 * math.sqrt(self.LR_REFERENCE * tr / 2))
        self.eps_h = 1e-3
        self.budget = cfg["budget"]

    def initial_point(self, init_seed):
        return self.perturbed_origin(init_seed)
