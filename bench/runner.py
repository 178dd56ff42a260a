"""One run: (entry, problem, seeds, profile) -> :class:`bench.records.RunRecord`.

The loop advances the entry with ``optimizer.step(closure)`` until the oracle's cost reaches the
next checkpoint, then monitors (uncounted): f, ||grad f||, the SOSP certificate, escape and
divergence. Checkpoints grow geometrically, c_{k+1} = max(c_k + 1, ceil((1 + r) c_k)) with
``r = RESOLUTION`` (2%), so a reported count is at most 2% above the first checkpoint where the
iterate was certified, and monitoring costs O(log(budget) / r) checks per run. Seconds to SOSP
count optimizer time only; certification time is reported separately.

Seed batches (:class:`SeedBatch`): an entry whose update is elementwise runs S seeds of one
problem instance as one (S, d) parameter. Every row has its own start point, sample stream and
certificate; every active row pays for every oracle call; a row that certifies or diverges is
recorded at that checkpoint and retired (its counts freeze), and the batch goes on while any row
runs. A batch's clock is shared: each record's seconds are the batch's optimizer seconds when
that run ended, and ``batch_size`` says how many runs shared them.

Stop rules (``RunTask.stop``, :data:`bench.records.STOP_RULES`): ``sosp`` ends a run at its
first certifying checkpoint (the leaderboard's rule); ``escape`` at its first escape checkpoint
(status ``escaped``), or at its first certification if that comes first; ``budget`` only at its
budget: the first certification and escape are recorded on the way (``calls_to_sosp``,
``escape_calls``), the final_* fields are measured at the budget, and f is also measured at the
:func:`tail_points` (``TAIL_POINTS`` = 10 evenly spaced costs over the last ``TAIL_FRACTION`` =
10% of the budget, uncounted, as the checkpoints are), whose mean is ``tail_f_mean``.
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
from typing import Any, Sequence

import torch

from bench.certificate import Certifier
from bench.drivers import EntryFailed, InProcessEntry, RunSetup, SealedEntry, SegmentTimeout
from bench.entries import EntryChoice
from bench.entry_worker import STALL_STEPS
from bench.monitor import Monitor, observe_rows
from bench.oracle import BudgetExhausted, Oracle
from bench.profiles import Profile, fingerprint, run_device, versions
from bench.provenance import harness_version
from bench.records import STOP_RULES, RunRecord
from bench.sandbox import tune_malloc
from problems import make_problem
from problems.base import torch_seed

RESOLUTION = 0.02  # relative spacing of checkpoints
MAX_TRAJECTORY_POINTS = 160
OPTIMIZER_STREAM = 3
HARD_LIMIT_GRACE = 30.0  # seconds past the soft time limit before SIGALRM interrupts the step
MAX_BATCH_ROWS = 256  # seeds per batch of a batched entry
TAIL_FRACTION = 0.1  # stop rule "budget": f is averaged over this last fraction of the budget...
TAIL_POINTS = 10  # ... at this many evenly spaced costs (tail_points)


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
    stop: str = "sosp"  # when the run ends: bench.records.STOP_RULES (module docstring)
    diagnostics: tuple[str, ...] = ()  # measured at checkpoints (problems.diagnostics), sorted

    def __post_init__(self):
        if self.stop not in STOP_RULES:
            raise ValueError(f"unknown stop rule {self.stop!r}: a run stops at its first "
                             f"certification (sosp), its first escape (escape) or its budget "
                             f"(budget); give one of {', '.join(STOP_RULES)}")
        if self.diagnostics:  # "a,b" or a sequence -> sorted distinct names the family declares
            from problems import check_diagnostics

            object.__setattr__(self, "diagnostics", check_diagnostics(self.problem, self.diagnostics))
        else:
            object.__setattr__(self, "diagnostics", ())

    def describe(self) -> str:
        stop = "" if self.stop == "sosp" else f", stop at {self.stop}"
        return (f"{self.choice.label} on {self.problem} (instance {self.instance_seed}, "
                f"init {self.init_seed}, run {self.run_seed}{stop})")


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


def tail_points(budget: int) -> list[int]:
    """Stop rule "budget": the costs c_i = B - floor((TAIL_POINTS - i) TAIL_FRACTION B /
    TAIL_POINTS), i = 1..TAIL_POINTS, evenly spaced over the last 10% of the budget B and ending
    at B (fewer, without repeats, when B < TAIL_POINTS / TAIL_FRACTION). f is measured at the
    first checkpoint at or after each; ``tail_f_mean`` is the mean over the points."""
    step = TAIL_FRACTION * budget / TAIL_POINTS
    return sorted({budget - math.floor((TAIL_POINTS - i) * step) for i in range(1, TAIL_POINTS + 1)})


def _downsample(traj: dict[str, list], limit: int = MAX_TRAJECTORY_POINTS) -> dict[str, list]:
    n = len(traj["cost"])
    if n <= limit:
        return traj
    keep = sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})
    return {k: [v[i] for i in keep] for k, v in traj.items()}


def is_batched(choice: EntryChoice) -> bool:
    """Whether the choice's seeds run as one (S, d) batch: the entry declares an elementwise
    update (built-in entries prove it in tests/optimizers), or the user asked for it
    (``--batch-seeds``, checked first by :func:`bench.batch_check.check_rows_independent`)."""
    return bool(getattr(choice.entry, "elementwise", False) or getattr(choice, "batch_seeds", False))


_SHARED = ("problem", "instance_seed", "profile", "suite", "suite_version", "budget",
           "time_limit", "sealed", "stop")


def _entry_key(task: RunTask) -> tuple:
    """What the rows of one batch share of their choice: the entry, its code, track and
    batching; a batched entry's rows may differ in their own hyperparameters (custom track,
    sealed runs: e.g. tuning trials), each row then a param group of its own."""
    c = task.choice
    same = (c.entry.name, c.entry.source_hash(), c.track, c.batch_seeds)
    if c.track == "custom" and task.sealed:
        return same
    return same + (c.label, repr(sorted(c.overrides.items())))


@dataclasses.dataclass(frozen=True)
class SeedBatch:
    """The unit an executor runs: runs of one entry on one problem instance, differing only in
    their seeds (and, sealed, in their own hyperparameters: the trials of ``bench tune``). A
    batched entry (:func:`is_batched`) runs them as one (S, d) tensor, one row per run; any other
    entry comes in batches of one. Either way: one record per run."""

    tasks: tuple[RunTask, ...]

    def __post_init__(self):
        if not self.tasks:
            raise ValueError("a seed batch needs at least one run")
        first = self.tasks[0]
        for t in self.tasks[1:]:
            diff = [n for n in _SHARED if getattr(t, n) != getattr(first, n)]
            if _entry_key(t) != _entry_key(first) or (t.choice.tuning != first.choice.tuning):
                diff.insert(0, "choice")
            if diff:
                raise ValueError(f"runs of one seed batch must share {', '.join(diff)}")
        if len(self.tasks) > 1 and not is_batched(first.choice):
            raise ValueError(f"{first.choice.label} does not run seeds as a batch")

    @property
    def batched(self) -> bool:
        return is_batched(self.tasks[0].choice)

    @property
    def time_limit(self) -> float:
        """Seconds of optimizer time for the whole batch: the per-run limit times its runs."""
        return self.tasks[0].time_limit * len(self.tasks)

    def keys(self) -> list[str]:
        return [task_key(t) for t in self.tasks]

    def describe(self) -> str:
        t = self.tasks[0]
        seeds = ", ".join(str(x.run_seed) for x in self.tasks)
        return f"{t.choice.label} on {t.problem} (instance {t.instance_seed}, run seeds {seeds})"


def seed_batches(tasks: Sequence[RunTask], max_rows: int = MAX_BATCH_ROWS) -> list[SeedBatch]:
    """Group ``tasks`` into units: batched entries' runs sharing everything but their seeds go
    together, up to ``max_rows`` per batch (first-seen order); every other run alone."""
    groups: dict[tuple, list[RunTask]] = {}
    out: list[SeedBatch | list[RunTask]] = []
    for task in tasks:
        if not is_batched(task.choice) or max_rows <= 1:
            out.append(SeedBatch((task,)))
            continue
        key = _entry_key(task) + tuple(getattr(task, n) for n in _SHARED)
        group = groups.get(key)
        if group is None or len(group) >= max_rows:
            group = groups[key] = []
            out.append(group)
        group.append(task)
    return [u if isinstance(u, SeedBatch) else SeedBatch(tuple(u)) for u in out]


@dataclasses.dataclass
class _Run:
    """The harness-side state of one seed batch (one row per run)."""

    batch: SeedBatch
    problem: Any
    monitors: list[Monitor]
    oracle: Oracle
    records: list[RunRecord]
    setup: RunSetup
    outcome: dict[int, tuple[str, str]] = dataclasses.field(default_factory=dict)
    finished: dict[int, tuple[float, int]] = dataclasses.field(default_factory=dict)  # seconds, steps
    seconds: float = 0.0
    steps: int = 0
    tail_due: list[int] = dataclasses.field(default_factory=list)  # tail points not yet reached
    tail: dict[int, dict[str, list]] = dataclasses.field(default_factory=dict)  # row -> measured

    @property
    def stop(self) -> str:
        return self.batch.tasks[0].stop

    @property
    def open_rows(self) -> list[int]:
        return [r for r in range(len(self.records)) if r not in self.outcome]

    def end(self, row: int, status: str, message: str = "") -> None:
        if row not in self.outcome:
            self.outcome[row] = (status, message)
            self.finished[row] = (self.seconds, self.steps)
            if self.oracle.batched:
                self.oracle.retire(row)


def _prepare(batch: SeedBatch) -> _Run:
    """Build the instance, its float64 twin for the certificate, the oracle and the records."""
    tasks, task = batch.tasks, batch.tasks[0]
    profile = task.profile
    torch.set_num_threads(profile.threads)
    dtype = profile.torch_dtype()
    device = run_device(profile)
    problem = make_problem(task.problem, task.instance_seed, dtype=dtype, device=device)
    cert_problem = problem if dtype == torch.float64 else make_problem(
        task.problem, task.instance_seed, dtype=torch.float64, device=device)
    budget = int(task.budget or problem.budget)
    w0 = [problem.start_point(t.init_seed).clone() for t in tasks]
    W0 = torch.stack(w0) if batch.batched else w0[0]
    monitors, records = [], []
    for t in tasks:
        certifier = Certifier(cert_problem, seed=t.run_seed)
        monitors.append(Monitor(cert_problem, certifier, t.diagnostics))
        records.append(_new_record(t, problem, certifier, budget, len(tasks), device))
    overrides = [t.choice.overrides_for(problem.family) for t in tasks]
    rows_differ = any(o != overrides[0] for o in overrides)
    setup = RunSetup(dict(entry_ref(task.choice)), overrides[0], problem.family, W0,
                     torch_seed(task.run_seed, OPTIMIZER_STREAM), profile.threads,
                     row_overrides=overrides if rows_differ else None)
    seeds = [t.run_seed for t in tasks] if batch.batched else task.run_seed
    oracle = Oracle(problem, W0.clone(), seeds, budget)
    run = _Run(batch, problem, monitors, oracle, records, setup)
    if task.stop == "budget":
        run.tail_due = tail_points(budget)
        run.tail = {r: {"point": [], "cost": [], "f": [], **{n: [] for n in t.diagnostics}}
                    for r, t in enumerate(tasks)}
    return run


def _new_record(task: RunTask, problem, certifier: Certifier, budget: int, batch_size: int,
                device: str) -> RunRecord:
    profile, entry = task.profile, task.choice.entry
    return RunRecord(
        entry=task.choice.label, entry_name=entry.name, hparams=task.choice.hparams_for(problem.family),
        track=task.choice.track, tuning=task.choice.tuning_provenance(problem.family),
        entry_source_hash=entry.source_hash(), oracle_class=entry.oracle_class,
        problem=problem.id, family=problem.family, dim=problem.dim,
        instance_seed=task.instance_seed, init_seed=task.init_seed, run_seed=task.run_seed,
        profile=profile.name, suite=task.suite, suite_version=task.suite_version, status="error",
        eps_g=certifier.eps_g, eps_h=certifier.eps_h, budget=budget,
        saddle_value=problem.saddle.value, f_star=problem.f_star,
        escape_delta=problem.saddle.escape_delta,
        certificate={**certifier.describe(), "resolution": RESOLUTION},
        hardware={**fingerprint(device), "profile": profile.name, "dtype": profile.dtype,
                  "threads": profile.threads, "device": device},
        versions=versions(), sealed=task.sealed, harness_version=harness_version(),
        batch_size=batch_size, stop=task.stop, diagnostics=list(task.diagnostics),
        created_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )


def entry_ref(choice) -> dict[str, Any]:
    """How a worker imports the choice's entry (an EntryInfo's reference)."""
    ref = getattr(choice.entry, "ref", None)
    if ref is None:
        raise TypeError(f"{choice.label}: the entry was not resolved by bench.entries.resolve_entry "
                        f"(it has no reference a sealed worker can import)")
    return ref


def _driver(run: _Run):
    sealed = run.batch.tasks[0].sealed
    if sealed:
        from bench.sandbox import sandbox

        box = sandbox()
        for record in run.records:
            record.confinement = dict(box.plan)
        return SealedEntry(run.setup, run.oracle, box)

    def oracle_for(w):
        seeds = [t.run_seed for t in run.batch.tasks] if run.oracle.batched else run.batch.tasks[0].run_seed
        run.oracle = Oracle(run.problem, w, seeds, run.oracle.budget)
        return run.oracle

    for record in run.records:
        record.confinement = {"process": "same as harness (in-process debugging mode)"}
    return InProcessEntry(run.setup, oracle_for, STALL_STEPS)


#: the monitor's events that end a run, by stop rule (divergence always does)
ENDING_EVENTS = {"sosp": ("diverged", "certified"), "escape": ("diverged", "certified", "escaped"),
                 "budget": ("diverged",)}


def _observe(run: _Run, W: torch.Tensor, rows: list[int]) -> None:
    counts = run.oracle.counts
    if run.oracle.batched:
        events = observe_rows(run.monitors, W, rows, counts, run.seconds)
    else:
        event = run.monitors[0].observe(W, counts, run.seconds)
        events = {0: event} if event else {}
    _record_tail(run, rows, counts.cost)
    for row, event in events.items():
        if event not in ENDING_EVENTS[run.stop]:
            continue
        message = ""
        if event == "diverged":
            message = (f"non-finite or exploding iterate at {counts.cost} sample gradients "
                       f"(f = {run.monitors[row].last_f:.4g}); the entry's step produced NaN/inf or "
                       f"|w| > {run.problem.divergence_radius:g}: lower its step size")
        run.end(row, event, message)


def _record_tail(run: _Run, rows: list[int], cost: int, final: bool = False) -> None:
    """Stop rule "budget": the f just measured stands for every tail point the cost has reached
    (all remaining points when the run ended at its budget: the last iterate is the one there)."""
    due = [c for c in run.tail_due if final or c <= cost]
    if not due:
        return
    run.tail_due = [c for c in run.tail_due if c not in due]
    for row in rows:
        tail = run.tail[row]
        for point in due:
            tail["point"].append(point)
            tail["cost"].append(cost)
            tail["f"].append(run.monitors[row].last_f)
            for name, value in run.monitors[row].last_diagnostics.items():
                tail[name].append(value)


def _next_target(run: _Run) -> int:
    """The next checkpoint: 2% past the current cost, or the next tail point if sooner."""
    target = min(_next_checkpoint(run.oracle.counts.cost), run.oracle.budget)
    return min([target] + run.tail_due)


def _drive(run: _Run, driver) -> None:
    """Advance the entry checkpoint by checkpoint until every row has an outcome.

    The time limit counts optimizer time (entry steps, oracle answers, channel), not problem
    construction or certification; a batch gets its runs' limits together."""
    limit = run.batch.time_limit
    with contextlib.ExitStack() as stack:
        if not driver.sealed:  # in-process: a hung step can only be interrupted by a signal
            stack.enter_context(hard_time_limit(limit + HARD_LIMIT_GRACE))
        driver.start()
        _observe(run, run.setup.w0, run.open_rows)
        while run.open_rows:
            target = _next_target(run)
            snap = driver.advance(target, time.perf_counter() + max(0.0, limit - run.seconds))
            run.seconds += snap.seconds
            run.steps = snap.steps
            for row, why in snap.stopped_rows.items():  # a batch row asked at a non-finite point
                if row in run.outcome:
                    continue
                if not bool(torch.isfinite(snap.w[row]).all()):
                    continue  # observed below as diverged
                run.end(row, "error", why)
            _observe(run, snap.w, run.open_rows)
            at_budget = not snap.stop_reason and (
                snap.budget_spent or run.oracle.counts.cost >= run.oracle.budget)
            if at_budget:
                _record_tail(run, run.open_rows, run.oracle.counts.cost, final=True)
            for row in run.open_rows:
                if snap.stop_reason:
                    run.end(row, "error", snap.stop_reason)
                elif at_budget:  # stop rule "budget": certified on the way, or not
                    certified = run.monitors[row].certified_at is not None
                    run.end(row, "certified" if certified else "budget_exhausted")
                elif run.seconds > limit:
                    run.end(row, "timeout", f"time limit of {limit:.0f} s of optimizer time reached")


def execute_batch(batch: SeedBatch) -> list[RunRecord]:
    """Run a seed batch; one record per run, in the batch's order (never raises for entry or
    harness failures).

    An entry failure (it raised, exited, hung, broke the protocol) is ``error`` or ``timeout``
    for every run still going; a failure of the problem, oracle or certificate is
    ``harness_error``: never the entry's."""
    started = time.perf_counter()
    tune_malloc()
    try:
        run = _prepare(batch)
    except Exception as exc:
        return [failure_record(t, "harness_error", "setting up the run failed: " + _describe(exc))
                for t in batch.tasks]
    driver = _driver(run)
    try:
        _drive(run, driver)
    except (EntryFailed, BudgetExhausted) as exc:
        failed = ("error", str(exc))
    except SegmentTimeout as exc:
        failed = ("timeout", str(exc))
    except RunTimeout as exc:
        failed = ("timeout", f"{exc}; the entry's step hangs or is too slow")
    except Exception as exc:
        failed = ("error" if not driver.sealed else "harness_error", _describe(exc))
    else:
        failed = None
    finally:
        driver.close()
    if failed:
        for row in run.open_rows:
            run.end(row, *failed)
    wall = time.perf_counter() - started
    for row, record in enumerate(run.records):
        _finish(run, row, driver)
        record.wall_seconds = wall
    return run.records


def execute(task: RunTask) -> RunRecord:
    """Run one task (as a batch of one when its entry is batched: a seed's record does not
    depend on the batch it runs in)."""
    return execute_batch(SeedBatch((task,)))[0]


def _describe(exc: BaseException) -> str:
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return f"{type(exc).__name__}: {exc}\n" + "".join(tb[-3:])[-1500:]


def _finish(run: _Run, row: int, driver) -> None:
    """Fill row ``row``'s record from its monitor."""
    record, monitor = run.records[row], run.monitors[row]
    certifier = monitor.certifier
    status, message = run.outcome[row]
    record.status, record.message = status, message
    record.optimizer_seconds, record.steps = run.finished.get(row, (run.seconds, run.steps))
    counts = run.oracle.row_counts(row) if run.oracle.batched else run.oracle.counts
    record.counts = counts.as_dict()
    if monitor.certified_at:
        (record.calls_to_sosp, record.grad_calls_to_sosp, record.hvp_calls_to_sosp,
         record.seconds_to_sosp) = monitor.certified_at
        record.sosp_bracket = list(monitor.certified_bracket)
    if monitor.escape:
        record.escape_calls, record.escape_seconds = monitor.escape
        record.escape_bracket = list(monitor.escape_bracket)
    if run.stop == "budget":
        tail = run.tail[row]
        record.tail = tail
        if status in ("certified", "budget_exhausted") and tail["f"] and not run.tail_due:
            record.tail_f_mean = sum(tail["f"]) / len(tail["f"])
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
    record.certificate["failure_probability"] = certifier.failure_probability
    if final is not None:
        record.certificate["final_outcome"] = final.outcome
        record.certificate["final_reason"] = final.reason
    seconds = run.seconds
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

    family = task.problem.partition(":")[0]
    return run_key(task.choice.label, task.choice.entry.source_hash(), canonical_id(task.problem),
                   task.instance_seed, task.init_seed, task.run_seed, task.profile.name, task.suite,
                   task.suite_version, harness_version(), task.choice.track,
                   task.choice.hparams_for(family), task.stop, task.diagnostics)


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
        track=task.choice.track, tuning=task.choice.tuning_provenance(info["family"]),
        entry_source_hash=entry.source_hash(), oracle_class=entry.oracle_class,
        instance_seed=task.instance_seed, init_seed=task.init_seed, run_seed=task.run_seed,
        profile=task.profile.name, suite=task.suite, suite_version=task.suite_version,
        status=status, message=message, wall_seconds=wall_seconds,
        hardware={**fingerprint(task.profile.device), "profile": task.profile.name},
        versions=versions(), sealed=task.sealed, harness_version=harness_version(),
        stop=task.stop, diagnostics=list(task.diagnostics),
        created_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **info)
