import pathlib

import bench.executors as executors
from bench.entries import resolve_entry
from bench.store import ResultsStore
from bench.runner import RunTask

MISBEHAVING = pathlib.Path(__file__).parent / "entries_for_tests.py"


def _tasks(cpu, spec, n=2, budget=3_000, time_limit=60):
    choice = resolve_entry(spec)[0]
    return [RunTask(choice, "reddi2d:canonical", 0, s, s, cpu, budget=budget, time_limit=time_limit)
            for s in range(n)]


def test_local_pool_matches_serial_counts(cpu, tmp_path):
    tasks = _tasks(cpu, "adam", n=3, budget=20_000)
    pool = executors.run_local(tasks, ResultsStore(tmp_path / "a"), workers=2)
    serial = executors.run_serial(tasks, ResultsStore(tmp_path / "b"))
    key = lambda r: r.run_seed
    assert [(r.calls_to_sosp, r.counts) for r in sorted(pool, key=key)] == \
        [(r.calls_to_sosp, r.counts) for r in sorted(serial, key=key)]
    assert len(ResultsStore(tmp_path / "a").records()) == 3


def test_pool_kills_a_run_that_ignores_interrupts(cpu, tmp_path):
    """The harness stops waiting for a hung sealed worker at the time limit and kills it."""
    tasks = _tasks(cpu, f"{MISBEHAVING}:HangsIgnoringSignals", n=1, time_limit=1.0) + \
        _tasks(cpu, "adam", n=1)
    recs = executors.run_local(tasks, ResultsStore(tmp_path), workers=2)
    by_entry = {r.entry_name: r for r in recs}
    hang = [r for r in recs if r.status == "timeout"]
    assert len(hang) == 1 and "hangs" in hang[0].message
    assert any(r.status != "timeout" for r in recs)  # the other run went on
    assert len(ResultsStore(tmp_path).records()) == 2


def test_pending_skips_stored_runs(cpu, tmp_path):
    store = ResultsStore(tmp_path)
    tasks = _tasks(cpu, "adam", n=2)
    executors.run_serial(tasks[:1], store)
    assert executors.pending(tasks, store) == tasks[1:]
    assert executors.pending(tasks, store, force=True) == tasks


def test_eta_waits_for_evidence_and_extrapolates_the_pace():
    from bench.executors import eta_text

    assert eta_text(10.0, 2, 100) == "eta ?"  # 2 runs say nothing about the other 98
    assert eta_text(10.0, 4, 100) == "eta ?"  # under 5%
    assert eta_text(50.0, 5, 100) == "eta ~16m"  # 10 s per run x 95 runs left
    assert eta_text(10.0, 50, 100) == "eta ~10s"
    assert eta_text(10.0, 100, 100) == "done"
