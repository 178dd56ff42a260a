"""The claim registry and `bench reproduce`: discovery, verdicts, results, and the committed
results re-judged and re-measured from their committed records."""

from __future__ import annotations

import json
import math
import pathlib

import pytest

from bench import claims as C
from bench.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "leaderboard" / "claims"
#: the claims the end-to-end test runs at reduced scale: one with sealed runs, one computed
#: from the problems' exact oracles
END_TO_END = ("D1", "D17")


@pytest.fixture(scope="module")
def registry():
    return C.discover()


def committed_ids():
    return sorted(p.parent.name for p in COMMITTED.glob("D*/result.json"))


# ------------------------------------------------------------------------------ registry
def test_every_claim_is_described_in_the_projects_own_words(registry):
    assert registry, "no claim registered in claims/"
    for claim in registry.values():
        for field in ("title", "source", "statement", "setting", "metric", "expected"):
            text = getattr(claim, field)
            assert text and text.strip(), f"{claim.id}.{field} is empty"
            assert "SPEC" not in text and "../" not in text, (claim.id, field)
    ids = [int(i[1:]) for i in registry]
    assert ids == sorted(ids)


def test_worker_count_is_checked_before_anything_runs(capsys, tmp_path):
    assert main(["reproduce", "D1", "--reduced", "-j", "0", "--results", str(tmp_path)]) == 2
    assert "number of worker processes" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_unknown_claim_is_a_user_error_naming_the_known_ones(capsys):
    assert main(["reproduce", "D999", "--results", "/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert "unknown claim D999" in err and "D1" in err and "--list" in err


def test_list_shows_every_claim_with_its_committed_verdict(registry, capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    for claim_id in registry:
        assert f"\n{claim_id} " in out
    for claim_id in committed_ids():
        verdict = C.read_result(COMMITTED / claim_id / "result.json")["verdict"]
        line = next(l for l in out.splitlines() if l.startswith(f"{claim_id} "))
        assert line.rstrip().endswith(verdict), line


# ------------------------------------------------------------------------------ verdicts
def _check(passed: bool) -> C.Check:
    return C.Check("c", "e", "m", passed)


def test_verdict_is_reproduced_only_when_every_check_holds():
    assert C.judge([_check(True), _check(True)]) == "reproduced"
    assert C.judge([_check(True), _check(False)]) == "partly"
    assert C.judge([_check(False), _check(False)]) == "not reproduced"
    assert C.judge([]) == "not reproduced"


def test_quantiles_never_impute_censored_runs():
    assert C.quantiles([1.0, 2.0, 3.0, 4.0]) == [1.0, 2.0, 3.0]
    assert C.quantiles([1.0, 2.0, math.inf, math.inf]) == [1.0, 2.0, None]
    assert C.quantiles([1.0, math.inf, math.inf, math.inf]) == [1.0, None, None]
    assert C.quantiles([]) == [None, None, None]
    assert C.within_factor(1.4, 1.0, 1.5) and not C.within_factor(1.6, 1.0, 1.5)
    assert C.within_factor(0.7, 1.0, 1.5) and not C.within_factor(0.6, 1.0, 1.5)
    assert not C.within_factor(None, 1.0, 1.5)


# ------------------------------------------------------------------------------ end to end
@pytest.mark.slow
def test_two_claims_run_end_to_end_at_reduced_scale_and_resume(tmp_path, registry, capsys):
    ids = [i for i in END_TO_END if i in registry]
    assert len(ids) == 2, f"{END_TO_END} must be registered"
    assert main(["reproduce", *ids, "--reduced", "--results", str(tmp_path), "-q"]) == 0
    out, err = capsys.readouterr()
    assert "1 worker(s), the claim's default" in err  # D1 declares workers = 1
    first = {}
    for claim_id in ids:
        path = C.result_path(tmp_path, claim_id, "reduced")
        data = C.read_result(path)
        first[claim_id] = data
        assert data["verdict"] in C.VERDICTS and data["scale"] == "reduced"
        assert f"{claim_id} (reduced scale): {data['verdict'].upper()}" in out
        assert not (tmp_path / claim_id).exists(), "a reduced result must not replace a full one"
        assert data["provenance"]["harness_version"]
        if registry[claim_id].tasks("reduced"):
            assert data["runs"]["records"] == len(registry[claim_id].tasks("reduced"))
            assert set(data["runs"]["statuses"]) <= {"certified", "budget_exhausted", "escaped"}
    # resumable: the second call runs nothing and measures the same
    assert main(["reproduce", *ids, "--reduced", "--results", str(tmp_path), "-q"]) == 0
    err = capsys.readouterr().err
    assert "0 to run" in err
    for claim_id in ids:
        again = C.read_result(C.result_path(tmp_path, claim_id, "reduced"))
        assert again["measurement"] == first[claim_id]["measurement"]
        assert again["verdict"] == first[claim_id]["verdict"]


# ------------------------------------------------------------------------------ committed results
@pytest.mark.parametrize("claim_id", committed_ids())
def test_committed_result_is_rejudged_to_its_verdict(claim_id, registry):
    data = C.read_result(COMMITTED / claim_id / "result.json")
    claim = registry[claim_id]
    assert data["scale"] == "full" and data["claim_version"] == claim.version
    verdict, checks = C.rejudge(claim, data)
    assert verdict == data["verdict"], [c for c in checks if not c.passed]
    assert [c.passed for c in checks] == [c["passed"] for c in data["checks"]]
    assert data["provenance"]["claim_code"] == claim.code_digest(), (
        f"claims/{claim_id}: the claim's code changed since its result was made; run "
        f"`bench reproduce {claim_id}` and commit leaderboard/claims/{claim_id}")


@pytest.mark.parametrize("claim_id", committed_ids())
def test_committed_records_remeasure_to_the_committed_measurement(claim_id, registry):
    """The committed runs are complete for the current harness and entries (`bench reproduce`
    would run nothing) and measure to exactly what the result says."""
    from bench.runner import task_key
    from bench.store import ResultsStore

    claim = registry[claim_id]
    tasks = claim.tasks("full")
    if not tasks:
        pytest.skip(f"{claim_id} is computed from the problems, not from runs")
    store = ResultsStore(C.store_root(COMMITTED, claim_id, "full"))
    by_key = {r.key: r for r in store.iter_records()}
    missing = [t.describe() for t in tasks if task_key(t) not in by_key]
    assert not missing, f"{len(missing)} runs missing, e.g. {missing[:3]}"
    records = [by_key[task_key(t)] for t in tasks]
    assert all(r.sealed for r in records)
    data = C.read_result(COMMITTED / claim_id / "result.json")
    remeasured = json.loads(json.dumps(claim.measure(records, "full").to_data()))
    assert remeasured == data["measurement"]


def test_d18_counts_at_escape_include_runs_certified_at_their_escape_checkpoint():
    """D18's HVPs to escape: a stop-at-escape run whose escape and first certification share a
    checkpoint ends ``certified`` there and its end counts are its escape counts; a run certified
    before it escaped has none."""
    from types import SimpleNamespace

    from claims.d18_second_order_escape import _at_escape

    def run(status, escape_calls, cost=900):
        return SimpleNamespace(status=status, escape_calls=escape_calls,
                               counts={"cost": cost, "hvp_calls": 4})

    assert _at_escape(run("escaped", 900), "hvp_calls") == 4
    assert _at_escape(run("certified", 900), "hvp_calls") == 4
    assert _at_escape(run("certified", None), "hvp_calls") is None
    assert _at_escape(run("certified", 450), "hvp_calls") is None
    assert _at_escape(run("budget_exhausted", None), "hvp_calls") is None
