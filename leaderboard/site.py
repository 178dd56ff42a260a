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
import math
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
from leaderboard.aggregate import publishable, latest, problem_table
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
    records: list[RunRecord]
    table: pd.DataFrame
    ranking: pd.DataFrame
    ci: dict[tuple[str, str], tuple[float, float]]

    @property
    def key(self) -> str:
        return slug(f"{self.suite}-v{self.version}-{self.profile}")

    @property
    def title(self) -> str:
        return f"suite `{self.suite}` v{self.version}, profile `{self.profile}`"


def make_boards(records: Iterable[RunRecord]) -> list[Board]:
    out = []
    for (suite, version, profile), recs in scoring.boards(records).items():
        ci = {(r.entry, r.problem): (r.calls_ci_low, r.calls_ci_high)
              for r in scoring.calls_ci_table(recs).itertuples()}
        out.append(Board(suite, version, profile, recs, problem_table(recs), scoring.ranking(recs), ci))
    return out


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


# ---------------------------------------------------------------------------- site
class SiteWriter:
    def __init__(self, records: list[RunRecord], src: pathlib.Path,
                 throughput: list[dict[str, Any]] | None = None):
        self.records = latest(records)
        self.throughput = throughput or []  # `bench throughput` records (plain dicts)
        self.src = src
        self.docs = src / "docs"
        self.plots = self.docs / "assets" / "plots"
        self.boards = make_boards(self.records)
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
        for i, b in enumerate(self.boards):
            parts.append(self.board_section(b, main=(i == 0)))
        broken = {n: m for n, m in self.modules.items() if not hasattr(m, "metadata")}
        unrun = sorted(n for n, m in self.modules.items() if hasattr(m, "metadata")
                       and n not in {r.entry_name for r in self.records})
        if unrun or broken:
            parts.append("\n## Entries without results\n")
            for n in unrun:
                parts.append(f"- `{n}`: in `optimizers/`, no records yet\n")
            for n, m in sorted(broken.items()):
                parts.append(f"- `{n}`: **broken**: {cell(getattr(m, 'error', ''))}\n")
        parts.append(f"\n<small>Built from {len(self.records)} run records "
                     f"on {datetime.date.today().isoformat()}.</small>\n")
        self.write("index.md", "\n".join(parts))

    def board_section(self, b: Board, main: bool) -> str:
        head = "## Ranking" if main else "## Other board"
        problems = sorted(b.table.problem.unique())
        fam = {r.problem: r.family for r in b.records}
        out = [f"\n{head}: {b.title} {{#{b.key}}}\n",
               f"{len(problems)} problems: " + ", ".join(self.problem_link(p, fam[p], 0) for p in problems)
               + f". {len(b.records)} runs. Score = area under the performance profile up to "
               f"tau_max = {scoring.TAU_MAX:g} (1 = fastest everywhere); SGM = shifted geometric mean "
               f"of calls to SOSP (shift {scoring.SGM_SHIFT:g}, failures at "
               f"{scoring.FAILURE_PENALTY:g} x budget). See [methodology](methodology.md#scoring).\n"]
        rows = [[int(r.rank), self.entry_link(r.entry, 0), f"{r.score:.3f}", fmt_int(r.sgm_calls),
                 f"{r.solved}/{r.problems}", fmt_pct(r.success_rate)] for r in b.ranking.itertuples()]
        out.append(md_table(["rank", "entry", "score", "SGM calls", "solved", "success rate"], rows))
        taus = np.geomspace(1.0, scoring.TAU_MAX, 400)
        curves = scoring.profiles(b.records, taus)
        if curves:
            name = f"profile-{b.key}.svg"
            self.plots_mod.performance_profile(curves, taus, self.plots / name,
                                               f"Performance profiles: {b.suite} v{b.version}, {b.profile}",
                                               self.colors)
            out.append(f"\n![Performance profile, {b.suite} v{b.version} {b.profile}](assets/plots/{name})"
                       "{ .plot }\n")
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
               f"Budget {fmt_int(budget)} sample gradients; {len(recs)} runs. Calls = sample "
               "gradients to the first certified checkpoint (median over certified runs, with "
               "its 95% bootstrap CI and IQR); seconds are optimizer time per run on the hardware "
               "named (a batch of S seeds shares one clock: its seconds / S; compare only within "
               "one hardware id).\n"]
        t = b.table[b.table.problem == pid]
        costs = scoring.cost_matrix(b.table)
        ratios = scoring.ratio_matrix(costs)
        t = t.assign(ratio_to_best=[ratios.loc[pid, e] for e in t.entry]).sort_values(["ratio_to_best", "calls_median", "entry"])
        rows = []
        for r in t.itertuples():
            lo, hi = b.ci.get((r.entry, pid), (math.nan, math.nan))
            rows.append([self.entry_link(r.entry, 1), r.runs, fmt_pct(r.success_rate), fmt_int(r.calls_median),
                         DASH if is_missing(lo) else f"{fmt_int(lo)}–{fmt_int(hi)}",
                         DASH if is_missing(r.calls_q25) else f"{fmt_int(r.calls_q25)}–{fmt_int(r.calls_q75)}",
                         fmt_float(r.ratio_to_best), fmt_int(r.escape_median), fmt_pct(r.escaped_rate),
                         fmt_seconds(r.seconds_median), code(r.hardware_id)])
        out.append(md_table(["entry", "runs", "success", "median calls", "95% CI", "IQR", "ratio",
                             "escape calls", "escaped", "median s", "hardware"], rows))
        by_entry: dict[str, list[RunRecord]] = defaultdict(list)
        for r in recs:
            by_entry[r.entry].append(r)
        d = _describe(pid) or {}
        name = f"escape-{slug(pid)}-{b.key}.svg"
        self.plots_mod.escape_curves(by_entry, self.plots / name, pid, self.colors,
                                     saddle_value=recs[0].saddle_value, f_star=recs[0].f_star,
                                     eps_h=recs[0].eps_h or d.get("eps_h"))
        out.append(f"\n![Escape curves of {pid}, {b.suite} v{b.version}](../assets/plots/{name}){{ .plot }}\n")
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
            fam = meta.get("family_hparams") or {}
            parts.append("\n## Hyperparameters\n")
            hrows = [["(defaults)", code(json.dumps(meta.get("defaults", {}), sort_keys=True))]]
            hrows += [[f, code(json.dumps({**meta.get("defaults", {}), **h}, sort_keys=True))]
                      for f, h in sorted(fam.items())]
            parts.append(md_table(["family", "hyperparameters"], hrows))
        elif mod is not None:
            parts.append(f"!!! failure \"Broken entry\"\n    `optimizers/` has this entry but it does not "
                         f"load: {cell(getattr(mod, 'error', ''))}\n")
        else:
            parts.append(f"_No module `optimizers/{name.replace('-', '_')}.py`: an outside optimizer "
                         "(e.g. `--optimizer torch.optim.Adam`) or an entry since removed._\n")
        used = sorted({(r.family, json.dumps(r.hparams, sort_keys=True)) for r in recs})
        parts.append("\n## Hyperparameters as run\n")
        parts.append(md_table(["family", "hyperparameters"], [[f, code(h)] for f, h in used]))
        hashes = sorted({r.entry_source_hash for r in recs})
        parts.append(f"\nSource hash(es) of the runs: {', '.join(code(h) for h in hashes)}.\n")
        for b in self.boards:
            t = b.table[b.table.entry == entry]
            if t.empty:
                continue
            rank = b.ranking[b.ranking.entry == entry].iloc[0]
            ratios = scoring.ratio_matrix(scoring.cost_matrix(b.table))
            fam = {r.problem: r.family for r in b.records}
            parts.append(f"\n## Results: {b.title} {{#{b.key}}}\n")
            parts.append(f"Rank **{int(rank['rank'])}** of {len(b.ranking)}, score {rank.score:.3f}, "
                         f"SGM calls {fmt_int(rank.sgm_calls)}, solved {rank.solved}/{rank.problems}.\n")
            rows = [[self.problem_link(r.problem, fam[r.problem], 1), r.runs, fmt_pct(r.success_rate),
                     fmt_int(r.calls_median),
                     DASH if is_missing(r.calls_q25) else f"{fmt_int(r.calls_q25)}–{fmt_int(r.calls_q75)}",
                     fmt_float(ratios.loc[r.problem, entry]), fmt_int(r.escape_median), fmt_pct(r.escaped_rate),
                     fmt_seconds(r.seconds_median), code(r.hardware_id)] for r in t.itertuples()]
            parts.append(md_table(["problem", "runs", "success", "median calls", "IQR", "ratio to best",
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
