"""The Problem interface: a standardized non-convex objective with a known strict saddle.

A problem is a *family* (``quad-saddle``) instantiated at a *size* (``small``) from an
``instance_seed``. Its id ``family:size`` is stable forever once published; options that
change the landscape are part of the id (``quad-saddle:small[noise=iso]``).

Everything is a flat torch vector ``w`` of length ``dim``. Two views of the objective:

* exact (used by the certificate and monitoring, never by an entry):
  ``loss(w)`` = f(w), ``grad(w)`` = grad f(w), ``hvp(w, v)`` = Hess f(w) v;
* stochastic (what one oracle call sees): ``draw(generator, count)`` produces the randomness of
  ``count`` calls at once (minibatch indices, or noise vectors), and
  ``sample_loss_grad(w, sample)`` / ``sample_hvp(w, v, sample)`` / ``sample_loss(w, sample)``
  evaluate one call's estimate. Estimates are unbiased: E[sample_grad] = grad f.

Costs (SPEC.md section 0.3) are not computed here: the counted oracle (bench.oracle) charges
``batch_size`` sample gradients per stochastic call and ``n`` per full-batch call.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from typing import Any, ClassVar, Mapping

import numpy as np
import torch

# Stream ids for numpy.random.SeedSequence([seed, STREAM]) (SPEC.md 0.4).
INSTANCE_STREAM = 0
INIT_STREAM = 1
RUN_STREAM = 2


def rng(seed: int, stream: int, *extra: int) -> np.random.Generator:
    """A numpy PCG64 generator for child stream ``stream`` of ``seed`` (SPEC.md 0.4)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream, *extra])))


def torch_seed(seed: int, stream: int, *extra: int) -> int:
    """A 63-bit torch seed derived from ``(seed, stream, *extra)`` by SeedSequence."""
    state = np.random.SeedSequence([seed, stream, *extra]).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & ((1 << 63) - 1)


def haar_orthogonal(gen: np.random.Generator, d: int) -> np.ndarray:
    """A Haar-random orthogonal d x d matrix (QR of a Gaussian with sign fix)."""
    q, r = np.linalg.qr(gen.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


@dataclasses.dataclass(frozen=True)
class Saddle:
    """The designated strict saddle w_s of an instance.

    ``lambda_min`` is the smallest Hessian eigenvalue at w_s (None if not known in closed form);
    ``escape_delta`` is Delta_esc of SPEC.md C5: a run has escaped once f(w) <= value - escape_delta.
    """

    point: torch.Tensor
    value: float
    lambda_min: float | None
    escape_delta: float


class Problem(abc.ABC):
    """Base class of every SaddleBench problem. Subclasses set the class attributes below,
    fill the instance attributes in ``__init__`` and implement the abstract methods.

    Class attributes:
        family: registry family name, e.g. ``"quad-saddle"``.
        sizes: size name -> keyword arguments of the family at that size.
        options: option name -> default value (user-settable with ``family:size[opt=val]``).
        reference: the papers the family comes from (one line).
        spec_section: section of SPEC.md that defines the family.
    """

    family: ClassVar[str]
    sizes: ClassVar[Mapping[str, Mapping[str, Any]]]
    options: ClassVar[Mapping[str, Any]] = {}
    reference: ClassVar[str] = ""
    spec_section: ClassVar[str] = ""

    # Filled by __init__ of subclasses.
    dim: int
    n: int | None  # finite-sum size; None for a population (streaming) oracle
    batch_size: int  # samples per stochastic oracle call
    eps_g: float
    eps_h: float
    budget: int  # in sample gradients (IFO units)
    saddle: Saddle
    f_star: float | None
    cnc_gamma: float | None  # E<grad f_i(w_s), v_min>^2 where known (SPEC.md C3)
    per_sample_grad_zero_at_saddle: bool = False
    divergence_radius: float = 1e6  # ||w|| beyond this counts as divergence
    # Declared constants (None where not known in closed form); entries read them through
    # ``closure.facts`` (bench.facts.ProblemFacts), the certificate uses ``smoothness``.
    smoothness: float | None = None  # L >= ||Hess f(w)|| on the region of interest
    hessian_lipschitz: float | None = None  # rho: ||Hess f(u) - Hess f(w)|| <= rho ||u - w||

    def __init__(self, size: str, instance_seed: int = 0, *, dtype: torch.dtype = torch.float64,
                 device: str | torch.device = "cpu", **options: Any):
        self.size = size
        self.instance_seed = int(instance_seed)
        self.dtype = dtype
        self.device = torch.device(device)
        self.option_values = {**self.options, **options}

    # ------------------------------------------------------------------ identity
    @property
    def id(self) -> str:
        """Stable id: ``family:size`` plus non-default options in sorted order."""
        changed = {k: v for k, v in self.option_values.items() if self.options.get(k) != v}
        return format_problem_id(self.family, self.size, changed)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id!r}, instance_seed={self.instance_seed}, dim={self.dim})"

    # ------------------------------------------------------------------ helpers
    def tensor(self, array: np.ndarray | float) -> torch.Tensor:
        """Cast float64 numpy instance data to the problem's dtype and device."""
        return torch.as_tensor(np.asarray(array, dtype=np.float64)).to(self.device, self.dtype)

    # ------------------------------------------------------------------ exact objective
    @abc.abstractmethod
    def loss(self, w: torch.Tensor) -> torch.Tensor:
        """f(w), a 0-dim tensor (full finite sum or population expectation)."""

    @abc.abstractmethod
    def grad(self, w: torch.Tensor) -> torch.Tensor:
        """grad f(w)."""

    @abc.abstractmethod
    def hvp(self, w: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Hess f(w) v."""

    def hessian(self, w: torch.Tensor) -> torch.Tensor:
        """Dense Hessian, column by column from ``hvp`` (override with a closed form if cheap)."""
        eye = torch.eye(self.dim, dtype=w.dtype, device=w.device)
        return torch.stack([self.hvp(w, eye[i]) for i in range(self.dim)], dim=1)

    # ------------------------------------------------------------------ stochastic oracle
    @abc.abstractmethod
    def draw(self, generator: torch.Generator, count: int) -> torch.Tensor:
        """The randomness of ``count`` oracle calls, row k for call k (indices or noise)."""

    @abc.abstractmethod
    def sample_loss_grad(self, w: torch.Tensor, sample: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(f_B(w), grad f_B(w)) for one call's sample B (a row of ``draw``)."""

    def sample_loss(self, w: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        """f_B(w) for one call's sample."""
        return self.sample_loss_grad(w, sample)[0]

    @abc.abstractmethod
    def sample_hvp(self, w: torch.Tensor, v: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        """Hess f_B(w) v for one call's sample."""

    # ------------------------------------------------------------------ escape
    def escaped(self, w: torch.Tensor, f: float) -> bool:
        """Whether w has left the saddle (SPEC.md C5.1): f(w) <= f_s - escape_delta.

        Families whose f-level is swamped by noise in the positive directions override this
        with the projection test of C5.2, ||P_-(w - w_s)|| >= R."""
        return f <= self.saddle.value - self.saddle.escape_delta

    # ------------------------------------------------------------------ start point
    @abc.abstractmethod
    def initial_point(self, init_seed: int) -> torch.Tensor:
        """Start point at or near the saddle (SPEC.md); deterministic in ``init_seed``."""

    def perturbed_origin(self, init_seed: int) -> torch.Tensor:
        """w_0 = delta * zeta, zeta ~ N(0, I_d) from ``init_seed``, delta = option ``init_delta``
        (w_0 = 0 when delta = 0): the start of families whose saddle is the origin."""
        delta = float(self.option_values.get("init_delta", 0.0))
        if not delta:
            return self.tensor(np.zeros(self.dim))
        return self.tensor(delta * rng(init_seed, INIT_STREAM).standard_normal(self.dim))

    # ------------------------------------------------------------------ description
    def describe(self) -> dict[str, Any]:
        """Plain-data summary for listings and records."""
        return {
            "id": self.id,
            "family": self.family,
            "size": self.size,
            "dim": self.dim,
            "n": self.n,
            "batch_size": self.batch_size,
            "eps_g": self.eps_g,
            "eps_h": self.eps_h,
            "budget": self.budget,
            "saddle_value": self.saddle.value,
            "saddle_lambda_min": self.saddle.lambda_min,
            "escape_delta": self.saddle.escape_delta,
            "f_star": self.f_star,
            "cnc_gamma": self.cnc_gamma,
            "per_sample_grad_zero_at_saddle": self.per_sample_grad_zero_at_saddle,
            "instance_seed": self.instance_seed,
        }


def format_problem_id(family: str, size: str, options: Mapping[str, Any] | None = None) -> str:
    """``family:size`` or ``family:size[a=1,b=x]`` with options sorted by name."""
    base = f"{family}:{size}"
    if not options:
        return base
    inner = ",".join(f"{k}={_format_value(v)}" for k, v in sorted(options.items()))
    return f"{base}[{inner}]"


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return repr(value)
    return str(value)
