import math

import numpy as np
import pytest

from leaderboard import scoring
from tests.leaderboard.helpers import make_record


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
    # p1: B ratio 2 ; p2: B ratio 1 (A fails with success 1/3 < 0.5)
    assert b.score == pytest.approx(((8 - 2) / 7 + 1.0) / 2)
    assert a.score == pytest.approx((1.0 + 0.0) / 2)
    assert (a.solved, b.solved, a.problems) == (1, 2, 2)
    # SGM: A: (100, 2*1000) ; B: (200, 50)
    assert a.sgm_calls == pytest.approx(math.sqrt(200 * 2100) - 100)
    assert b.sgm_calls == pytest.approx(math.sqrt(300 * 150) - 100)
    assert list(df["rank"]) == [1, 2]


def test_success_threshold_is_inclusive():
    recs = [make_record("A", "fam:p", 0, 100), make_record("A", "fam:p", 1, None),
            make_record("B", "fam:p", 0, 300), make_record("B", "fam:p", 1, 300)]
    df = scoring.ranking(recs).set_index("entry")
    assert df.loc["A", "solved"] == 1 and df.loc["A", "score"] == 1.0  # 0.5 success counts
    assert df.loc["B", "score"] == pytest.approx((8 - 3) / 7)


def test_missing_problem_counts_as_failure():
    recs = [make_record("A", "fam:p1", 0, 100), make_record("A", "fam:p2", 0, 100),
            make_record("B", "fam:p1", 0, 100)]
    df = scoring.ranking(recs).set_index("entry")
    assert df.loc["B", "problems"] == 2 and df.loc["B", "solved"] == 1
    assert df.loc["B", "score"] == pytest.approx(0.5)


def test_nobody_solves_stays_in_denominator():
    recs = [make_record("A", "fam:p1", 0, 100), make_record("A", "fam:p2", 0, None)]
    assert scoring.ranking(recs).score.iloc[0] == pytest.approx(0.5)


def test_shifted_geomean():
    assert scoring.shifted_geomean([0, 0]) == pytest.approx(0.0)
    assert scoring.shifted_geomean([100, 100]) == pytest.approx(100.0)
    assert scoring.shifted_geomean([0, 300], shift=100) == pytest.approx(100.0)


def test_bootstrap_ci_seeded_and_contains_median():
    vals = [10, 12, 15, 11, 30, 14, 13]
    lo, hi = scoring.bootstrap_median_ci(vals, seed=1)
    assert (lo, hi) == scoring.bootstrap_median_ci(vals, seed=1)
    assert lo <= np.median(vals) <= hi
    assert scoring.bootstrap_median_ci([5.0]) == (5.0, 5.0)
    assert all(math.isnan(x) for x in scoring.bootstrap_median_ci([]))
    assert scoring.bootstrap_median_ci([7, 7, 7]) == (7.0, 7.0)


def test_boards_split_suite_and_profile():
    recs = _set() + [make_record("A", "fam:p1", 0, 5, suite="standard"),
                     make_record("A", "fam:p1", 0, 5, profile="cpu-fp32")]
    keys = list(scoring.boards(recs))
    assert keys[0] == ("standard", "1", "cpu")
    assert set(keys) == {("standard", "1", "cpu"), ("smoke", "1", "cpu"), ("smoke", "1", "cpu-fp32")}


def test_wallclock_grouped_by_hardware():
    recs = [make_record("A", "fam:p", 0, 100, hardware_id="h1", seconds=1.0),
            make_record("A", "fam:p", 1, 100, hardware_id="h2", seconds=9.0)]
    tabs = scoring.wallclock_tables(recs)
    assert set(tabs) == {("cpu", "h1"), ("cpu", "h2")}
    assert tabs[("cpu", "h1")].seconds_median.iloc[0] == 1.0


def test_empty():
    assert scoring.ranking([]).empty
    assert scoring.boards([]) == {}
