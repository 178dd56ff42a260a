"""What the committed leaderboard archive must satisfy (leaderboard/results/standard)."""

import collections

import pytest

from bench.store import ResultsStore
from bench.suites import get_suite
from leaderboard.site import DEFAULT_RESULTS
from problems import canonical_id

SUITE = get_suite("standard")
STORE = DEFAULT_RESULTS / SUITE.name
RECORDS = [r for r in ResultsStore(STORE).records() if r.suite_version == SUITE.version] \
    if STORE.is_dir() else []
pytestmark = pytest.mark.skipif(not RECORDS, reason="no committed leaderboard records yet")


def test_one_code_version_sealed_ranked_tracks_only():
    assert {r.harness_version for r in RECORDS} and len({r.harness_version for r in RECORDS}) == 1
    assert all(r.sealed for r in RECORDS)
    assert {r.track for r in RECORDS} <= {"tuned", "defaults"}


def test_every_run_of_the_suite_is_there():
    want = {(canonical_id(i.problem), inst, s) for i in SUITE.items for inst, _, s in i.seed_triples()}
    by_entry = collections.defaultdict(set)
    for r in RECORDS:
        by_entry[(r.entry, r.track)].add((r.problem, r.instance_seed, r.run_seed))
    for key, got in by_entry.items():
        assert got == want, f"{key}: missing {sorted(want - got)[:5]}"


def test_a_certificate_means_below_the_saddle():
    """Where the saddle's value is known, every certified run ends strictly below it: a point
    near the saddle (or in a degenerate region above it) cannot pass the certificate."""
    certified = [r for r in RECORDS if r.status == "certified" and r.saddle_value is not None]
    assert certified
    above = [(r.entry, r.problem, r.final_f, r.saddle_value) for r in certified
             if not r.final_f < r.saddle_value]
    assert not above


def test_every_problem_is_solved_by_a_tuned_entry():
    """Each problem of the leaderboard suite is certified on >= 80% of its runs by at least one
    tuned entry within the budget."""
    rate = collections.defaultdict(lambda: [0, 0])
    for r in RECORDS:
        if r.track == "tuned":
            rate[(r.problem, r.entry)][0] += r.status == "certified"
            rate[(r.problem, r.entry)][1] += 1
    for item in SUITE.items:
        pid = canonical_id(item.problem)
        best = max((c / n for (p, _), (c, n) in rate.items() if p == pid), default=0.0)
        assert best >= 0.8, f"{pid}: the best tuned entry certifies {best:.0%} of runs"
