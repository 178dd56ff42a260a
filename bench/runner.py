"""One run: (entry, problem, seeds, profile) -> :class:`bench.records.RunRecord`.

The loop advances the entry with ``optimizer.step(closure)`` until the oracle's cost reaches the
next checkpoint, then monitors (uncounted): f, ||grad f||, the SOSP certificate, escape and
divergence. Checkpoints grow geometrically, c_{k+1} = max(c_k + 1, ceil((1 + r) c_k)) with
``r = RESOLUTION`` (2%), so a reported count is at most 2% above the first checkpoint where the
iterate was certified, and monitoring costs O(log(budget) / r) checks per run. Seconds to SOSP
count optimizer time only; certification time is reported separately.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import math
import signal
import threading
import time
import traceback
from typing import Any

import torch

from bench.certificate import Certifier
from bench.entries import EntryChoice, build_optimizer
from bench.oracle import BudgetExhausted, Oracle
from bench.profiles import Profile, fingerprint, versions
from bench.records import RunRecord
from problems import make_problem
from problems.base import torch_seed

RESOLUTION = 0.02  # relative spacing of checkpoints
LAMBDA_TRAJECTORY_GROWTH = 0.25  # lambda_min is logged when cost grew 25% since the last log
MAX_TRAJECTORY_POINTS = 160
STALL_STEPS = 10_000  # steps without a single oracle call -> the entry ignores its closure
OPTIMIZER_STREAM = 3
HARD_LIMIT_GRACE = 30.0  # seconds past the soft time limit before SIGALRM interrupts the step


class RunTimeout(BaseException):
    """Raised inside a run that exceeded its time limit."""


@dataclasses.dataclass(frozen=True)
class RunTask:
    """One unit of work for an executor (plain data, picklable)."""

    choice: EntryChoice
    problem: str
    instance_seed: int
    init_seed: int
    run_seed: int
    profile: Profile
    suite: str = "adhoc"
    suite_version: str = "0"
    budget: int | None = None  # None -> the problem's
    time_limit: float = 600.0  # seconds

    def describe(self) -> str:
        return (f"{self.choice.label} on {self.problem} (instance {self.instance_seed}, "
                f"init {self.init_seed}, run {self.run_seed})")


@contextlib.contextmanager
def hard_time_limit(seconds: float):
    """Raise RunTimeout in this (main) thread after ``seconds``; no-op elsewhere."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def _handler(signum, frame):
        raise RunTimeout(f"time limit of {seconds:.0f} s exceeded")

    old = signal.signal(signal.SIGALRM, _handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _next_checkpoint(cost: int) -> int:
    return max(cost + 1, math.ceil(cost * (1 + RESOLUTION)))


def _downsample(traj: dict[str, list], limit: int = MAX_TRAJECTORY_POINTS) -> dict[str, list]:
    n = len(traj["cost"])
    if n <= limit:
        return traj
    keep = sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})
    return {k: [v[i] for i in keep] for k, v in traj.items()}


class _Monitor:
    """Uncounted measurements at checkpoints; remembers escape, certification and trajectory."""

    def __init__(self, problem, certifier: Certifier):
        self.problem = problem
        self.certifier = certifier
        self.traj: dict[str, list] = {"cost": [], "seconds": [], "f": [], "grad_norm": [], "lambda_min": []}
        self.escape: tuple[int, float] | None = None
        self.certified_at: tuple[int, int, int, float] | None = None
        self.last_cert = None
        self.last_f = math.nan
        self.cert_seconds = 0.0
        self._last_lambda_cost = -1

    def observe(self, w: torch.Tensor, counts, seconds: float, *, final: bool = False) -> str | None:
        """Measure at w; returns "certified" or "diverged" when the run must stop."""
        t0 = time.perf_counter()
        p = self.problem
        w64 = w.detach().to(p.device, p.dtype)
        f = float(p.loss(w64))
        cost = counts.cost
        want_lambda = final or cost >= (1 + LAMBDA_TRAJECTORY_GROWTH) * max(self._last_lambda_cost, 0) \
            or self._last_lambda_cost < 0
        finite = math.isfinite(f) and bool(torch.isfinite(w64).all())
        if finite and float(w64.norm()) <= p.divergence_radius:
            cert = self.certifier.check(w64, always_eigen=want_lambda)
        else:
            cert = None
        self.last_f = f
        self.last_cert = cert
        if cert is not None and cert.lambda_min is not None:
            self._last_lambda_cost = cost
        self.traj["cost"].append(cost)
        self.traj["seconds"].append(seconds)
        self.traj["f"].append(f)
        self.traj["grad_norm"].append(cert.grad_norm if cert else math.nan)
        self.traj["lambda_min"].append(cert.lambda_min if cert else None)
        self.cert_seconds += time.perf_counter() - t0
        if cert is None or not math.isfinite(cert.grad_norm):
            return "diverged"
        if self.escape is None and p.escaped(w64, f):
            self.escape = (cost, seconds)
        if cert.certified and self.certified_at is None:
            self.certified_at = (cost, counts.grad_calls, counts.hvp_calls, seconds)
            return "certified"
        return None


def execute(task: RunTask) -> RunRecord:
    """Run one task in this process and return its record (never raises for entry failures)."""
    started = time.perf_counter()
    profile = task.profile
    torch.set_num_threads(profile.threads)
    dtype = profile.torch_dtype()
    problem = make_problem(task.problem, task.instance_seed, dtype=dtype, device=profile.device)
    cert_problem = problem if dtype == torch.float64 else make_problem(
        task.problem, task.instance_seed, dtype=torch.float64, device=profile.device)
    certifier = Certifier(cert_problem, seed=task.run_seed)
    budget = int(task.budget or problem.budget)
    entry = task.choice.entry
    hparams = task.choice.hparams_for(problem.family)
    record = RunRecord(
        entry=task.choice.label, entry_name=entry.name, hparams=hparams,
        entry_source_hash=entry.source_hash(), oracle_class=entry.oracle_class,
        problem=problem.id, family=problem.family, dim=problem.dim,
        instance_seed=task.instance_seed, init_seed=task.init_seed, run_seed=task.run_seed,
        profile=profile.name, suite=task.suite, suite_version=task.suite_version, status="error",
        eps_g=certifier.eps_g, eps_h=certifier.eps_h, budget=budget,
        saddle_value=problem.saddle.value, f_star=problem.f_star,
        escape_delta=problem.saddle.escape_delta,
        certificate={**certifier.describe(), "resolution": RESOLUTION},
        hardware={**fingerprint(profile.device), "profile": profile.name, "dtype": profile.dtype,
                  "threads": profile.threads},
        versions=versions(),
        created_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )
    torch.manual_seed(torch_seed(task.run_seed, OPTIMIZER_STREAM))
    w = problem.initial_point(task.init_seed).clone()
    monitor = _Monitor(cert_problem, certifier)
    oracle = None
    opt_seconds = 0.0
    steps = 0
    status, message = None, ""
    try:
        with hard_time_limit(task.time_limit + HARD_LIMIT_GRACE):
            optimizer = build_optimizer(task.choice, [w], problem.family)
            oracle = Oracle(problem, w, task.run_seed, budget)
            closure = oracle.closure
            counts = oracle.counts
            status = monitor.observe(w, counts, 0.0)
            stalled_since = 0
            while status is None:
                target = min(_next_checkpoint(counts.cost), budget)
                t0 = time.perf_counter()
                try:
                    while counts.cost < target:
                        before = counts.cost
                        optimizer.step(closure)
                        steps += 1
                        if counts.cost == before:
                            stalled_since += 1
                            if stalled_since >= STALL_STEPS:
                                raise RuntimeError(
                                    f"{STALL_STEPS} calls of step() made no oracle call: the entry "
                                    f"must call closure() to get gradients (they are counted there)")
                        else:
                            stalled_since = 0
                finally:
                    opt_seconds += time.perf_counter() - t0
                status = monitor.observe(w, counts, opt_seconds)
                if status is None and counts.cost >= budget:
                    status = "budget_exhausted"
                if status is None and time.perf_counter() - started > task.time_limit:
                    status, message = "timeout", f"time limit of {task.time_limit:.0f} s reached"
            if status == "diverged":
                message = (f"non-finite or exploding iterate at {counts.cost} sample gradients "
                           f"(f = {monitor.last_f:.4g}); the entry's step produced NaN/inf or "
                           f"|w| > {problem.divergence_radius:g}: lower its step size")
    except BudgetExhausted:
        status = monitor.observe(w, oracle.counts, opt_seconds) or "budget_exhausted"
    except RunTimeout as exc:
        status, message = "timeout", f"{exc}; the entry's step hangs or is too slow"
    except Exception as exc:  # the entry crashed (or could not be built)
        status = "error"
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        message = f"{type(exc).__name__}: {exc}\n" + "".join(tb[-3:])[-1500:]
    # final point: lambda_min always (it is the leaderboard's final-curvature column)
    record.status = status or "error"
    record.message = message
    record.steps = steps
    record.optimizer_seconds = opt_seconds
    if oracle is not None:
        record.counts = oracle.counts.as_dict()
    if monitor.certified_at:
        record.calls_to_sosp, record.grad_calls_to_sosp, record.hvp_calls_to_sosp, record.seconds_to_sosp = \
            monitor.certified_at
    if monitor.escape:
        record.escape_calls, record.escape_seconds = monitor.escape
    record.final_f = monitor.last_f
    final = monitor.last_cert
    if final is not None and status not in ("diverged", "error", "timeout") and final.lambda_min is None:
        try:
            final = certifier.check(w, always_eigen=True)
        except Exception:  # a final-curvature failure must not lose the record
            pass
    if final is not None:
        record.final_grad_norm = final.grad_norm
        record.final_lambda_min = final.lambda_min
    record.certificate["hvps"] = certifier.total_hvps
    record.certificate["seconds"] = monitor.cert_seconds
    record.trajectory = _downsample(monitor.traj)
    record.wall_seconds = time.perf_counter() - started
    return record


def summary_line(record: RunRecord) -> str:
    """One line for logs and progress output."""
    if record.status == "certified":
        return f"certified at {record.calls_to_sosp:,} calls ({record.seconds_to_sosp:.2f} s)"
    extra = f": {record.message.splitlines()[0]}" if record.message else ""
    return f"{record.status}{extra}"


def task_key(task: RunTask) -> str:
    from bench.records import run_key

    from problems import canonical_id

    return run_key(task.choice.label, task.choice.entry.source_hash(), canonical_id(task.problem),
                   task.instance_seed, task.init_seed, task.run_seed, task.profile.name, task.suite,
                   task.suite_version)


def as_dict(task: RunTask) -> dict[str, Any]:
    return {"entry": task.choice.label, "problem": task.problem, "instance_seed": task.instance_seed,
            "init_seed": task.init_seed, "run_seed": task.run_seed, "profile": task.profile.name}


def failure_record(task: RunTask, status: str, message: str) -> RunRecord:
    """A record for a run that produced none itself (its worker was killed or died)."""
    from problems import canonical_id, make_problem

    try:
        problem = make_problem(task.problem, task.instance_seed)
        info = {"problem": problem.id, "family": problem.family, "dim": problem.dim,
                "eps_g": problem.eps_g, "eps_h": problem.eps_h,
                "budget": int(task.budget or problem.budget), "saddle_value": problem.saddle.value,
                "f_star": problem.f_star, "escape_delta": problem.saddle.escape_delta}
    except Exception:
        info = {"problem": canonical_id(task.problem), "family": task.problem.split(":")[0], "dim": 0}
    entry = task.choice.entry
    return RunRecord(
        entry=task.choice.label, entry_name=entry.name, hparams=task.choice.hparams_for(info["family"]),
        entry_source_hash=entry.source_hash(), oracle_class=entry.oracle_class,
        instance_seed=task.instance_seed, init_seed=task.init_seed, run_seed=task.run_seed,
        profile=task.profile.name, suite=task.suite, suite_version=task.suite_version,
        status=status, message=message, wall_seconds=task.time_limit,
        hardware={**fingerprint(task.profile.device), "profile": task.profile.name},
        versions=versions(),
        created_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **info)
