"""One page per problem family: its definition (the class docstring), options, sizes, the
instances that have runs and, per instance and board, a compact results table, the details behind
a collapsible block and the escape curves. A mixin of :class:`leaderboard.site.SiteWriter`."""

from __future__ import annotations

import json
from collections import defaultdict

from bench.records import RunRecord
from leaderboard import scoring
from leaderboard.markdown import (DASH, code, docstring_markdown, fmt_float, fmt_int, fmt_pct,
                                  fmt_seconds, is_missing, md_table, noindex, slug)
from leaderboard.site_data import (DETAIL_COLUMNS, ESCAPE_TOP, Board, ci_text, indent_block,
                                   math_isfinite, ratio_text)


class ProblemPages:
    # ------------------------------------------------------------------ problems
    def write_family(self, family: str) -> str:
        rel = f"problems/{slug(family)}.md"
        cls = self.family_classes.get(family)
        recs = [r for r in self.records if r.family == family]
        # search: a problem page ranks first for its ids ("quad-saddle:medium" is also on the
        # home page, in the matrix and the board's list of problems)
        parts = ["---\nhide:\n  - toc\nsearch:\n  boost: 4\n---\n\n", f"# {family}\n"]
        if cls is None:
            parts.append("_No problem class of this name is registered in `problems/`: these "
                         "records come from elsewhere._\n")
        else:
            if getattr(cls, "control", False):
                parts.append("!!! note \"A control\"\n    This family has no strict saddle to "
                             "escape: suites and the leaderboard keep it out of the ranking.\n")
            parts.append(docstring_markdown(cls.__doc__, heading="##"))
            options = getattr(cls, "options", None) or {}
            if options:
                parts.append("\n## Options\n")
                parts.append("Set with `family:size[name=value]`; an id shows only the options that "
                             "differ from their default.\n")
                parts.append(md_table(["option", "type", "default", "meaning"],
                                      [[code(k), o.type.__name__, code(json.dumps(o.default)), o.help]
                                       for k, o in options.items()]))
            diagnostics = getattr(cls, "diagnostics", None) or {}
            if diagnostics:
                parts.append("\n## Diagnostics\n")
                parts.append("Quantities an experiment can have measured along a run (`bench run "
                             "--diagnostics NAME,...`): the harness evaluates them at every "
                             "checkpoint on its own copy of the iterate, uncounted, and writes "
                             "them into the record's trajectory; the entry never sees them.\n")
                parts.append(md_table(["diagnostic", "meaning"],
                                      [[code(k), d.help] for k, d in sorted(diagnostics.items())]))
            sizes = getattr(cls, "sizes", None) or {}
            if sizes:
                parts.append("\n## Sizes\n")
                parts.append(md_table(["size", "parameters"], [[code(s), code(json.dumps(p))]
                                                               for s, p in sizes.items()]))
        # instances found in the records
        ids = sorted({r.problem for r in recs})
        rows = []
        for pid in ids:
            d = self.facts.get(pid)
            r0 = next(r for r in recs if r.problem == pid)
            budgets = sorted({r.budget for r in recs if r.problem == pid})
            rows.append([self.problem_link(pid, family, 1), fmt_int(d.get("dim", r0.dim)),
                         fmt_float(d.get("eps_g", r0.eps_g)), fmt_float(d.get("eps_h", r0.eps_h)),
                         fmt_float(d.get("saddle_value", r0.saddle_value)),
                         fmt_float(d.get("saddle_lambda_min")), fmt_float(d.get("f_star", r0.f_star)),
                         ", ".join(fmt_int(x) for x in budgets)])
        parts.append("\n## Instances\n")
        parts.append("The instances that have runs (instance seed 0 for the constants that depend "
                     "on the seed). eps_g, eps_h: the certificate's tolerances; budget: sample "
                     "gradients per run as the suites ran them.\n")
        parts.append(md_table(["id", "dim", "eps_g", "eps_h", "f(saddle)", "λmin(saddle)", "f*",
                               "budget"], rows))
        for pid in ids:
            parts.append(f"\n## {pid} {{#{slug(pid)}}}\n")
            for b in self.boards:
                brecs = [r for r in b.records if r.problem == pid]
                if brecs:
                    parts.append(self.problem_board(pid, b, brecs))
        self.write(rel, "\n".join(parts))
        return rel

    def detail_cells(self, r) -> list[str]:
        return [ci_text(r.cost_ci_low, r.cost_ci_high, r.cost_ci_coverage), fmt_int(r.calls_median),
                DASH if is_missing(r.calls_q25) else f"{fmt_int(r.calls_q25)}–{fmt_int(r.calls_q75)}",
                fmt_float(r.gap_median, 2), fmt_int(r.escape_median), fmt_pct(r.escaped_rate),
                fmt_seconds(r.seconds_median), code(r.hardware_id)]

    def problem_board(self, pid: str, b: Board, recs: list[RunRecord]) -> str:
        budget = max(r.budget for r in recs)
        kind = "ranked" if b.ranked else "not ranked"
        out = [f"\n### {b.title} {{#{slug(pid)}--{b.key}}}\n",
               f"{kind.capitalize()}; budget {fmt_int(budget)} sample gradients; {len(recs)} runs. "
               "**cost** = median calls to SOSP over all runs, a failed run counted as "
               f"{scoring.FAILURE_PENALTY:g} x budget; **ratio** = cost / the best cost among the "
               "entries that certified at least half of their runs (— : fewer than half).\n"]
        t = b.table[b.table.problem == pid]
        costs = scoring.cost_matrix(b.table)
        ratios = scoring.ratio_matrix(costs, scoring.penalties(b.table))
        t = t.assign(ratio_to_best=[ratios.loc[pid, e] for e in t.entry]).sort_values(
            ["cost_median", "entry"])
        rows, details = [], []
        for r in t.itertuples():
            best = math_isfinite(r.ratio_to_best) and r.ratio_to_best <= 1.0 + 1e-12
            ratio = ratio_text(r.ratio_to_best) if math_isfinite(r.ratio_to_best) else DASH
            rows.append([self.entry_link(r.entry, 1), f"{r.certified}/{r.runs}", fmt_int(r.cost_median),
                         f"**{ratio}** ★" if best else ratio])
            details.append([self.entry_link(r.entry, 1), *self.detail_cells(r)])
        out.append(noindex(md_table(["entry", "certified", "cost", "ratio"], rows)))
        out.append(noindex("??? note \"Details: cost CI, calls of the certified runs, gap, escape, seconds\"\n"
                   + indent_block(
                       "**cost 95% CI**: distribution-free (order statistics; with too few runs for "
                       "95% the coverage achieved is in parentheses). **median calls** and IQR: "
                       "over the certified runs only. **gap**: median (f - f*)/(f_s - f*) of the "
                       "certified runs' final values (0: f*, 1: the saddle's value). **escape "
                       "calls**: median over the runs that escaped; **escaped**: their fraction. "
                       "**median s**: optimizer seconds per run on the hardware named (a batch of S "
                       "seeds shares one clock: its seconds / S; compare only within one hardware "
                       "id).\n\n" + md_table(["entry", *DETAIL_COLUMNS], details))))
        by_entry: dict[str, list[RunRecord]] = defaultdict(list)
        for r in recs:
            by_entry[r.entry].append(r)
        d = self.facts.get(pid)
        solved = [e for e, x in zip(t.entry, t.ratio_to_best) if math_isfinite(x)]
        # in colour: the best entries that solve the problem (the lowest costs if none does)
        highlight = solved[:ESCAPE_TOP] or list(t.entry[:ESCAPE_TOP])
        name = f"escape-{slug(pid)}-{b.key}.svg"
        kw = dict(saddle_value=recs[0].saddle_value, f_star=recs[0].f_star,
                  eps_h=recs[0].eps_h or d.get("eps_h"), saddle_lambda=d.get("saddle_lambda_min"))
        key = ["escape", pid, self.records_key(recs), highlight, kw]
        self.plot(self.plots / name, key, lambda path: self.plots_mod.escape_curves(
            by_entry, path, pid, highlight=highlight, **kw))
        out.append(f"\nf and the smallest Hessian eigenvalue against sample gradients, median over "
                   f"runs; the (up to) {ESCAPE_TOP} lowest-cost entries that solve it in colour, with "
                   f"their 25-75% band, the others grey. Click for full size.\n\n"
                   f"![Escape curves of {pid}, {b.suite} v{b.version} {b.track}](../assets/plots/{name}){{ .plot }}\n")
        return "\n".join(out)

