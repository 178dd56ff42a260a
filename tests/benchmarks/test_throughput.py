"""Throughput benchmark: the fraction of the CPU's copy bandwidth that SGD and Adam steps reach on
quad-saddle at d = 1e6 and 1e7 (S = 1, float64, one thread), as `bench throughput` measures it.

Run with timings:  python -m pytest tests/benchmarks/test_throughput.py --benchmark-enable
(under the default --benchmark-disable each case runs once, as a test: the fraction still comes
from bench.throughput_measure's own timer and is checked). The fraction is in extra_info.
"""

import math

import pytest
import torch

from bench import throughput as tp
from bench import throughput_measure as tm
from problems import make_problem

CPU = torch.device("cpu")
STEPS = 3
SIZES = {"1e6": 1_000_000, "1e7": 10_000_000}
STATE = {"sgd": 0, "adam": 2}  # d-sized optimizer state tensors


@pytest.fixture(scope="module")
def copy_cpu():
    return tm.copy_bandwidth(CPU, torch.float64)  # arrays 4 x the last-level cache, best of 10


@pytest.fixture(scope="module")
def entries():
    return {name: tp.load_entries([name])[0][1] for name in STATE}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", STATE)
def test_copy_fraction(benchmark, entries, copy_cpu, name, size):
    d = SIZES[size]
    reason = tm.memory_skip_reason(CPU, d, 1, 8)
    if reason:
        pytest.skip(f"quad-saddle:{size} does not fit: {reason}")
    problem = make_problem(f"quad-saddle:{size}")
    assert problem.dim == d

    def run():
        return tm.measure(entries[name], problem, 1, timer=tm.Timer(), warmup=1, steps=STEPS,
                          target_seconds=1.0, copy_gb_per_s=copy_cpu["gb_per_s"])

    benchmark.group = f"throughput quad-saddle:{size}"
    m = benchmark.pedantic(run, rounds=3, iterations=1)  # once under --benchmark-disable
    benchmark.extra_info.update(copy_fraction=m["ratio"], gb_per_s=m["gb_per_s"],
                                copy_gb_per_s=copy_cpu["gb_per_s"],
                                sample_gradients_per_s=m["sample_gradients_per_s"])
    assert m["sample_gradients"] == STEPS
    assert m["bytes_per_step"] == (3 + 2 + 3 + 2 * STATE[name]) * d * 8
    assert m["gb_per_s"] == pytest.approx(m["bytes_per_step"] * STEPS / m["seconds"] / 1e9)
    assert m["ratio"] == pytest.approx(m["gb_per_s"] / copy_cpu["gb_per_s"])
    assert 0 < m["ratio"] and math.isfinite(m["ratio"])
