import pathlib
import subprocess
import sys

import pytest

from bench.cli import main

HERE = pathlib.Path(__file__).parent
MISBEHAVING = HERE / "entries_for_tests.py"


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_smoke_prints_table_and_comparison(tmp_path, capsys):
    code, out, err = run_cli(capsys, "run", "--optimizer", "adam", "--suite", "smoke", "--results",
                             str(tmp_path), "--executor", "serial")
    assert code == 0, err
    assert "calls to SOSP" in out and "reddi2d:canonical" in out and "2/2" in out
    assert (tmp_path / "smoke" / "adam.jsonl").exists()
    code, out, err = run_cli(capsys, "run", "-o", "rmsprop", "-s", "smoke", "--results", str(tmp_path),
                             "--executor", "serial")
    assert code == 0 and "Comparison" in out and ">rmsprop<" in out and "adam" in out


def test_resume_skips_stored_runs_and_force_reruns(tmp_path, capsys):
    args = ["run", "-o", "adam", "-p", "reddi2d:canonical", "--seeds", "1", "--budget", "5000",
            "--results", str(tmp_path), "--executor", "serial"]
    run_cli(capsys, *args)
    code, out, err = run_cli(capsys, *args)
    assert "1 already in" in err and "0 to run" in err
    code, out, err = run_cli(capsys, *args, "--force")
    assert "1 to run" in err
    lines = (tmp_path / "adhoc" / "adam.jsonl").read_text().splitlines()
    assert len(lines) == 2  # append-only: the forced run is added, the old one kept


def test_sweep_runs_every_point(tmp_path, capsys):
    code, out, err = run_cli(capsys, "run", "-o", "sgd-momentum[lr=[1e-3,1e-4]]", "-p",
                             "reddi2d:canonical", "--seeds", "1", "--budget", "3000", "--results",
                             str(tmp_path), "--executor", "serial")
    assert code == 0
    assert "sgd-momentum[lr=0.001]" in out and "sgd-momentum[lr=0.0001]" in out


@pytest.mark.parametrize("argv, message", [
    (["run", "-o", "sgd-momentun"], "Did you mean sgd-momentum"),
    (["run", "-o", "sgd[lr]"], "malformed"),
    (["run", "-o", "sgd[lr=nan]"], "not a finite number"),
    (["run", "-o", "sgd", "--hparams", "lr=0.1,,x"], "malformed"),
    (["run", "-o", "sgd", "-p", "quad-sadle:small"], "Did you mean quad-saddle:small"),
    (["run", "-o", "sgd", "-p", "quad-saddle:huge"], "unknown size"),
    (["run", "-o", "sgd", "-p", "quad-saddle:small[colour=red]"], "no option 'colour'"),
    (["run", "-o", "sgd", "-s", "standrd-x"], "unknown suite"),
    (["run", "-o", "collections.OrderedDict"], "not a torch.optim.Optimizer"),
    (["run", "-o", "torch.optim.NoSuch"], "has no attribute"),
    (["run", "-o", "no_such_pkg.mod:Cls"], "cannot import module"),
    (["run", "-o", "missing_file.py:Cls"], "does not exist"),
    (["run", "-o", "sgd", "--profile", "cuda-fp128"], "unknown profile"),
    (["show", "--results", "/nonexistent/dir"], "does not exist"),
])
def test_bad_input_gets_a_clear_error(argv, message, capsys, tmp_path):
    if argv[0] == "run":
        argv = argv + ["--results", str(tmp_path)]
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert message in err and err.startswith("bench: error:")


def test_unknown_hparam_is_an_error_record_and_nonzero_exit(tmp_path, capsys):
    code, out, err = run_cli(capsys, "run", "-o", "sgd[lrr=0.1]", "-p", "reddi2d:canonical", "--seeds",
                             "1", "--results", str(tmp_path), "--executor", "serial")
    assert code == 1 and "lrr" in err and "accepted" in err


def test_crashing_entry_does_not_lose_earlier_records(tmp_path, capsys):
    run_cli(capsys, "run", "-o", "adam", "-s", "smoke", "--results", str(tmp_path), "--executor", "serial")
    before = (tmp_path / "smoke" / "adam.jsonl").read_text()
    code, out, err = run_cli(capsys, "run", "-o", f"{MISBEHAVING}:Raises", "-s", "smoke", "--results",
                             str(tmp_path), "--executor", "serial")
    assert code == 1 and "boom from the entry" in err
    assert (tmp_path / "smoke" / "adam.jsonl").read_text() == before


def test_unwritable_results_folder(tmp_path, capsys):
    blocker = tmp_path / "f"
    blocker.write_text("")
    code, out, err = run_cli(capsys, "run", "-o", "adam", "-s", "smoke", "--results", str(blocker))
    assert code == 2 and "not writable" in err


def test_list_commands(capsys):
    for what, expect in [("problems", "quad-saddle:medium"), ("optimizers", "sgd-momentum"),
                         ("suites", "quick"), ("profiles", "cpu-fp32")]:
        extra = ["--family", "quad-saddle"] if what == "problems" else []
        code, out, err = run_cli(capsys, "list", what, *extra)
        assert code == 0 and expect in out


def test_show(tmp_path, capsys):
    run_cli(capsys, "run", "-o", "adam", "-s", "smoke", "--results", str(tmp_path), "--executor", "serial")
    code, out, err = run_cli(capsys, "show", "--results", str(tmp_path))
    assert code == 0 and "suite smoke v1" in out and "adam" in out


def test_console_script_help_is_fast_and_works():
    out = subprocess.run([sys.executable, "-m", "bench.cli", "--help"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and "run" in out.stdout
    out = subprocess.run([sys.executable, "-c", "import sys, bench.cli; print('torch' in sys.modules)"],
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False"  # imports stay lazy
