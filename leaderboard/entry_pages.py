"""One page per entry (metadata, results per board, its performance profile, the
hyperparameters as run and the source hashes), the hardware page and the throughput page. A mixin
of :class:`leaderboard.site.SiteWriter`."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pandas as pd

from leaderboard import boards, scoring
from leaderboard.markdown import DASH, WIDE, cell, code, fmt_int, md_table, noindex
from leaderboard.site_data import (DETAIL_COLUMNS, ENTRY_TOP, indent_block, interval, math_isfinite,
                                   ratio_text)


class EntryPages:
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
                             f"{interval(rank.rank_low, rank.rank_high)}), score {rank.score:.3f}, "
                             f"SGM cost {fmt_int(rank.sgm_calls)}, solved {rank.solved}/{rank.problems}, "
                             f"certified {rank.certified}/{rank.runs} runs.\n")
            else:
                parts.append("Not ranked: only the `tuned` and `defaults` tracks of suite "
                             f"`{boards.RANKED_SUITE}` are ranked.\n")
            rows, details = [], []
            for r in t.itertuples():
                ratio = float(ratios.loc[r.problem, entry])
                best = math_isfinite(ratio) and ratio <= 1.0 + 1e-12
                shown = ratio_text(ratio) if math_isfinite(ratio) else DASH
                rows.append([self.problem_link(r.problem, fam[r.problem], 1), f"{r.certified}/{r.runs}",
                             fmt_int(r.cost_median), f"**{shown}** ★" if best else shown])
                details.append([self.problem_link(r.problem, fam[r.problem], 1), *self.detail_cells(r)])
            parts.append(noindex(md_table(["problem", "certified", "cost", "ratio to best"], rows)))
            parts.append(noindex("??? note \"Details: cost CI, calls of the certified runs, gap, escape, "
                                 "seconds\"\n" + indent_block(md_table(["problem", *DETAIL_COLUMNS], details))))
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

