"""Matplotlib plots of the leaderboard: performance profiles, escape curves, throughput.

Light SVG: text stays text (``svg.fonttype = "none"``: the browser draws it, nothing is turned
into glyph outlines) and path coordinates are rounded to 0.1 px (leaderboard.svg). Every plot
is drawn narrow and tall enough to be read on a 390 px phone screen; the page links each image
to itself for the full size. Only a few entries are drawn in colour (``highlight``: the best few,
plus the page's own entry on an entry page); the others are thin grey lines, so that 18 entries
stay readable.

Plots are cached by a hash of their inputs (:func:`cached`): an unchanged plot is copied, not
drawn again. Imported only when the site is built.
"""

from __future__ import annotations

import hashlib
import json
import math
import pathlib
import shutil
from typing import Any, Callable, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from bench.records import RunRecord  # noqa: E402
from leaderboard import svg  # noqa: E402
from leaderboard.svg import save  # noqa: E402

plt.rcParams.update({"svg.hashsalt": "saddlebench", "svg.fonttype": "none", "font.size": 10,
                     "font.family": "sans-serif",
                     "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial", "sans-serif"],
                     "axes.spines.top": False, "axes.spines.right": False,
                     "legend.fontsize": 9, "axes.titlesize": 10, "axes.labelsize": 10})

#: colours of the highlighted entries, in order of merit (colour-blind safe: Okabe-Ito)
HIGHLIGHT = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
OWN = "#000000"  # the page's own entry on an entry page
GREY = "#b0b0b0"
_DASHES = ["-", "--", "-.", ":"]

#: figure width in inches: 4.2 in = about 400 px at 96 px per inch (matplotlib's text sizes are in
#: points, 1/72 in), so on a 390 px phone the picture is shown close to its own size and the 10 pt
#: text stays readable; a desktop shows it larger (CSS caps it at 600 px)
WIDTH = 4.2


def entry_colors(entries: Sequence[str]) -> dict[str, tuple]:
    """A fixed color per entry (sorted names), the same on every plot of the site."""
    names = sorted(set(entries))
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    return {e: cmap(i % cmap.N) for i, e in enumerate(names)}


def styles(entries: Sequence[str], highlight: Sequence[str], own: str | None = None) -> dict[str, dict]:
    """Line style per entry: the highlighted ones in colour (in the order given), the page's own
    entry black and thick, every other entry thin grey without a legend label."""
    out = {}
    hl = [e for e in highlight if e != own]
    for e in entries:
        if e == own:
            out[e] = {"color": OWN, "lw": 2.4, "ls": "-", "zorder": 5, "label": e}
        elif e in hl:
            i = hl.index(e)
            out[e] = {"color": HIGHLIGHT[i % len(HIGHLIGHT)], "lw": 1.9, "ls": _DASHES[i % len(_DASHES)],
                      "zorder": 4, "label": e}
        else:
            out[e] = {"color": GREY, "lw": 0.8, "ls": "-", "zorder": 1, "label": None}
    return out


# ---------------------------------------------------------------------------- cache
#: what draws a plot: this module and its SVG writer (a change of either draws every plot again)
_SOURCE = hashlib.sha256(pathlib.Path(__file__).read_bytes()
                         + pathlib.Path(svg.__file__).read_bytes()).hexdigest()[:16]


def cached(cache_dir: pathlib.Path | None, path: pathlib.Path, key: Any,
           draw: Callable[[pathlib.Path], None]) -> bool:
    """Copy the plot of ``key`` (any JSON data naming every input of the plot) from
    ``cache_dir`` to ``path``, or draw it with ``draw(path)`` and store it there. The key
    includes the source of this module and of leaderboard.svg, so a change of style draws every
    plot again. Returns whether
    the plot came from the cache."""
    if cache_dir is None:
        draw(path)
        return False
    digest = hashlib.sha256(json.dumps([_SOURCE, key], sort_keys=True, default=str).encode()).hexdigest()[:24]
    hit = cache_dir / f"{digest}{path.suffix}"
    if hit.is_file():
        shutil.copyfile(hit, path)
        return True
    draw(path)
    cache_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, hit)
    return False


#: fixed margins in inches (no tight_layout or bbox_inches="tight": they lay every tick label
#: out again, which was most of the time of a plot)
LEFT, RIGHT, TOP, XAXIS, ROW, GAP = 0.86, 0.12, 0.32, 0.5, 0.185, 0.12


def figure(panels: int, panel_height: float, legend_items: int, ncol: int = 2, top: float = TOP):
    """A figure of ``panels`` axes stacked vertically (a shared x axis), each ``panel_height``
    inches tall, with room below for a legend of ``legend_items`` entries in ``ncol`` columns
    (and ``top`` inches above for the title)."""
    rows = math.ceil(legend_items / ncol) if legend_items else 0
    legend = rows * ROW + (0.12 if rows else 0)
    height = top + panels * panel_height + (panels - 1) * GAP + XAXIS + legend
    fig, axes = plt.subplots(panels, 1, figsize=(WIDTH, height), sharex=True, squeeze=False)
    fig.subplots_adjust(left=LEFT / WIDTH, right=1 - RIGHT / WIDTH, top=1 - top / height,
                        bottom=(XAXIS + legend) / height, hspace=GAP / panel_height)
    return fig, list(axes[:, 0]), legend / height


def _ncol(labels) -> int:
    """Two legend columns, or one when a label is too long for half the width."""
    return 1 if any(len(x) > 21 for x in labels) else 2


def _legend_below(fig, handles, labels, bottom: float, ncol: int = 2) -> None:
    if handles:
        fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=ncol,
                   frameon=False, handlelength=2.2, columnspacing=1.2, borderaxespad=0.2)


def _others_handle(n: int):
    from matplotlib.lines import Line2D

    return Line2D([], [], color=GREY, lw=0.8), f"{n} other entries"


# ---------------------------------------------------------------------------- profiles
def _steps(taus: np.ndarray, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points of a step curve where it changes (plus both ends): same picture, fewer points."""
    keep = np.ones(len(rho), dtype=bool)
    keep[1:-1] = rho[1:-1] != rho[:-2]
    return taus[keep], rho[keep]


def performance_profile(curves: Mapping[str, np.ndarray], taus: np.ndarray, path: pathlib.Path,
                        title: str, colors: Mapping[str, tuple] | None = None, *,
                        highlight: Sequence[str] = (), own: str | None = None) -> None:
    """rho(tau) per entry (step curves); ``highlight`` in colour, ``own`` in black."""
    st = styles(list(curves), highlight, own)
    n_legend = sum(1 for e in curves if st[e]["label"]) + (1 if any(st[e]["label"] is None for e in curves) else 0)
    ncol = _ncol(e for e in curves if st[e]["label"])
    fig, (ax,), bottom = figure(1, 2.1, n_legend, ncol)
    order = sorted(curves, key=lambda e: (st[e]["zorder"], e))
    for entry in order:
        x, y = _steps(np.asarray(taus), np.asarray(curves[entry]))
        s = st[entry]
        ax.step(x, y, where="post", color=s["color"], lw=s["lw"], ls=s["ls"], zorder=s["zorder"],
                label=s["label"])
    ax.set_xscale("log", base=2)
    ax.set_xlim(taus[0], taus[-1])
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("τ: cost / best entry's cost")
    ax.set_ylabel("ρ(τ): fraction of problems")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    ranked = [e for e in ([own] if own else []) + list(highlight) if e in curves]
    pairs = sorted(zip(handles, labels), key=lambda hl: ranked.index(hl[1]) if hl[1] in ranked else 99)
    handles, labels = [h for h, _ in pairs], [l for _, l in pairs]
    others = sum(1 for e in curves if st[e]["label"] is None)
    if others:
        h, lab = _others_handle(others)
        handles.append(h)
        labels.append(lab)
    _legend_below(fig, handles, labels, bottom, ncol)
    save(fig, path)


# ---------------------------------------------------------------------------- escape curves
def _series(rec: RunRecord, name: str) -> tuple[np.ndarray, np.ndarray]:
    t = rec.trajectory or {}
    cost = t.get("cost") or []
    vals = t.get(name) or []
    pts = [(float(c), float(v)) for c, v in zip(cost, vals)
           if c is not None and v is not None and math.isfinite(float(v))]
    if not pts:
        return np.empty(0), np.empty(0)
    x, y = np.array(pts).T
    return x, y


def _on_grid(recs: Sequence[RunRecord], name: str, grid: np.ndarray) -> np.ndarray | None:
    """One row per run: the series interpolated on ``grid`` (a finished run holds its last
    value; before its first point a run holds its first value)."""
    rows = []
    for r in recs:
        x, y = _series(r, name)
        if len(x) == 0:
            continue
        order = np.argsort(x, kind="stable")
        rows.append(np.interp(grid, x[order], y[order]))
    return np.vstack(rows) if rows else None


def escape_curves(by_entry: Mapping[str, Sequence[RunRecord]], path: pathlib.Path, title: str,
                  colors: Mapping[str, tuple] | None = None, *, highlight: Sequence[str] = (),
                  saddle_value: float | None = None, f_star: float | None = None,
                  eps_h: float | None = None, saddle_lambda: float | None = None,
                  points: int = 130) -> None:
    """f (top) and lambda_min (bottom, symlog) against sample gradients: per entry the median
    over its runs; the 25-75% band for the highlighted entries only. Reference lines: the saddle
    value and f* (top); the saddle's lambda_min (-mu), -eps_h and 0 (bottom)."""
    max_cost = 1.0
    for recs in by_entry.values():
        for r in recs:
            c = (r.trajectory or {}).get("cost") or [1]
            max_cost = max(max_cost, float(max(c)))
    grid = np.unique(np.geomspace(1.0, max_cost, points))
    st = styles(list(by_entry), highlight)
    n_legend = (sum(1 for e in by_entry if st[e]["label"]) + any(st[e]["label"] is None for e in by_entry)
                + (saddle_value is not None) + (f_star is not None)
                + (saddle_lambda is not None and saddle_lambda < 0) + bool(eps_h))
    ncol = _ncol(e for e in by_entry if st[e]["label"])
    fig, (ax_f, ax_l), bottom = figure(2, 1.85, n_legend, ncol)
    lo_f, hi_f = math.inf, -math.inf
    lam_abs = []
    for entry in sorted(by_entry, key=lambda e: (st[e]["zorder"], e)):
        recs, s = by_entry[entry], st[entry]
        # a grey entry is drawn on every third point of the grid: a thin line needs no more, and
        # the file stays small
        g = grid if s["label"] else grid[::3]
        for ax, name in ((ax_f, "f"), (ax_l, "lambda_min")):
            m = _on_grid(recs, name, g)
            if m is None:
                continue
            med = np.median(m, axis=0)
            label = entry if (ax is ax_f and s["label"]) else None
            ax.plot(g, med, color=s["color"], lw=s["lw"], ls=s["ls"], zorder=s["zorder"], label=label)
            if s["label"]:
                q25, q75 = np.quantile(m, 0.25, axis=0), np.quantile(m, 0.75, axis=0)
                # the band on every second point: a soft area needs no more
                ax.fill_between(g[::2], q25[::2], q75[::2], color=s["color"], alpha=0.12, lw=0,
                                zorder=s["zorder"] - 1)
            else:
                q25 = q75 = med
            # the axes follow the highlighted entries and the reference lines; a grey entry that
            # diverges leaves the picture instead of squashing it
            if name == "f" and s["label"]:
                lo_f, hi_f = min(lo_f, float(np.min(q25))), max(hi_f, float(np.max(q75)))
            elif name == "lambda_min":
                lam_abs.append(float(np.max(np.abs(med if not s["label"] else m))))
    if saddle_value is not None:
        ax_f.axhline(saddle_value, color="0.35", ls=":", lw=1.1, label="f at the saddle")
        lo_f, hi_f = min(lo_f, saddle_value), max(hi_f, saddle_value)
    if f_star is not None:
        ax_f.axhline(f_star, color="0.35", ls="--", lw=1.1, label="f* (minimum)")
        lo_f, hi_f = min(lo_f, f_star), max(hi_f, f_star)
    if math.isfinite(lo_f) and math.isfinite(hi_f) and hi_f > lo_f:
        pad = 0.08 * (hi_f - lo_f)
        ax_f.set_ylim(lo_f - pad, hi_f + pad)
    # lambda_min: symlog, linear within eps_h / 2 of 0, so -mu, -eps_h and 0 are all apart
    scale = [abs(v) for v in (eps_h, saddle_lambda) if v]
    linthresh = (min(scale) / 2) if scale else 1e-3
    ax_l.set_yscale("symlog", linthresh=linthresh, linscale=0.6)
    ax_l.axhline(0.0, color="0.55", lw=0.9, label=None)
    if saddle_lambda is not None and saddle_lambda < 0:
        ax_l.axhline(saddle_lambda, color="0.35", ls=":", lw=1.1, label="−μ: λmin at the saddle")
    if eps_h:
        ax_l.axhline(-eps_h, color="#C00000", ls="--", lw=1.1, label="−εh (certificate)")
    lam_abs = [v for v in lam_abs if math.isfinite(v)]
    top = max([*lam_abs, abs(saddle_lambda or 0), eps_h or 0, linthresh * 10])
    top = min(top, 1e4 * max(abs(saddle_lambda or 0), eps_h or 0, linthresh))
    ax_l.set_ylim(-top * 1.6, top * 1.6)
    decades = [10.0 ** k for k in range(math.floor(math.log10(linthresh)) + 1, math.ceil(math.log10(top * 1.6)) + 1)
               if 10.0 ** k <= top * 1.6]
    ticks = sorted([-d for d in decades] + [0.0] + decades)
    ax_l.set_yticks(ticks, [f"{t:g}".replace("-", "−") for t in ticks])
    ax_l.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax_l.set_xscale("log")
    ax_l.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())  # one tick per decade is enough
    ax_l.set_xlabel("sample gradients (IFO calls)")
    ax_f.set_ylabel("f(w)")
    ax_l.set_ylabel("λmin(∇²f(w)), symlog")
    for ax in (ax_f, ax_l):
        ax.grid(alpha=0.3)
    ax_f.set_title(f"{title}: median over runs", fontsize=10, loc="left", x=-0.12)
    h1, l1 = ax_f.get_legend_handles_labels()
    h2, l2 = ax_l.get_legend_handles_labels()
    others = sum(1 for e in by_entry if st[e]["label"] is None)
    handles, labels = [], []
    entries_hl = [(h, lab) for h, lab in zip(h1, l1) if not (lab.startswith("f ") or lab.startswith("f*"))]
    rank = {e: i for i, e in enumerate(highlight)}
    entries_hl.sort(key=lambda hl: rank.get(hl[1], 99))
    for h, lab in entries_hl:
        handles.append(h)
        labels.append(lab)
    if others:
        h, lab = _others_handle(others)
        handles.append(h)
        labels.append(lab)
    for h, lab in [*zip(h1, l1), *zip(h2, l2)]:
        if lab.startswith("f ") or lab.startswith("f*") or lab.startswith("−"):
            handles.append(h)
            labels.append(lab)
    _legend_below(fig, handles, labels, bottom, ncol)
    save(fig, path)


# ---------------------------------------------------------------------------- throughput
def throughput_curves(series: Mapping[tuple[str, int], Sequence[tuple[float, float]]],
                      path: pathlib.Path, title: str, colors: Mapping[str, tuple]) -> None:
    """Sample gradients per second against d (log-log): one line per (entry, S), the entry's
    color, one line style per S."""
    fig, (ax,), bottom = figure(1, 2.2, len(series))
    batch_sizes = sorted({s for _, s in series})
    for (entry, rows), pts in sorted(series.items()):
        x, y = zip(*sorted(pts))
        ax.plot(x, y, marker="o", ms=3.5, lw=1.6, color=colors.get(entry),
                ls=_DASHES[batch_sizes.index(rows) % len(_DASHES)], label=f"{entry}, S={rows}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("d (parameters per run)")
    ax.set_ylabel("sample gradients / s")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    handles, labels = ax.get_legend_handles_labels()
    _legend_below(fig, handles, labels, bottom)
    save(fig, path)


# ---------------------------------------------------------------------------- claims
def _gaps(values: Sequence[Any]) -> np.ndarray:
    """Floats with None (a gap in a claim's series) as NaN: matplotlib breaks the line there."""
    return np.array([math.nan if v is None else float(v) for v in values], dtype=float)


#: a claim's series with at most this many points is drawn with a marker on each point; one
#: with more than MAX_POINTS is drawn through MAX_POINTS of them, evenly spaced
MARKED_POINTS, MAX_POINTS = 25, 300


def _symlog_axis(ax, axis: str, values: Sequence[float], decades: int = 3) -> None:
    """A symlog axis linear within ``decades`` decades below the largest |value| (no matter how
    close to 0 some values come), with at most 4 decade ticks on each side of 0."""
    big = max((abs(v) for v in values if v), default=1.0)
    top = math.ceil(math.log10(big))
    lin = 10.0 ** (top - decades)
    (ax.set_xscale if axis == "x" else ax.set_yscale)("symlog", linthresh=lin, linscale=0.6)
    exps = list(range(top, top - decades - 1, -1))[::max(1, math.ceil((decades + 1) / 4))]
    ticks = [0.0]
    if any(v > 0 for v in values):
        ticks += [10.0 ** e for e in exps]
    if any(v < 0 for v in values):
        ticks += [-(10.0 ** e) for e in exps]
    ticks.sort()
    labels = [f"{t:g}".replace("-", "−") for t in ticks]
    if axis == "x":
        ax.set_xticks(ticks, labels)
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    else:
        ax.set_yticks(ticks, labels)
        ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())


def claim_plot(series: Sequence[Mapping[str, Any]], spec: Mapping[str, Any], path: pathlib.Path,
               title: str) -> None:
    """A claim's measurement (``bench.claims.Series`` and ``Plot`` as stored in its result): one
    line per series (with markers when it has few points), the highlighted ones in colour, the
    others (references) grey and dashed; ``spec``: axis labels, scales (linear, log, symlog) and
    horizontal lines."""
    import textwrap

    hlines = dict(spec.get("hlines") or {})
    # a long label wraps (the legend is one column then): it must fit the figure's width
    wrap = {str(s.get("label", "")): "\n".join(textwrap.wrap(str(s.get("label", "")), 46,
                                                               break_on_hyphens=False)
                                                 or [""]) for s in series}
    labels = [wrap[str(s.get("label", ""))] for s in series] + list(hlines)
    lines = textwrap.wrap(title, 52, break_on_hyphens=False) or [""]
    if len(lines) > 2:
        lines = [lines[0], textwrap.shorten(" ".join(lines[1:]), 52, placeholder=" …")]
    ncol = _ncol(labels) if all("\n" not in x for x in labels) else 1
    rows = sum(x.count("\n") + 1 for x in labels) if ncol == 1 else len(labels)
    fig, (ax,), bottom = figure(1, 2.3, rows, ncol, top=TOP + 0.17 * (len(lines) - 1))
    markers = ["o", "s", "^", "D", "v", "P"]
    shown = [s for s in series if s.get("highlight", True)]
    ys = []
    for s in series:
        x, y = _gaps(s.get("x") or []), _gaps(s.get("y") or [])
        n = min(len(x), len(y))
        x, y = x[:n], y[:n]
        if n > MAX_POINTS:  # evenly spaced points, both ends kept: a light file
            keep = np.unique(np.linspace(0, n - 1, MAX_POINTS).round().astype(int))
            x, y = x[keep], y[keep]
        ys.extend(v for v in y if math.isfinite(v))
        # markers on the points of a short series only: on a curve of many points they would be
        # most of the file, and the line shows it
        dots = n <= MARKED_POINTS
        if s.get("highlight", True):
            i = shown.index(s)
            ax.plot(x, y, color=HIGHLIGHT[i % len(HIGHLIGHT)], lw=1.9, zorder=4,
                    ls=_DASHES[(i // len(HIGHLIGHT)) % len(_DASHES)],
                    marker=markers[i % len(markers)] if dots else None, ms=4.5,
                    label=wrap[str(s.get("label", ""))])
        else:
            ax.plot(x, y, color=GREY, lw=1.3, ls="--", zorder=2, marker="o" if dots else None,
                    ms=3, label=wrap[str(s.get("label", ""))])
    for k, (label, value) in enumerate(hlines.items()):
        ax.axhline(float(value), color="0.35", ls=_DASHES[(k + 3) % len(_DASHES)], lw=1.1,
                   zorder=1, label=label)
        ys.append(float(value))
    for axis, scale in (("x", spec.get("xscale", "linear")), ("y", spec.get("yscale", "linear"))):
        if scale == "symlog":
            vals = ys if axis == "y" else [float(v) for s in series for v in (s.get("x") or [])
                                           if v is not None]
            _symlog_axis(ax, axis, [v for v in vals if math.isfinite(v)])
        elif scale == "log":
            (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    ax.set_xlabel(str(spec.get("x", "")))
    ax.set_ylabel(str(spec.get("y", "")))
    ax.set_title("\n".join(lines), loc="left", x=-0.12)
    ax.grid(alpha=0.3, which="major")
    handles, names = ax.get_legend_handles_labels()
    # the measured series first, then the references, then the horizontal lines
    rank = {wrap[str(s.get("label", ""))]: (0 if s.get("highlight", True) else 1) for s in series}
    pairs = sorted(zip(handles, names), key=lambda hn: rank.get(hn[1], 2))
    handles, names = [h for h, _ in pairs], [n for _, n in pairs]
    _legend_below(fig, handles, names, bottom, ncol)
    save(fig, path)
