r"""The (eps_g, eps_h) second-order stationarity certificate (SPEC.md C1, C4).

``w`` is certified when :math:`\|\nabla f(w)\| \le \varepsilon_g` (full gradient) **and**
:math:`\lambda_{\min}(\nabla^2 f(w)) \ge -\varepsilon_h`. The gradient gate runs first; the
eigen-solve only when it passes. Nothing here is charged to the entry: it uses the problem's
exact (float64) gradient and Hessian-vector products.

lambda_min:

* ``dense`` (dim <= ``dense_max_dim``): the Hessian, then ``torch.linalg.eigvalsh``. Exact.
* ``lanczos`` (larger dim): symmetric Lanczos with full re-orthogonalization on exact HVPs.
  The smallest Ritz value theta_1 satisfies theta_1 >= lambda_min (interlacing), so
  ``theta_1 < -eps_h`` proves negative curvature and stops at once. Otherwise the iteration runs
  until (a) theta_1's residual :math:`\beta_k|y_k|` is at most ``0.1 eps_h`` and (b) k reaches the
  Kuczynski-Wozniakowski count for failure probability ``delta`` with a random start,

  .. math:: k \ge \tfrac12 + \frac{\ln(1.648\sqrt d/\delta)}{2\sqrt{\varepsilon_h/(2\hat L)}},

  :math:`\hat L` = the largest |Ritz value| + its residual; or until the Krylov space is invariant
  or k = min(d, ``max_iter``). The start is the previous eigenvector mixed half-and-half with a
  seeded random unit vector (warm start), so the random component the bound needs is kept.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.linalg
import torch

from problems.base import Problem


@dataclasses.dataclass
class Certificate:
    """Result of one check. ``lambda_min`` is None when the gradient gate failed."""

    grad_norm: float
    lambda_min: float | None
    certified: bool
    method: str  # "gate" (eigen-solve skipped), "dense" or "lanczos"
    hvps: int = 0
    residual: float | None = None


@dataclasses.dataclass
class LanczosResult:
    theta: float  # smallest Ritz value (>= lambda_min)
    vector: torch.Tensor
    residual: float
    iterations: int
    reason: str  # "negative", "converged", "invariant", "max_iter"


def kw_iterations(dim: int, eps_h: float, l_hat: float, delta: float) -> int:
    """Lanczos steps after which lambda_min >= -eps_h holds w.p. >= 1 - delta (SPEC.md C4)."""
    if l_hat <= 0:
        return 1
    rel = eps_h / (2 * l_hat)
    return math.ceil(0.5 + math.log(1.648 * math.sqrt(dim) / delta) / (2 * math.sqrt(rel)))


def lanczos_min(hvp, v0: torch.Tensor, eps_h: float, *, max_iter: int = 300,
                delta: float = 1e-3) -> LanczosResult:
    """Smallest eigenpair of the operator ``hvp`` by Lanczos with the stopping rule above."""
    dim = v0.numel()
    k_max = min(dim, max_iter)
    Q = torch.zeros(k_max + 1, dim, dtype=v0.dtype, device=v0.device)
    alphas: list[float] = []
    betas: list[float] = []
    Q[0] = v0 / v0.norm()
    theta, y, residual, reason = 0.0, np.ones(1), math.inf, "max_iter"
    for j in range(k_max):
        z = hvp(Q[j])
        alpha = float(Q[j] @ z)
        alphas.append(alpha)
        basis = Q[: j + 1]
        for _ in range(2):  # full re-orthogonalization, twice
            z = z - basis.T @ (basis @ z)
        beta = float(z.norm())
        a = np.asarray(alphas)
        b = np.asarray(betas)
        evals, evecs = scipy.linalg.eigh_tridiagonal(a, b) if j else (a, np.ones((1, 1)))
        theta, y = float(evals[0]), evecs[:, 0]
        residual = beta * abs(y[-1])
        l_hat = max(abs(float(evals[0])), abs(float(evals[-1]))) + beta
        if theta < -eps_h:
            reason = "negative"
            break
        if beta <= 1e-12 * max(1.0, l_hat):
            reason = "invariant"
            break
        if residual <= 0.1 * eps_h and j + 1 >= min(dim, kw_iterations(dim, eps_h, l_hat, delta)):
            reason = "converged"
            break
        if j + 1 < k_max:
            betas.append(beta)
            Q[j + 1] = z / beta
    k = len(alphas)
    vec = Q[:k].T @ torch.as_tensor(y, dtype=v0.dtype, device=v0.device)
    return LanczosResult(theta, vec / vec.norm(), residual, k, reason)


class Certifier:
    """Checks (eps_g, eps_h)-SOSP on a float64 instance of the problem.

    Args:
        problem: the problem (its float64 twin when the run uses float32).
        eps_g, eps_h: thresholds (default: the problem's).
        dense_max_dim: dimension up to which the dense route is used.
        max_iter, delta: Lanczos cap and failure probability.
        seed: seeds the random part of Lanczos start vectors.
    """

    def __init__(self, problem: Problem, eps_g: float | None = None, eps_h: float | None = None, *,
                 dense_max_dim: int = 400, max_iter: int = 300, delta: float = 1e-3, seed: int = 0):
        self.problem = problem
        self.eps_g = problem.eps_g if eps_g is None else eps_g
        self.eps_h = problem.eps_h if eps_h is None else eps_h
        self.dense_max_dim = dense_max_dim
        self.max_iter = max_iter
        self.delta = delta
        self.method = "dense" if problem.dim <= dense_max_dim else "lanczos"
        self._gen = torch.Generator(device=problem.device).manual_seed(seed)
        self._warm: torch.Tensor | None = None
        self.total_hvps = 0

    def _as_point(self, w: torch.Tensor) -> torch.Tensor:
        return w.detach().to(self.problem.device, self.problem.dtype)

    def grad_norm(self, w: torch.Tensor) -> float:
        return float(self.problem.grad(self._as_point(w)).norm())

    def lambda_min(self, w: torch.Tensor) -> tuple[float, int, float | None]:
        """(lambda_min estimate, HVPs used, residual or None for dense)."""
        w = self._as_point(w)
        if self.method == "dense":
            evals, evecs = torch.linalg.eigh(self.problem.hessian(w))
            self._warm = evecs[:, 0]
            return float(evals[0]), self.problem.dim, None
        d = self.problem.dim
        rand = torch.randn(d, generator=self._gen, dtype=w.dtype, device=w.device)
        rand = rand / rand.norm()
        v0 = rand if self._warm is None else self._warm + rand
        res = lanczos_min(lambda v: self.problem.hvp(w, v), v0, self.eps_h, max_iter=self.max_iter,
                          delta=self.delta)
        self._warm = res.vector
        return res.theta, res.iterations, res.residual

    def check(self, w: torch.Tensor, *, always_eigen: bool = False) -> Certificate:
        """Gate on the gradient norm, then (or if ``always_eigen``) on lambda_min."""
        g = self.grad_norm(w)
        if not math.isfinite(g):
            return Certificate(g, None, False, "gate")
        if g > self.eps_g and not always_eigen:
            return Certificate(g, None, False, "gate")
        lam, hvps, residual = self.lambda_min(w)
        self.total_hvps += hvps
        ok = g <= self.eps_g and lam >= -self.eps_h
        return Certificate(g, lam, ok, self.method, hvps, residual)

    def describe(self) -> dict:
        return {"method": self.method, "eps_g": self.eps_g, "eps_h": self.eps_h,
                "dense_max_dim": self.dense_max_dim, "lanczos_max_iter": self.max_iter,
                "lanczos_delta": self.delta, "lanczos_residual_tol": 0.1 * self.eps_h}
