r"""The held-out rule of ``bench validate``: is the entry worse on instances nobody has seen?

For one (track, problem), C are the penalized costs of the claimed runs (the records, on the
suite's public instance seeds) and H those of the same runs re-done on K instance seeds drawn at
validation time; the cost of a run is :func:`leaderboard.scoring.run_cost` (calls to SOSP when
certified, else 2 x budget), so failures count.

**Rule.** The problem is *flagged* when both

1. **significance**: the exact one-sided Wilcoxon-Mann-Whitney rank-sum test says H is
   stochastically larger than C: :math:`p = P(W \ge w_{obs}) < \alpha / m`, with W the sum of
   the mid-ranks of H in the pooled sample, its null distribution the exact permutation
   distribution of the observed values (ties included; :func:`rank_sum_p_value`), m the number
   of (track, problem) comparisons of the validation (Bonferroni) and ``ALPHA`` = 0.01; and
2. **size**: :math:`\mathrm{med}(H) / \mathrm{med}(C) \ge` ``RATIO_FLOOR`` = 4 (penalized
   medians; a cost of 0 counts as 1).

The check fails when any problem is flagged. A memorizer is flagged where it memorized: its
claimed runs certify in a handful of calls while fresh instances take the calls of whatever it
does elsewhere (every held-out run above every claimed run: p = 1 / C(n_C + n_H, n_C)).

**False alarms.** If the runs of an honest entry were exchangeable between public and held-out
instances, the family-wise false-alarm probability would be at most ``ALPHA`` (the test is
exact and conservative with ties). They are not quite: runs of one instance share its data, and
some entries certify on some instances and fail on others, which the run-level test takes for
a shift. Measured on the committed standard v2 archive (18 tuned entries, 3 instances x 5 seeds
per problem), replaying every way of drawing 3 "public" and 2 "held-out" instances with
replacement from its 3 instances (243 draws per entry, 15 vs 10 runs, 8 problems): the rule
flags 1.0% of honest validations on average, 0% for 13 of the 18 entries and at most 3.7%
(momentum methods on phase-retrieval, which certify in 900 calls on instance 0 and fail on
instance 1). Without the size condition it would flag 3.5%; at a ratio floor of 2, 1.8%; at
10, 0.8% (:func:`replay_false_alarms`). A
maintainer who sees an entry fail here only can run ``bench validate`` again: every run draws
new held-out instances, so two false alarms in a row are unlikely.

**Power.** The test cannot reject when the samples are too small: the smallest attainable p is
:math:`1/\binom{n_C+n_H}{n_C}` (:func:`smallest_p_value`). On the standard suite (15 claimed runs
per problem, 5 per held-out instance) one held-out instance suffices; on the smoke suite (2
claimed runs per problem) it takes 10 (:func:`min_held_out_instances`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import statistics
from typing import Sequence

import numpy as np

ALPHA = 0.01
RATIO_FLOOR = 4.0


def midranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..n of ``values``, tied values sharing the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def _subset_sum_counts(doubled_ranks: Sequence[int], size: int) -> np.ndarray:
    """counts[s] = number of subsets of ``size`` of the items whose doubled ranks sum to s."""
    total = sum(sorted(doubled_ranks)[-size:]) if size else 0
    dp = np.zeros((size + 1, total + 1))
    dp[0, 0] = 1.0
    for v in doubled_ranks:
        if v <= total:
            dp[1:, v:] += dp[:-1, :total + 1 - v].copy()
    return dp[size]


def rank_sum_p_value(claimed: Sequence[float], held_out: Sequence[float]) -> float:
    """Exact one-sided p-value that ``held_out`` is stochastically larger than ``claimed``:
    P(W >= w_obs) for W the mid-rank sum of a random subset of len(held_out) of the pooled
    values (every subset equally likely). 1.0 when either sample is empty."""
    n_c, n_h = len(claimed), len(held_out)
    if not n_c or not n_h:
        return 1.0
    doubled = [int(round(2 * r)) for r in midranks(list(claimed) + list(held_out))]
    # the rank sums of the two samples add up to a constant: W_H >= w_obs <=> W_C <= w_C,obs,
    # and counting subsets of the claimed sample's size keeps the table small
    observed_claimed = sum(doubled[:n_c])
    counts = _subset_sum_counts(doubled, n_c)
    return float(min(1.0, counts[:observed_claimed + 1].sum() / math.comb(n_c + n_h, n_c)))


def smallest_p_value(n_claimed: int, n_held_out: int) -> float:
    """The smallest p :func:`rank_sum_p_value` can return for these sample sizes (every
    held-out value above every claimed value, no ties)."""
    if not n_claimed or not n_held_out:
        return 1.0
    return 1.0 / math.comb(n_claimed + n_held_out, n_claimed)


def min_held_out_instances(n_claimed: int, seeds: int, comparisons: int,
                           alpha: float = ALPHA, limit: int = 10_000) -> int | None:
    """The fewest held-out instances (``seeds`` runs each) with which a problem of
    ``n_claimed`` claimed runs can be flagged at alpha / comparisons; None beyond ``limit``."""
    for k in range(1, limit + 1):
        if smallest_p_value(n_claimed, k * seeds) < alpha / comparisons:
            return k
    return None


@dataclasses.dataclass(frozen=True)
class Comparison:
    """The held-out comparison of one (track, problem)."""

    track: str
    problem: str
    claimed: tuple[float, ...]  # penalized costs
    held_out: tuple[float, ...]
    claimed_certified: int
    held_out_certified: int
    comparisons: int  # m, the Bonferroni divisor

    @property
    def claimed_median(self) -> float:
        return statistics.median(self.claimed) if self.claimed else math.nan

    @property
    def held_out_median(self) -> float:
        return statistics.median(self.held_out) if self.held_out else math.nan

    @property
    def ratio(self) -> float:
        """med(H) / med(C), costs of 0 counted as 1."""
        return max(self.held_out_median, 1.0) / max(self.claimed_median, 1.0)

    @functools.cached_property
    def p_value(self) -> float:
        return rank_sum_p_value(self.claimed, self.held_out)

    @property
    def level(self) -> float:
        return ALPHA / self.comparisons

    @property
    def flagged(self) -> bool:
        return self.p_value < self.level and self.ratio >= RATIO_FLOOR


def replay_false_alarms(costs: dict[str, dict[int, Sequence[float]]], public: int = 3,
                        held_out: int = 2, ratio_floor: float = RATIO_FLOOR,
                        alpha: float = ALPHA) -> float:
    """How often the rule flags an honest entry, replayed from its own runs: ``costs[problem]
    [instance]`` are its penalized costs per instance. Every way of drawing ``public`` claimed
    and ``held_out`` fresh instances with replacement from its instances is one validation
    (equally likely); the result is the fraction of validations with a flagged problem. This is
    how the module docstring's false-alarm rates were measured."""
    import itertools

    instances = sorted({i for per in costs.values() for i in per})
    m = len(costs)
    cache: dict[tuple, bool] = {}

    def flagged(problem: str, pub: tuple, fresh: tuple) -> bool:
        key = (problem, tuple(sorted(pub)), tuple(sorted(fresh)))
        if key not in cache:
            c = Comparison("", problem, tuple(x for i in pub for x in costs[problem][i]),
                           tuple(x for i in fresh for x in costs[problem][i]), 0, 0, m)
            cache[key] = c.p_value < alpha / m and c.ratio >= ratio_floor
        return cache[key]

    draws = flags = 0
    for pub in itertools.product(instances, repeat=public):
        for fresh in itertools.product(instances, repeat=held_out):
            draws += 1
            flags += any(flagged(p, pub, fresh) for p in costs)
    return flags / draws
