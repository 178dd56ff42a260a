import json
import os
import warnings

import pytest

from bench.records import RunRecord
from bench.store import ResultsStore, StoreError


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


# ----------------------------------------------------------------- the store loses nothing
def _warnings_of(store):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recs = store.records()
    return recs, [str(w.message) for w in caught]


def test_truncated_last_line_is_repaired_before_append(tmp_path):
    """A run killed mid-write leaves a last line without newline: the next record must not be
    glued onto it (it would be lost with it)."""
    store = ResultsStore(tmp_path)
    store.append(_rec())
    path = store.path_for("sgd")
    with open(path, "a") as fh:
        fh.write(_rec(run_seed=7).to_json()[:50])  # killed: no newline
    store.append(_rec(run_seed=2))
    recs, msgs = _warnings_of(store)
    assert [r.run_seed for r in recs] == [0, 2]
    assert len(msgs) == 1 and f"{path}:2:" in msgs[0]
    lines = path.read_text().split("\n")
    assert len(lines) == 4 and lines[-1] == ""  # record, truncated, record, ""
    # reading an incomplete last line says what it is
    with open(path, "a") as fh:
        fh.write('{"entry": "sgd"')
    _, msgs = _warnings_of(store)
    assert any(":4:" in m and "incomplete last line" in m for m in msgs)


BAD_LINES = [
    ("[1, 2, 3]", "not an object"),
    ('"just a string"', "not an object"),
    ("42", "not an object"),
    ("null", "not an object"),
    ("run_seed=str", "'run_seed' should be int"),
    ("run_seed=bool", "'run_seed' should be int"),
    ("run_seed=float", "'run_seed' should be int"),
    ("status=finished", "status 'finished' is not one of"),
    ("status=int", "'status' should be str"),
    ("counts=list", "'counts' should be dict"),
    ("counts=strvalue", "counts['cost'] should be int"),
    ("trajectory=notlist", "trajectory['f'] should be a list"),
    ("hparams=str", "'hparams' should be dict"),
    ("calls_to_sosp=str", "'calls_to_sosp' should be int or null"),
    ("final_f=str", "'final_f' should be float or null"),
    ("dim=null", "'dim' should be int"),
    ("-problem", "required field 'problem' is missing"),
    ("-status", "required field 'status' is missing"),
]


def _bad_line(spec: str) -> str:
    if "=" not in spec and not spec.startswith("-"):
        return spec
    data = json.loads(_rec().to_json())
    if spec.startswith("-"):
        del data[spec[1:]]
        return json.dumps(data)
    field, _, kind = spec.partition("=")
    value = {"str": "zero", "bool": True, "float": 1.0, "int": 3, "list": [1, 2], "null": None,
             "finished": "finished", "strvalue": {"cost": "many"}, "notlist": {"f": 3.0}}[kind]
    data[field] = value
    return json.dumps(data)


@pytest.mark.parametrize("spec,why", BAD_LINES)
def test_wrong_shaped_line_is_skipped_with_file_line_warning(tmp_path, spec, why):
    store = ResultsStore(tmp_path)
    store.append(_rec())
    path = store.path_for("sgd")
    with open(path, "a") as fh:
        fh.write(_bad_line(spec) + "\n")
    store.append(_rec(run_seed=3))
    recs, msgs = _warnings_of(store)
    assert [r.run_seed for r in recs] == [0, 3]
    assert len(msgs) == 1, msgs
    assert f"{path}:2:" in msgs[0] and why in msgs[0], msgs[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(store.keys()) == 2
    assert len(store._stored_keys()) == 2


def test_records_frame_and_keys_survive_bad_lines(tmp_path):
    """`show`, `run` and `leaderboard build` all go through iter_records: a bad line must not
    reach them (counts as a list crashed records_frame)."""
    from bench.records import records_frame

    store = ResultsStore(tmp_path)
    store.append(_rec())
    with open(store.path_for("sgd"), "a") as fh:
        fh.write(_bad_line("counts=list") + "\n" + "[]\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = records_frame(store.iter_records())
    assert len(frame) == 1


def test_null_float_reads_back_as_nan(tmp_path):
    store = ResultsStore(tmp_path)
    store.append(_rec(wall_seconds=float("inf")))
    (rec,), msgs = _warnings_of(store)
    assert not msgs and rec.wall_seconds != rec.wall_seconds


def test_check_record_dict_is_cheap():
    import time

    from bench.records import check_record_dict

    data = json.loads(_rec(counts={"cost": 5, "grad_calls": 5}).to_json())
    start = time.perf_counter()
    for _ in range(2000):
        assert check_record_dict(data) is None
    assert time.perf_counter() - start < 1.0  # ~10 us each; 2000 records in well under a second


# ----------------------------------------------------------------- the resume key
def test_harness_version_is_in_the_key_and_the_record(tmp_path):
    from bench.provenance import harness_version
    from bench.records import SCHEMA_VERSION, run_key

    hv = harness_version()
    assert len(hv) == 16 and hv == harness_version()
    args = ("sgd", "abc", "reddi2d:canonical", 0, 0, 0, "cpu", "smoke", "1")
    assert run_key(*args) != run_key(*args, hv)
    assert run_key(*args, harness_version=hv) == run_key(*args, hv)
    rec = _rec(harness_version=hv)
    assert rec.key == run_key(*args, hv)
    assert _rec().key == run_key(*args)  # "" -> the schema-1 key
    assert rec.key != _rec(harness_version="0" * 16).key
    store = ResultsStore(tmp_path)
    store.append(rec)
    (back,) = store.records()
    assert back.harness_version == hv and back.schema_version == SCHEMA_VERSION >= 2
    assert store.keys() == {rec.key}


def test_schema_1_records_still_read(tmp_path):
    """A schema-1 line (no harness_version) reads, and keeps the key it was stored under."""
    import hashlib

    data = json.loads(_rec().to_json())
    del data["harness_version"]
    data["schema_version"] = 1
    # the schema-1 formula, written out: stored schema-1 records must keep their keys
    old_key = hashlib.sha1(json.dumps(["sgd", "abc", "reddi2d:canonical", 0, 0, 0, "cpu", "smoke",
                                       "1"]).encode()).hexdigest()[:20]
    (tmp_path / "sgd.jsonl").write_text(json.dumps(data) + "\n")
    recs, msgs = _warnings_of(ResultsStore(tmp_path))
    assert not msgs and len(recs) == 1
    assert recs[0].harness_version == "" and recs[0].schema_version == 1
    assert recs[0].key == old_key


def test_committed_archive_reads_without_warnings():
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2] / "leaderboard" / "results"
    if not root.is_dir():
        pytest.skip("no committed results in this checkout")
    recs, msgs = _warnings_of(ResultsStore(root))
    assert recs and not msgs, msgs[:3]
