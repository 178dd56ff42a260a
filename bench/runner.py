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
from bench.drivers import EntryFailed, InProcessEntry, RunSetup, SealedEntry, SegmentTimeout
from bench.entries import EntryChoice
from bench.entry_worker import STALL_STEPS
from bench.oracle import BudgetExhausted, Oracle
from bench.profiles import Profile, fingerprint, versions
from bench.provenance import harness_version
from bench.records import RunRecord
from bench.sandbox import tune_malloc
from problems import make_problem
from problems.base import torch_seed

RESOLUTION = 0.02  # relative spacing of checkpoints
LAMBDA_TRAJECTORY_GROWTH = 0.25  # lambda_min is logged when cost grew 25% since the last log
MAX_TRAJECTORY_POINTS = 160
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
    time_limit: float = 600.0  # seconds of optimizer time
    sealed: bool = True  # False: in-process debugging run (its records are never published)

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
        self.escape_bracket: tuple[int, int] | None = None
        self.certified_at: tuple[int, int, int, float] | None = None
        self.certified_bracket: tuple[int, int] | None = None
        self.last_cert = None
        self.last_w: torch.Tensor | None = None
        self.last_f = math.nan
        self.cert_seconds = 0.0
        self._last_lambda_cost = -1

    def observe(self, w: torch.Tensor, counts, seconds: float, *, final: bool = False,
                previous_cost: int = 0) -> str | None:
        """Measure at w (the harness's own copy); returns "certified" or "diverged" when the run
        must stop. ``previous_cost`` is the cost at the previous checkpoint: an event first seen
        here happened in (previous_cost, cost]."""
        t0 = time.perf_counter()
        p = self.problem
        w64 = w.detach().to(p.device, p.dtype)
        self.last_w = w64
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
            self.escape_bracket = (previous_cost, cost)
        if cert.certified and self.certified_at is None:
            self.certified_at = (cost, counts.grad_calls, counts.hvp_calls, seconds)
            self.certified_bracket = (previous_cost, cost)
            return "certified"
        return None


@dataclasses.dataclass
class _Run:
    """The harness-side state of one run: problem, certifier, oracle and the record."""

    task: RunTask
    problem: Any
    certifier: Certifier
    monitor: _Monitor
    oracle: Oracle
    record: RunRecord
    setup: RunSetup


def _prepare(task: RunTask) -> _Run:
    """Build the instance, its float64 twin for the certificate, the oracle and the record."""
    profile = task.profile
    torch.set_num_threads(profile.threads)
    dtype = profile.torch_dtype()
    problem = make_problem(task.problem, task.instance_seed, dtype=dtype, device=profile.device)
    cert_problem = problem if dtype == torch.float64 else make_problem(
        task.problem, task.instance_seed, dtype=torch.float64, device=profile.device)
    certifier = Certifier(cert_problem, seed=task.run_seed)
    budget = int(task.budget or problem.budget)
    entry = task.choice.entry
    w0 = problem.initial_point(task.init_seed).clone()
    record = RunRecord(
        entry=task.choice.label, entry_name=entry.name, hparams=task.choice.hparams_for(problem.family),
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
        versions=versions(), sealed=task.sealed, harness_version=harness_version(),
        created_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )
    setup = RunSetup(dict(entry_ref(task.choice)), dict(task.choice.overrides), problem.family, w0,
                     torch_seed(task.run_seed, OPTIMIZER_STREAM), profile.threads)
    oracle = Oracle(problem, w0.clone(), task.run_seed, budget)
    return _Run(task, problem, certifier, _Monitor(cert_problem, certifier), oracle, record, setup)


def entry_ref(choice) -> dict[str, Any]:
    """How a worker imports the choice's entry (an EntryInfo's reference)."""
    ref = getattr(choice.entry, "ref", None)
    if ref is None:
        raise TypeError(f"{choice.label}: the entry was not resolved by bench.entries.resolve_entry "
                        f"(it has no reference a sealed worker can import)")
    return ref


def _driver(run: _Run):
    if run.task.sealed:
        from bench.sandbox import sandbox

        box = sandbox()
        run.record.confinement = dict(box.plan)
        return SealedEntry(run.setup, run.oracle, box)

    def oracle_for(w):
        run.oracle = Oracle(run.problem, w, run.task.run_seed, run.oracle.budget)
        return run.oracle

    run.record.confinement = {"process": "same as harness (in-process debugging mode)"}
    return InProcessEntry(run.setup, oracle_for, STALL_STEPS)


def _drive(run: _Run, driver) -> tuple[str, str]:
    """Advance the entry checkpoint by checkpoint; returns (status, message).

    The time limit counts optimizer time (entry steps, oracle answers, channel), not problem
    construction or certification."""
    task, monitor, record = run.task, run.monitor, run.record
    counts = run.oracle.counts
    limit = task.time_limit
    with contextlib.ExitStack() as stack:
        if not driver.sealed:  # in-process: a hung step can only be interrupted by a signal
            stack.enter_context(hard_time_limit(limit + HARD_LIMIT_GRACE))
        driver.start()
        counts = run.oracle.counts
        status = monitor.observe(run.setup.w0, counts, 0.0)
        last_cost = 0
        while status is None:
            target = min(_next_checkpoint(counts.cost), run.oracle.budget)
            snap = driver.advance(target, time.perf_counter() + max(0.0, limit - record.optimizer_seconds))
            record.optimizer_seconds += snap.seconds
            record.steps = snap.steps
            counts = run.oracle.counts
            status = monitor.observe(snap.w, counts, record.optimizer_seconds, previous_cost=last_cost)
            last_cost = counts.cost
            if status is None and snap.stop_reason:
                return "error", snap.stop_reason
            if status is None and (snap.budget_spent or counts.cost >= run.oracle.budget):
                status = "budget_exhausted"
            if status is None and record.optimizer_seconds > limit:
                return "timeout", f"time limit of {limit:.0f} s of optimizer time reached"
        if status == "diverged":
            return status, (f"non-finite or exploding iterate at {counts.cost} sample gradients "
                            f"(f = {monitor.last_f:.4g}); the entry's step produced NaN/inf or "
                            f"|w| > {run.problem.divergence_radius:g}: lower its step size")
        return status, ""


def execute(task: RunTask) -> RunRecord:
    """Run one task and return its record (never raises for entry or harness failures).

    An entry failure (it raised, exited, hung, broke the protocol) is ``error`` or ``timeout``;
    a failure of the problem, oracle or certificate is ``harness_error``: never the entry's."""
    started = time.perf_counter()
    tune_malloc()
    try:
        run = _prepare(task)
    except Exception as exc:
        return failure_record(task, "harness_error", "setting up the run failed: " + _describe(exc))
    driver = _driver(run)
    try:
        status, message = _drive(run, driver)
    except (EntryFailed, BudgetExhausted) as exc:
        status, message = "error", str(exc)
    except SegmentTimeout as exc:
        status, message = "timeout", str(exc)
    except RunTimeout as exc:
        status, message = "timeout", f"{exc}; the entry's step hangs or is too slow"
    except Exception as exc:
        status = "error" if not driver.sealed else "harness_error"
        message = _describe(exc)
    finally:
        driver.close()
    _finish(run, driver, status, message)
    run.record.wall_seconds = time.perf_counter() - started
    return run.record


def _describe(exc: BaseException) -> str:
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return f"{type(exc).__name__}: {exc}\n" + "".join(tb[-3:])[-1500:]


def _finish(run: _Run, driver, status: str, message: str) -> None:
    """Fill the record's outcome fields from the monitor."""
    record, monitor, certifier = run.record, run.monitor, run.certifier
    record.status, record.message = status, message
    record.counts = run.oracle.counts.as_dict()
    if monitor.certified_at:
        (record.calls_to_sosp, record.grad_calls_to_sosp, record.hvp_calls_to_sosp,
         record.seconds_to_sosp) = monitor.certified_at
        record.sosp_bracket = list(monitor.certified_bracket)
    if monitor.escape:
        record.escape_calls, record.escape_seconds = monitor.escape
        record.escape_bracket = list(monitor.escape_bracket)
    record.final_f = monitor.last_f
    final = monitor.last_cert
    if final is not None and status not in ("diverged", "error", "timeout", "harness_error") \
            and final.lambda_min is None and monitor.last_w is not None:
        try:
            final = certifier.check(monitor.last_w, always_eigen=True)
        except Exception:  # a final-curvature failure must not lose the record
            pass
    if final is not None:
        record.final_grad_norm = final.grad_norm
        record.final_lambda_min = final.lambda_min
    record.certificate["hvps"] = certifier.total_hvps
    record.certificate["seconds"] = monitor.cert_seconds
    for name in ("failure_probability",):
        if hasattr(certifier, name):
            record.certificate[name] = getattr(certifier, name)
    if final is not None:
        for name in ("outcome", "reason"):
            if hasattr(final, name):
                record.certificate[f"final_{name}"] = getattr(final, name)
    seconds = record.optimizer_seconds
    channel = driver.round_trips * driver.round_trip_seconds
    record.ipc = {"round_trips": driver.round_trips, "oracle_seconds": driver.oracle_seconds,
                  "entry_and_channel_seconds": max(0.0, seconds - driver.oracle_seconds),
                  "round_trip_seconds": driver.round_trip_seconds,
                  "channel_share": channel / seconds if seconds > 0 else 0.0}
    record.trajectory = _downsample(monitor.traj)


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
                   task.suite_version, harness_version())


def as_dict(task: RunTask) -> dict[str, Any]:
    return {"entry": task.choice.label, "problem": task.problem, "instance_seed": task.instance_seed,
            "init_seed": task.init_seed, "run_seed": task.run_seed, "profile": task.profile.name}


def failure_record(task: RunTask, status: str, message: str, wall_seconds: float = 0.0) -> RunRecord:
    """A record for a run that produced none itself (its process was killed or died, or its
    set-up failed); ``wall_seconds`` is the time it was given before that was seen."""
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
        status=status, message=message, wall_seconds=wall_seconds,
        hardware={**fingerprint(task.profile.device), "profile": task.profile.name},
        versions=versions(), sealed=task.sealed, harness_version=harness_version(),
        created_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **info)
