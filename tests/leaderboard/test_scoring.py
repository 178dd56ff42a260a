import math

import numpy as np
import pytest
from scipy import stats

from leaderboard import aggregate, boards, scoring, terminal
from tests.leaderboard.helpers import make_record, standard


def _set():
    # problem p1: A median 100, B median 200 ; p2: A fails (1/3 certified), B median 50
    recs = []
    for s, c in enumerate([90, 100, 110]):
        recs.append(make_record("A", "fam:p1", s, c))
    for s, c in enumerate([200, 200, 300]):
        recs.append(make_record("B", "fam:p1", s, c))
    for s, c in enumerate([10, None, None]):
        recs.append(make_record("A", "fam:p2", s, c))
    for s, c in enumerate([50, 40, 60]):
        recs.append(make_record("B", "fam:p2", s, c))
    return recs


def test_profile_score_hand_values():
    assert scoring.profile_score([1.0, 1.0]) == 1.0
    assert scoring.profile_score([math.inf, math.inf]) == 0.0
    # ratio 2 with tau_max 8: (8-2)/7 ; averaged with a failure
    assert scoring.profile_score([2.0, math.inf]) == pytest.approx(6 / 7 / 2)
    assert scoring.profile_score([9.0]) == 0.0
    assert scoring.profile_score([1.0, 2.0], tau_max=3.0) == pytest.approx((1.0 + 0.5) / 2)


def test_profile_curve():
    rho = scoring.profile_curve([1.0, 2.0, math.inf], [1.0, 1.5, 2.0, 100.0])
    assert rho.tolist() == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3])


def test_score_matches_profile_integral():
    ratios = [1.0, 1.7, 3.2, math.inf]
    taus = np.linspace(1, scoring.TAU_MAX, 200001)
    rho = scoring.profile_curve(ratios, taus)
    area = np.trapezoid(rho, taus) / (scoring.TAU_MAX - 1)
    assert scoring.profile_score(ratios) == pytest.approx(area, abs=1e-4)


def test_ranking_known_answer():
    df = scoring.ranking(_set())
    assert list(df.entry) == ["B", "A"]
    b = df.set_index("entry").loc["B"]
    a = df.set_index("entry").loc["A"]
    # p1: B ratio 2 ; p2: B ratio 1 (A's penalized median is the penalty 2 x 1000: not solved)
    assert b.score == pytest.approx(((8 - 2) / 7 + 1.0) / 2)
    assert a.score == pytest.approx((1.0 + 0.0) / 2)
    assert (a.solved, b.solved, a.problems) == (1, 2, 2)
    assert (a.certified, a.runs, b.certified, b.runs) == (4, 6, 6, 6)
    # SGM of the penalized medians: A: (100, 2*1000) ; B: (200, 50)
    assert a.sgm_calls == pytest.approx(math.sqrt(200 * 2100) - 100)
    assert b.sgm_calls == pytest.approx(math.sqrt(300 * 150) - 100)
    assert list(df["rank"]) == [1, 2]


def test_failure_charged_in_ranking():
    """40% of runs certified, fast, ranks below 100% certified, 5x slower (PAR-2 median)."""
    recs = []
    for p in ("fam:p1", "fam:p2"):
        for s in range(5):
            recs.append(make_record("fast-flaky", p, s, 100 if s < 2 else None))
            recs.append(make_record("slow-sure", p, s, 500))
    df = scoring.ranking(recs).set_index("entry")
    assert df.loc["slow-sure", "rank"] == 1 and df.loc["fast-flaky", "rank"] == 2
    assert df.loc["fast-flaky", "solved"] == 0
    assert df.loc["fast-flaky", "sgm_calls"] == pytest.approx(2 * 1000)
    table = aggregate.problem_table(recs).set_index(["entry", "problem"])
    row = table.loc[("fast-flaky", "fam:p1")]
    assert (row.certified, row.runs) == (2, 5)
    assert row.calls_median == 100  # the median over certified runs only ...
    assert row.cost_median == 2000  # ... the cost charges the 3 failures at 2 x budget


def test_half_success_pays_half_the_penalty():
    # A: [100, failure] -> median of (100, 2000) = 1050; B: 300 -> A at ratio 3.5
    recs = [make_record("A", "fam:p", 0, 100), make_record("A", "fam:p", 1, None),
            make_record("B", "fam:p", 0, 300), make_record("B", "fam:p", 1, 300)]
    df = scoring.ranking(recs).set_index("entry")
    assert df.loc["A", "solved"] == 1
    assert df.loc["A", "score"] == pytest.approx((8 - 1050 / 300) / 7)
    assert df.loc["B", "score"] == 1.0 and df.loc["B", "rank"] == 1


def test_missing_problem_counts_as_failure():
    recs = [make_record("A", "fam:p1", 0, 100), make_record("A", "fam:p2", 0, 100),
            make_record("B", "fam:p1", 0, 100)]
    df = scoring.ranking(recs).set_index("entry")
    assert df.loc["B", "problems"] == 2 and df.loc["B", "solved"] == 1
    assert df.loc["B", "score"] == pytest.approx(0.5)
    assert df.loc["B", "sgm_calls"] == pytest.approx(math.sqrt(200 * 2100) - 100)


def test_nobody_solves_stays_in_denominator():
    recs = [make_record("A", "fam:p1", 0, 100), make_record("A", "fam:p2", 0, None)]
    assert scoring.ranking(recs).score.iloc[0] == pytest.approx(0.5)


def test_shifted_geomean():
    assert scoring.shifted_geomean([0, 0]) == pytest.approx(0.0)
    assert scoring.shifted_geomean([100, 100]) == pytest.approx(100.0)
    assert scoring.shifted_geomean([0, 300], shift=100) == pytest.approx(100.0)


# ------------------------------------------------------------------ the median's CI
@pytest.mark.parametrize("n", range(1, 61))
def test_order_statistics_ci_exact_coverage(n):
    k, cov = scoring.median_ci_order(n)
    assert cov == pytest.approx(1 - 2 * stats.binom.cdf(k - 1, n, 0.5), abs=1e-12)
    if n > 5:  # the narrowest symmetric pair with coverage >= 95%
        assert cov >= 0.95
        assert 1 - 2 * stats.binom.cdf(k, n, 0.5) < 0.95 or k + 1 > (n + 1) // 2
    else:  # too few runs for 95%: (min, max), with the coverage it achieves
        assert k == 1 and cov < 0.95


def test_order_statistics_ci_n15_is_4th_and_12th():
    assert scoring.median_ci_order(15)[0] == 4
    vals = [10 * i for i in range(15, 0, -1)]  # unsorted on purpose: 150, 140, ..., 10
    lo, hi, cov = scoring.median_ci(vals)
    assert (lo, hi) == (40.0, 120.0)
    assert cov == pytest.approx(1 - 2 * stats.binom.cdf(3, 15, 0.5))
    assert scoring.median_ci([3.0, 1.0, 2.0]) == (1.0, 3.0, 0.75)
    assert all(math.isnan(x) for x in scoring.median_ci([]))


def test_problem_table_ci_over_all_runs():
    recs = [make_record("A", "fam:p", s, 100 + s if s < 12 else None) for s in range(15)]
    row = aggregate.problem_table(recs).iloc[0]
    # costs: 100..111 then three failures at 2000: 4th = 103, 12th = 111
    assert (row.cost_ci_low, row.cost_ci_high) == (103.0, 111.0)
    assert (row.calls_ci_low, row.calls_ci_high) == (102.0, 109.0)  # n = 12: k = 3


# ------------------------------------------------------------------ rank intervals and ties
def test_tie_groups_rule():
    # overlap at one rank is a tie; disjoint intervals are not; ties chain
    assert scoring.shown_ranks([1, 2], [1, 2], [2, 2]) == ["1=", "1="]
    assert scoring.shown_ranks([1, 2], [1, 2], [1, 2]) == ["1", "2"]
    assert scoring.shown_ranks([1, 2, 3], [1, 1, 3], [2, 3, 3]) == ["1=", "1=", "1="]
    assert scoring.shown_ranks([1, 2, 3, 4], [1, 1, 3, 3], [2, 2, 4, 4]) == ["1=", "1=", "3=", "3="]


def _board(costs: dict[str, list[float]], problems=("fam:p1", "fam:p2", "fam:p3")):
    recs = []
    for entry, values in costs.items():
        for p in problems:
            for inst in range(3):
                for s in range(5):
                    recs.append(standard(entry, p, s, int(values[(5 * inst + s) % len(values)]),
                                         instance_seed=inst, budget=100_000))
    return recs


def test_tied_when_intervals_overlap():
    rng = np.random.default_rng(3)
    a = rng.integers(900, 1100, size=15).tolist()
    b = [x + 1 for x in a[::-1]]  # the same distribution: rank intervals overlap
    df = scoring.ranking(_board({"A": a, "B": b, "C": [5000] * 15}))
    shown = dict(zip(df.entry, df.shown_rank))
    assert shown["A"] == shown["B"] == "1="
    assert shown["C"] == "3"
    assert df.set_index("entry").loc["C", ["rank_low", "rank_high"]].tolist() == [3, 3]


def test_not_tied_when_clearly_separated():
    df = scoring.ranking(_board({"A": [1000 + i for i in range(15)], "B": [3000 + i for i in range(15)]}))
    assert df.shown_rank.tolist() == ["1", "2"]
    assert df.rank_low.tolist() == [1, 2] and df.rank_high.tolist() == [1, 2]


def test_rank_intervals_seeded():
    recs = _board({"A": [900, 1200, 1000], "B": [1000, 1100, 950], "C": [980, 1010]})
    assert scoring.ranking(recs).equals(scoring.ranking(recs))


def test_bootstrap_resamples_instances_then_runs():
    """One entry, instance i has all its 5 runs at cost 10 (i + 1): the penalized median of a
    resample is 10 exactly when instance 0 is drawn at least twice of 3: 7/27."""
    recs = [standard("A", "fam:p", s, 10 * (inst + 1), instance_seed=inst)
            for inst in range(3) for s in range(5)]
    c = scoring.bootstrap_costs(recs, ["fam:p"], ["A"], [2000.0], n_boot=4000)[:, 0, 0]
    assert set(np.unique(c)) <= {10.0, 20.0, 30.0}
    assert (c == 10).mean() == pytest.approx(7 / 27, abs=0.03)
    # runs within a drawn instance are resampled too: a mixed instance gives new medians
    mixed = [standard("A", "fam:p", s, [10, 10, 50, 90, 90][s]) for s in range(5)]
    c = scoring.bootstrap_costs(mixed, ["fam:p"], ["A"], [2000.0], n_boot=2000)[:, 0, 0]
    assert {10.0, 50.0, 90.0} <= set(np.unique(c))


# ------------------------------------------------------------------ boards
def test_boards_split_by_track_and_profile():
    recs = _set() + [standard("A", "fam:p1", 0, 5), standard("A", "fam:p1", 0, 5, track="defaults"),
                     standard("A", "fam:p1", 0, 5, track="custom"),
                     make_record("A", "fam:p1", 0, 5, profile="cpu-fp32")]
    keys = list(boards.boards(recs))
    assert keys[:2] == [("standard", "2", "cpu", "tuned"), ("standard", "2", "cpu", "defaults")]
    assert set(keys) == {("standard", "2", "cpu", "tuned"), ("standard", "2", "cpu", "defaults"),
                         ("standard", "2", "cpu", "custom"), ("smoke", "1", "cpu", "custom"),
                         ("smoke", "1", "cpu-fp32", "custom")}
    ranked = {b.key for b in boards.split_boards(recs) if b.ranked}
    assert ranked == {("standard", "2", "cpu", "tuned"), ("standard", "2", "cpu", "defaults")}


def test_boards_never_mix_harness_versions():
    old = [standard("A", "fam:p", s, 10, harness_version="old", created_at="2026-01-01T00:00:00")
           for s in range(3)]
    new = [standard("A", "fam:p", s, 99, harness_version="new", created_at="2026-02-01T00:00:00")
           for s in range(2)]
    (b,) = boards.split_boards(old + new)
    assert b.harness_version == "new" and b.older_left_out == 3
    assert sorted(r.calls_to_sosp for r in b.records) == [99, 99]


def test_wallclock_grouped_by_hardware():
    recs = [make_record("A", "fam:p", 0, 100, hardware_id="h1", seconds=1.0),
            make_record("A", "fam:p", 1, 100, hardware_id="h2", seconds=9.0)]
    tabs = scoring.wallclock_tables(recs)
    assert set(tabs) == {("cpu", "h1"), ("cpu", "h2")}
    assert tabs[("cpu", "h1")].seconds_median.iloc[0] == 1.0


def test_empty():
    assert scoring.ranking([]).empty
    assert boards.boards([]) == {}


# ------------------------------------------------------------------ what "certified" bought
def test_relative_gap():
    assert scoring.relative_gap(-0.5, -1.0, 1.0) == pytest.approx(0.25)
    assert scoring.relative_gap(-1.0, -1.0, 0.0) == 0.0
    assert math.isnan(scoring.relative_gap(-0.5, None, 1.0))
    assert math.isnan(scoring.relative_gap(-0.5, 1.0, 1.0))  # f_s <= f*: undefined
    recs = [make_record("A", "fam:p", 0, 100, final_f=-0.5, f_star=-1.0, saddle_value=1.0),
            make_record("A", "fam:p", 1, 100, final_f=0.0, f_star=-1.0, saddle_value=1.0),
            make_record("A", "fam:p", 2, 100, final_f=0.6, f_star=-1.0, saddle_value=1.0),
            make_record("A", "fam:p", 3, None, final_f=1.0, f_star=-1.0, saddle_value=1.0)]
    row = aggregate.problem_table(recs).iloc[0]
    assert row.gap_median == pytest.approx(0.5)  # (0.25, 0.5, 0.8); the failed run is left out
    assert row.gap_runs == 3


# ------------------------------------------------------------------ terminal tables
def test_terminal_tables_show_success_and_cost():
    recs = []
    for s in range(5):
        recs.append(make_record("fast-flaky", "fam:p1", s, 100 if s < 2 else None))
        recs.append(make_record("slow-sure", "fam:p1", s, 500))
        recs.append(make_record("an-entry-with-a-very-long-label[lr=0.001,momentum=0.9,nesterov=true]",
                                "fam:p1", s, 700))
    table = aggregate.problem_table(recs)
    text = terminal.results_table(table)
    assert all(len(line) <= terminal.WIDTH for line in text.splitlines())
    line = next(ln for ln in text.splitlines() if ln.startswith("fast-flaky"))
    assert "2/5" in line and "2,000" in line and " 100 " in line
    comp = terminal.comparison_table(table, {"fast-flaky"})
    assert all(len(line) <= terminal.WIDTH for line in comp.splitlines())
    rows = [ln for ln in comp.splitlines() if ln.startswith("fam:p1")]
    assert ">fast-flaky<" in rows[0] and "2/5" in rows[0] and "3/3" in rows[0]  # highlighted first
    best = next(ln for ln in rows if "slow-sure" in ln)
    assert "500*" in best and "1/3" in best
    assert terminal.comparison_table(aggregate.problem_table(recs[:1]), set()) is None


def test_comparison_matrix_every_entry_by_every_problem_in_100_columns():
    recs = []
    for s in range(4):
        for i, problem in enumerate(f"family-{k}:instance-{k}" for k in range(8)):
            recs.append(make_record("fast-flaky", problem, s, 100 if s < 1 else None))  # 1/4
            recs.append(make_record("slow-sure", problem, s, 500))
            recs.append(make_record("mine", problem, s, 1000 + 100 * i))
            recs.append(make_record("an-entry-with-a-very-long-label[lr=0.001,momentum=0.9]",
                                    problem, s, 250))
    table = aggregate.problem_table(recs)
    text = terminal.comparison_matrix(table, {"mine"})
    lines = text.splitlines()
    assert all(len(line) <= terminal.WIDTH for line in lines)
    rows = [ln.split() for ln in lines[2:6]]
    assert rows[0][0] == ">mine<" and rows[0][1:] == ["4", "4.4", "4.8", "5.2", "5.6", "6", "6.4", "6.8"]
    assert rows[1][1:] == ["1*"] * 8  # the long label is the best: second, after >you<
    assert rows[2][0] == "slow-sure" and rows[2][1:] == ["2"] * 8
    assert rows[3][0] == "fast-flaky" and rows[3][1:] == ["x"] * 8  # certified 1 of 4
    assert "P8 = family-7:instance-7" in " ".join(lines)
    assert terminal.comparison_matrix(aggregate.problem_table(recs[:1]), set()) is None
