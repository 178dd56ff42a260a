"""``bench list problems|optimizers|suites|profiles``: fast, and as wide as the terminal.

Problem facts come from :mod:`bench.catalog` (cached per harness version), so listing does not
build every instance; long text columns wrap instead of widening the table.
"""

from __future__ import annotations

import shutil
import textwrap
from typing import Sequence

MIN_WIDTH, MAX_WIDTH = 60, 120


def terminal_width() -> int:
    """The terminal's columns (100 when not a terminal), clamped to [60, 120]."""
    return max(MIN_WIDTH, min(MAX_WIDTH, shutil.get_terminal_size((100, 24)).columns))


def wrapped_table(headers: Sequence[str], rows: Sequence[Sequence[str]], wrap: int | None,
                  width: int | None = None, right: Sequence[int] = ()) -> str:
    """A plain table (two spaces between columns): column ``wrap`` (a text column) takes the
    room the others leave in ``width`` (at least 20 characters) and wraps onto extra lines."""
    width = width or terminal_width()
    cols = len(headers)
    widths = [max([len(headers[i])] + [len(r[i]) for r in rows]) for i in range(cols)]
    if wrap is not None:
        rest = sum(w for i, w in enumerate(widths) if i != wrap) + 2 * (cols - 1)
        widths[wrap] = max(20, min(widths[wrap], width - rest))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i])
                         for i, c in enumerate(cells)).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    for row in rows:
        if wrap is None:
            out.append(line(row))
            continue
        parts = textwrap.wrap(row[wrap], widths[wrap], break_on_hyphens=False) or [""]
        out.append(line([*row[:wrap], parts[0], *row[wrap + 1:]]))
        out.extend(line(["" if i != wrap else p for i in range(cols)]) for p in parts[1:])
    return "\n".join(out)


def _num(x, fmt: str = ".3g") -> str:
    return "-" if x is None else format(x, fmt) if isinstance(x, (int, float)) else str(x)


def list_problems(family: str | None) -> str:
    from bench.catalog import all_problem_ids, describe

    options = diagnostics = None
    if family:
        from problems.registry import diagnostic_table, option_table

        options = option_table(family)  # an unknown family: an error with a suggestion
        diagnostics = diagnostic_table(family)
    facts = describe(all_problem_ids(family))
    rows, broken = [], []
    for pid, d in facts.items():
        if "error" in d:
            broken.append(f"{pid}: {d['error']}")
            continue
        n = "pop." if d.get("n") is None else str(d["n"])
        rows.append([pid, str(d["dim"]), n, str(d["batch_size"]), _num(d["eps_g"]),
                     _num(d["eps_h"]), f"{d['budget']:,}", _num(d.get("saddle_lambda_min"), ".4g"),
                     _num(d.get("f_star"), ".4g")])
    text = wrapped_table(["id", "dim", "n", "batch", "eps_g", "eps_h", "budget", "saddle lmin",
                          "f*"], rows, wrap=None, right=range(1, 9))
    legend = ("n: samples (pop. = population oracle); batch: samples per gradient call; saddle "
              "lmin: lambda_min of the Hessian at the start saddle; f*: the minimum value. "
              "`--family F` lists a family's options and diagnostics.")
    text += "\n\n" + textwrap.fill(legend, terminal_width())
    if broken:
        text += "\n\nproblems that failed to build:\n" + "\n".join(broken)
    if options is not None:
        text += "\n\n" + textwrap.fill(
            f"options of {family} (write {family}:SIZE[name=value,...]; ids list only options "
            f"that differ from the default):", terminal_width()) + "\n"
        text += wrapped_table(["option", "type", "default", "range / choices", "meaning"],
                              [[str(o["option"]), str(o["type"]), str(o["default"]),
                                str(o["range"]), str(o["meaning"])] for o in options], wrap=4)
    if diagnostics is not None:
        text += "\n\n" + textwrap.fill(
            f"diagnostics of {family} (bench run --diagnostics NAME,...: measured at every "
            f"checkpoint, uncounted and never shown to the entry, into the record's trajectory):",
            terminal_width()) + "\n"
        text += wrapped_table(["diagnostic", "meaning"],
                              [[d["diagnostic"], d["meaning"]] for d in diagnostics], wrap=1)
    return text


def list_optimizers() -> str:
    from optimizers import BrokenEntry, discover

    rows = []
    for name, e in discover().items():
        if isinstance(e, BrokenEntry):
            rows.append([name, "BROKEN", "", e.error])
        else:
            rows.append([name, e.oracle_class, "yes" if e.elementwise else "no", e.summary])
    return wrapped_table(["entry", "oracle", "elementwise", "summary"], rows, wrap=3)


def list_suites() -> str:
    from bench.suites import SUITES

    rows = [[s.name, str(s.version), str(len(s.items)), str(s.n_runs), s.description]
            for s in SUITES.values()]
    return wrapped_table(["suite", "version", "problems", "runs/entry", "description"], rows,
                         wrap=4, right=(1, 2, 3))


def list_profiles() -> str:
    from bench.profiles import PROFILES

    rows = [[p.name, p.device, p.dtype, str(p.threads), p.description] for p in PROFILES.values()]
    return wrapped_table(["profile", "device", "dtype", "threads", "description"], rows, wrap=4)


LISTS = {"problems": list_problems, "optimizers": list_optimizers, "suites": list_suites,
         "profiles": list_profiles}


def cmd_list(args) -> int:
    if args.what == "problems":
        print(list_problems(args.family))
    else:
        print(LISTS[args.what]())
    return 0
