"""leaderboard.restamp_tuning: a tuning file gets its entry's new source hash only when the code
at the commit that made it is the code now (prose may differ; descriptive Entry strings only
with --allow-metadata); anything else is refused and the file left as it was."""

from __future__ import annotations

import json
import pathlib
import subprocess

import pytest

from bench import tuning
from leaderboard import restamp_tuning as rt

ENTRY = '''"""My entry: v1."""
from optimizers import _helper
from optimizers.base import Entry

ENTRY = Entry(
    name="myopt",
    optimizer=_helper.make,  # the factory
    defaults={"lr": 0.1},
    summary="A test entry.",
    legacy_label="L1",
)
'''
HELPER = '"""Helper."""\nSCALE = 2.0\n\n\ndef make(params, lr):\n    return (params, lr * SCALE)\n'


def _git(root: pathlib.Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                          cwd=root, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path):
    """A git repository with one built-in-style entry and a tuning file made for it under the
    raw-bytes formula, committed."""
    pkg = tmp_path / "optimizers"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "base.py").write_text("class Entry: pass\n")
    (pkg / "myopt.py").write_text(ENTRY)
    (pkg / "_helper.py").write_text(HELPER)
    (pkg / "other.py").write_text("X = 1\n")
    sources = rt.entry_sources(pkg, "myopt")
    assert [n for n, _ in sources] == ["myopt.py", "optimizers/_helper.py"]
    folder = tmp_path / "leaderboard" / "tuning"
    folder.mkdir(parents=True)
    doc = {"entry": "myopt", "entry_source_hash": rt.raw_hash(sources), "choice": {"tensor": {}},
           "trials": []}
    tuning.write_tuning(folder / "myopt.json", doc)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "tuned")
    return tmp_path


def _edit(repo, rel, old, new, commit=True):
    path = repo / rel
    text = path.read_text()
    assert old in text, (rel, old)
    path.write_text(text.replace(old, new))
    if commit:
        _git(repo, "commit", "-q", "-am", f"edit {rel}")


def test_prose_edits_are_restamped_and_the_tuned_track_accepts_the_file(repo):
    path = repo / "leaderboard" / "tuning" / "myopt.json"
    old = json.loads(path.read_text())["entry_source_hash"]
    _edit(repo, "optimizers/myopt.py", "My entry: v1.", "My entry, reworded\n\nat length.")
    _edit(repo, "optimizers/_helper.py", "SCALE = 2.0\n", "SCALE = 2.0  # a comment\n\n")
    _edit(repo, "optimizers/other.py", "X = 1", "X = 2")  # not one of the entry's files
    new = rt.harness_hash("myopt", rt.entry_sources(repo / "optimizers", "myopt"))
    assert new != old
    with pytest.raises(tuning.TuningError, match="other code"):
        tuning.load_tuning(path, new)
    before = path.read_text()
    line = rt.restamp(path, repo, write=False)
    assert "code unchanged" in line and "raw bytes" in line and path.read_text() == before
    line = rt.restamp(path, repo)
    assert f"{old} -> {new}" in line and "code unchanged" in line
    data = tuning.load_tuning(path, new).data  # accepted now
    made = _git(repo, "log", "-1", "--format=%H", "HEAD~3").strip()
    assert data["restamped"] == [{"from": old, "to": new, "metadata": [], "checked_at": made}]
    assert rt.restamp(path, repo) == f"myopt: up to date ({new})"
    # committed, and reworded again under the new formula: nothing to do
    _git(repo, "commit", "-q", "-am", "re-stamped")
    _edit(repo, "optimizers/myopt.py", "at length.", "at some length.")
    assert rt.restamp(path, repo) == f"myopt: up to date ({new})"


@pytest.mark.parametrize("rel, old, new", [
    ("optimizers/_helper.py", "SCALE = 2.0", "SCALE = 3.0"),  # a helper's constant
    ("optimizers/myopt.py", '{"lr": 0.1}', '{"lr": 0.2}'),  # the defaults
    ("optimizers/myopt.py", "import _helper\n", "import _helper, other\n"),  # one more helper
])
def test_code_changes_are_refused_and_the_file_is_left_alone(repo, rel, old, new):
    path = repo / "leaderboard" / "tuning" / "myopt.json"
    before = path.read_text()
    _edit(repo, rel, old, new)
    with pytest.raises(rt.RestampError, match="tune again"):
        rt.restamp(path, repo, allow_metadata=True)
    assert path.read_text() == before


def test_descriptive_entry_strings_need_allow_metadata(repo):
    path = repo / "leaderboard" / "tuning" / "myopt.json"
    _edit(repo, "optimizers/myopt.py", "A test entry.", "A test entry, described.")
    with pytest.raises(rt.RestampError, match=r"code of myopt.py changed.*--allow-metadata"):
        rt.restamp(path, repo)
    line = rt.restamp(path, repo, allow_metadata=True)
    assert "metadata summary changed" in line
    assert json.loads(path.read_text())["restamped"][0]["metadata"] == ["summary"]


def test_a_retired_keyword_is_ignored_only_when_named_and_gone_from_entry(repo):
    path = repo / "leaderboard" / "tuning" / "myopt.json"
    _edit(repo, "optimizers/myopt.py", '    legacy_label="L1",\n', "")
    with pytest.raises(rt.RestampError, match="tune again"):
        rt.restamp(path, repo, allow_metadata=True)
    with pytest.raises(rt.RestampError, match="Entry still has that field"):
        rt.restamp(path, repo, retired=("legacy_label", "oracle_class"))
    line = rt.restamp(path, repo, retired=("legacy_label",))
    assert "metadata legacy_label changed" in line


def test_a_retired_keyword_that_changed_value_is_still_refused_without_the_name(repo):
    path = repo / "leaderboard" / "tuning" / "myopt.json"
    _edit(repo, "optimizers/myopt.py", 'legacy_label="L1"', 'legacy_label="L2"')
    _edit(repo, "optimizers/_helper.py", "SCALE = 2.0", "SCALE = 2.5")
    with pytest.raises(rt.RestampError, match="_helper.py changed"):
        rt.restamp(path, repo, allow_metadata=True, retired=("legacy_label",))


def test_a_descriptive_keyword_that_is_not_a_constant_is_code(repo):
    path = repo / "leaderboard" / "tuning" / "myopt.json"
    _edit(repo, "optimizers/myopt.py", 'summary="A test entry."', 'summary=_helper.make(1, 2)')
    with pytest.raises(rt.RestampError, match="tune again"):
        rt.restamp(path, repo, allow_metadata=True)


def test_a_file_not_made_from_the_committed_sources_is_refused(repo):
    path = repo / "leaderboard" / "tuning" / "myopt.json"
    tuning.write_tuning(path, {**json.loads(path.read_text()), "entry_source_hash": "0" * 16})
    with pytest.raises(rt.RestampError, match="differs from its last commit"):
        rt.restamp(path, repo)
    _git(repo, "commit", "-q", "-am", "a hash from elsewhere")
    with pytest.raises(rt.RestampError, match="was not made from them"):
        rt.restamp(path, repo)


def test_uncommitted_and_unknown_files_are_refused(repo):
    folder = repo / "leaderboard" / "tuning"
    tuning.write_tuning(folder / "ghost.json", {"entry": "ghost", "entry_source_hash": "1" * 16,
                                                "choice": {}})
    with pytest.raises(rt.RestampError, match="not a built-in entry"):
        rt.restamp(folder / "ghost.json", repo)
    (repo / "optimizers" / "newopt.py").write_text("X = 1\n")
    tuning.write_tuning(folder / "newopt.json", {"entry": "newopt", "entry_source_hash": "1" * 16,
                                                 "choice": {}})
    with pytest.raises(rt.RestampError, match="has no commit"):
        rt.restamp(folder / "newopt.json", repo)


def test_main_reports_refusals_in_its_exit_status(repo, monkeypatch, capsys):
    monkeypatch.setattr(rt, "ROOT", repo)
    _edit(repo, "optimizers/_helper.py", "SCALE = 2.0", "SCALE = 3.0")
    folder = str(repo / "leaderboard" / "tuning")
    assert rt.main(["--tuning-dir", folder]) == 1
    assert "myopt: refused: " in capsys.readouterr().err
    _edit(repo, "optimizers/_helper.py", "SCALE = 3.0", "SCALE = 2.0")
    assert rt.main(["--tuning-dir", folder, "--check"]) == 0
    assert "code unchanged" in capsys.readouterr().out
