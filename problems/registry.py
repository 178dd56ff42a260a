"""Registry of problem families, keyed by stable ids ``family:size[options]``.

>>> from problems import make_problem
>>> p = make_problem("quad-saddle:small[noise=iso]", instance_seed=0)
>>> p.id
'quad-saddle:small[noise=iso]'
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any

import torch

from bench.spec import SpecError, parse_spec

from .base import Problem, format_problem_id

_FAMILIES: dict[str, type[Problem]] = {}

# Modules that register families when imported (one module per family group).
FAMILY_MODULES = ["problems.quadratic", "problems.tensor", "problems.phase_retrieval",
                  "problems.matrix_sensing", "problems.halfspace", "problems.networks"]


class UnknownProblemError(KeyError):
    """An id that names no registered family, size or option."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


def register(cls: type[Problem]) -> type[Problem]:
    """Class decorator: add a family. Rejects a family name (and so any id) registered twice."""
    name = getattr(cls, "family", None)
    if not name or ":" in name or "[" in name:
        raise ValueError(f"{cls.__name__}.family must be a plain name, got {name!r}")
    if name in _FAMILIES and _FAMILIES[name] is not cls:
        raise ValueError(f"problem family {name!r} is already registered by "
                         f"{_FAMILIES[name].__module__}.{_FAMILIES[name].__name__}")
    if not cls.sizes:
        raise ValueError(f"problem family {name!r} declares no sizes")
    _FAMILIES[name] = cls
    return cls


def _load_all() -> None:
    for module in FAMILY_MODULES:
        importlib.import_module(module)


def families() -> dict[str, type[Problem]]:
    """All registered families by name."""
    _load_all()
    return dict(sorted(_FAMILIES.items()))


def problem_ids() -> list[str]:
    """Every registered ``family:size`` id (options at their defaults)."""
    return [f"{name}:{size}" for name, cls in families().items() for size in cls.sizes]


def _unknown(kind: str, given: str, choices: list[str]) -> UnknownProblemError:
    close = difflib.get_close_matches(given, choices, n=3, cutoff=0.4)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return UnknownProblemError(f"unknown {kind} {given!r}.{hint} Run `bench list problems` to see "
                               f"every id.")


def resolve(problem_id: str) -> tuple[type[Problem], str, dict[str, Any]]:
    """Split and validate an id: (family class, size, options)."""
    try:
        head, options = parse_spec(problem_id)
    except SpecError as exc:
        raise UnknownProblemError(f"malformed problem id {problem_id!r}: {exc}") from None
    family, sep, size = head.partition(":")
    fams = families()
    if family not in fams:
        raise _unknown("problem", problem_id, problem_ids())
    cls = fams[family]
    if not sep:
        size = next(iter(cls.sizes))
    if size not in cls.sizes:
        raise _unknown(f"size of {family}", f"{family}:{size}", [f"{family}:{s}" for s in cls.sizes])
    for key in options:
        if key not in cls.options:
            known = ", ".join(sorted(cls.options)) or "none"
            raise UnknownProblemError(f"problem {family} has no option {key!r} (options: {known})")
    return cls, size, options


def canonical_id(problem_id: str) -> str:
    """The stable spelling of an id (size filled in, default-valued options dropped, sorted)."""
    cls, size, options = resolve(problem_id)
    changed = {k: v for k, v in options.items() if cls.options.get(k) != v}
    return format_problem_id(cls.family, size, changed)


def make_problem(problem_id: str, instance_seed: int = 0, *, dtype: torch.dtype = torch.float64,
                 device: str | torch.device = "cpu") -> Problem:
    """Instantiate a problem from its id."""
    cls, size, options = resolve(problem_id)
    return cls(size, instance_seed, dtype=dtype, device=device, **options)
