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
    assert "calls(cert)" in out and "reddi2d:canonical" in out and "2/2" in out
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


def test_instance_seeds_run_other_instances_of_a_problem(tmp_path, capsys):
    code, out, err = run_cli(capsys, "run", "-o", "sgd", "-p", "reddi2d:paper", "--instance-seeds",
                             "1,3-4", "--seeds", "2", "--budget", "2000", "--results",
                             str(tmp_path), "--executor", "serial", "-q", "--no-compare")
    assert code == 0, err
    from bench.store import ResultsStore

    records = ResultsStore(tmp_path / "adhoc").records()
    assert sorted((r.instance_seed, r.run_seed) for r in records) == [
        (i, s) for i in (1, 3, 4) for s in (0, 1)]
    assert len({r.saddle_value for r in records}) == 3  # three instances, three saddles


@pytest.mark.parametrize("argv, message", [
    (["run", "-o", "sgd", "--instance-seeds", "1"], "a suite fixes its instances"),
    (["run", "-o", "sgd", "-p", "reddi2d:paper", "--instance-seeds", "2-x"], "e.g. 3, 0,5,7 or 0-3"),
    (["run", "-o", "sgd", "-p", "reddi2d:paper", "--instance-seeds", "-1"], "instance seeds"),
    (["run", "-o", "sgd", "-p", "reddi2d:paper", "--instance-seeds", "1,1"], "distinct"),
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
    (["run", "-o", "no_such_pkg.mod:Cls"], "cannot find module"),
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


def test_unknown_hparam_is_refused_before_any_run(tmp_path, capsys):
    code, out, err = run_cli(capsys, "run", "-o", "sgd[lrr=0.1]", "-p", "reddi2d:canonical", "--seeds",
                             "1", "--results", str(tmp_path), "--executor", "serial")
    assert code == 2 and err.startswith("bench: error:")
    assert "lrr" in err and "accepted" in err and "Did you mean lr?" in err
    assert not list(tmp_path.rglob("*.jsonl"))  # nothing ran


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


# ------------------------------------------------------------------ flags validated up front
@pytest.mark.parametrize("flag, value, message", [
    ("--seeds", "0", "--seeds"), ("--seeds", "-2", "--seeds"), ("--seeds", "100000000", "10,000"),
    ("--seeds", "abc", "not a whole number"), ("--seeds", "1.5", "--seeds"),
    ("--budget", "0", "--budget"), ("--budget", "-5", "--budget"),
    ("--time-limit", "0", "--time-limit"), ("--time-limit", "-1", "--time-limit"),
    ("--time-limit", "nan", "--time-limit"), ("--time-limit", "inf", "--time-limit"),
    ("-j", "0", "-j/--workers"), ("-j", "-3", "-j/--workers"), ("--workers", "0", "-j/--workers"),
])
def test_zero_negative_and_huge_flag_values_are_refused(flag, value, message, tmp_path, capsys):
    quick = ["-o", "sgd", "-p", "reddi2d:canonical", "--executor", "serial", "--results", str(tmp_path)]
    if flag != "--budget":
        quick += ["--budget", "2000"]
    code, out, err = run_cli(capsys, "run", *quick, f"{flag}={value}")
    assert code == 2, err
    assert err.startswith("bench: error:") and message in err and "Traceback" not in err
    assert "leave" in err or "from 1" in err or "above 0" in err  # says what to write instead
    assert not list(tmp_path.rglob("*.jsonl"))  # refused before any run


def test_unknown_subcommand_and_flag_are_user_errors(capsys):
    for argv in (["frobnicate"], ["run", "--no-such-flag"]):
        code, out, err = run_cli(capsys, *argv)
        assert code == 2 and err.startswith("bench: error:") and "--help" in err


# ------------------------------------------------------------------ hyperparameter values
@pytest.mark.parametrize("spec, message", [
    ("sgd[lr=abc]", "lr=abc is a string, but lr must be a real number"),
    ("sgd[lr=true]", "lr=true is a boolean, but lr must be a real number"),
    ("sgd-momentum[nesterov=1]", "nesterov must be true or false"),
    ("adam[betas=(0.9,)]", "betas must be a tuple of 2 numbers"),
])
def test_bad_hparam_values_are_refused_before_any_run(spec, message, tmp_path, capsys):
    code, out, err = run_cli(capsys, "run", "-o", spec, "-p", "reddi2d:canonical", "--seeds", "1",
                             "--budget", "2000", "--results", str(tmp_path), "--executor", "serial")
    assert code == 2 and err.startswith("bench: error:"), err
    assert message in err and "write e.g." in err and spec.split("[")[0] in err
    assert not list(tmp_path.rglob("*.jsonl"))


KWARGS_OPTIMIZER = '''
import torch


class Lion(torch.optim.Optimizer):
    """Like pytorch_optimizer.Lion: named hyperparameters, and **kwargs that swallow the rest."""

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, **kwargs):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        with torch.enable_grad():
            loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                p.add_(torch.sign(p.grad), alpha=-group["lr"])
        return loss


class Slow(torch.optim.SGD):
    """Correct but slow: each step sleeps."""

    def step(self, closure=None):
        import time
        time.sleep(0.3)
        return super().step(closure)
'''


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "user_opt.py"
    path.write_text(KWARGS_OPTIMIZER)
    return path


def test_misspelt_hparam_of_kwargs_optimizer_is_refused(user_file, tmp_path, capsys):
    results = tmp_path / "res"
    code, out, err = run_cli(capsys, "run", "-o", f"{user_file}:Lion[lrr=1e-3]", "-p", "reddi2d:canonical",
                             "--seeds", "1", "--budget", "2000", "--results", str(results),
                             "--executor", "serial")
    assert code == 2 and err.startswith("bench: error:"), err
    assert "lrr" in err and "accepted: betas, lr, weight_decay" in err
    assert "--allow-unknown-hparams" in err
    assert not list(results.rglob("*.jsonl"))


def test_allow_unknown_hparams_lets_the_name_through_the_up_front_check(user_file, tmp_path, capsys):
    code, out, err = run_cli(capsys, "run", "-o", f"{user_file}:Lion[lrr=1e-3]", "-p", "reddi2d:canonical",
                             "--seeds", "1", "--budget", "2000", "--results", str(tmp_path / "res"),
                             "--executor", "serial", "--allow-unknown-hparams")
    # Passing the flag on to build_optimizer in the workers is the runner's part (not yet
    # threaded): until then the run itself may still record an error (exit 1), never a
    # refusal up front (exit 2).
    assert code != 2 and "bench: error:" not in err


# ------------------------------------------------------------------ failed runs exit 1
def test_timeouts_exit_1_and_are_listed(user_file, tmp_path, capsys):
    code, out, err = run_cli(capsys, "run", "-o", f"{user_file}:Slow[lr=1e-4]", "-p", "reddi2d:canonical",
                             "--seeds", "1", "--time-limit", "0.5", "--results", str(tmp_path / "res"),
                             "--executor", "serial", "-q")
    assert code == 1, err
    assert "TIMEOUT:" in err and "1 timeout" in err and "stored" in err
    stored = (tmp_path / "res" / "adhoc").glob("*.jsonl")
    assert any('"timeout"' in p.read_text() for p in stored)  # the record is kept


# ------------------------------------------------------------------ output and entry points
def test_version(capsys):
    from bench import __version__

    code, out, err = run_cli(capsys, "--version")
    assert code == 0 and out == f"bench (SaddleBench) {__version__}\n"


def test_python_dash_m_bench():
    out = subprocess.run([sys.executable, "-m", "bench", "--help"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and "run" in out.stdout and "leaderboard" in out.stdout
    out = subprocess.run([sys.executable, "-m", "bench", "--version"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("bench (SaddleBench) ")


def test_closed_stdout_pipe_is_quiet():
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before bench writes a byte: every write is EPIPE
    try:
        proc = subprocess.run([sys.executable, "-m", "bench", "list", "suites"], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert proc.stderr == "" and proc.returncode in (0, 141)


def test_list_piped_into_head_is_quiet():
    proc = subprocess.run(f"{sys.executable} -m bench list suites | head -1", shell=True,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.count("\n") == 1 and "suite" in proc.stdout
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_torch_deprecations_stay_hidden_and_harness_warnings_show(tmp_path):
    script = (
        "import sys, warnings, bench.cli as cli\n"
        "def fake(args):\n"
        "    warnings.warn_explicit('old torch api', DeprecationWarning, 'torch/x.py', 1, module='torch.x')\n"
        "    print('listed')\n"
        "    return 0\n"
        "cli.cmd_list = fake\n"
        "sys.exit(cli.main(['list', 'suites']))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == "listed\n"
    assert "old torch api" not in proc.stderr


def test_corrupted_record_warning_is_printed(tmp_path, capsys):
    run_cli(capsys, "run", "-o", "adam", "-p", "reddi2d:canonical", "--seeds", "1", "--budget", "2000",
            "--results", str(tmp_path), "--executor", "serial")
    path = tmp_path / "adhoc" / "adam.jsonl"
    with open(path, "a") as fh:
        fh.write("{not json\n")
    code, out, err = run_cli(capsys, "show", "--results", str(tmp_path))
    assert code == 0 and "adam" in out
    assert "bench: warning:" in err and f"{path}:2" in err


def test_a_file_entry_has_one_label_however_its_path_is_typed(tmp_path, capsys, monkeypatch):
    src = ("import torch\n\nclass MyOpt(torch.optim.SGD):\n"
           "    def __init__(self, params, lr=0.01):\n        super().__init__(params, lr=lr)\n")
    (tmp_path / "my_opt.py").write_text(src)
    monkeypatch.chdir(tmp_path)
    common = ["-p", "reddi2d:canonical", "--seeds", "1", "--budget", "300", "--results",
              str(tmp_path / "r"), "--executor", "serial", "--no-compare"]
    run_cli(capsys, "run", "-o", "my_opt.py:MyOpt", *common)
    code, out, err = run_cli(capsys, "run", "-o", f"{tmp_path}/my_opt.py:MyOpt", *common)
    assert code == 0 and "(1 already in" in err and "0 to run" in err
    files = [p.name for p in (tmp_path / "r" / "adhoc").iterdir() if p.suffix == ".jsonl"]
    assert len(files) == 1 and files[0].startswith("MyOpt_")
    (tmp_path / "my_opt.py").write_text(src.replace("lr=0.01", "lr=0.02"))  # new code, new label
    run_cli(capsys, "run", "-o", "my_opt.py:MyOpt", *common)
    assert len([p for p in (tmp_path / "r" / "adhoc").iterdir() if p.suffix == ".jsonl"]) == 2


def test_user_error_types_exist_and_list_needs_no_torch(tmp_path):
    import importlib

    from bench import cli

    for module, name in cli.USER_ERRORS:
        assert issubclass(getattr(importlib.import_module(module), name), Exception), (module, name)
    code = ("import sys, bench.cli as c; c.main(['list', 'suites']); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("False"), out.stderr[-2000:]


def test_run_wide_prints_the_matrix(tmp_path, capsys):
    code, out, err = run_cli(capsys, "run", "-o", "adam", "-o", "sgd", "-s", "smoke", "--results",
                             str(tmp_path), "--executor", "serial", "--wide")
    assert code == 0 and "P1 = quad-saddle:small; P2 = reddi2d:canonical" in out.replace("\n", " ")
    matrix = out[out.index("Comparison"):]
    matrix = matrix[matrix.index("\nentry ") + 1:]
    assert matrix.splitlines()[2].startswith(">adam<") or matrix.splitlines()[2].startswith(">sgd<")
    assert all(len(line) <= 100 for line in out.splitlines())
