"""SaddleBench problem registry: standardized objectives with known strict saddles."""

from .base import Problem, Saddle
from .registry import (UnknownProblemError, canonical_id, families, make_problem, problem_ids,
                       register)

__all__ = ["Problem", "Saddle", "UnknownProblemError", "canonical_id", "families", "make_problem",
           "problem_ids", "register"]
