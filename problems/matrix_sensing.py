"""Symmetric matrix sensing in the Burer-Monteiro parameterization.

References: Bhojanapalli, Neyshabur, Srebro, "Global optimality of local search for low rank
matrix recovery", NeurIPS 2016; Ge, Jin, Zheng, "No spurious local minima in nonconvex low rank
problems: a unified geometric analysis", ICML 2017.
"""

from __future__ import annotations

import numpy as np
import torch

from .base import INIT_STREAM, INSTANCE_STREAM, Option, Problem, Saddle, rng
from .batch import rows_bmm, rows_matmul
from .diagnostics import Diagnostic
from .quadratic import draw_indices
from .registry import register


@register
class MatrixSensing(Problem):
    r"""Low-rank matrix sensing in the Burer-Monteiro factorization, from symmetrized Gaussian measurements.

    Objective:
        .. math::
            f(U) = \frac1{2m}\sum_{i=1}^m\big(\langle S_i, UU^\top\rangle - y_i\big)^2,\quad
            S_i = (A_i + A_i^\top)/2,\ (A_i)_{ab}\sim\mathcal N(0,1),\quad y_i = \langle S_i, M^\star\rangle,

        recovering the rank-r matrix :math:`M^\star = U^\star U^{\star\top}` with
        :math:`U^\star = Q_r\,\mathrm{diag}(\sqrt{\sigma_j})`, Q_r orthonormal and
        sigma_j = linspace(1, 1/kappa, r) (option ``kappa``, the condition number, default 1).
        The parameter U in :math:`\mathbb R^{d\times r}` is flattened row-major into w of length
        d r. Sizes (d, r, m): small (20, 2, 400), medium (50, 3, 1500), large (80, 4, 3200).

    Oracle:
        A finite sum of m terms; one call is one uniform index i,
        :math:`\nabla f_i(U) = 2\big(\langle S_i,UU^\top\rangle-y_i\big)\, S_iU`, costing one
        sample gradient.

    Saddle and minimum:
        The saddle is U = 0 with :math:`f_s = \frac1{2m}\sum_i y_i^2` and
        :math:`\lambda_{\min} = -2\lambda_{\max}(\hat S)`, :math:`\hat S = \frac1m\sum_i y_i S_i`
        (each Hessian eigenvalue there is :math:`-2\lambda_j(\hat S)`, with multiplicity r).
        Every per-sample gradient vanishes at U = 0 (gamma = 0), so a method that injects no noise
        cannot leave it. The global minima are :math:`U^\star R` (R orthogonal) with f* = 0
        (noise-free measurements). Start (option ``init``): ``perturbed`` (default;
        :math:`U_0 = \delta\,G/\|G\|_F`, :math:`\delta = 10^{-3}\|U^\star\|_F`) or ``exact``
        (U_0 = 0: a trap, a control); ``start=saddle`` is ``init=exact``, ``start=random`` is
        the default, and ``start=minimum`` starts at U*. A run has escaped once f(U) <= f_s / 2.

    Certificate and budget:
        eps_g = 1e-4; eps_h = 0.2 lambda_max(S_hat) = 0.1 |lambda_min|. Reference step 5e-3
        (small) or 1e-3 (medium, large). Registered budgets: small 100,000, medium and large
        200,000 sample gradients; a suite may set a smaller one. The large size is smaller than
        a (100, 5, 5000) design would be: that stores m d^2 = 5e7 float64 numbers (400 MB) and
        has d r = 500 > 400, which puts the certificate on the Lanczos route at about 50 ms per
        full Hessian-vector product; (80, 4, 3200) keeps m = 10 d r, needs 164 MB and has
        d r = 320 (dense certificate).

    References:
        Bhojanapalli, Neyshabur, Srebro, "Global optimality of local search for low rank matrix
        recovery", NeurIPS 2016; Ge, Jin, Zheng, "No spurious local minima in nonconvex low rank
        problems: a unified geometric analysis", ICML 2017.
    """

    family = "matrix-sensing"
    sizes = {
        "small": {"d": 20, "r": 2, "m": 400, "budget": 100_000, "lr": 5e-3},
        "medium": {"d": 50, "r": 3, "m": 1500, "budget": 200_000, "lr": 1e-3},
        "large": {"d": 80, "r": 4, "m": 3200, "budget": 200_000, "lr": 1e-3},
    }
    options = {
        "init": Option(str, "perturbed", choices=("perturbed", "exact"), help=(
            "start: perturbed (U_0 = 1e-3 ||U*||_F G/||G||_F, G ~ N(0, I) from the init seed) or "
            "exact (U_0 = 0, the saddle: a trap for methods that inject no noise)")),
        "kappa": Option(float, 1.0, min=1.0, help=(
            "condition number of M* = U* U*^T (singular values linspace(1, 1/kappa, r))")),
    }
    reference = "Bhojanapalli, Neyshabur, Srebro, NeurIPS 2016; Ge, Jin, Zheng, ICML 2017"
    start_spellings = {"saddle": {"init": "exact"}, "random": {}}  # random: the default start
    minimum_known = True  # U*
    diagnostics = {"solution_distance": Diagnostic(
        "||U U^T - M*||_F / ||M*||_F, M* = U* U*^T: the distance to the global minima U* R (R "
        "orthogonal), all of which have the product M*", lambda p, W: p.solution_distance_rows(W))}

    def __init__(self, size, instance_seed=0, *, dtype=torch.float64, device="cpu", **options):
        super().__init__(size, instance_seed, dtype=dtype, device=device, **options)
        o = self.option_values  # checked by Option
        cfg = self.sizes[size]
        d, r, m = cfg["d"], cfg["r"], cfg["m"]
        kappa = float(o["kappa"])
        self.d, self.r, self.m = d, r, m
        self.dim, self.n, self.batch_size = d * r, m, 1
        gen = rng(self.instance_seed, INSTANCE_STREAM)
        q, rr = np.linalg.qr(gen.standard_normal((d, r)))
        q = q * np.sign(np.diag(rr))
        sig = np.linspace(1.0, 1.0 / kappa, r)
        U_star = q * np.sqrt(sig)
        M_star = U_star @ U_star.T
        S = gen.standard_normal((m, d, d))
        S = (S + S.transpose(0, 2, 1)) / 2
        S_flat = S.reshape(m, d * d)
        y = S_flat @ M_star.reshape(-1)
        S_hat = (y @ S_flat).reshape(d, d) / m
        lam_max = float(np.linalg.eigvalsh(S_hat)[-1])
        self.S = self.tensor(S)
        self.S_flat = self.S.reshape(m, d * d)
        self.y = self.tensor(y)
        self.U_star = self.tensor(U_star)
        self.M_star = self.tensor(M_star)
        self.minimizer = self.U_star.reshape(-1)
        self._U_star_norm = float(np.linalg.norm(U_star))
        f_s = float(np.mean(y ** 2) / 2)
        self.f_star = 0.0
        self.saddle = Saddle(torch.zeros(d * r, dtype=dtype, device=self.device), f_s, -2 * lam_max,
                             escape_delta=0.5 * f_s)
        self.cnc_gamma = 0.0
        self.per_sample_grad_zero_at_saddle = True
        self.eps_g, self.eps_h = 1e-4, 0.2 * lam_max
        self.budget = cfg["budget"]
        self.lr_reference = cfg["lr"]

    def _U(self, w):
        return w.reshape(self.d, self.r)

    def _residuals(self, U):
        return self.S_flat @ (U @ U.T).reshape(-1) - self.y

    def loss(self, w):
        res = self._residuals(self._U(w))
        return 0.5 * (res * res).mean()

    def grad(self, w):
        U = self._U(w)
        res = self._residuals(U)
        Sbar = (res @ self.S_flat).reshape(self.d, self.d) / self.m
        return (2 * Sbar @ U).reshape(-1)

    def hvp(self, w, v):
        U, V = self._U(w), self._U(v)
        res = self._residuals(U)
        dres = 2 * self.S_flat @ (U @ V.T).reshape(-1)  # d<S_i, UU^T>[V] = 2 <S_i U, V>
        Sbar = (res @ self.S_flat).reshape(self.d, self.d) / self.m
        dS = (dres @ self.S_flat).reshape(self.d, self.d) / self.m
        return (2 * dS @ U + 2 * Sbar @ V).reshape(-1)

    def hessian(self, w):
        U = self._U(w)
        res = self._residuals(U)
        G = torch.matmul(self.S, U).reshape(self.m, -1)  # vec(S_i U), row-major
        Sbar = (res @ self.S_flat).reshape(self.d, self.d) / self.m
        eye = torch.eye(self.r, dtype=w.dtype, device=w.device)
        return 4 * G.T @ G / self.m + 2 * torch.kron(Sbar, eye)

    def draw(self, generator, count):
        return self.sample_tensor(draw_indices(generator, count, self.n, self.batch_size))

    def sample_loss_grad(self, w, sample):
        U = self._U(w)
        S = self.S[sample]  # (b, d, d)
        SU = S @ U
        res = (SU * U).sum(dim=(1, 2)) - self.y[sample]
        g = 2 * (res[:, None, None] * SU).mean(dim=0)
        return 0.5 * (res * res).mean(), g.reshape(-1)

    def sample_hvp(self, w, v, sample):
        U, V = self._U(w), self._U(v)
        S = self.S[sample]
        SU = S @ U
        res = (SU * U).sum(dim=(1, 2)) - self.y[sample]
        dres = 2 * (SU * V).sum(dim=(1, 2))
        out = 2 * (dres[:, None, None] * SU + res[:, None, None] * (S @ V)).mean(dim=0)
        return out.reshape(-1)

    # batched rows (problems/batch.py): per-row d x r factors; products with the shared
    # measurements through rows_matmul, per-row products through rows_bmm.
    def _U_rows(self, W):
        return W.reshape(-1, self.d, self.r)

    def _residuals_rows(self, U):
        UUt = rows_bmm(U, U.transpose(1, 2)).reshape(U.shape[0], -1)
        return rows_matmul(UUt, self.S_flat.T) - self.y  # (S, m)

    def _Sbar_rows(self, res):
        return rows_matmul(res, self.S_flat).reshape(-1, self.d, self.d) / self.m

    def _loss_rows(self, W):
        res = self._residuals_rows(self._U_rows(W))
        return 0.5 * (res * res).mean(1)

    def _grad_rows(self, W):
        return self._loss_grad_rows(W)[1]

    def _loss_grad_rows(self, W):
        U = self._U_rows(W)
        res = self._residuals_rows(U)
        g = 2 * rows_bmm(self._Sbar_rows(res), U)
        return 0.5 * (res * res).mean(1), g.reshape(W.shape[0], -1)

    def _hvp_rows(self, W, V):
        U, Vm = self._U_rows(W), self._U_rows(V)
        res = self._residuals_rows(U)
        dres = 2 * rows_matmul(rows_bmm(U, Vm.transpose(1, 2)).reshape(W.shape[0], -1), self.S_flat.T)
        out = 2 * rows_bmm(self._Sbar_rows(dres), U) + 2 * rows_bmm(self._Sbar_rows(res), Vm)
        return out.reshape(W.shape[0], -1)

    def _sample_terms_rows(self, W, samples):
        U = self._U_rows(W)[:, None]  # (S, 1, d, r)
        S = self.S[samples]  # (S, batch, d, d)
        SU = rows_bmm(S, U)
        res = (SU * U).sum(dim=(2, 3)) - self.y[samples]  # (S, batch)
        return S, SU, res

    def _sample_loss_grad_rows(self, W, samples):
        _, SU, res = self._sample_terms_rows(W, samples)
        g = 2 * (res[:, :, None, None] * SU).mean(dim=1)
        return 0.5 * (res * res).mean(1), g.reshape(W.shape[0], -1)

    def _sample_hvp_rows(self, W, V, samples):
        S, SU, res = self._sample_terms_rows(W, samples)
        Vm = self._U_rows(V)[:, None]
        dres = 2 * (SU * Vm).sum(dim=(2, 3))
        out = 2 * (dres[:, :, None, None] * SU + res[:, :, None, None] * rows_bmm(S, Vm)).mean(dim=1)
        return out.reshape(W.shape[0], -1)

    def solution_distance_rows(self, W):
        """Diagnostic solution_distance, per row."""
        U = self._U_rows(W)
        E = rows_bmm(U, U.transpose(1, 2)) - self.M_star
        norms = torch.linalg.vector_norm(E.reshape(W.shape[0], -1), dim=1)
        return norms / torch.linalg.vector_norm(self.M_star)

    def initial_point(self, init_seed):
        if self.option_values["init"] == "exact":
            return self.tensor(np.zeros(self.dim))
        G = rng(init_seed, INIT_STREAM).standard_normal(self.dim)
        return self.tensor(1e-3 * self._U_star_norm * G / np.linalg.norm(G))

    def describe(self):
        return {**super().describe(), "shape": [self.d, self.r], "m": self.m,
                "lr_reference": self.lr_reference}
