r"""Overall scores: performance profiles and shifted geometric means over calls to SOSP.

All scores are computed on one **board**: the records of one (suite, suite version, profile).
Gradient calls (sample gradients, SPEC.md 0.3) do not depend on the hardware, so the ranking
uses them only; wall-clock seconds are compared only within one (profile, hardware_id), see
:func:`wallclock_tables`.

Definitions (the methodology page quotes them):

* **Per-problem cost** :math:`m_{p,e}`: the median calls to SOSP over the *certified* runs of
  entry e on problem p (``calls_median`` of :func:`leaderboard.aggregate.problem_table`).
* **Failure rule**: e *fails* p when its success rate (certified runs / runs) is below
  ``SUCCESS_THRESHOLD`` = 0.5, when it has no certified run, or when it has no record for p
  although other entries on the board do. A failure has :math:`m_{p,e} = \infty`.
* **Performance ratio** (Dolan & More 2002, as AlgoPerf): :math:`r_{p,e} = m_{p,e} /
  \min_{e'} m_{p,e'}`; on a problem that every entry fails, all ratios are :math:`\infty`.
* **Performance profile** :math:`\rho_e(\tau) = |\{p : r_{p,e} \le \tau\}| / |P|`, P = every
  problem on the board (problems nobody solves stay in the denominator).
* **Score** :math:`= \frac{1}{\tau_{max}-1}\int_1^{\tau_{max}} \rho_e(\tau)\,d\tau` with
  ``TAU_MAX`` = 8, in [0, 1]: 1 means fastest on every problem; a problem solved at ratio r
  contributes :math:`(\tau_{max}-r)/(\tau_{max}-1)/|P|` (nothing when r >= tau_max).
* **Shifted geometric mean** of calls: :math:`\exp(\frac1{|P|}\sum_p \ln(c_{p,e}+s)) - s` with
  shift ``SGM_SHIFT`` = 100 calls; a failure counts as ``FAILURE_PENALTY`` (2) times the
  problem's budget (PAR-2, as in SAT/MIP benchmarking).
* **Bootstrap CI** of a median: percentile bootstrap, ``n_boot`` = 2000 resamples, seeded
  (default seed 0), so the site is reproducible bit for bit.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from bench.records import RunRecord
from leaderboard.aggregate import latest, problem_table

SUCCESS_THRESHOLD = 0.5
TAU_MAX = 8.0
SGM_SHIFT = 100.0
FAILURE_PENALTY = 2.0
N_BOOT = 2000

RANKING_COLUMNS = ["rank", "entry", "score", "sgm_calls", "solved", "problems", "success_rate"]


# ---------------------------------------------------------------------------- boards
def board_key(r: RunRecord) -> tuple[str, str, str]:
    return (r.suite, r.suite_version, r.profile)


SUITE_ORDER = ["standard", "quick", "scaling", "smoke"]


def _board_sort(key: tuple[str, str, str]):
    suite, version, profile = key
    rank = SUITE_ORDER.index(suite) if suite in SUITE_ORDER else len(SUITE_ORDER)
    return (rank, suite, _version_sort(version), profile != "cpu", profile)


def _version_sort(version: str):
    # newest version first
    try:
        return (0, -float(version))
    except ValueError:
        return (1, version)


def boards(records: Iterable[RunRecord]) -> dict[tuple[str, str, str], list[RunRecord]]:
    """Records split by (suite, suite_version, profile), the main board first (standard suite,
    newest version, ``cpu`` profile)."""
    out: dict[tuple[str, str, str], list[RunRecord]] = {}
    for r in latest(records):
        out.setdefault(board_key(r), []).append(r)
    return {k: out[k] for k in sorted(out, key=_board_sort)}


# ---------------------------------------------------------------------------- ratios
def cost_matrix(table: pd.DataFrame) -> pd.DataFrame:
    """problems x entries matrix of m_{p,e} with failures as +inf (the failure rule above)."""
    if table.empty:
        return pd.DataFrame(dtype=float)
    entries = sorted(table.entry.unique())
    problems = sorted(table.problem.unique())
    m = pd.DataFrame(math.inf, index=problems, columns=entries, dtype=float)
    for row in table.itertuples():
        ok = (row.success_rate >= SUCCESS_THRESHOLD and row.calls_median == row.calls_median
              and row.calls_median is not None)
        if ok:
            m.loc[row.problem, row.entry] = float(row.calls_median)
    return m


def ratio_matrix(costs: pd.DataFrame) -> pd.DataFrame:
    """r_{p,e} = m_{p,e} / min_e' m_{p,e'}; inf where e fails or every entry fails p."""
    best = costs.min(axis=1)
    ratios = costs.div(best.replace(0.0, np.nan), axis=0)
    # a best cost of 0 (certified at the start point) gives ratio 1 to the zero-cost entries
    zero = best == 0.0
    if zero.any():
        ratios.loc[zero] = np.where(costs.loc[zero] == 0.0, 1.0, math.inf)
    return ratios.where(np.isfinite(costs), math.inf).fillna(math.inf)


def profile_curve(ratios: Sequence[float], taus: Sequence[float], n_problems: int | None = None) -> np.ndarray:
    """rho(tau) for each tau: the fraction of problems with ratio <= tau."""
    r = np.asarray(list(ratios), dtype=float)
    n = len(r) if n_problems is None else n_problems
    if n == 0:
        return np.zeros(len(taus))
    return np.array([(r <= t).sum() / n for t in taus], dtype=float)


def profile_score(ratios: Sequence[float], tau_max: float = TAU_MAX) -> float:
    """(1/(tau_max-1)) * integral_1^tau_max rho(tau) dtau, exact for the step function rho."""
    r = np.asarray(list(ratios), dtype=float)
    if len(r) == 0:
        return 0.0
    contrib = np.clip(tau_max - np.maximum(r, 1.0), 0.0, None)  # inf -> 0
    contrib[~np.isfinite(r)] = 0.0
    return float(contrib.sum() / ((tau_max - 1.0) * len(r)))


def shifted_geomean(values: Sequence[float], shift: float = SGM_SHIFT) -> float:
    v = np.asarray(list(values), dtype=float)
    if len(v) == 0:
        return math.nan
    return float(np.exp(np.mean(np.log(v + shift))) - shift)


# ---------------------------------------------------------------------------- ranking
def _budgets(records: Iterable[RunRecord]) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in records:
        out[r.problem] = max(out.get(r.problem, 0.0), float(r.budget or 0))
    return out


def ranking(records: Iterable[RunRecord], tau_max: float = TAU_MAX) -> pd.DataFrame:
    """Ranking of the entries on ONE board (pass records of a single board, see :func:`boards`).

    Columns: rank, entry, score (performance-profile area), sgm_calls (shifted geometric mean
    of calls, failures at FAILURE_PENALTY x budget), solved (problems not failed), problems,
    success_rate (mean over problems). Sorted by score, then sgm_calls, then name."""
    recs = latest(records)
    table = problem_table(recs)
    if table.empty:
        return pd.DataFrame(columns=RANKING_COLUMNS)
    costs = cost_matrix(table)
    ratios = ratio_matrix(costs)
    budgets = _budgets(recs)
    rates = table.pivot(index="problem", columns="entry", values="success_rate").reindex_like(costs)
    rows = []
    for entry in costs.columns:
        c = costs[entry]
        penal = [v if math.isfinite(v) else FAILURE_PENALTY * budgets.get(p, 0.0) for p, v in c.items()]
        rows.append({
            "entry": entry,
            "score": profile_score(ratios[entry].values, tau_max),
            "sgm_calls": shifted_geomean(penal),
            "solved": int(np.isfinite(c.values).sum()),
            "problems": len(c),
            "success_rate": float(rates[entry].fillna(0.0).mean()),
        })
    df = pd.DataFrame(rows)
    df = df.sort_values(["score", "sgm_calls", "entry"], ascending=[False, True, True]).reset_index(drop=True)
    df.insert(0, "rank", range(1, len(df) + 1))
    return df[RANKING_COLUMNS]


def profiles(records: Iterable[RunRecord], taus: Sequence[float]) -> dict[str, np.ndarray]:
    """rho_e(tau) on ``taus`` for each entry of one board."""
    table = problem_table(latest(records))
    if table.empty:
        return {}
    ratios = ratio_matrix(cost_matrix(table))
    return {e: profile_curve(ratios[e].values, taus) for e in ratios.columns}


# ---------------------------------------------------------------------------- statistics
def bootstrap_median_ci(values: Sequence[float], level: float = 0.95, n_boot: int = N_BOOT,
                        seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap CI of the median (seeded); (nan, nan) without values."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if len(v) == 0:
        return (math.nan, math.nan)
    if len(v) == 1:
        return (float(v[0]), float(v[0]))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(v), size=(n_boot, len(v)))
    meds = np.median(v[idx], axis=1)
    a = (1.0 - level) / 2.0
    return (float(np.quantile(meds, a)), float(np.quantile(meds, 1.0 - a)))


def calls_ci_table(records: Iterable[RunRecord], level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Per (entry, problem): bootstrap CI of the median calls to SOSP over certified runs."""
    rows: dict[tuple[str, str], list[float]] = {}
    for r in latest(records):
        rows.setdefault((r.entry, r.problem), [])
        if r.status == "certified" and r.calls_to_sosp is not None:
            rows[(r.entry, r.problem)].append(float(r.calls_to_sosp))
    out = []
    for (entry, problem), vals in sorted(rows.items()):
        lo, hi = bootstrap_median_ci(vals, level=level, seed=seed)
        out.append({"entry": entry, "problem": problem, "calls_ci_low": lo, "calls_ci_high": hi})
    return pd.DataFrame(out, columns=["entry", "problem", "calls_ci_low", "calls_ci_high"])


def wallclock_tables(records: Iterable[RunRecord]) -> dict[tuple[str, str], pd.DataFrame]:
    """problem_table per (profile, hardware_id): seconds are comparable only inside one."""
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for r in latest(records):
        groups.setdefault((r.profile, str(r.hardware.get("id", ""))), []).append(r)
    return {k: problem_table(v) for k, v in sorted(groups.items())}
