"""Throughput of built-in entries: sample gradients per second and achieved memory bandwidth.

One measurement is an entry's ``optimizer.step(closure)`` driven in this process on a (d,)
parameter (S = 1) or an (S, d) batch of S run seeds, with the counted oracle
(:class:`bench.oracle.Oracle`) serving every row, on one device. In-process, not in the sealed
worker, whose shared-memory channel would time the inter-process copies instead of the kernels:
so only built-in entries (source in ``optimizers/``) are measured (``bench run`` times any
entry, sealed). The command, its records and table are in :mod:`bench.throughput`.

**Sample gradients per second** = S x (oracle cost of one row over the timed steps) / seconds.

**Achieved bandwidth** = (minimal compulsory bytes per step) / (seconds per step), in GB/s
(1e9 bytes), and its **ratio** to the copy bandwidth measured on the same device and dtype
(:func:`copy_bandwidth`): the percent of the achievable limit. The bytes model
(:func:`bytes_model`) counts each d-vector a step must touch once, in the run's dtype:

* problem part, per oracle call, for quad-saddle without rotation and without a finite sum (a
  diagonal, population oracle; ``sample_loss_grad``): read w and the noise sample (per row), read
  the curvatures ``lam`` and noise scales ``noise_std`` (shared by the rows, once per call),
  write the gradient (per row); an HVP reads w, v, lam and writes one vector; a function value
  reads w, the sample, lam and noise_std. Other problems have no model (GB/s left empty);
* optimizer part, per row: read p, read grad, read and write each d-sized state tensor found in
  ``optimizer.state`` after the warm-up (SGD: none; Adam: exp_avg, exp_avg_sq), write p.

It is a **lower bound** on the traffic, so the ratio is conservative: temporaries (w**9 takes
four passes), the loss reduction, drawing the sample (float64 on the CPU, then cast, and copied
to the GPU under CUDA) and repeated reads are not counted. Where the vectors of a step fit in
the last-level cache the achieved figure can exceed the copy bandwidth (measured out of cache).

**Timing**: :class:`Timer` chosen by device (CPU: ``time.perf_counter``; CUDA: CUDA events
and ``torch.cuda.synchronize``), so tests on the CPU run the code that times a GPU. Warm-up
steps are excluded and reported (their number and seconds); the timed steps are one block
(seconds per step = its mean).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Sequence

import torch

GB = 1e9
COPY_CACHE_FACTOR = 4  # copy arrays at least this many times the last-level cache
COPY_MIN_BYTES = 256 << 20
COPY_REPEATS = 10
WORK_VECTORS = 16  # (S, d) tensors alive during a step: w, grad, state, temporaries (estimate)
MEMORY_FRACTION = 0.8  # of the free memory a measurement may plan to use


# ------------------------------------------------------------------------------------ timers
class Timer:
    """Seconds of the work issued between :meth:`start` and :meth:`stop` on one device."""

    def start(self) -> None:
        self._t0 = time.perf_counter()

    def stop(self) -> float:
        return time.perf_counter() - self._t0


class CudaTimer(Timer):
    """CUDA events around the work; ``stop`` waits for the device to finish it."""

    def __init__(self, device: torch.device):
        self.device = device

    def start(self) -> None:
        torch.cuda.synchronize(self.device)
        self._start = torch.cuda.Event(enable_timing=True)
        self._end = torch.cuda.Event(enable_timing=True)
        self._start.record()

    def stop(self) -> float:
        self._end.record()
        torch.cuda.synchronize(self.device)
        return self._start.elapsed_time(self._end) / 1e3


def timer_for(device: torch.device) -> Timer:
    return CudaTimer(device) if device.type == "cuda" else Timer()


# ------------------------------------------------------------------------------------ memory
def last_level_cache_bytes(device: torch.device) -> int:
    """The largest cache of the device (CPU: sysfs of cpu0; CUDA: the L2); 32 MiB if unknown."""
    if device.type == "cuda":
        return int(getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 0) or 32 << 20)
    import pathlib

    best = 0
    for f in pathlib.Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = f.read_text().strip()
        mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        try:
            best = max(best, int(text.rstrip("KMG")) * mult)
        except ValueError:
            continue
    return best or 32 << 20


def available_bytes(device: torch.device) -> int:
    """Free memory now: CPU ``MemAvailable`` of /proc/meminfo; CUDA ``mem_get_info``."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import os

    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def memory_needed(d: int, rows: int, itemsize: int) -> tuple[int, int]:
    """(host bytes, device bytes) a measurement is estimated to need: the float64 sample chunks
    drawn on the CPU (stacked for a batch), the problem's float64 construction arrays, and
    WORK_VECTORS (S, d) tensors on the device. The same pool on a CPU."""
    from bench.oracle import MAX_SAMPLE_CHUNK, SAMPLE_CHUNK_ELEMENTS

    chunk = max(1, min(MAX_SAMPLE_CHUNK, SAMPLE_CHUNK_ELEMENTS // d))
    host = rows * chunk * d * 8 * (2 if rows > 1 else 1) + 8 * d * 8
    return host, WORK_VECTORS * rows * d * itemsize


def memory_skip_reason(device: torch.device, d: int, rows: int, itemsize: int,
                       available: Callable[[torch.device], int] | None = None) -> str | None:
    """Why (d, S) does not fit the free memory, or None if it does."""
    available = available or available_bytes
    host, dev = memory_needed(d, rows, itemsize)
    pools = [("host", host + dev, torch.device("cpu"))] if device.type == "cpu" else \
        [("host", host, torch.device("cpu")), (str(device), dev, device)]
    for name, need, where in pools:
        free = available(where)
        if need > MEMORY_FRACTION * free:
            return (f"needs about {need / 2**30:.1f} GiB of {name} memory, "
                    f"{free / 2**30:.1f} GiB free")
    return None


# ------------------------------------------------------------------------------------ copy
def copy_bandwidth(device: torch.device, dtype: torch.dtype, *, array_bytes: int | None = None,
                   repeats: int = COPY_REPEATS, timer: Timer | None = None) -> dict[str, Any]:
    """STREAM-like copy ``b.copy_(a)``: 2 x array bytes moved per copy (read a, write b), one
    warm-up copy excluded, ``repeats`` timed copies; ``gb_per_s`` is the best of them (the
    achievable limit; the median is given too). Arrays default to COPY_CACHE_FACTOR x the
    last-level cache (at least COPY_MIN_BYTES), smaller if free memory is short."""
    timer = timer or timer_for(device)
    llc = last_level_cache_bytes(device)
    if array_bytes is None:
        array_bytes = max(COPY_CACHE_FACTOR * llc, COPY_MIN_BYTES)
        array_bytes = int(min(array_bytes, MEMORY_FRACTION * available_bytes(device) / 4))
    itemsize = torch.empty((), dtype=dtype).element_size()
    n = max(1, array_bytes // itemsize)
    a = torch.ones(n, dtype=dtype, device=device)
    b = torch.empty_like(a)
    b.copy_(a)  # warm-up: pages touched, kernels loaded
    times = []
    for _ in range(repeats):
        timer.start()
        b.copy_(a)
        times.append(timer.stop())
    del a, b
    moved = 2 * n * itemsize
    best, median = min(times), sorted(times)[len(times) // 2]
    return {"array_bytes": n * itemsize, "bytes_per_copy": moved, "repeats": repeats,
            "warmup_copies": 1, "statistic": f"best of {repeats}", "seconds_best": best,
            "seconds_median": median, "gb_per_s": moved / best / GB,
            "gb_per_s_median": moved / median / GB, "llc_bytes": llc}


# ------------------------------------------------------------------------------------ bytes
#: quad-saddle (diagonal, population): d-vectors per oracle call as (per row, shared by rows)
QUAD_SADDLE_CALLS = {
    "grad": (3, 2, "read w and the sample, write the gradient (per row); read lam, noise_std"),
    "hvp": (3, 1, "read w and v, write the product (per row); read lam"),
    "fval": (2, 2, "read w and the sample (per row); read lam, noise_std"),
}


def problem_call_model(problem) -> dict[str, tuple[int, int, str]] | None:
    """Vectors touched per oracle call, or None for a problem without a bytes model."""
    if (problem.family == "quad-saddle" and getattr(problem, "Q", None) is None
            and problem.n is None):
        return QUAD_SADDLE_CALLS
    return None


def state_tensors(optimizer: torch.optim.Optimizer, param: torch.Tensor) -> list[str]:
    """Names of the optimizer's state tensors with as many numbers as ``param``."""
    state = optimizer.state.get(param, {})
    return sorted(k for k, v in state.items()
                  if isinstance(v, torch.Tensor) and v.numel() == param.numel())


def bytes_model(problem, calls_per_step: dict[str, float], state: Sequence[str], rows: int,
                itemsize: int) -> dict[str, Any]:
    """The bytes a step must move at least (see the module docstring); ``bytes_per_step`` is
    None when the problem has no model."""
    d = problem.dim
    calls = problem_call_model(problem)
    k = len(state)
    opt_bytes = rows * d * itemsize * (3 + 2 * k)
    model: dict[str, Any] = {
        "lower_bound": True, "itemsize": itemsize, "d": d, "S": rows,
        "optimizer": {"state_tensors": k, "state_names": list(state), "vectors_per_row": 3 + 2 * k,
                      "touches": "read p, read grad, read+write each state tensor, write p",
                      "bytes": opt_bytes},
        "not_counted": "temporaries, the loss reduction, drawing the sample (and its copy to "
                       "the device), repeated reads",
    }
    if calls is None:
        model["problem"] = None
        model["bytes_per_step"] = None
        return model
    prob_bytes, per_call = 0.0, {}
    for kind, (per_row, shared, touches) in calls.items():
        n = float(calls_per_step.get(kind, 0.0))
        prob_bytes += n * (rows * per_row + shared) * d * itemsize
        per_call[kind] = {"calls_per_step": n, "vectors_per_row": per_row,
                          "shared_vectors": shared, "touches": touches}
    model["problem"] = {"family": problem.family, "per_call": per_call, "bytes": prob_bytes}
    model["bytes_per_step"] = int(round(prob_bytes + opt_bytes))
    return model


# ------------------------------------------------------------------------------------ steps
@dataclasses.dataclass
class StepResult:
    steps: int
    seconds: float
    warmup_steps: int
    warmup_seconds: float
    sample_gradients: int  # over the timed steps, all rows
    calls_per_step: dict[str, float]
    state: list[str]


def sample_chunk_calls(problem) -> int:
    """Calls whose samples the oracle draws at once (bench.oracle.SampleStreams)."""
    from bench.oracle import MAX_SAMPLE_CHUNK, SAMPLE_CHUNK_ELEMENTS

    numel = problem.draw(torch.Generator().manual_seed(0), 1)[0].numel()
    return max(1, min(MAX_SAMPLE_CHUNK, SAMPLE_CHUNK_ELEMENTS // max(1, numel)))


def time_steps(optimizer: torch.optim.Optimizer, oracle, param: torch.Tensor, *, timer: Timer,
               warmup: int, steps: int | None, target_seconds: float, chunk_calls: int = 1,
               max_steps: int = 100_000) -> StepResult:
    """Warm-up steps, then one timed block of ``steps`` steps. None: about ``target_seconds``
    at the warm-up's pace (at least 3 steps), rounded up to whole periods of the sample stream's
    chunk (``chunk_calls`` calls drawn at once), so that the block pays its share of the draws."""
    closure = oracle.closure
    timer.start()
    for _ in range(warmup):
        optimizer.step(closure)
    warm_s = timer.stop()
    if steps is None:
        per = warm_s / max(1, warmup)
        steps = int(min(max_steps, max(3, math.ceil(target_seconds / per) if per > 0 else max_steps)))
        c = oracle.counts
        draws = max(1.0, (c.grad_calls + c.hvp_calls + c.fval_calls) / max(1, warmup))
        period = max(1, math.ceil(chunk_calls / draws))
        steps = period * math.ceil(steps / period)
    c0 = dataclasses.replace(oracle.counts)
    timer.start()
    for _ in range(steps):
        optimizer.step(closure)
    seconds = timer.stop()
    c1 = oracle.counts
    calls = {"grad": (c1.grad_calls - c0.grad_calls) / steps, "hvp": (c1.hvp_calls - c0.hvp_calls) / steps,
             "fval": (c1.fval_calls - c0.fval_calls) / steps}
    return StepResult(steps, seconds, warmup, warm_s, (c1.cost - c0.cost) * oracle.rows, calls,
                      state_tensors(optimizer, param))


def measure(entry, problem, rows: int, *, timer: Timer, warmup: int, steps: int | None,
            target_seconds: float, copy_gb_per_s: float) -> dict[str, Any]:
    """One measurement of a loaded entry choice (``bench.entries.EntryChoice`` whose entry is
    imported here) on ``problem`` with S = ``rows``: the numbers of a record."""
    from bench.entries import build_optimizer
    from bench.oracle import Oracle

    torch.manual_seed(0)
    w0 = problem.start_point(0)
    w = w0.clone() if rows == 1 else w0.expand(rows, -1).clone()
    seeds: Any = 0 if rows == 1 else list(range(rows))
    optimizer = build_optimizer(entry, [w], problem.family)
    oracle = Oracle(problem, w, seeds, budget=1 << 62)
    chunk = sample_chunk_calls(problem)
    r = time_steps(optimizer, oracle, w, timer=timer, warmup=warmup, steps=steps,
                   target_seconds=target_seconds, chunk_calls=chunk)
    itemsize = w.element_size()
    model = bytes_model(problem, r.calls_per_step, r.state, rows, itemsize)
    per_step = r.seconds / r.steps
    gbps = None if model["bytes_per_step"] is None else model["bytes_per_step"] / per_step / GB
    return {"steps": r.steps, "warmup_steps": r.warmup_steps, "warmup_seconds": r.warmup_seconds,
            "seconds": r.seconds, "seconds_per_step": per_step,
            "sample_gradients": r.sample_gradients,
            "sample_gradients_per_s": r.sample_gradients / r.seconds,
            "oracle_calls_per_step": r.calls_per_step, "sample_chunk_calls": chunk,
            "bytes_model": model,
            "bytes_per_step": model["bytes_per_step"], "gb_per_s": gbps,
            "copy_gb_per_s": copy_gb_per_s,
            "ratio": None if gbps is None else gbps / copy_gb_per_s}
