"""The home page of the site: the leaderboard suite's two ranked boards (ranking, problems x
entries matrix, performance profile), every other board as a table, the claims' verdicts and the
data downloads (CSV and Parquet). A mixin of :class:`leaderboard.site.SiteWriter`."""

from __future__ import annotations

import datetime
import gzip
import html
import json
import re
import sys

import numpy as np
import pandas as pd

from leaderboard import boards, scoring
from leaderboard.markdown import cell, fmt_int, md_table, noindex, slug
from leaderboard.site_data import (DOCS, PROFILE_TOP, Board, interval, math_isfinite, ranked_version,
                                   ratio_text)


class HomePage:
    # ------------------------------------------------------------------ downloads
    def records_frame(self) -> pd.DataFrame:
        """One row per published record, its scalar fields read straight from the attributes
        (no deep copy): trajectories stay in the JSONL archive; hyperparameters as JSON."""
        rows = []
        for r in self.records:
            br = r.sosp_bracket or [None, None]
            rows.append({
                "suite": r.suite, "suite_version": r.suite_version, "profile": r.profile,
                "track": r.track, "entry": r.entry, "entry_name": r.entry_name,
                "problem": r.problem, "family": r.family, "dim": r.dim,
                "instance_seed": r.instance_seed, "init_seed": r.init_seed, "run_seed": r.run_seed,
                "status": r.status, "certified": r.status == "certified",
                "cost": scoring.run_cost(r.status, r.calls_to_sosp, r.budget or 0),
                "calls_to_sosp": r.calls_to_sosp, "sosp_bracket_low": br[0], "sosp_bracket_high": br[1],
                "grad_calls_to_sosp": r.grad_calls_to_sosp, "hvp_calls_to_sosp": r.hvp_calls_to_sosp,
                "seconds_to_sosp": r.seconds_to_sosp, "batch_size": r.batch_size,
                "escape_calls": r.escape_calls, "escape_seconds": r.escape_seconds,
                "steps": r.steps, "total_cost": (r.counts or {}).get("cost"),
                "optimizer_seconds": r.optimizer_seconds, "wall_seconds": r.wall_seconds,
                "final_f": r.final_f, "final_grad_norm": r.final_grad_norm,
                "final_lambda_min": r.final_lambda_min, "eps_g": r.eps_g, "eps_h": r.eps_h,
                "budget": r.budget, "saddle_value": r.saddle_value, "f_star": r.f_star,
                "escape_delta": r.escape_delta, "oracle_class": r.oracle_class,
                "hparams": json.dumps(r.hparams, sort_keys=True, default=str),
                "entry_source_hash": r.entry_source_hash, "harness_version": r.harness_version,
                "hardware_id": str((r.hardware or {}).get("id", "")), "sealed": r.sealed,
                "created_at": r.created_at,
            })
        return pd.DataFrame(rows)

    def _board_columns(self, b: Board, df: pd.DataFrame) -> pd.DataFrame:
        return df.assign(suite=b.suite, suite_version=b.version, profile=b.profile, track=b.track,
                         ranked=b.ranked)[["suite", "suite_version", "profile", "track", "ranked",
                                           *[c for c in df.columns if c not in ("profile",)]]]

    def write_downloads(self) -> None:
        """All records and the aggregate tables as CSV and Parquet under assets/data/."""
        tables = [
            ("records", "every published run record (one row per run; trajectories are in the "
                        "JSONL archive)", self.records_frame()),
            ("problem-stats", "per board, entry and problem: runs, certified, penalized median "
                              "cost and its CI, calls, gap, escape, seconds",
             pd.concat([self._board_columns(b, b.table) for b in self.boards], ignore_index=True)
             if self.boards else pd.DataFrame()),
            ("rankings", "the ranked boards: rank, score, rank interval, SGM cost, solved",
             pd.concat([self._board_columns(b, b.ranking) for b in self.boards if b.ranked],
                       ignore_index=True) if any(b.ranked for b in self.boards) else pd.DataFrame()),
        ]
        try:
            import pyarrow  # noqa: F401

            parquet = True
        except ImportError:
            parquet = False
            print("leaderboard: pyarrow is not installed: no Parquet downloads "
                  "(pip install -e '.[docs]')", file=sys.stderr)
        for name, what, df in tables:
            files = {}
            csv = f"{name}.csv.gz" if name == "records" else f"{name}.csv"
            # gzip without a timestamp: the same records give the same bytes
            with open(self.data / csv, "wb") as raw:
                if csv.endswith(".gz"):
                    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
                        gz.write(df.to_csv(index=False, float_format="%.10g").encode())
                else:
                    raw.write(df.to_csv(index=False, float_format="%.10g").encode())
            files["CSV"] = csv
            if parquet:
                df.to_parquet(self.data / f"{name}.parquet", index=False, compression="zstd")
                files["Parquet"] = f"{name}.parquet"
            self.downloads.append((name, what, files, len(df)))

    def downloads_section(self) -> str:
        rows = [[name, what, f"{n:,}", " · ".join(f"[{k}](assets/data/{v})" for k, v in files.items())]
                for name, what, files, n in self.downloads]
        return ("\n## Data downloads {#downloads}\n\n"
                "Everything the tables show, as data. `records.csv.gz` is gzip-compressed CSV "
                "(`pandas.read_csv` reads it as it is); Parquet files are zstd-compressed "
                "(`pandas.read_parquet`). Costs are sample gradients; `cost` is the run cost of the "
                f"ranking (a failed run counts {scoring.FAILURE_PENALTY:g} x budget).\n\n"
                + md_table(["table", "what", "rows", "files"], rows))

    # ------------------------------------------------------------------ home
    def write_home(self) -> None:
        intro_path = DOCS / "index.md"
        intro = intro_path.read_text(encoding="utf-8") if intro_path.is_file() else "# SaddleBench leaderboard\n"
        parts = [intro.rstrip() + "\n"]
        if not self.boards:
            parts.append("\n!!! warning \"No results yet\"\n    No run records were found. "
                         "See [how to submit](submitting.md).\n")
        version = ranked_version()
        have = {(b.suite, b.version, b.profile, b.track) for b in self.boards}
        if version:
            # the leaderboard's two ranked boards come first, said plainly when empty
            for track in boards.RANKED_TRACKS:
                if (boards.RANKED_SUITE, version, "cpu", track) not in have:
                    parts.append(self.empty_board_section(version, track))
                else:
                    b = next(b for b in self.boards if (b.suite, b.version, b.profile, b.track)
                             == (boards.RANKED_SUITE, version, "cpu", track))
                    parts.append(self.board_section(b))
        for b in self.boards:
            if version and (b.suite, b.version, b.profile) == (boards.RANKED_SUITE, version, "cpu") \
                    and b.track in boards.RANKED_TRACKS:
                continue
            parts.append(self.board_section(b))
        broken = {n: m for n, m in self.modules.items() if not hasattr(m, "metadata")}
        unrun = sorted(n for n, m in self.modules.items() if hasattr(m, "metadata")
                       and n not in {r.entry_name for r in self.records})
        if unrun or broken:
            parts.append("\n## Entries without results\n")
            for n in unrun:
                parts.append(f"- `{n}`: in `optimizers/`, no records yet\n")
            for n, m in sorted(broken.items()):
                parts.append(f"- `{n}`: **broken**: {cell(getattr(m, 'error', ''))}\n")
        parts.append(self.claims.home())
        if self.downloads:
            parts.append(self.downloads_section())
        older = (f"; {self.left_out} records of older harness versions left out" if self.left_out else "")
        parts.append(f"\n<small>Built from {len(self.records)} run records{older} "
                     f"on {datetime.date.today().isoformat()}.</small>\n")
        self.write("index.md", "\n".join(parts))

    @staticmethod
    def track_label(track: str) -> str:
        return {"tuned": "tuned track (hyperparameters from each entry's committed tuning file)",
                "defaults": "defaults track (each entry's own defaults, nothing tuned)",
                "custom": "custom hyperparameters (never ranked)"}.get(track, f"track {track}")

    def empty_board_section(self, version: str, track: str) -> str:
        key = slug(f"{boards.RANKED_SUITE}-v{version}-cpu-{track}")
        return (f"\n## Ranking: {self.track_label(track)} {{#{key}}}\n\n"
                f"!!! note \"No records yet\"\n    The `{track}` board of suite "
                f"`{boards.RANKED_SUITE}` v{version} (profile `cpu`) has no records yet, so there "
                f"is no ranking to show. See [how to submit](submitting.md).\n")

    def board_note(self, b: Board) -> str:
        hv = f"harness version `{b.harness_version}`" if b.harness_version else "harness version unrecorded"
        note = f"All runs of this board come from {hv}"
        if b.older_left_out:
            note += (f"; {b.older_left_out} records made by older harness versions were left out "
                     "(a board never mixes harness versions)")
        from bench.provenance import harness_version

        if b.harness_version and b.harness_version != harness_version():
            note += (f". The code that built this site is harness version `{harness_version()}`: "
                     "these runs were made by other code, and `python -m leaderboard.make_results` "
                     "re-runs them with this one")
        return note + "."

    def write_board_csv(self, b: Board) -> str:
        name = f"{b.key}.csv"
        b.table.to_csv(self.data / name, index=False, float_format="%.6g")
        return name

    def board_order(self, b: Board) -> list[str]:
        """Entries in the board's order: by rank on a ranked board, else by SGM cost."""
        if b.ranked and not b.ranking.empty:
            return list(b.ranking.entry)
        costs = scoring.cost_matrix(b.table)
        return sorted(costs.columns, key=lambda e: (scoring.shifted_geomean(costs[e].values), e))

    def matrix_html(self, b: Board, depth: int = 0) -> str:
        """Problems x entries: each entry's penalized median cost over the best entry's, per
        problem (1.00 and a star: the best), with the certified fraction under it; an entry that
        solves fewer than half of its runs shows a cross instead of a ratio. Raw HTML (a sticky
        entry column, a scroll container), sortable by its headers."""
        costs = scoring.cost_matrix(b.table)
        pen = scoring.penalties(b.table)
        ratios = scoring.ratio_matrix(costs, pen)
        problems = list(costs.index)
        fam = {r.problem: r.family for r in b.records}
        stats = {(r.entry, r.problem): r for r in b.table.itertuples()}
        up = "../" * depth
        head = ['<th class="sb-key" scope="col">entry</th>']
        for p in problems:
            fam_p, size = (p.split(":", 1) + [""])[:2]
            label = "<wbr>".join(re.split(r"(?<=[-:])", html.escape(p)))  # breaks after - and :
            head.append(f'<th scope="col"><a href="{up}problems/{slug(fam.get(p, fam_p))}.html#{slug(p)}" '
                        f'title="{html.escape(p)}: problem page">{label}</a></th>')
        rows = []
        for e in self.board_order(b):
            cells = [f'<th class="sb-key" scope="row"><a href="{up}entries/{self.entry_slug[e]}.html">'
                     f"{html.escape(e)}</a></th>"]
            for p in problems:
                st = stats.get((e, p))
                if st is None:
                    cells.append('<td class="sb-none" data-sort="" title="no runs">—<small>not run</small></td>')
                    continue
                frac = f"{st.certified}/{st.runs}"
                r = float(ratios.loc[p, e])
                cost = fmt_int(st.cost_median)
                if math_isfinite(r):
                    best = r <= 1.0 + 1e-12
                    cls = "sb-best" if best else ("sb-good" if r <= 2 else "sb-ok")
                    mark = "★ " if best else ""
                    cells.append(f'<td class="{cls}" data-sort="{r:.6g}" title="cost {cost} calls, '
                                 f'{frac} certified">{mark}{ratio_text(r)}<small>{frac}</small></td>')
                else:
                    cells.append(f'<td class="sb-fail" data-sort="" title="unsolved: cost = penalty '
                                 f'{cost} calls, {frac} certified">✗<small>{frac}</small></td>')
            rows.append("<tr>" + "".join(cells) + "</tr>")
        return ('<p class="sb-scroll-hint">Scroll the table sideways for every problem →</p>\n'
                f'<div class="sb-scroll" tabindex="0" role="region" aria-label="problems by entries" data-search-exclude>'
                f'<table class="sb-matrix"><thead><tr>{"".join(head)}</tr></thead>'
                f'<tbody>{"".join(rows)}</tbody></table></div>\n')

    def board_curves(self, b: Board) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        taus = np.geomspace(1.0, scoring.TAU_MAX, 400)
        if b.key not in self._board_curves:
            self._board_curves[b.key] = scoring.profiles(b.records, taus, table=b.table)
        return taus, self._board_curves[b.key]

    def profile_plot(self, b: Board, name: str, highlight: list[str], own: str | None = None) -> bool:
        taus, curves = self.board_curves(b)
        if not curves:
            return False
        title = f"Performance profiles: {b.suite} v{b.version}, {b.track}"
        key = ["profile", self.records_key(b.records), highlight, own, title]
        self.plot(self.plots / name, key, lambda path: self.plots_mod.performance_profile(
            curves, taus, path, title, highlight=highlight, own=own))
        return True

    def board_section(self, b: Board) -> str:
        problems = sorted(b.table.problem.unique())
        fam = {r.problem: r.family for r in b.records}
        csv = self.write_board_csv(b)
        head = (f"Ranking: {self.track_label(b.track)}, suite `{b.suite}` v{b.version}, profile "
                f"`{b.profile}`" if b.ranked else f"Results table (not ranked): {b.title}")
        out = [f"\n## {head} {{#{b.key}}}\n",
               f"{len(problems)} problems: " + ", ".join(self.problem_link(p, fam[p], 0) for p in problems)
               + f". {len(b.records)} runs. {self.board_note(b)} "
               f"Download the per-problem table: [{csv}](assets/data/{csv}).\n"]
        if not b.ranked:
            out.append(f"!!! info \"Not a ranking\"\n    Only the `tuned` and `defaults` tracks of suite "
                       f"`{boards.RANKED_SUITE}` are ranked; this board is a table, listed by SGM "
                       "cost. Cost = median calls to SOSP over all runs with a failure counted as "
                       f"{scoring.FAILURE_PENALTY:g} x budget; SGM = its shifted geometric mean over "
                       "the problems. See [methodology](methodology.md#boards).\n")
            rows = []
            costs = scoring.cost_matrix(b.table)
            pen = scoring.penalties(b.table)
            for entry in self.board_order(b):
                t = b.table[b.table.entry == entry]
                c = costs[entry]
                rows.append([self.entry_link(entry, 0), f"{int((c < pen.reindex(c.index)).sum())}/{len(c)}",
                             f"{int(t.certified.sum())}/{int(t.runs.sum())}",
                             fmt_int(scoring.shifted_geomean(c.values))])
            out.append(noindex(md_table(["entry", "solved", "certified/runs", "SGM cost"], rows)))
            return "\n".join(out)
        out.append(f"Score = area under the performance profile up to tau_max = {scoring.TAU_MAX:g} "
                   "(1 = fastest everywhere), from each entry's penalized median cost per problem "
                   f"(median calls to SOSP over all runs, a failure counted as "
                   f"{scoring.FAILURE_PENALTY:g} x budget); SGM = shifted geometric mean of that "
                   f"cost (shift {scoring.SGM_SHIFT:g}). Rank interval = 2.5-97.5% of the rank "
                   f"over {scoring.N_BOOT} bootstrap resamples of instances and runs; \"2=\" marks "
                   "entries tied because their rank intervals overlap. See "
                   "[methodology](methodology.md#scoring).\n")
        rows = [[r.shown_rank, self.entry_link(r.entry, 0), f"{r.score:.3f}",
                 interval(r.rank_low, r.rank_high), fmt_int(r.sgm_calls),
                 f"{r.solved}/{r.problems}", f"{r.certified}/{r.runs}"] for r in b.ranking.itertuples()]
        out.append(noindex(md_table(["rank", "entry", "score", "rank 95% interval", "SGM cost", "solved",
                                     "certified/runs"], rows)))
        out.append(f"\n### Problems × entries {{#{b.key}-matrix}}\n\n"
                   "Each cell: the entry's penalized median cost on the problem divided by the best "
                   "entry's (**★ 1.00** = the best; 2.50 = 2.5 times the calls), and under it the "
                   "certified runs. **✗**: fewer than half of the runs certified, so the problem is "
                   "not solved and its cost is the penalty. Rows in rank order; click a header to "
                   "sort.\n")
        out.append(self.matrix_html(b))
        name = f"profile-{b.key}.svg"
        if self.profile_plot(b, name, list(b.ranking.entry[:PROFILE_TOP])):
            out.append(f"\nThe {PROFILE_TOP} best-ranked entries in colour, the others in grey.\n\n"
                       f"![Performance profile, {b.suite} v{b.version} {b.profile} {b.track}]"
                       f"(assets/plots/{name}){{ .plot }}\n")
        return "\n".join(out)

