"""Terminal tables of ``bench run`` and ``bench show`` (at most ``WIDTH`` = 100 columns).

Both take :func:`leaderboard.aggregate.problem_table`'s DataFrame. Failures count: every row
shows the success fraction (certified / runs) and the penalized median cost (PAR-2: a failed
run costs ``FAILURE_PENALTY`` x budget, see :mod:`leaderboard.scoring`) beside the median calls
of the certified runs; "best" marks go to the lowest penalized cost.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any, Sequence

from leaderboard import scoring

WIDTH = 100
TOP_K = 5


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_calls(x: Any) -> str:
    """Calls in at most 6 characters: 988, 12,345, 123k, 1.2M."""
    if _missing(x):
        return "-"
    x = float(x)
    if x < 1e5:
        return f"{x:,.0f}"
    if x < 1e6:
        return f"{x / 1e3:.0f}k"
    return f"{x / 1e6:.3g}M"


def fmt_s(x: Any) -> str:
    if _missing(x):
        return "-"
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"


def fmt_gap(x: Any) -> str:
    return "-" if _missing(x) else f"{x:.2g}"


def success(row) -> str:
    return f"{int(row.certified)}/{int(row.runs)}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(width - 1, 1)] + "~"


def fixed_table(headers: Sequence[str], rows: Sequence[Sequence[str]], shrink: Sequence[int] = (0,),
                width: int = WIDTH, right: Sequence[int] = ()) -> str:
    """Plain text table, two spaces between columns, at most ``width`` wide: the columns in
    ``shrink`` are cut (with "~") when needed, the widest first."""
    cols = len(headers)
    widths = [max([len(headers[i])] + [len(r[i]) for r in rows]) for i in range(cols)]
    total = sum(widths) + 2 * (cols - 1)
    while total > width:
        cand = [i for i in shrink if widths[i] > max(8, len(headers[i]))]
        if not cand:
            break
        i = max(cand, key=lambda j: widths[j])
        widths[i] -= 1
        total -= 1

    def line(cells):
        out = []
        for i, c in enumerate(cells):
            c = _clip(c, widths[i])
            out.append(c.rjust(widths[i]) if i in right else c.ljust(widths[i]))
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), sep] + [line(r) for r in rows])


def results_table(table) -> str:
    """Per (entry, problem) summary as text (one row each): success, penalized median cost,
    median and IQR of calls over certified runs, seconds per run, escape calls, relative gap."""
    rows = []
    for r in table.itertuples():
        iqr = "-" if _missing(r.calls_q25) else f"{fmt_calls(r.calls_q25)}-{fmt_calls(r.calls_q75)}"
        rows.append([r.entry, r.problem, success(r), fmt_calls(r.cost_median), fmt_calls(r.calls_median),
                     iqr, fmt_s(r.seconds_median), fmt_calls(r.escape_median), fmt_gap(r.gap_median)])
    headers = ["entry", "problem", "ok/runs", "cost", "calls(cert)", "IQR(cert)", "s/run", "escape",
               "gap"]
    legend = (f"ok/runs = certified/runs; cost = median calls over ALL runs, a failure counting "
              f"{scoring.FAILURE_PENALTY:g} x budget (PAR-2); calls(cert), IQR(cert) = over "
              f"certified runs only; s/run = median seconds per run (certified); escape = median "
              f"escape calls; gap = median (f - f*)/(f_s - f*) at the certified point.")
    text = fixed_table(headers, rows, shrink=(0, 1), right=(2, 3, 4, 5, 6, 7, 8))
    return text + "\n" + textwrap.fill(legend, WIDTH)


def comparison_table(table, highlight: set[str]) -> str | None:
    """Per problem: the highlighted entries first, then the best others (top ``TOP_K`` by
    penalized median cost), with each one's place among all entries; None if one entry only."""
    entries = sorted(set(table.entry))
    if len(entries) < 2:
        return None
    rows = []
    for problem in sorted(set(table.problem)):
        t = table[table.problem == problem]
        pen = scoring.FAILURE_PENALTY * float(t.budget.max())
        t = t.sort_values(["cost_median", "entry"])
        best = min((c for c in t.cost_median if c < pen), default=None)
        n = len(t)
        place = {e: i + 1 for i, e in enumerate(t.entry)}
        mine = [r for r in t.itertuples() if r.entry in highlight]
        others = [r for r in t.itertuples() if r.entry not in highlight][:TOP_K]
        for r in mine + others:
            solved = r.cost_median < pen
            ratio = "-" if best is None or not solved else (
                "1" if r.cost_median == best else f"{r.cost_median / best:.2f}" if best > 0 else "inf")
            mark = "*" if best is not None and solved and r.cost_median == best else ""
            rows.append([problem, f"{place[r.entry]}/{n}",
                         (">" + r.entry + "<") if r.entry in highlight else r.entry,
                         success(r), fmt_calls(r.cost_median) + mark, ratio, fmt_calls(r.calls_median)])
    headers = ["problem", "place", "entry", "ok/runs", "cost", "ratio", "calls(cert)"]
    legend = (f">you< first, then the best {TOP_K} others; place = by cost among all entries; "
              f"cost = median calls over ALL runs, a failure counting {scoring.FAILURE_PENALTY:g} x "
              f"budget (PAR-2); * = best cost; ratio = cost / best (- when fewer than half of the "
              f"runs certified); calls(cert) = median over certified runs only.")
    text = fixed_table(headers, rows, shrink=(2, 0), right=(1, 3, 4, 5, 6))
    return text + "\n" + textwrap.fill(legend, WIDTH)


def comparison_matrix(table, highlight: set[str]) -> str | None:
    """Every entry (rows: the highlighted ones first, then by geometric mean ratio) against every
    problem (columns P1, P2, ...): cost / best cost on that problem, "1*" for the best, "x" when
    fewer than half of the runs certified; None if one entry only. Columns are numbered and
    named in the legend, so 8 problems fit 100 columns."""
    entries = sorted(set(table.entry))
    if len(entries) < 2:
        return None
    problems = sorted(set(table.problem))
    cells: dict[tuple[str, str], str] = {}
    logs: dict[str, list[float]] = {e: [] for e in entries}
    for problem in problems:
        t = table[table.problem == problem]
        pen = scoring.FAILURE_PENALTY * float(t.budget.max())
        best = min((c for c in t.cost_median if c < pen), default=None)
        for r in t.itertuples():
            if best is None or r.cost_median >= pen:
                cells[r.entry, problem] = "x"
                logs[r.entry].append(math.log(pen / best) if best else math.inf)
                continue
            ratio = r.cost_median / best if best > 0 else math.inf
            cells[r.entry, problem] = "1*" if r.cost_median == best else f"{ratio:.3g}"
            logs[r.entry].append(math.log(ratio) if ratio > 0 else 0.0)

    def order(entry: str):
        values = logs[entry]
        return (entry not in highlight, sum(values) / len(values) if values else math.inf, entry)

    rows = [[(">" + e + "<") if e in highlight else e] + [cells.get((e, p), "-") for p in problems]
            for e in sorted(entries, key=order)]
    headers = ["entry"] + [f"P{i + 1}" for i in range(len(problems))]
    text = fixed_table(headers, rows, shrink=(0,), right=range(1, len(headers)))
    names = "; ".join(f"P{i + 1} = {p}" for i, p in enumerate(problems))
    legend = (f"cost / best cost per problem (cost = median calls over ALL runs, a failure "
              f"counting {scoring.FAILURE_PENALTY:g} x budget); 1* = best; x = fewer than half "
              f"of the runs certified; - = not run. Rows: >you< first, then by geometric mean "
              f"ratio. {names}.")
    return text + "\n" + textwrap.fill(legend, WIDTH)
