import json
import os
import warnings

import pytest

from bench.records import ResultsStore, RunRecord, StoreError


def _rec(**kw):
    base = dict(entry="sgd", entry_name="sgd", hparams={"lr": 0.1}, entry_source_hash="abc",
                oracle_class="first-order", problem="reddi2d:canonical", family="reddi2d", dim=2,
                instance_seed=0, init_seed=0, run_seed=0, profile="cpu", suite="smoke",
                suite_version="1", status="certified", calls_to_sosp=100, final_f=float("nan"))
    base.update(kw)
    return RunRecord(**base)


def test_append_and_read_back(tmp_path):
    store = ResultsStore(tmp_path)
    store.append(_rec())
    store.append(_rec(run_seed=1, status="budget_exhausted", calls_to_sosp=None))
    recs = store.records()
    assert [r.run_seed for r in recs] == [0, 1]
    assert recs[0].final_f is None  # NaN is stored as null (valid JSON)
    assert len(store.keys()) == 2


def test_invalid_status_is_rejected():
    with pytest.raises(ValueError):
        _rec(status="done")


def test_corrupted_line_is_skipped_and_earlier_records_survive(tmp_path):
    store = ResultsStore(tmp_path)
    store.append(_rec())
    path = store.path_for("sgd")
    with open(path, "a") as fh:
        fh.write('{"entry": "sgd", "truncated...\n')
    store.append(_rec(run_seed=2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recs = store.records()
    assert [r.run_seed for r in recs] == [0, 2]
    assert any("corrupted record" in str(w.message) and ":2:" in str(w.message) for w in caught)
    assert path.read_text().count("\n") == 3  # nothing rewritten


def test_error_records_are_not_done(tmp_path):
    store = ResultsStore(tmp_path)
    store.append(_rec(status="error", message="boom"))
    assert store.keys() == set()
    assert len(store.keys(include_errors=True)) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_folder_nonroot(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    with pytest.raises(StoreError, match="not writable"):
        ResultsStore(ro / "x").check_writable()


def test_unwritable_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="--results"):
        ResultsStore(blocker / "results").check_writable()


def test_json_has_no_nan(tmp_path):
    line = _rec(final_f=float("inf")).to_json()
    assert json.loads(line)["final_f"] is None
