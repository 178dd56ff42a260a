"""SaddleBench problem registry: standardized objectives with known strict saddles."""

from .base import Option, Problem, ProblemOptionError, Saddle
from .registry import (UnknownProblemError, canonical_id, families, make_problem, option_table,
                       problem_ids, register)

__all__ = ["Option", "Problem", "ProblemOptionError", "Saddle", "UnknownProblemError", "canonical_id",
           "families", "make_problem", "option_table", "problem_ids", "register"]
