"""Entries learn problem constants through ``closure.facts``, never from numbers copied into
their source (issue 9, "Problem facts through the API, not copied into entries").

Two checks, because a copied constant goes stale the moment the problem changes (that is how
``eps_g = 1.42e-2`` survived in four entries after quad-saddle:small's eps_g became 0.045):

* :func:`test_no_literal_equals_a_problem_constant` builds every registered problem size with its
  default options (all of them build in well under 2 s each, so none is skipped), collects
  eps_g, eps_h, smoothness, hessian_lipschitz and the saddle's lambda_min (absolute values), and
  fails when a numeric literal of ``optimizers/*.py`` (parsed with ``ast``; a unary minus is
  dropped) equals one of them to a relative 1e-3, or equals the constant rounded to 3
  significant digits, or to the literal's own number of significant digits (so ``4.6`` is
  flagged as a rounded copy of deep-linear:small's eps_g 4.6455). Literals with ONE significant
  digit (1e-2, 1e-3, 5e-3, 0.5, 1.0, 0.1, 100, ...) are excluded: they are generic defaults
  (and reddi2d's eps_g / eps_h, 5e-3 / 1e-2, are such round numbers), so comparing them would
  only raise false alarms. A stale copy that no longer equals any constant is the job of the
  second check.
* :func:`test_no_entry_carries_problem_facts_as_hyperparameters`: no entry's ``defaults`` gives
  a value to a problem-fact hyperparameter (eps_g, eps_h, L, rho, g_thres, ...), no entry's
  ``search_space`` searches one (``bench tune`` would then pick a fact per family, a copied
  constant by another route), and every such constructor argument defaults to ``None``
  ("from closure.facts").
"""

from __future__ import annotations

import ast
import inspect
import math
import pathlib

import pytest

from optimizers import BrokenEntry, discover

OPT_DIR = pathlib.Path(__file__).resolve().parents[2] / "optimizers"
REL_TOL = 1e-3
# hyperparameters that stand for a problem fact (ProblemFacts fields and the entries' names for them)
FACT_NAMES = {"eps_g", "eps_h", "L", "rho", "g_thres", "eps", "smoothness", "hessian_lipschitz"}


def significant_digits(x: float) -> int:
    """Number of significant digits of a literal's shortest repr (0.0142 -> 3, 5e-3 -> 1)."""
    mant = f"{abs(x):.15e}".split("e")[0].replace(".", "").rstrip("0")
    return max(1, len(mant))


def round_sig(x: float, k: int) -> float:
    if x == 0:
        return 0.0
    return round(x, k - 1 - int(math.floor(math.log10(abs(x)))))


def matches(literal: float, constant: float) -> bool:
    lit, c = abs(literal), abs(constant)
    if c == 0 or lit == 0:
        return False
    if math.isclose(lit, c, rel_tol=REL_TOL):
        return True
    return any(math.isclose(lit, round_sig(c, k), rel_tol=1e-9)
               for k in {3, significant_digits(lit)} if k >= 2)


def problem_constants() -> dict[float, list[str]]:
    from problems import families, make_problem

    found: dict[float, list[str]] = {}
    for fam, cls in families().items():
        for size in cls.sizes:
            p = make_problem(f"{fam}:{size}")
            for name in ("eps_g", "eps_h", "smoothness", "hessian_lipschitz"):
                v = getattr(p, name, None)
                if v is not None and float(v) != 0.0:
                    found.setdefault(abs(float(v)), []).append(f"{fam}:{size}.{name}")
            lam = p.saddle.lambda_min
            if lam is not None and float(lam) != 0.0:
                found.setdefault(abs(float(lam)), []).append(f"{fam}:{size}.saddle.lambda_min")
    return found


def numeric_literals(path: pathlib.Path):
    """(line, value) of every int/float literal of a module (bools excluded)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            yield node.lineno, float(node.value)


def offending_literals(paths, constants) -> list[str]:
    bad = []
    for path in paths:
        for line, value in numeric_literals(path):
            if significant_digits(value) < 2:
                continue  # generic round number (see the module docstring)
            hits = [f"{c:.6g} ({', '.join(who[:3])})" for c, who in constants.items()
                    if matches(value, c)]
            if hits:
                bad.append(f"{path.name}:{line}: literal {value!r} equals problem constant "
                           f"{'; '.join(hits)}")
    return bad


def test_helpers_detect_a_rounded_copy():
    assert significant_digits(1.42e-2) == 3 and significant_digits(5e-3) == 1
    assert significant_digits(0.2186) == 4 and significant_digits(256) == 3
    assert matches(1.42e-2, 0.014230249) and matches(4.6, 4.64554) and matches(0.0450, 0.045)
    assert not matches(0.05, 0.045) and not matches(0.3, 0.2247)
    src = "X = -1.42e-2\nY = 1e-2\n"
    tmp = pathlib.Path(__file__).with_name("_literal_probe_tmp.py")
    try:
        tmp.write_text(src)
        assert offending_literals([tmp], {0.014230249: ["quad-saddle:small.eps_g"]})
        assert not offending_literals([tmp], {0.01: ["reddi2d:canonical.eps_h"]})
    finally:
        tmp.unlink()


def test_no_literal_equals_a_problem_constant():
    constants = problem_constants()
    assert constants, "no problem constants collected"
    paths = sorted(p for p in OPT_DIR.glob("*.py"))
    bad = offending_literals(paths, constants)
    assert not bad, ("entries must read problem constants from closure.facts, not copy them:\n"
                     + "\n".join(bad))


ENTRIES = discover()


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_no_entry_carries_problem_facts_as_hyperparameters(name):
    e = ENTRIES[name]
    assert not isinstance(e, BrokenEntry), e.error
    copied = {k: v for k, v in e.defaults.items() if k in FACT_NAMES and v is not None}
    assert not copied, f"{name} copies problem facts into hyperparameters: {copied}"
    searched = sorted(FACT_NAMES & set(e.search_space))
    assert not searched, f"{name}: search_space searches problem facts {searched} (closure.facts)"
    if inspect.isclass(e.optimizer) and not e.optimizer.__module__.startswith("torch."):
        params = inspect.signature(e.optimizer).parameters
        fixed = {k: p.default for k, p in params.items() if k in FACT_NAMES and p.default is not None}
        assert not fixed, f"{name}: fact hyperparameters must default to None (closure.facts): {fixed}"
