"""Markdown formatting for the generated leaderboard pages: numbers, tables, docstrings."""

from __future__ import annotations

import html
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


def noindex(markdown: str) -> str:
    """Markdown kept out of the search index (tables of numbers): wrapped in a
    ``data-search-exclude`` block (extension ``md_in_html``)."""
    return f"\n<div data-search-exclude markdown>\n\n{markdown.strip()}\n\n</div>\n"


def code(text: Any) -> str:
    return f"`{text}`"


def tex_mathml(tex: str, display: bool = False) -> str:
    """LaTeX to MathML, server-side (latex2mathml): the page needs no script and no font to
    show it, from file:// too. Unconvertible input is shown as code, never as raw markup."""
    from latex2mathml.converter import convert

    try:
        out = convert(tex.strip(), display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - a docstring typo must not break the site
        return f"<code>{html.escape(tex)}</code>"
    # latex2mathml writes \sim as an identifier "~"; it is the relation "∼"
    out = out.replace("\n", " ").replace("<mi>&#x0007E;</mi>", "<mo>&#x0223C;</mo>")
    # kept out of the search index (its tokens would be single letters and operators)
    return out.replace("<math ", "<math data-search-exclude ", 1)


_INLINE = re.compile(r":math:`(?P<math>[^`]*)`|``(?P<code>[^`]+)``|:(?:meth|func|class|attr):`~?(?P<ref>[^`]+)`"
                     r"|\*\*(?P<strong>[^*]+)\*\*")


def inline_html(text: str) -> str:
    """One line or paragraph of docstring text as HTML: :math:`...` -> MathML, ``code`` and
    :meth:`x` -> <code>, **bold**; everything else escaped (never read as Markdown)."""
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos:m.start()], quote=False))
        if m.group("math") is not None:
            out.append(tex_mathml(m.group("math")))
        elif m.group("code") is not None:
            out.append(f"<code>{html.escape(m.group('code'))}</code>")
        elif m.group("ref") is not None:
            out.append(f"<code>{html.escape(m.group('ref'))}</code>")
        else:
            out.append(f"<strong>{html.escape(m.group('strong'))}</strong>")
        pos = m.end()
    out.append(html.escape(text[pos:], quote=False))
    return "".join(out)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


_HEADING = re.compile(r"^[A-Z][^:.]{0,60}:$")
_BULLET = re.compile(r"^[*-] ")
_TERM = re.compile(r"^(``[^`]+``|[\w.+-]+(?: [\w.+-]+)?):\s")


def _blocks(lines: list[str]) -> list[list[str]]:
    """Paragraphs: runs of non-blank lines."""
    out, cur = [], []
    for line in lines:
        if line.strip():
            cur.append(line)
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def _items(block: list[str]) -> list[str] | None:
    """A paragraph as list items (their text joined), or None for a plain paragraph: items are
    bullets ("* ", "- ") or definition-style lines ("name: text" followed by lines indented
    deeper)."""
    base = min(_indent(x) for x in block)
    starts = [i for i, x in enumerate(block) if _indent(x) == base]
    bullets = all(_BULLET.match(block[i].lstrip()) for i in starts)
    deeper = any(_indent(x) > base for x in block)
    if not bullets and not (deeper and len(block) > 1):
        return None
    items = []
    for k, i in enumerate(starts):
        j = starts[k + 1] if k + 1 < len(starts) else len(block)
        text = " ".join(x.strip() for x in block[i:j])
        items.append(_BULLET.sub("", text) if bullets else text)
    return items


def _item_html(text: str) -> str:
    m = _TERM.match(text)
    if m:
        return f"<strong>{inline_html(m.group(1))}</strong>: {inline_html(text[m.end():])}"
    return inline_html(text)


def _body_html(lines: list[str]) -> str:
    """Docstring body lines (dedented) as HTML: ``.. math::`` blocks, lists and paragraphs."""
    out, i = [], 0
    lines = textwrap.dedent("\n".join(lines)).split("\n")
    para: list[str] = []

    def flush():
        for block in _blocks(para):
            items = _items(block)
            if items is None:
                out.append(f"<p>{inline_html(' '.join(x.strip() for x in block))}</p>")
            else:
                out.append("<ul>" + "".join(f"<li>{_item_html(t)}</li>" for t in items) + "</ul>")
        para.clear()

    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(\s*)\.\. math::\s*(.*)$", line)
        if m:
            flush()
            ind, tex = len(m.group(1)), [m.group(2)]
            i += 1
            while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > ind):
                if not lines[i].strip() and tex[-1:] != [""] and i + 1 < len(lines) \
                        and lines[i + 1].strip() and _indent(lines[i + 1]) <= ind:
                    break
                tex.append(lines[i].strip())
                i += 1
            out.append(f'<div class="sb-math" data-search-exclude>{tex_mathml(" ".join(t for t in tex if t), True)}</div>')
            continue
        para.append(line)
        i += 1
    flush()
    return "\n".join(out)


def docstring_markdown(doc: str | None, heading: str = "###") -> str:
    """A problem docstring as page content: the first paragraph as the lead, then each section
    ("Objective:", "Oracle:", ..., a line ending in ":" with an indented body) under a Markdown
    heading, its body as raw HTML (paragraphs, lists, MathML from ``.. math::`` and
    :math:`...`; nothing in it is read as Markdown, so ``w_i``, ``*`` and ``|`` stay text)."""
    if not doc:
        return "_No description._\n"
    lines = inspect.cleandoc(doc).split("\n")
    head: list[str] = []
    while lines and lines[0].strip():
        head.append(lines.pop(0))
    parts = [f'<div class="sb-doc">{_body_html(head)}</div>\n'] if head else []
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in lines:
        if _indent(line) == 0 and _HEADING.match(line.strip()):
            sections.append((line.strip()[:-1], []))
        else:
            sections[-1][1].append(line)
    for title, body in sections:
        if not title and not any(x.strip() for x in body):
            continue
        if title:
            parts.append(f"\n{heading} {title}\n")
        parts.append(f'\n<div class="sb-doc">\n{_body_html(body)}\n</div>\n')
    return "\n".join(parts)
