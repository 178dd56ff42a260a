"""`bench throughput`: records, the bytes model, GB/s and ratio from measured times, memory
skips, refusal of non-built-in entries, the Timer path shared by CPU and CUDA."""

from __future__ import annotations

import argparse
import json
import math

import pytest
import torch

from bench import throughput as tp
from bench import throughput_measure as tm
from bench.cli import CLIError
from bench.profiles import get_profile
from problems import make_problem

CPU = torch.device("cpu")


class FixedTimer(tm.Timer):
    """Reports ``seconds`` for every timed block: the numbers downstream are then exact."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.blocks = 0

    def start(self) -> None:
        pass

    def stop(self) -> float:
        self.blocks += 1
        return self.seconds


def bench_throughput(*argv: str) -> int:
    """`bench throughput ARGS` through the command's own parser (cli.py registers it the same way)."""
    parser = argparse.ArgumentParser(prog="bench")
    tp.add_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["throughput", *argv])
    return args.func(args)


@pytest.fixture(scope="module")
def entries():
    return {name: tp.load_entries([name])[0] for name in ("sgd", "adam")}


def test_command_writes_well_formed_records(tmp_path, capsys):
    code = bench_throughput("--quick", "--sizes", "small", "--seeds", "1", "3", "--steps", "4",
                            "--results", str(tmp_path))
    out = capsys.readouterr().out
    assert code == 0, out
    files = list((tmp_path / "throughput").glob("*.ndjson"))
    assert len(files) == 1
    lines = files[0].read_text().splitlines()
    assert len(lines) == 4  # sgd, adam x S = 1, 3
    recs = [json.loads(line) for line in lines]
    for r in recs:
        assert set(tp.REQUIRED) <= set(r)
        assert files[0].name == f"{r['hardware_id']}.ndjson" == f"{r['hardware']['id']}.ndjson"
        assert (r["problem"], r["d"], r["dtype"], r["device"], r["steps"]) == \
               ("quad-saddle:small", 10, "float64", "cpu", 4)
        assert r["warmup_steps"] >= 1 and r["warmup_seconds"] > 0 and r["seconds"] > 0
        assert r["sample_gradients"] == 4 * r["S"]  # batch 1: one sample gradient per row and step
        assert r["sample_gradients_per_s"] == pytest.approx(r["sample_gradients"] / r["seconds"])
        assert r["copy_gb_per_s"] > 0 and r["copy"]["bytes_per_copy"] == 2 * r["copy"]["array_bytes"]
        assert r["gb_per_s"] == pytest.approx(r["bytes_per_step"] / r["seconds_per_step"] / 1e9)
        assert r["ratio"] == pytest.approx(r["gb_per_s"] / r["copy_gb_per_s"])
        assert r["entry_source_hash"] and r["harness_version"] and r["versions"]["torch"]
        assert r["profile"] == "cpu" and r["created_at"].endswith("+00:00")
    assert {(r["entry"], r["S"]) for r in recs} == {("sgd", 1), ("adam", 1), ("sgd", 3), ("adam", 3)}
    assert "grads/s" in out and "% copy" in out and "copy bandwidth" in out
    assert max(len(line) for line in out.splitlines() if "appended to" not in line) <= 100
    # a second run appends; the earlier lines are untouched
    assert bench_throughput("--quick", "-o", "sgd", "--sizes", "small", "--seeds", "1", "--steps",
                            "2", "--results", str(tmp_path)) == 0
    again = files[0].read_text().splitlines()
    assert again[:4] == lines and len(again) == 5


def test_copy_bandwidth_from_measured_times():
    c = tm.copy_bandwidth(CPU, torch.float64, array_bytes=1 << 20, repeats=3, timer=FixedTimer(0.5))
    assert c["bytes_per_copy"] == 2 * (1 << 20)  # read a + write b
    assert c["gb_per_s"] == 2 * (1 << 20) / 0.5 / 1e9 == c["gb_per_s_median"]
    real = tm.copy_bandwidth(CPU, torch.float64, array_bytes=8 << 20, repeats=2)
    assert real["gb_per_s"] > 0 and real["seconds_best"] <= real["seconds_median"]


@pytest.mark.parametrize("name, state_vectors", [("sgd", 0), ("adam", 2)])
def test_gbps_and_ratio_from_a_fixed_timer(entries, name, state_vectors):
    problem = make_problem("quad-saddle:medium")  # d = 100, float64, diagonal
    timer = FixedTimer(2.0)
    m = tm.measure(entries[name][1], problem, 1, timer=timer, warmup=1, steps=4,
                   target_seconds=1.0, copy_gb_per_s=4.0)
    assert timer.blocks == 2 and m["warmup_seconds"] == 2.0 and m["seconds"] == 2.0
    # per step: problem 3 per-row + 2 shared vectors, optimizer 3 + 2k vectors, 100 x 8 bytes
    expected_bytes = (3 + 2 + 3 + 2 * state_vectors) * 100 * 8
    assert m["bytes_per_step"] == expected_bytes
    assert m["seconds_per_step"] == 0.5
    assert m["gb_per_s"] == expected_bytes / 0.5 / 1e9
    assert m["ratio"] == expected_bytes / 0.5 / 1e9 / 4.0
    assert m["sample_gradients_per_s"] == 4 / 2.0


def test_bytes_model_sgd_vs_adam_differs_by_state(entries):
    problem = make_problem("quad-saddle:medium")
    models = {}
    for name in ("sgd", "adam"):
        m = tm.measure(entries[name][1], problem, 3, timer=FixedTimer(1.0), warmup=1, steps=2,
                       target_seconds=1.0, copy_gb_per_s=1.0)
        models[name] = m["bytes_model"]
    assert models["sgd"]["optimizer"]["state_names"] == []
    assert models["adam"]["optimizer"]["state_names"] == ["exp_avg", "exp_avg_sq"]
    assert models["adam"]["problem"] == models["sgd"]["problem"]
    # two state tensors, each read and written, for each of the 3 rows of 100 float64
    assert models["adam"]["bytes_per_step"] - models["sgd"]["bytes_per_step"] == 2 * 2 * 3 * 100 * 8
    rotated = make_problem("quad-saddle:small[rotate=true]")
    assert tm.bytes_model(rotated, {"grad": 1.0}, [], 1, 8)["bytes_per_step"] is None  # no model


def test_out_of_memory_size_is_skipped_with_a_reason(entries):
    recs, skipped, failed = tp.measure_all(
        [entries["sgd"]], ["quad-saddle:xxl"], [1, 4], profile=get_profile("cpu"), device=CPU,
        steps=2, quick=True, available=lambda device: 8 << 20, copy={"gb_per_s": 1.0})
    assert recs == [] and failed == []
    assert [(s[0], s[1], s[2]) for s in skipped] == [("sgd", "quad-saddle:xxl", 1),
                                                      ("sgd", "quad-saddle:xxl", 4)]
    assert "GiB of host memory" in skipped[0][3] and "free" in skipped[0][3]
    assert tm.memory_skip_reason(CPU, 100, 1, 8) is None  # a tiny size fits


def test_command_reports_skips(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tm, "available_bytes", lambda device: 1 << 16)
    assert bench_throughput("--quick", "-o", "sgd", "--sizes", "medium", "--seeds", "1",
                            "--results", str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "skipped sgd on quad-saddle:medium S=1: needs about" in out
    assert not (tmp_path / "throughput").exists()


@pytest.mark.parametrize("spec", ["torch.optim.Adam", "tests/bench/entries_for_tests.py:Noisy",
                                  "collections:OrderedDict"])
def test_non_builtin_entry_is_refused(spec):
    with pytest.raises(CLIError, match="only the built-in entries of optimizers/.*is not one"):
        tp.load_entries([spec])


def test_user_errors_exit_2_through_bench_main(monkeypatch, capsys):
    from bench import cli

    original = cli.build_parser

    def build():  # `bench throughput` as cli.py registers it (add_command on its subparsers)
        parser = original()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if "throughput" not in sub.choices:
            tp.add_command(sub)
        return parser

    monkeypatch.setattr(cli, "build_parser", build)
    assert cli.main(["throughput", "--quick", "-o", "torch.optim.Adam"]) == 2
    assert "bench: error: bench throughput times entries inside its own process" in capsys.readouterr().err
    assert cli.main(["throughput", "--seeds", "0"]) == 2
    assert "--seeds must be from 1 to 4,096, got 0" in capsys.readouterr().err
    assert cli.main(["throughput", "--sizes", "huge"]) == 2
    assert "unknown size of quad-saddle" in capsys.readouterr().err


def test_bad_flags_are_user_errors():
    with pytest.raises(CLIError, match="does not match --profile cpu"):
        tp.resolve_device("cuda", "cpu")
    with pytest.raises(CLIError, match="not a device"):
        tp.resolve_device("tpu9", None)
    profile, device = tp.resolve_device(None, None)
    assert (profile.name, device.type) == ("cpu", "cpu")


def test_timer_is_chosen_by_device():
    t = tm.timer_for(CPU)
    assert type(t) is tm.Timer
    t.start()
    assert t.stop() >= 0


def test_appends_are_whole_lines(tmp_path):
    path = tmp_path / "throughput" / "hw.ndjson"
    good = {k: 1 for k in tp.REQUIRED}
    tp.append_record(path, good)
    with open(path, "a") as fh:
        fh.write('{"entry": "cut off')  # a writer killed mid-line
    tp.append_record(path, {**good, "S": 2, "x": float("nan")})
    lines = path.read_text().splitlines()
    assert json.loads(lines[0]) == good and json.loads(lines[2])["x"] is None
    with pytest.warns(UserWarning, match="hw.ndjson:2: skipped"):
        recs = tp.read_records([tmp_path])
    assert [r["S"] for r in recs] == [1, 2]
    with pytest.warns(UserWarning, match="not JSON"):
        assert tp.read_records([tmp_path, tmp_path / "throughput"]) == recs  # found twice: once


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CudaTimer, GPU fingerprint)")
def test_cuda_measurement_names_the_device(entries):
    profile, device = tp.resolve_device("cuda", None)
    assert isinstance(tm.timer_for(device), tm.CudaTimer)
    recs, skipped, failed = tp.measure_all([entries["adam"]], ["quad-saddle:xxl"], [1, 4],
                                           profile=profile, device=device, steps=5, quick=True)
    assert not failed and len(recs) == 2
    for r in recs:
        assert r["device"] == f"cuda:{device.index}"
        assert r["hardware"]["device_name"] == torch.cuda.get_device_name(device.index)
        assert r["hardware"]["gpu_index"] == device.index
        assert r["ratio"] == pytest.approx(r["gb_per_s"] / r["copy_gb_per_s"]) and r["ratio"] > 0
