r"""The (eps_g, eps_h) second-order stationarity certificate (docs/methodology.md).

``w`` is certified when :math:`\|\nabla f(w)\| \le \varepsilon_g` (full gradient) **and**
:math:`\lambda_{\min}(\nabla^2 f(w)) \ge -\varepsilon_h` is *proven*, **and**, where the problem
declares a sublevel bound ``certificate_level`` (``problems.base.Problem``), f(w) <= that level.
The gate (gradient norm, then the level) runs first; the eigen-solve only when it passes (or when
the caller asks for lambda_min anyway). Nothing here is charged to the entry: it uses the
problem's exact (float64) value, gradient and Hessian-vector products.

*Why a level.* An (eps_g, eps_h) test is local: near a degenerate critical point (a Hessian that
vanishes there, e.g. x = 0 of the tensor objective ||x||^8 - 2 sum (a_i^T x)^4) every such test
passes, however small eps_g and eps_h are, although the point is no minimum. A family with such a
point above its designated saddle sets ``certificate_level`` (for example the saddle value f_s: a
descent run starts at f_s and lives below it), and the check then also requires f(w) <= level,
which the degenerate point violates. The record's ``certificate.level`` holds the level and
``final_f`` the value, so a reader sees both.

One decision rule, threshold exactly -eps_h, three outcomes
-------------------------------------------------------------
:attr:`Certificate.outcome` is one of

* ``"certified"``: gate passed and lambda_min >= -eps_h is proven -- exactly (dense route, or a
  Krylov space that became invariant), or with failure probability at most
  :attr:`Certificate.delta` (Lanczos route, rule below);
* ``"not_certified"``: the gate failed (gradient norm above eps_g, or f above the level), or
  lambda_min < -eps_h is proven (dense eigenvalue, or a
  Lanczos Ritz value theta_1 < -eps_h: theta_1 >= lambda_min always, so this is deterministic);
* ``"undetermined"``: neither could be proven (Lanczos reached ``max_iter`` with
  -eps_h <= theta_1 but too little slack for the bound below, or a non-finite HVP). It is never
  success: ``Certificate.certified`` is True only for ``"certified"``; the run continues and is
  checked again at its next checkpoint.

:attr:`Certificate.reason` says why the check stopped: ``"gate"`` (gradient too large or not
finite; no eigen-solve), ``"level"`` (gradient small enough but f(w) above the problem's
``certificate_level``), ``"dense"`` (eigvalsh), and for Lanczos ``"negative"`` (theta_1 < -eps_h),
``"converged"`` (the bound below proves lambda_min >= -eps_h), ``"invariant"`` (the Krylov space
is invariant, theta_1 is an eigenvalue; it is lambda_min almost surely for a random start) or
``"max_iter"`` (budget of the eigen-solve reached, undetermined), ``"nonfinite"``.

Routes
------
* ``dense`` (dim <= ``dense_max_dim``): the Hessian, then ``torch.linalg.eigvalsh``; exact (to
  float64 rounding). Certified iff gate and lambda_min >= -eps_h. A batch of runs may first
  probe (:mod:`bench.monitor`): the Rayleigh quotient v^T H v of the previous check's unit
  eigenvector v is >= lambda_min, so v^T H v < -eps_h proves "not certified" with one HVP
  (reason ``"negative"``, no lambda_min logged); anything else goes to eigvalsh.
* ``lanczos`` (larger dim): symmetric Lanczos with full re-orthogonalization on exact HVPs, from a
  start vector **uniform on the unit sphere** (a normalized Gaussian from the certifier's seeded
  generator; the Kuczynski-Wozniakowski bound needs it, so no warm start enters the proof). A short
  warm probe (``warm_probe`` Lanczos steps from the previous check's Ritz vector) runs first when
  the previous check found negative curvature; it can only conclude ``"negative"`` (deterministic).

The Lanczos decision rule (the math)
------------------------------------
Kuczynski & Wozniakowski (SIAM J. Matrix Anal. Appl. 13, 1992, Thm 4.2(a)): for a PSD matrix A of
dimension d, k Lanczos steps from a start uniform on the sphere give a largest Ritz value xi_k with

.. math:: \Pr\Big[\frac{\lambda_1(A)-\xi_k}{\lambda_1(A)} \ge \epsilon\Big] \le 1.648\sqrt d\,
          e^{-\sqrt\epsilon\,(2k-1)},
   \quad\text{i.e. w.p.}\ge 1-\delta:\ \ \frac{\lambda_1(A)-\xi_k}{\lambda_1(A)} <
   \epsilon_k(\delta) := \Big(\frac{\ln(1.648\sqrt d/\delta)}{2k-1}\Big)^2 .

*lambda_min.* Apply it to :math:`A = cI - H` with :math:`c = \|H\|` (PSD; same Krylov space as H;
:math:`\xi_k = c - \theta_1`, :math:`\lambda_1(A) = c - \lambda_{\min}`):
:math:`r_k(c) := (\theta_1-\lambda_{\min})/(c-\lambda_{\min}) < \epsilon_k` w.p. >= 1 - delta.
r_k(c) decreases in c, so the same holds for any :math:`\hat L \ge \|H\|`. And
:math:`x \mapsto (\theta_1 - x)/(\hat L - x)` decreases in x (theta_1 <= lambda_max <= L_hat), so
if lambda_min < -eps_h then :math:`r_k > (\theta_1+\varepsilon_h)/(\hat L+\varepsilon_h)`.
Hence the rule: **certify at step k iff**

.. math:: \epsilon_k(\delta_t)\,(\hat L + \varepsilon_h) \;\le\; \theta_1 + \varepsilon_h
          \quad(\text{slack } s = \theta_1+\varepsilon_h > 0),
   \qquad\text{equivalently}\quad k \ge \tfrac12 + \frac{\ln(1.648\sqrt d/\delta_t)}
          {2\sqrt{s/(\hat L+\varepsilon_h)}} ,

which is false only on the KW failure event: the threshold is exactly -eps_h, not the
-2 eps_h that the fixed count :func:`kw_iterations` (eps = eps_h / (2 L)) guarantees.
The proof also gives the lower end of a bracket,
:math:`\lambda_{\min} > (\theta_1 - \epsilon_k\hat L)/(1-\epsilon_k)` (``Certificate.lambda_lower``).

*The norm bound L_hat (an upper bound, not an estimate).* Apply KW to :math:`B = H^2` (PSD,
:math:`\lambda_1(B) = \|H\|^2`): :math:`K_m(H^2, v_0) \subset K_k(H, v_0)` for 2m-1 <= k, and for
:math:`u = Q_k y`, :math:`\|Hu\| = \|\tilde T_k y\|` with :math:`\tilde T_k = [T_k;\ \beta_k e_k^\top]`
(the Lanczos relation). So :math:`\xi^B_m \le \sigma_{\max}(\tilde T_k)^2` and w.p. >= 1 - delta

.. math:: \|H\| \;<\; \hat L_{kry} := \sigma_{\max}(\tilde T_k)\,/\,\sqrt{1-\epsilon_m(\delta_t)},
   \qquad m = \lfloor (k+1)/2 \rfloor,

defined once eps_m < 1 (k >~ 2 ln(1.648 sqrt d / delta_t), about 45 at d = 1000); the margin
factor 1/sqrt(1-eps_m) is 1.4 at eps_m = 0.5 and 1.01 at k = 150 (d = 1000). This is the
"krylov" norm source. A problem's declared ``smoothness`` is used as well (L_hat = the smaller)
only with ``trust_declared_smoothness=True``: the declared constant holds on a region the problem
states (e.g. quad-saddle: the box |u_j| <= u*), which the certifier cannot check, so by default it
does not rely on it. ``Certificate.norm_source`` records which bound decided.

*Adaptive stopping.* The rule is tested only at the steps of a fixed geometric grid
(:func:`test_steps`: k = ceil(10 * 1.15^j) and k_max; J points, fixed by d and max_iter before the
run), and each test spends delta_t = delta_check / (2 J) on each of its two KW events (lambda_min
and ||H||). A false certificate requires one of these 2J events, so one check errs with
probability at most ``delta_check`` (union bound).

Per-run failure probability
---------------------------
delta_check = delta_run / max_checks (defaults 1e-3 / 1000 = 1e-6). The runner's checkpoints grow
by 2% (c' = max(c + 1, ceil(1.02 c))), so a run of budget B has at most
51 + ln(B / 51) / ln(1.02) checks (631 at B = 5e6, 900 at B = 1e9) plus a final one: fewer than
max_checks. :attr:`Certifier.failure_probability` is the union bound actually spent: the sum of
delta_check over the Lanczos checks that passed the gradient gate (only they can certify); dense
and invariant checks are exact and add 0. It stays <= delta_run while at most max_checks such
checks ran (it is reported as is if more did).

Stable names for records: ``Certifier.failure_probability`` (float), ``Certifier.describe()``
(dict: threshold, rule, delta_check, ...), ``Certificate.outcome`` / ``.reason`` /
``.certified`` / ``.lambda_min`` / ``.lambda_lower`` / ``.delta``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.linalg
import torch

from problems.base import Problem

KW_CONSTANT = 1.648
GRID_START = 10  # first Lanczos step at which the probabilistic rule is tested
GRID_RATIO = 1.15  # test steps grow geometrically (<= 15% extra HVPs past the first provable k)
DELTA_RUN = 1e-3
MAX_CHECKS = 1000
NUMERICAL_MARGIN = 1e-12  # relative to L_hat: float64 rounding in theta_1 and T_k

OUTCOMES = ("certified", "not_certified", "undetermined")


@dataclasses.dataclass
class Certificate:
    """Result of one check.

    ``lambda_min``: exact (dense), or the smallest Ritz value theta_1 >= lambda_min (Lanczos); None
    when the gradient gate failed and no eigen-solve ran. ``lambda_lower``: a proven lower bound on
    lambda_min (dense: the value; Lanczos: from the KW rule, w.p. 1 - ``delta``), or None.
    ``outcome`` in :data:`OUTCOMES`; ``certified`` == (outcome == "certified"). ``reason``: see the
    module docstring. ``delta``: failure probability of this check's conclusion (0 if exact).
    ``norm_bound``/``norm_source``: L_hat >= ||H|| used by the Lanczos rule and where it came from
    ("krylov" or "declared"). ``f`` and ``level``: f(w) and the problem's ``certificate_level``
    when one is declared (reason ``"level"`` when f(w) > level stopped the check).
    """

    grad_norm: float
    lambda_min: float | None
    certified: bool
    method: str  # "gate" (eigen-solve skipped), "dense" or "lanczos"
    hvps: int = 0
    residual: float | None = None
    outcome: str = ""
    reason: str = ""
    lambda_lower: float | None = None
    delta: float = 0.0
    norm_bound: float | None = None
    norm_source: str | None = None
    f: float | None = None  # f(w), when the check computed or was given it (a level is set)
    level: float | None = None  # the sublevel bound the check applied (None: none)

    def __post_init__(self):
        if not self.outcome:
            self.outcome = "certified" if self.certified else "not_certified"
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {self.outcome!r}")
        if self.certified != (self.outcome == "certified"):
            raise ValueError(f"certified={self.certified} contradicts outcome={self.outcome!r}")
        if not self.reason:
            self.reason = self.method


@dataclasses.dataclass
class LanczosResult:
    theta: float  # smallest Ritz value (>= lambda_min)
    vector: torch.Tensor
    residual: float
    iterations: int
    reason: str  # "negative", "converged", "invariant", "max_iter", "nonfinite"
    lambda_lower: float | None = None  # proven lower bound on lambda_min (converged / invariant)
    norm_bound: float | None = None  # L_hat at the deciding test (converged), else the last one
    norm_source: str | None = None
    delta: float = 0.0  # failure probability of the conclusion


def kw_error(dim: int, k: int, delta: float) -> float:
    """epsilon_k(delta): relative error of the largest Ritz value of a PSD matrix after k Lanczos
    steps from a uniform random start, exceeded with probability at most delta (K-W 1992)."""
    if k < 1:
        return math.inf
    return (math.log(KW_CONSTANT * math.sqrt(dim) / delta) / (2 * k - 1)) ** 2


def kw_iterations(dim: int, eps_h: float, l_hat: float, delta: float) -> int:
    """The classical fixed Lanczos count for relative accuracy eps_h / (2 l_hat). It guarantees only
    lambda_min >= -2 eps_h when theta_1 >= -eps_h; kept for reference, the rule does not use it."""
    if l_hat <= 0:
        return 1
    rel = eps_h / (2 * l_hat)
    return math.ceil(0.5 + math.log(KW_CONSTANT * math.sqrt(dim) / delta) / (2 * math.sqrt(rel)))


def steps_to_prove(dim: int, slack: float, l_hat: float, eps_h: float, delta: float) -> int:
    """Smallest k with kw_error(dim, k, delta) * (l_hat + eps_h) <= slack (the rule), slack > 0."""
    if slack <= 0:
        return math.inf
    rel = min(1.0, slack / (l_hat + eps_h))
    return math.ceil(0.5 + math.log(KW_CONSTANT * math.sqrt(dim) / delta) / (2 * math.sqrt(rel)))


def test_steps(k_max: int) -> list[int]:
    """The fixed grid of Lanczos steps at which the probabilistic rule is tested."""
    steps, x = {k_max}, float(GRID_START)
    while x < k_max:
        steps.add(math.ceil(x))
        x *= GRID_RATIO
    return sorted(s for s in steps if s <= k_max)


test_steps.__test__ = False  # not a pytest test


def lanczos_min(hvp, v0: torch.Tensor, eps_h: float, *, max_iter: int = 300, delta: float = 1e-6,
                norm_bound: float | None = None, prove: bool = True) -> LanczosResult:
    """Smallest eigenpair of the operator ``hvp`` by Lanczos with the decision rule of the module.

    ``v0`` must be uniform on the sphere (a Gaussian vector) for the probabilistic conclusion
    ("converged"); ``delta`` is the failure probability of one call. ``norm_bound``: a trusted
    upper bound on ||H|| (else only the Krylov bound is used). ``prove=False``: stop only on
    "negative" (a warm probe from an arbitrary vector).
    """
    dim = v0.numel()
    k_max = min(dim, max_iter)
    grid = set(test_steps(k_max))
    delta_t = delta / (2 * len(grid))
    Q = torch.zeros(k_max + 1, dim, dtype=v0.dtype, device=v0.device)
    alphas: list[float] = []
    betas: list[float] = []
    Q[0] = v0 / v0.norm()
    theta, y, residual, reason = math.nan, np.ones(1), math.inf, "max_iter"
    lower, l_hat, source, used_delta = None, None, None, 0.0
    for j in range(k_max):
        k = j + 1
        z = hvp(Q[j])
        alpha = float(Q[j] @ z)
        alphas.append(alpha)
        basis = Q[:k]
        for _ in range(2):  # full re-orthogonalization, twice
            z = z - basis.T @ (basis @ z)
        beta = float(z.norm())
        a = np.asarray(alphas)
        b = np.asarray(betas)
        if not (math.isfinite(alpha) and math.isfinite(beta)):
            reason = "nonfinite"
            break
        evals, evecs = scipy.linalg.eigh_tridiagonal(a, b) if j else (a, np.ones((1, 1)))
        theta, y = float(evals[0]), evecs[:, 0]
        residual = beta * abs(y[-1])
        ritz_norm = max(abs(float(evals[0])), abs(float(evals[-1])))
        if theta < -eps_h:
            reason = "negative"
            break
        if beta <= 1e-12 * max(1.0, ritz_norm) or k == dim:
            reason = "invariant"  # theta_1 is an eigenvalue; lambda_min a.s. (random start)
            if prove:
                lower = theta
            break
        if prove and k in grid:
            l_hat, source = _norm_bound(a, b, beta, dim, delta_t, norm_bound)
            if math.isfinite(l_hat):
                eps = kw_error(dim, k, delta_t)
                slack = theta + eps_h - NUMERICAL_MARGIN * l_hat
                if eps < 1 and eps * (l_hat + eps_h) <= slack:
                    reason, used_delta = "converged", delta
                    lower = (theta - eps * l_hat) / (1 - eps)
                    break
        if k < k_max:
            betas.append(beta)
            Q[j + 1] = z / beta
    k = len(alphas)
    if reason == "nonfinite" or not np.all(np.isfinite(y)):
        return LanczosResult(theta, Q[0].clone(), residual, k, "nonfinite")
    vec = Q[:len(y)].T @ torch.as_tensor(y, dtype=v0.dtype, device=v0.device)
    return LanczosResult(theta, vec / vec.norm(), residual, k, reason, lower, l_hat, source, used_delta)


def _norm_bound(a: np.ndarray, b: np.ndarray, beta: float, dim: int, delta_t: float,
                declared: float | None) -> tuple[float, str | None]:
    """L_hat >= ||H|| (w.p. >= 1 - delta_t) from T~_k = [T_k; beta e_k^T], and the source used."""
    k = len(a)
    eps_m = kw_error(dim, (k + 1) // 2, delta_t)
    kry = math.inf
    if eps_m < 1:
        t = np.zeros((k + 1, k))
        t[np.arange(k), np.arange(k)] = a
        if k > 1:
            t[np.arange(k - 1), np.arange(1, k)] = b
            t[np.arange(1, k), np.arange(k - 1)] = b
        t[k, k - 1] = beta
        kry = float(np.linalg.norm(t, 2)) / math.sqrt(1 - eps_m)
    if declared is not None and declared < kry:
        return float(declared), "declared"
    return kry, ("krylov" if math.isfinite(kry) else None)


def dense_eigen(problem: Problem, W: torch.Tensor) -> list[LanczosResult]:
    """Exact lambda_min of Hess f at each row of W (R, d): one batched ``eigh`` of the dense
    Hessians (LAPACK solves each matrix alone, so a row's result does not depend on the others)."""
    H = torch.stack([problem.hessian(w) for w in W])
    evals, evecs = torch.linalg.eigh(H)
    out = []
    for i in range(W.shape[0]):
        lam = float(evals[i, 0])
        reason = "nonfinite" if not math.isfinite(lam) else "dense"
        out.append(LanczosResult(lam, evecs[i, :, 0], 0.0, problem.dim, reason,
                                 lam if reason == "dense" else None))
    return out


class Certifier:
    """Checks (eps_g, eps_h)-SOSP on a float64 instance of the problem (see the module docstring).

    Args:
        problem: the problem (its float64 twin when the run uses float32).
        eps_g, eps_h: thresholds (default: the problem's).
        dense_max_dim: dimension up to which the dense (exact) route is used.
        max_iter: Lanczos cap; reaching it without a proof gives outcome "undetermined".
        delta_run, max_checks: per-run failure budget; each Lanczos check gets
            delta_check = delta_run / max_checks.
        trust_declared_smoothness: also use ``problem.smoothness`` as an upper bound on ||H||
            (valid only on the region the problem states; off by default).
        warm_probe: Lanczos steps from the previous Ritz vector after a "negative" check.
        seed: seeds the random Lanczos start vectors.
        level: sublevel bound, certified only where f(w) <= level (default: the problem's
            ``certificate_level``; None disables it).

    Attributes:
        failure_probability: union bound over this certifier's probabilistic checks so far (sum of
            delta_check over the Lanczos checks that passed the gradient gate).
        probabilistic_checks: how many such checks ran.
        total_hvps: HVPs spent by all checks.
    """

    def __init__(self, problem: Problem, eps_g: float | None = None, eps_h: float | None = None, *,
                 dense_max_dim: int = 400, max_iter: int = 300, delta_run: float = DELTA_RUN,
                 max_checks: int = MAX_CHECKS, trust_declared_smoothness: bool = False,
                 warm_probe: int = 4, seed: int = 0, level: float | None | str = "problem"):
        self.problem = problem
        self.level = getattr(problem, "certificate_level", None) if level == "problem" else level
        self.level = None if self.level is None else float(self.level)
        self.eps_g = problem.eps_g if eps_g is None else eps_g
        self.eps_h = problem.eps_h if eps_h is None else eps_h
        self.dense_max_dim = dense_max_dim
        self.max_iter = max_iter
        self.delta_run = delta_run
        self.max_checks = max_checks
        self.delta = delta_run / max_checks  # per Lanczos check
        self.trust_declared_smoothness = trust_declared_smoothness
        self.warm_probe = warm_probe
        self.method = "dense" if problem.dim <= dense_max_dim else "lanczos"
        self._gen = torch.Generator().manual_seed(seed)  # CPU: the same starts on every device
        self._warm: torch.Tensor | None = None
        self.total_hvps = 0
        self.failure_probability = 0.0
        self.probabilistic_checks = 0

    def _as_point(self, w: torch.Tensor) -> torch.Tensor:
        return w.detach().to(self.problem.device, self.problem.dtype)

    def grad_norm(self, w: torch.Tensor) -> float:
        return float(self.problem.grad(self._as_point(w)).norm())

    def passes_gate(self, grad_norm: float, f: float | None) -> bool:
        """The gate: ||grad f|| <= eps_g and, where a level is set, f <= level (``f`` must then
        be given; a non-finite value fails)."""
        if not (math.isfinite(grad_norm) and grad_norm <= self.eps_g):
            return False
        return self.level is None or (f is not None and math.isfinite(f) and f <= self.level)

    @property
    def warm_vector(self) -> torch.Tensor | None:
        """The unit eigenvector (dense) or Ritz vector (Lanczos) of lambda_min at the previous
        check that found one, else None."""
        return self._warm

    def declared_smoothness(self) -> float | None:
        val = getattr(self.problem, "smoothness", None)
        return None if val is None else float(val)

    def eigen(self, w: torch.Tensor) -> LanczosResult:
        """lambda_min by the certifier's route; a LanczosResult for both routes (dense: exact)."""
        w = self._as_point(w)
        if self.method == "dense":
            return dense_eigen(self.problem, w.unsqueeze(0))[0]
        hvp = lambda v: self.problem.hvp(w, v)  # noqa: E731
        spent = 0
        if self._warm is not None and self.warm_probe > 0:
            probe = lanczos_min(hvp, self._warm, self.eps_h, max_iter=self.warm_probe, prove=False)
            spent = probe.iterations
            self._warm = None
            if probe.reason == "negative":
                self._warm = probe.vector
                return dataclasses.replace(probe, iterations=spent)
        d = self.problem.dim
        v0 = torch.randn(d, generator=self._gen, dtype=torch.float64).to(w.device, w.dtype)
        norm = self.declared_smoothness() if self.trust_declared_smoothness else None
        res = lanczos_min(hvp, v0, self.eps_h, max_iter=self.max_iter, delta=self.delta,
                          norm_bound=norm)
        if res.reason == "negative":
            self._warm = res.vector  # probe from it next time
        return dataclasses.replace(res, iterations=res.iterations + spent)

    def lambda_min(self, w: torch.Tensor) -> tuple[float, int, float | None]:
        """(lambda_min estimate, HVPs used, residual or None for dense)."""
        res = self.eigen(w)
        return res.theta, res.iterations, (None if self.method == "dense" else res.residual)

    def check(self, w: torch.Tensor, *, always_eigen: bool = False,
              grad_norm: float | None = None, eigen: LanczosResult | None = None,
              f: float | None = None) -> Certificate:
        """Gate on the gradient norm and the level, then (or if ``always_eigen``) on lambda_min.
        ``grad_norm``, ``f`` and, for the dense route, ``eigen``: computed already by the caller
        (a batch's gate and its batched :func:`dense_eigen`); f is computed here when a level is
        set and it is not given."""
        g = self.grad_norm(w) if grad_norm is None else float(grad_norm)
        grad_ok = math.isfinite(g) and g <= self.eps_g
        if self.level is not None and f is None:
            f = float(self.problem.loss(self._as_point(w)))
        f = None if f is None else float(f)
        gate = self.passes_gate(g, f)
        stop = "gate" if not grad_ok else "level"
        level = self.level
        if not math.isfinite(g) or (not gate and not always_eigen):
            return Certificate(g, None, False, "gate", outcome="not_certified", reason=stop,
                               f=f, level=level)
        res = eigen if eigen is not None and self.method == "dense" else self.eigen(w)
        if self.method == "dense" and res.reason == "dense":
            self._warm = res.vector  # what the next probe starts from
        self.total_hvps += res.iterations
        if gate and self.method == "lanczos":
            self.probabilistic_checks += 1
            self.failure_probability += self.delta
        if res.reason in ("dense", "invariant"):
            outcome = "certified" if res.theta >= -self.eps_h else "not_certified"
        elif res.reason == "converged":
            outcome = "certified"
        elif res.reason == "negative":
            outcome = "not_certified"
        else:  # "max_iter", "nonfinite"
            outcome = "undetermined"
        reason = res.reason
        if not gate:
            outcome, reason = "not_certified", stop
        exact_or_ritz = math.isfinite(res.theta) and not (self.method == "dense" and reason == "negative")
        return Certificate(g, res.theta if exact_or_ritz else None, outcome == "certified",
                           self.method, res.iterations,
                           None if self.method == "dense" else res.residual, outcome, reason,
                           res.lambda_lower, res.delta, res.norm_bound, res.norm_source, f, level)

    def describe(self) -> dict:
        return {
            "method": self.method, "eps_g": self.eps_g, "eps_h": self.eps_h,
            "threshold": -self.eps_h, "level": self.level,
            "rule": ("certified iff ||grad f|| <= eps_g, f <= level (where a level is set) and "
                     "lambda_min >= -eps_h is proven: dense "
                     "eigvalsh (exact), or Lanczos from a uniform random start with "
                     "kw_error(d, k, delta_t) * (L_hat + eps_h) <= theta_1 + eps_h at a grid step k "
                     "(Kuczynski-Wozniakowski), L_hat >= ||H|| w.p. 1 - delta_t; "
                     "outcomes certified / not_certified / undetermined (max_iter: never success)"),
            "dense_max_dim": self.dense_max_dim, "lanczos_max_iter": self.max_iter,
            "delta_run": self.delta_run, "max_checks": self.max_checks,
            "delta_rule": "delta_check = delta_run / max_checks; failure_probability = sum of "
                          "delta_check over Lanczos checks that passed the gradient gate",
            "lanczos_delta": self.delta, "delta_check": self.delta,
            "grid": {"start": GRID_START, "ratio": GRID_RATIO,
                     "delta_t": "delta_check / (2 * grid points)"},
            "norm_bound": "min(krylov, declared)" if self.trust_declared_smoothness else "krylov",
            "declared_smoothness": self.declared_smoothness(),
        }
