"""Static leaderboard site: records -> markdown + SVG plots -> ``mkdocs build --strict``.

Our own step writes every page first (no mkdocs plugin of ours), into a build folder
(default ``build/site-src``): the hand-written pages of ``docs/`` are copied in, the generated
pages (home ranking and problems x entries matrix, one page per problem family, one per entry,
hardware, throughput, the papers' claims: ``claims_pages.py``), the plots and the data downloads
(CSV and Parquet) are written beside them, and ``leaderboard/mkdocs.yml`` is completed with
``docs_dir``, ``site_dir`` and ``nav``.
Everything comes from the records found: a new entry's records add its row and page with no
other edit.

The site works offline and from ``file://``: math is MathML written at build time
(latex2mathml), the search index is inlined (Material's ``offline`` plugin, with the
iframe-worker shim vendored in ``docs/javascripts``), and no font or script comes from a CDN.
After ``mkdocs build`` the theme files the site never loads are removed and the HTML's template
whitespace squeezed (``trim.py``), which keeps the whole site small.

Build speed: problem facts (``Problem.describe()``, which builds the instance) are cached per
harness version and plots by a hash of their inputs, in ``<src>/.cache``; a rebuild from
unchanged records draws no plot and builds no problem.
"""

from __future__ import annotations

import dataclasses
import datetime
import gzip
import html
import json
import re
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
from leaderboard import claims_pages, scoring
from leaderboard.aggregate import problem_table, publishable
from leaderboard.markdown import (DASH, WIDE, cell, code, docstring_markdown, fmt_float, fmt_int,
                                  fmt_pct, fmt_seconds, is_missing, md_table, noindex, slug)
from leaderboard.trim import site_bytes, trim_site  # noqa: F401 (site_bytes: used by callers)

#: entries drawn in colour on a board's performance profile (the rest are grey)
PROFILE_TOP = 5
#: entries drawn in colour on an escape-curve plot (the best on that problem)
ESCAPE_TOP = 3
#: entries in colour on an entry page's profile, beside the entry itself (in black)
ENTRY_TOP = 3

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


class Facts:
    """``Problem.describe()`` of each problem id, cached in a JSON file per harness version (the
    facts come from the problem code, which the harness version covers): building an instance
    can take seconds (deep-linear's, phase-retrieval's), reading the cache takes none."""

    def __init__(self, path: pathlib.Path | None):
        self.path = path
        self.data: dict[str, Any] = {}
        self.dirty = False
        if path is not None and path.is_file():
            try:
                self.data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.data = {}
        try:
            from bench.provenance import harness_version

            self.version = harness_version()
        except Exception:  # noqa: BLE001
            self.version = "?"

    def get(self, problem_id: str) -> dict[str, Any]:
        key = f"{self.version}|{problem_id}"
        if key not in self.data:
            self.data[key] = _describe(problem_id)
            self.dirty = True
        return self.data[key] or {}

    def save(self) -> None:
        if self.path is not None and self.dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.data, sort_keys=True, default=float), encoding="utf-8")
            self.dirty = False


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
_PLOT_IMG = re.compile(r"(?<!\[)!\[([^\]]*)\]\(([^)\s]+)\)\{ \.plot \}")


def link_plots(text: str) -> str:
    """Every plot image (``![alt](src){ .plot }``) becomes a link to itself: a click opens the
    full-size picture."""
    return _PLOT_IMG.sub(lambda m: f"[![{m.group(1)}]({m.group(2)}){{ .plot }}]({m.group(2)})", text)


def _indent_block(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line.strip() else "" for line in text.splitlines()) + "\n"


def _ratio_text(r: float) -> str:
    return f"{r:.2f}" if r < 10 else f"{r:.0f}"


DETAIL_COLUMNS = ["cost 95% CI", "median calls (certified runs)", "IQR (certified)", "gap",
                  "escape calls", "escaped", "median s", "hardware"]


class SiteWriter:
    def __init__(self, records: list[RunRecord], src: pathlib.Path,
                 throughput: list[dict[str, Any]] | None = None, claims: pathlib.Path | None = None):
        self.claims_root = claims  # the claims' results (None: leaderboard/claims)
        self.throughput = throughput or []  # `bench throughput` records (plain dicts)
        self.src = src
        self.docs = src / "docs"
        self.plots = self.docs / "assets" / "plots"
        self.data = self.docs / "assets" / "data"
        self.cache = src / ".cache"  # kept between builds: plots and problem facts
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
        self.facts = Facts(self.cache / "facts.json")
        self.nav: list[Any] = []
        self.downloads: list[tuple[str, str, dict[str, str], int]] = []
        self.plots_drawn = 0
        self.plots_cached = 0
        self.plot_seconds = 0.0
        self._board_curves: dict[str, dict[str, np.ndarray]] = {}

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
        path.write_text(link_plots(text), encoding="utf-8")

    def plot(self, path: pathlib.Path, key: Any, draw) -> None:
        """Draw a plot through the cache (``key``: every input of the plot)."""
        t0 = time.perf_counter()
        if self.plots_mod.cached(self.cache / "plots", path, key, draw):
            self.plots_cached += 1
        else:
            self.plots_drawn += 1
        self.plot_seconds += time.perf_counter() - t0

    @staticmethod
    def records_key(recs: Iterable[RunRecord]) -> list:
        """What identifies a set of records for a plot's cache key: each run's key and the time
        it was written (a record is never edited; a re-run writes a new one)."""
        return sorted((r.key, r.created_at) for r in recs)

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
        hand = sorted(p.relative_to(self.docs).as_posix() for p in self.docs.rglob("*.md")
                      if p.name != "index.md")
        self.write_downloads()
        self.claims = claims_pages.write_section(  # before the home page, which counts the verdicts
            self.docs, self.write, self.plot, self.plots, plots, self.claims_root,
            {r.problem: r.family for r in self.records})
        self.write_home()
        family_pages = [self.write_family(f) for f in self.families]
        entry_pages = [self.write_entry(e) for e in self.entries]
        self.write_hardware()
        self.write_throughput()
        self.facts.save()
        first = [p for p in ("methodology.md", "submitting.md") if p in hand]
        rest = [p for p in hand if p not in first]
        self.nav = [{"Leaderboard": "index.md"}, self.claims.nav, *first, *rest, {"Hardware": "hardware.md"},
                    {"Throughput": "throughput.md"}]
        if family_pages:
            self.nav.append({"Problems": family_pages})
        if entry_pages:
            self.nav.append({"Entries": entry_pages})

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
                                 f'{frac} certified">{mark}{_ratio_text(r)}<small>{frac}</small></td>')
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
                       f"`{scoring.RANKED_SUITE}` are ranked; this board is a table, listed by SGM "
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
                 _interval(r.rank_low, r.rank_high), fmt_int(r.sgm_calls),
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
        return [_ci(r.cost_ci_low, r.cost_ci_high, r.cost_ci_coverage), fmt_int(r.calls_median),
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
            ratio = _ratio_text(r.ratio_to_best) if math_isfinite(r.ratio_to_best) else DASH
            rows.append([self.entry_link(r.entry, 1), f"{r.certified}/{r.runs}", fmt_int(r.cost_median),
                         f"**{ratio}** ★" if best else ratio])
            details.append([self.entry_link(r.entry, 1), *self.detail_cells(r)])
        out.append(noindex(md_table(["entry", "certified", "cost", "ratio"], rows)))
        out.append(noindex("??? note \"Details: cost CI, calls of the certified runs, gap, escape, seconds\"\n"
                   + _indent_block(
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
                    ("optimizer", "authors", "paper", "url", "license", "oracle_class", "elementwise")]
            rows[0][1] = code(meta["optimizer"])
            parts.append(md_table(["field", "value"], rows))
        elif mod is not None:
            parts.append(f"!!! failure \"Broken entry\"\n    `optimizers/` has this entry but it does not "
                         f"load: {cell(getattr(mod, 'error', ''))}\n")
        else:
            parts.append(f"_No module `optimizers/{name.replace('-', '_')}.py`: an outside optimizer "
                         "(e.g. `--optimizer torch.optim.Adam`) or an entry since removed._\n")
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
            rows, details = [], []
            for r in t.itertuples():
                ratio = float(ratios.loc[r.problem, entry])
                best = math_isfinite(ratio) and ratio <= 1.0 + 1e-12
                shown = _ratio_text(ratio) if math_isfinite(ratio) else DASH
                rows.append([self.problem_link(r.problem, fam[r.problem], 1), f"{r.certified}/{r.runs}",
                             fmt_int(r.cost_median), f"**{shown}** ★" if best else shown])
                details.append([self.problem_link(r.problem, fam[r.problem], 1), *self.detail_cells(r)])
            parts.append(noindex(md_table(["problem", "certified", "cost", "ratio to best"], rows)))
            parts.append(noindex("??? note \"Details: cost CI, calls of the certified runs, gap, escape, "
                                 "seconds\"\n" + _indent_block(md_table(["problem", *DETAIL_COLUMNS], details))))
            statuses = pd.Series([r.status for r in b.records if r.entry == entry]).value_counts()
            parts.append("\nRun outcomes: " + ", ".join(f"{k} {v}" for k, v in statuses.items()) + ".\n")
            if b.ranked:
                top = [e for e in b.ranking.entry if e != entry][:ENTRY_TOP]
                pname = f"profile-{b.key}-{self.entry_slug[entry]}.svg"
                if self.profile_plot(b, pname, top, own=entry):
                    parts.append(f"\n{entry} in black, the {ENTRY_TOP} best-ranked other entries in "
                                 "colour, the rest grey.\n\n"
                                 f"![Performance profile of {entry}, {b.suite} v{b.version} {b.track}]"
                                 f"(../assets/plots/{pname}){{ .plot }}\n")
        if meta:
            parts.append("\n## Hyperparameters\n")
            parts.append(f"Defaults (the defaults track, every family): "
                         f"{code(json.dumps(meta.get('defaults', {}), sort_keys=True))}\n")
            space = meta.get("search_space") or {}
            if space:
                parts.append("Search space of the tuned track ([tuning protocol](../methodology.md"
                             "#tuning-protocol-and-tracks)):\n")
                parts.append(md_table(["hyperparameter", "range"],
                                      [[code(k), code(json.dumps(v))] for k, v in sorted(space.items())]))
        used = sorted({(r.track, r.family, json.dumps(r.hparams, sort_keys=True),
                        str(r.tuning.get("trial", DASH))) for r in recs})
        parts.append("\n## Hyperparameters as run\n")
        parts.append(noindex(md_table(["track", "family", "hyperparameters", "tuning trial"],
                                      [[t, f, code(h), tr] for t, f, h, tr in used])))
        hashes = sorted({r.entry_source_hash for r in recs})
        parts.append(f"\nSource hash(es) of the runs: {', '.join(code(h) for h in hashes)}.\n")
        self.write(rel, "\n".join(parts))
        return rel

    # ------------------------------------------------------------------ hardware
    def write_hardware(self) -> None:
        from bench.profiles import PROFILES

        parts = [WIDE, "# Hardware profiles\n",
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


def math_isfinite(x: Any) -> bool:
    try:
        return bool(np.isfinite(float(x)))
    except (TypeError, ValueError):
        return False


@dataclasses.dataclass
class BuildResult:
    site_dir: pathlib.Path
    src_dir: pathlib.Path
    n_records: int
    entries: list[str]
    seconds: float
    bytes: int = 0  # total size of the built site (after trim_site)
    plots_drawn: int = 0
    plots_cached: int = 0
    timings: dict[str, float] = dataclasses.field(default_factory=dict)  # seconds per step


class BuildError(RuntimeError):
    pass


def build_site(results: str | pathlib.Path = DEFAULT_RESULTS, out: str | pathlib.Path = "site",
               src: str | pathlib.Path | None = None, *, strict: bool = True,
               records: list[RunRecord] | None = None,
               throughput: list[dict[str, Any]] | None = None,
               claims: str | pathlib.Path | None = None) -> BuildResult:
    """Write the pages into ``src`` (default ``build/site-src``) and build the site into ``out``.

    ``throughput``: the `bench throughput` records of the Throughput page; by default those
    under ``results`` and the archive (``leaderboard/results/throughput/``). ``claims``: the
    claims' results (default ``leaderboard/claims``)."""
    t0 = time.perf_counter()
    out = pathlib.Path(out)
    src = pathlib.Path(src) if src is not None else pathlib.Path("build") / "site-src"
    if records is None:
        records = list(ResultsStore(results).iter_records())
    records, refused = publishable(records)
    t_read = time.perf_counter() - t0
    if refused:
        print(f"leaderboard: left out {refused} record(s) that are unsealed (in-process runs, or "
              f"made before runs were sealed; re-run them with `bench run`) or did not stop at "
              f"their first certified SOSP (`bench run --stop escape|budget`)", file=sys.stderr)
    if throughput is None:
        from bench.throughput import read_records

        throughput = read_records([results, DEFAULT_RESULTS])
    t_setup = time.perf_counter()
    writer = SiteWriter(records, src, throughput, claims)  # boards, rankings, entry modules
    t_setup = time.perf_counter() - t_setup
    t_pages = time.perf_counter()
    writer.run()
    t_pages = time.perf_counter() - t_pages
    cfg = writer.write_config(out)
    # no -q: mkdocs counts warnings for --strict only when they are logged
    cmd = [sys.executable, "-m", "mkdocs", "build", "--clean", "-f", str(cfg)]
    if strict:
        cmd.append("--strict")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    t_mkdocs = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    t_mkdocs = time.perf_counter() - t_mkdocs
    if proc.returncode != 0:
        raise BuildError(f"mkdocs build failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    trim_site(out)
    return BuildResult(out, src, len(writer.records), writer.entries, time.perf_counter() - t0,
                       site_bytes(out), writer.plots_drawn, writer.plots_cached,
                       {"read": t_read, "boards": t_setup, "pages": t_pages - writer.plot_seconds,
                        "plots": writer.plot_seconds, "mkdocs": t_mkdocs})
