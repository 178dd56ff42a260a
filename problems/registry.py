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

from .base import (BASE_OPTIONS, Option, Problem, ProblemOptionError, UnknownProblemError,
                   format_problem_id)
from .diagnostics import BASE_DIAGNOSTICS, Diagnostic, check_name

_FAMILIES: dict[str, type[Problem]] = {}

# Modules that register families when imported (one module per family group).
FAMILY_MODULES = ["problems.quadratic", "problems.tensor", "problems.phase_retrieval",
                  "problems.matrix_sensing", "problems.halfspace", "problems.networks"]

__all__ = ["FAMILY_MODULES", "Option", "ProblemOptionError", "UnknownProblemError", "canonical_id",
           "check_diagnostics", "diagnostic_table", "families", "make_problem", "option_table",
           "problem_ids", "register", "resolve"]


def register(cls: type[Problem]) -> type[Problem]:
    """Class decorator: add a family, its options completed with the base options every family
    has (``problems.base.BASE_OPTIONS``: start, escape_delta) and its diagnostics with the base
    diagnostics (``problems.diagnostics.BASE_DIAGNOSTICS``: saddle_distance,
    negative_projection). Rejects a family name (and so any id) registered twice, a family
    option that reuses a base option's name, and a diagnostic that is not declared as
    ``Diagnostic(help, rows)`` under a lowercase name the trajectory does not already use."""
    name = getattr(cls, "family", None)
    if not name or ":" in name or "[" in name:
        raise ValueError(f"{cls.__name__}.family must be a plain name, got {name!r}")
    if name in _FAMILIES and _FAMILIES[name] is not cls:
        raise ValueError(f"problem family {name!r} is already registered by "
                         f"{_FAMILIES[name].__module__}.{_FAMILIES[name].__name__}")
    if not cls.sizes:
        raise ValueError(f"problem family {name!r} declares no sizes")
    for key, opt in cls.options.items():
        if not isinstance(opt, Option) or not opt.help.strip():
            raise ValueError(f"problem family {name!r}: option {key!r} must be declared as "
                             f"problems.base.Option(type, default, help=...), got {opt!r}")
    for key, opt in BASE_OPTIONS.items():
        if cls.options.get(key, opt) is not opt:
            raise ValueError(f"problem family {name!r}: option {key!r} is a base option of every "
                             f"family (problems.base.BASE_OPTIONS); give the family's option "
                             f"another name")
    cls.options = {**cls.options, **BASE_OPTIONS}
    for key, diag in cls.diagnostics.items():
        check_name(name, key)
        if not isinstance(diag, Diagnostic):
            raise ValueError(f"problem family {name!r}: diagnostic {key!r} must be declared as "
                             f"problems.diagnostics.Diagnostic(help, rows), got {diag!r}")
    cls.diagnostics = {**BASE_DIAGNOSTICS, **cls.diagnostics}
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
    """Split and validate an id: (family class, size, non-default options in canonical form).

    Every option is checked here (name, type, range, choices, combinations: see
    :meth:`Problem.resolve_options`), so a bad id fails when it is parsed, before any run."""
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
    values = cls.resolve_options(size, options)
    return cls, size, cls.changed_options(values)


def canonical_id(problem_id: str) -> str:
    """The stable spelling of an id: size filled in, option values coerced to their declared
    type (``rotate=1`` -> ``rotate=true``, ``p=10.0`` -> ``p=10``), options at their default
    dropped, sorted by name. Raises for a bad id or option value."""
    cls, size, changed = resolve(problem_id)
    return format_problem_id(cls.family, size, changed)


def option_table(family: str) -> list[dict[str, str]]:
    """The declared options of ``family``: name, type, default, range (or choices), meaning."""
    fams = families()
    if family not in fams:
        raise _unknown("problem family", family, list(fams))
    from .base import _format_value

    return [{"option": name, "type": opt.type_name, "default": _format_value(opt.default),
             "range": opt.describe_range(), "meaning": opt.help}
            for name, opt in sorted(fams[family].options.items())]


def diagnostic_table(family: str) -> list[dict[str, str]]:
    """The diagnostics of ``family`` (problems.diagnostics): name and meaning, in name order."""
    from .diagnostics import describe

    fams = families()
    if family not in fams:
        raise _unknown("problem family", family, list(fams))
    return describe(fams[family].diagnostics)


def check_diagnostics(problem_id: str, names) -> tuple[str, ...]:
    """``names`` (``"a,b"`` or a sequence) checked against the diagnostics of ``problem_id``'s
    family, as sorted distinct names; raises ``problems.base.UnknownDiagnosticError`` listing
    the family's diagnostics (no instance is built)."""
    cls, _, _ = resolve(problem_id)
    return cls.check_diagnostics(names)


def make_problem(problem_id: str, instance_seed: int = 0, *, dtype: torch.dtype = torch.float64,
                 device: str | torch.device = "cpu") -> Problem:
    """Instantiate a problem from its id."""
    cls, size, options = resolve(problem_id)
    problem = cls(size, instance_seed, dtype=dtype, device=device, **options)
    problem.check_instance()
    return problem
