"""Executors: run many tasks, append each record to the store as soon as it exists.

* ``serial``: in this process (a hang in Python code is interrupted by SIGALRM);
* ``local`` (default): a pool of worker processes, one thread each. The parent enforces each
  run's time limit from outside: a worker that overruns (a hang in C code, an infinite loop that
  ignores signals) is killed and replaced, and the run is recorded as ``timeout``. A worker that
  dies (segfault, out of memory) gives an ``error`` record; the other runs go on.

Each run's entry executes in a sealed worker process of its own (bench.sandbox) whatever the
executor: the executor's processes are *harness* processes, holding the problems, counts,
certificate, clock and store.

Resumable: tasks whose key is already in the store are skipped unless ``force``. Concurrent
``bench run`` processes on one store split the work: a run is started only after its key is
claimed (``ResultsStore.claim``, an flock that vanishes with a crashed process).
"""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.connection
import os
import sys
import time
from typing import Callable, Sequence

from bench.records import RunRecord
from bench.store import ResultsStore
from bench.runner import RunTask, execute, failure_record, task_key

# A harness process is killed when one run takes longer than 2 x its limit + this (the limit
# counts optimizer time; construction and certification come on top).
KILL_GRACE = 120.0

Progress = Callable[[RunTask, RunRecord, int, int], None]


def pending(tasks: Sequence[RunTask], store: ResultsStore, force: bool = False) -> list[RunTask]:
    """Tasks not yet in the store (all of them with ``force``)."""
    if force:
        return list(tasks)
    done = store.keys()
    return [t for t in tasks if task_key(t) not in done]


def run_serial(tasks: Sequence[RunTask], store: ResultsStore, progress: Progress | None = None,
               force: bool = False) -> list[RunRecord]:
    from bench.channel import set_spin

    set_spin(1)
    out = []
    for i, task in enumerate(tasks, 1):
        with store.claimed(task_key(task), force=force) as mine:
            if not mine:
                continue  # stored meanwhile, or another process is running it
            rec = execute(task)
            store.append(rec)
        out.append(rec)
        if progress:
            progress(task, rec, i, len(tasks))
    return out


def _worker(conn, pool_size: int) -> None:
    import torch

    from bench.channel import set_spin
    from bench.sandbox import sandbox

    torch.set_num_threads(1)
    set_spin(pool_size)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            task = None
        if task is None:
            sandbox().close()
            return
        try:
            conn.send(("ok", execute(task)))
        except BaseException as exc:  # execute() records entry failures itself; this is a harness bug
            conn.send(("crash", f"{type(exc).__name__}: {exc}"))


class _Slot:
    def __init__(self, ctx, pool_size: int):
        self.parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, pool_size), daemon=True)
        self.proc.start()
        child.close()
        self.task: RunTask | None = None
        self.started = 0.0
        self.deadline = 0.0

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)
        self.parent.close()


def run_local(tasks: Sequence[RunTask], store: ResultsStore, workers: int | None = None,
              progress: Progress | None = None, force: bool = False) -> list[RunRecord]:
    """Run ``tasks`` on a pool of ``workers`` processes (default: the number of cores)."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    if not tasks:
        return []
    ctx = mp.get_context("spawn")
    queue = list(tasks)[::-1]
    slots = [_Slot(ctx, workers) for _ in range(workers)]
    out: list[RunRecord] = []

    def finish(slot: _Slot, rec: RunRecord) -> None:
        store.append(rec)
        store.release(task_key(slot.task))
        out.append(rec)
        if progress:
            progress(slot.task, rec, len(out), len(tasks))
        slot.task = None

    try:
        while queue or any(s.task for s in slots):
            for i, slot in enumerate(slots):
                while slot.task is None and queue:
                    task = queue.pop()
                    if not store.claim(task_key(task), force=force):
                        continue  # stored meanwhile, or another process is running it
                    slot.task = task
                    slot.started = time.monotonic()
                    slot.deadline = slot.started + 2 * task.time_limit + KILL_GRACE
                    slot.parent.send(task)
            busy = [s for s in slots if s.task is not None]
            ready = mp.connection.wait([s.parent for s in busy], timeout=0.5)
            for slot in busy:
                if slot.parent in ready:
                    try:
                        kind, payload = slot.parent.recv()
                    except (EOFError, OSError):
                        code = slot.proc.exitcode
                        finish(slot, failure_record(slot.task, "harness_error",
                                                    f"harness process died (exit code {code}): "
                                                    f"crash or out of memory in the problem or "
                                                    f"certificate", time.monotonic() - slot.started))
                        slots[slots.index(slot)] = _Slot(ctx, workers)
                        continue
                    if kind == "ok":
                        finish(slot, payload)
                    else:
                        finish(slot, failure_record(slot.task, "harness_error", f"harness error: {payload}",
                                                    time.monotonic() - slot.started))
                elif time.monotonic() > slot.deadline:
                    task = slot.task
                    slot.kill()
                    new = _Slot(ctx, workers)
                    slots[slots.index(slot)] = new
                    new.task = task
                    elapsed = time.monotonic() - slot.started
                    finish(new, failure_record(task, "harness_error",
                                               f"the harness process was killed after {elapsed:.0f} s "
                                               f"(the run's limit is {task.time_limit:.0f} s of "
                                               f"optimizer time): problem construction or the "
                                               f"certificate hangs", elapsed))
    finally:
        for slot in slots:
            try:
                slot.parent.send(None)
            except (OSError, ValueError):
                pass
        for slot in slots:
            slot.proc.join(timeout=5)
            if slot.proc.is_alive():
                slot.kill()
    return out


def run_tasks(tasks: Sequence[RunTask], store: ResultsStore, *, executor: str = "local",
              workers: int | None = None, progress: Progress | None = None,
              force: bool = False) -> list[RunRecord]:
    """Run ``tasks`` with the named executor; records are appended to ``store`` one by one."""
    if executor == "serial" or (workers == 1 and executor == "local"):
        return run_serial(tasks, store, progress, force)
    if executor == "local":
        return run_local(tasks, store, workers, progress, force)
    raise ValueError(f"unknown executor {executor!r}; choose 'local' or 'serial'")


def stderr_progress(total_hint: int | None = None) -> Progress:
    """A progress printer: a rewriting line on a terminal, one line per run otherwise."""
    start = time.monotonic()
    tty = sys.stderr.isatty()

    def show(task: RunTask, rec: RunRecord, done: int, total: int) -> None:
        from bench.runner import summary_line

        elapsed = time.monotonic() - start
        eta = elapsed / done * (total - done)
        bar_len = 24
        filled = int(bar_len * done / total)
        bar = "#" * filled + "." * (bar_len - filled)
        msg = (f"[{bar}] {done}/{total} {elapsed:5.0f}s eta {eta:4.0f}s  "
               f"{rec.entry} {rec.problem} seed {rec.run_seed}: {summary_line(rec)}")
        if tty:
            sys.stderr.write("\r\033[K" + msg[:160])
            if done == total:
                sys.stderr.write("\n")
        else:
            sys.stderr.write(msg + "\n")
        sys.stderr.flush()

    return show
