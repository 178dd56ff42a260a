"""The ``name[key=value,...]`` syntax shared by problem ids and optimizer specs (benchopt style).

>>> parse_spec("sgd-momentum[lr=0.01,momentum=0.9]")
('sgd-momentum', {'lr': 0.01, 'momentum': 0.9})
>>> parse_spec("adam[betas=(0.9,0.99),lr=[1e-3,1e-2]]")
('adam', {'betas': (0.9, 0.99), 'lr': [0.001, 0.01]})

Values are Python literals (numbers, ``true``/``false``/``none``, tuples, quoted strings); a
bare word is a string. A *list* value is a sweep axis (see ``expand_sweep``); use a tuple for a
hyperparameter whose value is itself a sequence (Adam's betas).
"""

from __future__ import annotations

import ast
import itertools
import math
import re
from typing import Any, Mapping

_NAME = re.compile(r"^[^\[\]]+$")
_WORDS = {"true": True, "false": False, "none": None, "True": True, "False": False, "None": None}


class SpecError(ValueError):
    """A malformed ``name[key=value]`` string."""


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                raise SpecError(f"unbalanced brackets in {text!r}")
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth != 0:
        raise SpecError(f"unbalanced brackets in {text!r}")
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def parse_value(text: str) -> Any:
    """A literal from its text; bare words stay strings."""
    text = text.strip()
    if text in _WORDS:
        return _WORDS[text]
    if text.lower() in ("nan", "inf", "+inf", "-inf", "infinity", "-infinity"):
        return float(text)
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        if re.fullmatch(r"[A-Za-z_][\w.\-]*", text):
            return text
        raise SpecError(f"cannot read the value {text!r}: write a number, true/false, a tuple "
                        f"(a,b), a list [a,b] for a sweep, or a quoted string") from None
    return value


def parse_assignments(text: str) -> dict[str, Any]:
    """``"lr=0.01,momentum=0.9"`` -> ``{"lr": 0.01, "momentum": 0.9}``."""
    out: dict[str, Any] = {}
    for part in _split_top_level(text):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise SpecError(f"malformed hyperparameter {part!r}: expected key=value, e.g. lr=0.01")
        if key in out:
            raise SpecError(f"hyperparameter {key!r} is given twice")
        out[key] = parse_value(value)
    return out


def parse_spec(text: str) -> tuple[str, dict[str, Any]]:
    """Split ``name[key=value,...]`` into the name and its assignments."""
    text = text.strip()
    if not text:
        raise SpecError("empty name")
    if "[" not in text:
        if "]" in text:
            raise SpecError(f"unbalanced brackets in {text!r}")
        return text, {}
    if not text.endswith("]"):
        raise SpecError(f"malformed {text!r}: expected name[key=value,...] with the ']' at the end")
    name, _, inner = text.partition("[")
    name = name.strip()
    if not name or not _NAME.match(name):
        raise SpecError(f"malformed {text!r}: missing name before '['")
    return name, parse_assignments(inner[:-1])


def format_value(value: Any) -> str:
    """Inverse of ``parse_value`` for the values it produces."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, (list, tuple)):
        inner = ",".join(format_value(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, str) and not re.fullmatch(r"[A-Za-z_][\w.\-]*", value):
        return repr(value)
    return str(value)


def format_spec(name: str, assignments: Mapping[str, Any] | None = None) -> str:
    """``name[k=v,...]`` with keys sorted, or ``name`` alone."""
    if not assignments:
        return name
    inner = ",".join(f"{k}={format_value(v)}" for k, v in sorted(assignments.items()))
    return f"{name}[{inner}]"


def expand_sweep(assignments: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Cartesian product over list-valued entries: ``{lr: [1, 2], b: 3}`` -> two dicts."""
    keys = sorted(assignments)
    axes = [assignments[k] if isinstance(assignments[k], list) else [assignments[k]] for k in keys]
    for k, axis in zip(keys, axes):
        if not axis:
            raise SpecError(f"sweep over {k!r} is empty")
    return [dict(zip(keys, combo)) for combo in itertools.product(*axes)]
