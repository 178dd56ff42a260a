"""Markdown formatting for the generated leaderboard pages: numbers, tables, docstrings."""

from __future__ import annotations

import inspect
import math
import re
import textwrap
from typing import Any

DASH = "—"
WIDE = "---\nhide:\n  - toc\n---\n\n"  # wide tables: no right-hand table of contents


def slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.").lower()
    return s or "x"


def is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and not math.isfinite(v))


def fmt_int(v: Any) -> str:
    return DASH if is_missing(v) else f"{int(round(float(v))):,}"


def fmt_float(v: Any, digits: int = 3) -> str:
    if is_missing(v):
        return DASH
    v = float(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}"


def fmt_pct(v: Any) -> str:
    return DASH if is_missing(v) else f"{100 * float(v):.0f}%"


def fmt_seconds(v: Any) -> str:
    return DASH if is_missing(v) else f"{float(v):.3g}"


def cell(v: Any) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def md_table(headers: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(cell(h) for h in headers) + " |",
           "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def code(text: Any) -> str:
    return f"`{text}`"


def docstring_markdown(doc: str | None) -> str:
    """First paragraph as text, the rest verbatim in a text block (RST math markup stripped)."""
    if not doc:
        return "_No description._\n"
    doc = inspect.cleandoc(doc)
    doc = re.sub(r":math:`([^`]*)`", r"\1", doc)
    doc = re.sub(r"^\s*\.\. math::\s*$", "", doc, flags=re.M)
    head, _, rest = doc.partition("\n\n")
    out = head.replace("\n", " ").strip() + "\n"
    rest = textwrap.dedent(rest).strip("\n")
    if rest.strip():
        out += "\n```text\n" + rest + "\n```\n"
    return out
