"""Static leaderboard site: records -> markdown + SVG plots -> ``mkdocs build --strict``.

Our own step writes every page first (no mkdocs plugin of ours), into a build folder
(default ``build/site-src``): the hand-written pages of ``docs/`` are copied in, the generated
pages (home ranking, one page per problem family, one per entry, hardware, throughput) and the plots are
written beside them, and ``leaderboard/mkdocs.yml`` is completed with ``docs_dir``, ``site_dir``
and ``nav``. Everything comes from the records found: a new entry's records add its row and
page with no other edit.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any, Iterable

import numpy as np
import pandas as pd

from bench.records import RunRecord
from bench.store import ResultsStore
from leaderboard import scoring
from leaderboard.aggregate import problem_table, publishable
from leaderboard.markdown import (DASH, WIDE, cell, code, docstring_markdown, fmt_float, fmt_int,
                                  fmt_pct, fmt_seconds, is_missing, md_table, slug)

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
BASE_CONFIG = pathlib.Path(__file__).resolve().parent / "mkdocs.yml"
DEFAULT_RESULTS = pathlib.Path(__file__).resolve().parent / "results"
# ---------------------------------------------------------------------------- data
@dataclasses.dataclass
class Board:
    suite: str
    version: str
    profile: str
    track: str
    records: list[RunRecord]
    table: pd.DataFrame
    ranking: pd.DataFrame  # empty for a board that is not ranked
    harness_version: str = ""
    older_left_out: int = 0  # records of older harness versions left out of this board
    ranked: bool = False

    @property
    def key(self) -> str:
        return slug(f"{self.suite}-v{self.version}-{self.profile}-{self.track}")

    @property
    def title(self) -> str:
        return f"suite `{self.suite}` v{self.version}, profile `{self.profile}`, track `{self.track}`"


def make_board(b: scoring.BoardRecords) -> Board:
    suite, version, profile, track = b.key
    table = problem_table(b.records)
    rk = scoring.ranking(b.records, table=table) if b.ranked else pd.DataFrame(columns=scoring.RANKING_COLUMNS)
    return Board(suite, version, profile, track, b.records, table, rk, b.harness_version,
                 b.older_left_out, b.ranked)


def make_boards(records: Iterable[RunRecord]) -> list[Board]:
    return [make_board(b) for b in scoring.split_boards(records)]


def _ranked_version() -> str:
    """The current version of the leaderboard suite (its boards head the home page)."""
    try:
        from bench.suites import get_suite

        return get_suite(scoring.RANKED_SUITE).version
    except Exception:
        return ""


def _entry_modules() -> dict[str, Any]:
    try:
        from optimizers import discover

        return discover()
    except Exception:  # the site must build even if discovery itself breaks
        return {}


def _families() -> dict[str, type]:
    try:
        from problems import families

        return families()
    except Exception:
        return {}


def _describe(problem_id: str) -> dict[str, Any] | None:
    try:
        from problems import make_problem

        return make_problem(problem_id).describe()
    except Exception:
        return None


def _interval(lo: float, hi: float) -> str:
    if is_missing(lo) or is_missing(hi):
        return DASH
    return f"{int(lo)}" if lo == hi else f"{int(lo)}–{int(hi)}"


def _ci(lo: float, hi: float, coverage: float) -> str:
    """"lo–hi", with the coverage achieved in parentheses when it is below 95%."""
    if is_missing(lo) or is_missing(hi):
        return DASH
    text = f"{fmt_int(lo)}–{fmt_int(hi)}"
    if not is_missing(coverage) and coverage < scoring.CI_LEVEL:
        text += f" ({100 * coverage:.0f}%)"
    return text


# ---------------------------------------------------------------------------- site
class SiteWriter:
    def __init__(self, records: list[RunRecord], src: pathlib.Path,
                 throughput: list[dict[str, Any]] | None = None):
        self.throughput = throughput or []  # `bench throughput` records (plain dicts)
        self.src = src
        self.docs = src / "docs"
        self.plots = self.docs / "assets" / "plots"
        self.data = self.docs / "assets" / "data"
        self.boards = make_boards(records)
        # the records shown: each board's (newest harness version); older ones are counted
        self.records = [r for b in self.boards for r in b.records]
        self.left_out = sum(b.older_left_out for b in self.boards)
        self.entries = sorted({r.entry for r in self.records})
        self.entry_slug = self._unique_slugs(self.entries)
        self.families = sorted({r.family for r in self.records})
        self.colors: dict[str, tuple] = {}
        self.modules = _entry_modules()
        self.family_classes = _families()
        self.nav: list[Any] = []

    @staticmethod
    def _unique_slugs(names: list[str]) -> dict[str, str]:
        out, used = {}, set()
        for n in names:
            s, i = slug(n), 2
            while s in used:
                s, i = f"{slug(n)}-{i}", i + 1
            used.add(s)
            out[n] = s
        return out

    # links, relative to a page one folder deep (problems/, entries/) or at the top
    def entry_link(self, entry: str, depth: int) -> str:
        return f"[{entry}]({'../' * depth}entries/{self.entry_slug[entry]}.md)"

    def problem_link(self, problem: str, family: str, depth: int) -> str:
        return f"[{problem}]({'../' * depth}problems/{slug(family)}.md#{slug(problem)})"

    def write(self, rel: str, text: str) -> None:
        path = self.docs / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    # ------------------------------------------------------------------ top level
    def run(self) -> None:
        from leaderboard import plots

        self.plots_mod = plots
        if self.docs.exists():
            shutil.rmtree(self.docs)
        if DOCS.is_dir():
            shutil.copytree(DOCS, self.docs)
        else:
            self.docs.mkdir(parents=True)
        self.plots.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(parents=True, exist_ok=True)
        self.colors = plots.entry_colors(self.entries)
        self.write_home()
        hand = sorted(p.relative_to(self.docs).as_posix() for p in self.docs.rglob("*.md")
                      if p.name != "index.md")
        family_pages = [self.write_family(f) for f in self.families]
        entry_pages = [self.write_entry(e) for e in self.entries]
        self.write_hardware()
        self.write_throughput()
        first = [p for p in ("methodology.md", "submitting.md") if p in hand]
        rest = [p for p in hand if p not in first]
        self.nav = [{"Leaderboard": "index.md"}, *first, *rest, {"Hardware": "hardware.md"},
                    {"Throughput": "throughput.md"}]
        if family_pages:
            self.nav.append({"Problems": family_pages})
        if entry_pages:
            self.nav.append({"Entries": entry_pages})

    # ------------------------------------------------------------------ home
    def write_home(self) -> None:
        intro_path = DOCS / "index.md"
        intro = intro_path.read_text(encoding="utf-8") if intro_path.is_file() else "# SaddleBench leaderboard\n"
        parts = [intro.rstrip() + "\n"]
        if not self.boards:
            parts.append("\n!!! warning \"No results yet\"\n    No run records were found. "
                         "See [how to submit](submitting.md).\n")
        version = _ranked_version()
        have = {(b.suite, b.version, b.profile, b.track) for b in self.boards}
        if version:
            # the leaderboard's two ranked boards come first, said plainly when empty
            for track in scoring.RANKED_TRACKS:
                if (scoring.RANKED_SUITE, version, "cpu", track) not in have:
                    parts.append(self.empty_board_section(version, track))
                else:
                    b = next(b for b in self.boards if (b.suite, b.version, b.profile, b.track)
                             == (scoring.RANKED_SUITE, version, "cpu", track))
                    parts.append(self.board_section(b))
        for b in self.boards:
            if version and (b.suite, b.version, b.profile) == (scoring.RANKED_SUITE, version, "cpu") \
                    and b.track in scoring.RANKED_TRACKS:
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
        key = slug(f"{scoring.RANKED_SUITE}-v{version}-cpu-{track}")
        return (f"\n## Ranking: {self.track_label(track)} {{#{key}}}\n\n"
                f"!!! note \"No records yet\"\n    The `{track}` board of suite "
                f"`{scoring.RANKED_SUITE}` v{version} (profile `cpu`) has no records yet, so there "
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
            out.append(f"Only the `tuned` and `defaults` tracks of suite `{scoring.RANKED_SUITE}` are "
                       "ranked; this board is listed by name. Cost = median calls to SOSP over all "
                       f"runs with a failure counted as {scoring.FAILURE_PENALTY:g} x budget; SGM = "
                       "its shifted geometric mean over the problems. See "
                       "[methodology](methodology.md#boards).\n")
            rows = []
            for entry, t in b.table.groupby("entry", sort=True):
                costs = scoring.cost_matrix(b.table)[entry]
                pen = scoring.penalties(b.table).reindex(costs.index)
                rows.append([self.entry_link(entry, 0), f"{int((costs < pen).sum())}/{len(costs)}",
                             f"{int(t.certified.sum())}/{int(t.runs.sum())}",
                             fmt_int(scoring.shifted_geomean(costs.values))])
            out.append(md_table(["entry", "solved", "certified/runs", "SGM cost"], rows))
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
                 _interval(r.rank_low, r.rank_high), fmt_int(r.sgm_calls),
                 f"{r.solved}/{r.problems}", f"{r.certified}/{r.runs}"] for r in b.ranking.itertuples()]
        out.append(md_table(["rank", "entry", "score", "rank 95% interval", "SGM cost", "solved",
                             "certified/runs"], rows))
        taus = np.geomspace(1.0, scoring.TAU_MAX, 400)
        curves = scoring.profiles(b.records, taus, table=b.table)
        if curves:
            name = f"profile-{b.key}.svg"
            self.plots_mod.performance_profile(curves, taus, self.plots / name,
                                               f"Performance profiles: {b.suite} v{b.version}, "
                                               f"{b.profile}, {b.track}", self.colors)
            out.append(f"\n![Performance profile, {b.suite} v{b.version} {b.profile} {b.track}]"
                       f"(assets/plots/{name}){{ .plot }}\n")
        return "\n".join(out)

    # ------------------------------------------------------------------ problems
    def write_family(self, family: str) -> str:
        rel = f"problems/{slug(family)}.md"
        cls = self.family_classes.get(family)
        recs = [r for r in self.records if r.family == family]
        parts = [WIDE, f"# {family}\n"]
        if cls is None:
            parts.append("_No problem class of this name is registered in `problems/`: these "
                         "records come from elsewhere._\n")
        else:
            parts.append(docstring_markdown(cls.__doc__))
            spec = getattr(cls, "spec_section", "")
            ref = getattr(cls, "reference", "")
            if spec:
                parts.append(f"\nSpecification: SPEC.md section {spec}.\n")
            if ref:
                parts.append(f"\nReference: {ref}\n")
            sizes = getattr(cls, "sizes", None) or {}
            if sizes:
                parts.append("\n**Sizes:**\n")
                parts.append(md_table(["size", "parameters"], [[code(s), code(json.dumps(p))]
                                                               for s, p in sizes.items()]))
        # instances found in the records
        ids = sorted({r.problem for r in recs})
        rows = []
        for pid in ids:
            d = _describe(pid) or {}
            r0 = next(r for r in recs if r.problem == pid)
            rows.append([self.problem_link(pid, family, 1), fmt_int(d.get("dim", r0.dim)),
                         fmt_float(d.get("eps_g", r0.eps_g)), fmt_float(d.get("eps_h", r0.eps_h)),
                         fmt_int(d.get("budget", r0.budget)),
                         fmt_float(d.get("saddle_value", r0.saddle_value)),
                         fmt_float(d.get("saddle_lambda_min")), fmt_float(d.get("f_star", r0.f_star))])
        parts.append("\n## Instances\n")
        parts.append("Problem constants as registered (the suite may set a smaller budget; "
                     "the tables below give the budget each suite ran with).\n")
        parts.append(md_table(["id", "dim", "eps_g", "eps_h", "default budget", "f(saddle)",
                               "lambda_min(saddle)", "f*"], rows))
        for pid in ids:
            parts.append(f"\n## {pid} {{#{slug(pid)}}}\n")
            for b in self.boards:
                brecs = [r for r in b.records if r.problem == pid]
                if brecs:
                    parts.append(self.problem_board(pid, b, brecs))
        self.write(rel, "\n".join(parts))
        return rel

    def problem_board(self, pid: str, b: Board, recs: list[RunRecord]) -> str:
        budget = max(r.budget for r in recs)
        out = [f"\n### {b.title} {{#{slug(pid)}--{b.key}}}\n",
               f"Budget {fmt_int(budget)} sample gradients; {len(recs)} runs. **Cost** = median "
               "calls to SOSP over all runs, a failed run counted as "
               f"{scoring.FAILURE_PENALTY:g} x budget (PAR-2), with its distribution-free 95% CI "
               "(order statistics; when there are too few runs for 95%, the coverage achieved is "
               "given in parentheses); **ratio** = cost / the best cost of the entries that "
               "certified at least half of their runs; **median calls (certified runs)** and IQR "
               "are over certified runs only; **gap** = median (f - f*)/(f_s - f*) of the "
               "certified runs' final values (0: f*, 1: the saddle's value). Seconds are optimizer "
               "time per run on the hardware named (a batch of S seeds shares one clock: its "
               "seconds / S; compare only within one hardware id).\n"]
        t = b.table[b.table.problem == pid]
        costs = scoring.cost_matrix(b.table)
        ratios = scoring.ratio_matrix(costs, scoring.penalties(b.table))
        t = t.assign(ratio_to_best=[ratios.loc[pid, e] for e in t.entry]).sort_values(
            ["cost_median", "entry"])
        rows = []
        for r in t.itertuples():
            rows.append([self.entry_link(r.entry, 1), f"{r.certified}/{r.runs}", fmt_int(r.cost_median),
                         _ci(r.cost_ci_low, r.cost_ci_high, r.cost_ci_coverage),
                         fmt_float(r.ratio_to_best), fmt_int(r.calls_median),
                         DASH if is_missing(r.calls_q25) else f"{fmt_int(r.calls_q25)}–{fmt_int(r.calls_q75)}",
                         fmt_float(r.gap_median, 2), fmt_int(r.escape_median), fmt_pct(r.escaped_rate),
                         fmt_seconds(r.seconds_median), code(r.hardware_id)])
        out.append(md_table(["entry", "certified/runs", "cost", "cost 95% CI", "ratio",
                             "median calls (certified runs)", "IQR (certified)", "gap",
                             "escape calls", "escaped", "median s", "hardware"], rows))
        by_entry: dict[str, list[RunRecord]] = defaultdict(list)
        for r in recs:
            by_entry[r.entry].append(r)
        d = _describe(pid) or {}
        name = f"escape-{slug(pid)}-{b.key}.svg"
        self.plots_mod.escape_curves(by_entry, self.plots / name, pid, self.colors,
                                     saddle_value=recs[0].saddle_value, f_star=recs[0].f_star,
                                     eps_h=recs[0].eps_h or d.get("eps_h"))
        out.append(f"\n![Escape curves of {pid}, {b.suite} v{b.version} {b.track}](../assets/plots/{name}){{ .plot }}\n")
        return "\n".join(out)

    # ------------------------------------------------------------------ entries
    def write_entry(self, entry: str) -> str:
        rel = f"entries/{self.entry_slug[entry]}.md"
        recs = [r for r in self.records if r.entry == entry]
        name = recs[0].entry_name
        mod = self.modules.get(name)
        parts = [WIDE, f"# {entry}\n"]
        meta = mod.metadata() if hasattr(mod, "metadata") else None
        if meta:
            if meta.get("summary"):
                parts.append(meta["summary"] + "\n")
            rows = [[k, cell(meta.get(k) or DASH)] for k in
                    ("optimizer", "authors", "paper", "url", "license", "spec_section", "oracle_class", "elementwise")]
            rows[0][1] = code(meta["optimizer"])
            parts.append(md_table(["field", "value"], rows))
            parts.append("\n## Hyperparameters\n")
            parts.append(f"Defaults (the defaults track, every family): "
                         f"{code(json.dumps(meta.get('defaults', {}), sort_keys=True))}\n")
            space = meta.get("search_space") or {}
            if space:
                parts.append("Search space of the tuned track ([tuning protocol](../methodology.md"
                             "#tuning-protocol-and-tracks)):\n")
                parts.append(md_table(["hyperparameter", "range"],
                                      [[code(k), code(json.dumps(v))] for k, v in sorted(space.items())]))
        elif mod is not None:
            parts.append(f"!!! failure \"Broken entry\"\n    `optimizers/` has this entry but it does not "
                         f"load: {cell(getattr(mod, 'error', ''))}\n")
        else:
            parts.append(f"_No module `optimizers/{name.replace('-', '_')}.py`: an outside optimizer "
                         "(e.g. `--optimizer torch.optim.Adam`) or an entry since removed._\n")
        used = sorted({(r.track, r.family, json.dumps(r.hparams, sort_keys=True),
                        str(r.tuning.get("trial", DASH))) for r in recs})
        parts.append("\n## Hyperparameters as run\n")
        parts.append(md_table(["track", "family", "hyperparameters", "tuning trial"],
                              [[t, f, code(h), tr] for t, f, h, tr in used]))
        hashes = sorted({r.entry_source_hash for r in recs})
        parts.append(f"\nSource hash(es) of the runs: {', '.join(code(h) for h in hashes)}.\n")
        for b in self.boards:
            t = b.table[b.table.entry == entry]
            if t.empty:
                continue
            ratios = scoring.ratio_matrix(scoring.cost_matrix(b.table), scoring.penalties(b.table))
            fam = {r.problem: r.family for r in b.records}
            parts.append(f"\n## Results: {b.title} {{#{b.key}}}\n")
            if b.ranked:
                rank = b.ranking[b.ranking.entry == entry].iloc[0]
                parts.append(f"Rank **{rank.shown_rank}** of {len(b.ranking)} (95% rank interval "
                             f"{_interval(rank.rank_low, rank.rank_high)}), score {rank.score:.3f}, "
                             f"SGM cost {fmt_int(rank.sgm_calls)}, solved {rank.solved}/{rank.problems}, "
                             f"certified {rank.certified}/{rank.runs} runs.\n")
            else:
                parts.append("Not ranked: only the `tuned` and `defaults` tracks of suite "
                             f"`{scoring.RANKED_SUITE}` are ranked.\n")
            rows = [[self.problem_link(r.problem, fam[r.problem], 1), f"{r.certified}/{r.runs}",
                     fmt_int(r.cost_median), _ci(r.cost_ci_low, r.cost_ci_high, r.cost_ci_coverage),
                     fmt_float(ratios.loc[r.problem, entry]), fmt_int(r.calls_median),
                     DASH if is_missing(r.calls_q25) else f"{fmt_int(r.calls_q25)}–{fmt_int(r.calls_q75)}",
                     fmt_float(r.gap_median, 2), fmt_int(r.escape_median), fmt_pct(r.escaped_rate),
                     fmt_seconds(r.seconds_median), code(r.hardware_id)] for r in t.itertuples()]
            parts.append(md_table(["problem", "certified/runs", "cost", "cost 95% CI", "ratio to best",
                                   "median calls (certified runs)", "IQR (certified)", "gap",
                                   "escape calls", "escaped", "median s", "hardware"], rows))
            statuses = pd.Series([r.status for r in b.records if r.entry == entry]).value_counts()
            parts.append("\nRun outcomes: " + ", ".join(f"{k} {v}" for k, v in statuses.items()) + ".\n")
        self.write(rel, "\n".join(parts))
        return rel

    # ------------------------------------------------------------------ hardware
    def write_hardware(self) -> None:
        from bench.profiles import PROFILES

        parts = ["# Hardware profiles\n",
                 "Gradient calls do not depend on the hardware; wall-clock seconds are compared only "
                 "between records of the same profile **and** the same hardware fingerprint id.\n",
                 "\n## Profiles\n",
                 md_table(["profile", "device", "dtype", "threads", "description"],
                          [[code(p.name), p.device, p.dtype, p.threads, p.description] for p in PROFILES.values()])]
        fps: dict[str, dict[str, Any]] = {}
        use: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
        for r in self.records:
            hid = str(r.hardware.get("id", ""))
            fps.setdefault(hid, r.hardware)
            use[hid]["profiles"].add(r.profile)
            use[hid]["entries"].add(r.entry)
            use[hid]["suites"].add(f"{r.suite} v{r.suite_version}")
        parts.append("\n## Machines found in the records\n")
        keys = ["cpu", "cores", "memory_gib", "gpu", "driver", "machine", "system", "torch"]
        rows = []
        for hid, fp in sorted(fps.items()):
            rows.append([code(hid or "?")] + [cell(fp.get(k, DASH) if fp.get(k) is not None else DASH) for k in keys]
                        + [", ".join(sorted(use[hid]["profiles"])), ", ".join(sorted(use[hid]["suites"])),
                           len(use[hid]["entries"])])
        parts.append(md_table(["id"] + keys + ["profiles", "suites", "entries"], rows) if rows else "_None yet._\n")
        self.write("hardware.md", "\n".join(parts))

    def write_throughput(self) -> None:
        from leaderboard import throughput_page

        names = sorted({r["entry"] for r in self.throughput})
        colors = {**self.plots_mod.entry_colors(names), **self.colors}
        self.write("throughput.md", throughput_page.page(self.throughput, self.plots,
                                                         self.plots_mod, colors))

    # ------------------------------------------------------------------ config
    def write_config(self, site_dir: pathlib.Path) -> pathlib.Path:
        import yaml

        cfg = yaml.safe_load(BASE_CONFIG.read_text(encoding="utf-8"))
        cfg["docs_dir"] = str(self.docs.resolve())
        cfg["site_dir"] = str(site_dir.resolve())
        cfg["nav"] = self.nav
        path = self.src / "mkdocs.yml"
        path.write_text("# generated by leaderboard/site.py from leaderboard/mkdocs.yml\n"
                        + yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        return path


@dataclasses.dataclass
class BuildResult:
    site_dir: pathlib.Path
    src_dir: pathlib.Path
    n_records: int
    entries: list[str]
    seconds: float


class BuildError(RuntimeError):
    pass


def build_site(results: str | pathlib.Path = DEFAULT_RESULTS, out: str | pathlib.Path = "site",
               src: str | pathlib.Path | None = None, *, strict: bool = True,
               records: list[RunRecord] | None = None,
               throughput: list[dict[str, Any]] | None = None) -> BuildResult:
    """Write the pages into ``src`` (default ``build/site-src``) and build the site into ``out``.

    ``throughput``: the `bench throughput` records of the Throughput page; by default those
    under ``results`` and the archive (``leaderboard/results/throughput/``)."""
    t0 = time.perf_counter()
    out = pathlib.Path(out)
    src = pathlib.Path(src) if src is not None else pathlib.Path("build") / "site-src"
    if records is None:
        records = list(ResultsStore(results).iter_records())
    records, refused = publishable(records)
    if refused:
        print(f"leaderboard: left out {refused} unsealed record(s) (in-process runs, or made "
              f"before runs were sealed); re-run them with `bench run`", file=sys.stderr)
    if throughput is None:
        from bench.throughput import read_records

        throughput = read_records([results, DEFAULT_RESULTS])
    writer = SiteWriter(records, src, throughput)
    writer.run()
    cfg = writer.write_config(out)
    # no -q: mkdocs counts warnings for --strict only when they are logged
    cmd = [sys.executable, "-m", "mkdocs", "build", "--clean", "-f", str(cfg)]
    if strict:
        cmd.append("--strict")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise BuildError(f"mkdocs build failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return BuildResult(out, src, len(writer.records), writer.entries, time.perf_counter() - t0)
