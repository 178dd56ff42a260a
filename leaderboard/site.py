"""Static leaderboard site: records -> markdown + SVG plots -> ``mkdocs build --strict``.

Our own step writes every page first (no mkdocs plugin of ours), into a build folder
(default ``build/site-src``): the hand-written pages of ``docs/`` are copied in, the generated
pages (the home page: ``home_page.py``; one page per problem family: ``problem_pages.py``; one
per entry, hardware and throughput: ``entry_pages.py``; the papers' claims: ``claims_pages.py``),
the plots and the data downloads (CSV and Parquet) are written beside them, and ``leaderboard/mkdocs.yml`` is completed with
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
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
from typing import Any, Iterable

import numpy as np

from bench.records import RunRecord
from bench.store import ResultsStore
from leaderboard import claims_pages
from leaderboard.aggregate import publishable
from leaderboard.entry_pages import EntryPages
from leaderboard.home_page import HomePage
from leaderboard.markdown import slug
from leaderboard.problem_pages import ProblemPages
from leaderboard.site_data import (DOCS, Board, Facts, entry_modules,  # noqa: F401 (Board)
                                   family_classes, make_boards)
from leaderboard.trim import site_bytes, trim_site  # noqa: F401 (site_bytes: used by callers)

BASE_CONFIG = pathlib.Path(__file__).resolve().parent / "mkdocs.yml"
DEFAULT_RESULTS = pathlib.Path(__file__).resolve().parent / "results"


_PLOT_IMG = re.compile(r"(?<!\[)!\[([^\]]*)\]\(([^)\s]+)\)\{ \.plot \}")


def link_plots(text: str) -> str:
    """Every plot image (``![alt](src){ .plot }``) becomes a link to itself: a click opens the
    full-size picture."""
    return _PLOT_IMG.sub(lambda m: f"[![{m.group(1)}]({m.group(2)}){{ .plot }}]({m.group(2)})", text)


class SiteWriter(HomePage, ProblemPages, EntryPages):
    """Writes every page of the site into ``src/docs`` (see the module docstring); the pages
    themselves are written by the mixins of home_page, problem_pages and entry_pages."""


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
        self.modules = entry_modules()
        self.family_classes = family_classes()
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
