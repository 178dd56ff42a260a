"""Diagnostics: quantities an experiment measures along a run, never given to the entry.

A family declares its diagnostics as ``name -> Diagnostic(help, rows)``: ``rows(problem, W)``
evaluates the quantity at every row of an (S, d) tensor W, each row on its own (the
:mod:`problems.batch` contract: no bit of row i depends on the other rows), and returns (S,).
A run asks for some by name (``bench.runner.RunTask.diagnostics``); the harness evaluates them at
every checkpoint on its own float64 copy of the iterate, uncounted and untimed like the
certificate (``bench.monitor``), and writes them into the record's trajectory as extra columns.
Nothing about them is sent to the entry's worker.

Every family has the :data:`BASE_DIAGNOSTICS` (``problems.registry.register`` merges them in):

* ``saddle_distance`` = ||w - w_s||, w_s the designated saddle;
* ``negative_projection`` = ||P_-(w - w_s)||, P_- the orthogonal projector on the eigenvectors
  of Hess f(w_s) with a negative eigenvalue (:meth:`problems.base.Problem.negative_coordinates_rows`):
  in closed form where the family knows that eigenspace (quad-saddle, reddi2d), else from one
  dense eigendecomposition of Hess f(w_s) per instance, made the first time it is asked for,
  where an eigenvalue counts as negative below -NEGATIVE_TOLERANCE max_j |lambda_j| (so the
  rounding of exact zeros, e.g. from a symmetry of the parameterization, does not). It is 0
  everywhere when Hess f(w_s) has no negative eigenvalue (a non-strict saddle, or a control's
  designated point).

Families add their own, e.g. ``solution_distance`` (each says in which metric).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Callable, Iterable, Mapping

import torch

#: eigenvalues of Hess f(w_s) below -NEGATIVE_TOLERANCE * max |eigenvalue| span the negative
#: eigenspace of the dense route
NEGATIVE_TOLERANCE = 1e-8
#: trajectory columns the monitor writes itself: no diagnostic may take these names
RESERVED_NAMES = ("cost", "seconds", "f", "grad_norm", "lambda_min", "point")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclasses.dataclass(frozen=True)
class Diagnostic:
    """A quantity measured at checkpoints: ``help`` says what it is (one line, with its formula);
    ``rows(problem, W)`` gives it at every row of W (S, d) as an (S,) tensor."""

    help: str
    rows: Callable[[object, torch.Tensor], torch.Tensor]

    def __post_init__(self):
        if not self.help.strip():
            raise ValueError("Diagnostic needs a one-line help text")


def check_name(family: str, name: str) -> None:
    """A diagnostic's name is a lowercase identifier and not a column the monitor writes."""
    if not _NAME.match(name) or name in RESERVED_NAMES:
        raise ValueError(f"problem family {family!r}: diagnostic name {name!r} must be a lowercase "
                         f"identifier (letters, digits, _) other than {', '.join(RESERVED_NAMES)}")


def split_names(names: str | Iterable[str]) -> tuple[str, ...]:
    """``"a,b"`` or ``["a", "b"]`` -> the sorted, distinct names (one run, one spelling)."""
    if isinstance(names, str):
        names = names.split(",")
    out = set()
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"diagnostic names are strings, got {name!r}")
        if name.strip():
            out.add(name.strip())
    return tuple(sorted(out))


def saddle_distance_rows(problem, W: torch.Tensor) -> torch.Tensor:
    """||w - w_s|| per row."""
    return torch.linalg.vector_norm(W - problem.saddle.point, dim=1)


def negative_projection_rows(problem, W: torch.Tensor) -> torch.Tensor:
    """||P_-(w - w_s)|| per row (Problem.negative_coordinates_rows)."""
    return torch.linalg.vector_norm(problem.negative_coordinates_rows(W - problem.saddle.point), dim=1)


def negative_basis(hessian: torch.Tensor) -> torch.Tensor:
    """(d, k) orthonormal eigenvectors of a symmetric matrix whose eigenvalues lie below
    -NEGATIVE_TOLERANCE max |eigenvalue| (k = 0 when there is none)."""
    evals, evecs = torch.linalg.eigh((hessian + hessian.T) / 2)
    scale = float(evals.abs().max()) if evals.numel() else 0.0
    keep = evals < -NEGATIVE_TOLERANCE * scale
    return evecs[:, keep].contiguous()


BASE_DIAGNOSTICS: Mapping[str, Diagnostic] = {
    "saddle_distance": Diagnostic(
        "||w - w_s||: the distance to the designated saddle w_s", saddle_distance_rows),
    "negative_projection": Diagnostic(
        "||P_-(w - w_s)||: the length of w - w_s projected on the eigenvectors of Hess f(w_s) with "
        "a negative eigenvalue (0 where there is none)", negative_projection_rows),
}


def describe(diagnostics: Mapping[str, Diagnostic]) -> list[dict[str, str]]:
    """Rows ``{"diagnostic": name, "meaning": help}`` in name order (listings and the site)."""
    return [{"diagnostic": name, "meaning": d.help} for name, d in sorted(diagnostics.items())]


def nearest_point_rows(W: torch.Tensor, points: torch.Tensor, scale: float) -> torch.Tensor:
    """min_i ||w - points[i]|| / scale per row of W (S, d), for a few points (m, d): the distance
    to the nearest of a finite set of global minima, relative to the length of one."""
    step = max(1, (1 << 22) // max(1, points.numel()))
    parts = [torch.linalg.vector_norm(W[i:i + step, None, :] - points, dim=2).amin(dim=1)
             for i in range(0, W.shape[0], step)]
    return (torch.cat(parts) if parts else W.new_zeros(0)) / scale
