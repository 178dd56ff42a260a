"""Light SVG for the site's plots: text stays text (``svg.fonttype = "none"``, set by
leaderboard.plots: the browser draws it, nothing is turned into glyph outlines), path
coordinates are rounded to 0.1 px and written relative to the point before, and styles used
more than once become CSS classes. The same picture, in about half the bytes.
"""

from __future__ import annotations

import pathlib
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

_SAVE = {"format": "svg", "metadata": {"Date": None, "Creator": None}}
_NUM = re.compile(r"-?\d+\.\d{2,}")


def _round(match: re.Match) -> str:
    v = round(float(match.group(0)), 1)
    return f"{v:g}" if v != 0 else "0"


def _tenths(v: int) -> str:
    """A coordinate in tenths of a pixel, written short ("12", "-0.3", "2.5")."""
    return f"{v / 10:g}"


def _pair(dx: int, dy: int) -> str:
    """Two coordinates (tenths of a pixel), a space between them only where no sign is."""
    y = _tenths(dy)
    return _tenths(dx) + ("" if y.startswith("-") else " ") + y


def path_data(d: str) -> str:
    """Path data with coordinates rounded to 0.1 px, repeated points dropped, and every point
    after the first relative to the one before ("M72.5 200.9l1.2-0.3 1.1-0.4"): the same
    path, exact to the 0.1 px (the steps are taken between rounded points, so no error adds
    up), in about two thirds of the characters."""
    d = _NUM.sub(_round, d)
    if re.search(r"[^MLZz\d\s.e+-]", d):  # curves or arcs: keep the rounded original
        return " ".join(d.split())
    out: list[str] = []
    cur = start = None  # current point and subpath start, in tenths of a pixel
    prev = None  # the last command written ("l": a next lineto needs no letter)
    for cmd, x, y in re.findall(r"([MLZz])\s*(?:(-?[\d.e+-]+)\s+(-?[\d.e+-]+))?", d):
        if cmd in "Zz":
            out.append("z")
            cur, prev = start, None
            continue
        pt = (round(float(x) * 10), round(float(y) * 10))
        if cmd == "L" and pt == cur:
            continue
        if cur is None:
            out.append(f"M{_tenths(pt[0])} {_tenths(pt[1])}")
            prev = "M"
        else:
            step = _pair(pt[0] - cur[0], pt[1] - cur[1])
            if cmd == "L" and prev == "l":
                out.append(step if step.startswith("-") else " " + step)
            else:
                out.append(("m" if cmd == "M" else "l") + step)
            prev = "m" if cmd == "M" else "l"
        if cmd == "M":
            start = pt
        cur = pt
    return "".join(out)


def lighten(svg: str) -> str:
    """Round the coordinates of path data and point lists to 0.1 px (invisible on screen)."""
    svg = re.sub(r' d="([^"]*)"', lambda m: f' d="{path_data(m.group(1))}"', svg)
    svg = re.sub(r' points="([^"]*)"', lambda m: f' points="{_NUM.sub(_round, m.group(1))}"', svg)
    svg = re.sub(r'(x|y|x1|x2|y1|y2)="(-?\d+\.\d{2,})"', lambda m: f'{m.group(1)}="{_round(re.match(_NUM, m.group(2)))}"', svg)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    return _style_classes(svg)


def _style_classes(svg: str) -> str:
    """Each ``style="..."`` used more than once becomes a CSS class of one ``<style>`` block
    (matplotlib repeats the same style on every line, tick and label)."""
    from collections import Counter

    counts = Counter(re.findall(r' style="([^"]*)"', svg))
    names = {st: f"s{i}" for i, (st, n) in enumerate(counts.most_common()) if n > 1}
    if not names:
        return svg
    svg = re.sub(r' style="([^"]*)"', lambda m: f' class="{names[m.group(1)]}"' if m.group(1) in names
                 else m.group(0), svg)
    css = "".join(f".{n}{{{st}}}" for st, n in names.items())
    return re.sub(r"(<svg\b[^>]*>)", lambda m: f'{m.group(1)}\n<style>{css}</style>', svg, count=1)


def save(fig, path: pathlib.Path) -> None:
    """Write ``fig`` to ``path`` as light SVG (:func:`lighten`) and close it."""
    import io

    buf = io.StringIO()
    fig.savefig(buf, **_SAVE)
    plt.close(fig)
    pathlib.Path(path).write_text(lighten(buf.getvalue()), encoding="utf-8")
