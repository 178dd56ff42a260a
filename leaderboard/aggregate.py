"""Aggregation of run records into per-problem tables (pandas).

``problem_table(records)`` is the one place where per-(entry, problem) statistics are computed;
the CLI's tables and the leaderboard site both use it.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from bench.records import RunRecord, records_frame

TABLE_COLUMNS = ["entry", "problem", "runs", "success_rate", "calls_median", "calls_q25", "calls_q75",
                 "seconds_median", "seconds_q25", "seconds_q75", "escape_median", "escaped_rate",
                 "profile", "hardware_id"]


def publishable(records: Iterable[RunRecord]) -> tuple[list[RunRecord], int]:
    """(the records the leaderboard may publish, how many it refused): only runs whose entry
    ran in a sealed worker (``sealed: true``); in-process debugging runs and records made
    before runs were sealed are refused."""
    kept, refused = [], 0
    for r in records:
        if r.sealed:
            kept.append(r)
        else:
            refused += 1
    return kept, refused


def latest(records: Iterable[RunRecord]) -> list[RunRecord]:
    """One record per run identity (entry, problem, seeds, profile, suite version): the newest."""
    best: dict[tuple, RunRecord] = {}
    for r in records:
        ident = (r.entry, r.problem, r.instance_seed, r.init_seed, r.run_seed, r.profile, r.suite,
                 r.suite_version)
        if ident not in best or r.created_at >= best[ident].created_at:
            best[ident] = r
    return list(best.values())


def _q(series: pd.Series, q: float) -> float:
    s = series.dropna()
    return float(np.quantile(s, q)) if len(s) else np.nan


def problem_table(records: Iterable[RunRecord]) -> pd.DataFrame:
    """Per (entry, problem): runs, success rate (certified / runs), median and IQR of calls and
    seconds to SOSP over certified runs, median escape calls over escaped runs, escaped rate.

    Seconds are per run: a record of a seed batch carries the batch's seconds (its clock was
    shared by ``batch_size`` runs), so they are divided by ``batch_size``."""
    recs = latest(records)
    if not recs:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    df = records_frame(recs)
    # a batch of S runs shares one clock: a run's seconds are the batch's divided by S
    df["seconds_per_run"] = pd.to_numeric(df.seconds_to_sosp, errors="coerce") / df.batch_size
    rows = []
    for (entry, problem), g in df.groupby(["entry", "problem"], sort=True):
        ok = g[g.status == "certified"]
        rows.append({
            "entry": entry,
            "problem": problem,
            "runs": len(g),
            "success_rate": len(ok) / len(g),
            "calls_median": _q(ok.calls_to_sosp, 0.5),
            "calls_q25": _q(ok.calls_to_sosp, 0.25),
            "calls_q75": _q(ok.calls_to_sosp, 0.75),
            "seconds_median": _q(ok.seconds_per_run, 0.5),
            "seconds_q25": _q(ok.seconds_per_run, 0.25),
            "seconds_q75": _q(ok.seconds_per_run, 0.75),
            "escape_median": _q(g.escape_calls.astype(float), 0.5),
            "escaped_rate": float(g.escape_calls.notna().mean()),
            "profile": ",".join(sorted(set(g.profile))),
            "hardware_id": ",".join(sorted(set(g.hardware_id))),
        })
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)
