"""Executors: run many tasks, append each record to the store as soon as it exists.

* ``serial``: in this process (a hang in Python code is interrupted by SIGALRM);
* ``local`` (default): a pool of worker processes, one thread each. The parent enforces each
  run's time limit from outside: a worker that overruns (a hang in C code, an infinite loop that
  ignores signals) is killed and replaced, and the run is recorded as ``timeout``. A worker that
  dies (segfault, out of memory) gives an ``error`` record; the other runs go on.

Each run's entry executes in a sealed worker process of its own (bench.sandbox) whatever the
executor: the executor's processes are *harness* processes, holding the problems, counts,
certificate, clock and store.

Units of work are :class:`bench.runner.SeedBatch`: a batched (elementwise) entry's seeds of one
problem instance run together as one (S, d) tensor; every other run alone. Records stay one per
run, and a seed's record does not depend on the batch it ran in.

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
from bench.runner import (MAX_BATCH_ROWS, RunTask, SeedBatch, execute_batch, failure_record,
                          seed_batches, task_key)

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


def claim(batch: SeedBatch, store: ResultsStore, force: bool) -> SeedBatch | None:
    """The part of ``batch`` this process may run: the runs whose key it claimed (others are
    stored meanwhile, or another process is running them); None when no run is left. A seed's
    record does not depend on its batch, so running a part gives the same records."""
    mine = tuple(t for t in batch.tasks if store.claim(task_key(t), force=force))
    return SeedBatch(mine) if mine else None


def _store(batch: SeedBatch, records: list[RunRecord], store: ResultsStore) -> None:
    for task, rec in zip(batch.tasks, records):
        store.append(rec)
        store.release(task_key(task))


def run_serial(tasks: Sequence[RunTask], store: ResultsStore, progress: Progress | None = None,
               force: bool = False, max_rows: int = MAX_BATCH_ROWS) -> list[RunRecord]:
    from bench.channel import set_spin

    set_spin(1)
    out: list[RunRecord] = []
    for batch in seed_batches(tasks, max_rows):
        batch = claim(batch, store, force)
        if batch is None:
            continue
        try:
            records = execute_batch(batch)
            _store(batch, records, store)
        finally:
            for task in batch.tasks:
                store.release(task_key(task))
        for task, rec in zip(batch.tasks, records):
            out.append(rec)
            if progress:
                progress(task, rec, len(out), len(tasks))
    return out


def _worker(conn, pool_size: int, index: int) -> None:
    import torch

    from bench.channel import set_spin
    from bench.profiles import WORKER_INDEX_ENV
    from bench.sandbox import sandbox

    os.environ[WORKER_INDEX_ENV] = str(index)  # a CUDA profile's runs use GPU index mod count
    torch.set_num_threads(1)
    set_spin(pool_size)
    while True:
        try:
            batch = conn.recv()
        except EOFError:
            batch = None
        if batch is None:
            sandbox().close()
            return
        try:
            conn.send(("ok", execute_batch(batch)))
        except BaseException as exc:  # execute_batch records entry failures itself: a harness bug
            conn.send(("crash", f"{type(exc).__name__}: {exc}"))


class _Slot:
    def __init__(self, ctx, pool_size: int, index: int):
        self.index = index
        self.parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, pool_size, index), daemon=True)
        self.proc.start()
        child.close()
        self.batch: SeedBatch | None = None
        self.started = 0.0
        self.deadline = 0.0

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)
        self.parent.close()


def failure_records(batch: SeedBatch, status: str, message: str, wall: float) -> list[RunRecord]:
    return [failure_record(t, status, message, wall) for t in batch.tasks]


def run_local(tasks: Sequence[RunTask], store: ResultsStore, workers: int | None = None,
              progress: Progress | None = None, force: bool = False,
              max_rows: int = MAX_BATCH_ROWS) -> list[RunRecord]:
    """Run ``tasks`` on a pool of ``workers`` processes (default: the number of cores)."""
    if not tasks:
        return []
    queue = seed_batches(tasks, max_rows)[::-1]
    workers = max(1, min(workers or os.cpu_count() or 1, len(queue)))
    ctx = mp.get_context("spawn")
    slots = [_Slot(ctx, workers, i) for i in range(workers)]
    out: list[RunRecord] = []

    def finish(slot: _Slot, records: list[RunRecord]) -> None:
        _store(slot.batch, records, store)
        for task, rec in zip(slot.batch.tasks, records):
            out.append(rec)
            if progress:
                progress(task, rec, len(out), len(tasks))
        slot.batch = None

    try:
        while queue or any(s.batch for s in slots):
            for slot in slots:
                while slot.batch is None and queue:
                    batch = claim(queue.pop(), store, force)
                    if batch is None:
                        continue
                    slot.batch = batch
                    slot.started = time.monotonic()
                    slot.deadline = slot.started + 2 * batch.time_limit + KILL_GRACE
                    slot.parent.send(batch)
            busy = [s for s in slots if s.batch is not None]
            ready = mp.connection.wait([s.parent for s in busy], timeout=0.5)
            for slot in busy:
                if slot.parent in ready:
                    try:
                        kind, payload = slot.parent.recv()
                    except (EOFError, OSError):
                        code = slot.proc.exitcode
                        finish(slot, failure_records(slot.batch, "harness_error",
                                                     f"harness process died (exit code {code}): "
                                                     f"crash or out of memory in the problem or "
                                                     f"certificate", time.monotonic() - slot.started))
                        slots[slots.index(slot)] = _Slot(ctx, workers, slot.index)
                        continue
                    if kind == "ok":
                        finish(slot, payload)
                    else:
                        finish(slot, failure_records(slot.batch, "harness_error", f"harness error: {payload}",
                                                     time.monotonic() - slot.started))
                elif time.monotonic() > slot.deadline:
                    batch = slot.batch
                    slot.kill()
                    new = _Slot(ctx, workers, slot.index)
                    slots[slots.index(slot)] = new
                    new.batch = batch
                    elapsed = time.monotonic() - slot.started
                    finish(new, failure_records(batch, "harness_error",
                                                f"the harness process was killed after {elapsed:.0f} s "
                                                f"(the limit is {batch.time_limit:.0f} s of optimizer "
                                                f"time): problem construction or the certificate "
                                                f"hangs", elapsed))
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


EXECUTORS = ("local", "serial", "dask")


def run_tasks(tasks: Sequence[RunTask], store: ResultsStore, *, executor: str = "local",
              workers: int | None = None, progress: Progress | None = None,
              force: bool = False, max_rows: int = MAX_BATCH_ROWS,
              scheduler: str | None = None) -> list[RunRecord]:
    """Run ``tasks`` with the named executor, batched entries' seeds in batches of up to
    ``max_rows``; records are appended to ``store`` batch by batch."""
    if executor == "serial" or (workers == 1 and executor == "local"):
        return run_serial(tasks, store, progress, force, max_rows)
    if executor == "local":
        return run_local(tasks, store, workers, progress, force, max_rows)
    if executor == "dask":
        from bench.dask_executor import run_dask

        return run_dask(tasks, store, scheduler=scheduler, workers=workers, progress=progress,
                        force=force, max_rows=max_rows)
    raise ValueError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")


def eta_text(elapsed: float, done: int, total: int) -> str:
    """The time left at the mean pace so far, as "eta ~3m"; "eta ?" until 5% of the runs (at
    least 3) are done, since runs of one suite differ in cost by orders of magnitude."""
    if done >= total:
        return "done"
    if done < max(3, 0.05 * total):
        return "eta ?"
    left = elapsed / done * (total - done)
    return f"eta ~{left:.0f}s" if left < 120 else f"eta ~{left / 60:.0f}m"


def stderr_progress(total_hint: int | None = None) -> Progress:
    """A progress printer: a rewriting line on a terminal, one line per run otherwise."""
    start = time.monotonic()
    tty = sys.stderr.isatty()

    def show(task: RunTask, rec: RunRecord, done: int, total: int) -> None:
        from bench.runner import summary_line

        elapsed = time.monotonic() - start
        bar_len = 24
        filled = int(bar_len * done / total)
        bar = "#" * filled + "." * (bar_len - filled)
        msg = (f"[{bar}] {done}/{total} {elapsed:5.0f}s {eta_text(elapsed, done, total)}  "
               f"{rec.entry} {rec.problem} seed {rec.run_seed}: {summary_line(rec)}")
        if tty:
            sys.stderr.write("\r\033[K" + msg[:160])
            if done == total:
                sys.stderr.write("\n")
        else:
            sys.stderr.write(msg + "\n")
        sys.stderr.flush()

    return show
