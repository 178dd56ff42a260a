"""Aggregation of run records into per-problem tables (pandas).

``problem_table(records)`` is the one place where per-(entry, problem) statistics are computed;
the CLI's tables (:mod:`leaderboard.terminal`) and the leaderboard site both use it. The
formulas (penalized cost, order-statistics CI, relative gap) are in :mod:`leaderboard.scoring`.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd

from bench.records import RunRecord
from leaderboard import scoring

TABLE_COLUMNS = ["entry", "problem", "runs", "certified", "success_rate", "budget",
                 "cost_median", "cost_ci_low", "cost_ci_high", "cost_ci_coverage",
                 "calls_median", "calls_q25", "calls_q75", "calls_ci_low", "calls_ci_high",
                 "calls_ci_coverage", "gap_median", "gap_runs",
                 "seconds_median", "seconds_q25", "seconds_q75", "escape_median", "escaped_rate",
                 "profile", "hardware_id"]


def publishable(records: Iterable[RunRecord]) -> tuple[list[RunRecord], int]:
    """(the records the leaderboard may publish, how many it refused): only runs whose entry
    ran in a sealed worker (``sealed: true``) and that stopped at their first certified SOSP
    (stop rule ``sosp``, what the boards rank); in-process debugging runs, records made before
    runs were sealed and runs with another stop rule (``bench run --stop``) are refused."""
    kept, refused = [], 0
    for r in records:
        if r.sealed and r.stop == "sosp":
            kept.append(r)
        else:
            refused += 1
    return kept, refused


def run_identity(r: RunRecord) -> tuple:
    """(entry, problem, seeds, profile, suite, suite version, track, harness version, stop
    rule)."""
    return (r.entry, r.problem, r.instance_seed, r.init_seed, r.run_seed, r.profile, r.suite,
            r.suite_version, r.track, r.harness_version, r.stop)


def latest(records: Iterable[RunRecord]) -> list[RunRecord]:
    """One record per run identity (:func:`run_identity`): the newest."""
    best: dict[tuple, RunRecord] = {}
    for r in records:
        ident = run_identity(r)
        if ident not in best or r.created_at >= best[ident].created_at:
            best[ident] = r
    return list(best.values())


def _num(v) -> float:
    return math.nan if v is None else float(v)


def frame(records: Iterable[RunRecord]) -> pd.DataFrame:
    """The scalar fields the tables need, one row per record, read straight from the attributes
    (much faster than ``bench.records.records_frame``, which deep-copies trajectories)."""
    rows = []
    for r in records:
        rows.append({
            "entry": r.entry, "problem": r.problem, "family": r.family, "status": r.status,
            "instance_seed": r.instance_seed, "run_seed": r.run_seed,
            "calls_to_sosp": _num(r.calls_to_sosp), "budget": float(r.budget or 0),
            "cost": scoring.run_cost(r.status, r.calls_to_sosp, r.budget or 0),
            "seconds_per_run": (_num(r.seconds_to_sosp) / (r.batch_size or 1)),
            "escape_calls": _num(r.escape_calls),
            "gap": scoring.relative_gap(r.final_f, r.f_star, r.saddle_value),  # certified rows used
            "profile": r.profile, "hardware_id": str(r.hardware.get("id", "")),
        })
    return pd.DataFrame(rows)


def _q(values: np.ndarray, q: float) -> float:
    v = values[~np.isnan(values)]
    return float(np.quantile(v, q)) if len(v) else math.nan


def problem_table(records: Iterable[RunRecord]) -> pd.DataFrame:
    """Per (entry, problem), over its runs (the newest record of each run identity):

    runs; certified; success_rate = certified / runs; budget (the largest); cost_median = the
    penalized median over all runs (a failure costs FAILURE_PENALTY x budget) with its
    order-statistics CI (cost_ci_low/high, cost_ci_coverage = the exact coverage achieved);
    calls_median and IQR (calls_q25, calls_q75) over the *certified* runs only, with their
    order-statistics CI; gap_median = median relative gap (f - f*)/(f_s - f*) over the certified
    runs where f* and f_s are known (gap_runs of them); seconds per run (median, IQR) over
    certified runs; escape_median over escaped runs and escaped_rate.

    Seconds are per run: a record of a seed batch carries the batch's seconds (its clock was
    shared by ``batch_size`` runs), so they are divided by ``batch_size``."""
    recs = latest(records)
    if not recs:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    df = frame(recs)
    rows = []
    for (entry, problem), g in df.groupby(["entry", "problem"], sort=True):
        ok = g[g.status == "certified"]
        calls = ok.calls_to_sosp.to_numpy(float)
        cost = g.cost.to_numpy(float)
        gaps = ok.gap.to_numpy(float)
        secs = ok.seconds_per_run.to_numpy(float)
        c_lo, c_hi, c_cov = scoring.median_ci(cost)
        k_lo, k_hi, k_cov = scoring.median_ci(calls)
        rows.append({
            "entry": entry, "problem": problem, "runs": len(g), "certified": len(ok),
            "success_rate": len(ok) / len(g), "budget": float(g.budget.max()),
            "cost_median": float(np.median(cost)), "cost_ci_low": c_lo, "cost_ci_high": c_hi,
            "cost_ci_coverage": c_cov,
            "calls_median": _q(calls, 0.5), "calls_q25": _q(calls, 0.25), "calls_q75": _q(calls, 0.75),
            "calls_ci_low": k_lo, "calls_ci_high": k_hi, "calls_ci_coverage": k_cov,
            "gap_median": _q(gaps, 0.5), "gap_runs": int((~np.isnan(gaps)).sum()),
            "seconds_median": _q(secs, 0.5), "seconds_q25": _q(secs, 0.25), "seconds_q75": _q(secs, 0.75),
            "escape_median": _q(g.escape_calls.to_numpy(float), 0.5),
            "escaped_rate": float(g.escape_calls.notna().mean()),
            "profile": ",".join(sorted(set(g.profile))),
            "hardware_id": ",".join(sorted(set(g.hardware_id))),
        })
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)
