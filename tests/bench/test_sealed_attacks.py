"""Sealed runs hold against cheating entries (tests/bench/attacks/attack_entries.py).

The lint is bypassed (``unlinted``): only the process boundary, the validated channel and the
worker's confinement stand between an attack and the harness. Each test names what the attack
would get if it worked and checks it did not: the run errors with the attack's own "attack
failed", or its record shows every call, or the certificate, clock or store are untouched.
Run in-process (``sealed=False``) most of these attacks succeed, which is how each test is
known to be able to fail (``test_the_attacks_do_succeed_in_process``).
"""

import builtins
import json
import os
import pathlib
import signal

import pytest

from bench.entries import resolve_entry
from bench.entry_info import describe, entry_info, locate, source_files
from bench.store import ResultsStore
from bench.runner import RunTask, execute
from bench.sandbox import landlock_abi, sandbox

ATTACKS = pathlib.Path(__file__).parent / "attacks" / "attack_entries.py"
PROBLEM = "quad-saddle:small"  # a population problem: full=True is refused
BUDGET = 3_000


def unlinted(spec: str, overrides=None):
    """A choice for ``spec`` resolved as resolve_entry does, minus the lint."""
    from bench.entries import EntryChoice

    box = sandbox()
    ref = locate(spec, box.entry_folder)
    info = entry_info(ref, describe(ref, box), source_files(ref))
    return EntryChoice(info, dict(overrides or {}), spec)


def run_attack(cpu, cls, *, sealed=True, budget=BUDGET, time_limit=60, **overrides):
    choice = unlinted(f"{ATTACKS}:{cls}", overrides)
    return execute(RunTask(choice, PROBLEM, 0, 0, 0, cpu, budget=budget, time_limit=time_limit,
                           sealed=sealed))


def honest(cpu, budget=BUDGET):
    """Plain SGD run alone, as the attack entries (SGD subclasses, not declared elementwise) run:
    the built-in ``sgd`` runs as a seed batch, whose f values are computed by the batched rows
    and may differ from the one-run path in the last bit."""
    return execute(RunTask(resolve_entry("torch.optim.SGD[lr=0.05]")[0], PROBLEM, 0, 0, 0, cpu,
                           budget=budget, time_limit=60))


SEARCHING = ["SlotDescriptor", "ObjectGetattribute", "GetattrAlias", "GcScan", "ImportHarness",
             "CurrentFrames", "TracebackFrames", "SignalFrame", "SetProfile", "TorchFunctionAt"]


@pytest.mark.parametrize("cls", SEARCHING + ["make_gc_scanner"])
def test_searching_the_process_finds_no_harness(cpu, cls):
    rec = run_attack(cpu, cls)
    assert rec.status == "error" and rec.sealed
    assert "attack failed" in rec.message and "SUCCEEDED" not in rec.message, rec.message
    assert rec.calls_to_sosp is None


def test_patching_the_charge_in_the_worker_changes_no_count(cpu):
    rec = run_attack(cpu, "PatchCharge")
    ref = honest(cpu)
    assert rec.status == ref.status
    assert rec.counts == ref.counts and rec.calls_to_sosp == ref.calls_to_sosp
    assert rec.counts["grad_calls"] >= 100


@pytest.mark.parametrize("cls", ["PatchRandom", "PatchGetitem"])
def test_patching_torch_randomness_in_the_worker_changes_nothing(cpu, cls):
    rec = run_attack(cpu, cls)
    ref = honest(cpu)
    assert (rec.status, rec.counts, rec.calls_to_sosp, rec.trajectory["f"]) == \
        (ref.status, ref.counts, ref.calls_to_sosp, ref.trajectory["f"])


@pytest.mark.parametrize("cls", ["PatchEigh", "FakeClass"])
def test_a_fooled_process_does_not_fool_the_certificate(cpu, cls):
    rec = run_attack(cpu, cls, budget=500)
    assert rec.status == "budget_exhausted" and rec.calls_to_sosp is None
    assert rec.final_lambda_min < -rec.eps_h  # it sat at the saddle, and the record says so


def test_other_runs_are_unaffected_by_an_attack_before_them(cpu):
    ref = honest(cpu)
    for cls in ("PatchEigh", "PatchRandom", "PatchCharge"):
        run_attack(cpu, cls, budget=300)
    after = honest(cpu)
    assert (after.counts, after.calls_to_sosp, after.trajectory["f"]) == \
        (ref.counts, ref.calls_to_sosp, ref.trajectory["f"])


def test_a_longer_parameter_is_refused_not_answered(cpu):
    rec = run_attack(cpu, "ReshapeParam")
    assert rec.status == "error" and "reshape" in rec.message
    assert rec.counts["grad_calls"] == 0


def test_a_matrix_is_not_one_hvp(cpu):
    rec = run_attack(cpu, "MatrixHVP")
    assert rec.status == "error" and "shape" in rec.message
    assert rec.counts["hvp_calls"] == 0


def test_scribbling_on_shared_memory_cannot_crash_or_fool_the_harness(cpu):
    rec = run_attack(cpu, "FlipAtThread", budget=2_000, time_limit=30)
    assert rec.status in ("error", "budget_exhausted", "diverged", "timeout")
    assert rec.calls_to_sosp is None
    assert rec.counts["cost"] <= 2_000


def test_the_store_cannot_be_forged(cpu, tmp_path):
    if not landlock_abi() and sandbox().plan.get("user") != "nobody":
        pytest.skip("needs Landlock or root (to drop to nobody) to keep the worker off the store")
    store = ResultsStore(tmp_path / "store")
    store.check_writable()
    target = store.path_for("forged")
    target.write_text("")
    os.chmod(tmp_path, 0o755)
    rec = run_attack(cpu, "ForgeStore", target=str(target))
    store.append(rec)
    assert "attack failed" in rec.message, rec.message
    assert all(r.entry != "forged" for r in store.records())
    assert target.read_text() == ""


def test_the_clock_is_the_harness_s(cpu):
    rec = run_attack(cpu, "PatchClock", budget=40)
    assert rec.steps >= 30
    assert rec.optimizer_seconds >= 0.02 * rec.steps  # every 20 ms sleep is on the record


@pytest.mark.parametrize("cls,words", [("RaisesSystemExit", "SystemExit"),
                                       ("CallsOsExit", "ended"),
                                       ("Flood", "protocol"),
                                       ("FloodOutput", "File too large")])
def test_exits_and_floods_are_errors_with_a_cause(cpu, cls, words):
    rec = run_attack(cpu, cls)
    assert rec.status == "error" and words in rec.message, rec.message
    assert "SUCCEEDED" not in rec.message


def test_an_exiting_entry_makes_bench_run_fail(tmp_path, capsys):
    from bench.cli import main

    entry = tmp_path / "exits.py"
    entry.write_text("import os\nimport torch\n\n\nclass Exits(torch.optim.SGD):\n"
                     "    def step(self, closure=None):\n        closure()\n        os._exit(0)\n")
    code = main(["run", "-o", f"{entry}:Exits[lr=0.1]", "-p", "reddi2d:canonical", "--seeds", "1",
                 "--budget", "500", "--results", str(tmp_path / "r"), "--no-compare", "-q",
                 "--executor", "serial"])
    assert code == 1
    (rec,) = ResultsStore(tmp_path / "r" / "adhoc").records()
    assert rec.status == "error" and "ended" in rec.message


def test_the_harness_cannot_be_signalled(cpu):
    if landlock_abi() < 6 and sandbox().plan.get("user") != "nobody":
        pytest.skip("needs Landlock ABI >= 6 (signal scoping) or root (to drop to nobody)")
    hits = []
    old = signal.signal(signal.SIGUSR1, lambda *a: hits.append(1))
    try:
        rec = run_attack(cpu, "SignalHarness", harness_pid=os.getpid())
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert hits == [] and "attack failed" in rec.message, rec.message


def test_the_harness_memory_is_closed(cpu):
    rec = run_attack(cpu, "ReadHarnessMemory", harness_pid=os.getpid())
    assert "attack failed" in rec.message, rec.message


def test_module_level_code_never_runs_in_the_harness(cpu):
    import bench.oracle

    charge = bench.oracle.Oracle._charge
    rec = run_attack(cpu, "SlotDescriptor")
    assert rec.status == "error"
    assert os.getpid() not in builtins.__dict__.get("saddlebench_module_level_runs", [])
    assert bench.oracle.Oracle._charge is charge


def test_the_lint_reads_helpers_and_ignores_folder_names(tmp_path):
    from bench.entries import EntryError

    for folder in ("site-packages", "torch"):
        d = tmp_path / folder
        d.mkdir()
        (d / "helper.py").write_text("import gc\n\ndef scan():\n    return gc.get_objects()\n")
        (d / "entry.py").write_text(
            "import torch\nimport helper\n\n\nclass E(torch.optim.SGD):\n    pass\n")
        with pytest.raises(EntryError, match="helper.py.*imports gc"):
            resolve_entry(f"{d / 'entry.py'}:E")


@pytest.mark.parametrize("cls", ["GcScan", "SlotDescriptor", "ForgeStore"])
def test_the_attacks_do_succeed_in_process(cpu, cls, tmp_path):
    """The mutation check of this file: without the sealed worker these attacks get through."""
    import bench.oracle

    target = tmp_path / "store.jsonl"
    target.write_text("")
    charge = bench.oracle.Oracle._charge
    runs = list(builtins.__dict__.get("saddlebench_module_level_runs", []))
    try:  # the attack module's import-time code patches this (harness) process
        rec = run_attack(cpu, cls, sealed=False, target=str(target))
    finally:
        bench.oracle.Oracle._charge = charge
        builtins.__dict__["saddlebench_module_level_runs"] = runs
    assert "ATTACK SUCCEEDED" in rec.message and not rec.sealed
    assert json.loads(target.read_text() or "{}").get("entry", "forged") == "forged"
