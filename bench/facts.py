"""Problem facts an entry may use: the declared constants of the instance it runs on.

Theory-parameterized methods (PGD, CNC-PGD, NEON, cubic Newton) set their step sizes and
thresholds from the smoothness constant and the target accuracy. They read them here, through
``closure.facts``, instead of copying a problem's numbers into their source (AlgoPerf passes
workload properties through its API the same way). Facts are plain data: nothing in them leads
to the problem's data, its exact gradient or its sample stream.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class ProblemFacts:
    """Declared constants of one problem instance.

    Attributes:
        dim: number of parameters d.
        n: finite-sum size (cost of a full gradient), or None for a population oracle.
        batch_size: samples per stochastic call (the charge of one ``closure()``).
        budget: the run's budget in sample gradients.
        eps_g: gradient threshold of the certificate, ||grad f(w)|| <= eps_g.
        eps_h: curvature threshold of the certificate, lambda_min(Hess f(w)) >= -eps_h.
        smoothness: L with ||Hess f(w)|| <= L on the region of interest, where declared.
        hessian_lipschitz: rho with ||Hess f(u) - Hess f(w)|| <= rho ||u - w||, where declared.
    """

    dim: int
    n: int | None
    batch_size: int
    budget: int
    eps_g: float
    eps_h: float
    smoothness: float | None = None
    hessian_lipschitz: float | None = None

    @classmethod
    def of(cls, problem: Any, budget: int) -> "ProblemFacts":
        """The facts of ``problem`` (a :class:`problems.base.Problem`) for a run of ``budget``."""
        return cls(dim=int(problem.dim), n=None if problem.n is None else int(problem.n),
                   batch_size=int(problem.batch_size), budget=int(budget),
                   eps_g=float(problem.eps_g), eps_h=float(problem.eps_h),
                   smoothness=_opt_float(getattr(problem, "smoothness", None)),
                   hessian_lipschitz=_opt_float(getattr(problem, "hessian_lipschitz", None)))

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _opt_float(x: Any) -> float | None:
    return None if x is None else float(x)
