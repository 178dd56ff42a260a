r"""Per-problem statistics and the ranking: what every number of the leaderboard means.

Records are compared only within one board (leaderboard.boards: suite, suite version, profile,
track; only the ``tuned`` and ``defaults`` boards of the suite ``standard`` are ranked).

Gradient calls (sample gradients, the cost unit) do not depend on the hardware, so the ranking uses
them only; wall-clock seconds are compared only within one (profile, hardware_id), see
:func:`wallclock_tables`.

Definitions (the methodology page quotes them). For entry e on problem p with runs i = 1..n:

* **Run cost** :math:`c_i` = calls to SOSP if run i is certified, else ``FAILURE_PENALTY`` x
  its budget :math:`b_p` (``FAILURE_PENALTY`` = 2: PAR-2, as in SAT and MIP benchmarking).
* **Success** = certified runs / runs, shown as "k/n".
* **Penalized median cost** :math:`m_{p,e} = \mathrm{median}(c_1, \dots, c_n)` over *all* runs
  (midpoint of the two middle values when n is even). It is :math:`2 b_p` (the penalty) exactly
  when fewer than half of the runs certified. An entry with no record on a problem that other
  entries of the board ran has :math:`m_{p,e} = 2 b_p`.
* **Solved**: e solves p when :math:`m_{p,e} < 2 b_p`, i.e. when at least half of its runs
  certified.
* **Performance ratio** (Dolan & More 2002, as AlgoPerf): :math:`r_{p,e} = m_{p,e} /
  \min_{e' \text{ solving } p} m_{p,e'}` when e solves p, else :math:`\infty`.
* **Performance profile** :math:`\rho_e(\tau) = |\{p : r_{p,e} \le \tau\}| / |P|`, P = every
  problem on the board (problems nobody solves stay in the denominator).
* **Score** :math:`= \frac{1}{\tau_{max}-1}\int_1^{\tau_{max}} \rho_e(\tau)\,d\tau` with
  ``TAU_MAX`` = 8, in [0, 1]: 1 means fastest on every problem; a problem solved at ratio r
  contributes :math:`(\tau_{max}-r)/(\tau_{max}-1)/|P|` (nothing when r >= tau_max).
* **Shifted geometric mean** (SGM) of the penalized median costs:
  :math:`\exp(\frac1{|P|}\sum_p \ln(m_{p,e}+s)) - s` with shift ``SGM_SHIFT`` = 100 calls.
* **Ranking**: by score (higher first), then SGM (lower first), then name.
* **Median CI** (distribution-free): with the values sorted, :math:`[x_{(k)}, x_{(n+1-k)}]`
  for the largest k whose exact coverage :math:`1 - 2 P(B \le k-1)`, B ~ Binomial(n, 1/2),
  is at least 95% (:func:`median_ci`). For n <= 5 even k = 1 (min, max) covers less than 95%:
  the interval is then (min, max) and its coverage is reported as achieved.
* **Rank interval**: a two-level bootstrap, ``N_BOOT`` = 1000 resamples from
  ``numpy.random.default_rng(0)``: per problem, draw its instance seeds with replacement (the
  same draw for every entry), then, per entry and drawn instance, draw that entry's runs of
  the instance with replacement; recompute every m, score, SGM and rank; the interval is the
  2.5% and 97.5% quantiles (inverted CDF) of each entry's rank (:func:`rank_intervals`).
* **Ties**: entries are listed by rank; an entry is tied with the entry listed just above it
  when their rank intervals overlap (its low end <= the other's high end). Ties chain: a tie
  group is a maximal run of consecutive entries tied in this way, and every entry of the group
  shows the group's first rank followed by "=" (e.g. "2="). A group of one shows its rank.
* **Relative gap** of a certified run where f* and the saddle value f_s are known (f_s > f*):
  :math:`(f - f^\star) / (f_s - f^\star)` with f the run's final (certified) value; 0 means the
  run ended at the global minimum value, 1 at the saddle's value.
"""

from __future__ import annotations

import math
import warnings
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from bench.records import RunRecord

TAU_MAX = 8.0
SGM_SHIFT = 100.0
FAILURE_PENALTY = 2.0
CI_LEVEL = 0.95
N_BOOT = 1000
BOOT_SEED = 0

RANKING_COLUMNS = ["rank", "shown_rank", "entry", "score", "sgm_calls", "rank_low", "rank_high",
                   "solved", "problems", "certified", "runs", "success_rate"]


# ---------------------------------------------------------------------------- per-run statistics
def run_cost(status: str, calls: float | None, budget: float, penalty: float = FAILURE_PENALTY) -> float:
    """c of one run: calls to SOSP when certified, else ``penalty`` x budget."""
    if status == "certified" and calls is not None and math.isfinite(float(calls)):
        return float(calls)
    return penalty * float(budget)


def relative_gap(final_f: float | None, f_star: float | None, saddle_value: float | None) -> float:
    """(f - f*) / (f_s - f*); nan when a value is unknown or f_s <= f*."""
    vals = (final_f, f_star, saddle_value)
    if any(v is None or not math.isfinite(float(v)) for v in vals):
        return math.nan
    denom = float(saddle_value) - float(f_star)
    if denom <= 0.0:
        return math.nan
    return (float(final_f) - float(f_star)) / denom


def binom_half_cdf(k: int, n: int) -> float:
    """P(B <= k) for B ~ Binomial(n, 1/2), exact (integer sums)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return math.fsum(math.comb(n, j) for j in range(k + 1)) / 2.0 ** n


def median_ci_order(n: int, level: float = CI_LEVEL) -> tuple[int, float]:
    """(k, coverage): the order statistics (k, n+1-k) of the median's distribution-free CI.

    k is the largest with coverage 1 - 2 P(B <= k-1) >= level; k = 1 (min, max) when none
    reaches it (n <= 5 at 95%), the coverage then being what (min, max) achieves. (0, nan) for n = 0."""
    if n <= 0:
        return 0, math.nan
    best_k, best_cov = 1, 1.0 - 2.0 * binom_half_cdf(0, n)
    for k in range(2, (n + 1) // 2 + 1):
        cov = 1.0 - 2.0 * binom_half_cdf(k - 1, n)
        if cov < level:
            break
        best_k, best_cov = k, cov
    return best_k, best_cov


def median_ci(values: Sequence[float], level: float = CI_LEVEL) -> tuple[float, float, float]:
    """(low, high, coverage): the order-statistics interval [x_(k), x_(n+1-k)] of the median
    (see :func:`median_ci_order`); (nan, nan, nan) without values. Coverage < level says that n
    is too small for the level."""
    v = np.sort(np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float))
    n = len(v)
    if n == 0:
        return (math.nan, math.nan, math.nan)
    k, cov = median_ci_order(n, level)
    return (float(v[k - 1]), float(v[n - k]), cov)


# ---------------------------------------------------------------------------- ratios
def penalties(table: pd.DataFrame) -> pd.Series:
    """FAILURE_PENALTY x budget per problem (the largest budget found for it)."""
    return FAILURE_PENALTY * table.groupby("problem").budget.max().astype(float)


def cost_matrix(table: pd.DataFrame) -> pd.DataFrame:
    """problems x entries matrix of m_{p,e} (penalized median over all runs); an entry without
    records on a problem gets the penalty."""
    if table.empty:
        return pd.DataFrame(dtype=float)
    m = table.pivot(index="problem", columns="entry", values="cost_median").astype(float)
    m = m.reindex(index=sorted(m.index), columns=sorted(m.columns))
    pen = penalties(table).reindex(m.index)
    return m.apply(lambda col: col.fillna(pen))


def solved_matrix(costs: pd.DataFrame, pen: pd.Series) -> pd.DataFrame:
    """e solves p when m_{p,e} < the problem's penalty."""
    return costs.lt(pen.reindex(costs.index), axis=0)


def ratio_matrix(costs: pd.DataFrame, pen: pd.Series | None = None) -> pd.DataFrame:
    """r_{p,e} = m_{p,e} / min over solving entries; inf where e does not solve p."""
    if costs.empty:
        return costs
    if pen is None:
        pen = pd.Series(math.inf, index=costs.index)
    solved = solved_matrix(costs, pen)
    r = _ratios(costs.values[None], solved.values[None])[0]
    return pd.DataFrame(r, index=costs.index, columns=costs.columns)


def _ratios(c: np.ndarray, solved: np.ndarray) -> np.ndarray:
    """Ratios for arrays (..., P, E): best over solving entries per problem."""
    masked = np.where(solved, c, np.inf)
    best = masked.min(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = masked / best
    # a best cost of 0 (certified at the start point): ratio 1 for the zero-cost entries
    r = np.where((best == 0.0) & (masked == 0.0), 1.0, r)
    return np.where(solved & np.isfinite(r), r, np.inf)


def profile_curve(ratios: Sequence[float], taus: Sequence[float], n_problems: int | None = None) -> np.ndarray:
    """rho(tau) for each tau: the fraction of problems with ratio <= tau."""
    r = np.asarray(list(ratios), dtype=float)
    n = len(r) if n_problems is None else n_problems
    if n == 0:
        return np.zeros(len(taus))
    return np.array([(r <= t).sum() / n for t in taus], dtype=float)


def _scores(ratios: np.ndarray, tau_max: float) -> np.ndarray:
    """Profile area for ratios (..., P, E) -> (..., E)."""
    contrib = np.clip(tau_max - np.maximum(ratios, 1.0), 0.0, None)
    contrib = np.where(np.isfinite(ratios), contrib, 0.0)
    return contrib.sum(axis=-2) / ((tau_max - 1.0) * ratios.shape[-2])


def profile_score(ratios: Sequence[float], tau_max: float = TAU_MAX) -> float:
    """(1/(tau_max-1)) * integral_1^tau_max rho(tau) dtau, exact for the step function rho."""
    r = np.asarray(list(ratios), dtype=float)
    if len(r) == 0:
        return 0.0
    return float(_scores(r[:, None], tau_max)[0])


def shifted_geomean(values: Sequence[float], shift: float = SGM_SHIFT) -> float:
    v = np.asarray(list(values), dtype=float)
    if len(v) == 0:
        return math.nan
    return float(np.exp(np.mean(np.log(v + shift))) - shift)


def _sgms(costs: np.ndarray, shift: float = SGM_SHIFT) -> np.ndarray:
    return np.exp(np.mean(np.log(costs + shift), axis=-2)) - shift


def _ranks(scores: np.ndarray, sgms: np.ndarray) -> np.ndarray:
    """Ranks 1..E per row of (B, E) arrays: score desc, then SGM asc, then entry order (names
    are passed sorted)."""
    b, e = scores.shape
    names = np.broadcast_to(np.arange(e), (b, e))
    order = np.lexsort((names, sgms, -scores), axis=-1)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, e + 1)[None].repeat(b, 0), axis=-1)
    return ranks


# ---------------------------------------------------------------------------- ranking
def ranking(records: Iterable[RunRecord], tau_max: float = TAU_MAX, n_boot: int = N_BOOT,
            seed: int = BOOT_SEED, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Ranking of the entries on ONE board (pass records of a single board, see :func:`boards`).

    Columns: rank (1..E by score, SGM, name), shown_rank ("2=" for a tie group starting at rank
    2, see the module docstring), entry, score, sgm_calls, rank_low / rank_high (the bootstrap
    rank interval), solved, problems, certified and runs (summed over the board's problems),
    success_rate (certified / runs)."""
    from leaderboard.aggregate import latest, problem_table

    recs = latest(records)
    if table is None:
        table = problem_table(recs)
    if table.empty:
        return pd.DataFrame(columns=RANKING_COLUMNS)
    costs = cost_matrix(table)
    pen = penalties(table).reindex(costs.index)
    solved = solved_matrix(costs, pen)
    ratios = _ratios(costs.values, solved.values)
    scores = _scores(ratios, tau_max)
    sgms = _sgms(costs.values)
    ranks = _ranks(scores[None], sgms[None])[0]
    low, high = rank_intervals(recs, list(costs.index), list(costs.columns), pen.values,
                               tau_max=tau_max, n_boot=n_boot, seed=seed)
    runs = table.groupby("entry").runs.sum()
    cert = table.groupby("entry").certified.sum()
    df = pd.DataFrame({
        "rank": ranks, "entry": list(costs.columns), "score": scores, "sgm_calls": sgms,
        "rank_low": low, "rank_high": high, "solved": solved.sum(axis=0).values.astype(int),
        "problems": len(costs.index),
        "certified": [int(cert.get(e, 0)) for e in costs.columns],
        "runs": [int(runs.get(e, 0)) for e in costs.columns],
    })
    df["success_rate"] = df.certified / df.runs.where(df.runs > 0)
    df = df.sort_values("rank").reset_index(drop=True)
    df["shown_rank"] = shown_ranks(df["rank"].tolist(), df.rank_low.tolist(), df.rank_high.tolist())
    return df[RANKING_COLUMNS]


def tie_groups(low: Sequence[float], high: Sequence[float]) -> list[int]:
    """Group index per entry (entries in rank order): a new group starts where an entry's rank
    interval does not overlap the interval of the entry just above it (low_i > high_{i-1})."""
    groups, g = [], 0
    for i in range(len(low)):
        if i > 0 and not low[i] <= high[i - 1]:
            g += 1
        groups.append(g)
    return groups


def shown_ranks(ranks: Sequence[int], low: Sequence[float], high: Sequence[float]) -> list[str]:
    """"r" for an entry alone in its tie group, "r=" (r = the group's first rank) for a tie."""
    groups = tie_groups(low, high)
    first: dict[int, int] = {}
    size: dict[int, int] = {}
    for r, g in zip(ranks, groups):
        first.setdefault(g, int(r))
        size[g] = size.get(g, 0) + 1
    return [f"{first[g]}=" if size[g] > 1 else str(first[g]) for g in groups]


def _run_costs(recs: Sequence[RunRecord]) -> dict[tuple[str, str], dict[int, list[float]]]:
    out: dict[tuple[str, str], dict[int, list[float]]] = {}
    for r in recs:
        c = run_cost(r.status, r.calls_to_sosp, r.budget)
        out.setdefault((r.problem, r.entry), {}).setdefault(r.instance_seed, []).append(c)
    return out


def bootstrap_costs(recs: Sequence[RunRecord], problems: list[str], entries: list[str],
                    pen: Sequence[float], n_boot: int = N_BOOT, seed: int = BOOT_SEED) -> np.ndarray:
    """(n_boot, P, E) penalized median costs under the two-level bootstrap (module docstring).

    Order of the draws (reproducible): problems sorted, for each one the instance draw, then
    the entries sorted, for each one its run draw."""
    rng = np.random.default_rng(seed)
    runs = _run_costs(recs)
    out = np.empty((n_boot, len(problems), len(entries)))
    for pi, p in enumerate(problems):
        insts = sorted({i for e in entries for i in runs.get((p, e), {})})
        draw = rng.integers(0, len(insts), size=(n_boot, len(insts)))
        for ei, e in enumerate(entries):
            by_inst = runs.get((p, e))
            if not by_inst:
                out[:, pi, ei] = pen[pi]
                continue
            m = max(len(v) for v in by_inst.values())
            vals = np.full((len(insts), m), np.nan)
            for ii, inst in enumerate(insts):
                v = by_inst.get(inst, [])
                vals[ii, :len(v)] = v
            counts = np.array([len(by_inst.get(inst, [])) for inst in insts])
            n_i = counts[draw]  # (B, I) runs of each drawn instance
            u = rng.random((n_boot, len(insts), m))
            idx = np.floor(u * np.maximum(n_i, 1)[..., None]).astype(int)
            sample = vals[draw[..., None], idx]  # (B, I, m)
            keep = np.arange(m)[None, None, :] < n_i[..., None]
            sample = np.where(keep, sample, np.nan).reshape(n_boot, -1)
            with warnings.catch_warnings():  # an all-nan row (no run drawn) gives nan
                warnings.simplefilter("ignore", RuntimeWarning)
                med = np.nanmedian(sample, axis=1)
            out[:, pi, ei] = np.where(np.isnan(med), pen[pi], med)
    return out


def rank_intervals(recs: Sequence[RunRecord], problems: list[str], entries: list[str],
                   pen: Sequence[float], tau_max: float = TAU_MAX, n_boot: int = N_BOOT,
                   seed: int = BOOT_SEED, level: float = CI_LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) rank per entry: quantiles (1-level)/2 and (1+level)/2 of the bootstrap ranks."""
    if not entries or n_boot <= 0:
        return np.full(len(entries), np.nan), np.full(len(entries), np.nan)
    c = bootstrap_costs(recs, problems, entries, pen, n_boot, seed)
    solved = c < np.asarray(pen, dtype=float)[None, :, None]
    ranks = _ranks(_scores(_ratios(c, solved), tau_max), _sgms(c))
    a = (1.0 - level) / 2.0
    low = np.quantile(ranks, a, axis=0, method="inverted_cdf")
    high = np.quantile(ranks, 1.0 - a, axis=0, method="inverted_cdf")
    return low.astype(float), high.astype(float)


def profiles(records: Iterable[RunRecord], taus: Sequence[float],
             table: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """rho_e(tau) on ``taus`` for each entry of one board."""
    from leaderboard.aggregate import latest, problem_table

    if table is None:
        table = problem_table(latest(records))
    if table.empty:
        return {}
    costs = cost_matrix(table)
    ratios = ratio_matrix(costs, penalties(table))
    return {e: profile_curve(ratios[e].values, taus) for e in ratios.columns}


def wallclock_tables(records: Iterable[RunRecord]) -> dict[tuple[str, str], pd.DataFrame]:
    """problem_table per (profile, hardware_id): seconds are comparable only inside one."""
    from leaderboard.aggregate import latest, problem_table

    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for r in latest(records):
        groups.setdefault((r.profile, str(r.hardware.get("id", ""))), []).append(r)
    return {k: problem_table(v) for k, v in sorted(groups.items())}
