"""`python -m leaderboard.regenerate`: which stores were made by other code, and moving them
aside (never deleting them) before a step re-runs."""

import json

from leaderboard import regenerate


def _store(path, *records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_stale_stores_are_those_with_a_record_of_other_code(tmp_path):
    now = {"harness_version": "h1", "entry_name": "sgd", "entry_source_hash": "s1"}
    fresh = _store(tmp_path / "a" / "sgd.jsonl", now, now)
    old_harness = _store(tmp_path / "a" / "adam.jsonl", now, {**now, "harness_version": "h0"})
    old_entry = _store(tmp_path / "b" / "sgd.jsonl", {**now, "entry_source_hash": "s0"})
    outside = _store(tmp_path / "b" / "mine.jsonl", {**now, "entry_name": "my-opt",
                                                      "entry_source_hash": "x"})
    stale = regenerate.stale_files(tmp_path, "h1", {"sgd": "s1"})
    assert stale == [old_harness, old_entry]
    assert fresh not in stale and outside not in stale  # an outside entry's hash is its own


def test_move_aside_keeps_the_records(tmp_path, monkeypatch):
    monkeypatch.setattr(regenerate, "ROOT", tmp_path)
    monkeypatch.setattr(regenerate, "BACKUP", tmp_path / "build" / "backup")
    path = _store(tmp_path / "leaderboard" / "results" / "standard" / "sgd.jsonl", {"x": 1})
    regenerate.move_aside([path], "T", dry_run=True)
    assert path.exists()
    regenerate.move_aside([path], "T", dry_run=False)
    moved = tmp_path / "build" / "backup" / "T" / "leaderboard" / "results" / "standard" / "sgd.jsonl"
    assert not path.exists() and json.loads(moved.read_text()) == {"x": 1}


def test_dry_run_lists_the_steps_and_runs_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(regenerate, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(regenerate, "CLAIMS", tmp_path / "claims")
    assert regenerate.main(["--steps", "claims,archive", "--dry-run"]) == 0
    err = capsys.readouterr().err
    # in the fixed order archive, claims, whatever the order given; throughput not asked for
    assert err.index("== archive") < err.index("== claims") and "== throughput" not in err
    assert "make_results --suite standard --track tuned" in err and err.rstrip().endswith("$ -m bench reproduce")  # claims: each its own workers


def test_unknown_step_is_refused(capsys):
    import pytest

    with pytest.raises(SystemExit) as exc:
        regenerate.main(["--steps", "archiv"])
    assert exc.value.code == 2 and "unknown step(s) archiv" in capsys.readouterr().err
