"""Matplotlib plots of the leaderboard (SVG, deterministic bytes): performance profiles and
escape curves. Imported only when the site is built."""

from __future__ import annotations

import math
import pathlib
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bench.records import RunRecord  # noqa: E402

plt.rcParams.update({"svg.hashsalt": "saddlebench", "svg.fonttype": "path", "font.size": 9,
                     "axes.spines.top": False, "axes.spines.right": False})

_SAVE = {"format": "svg", "metadata": {"Date": None}, "bbox_inches": "tight"}


_DASHES = ["-", "--", "-.", ":"]


def entry_colors(entries: Sequence[str]) -> dict[str, tuple]:
    """A fixed color per entry (sorted names), the same on every plot of the site."""
    names = sorted(set(entries))
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    return {e: cmap(i % cmap.N) for i, e in enumerate(names)}


def entry_style(entry: str, colors: Mapping[str, tuple]) -> dict:
    """Color plus a line style, so that entries with identical curves stay visible."""
    names = sorted(colors)
    i = names.index(entry) if entry in names else 0
    return {"color": colors.get(entry), "ls": _DASHES[i % len(_DASHES)]}


def performance_profile(curves: Mapping[str, np.ndarray], taus: np.ndarray, path: pathlib.Path,
                        title: str, colors: Mapping[str, tuple]) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for entry, rho in sorted(curves.items(), key=lambda kv: (-kv[1].sum(), kv[0])):
        ax.step(taus, rho, where="post", label=entry, lw=1.8, **entry_style(entry, colors))
    ax.set_xscale("log", base=2)
    ax.set_xlim(taus[0], taus[-1])
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(r"$\tau$ (calls to SOSP / best entry's calls)")
    ax.set_ylabel(r"$\rho(\tau)$: fraction of problems")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.savefig(path, **_SAVE)
    plt.close(fig)


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
                  colors: Mapping[str, tuple], *, saddle_value: float | None = None,
                  f_star: float | None = None, eps_h: float | None = None) -> None:
    """f and lambda_min against sample gradients: median over seeds and the 25-75% band."""
    max_cost = 1.0
    for recs in by_entry.values():
        for r in recs:
            c = (r.trajectory or {}).get("cost") or [1]
            max_cost = max(max_cost, float(max(c)))
    grid = np.unique(np.geomspace(1.0, max_cost, 160))
    fig, (ax_f, ax_l) = plt.subplots(1, 2, figsize=(10.5, 3.6))
    lo_f, hi_f = math.inf, -math.inf
    for entry in sorted(by_entry):
        recs = by_entry[entry]
        color = colors.get(entry)
        for ax, name in ((ax_f, "f"), (ax_l, "lambda_min")):
            m = _on_grid(recs, name, grid)
            if m is None:
                continue
            med = np.median(m, axis=0)
            q25, q75 = np.quantile(m, 0.25, axis=0), np.quantile(m, 0.75, axis=0)
            ax.plot(grid, med, lw=1.6, **entry_style(entry, colors), label=f"{entry} ({len(m)})" if ax is ax_f else None)
            ax.fill_between(grid, q25, q75, color=color, alpha=0.18, lw=0)
            if name == "f":
                lo_f, hi_f = min(lo_f, float(np.min(q25))), max(hi_f, float(np.max(q75)))
    if saddle_value is not None:
        ax_f.axhline(saddle_value, color="0.4", ls=":", lw=1, label=r"$f_s$ (saddle)")
        lo_f, hi_f = min(lo_f, saddle_value), max(hi_f, saddle_value)
    if f_star is not None:
        ax_f.axhline(f_star, color="0.4", ls="--", lw=1, label=r"$f^\star$")
        lo_f, hi_f = min(lo_f, f_star), max(hi_f, f_star)
    if math.isfinite(lo_f) and math.isfinite(hi_f) and hi_f > lo_f:
        pad = 0.08 * (hi_f - lo_f)
        ax_f.set_ylim(lo_f - pad, hi_f + pad)
    ax_l.axhline(0.0, color="0.6", lw=0.8)
    if eps_h is not None:
        ax_l.axhline(-eps_h, color="0.4", ls="-.", lw=1, label=r"$-\varepsilon_h$ (certificate)")
    for ax, lab in ((ax_f, "f(w)"), (ax_l, r"$\lambda_{\min}(\nabla^2 f(w))$")):
        ax.set_xscale("log")
        ax.set_xlabel("sample gradients (IFO calls)")
        ax.set_ylabel(lab)
        ax.grid(alpha=0.3)
    ax_f.set_title(f"{title}: f, median and 25-75% over seeds", fontsize=9)
    ax_l.set_title("smallest Hessian eigenvalue", fontsize=9)
    handles, labels = ax_f.get_legend_handles_labels()
    h2, l2 = ax_l.get_legend_handles_labels()
    handles, labels = handles + h2, labels + l2
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, **_SAVE)
    plt.close(fig)


def throughput_curves(series: Mapping[tuple[str, int], Sequence[tuple[float, float]]],
                      path: pathlib.Path, title: str, colors: Mapping[str, tuple]) -> None:
    """Sample gradients per second against d (log-log): one line per (entry, S), the entry's
    color, one line style per S."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
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
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.savefig(path, **_SAVE)
    plt.close(fig)
