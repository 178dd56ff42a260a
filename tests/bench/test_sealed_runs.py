"""Sealed runs give the numbers an in-process run gives, and say how they were made."""

import pytest

from bench.entries import EntryError, resolve_entry
from bench.runner import RunTask, execute


@pytest.mark.parametrize("spec,problem,budget", [
    ("sgd-momentum", "quad-saddle:small", 30_000),
    ("psgd", "reddi2d:canonical", 20_000),  # entry noise from its own generator
    ("cubic-newton", "reddi2d:canonical", 5_000),  # HVPs, function values, same_sample
])
def test_sealed_and_in_process_records_agree(cpu, spec, problem, budget):
    choice = resolve_entry(spec)[0]
    runs = [execute(RunTask(choice, problem, 0, 1, 1, cpu, budget=budget, time_limit=120, sealed=s))
            for s in (True, False)]
    sealed, here = runs
    assert sealed.sealed and not here.sealed
    assert sealed.status == here.status and sealed.status != "error", sealed.message
    assert sealed.counts == here.counts
    assert (sealed.calls_to_sosp, sealed.sosp_bracket, sealed.escape_calls) == \
        (here.calls_to_sosp, here.sosp_bracket, here.escape_calls)
    assert sealed.trajectory["f"] == here.trajectory["f"]


def test_a_sealed_record_says_how_it_was_made(cpu):
    rec = execute(RunTask(resolve_entry("adam")[0], "reddi2d:canonical", 0, 0, 0, cpu,
                          budget=3_000, time_limit=60))
    assert rec.sealed and rec.harness_version
    assert rec.confinement["process"] == "separate"
    assert "landlock_abi" in rec.confinement and "user" in rec.confinement
    calls = rec.counts["grad_calls"] + rec.counts["hvp_calls"] + rec.counts["fval_calls"]
    assert rec.ipc["round_trips"] == calls
    assert 0 < rec.ipc["oracle_seconds"] < rec.optimizer_seconds
    assert 0 < rec.ipc["round_trip_seconds"] < 0.05 and 0 <= rec.ipc["channel_share"] < 1


def test_an_entry_that_fails_to_import_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text("import torch\nraise ImportError('missing dependency xyz')\n")
    with pytest.raises(EntryError, match="cannot be loaded.*missing dependency xyz"):
        resolve_entry(f"{bad}:Opt")


def test_an_entry_is_hashed_with_the_helpers_it_imports(tmp_path):
    (tmp_path / "helper.py").write_text("SCALE = 1.0\n")
    (tmp_path / "entry.py").write_text(
        "import torch\nimport helper\n\n\nclass E(torch.optim.SGD):\n    pass\n")
    first = resolve_entry(f"{tmp_path / 'entry.py'}:E[lr=0.1]")[0].entry.source_hash()
    (tmp_path / "helper.py").write_text("SCALE = 2.0\n")
    second = resolve_entry(f"{tmp_path / 'entry.py'}:E[lr=0.1]")[0].entry.source_hash()
    (tmp_path / "unrelated.py").write_text("X = 1\n")
    third = resolve_entry(f"{tmp_path / 'entry.py'}:E[lr=0.1]")[0].entry.source_hash()
    assert first != second == third
