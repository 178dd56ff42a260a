"""SaddleBench problem registry: standardized objectives with known strict saddles."""

from .base import Option, Problem, ProblemOptionError, Saddle, UnknownDiagnosticError
from .diagnostics import Diagnostic
from .registry import (UnknownProblemError, canonical_id, check_diagnostics, diagnostic_table,
                       families, make_problem, option_table, problem_ids, register)

__all__ = ["Diagnostic", "Option", "Problem", "ProblemOptionError", "Saddle", "UnknownDiagnosticError",
           "UnknownProblemError", "canonical_id", "check_diagnostics", "diagnostic_table", "families",
           "make_problem", "option_table", "problem_ids", "register"]
