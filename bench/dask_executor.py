"""The Dask executor (``bench run --executor dask``): units of work on a Dask cluster.

Same semantics as :func:`bench.executors.run_local`; only where the units run differs.

* Units are :func:`bench.runner.seed_batches`. The client (the ``bench run`` process) claims a
  unit's run keys in the results store just before submitting it, receives the unit's records,
  appends them to the store as soon as the unit finishes and releases the claims. The store lives
  on the client's file system; workers never touch it. A unit's records are stored the moment its
  future completes (``distributed.as_completed``), so a crash of the client loses no finished run.
* Each unit runs :func:`bench.runner.execute_batch` in a Dask worker process, which becomes a
  *harness* process: it holds the problem, counts, clock and certificate and starts the entry's
  sealed worker through :mod:`bench.sandbox` (a zygote started with ``subprocess``, so it works
  in Nanny-managed, daemonic worker processes). Before each unit the worker sets, as the local
  pool's workers do: one torch thread, the channel's spin setting (:func:`bench.channel.set_spin`)
  for the number of worker threads on its host, and its worker index (a CUDA profile's runs use
  GPU index mod count): a LocalCluster worker's name (0..n-1), otherwise its rank by address
  among its host's workers.
* An entry given by path (``my_opt.py:MyOpt``) travels with its units: the client sends the
  files it hashed (the entry file and the helpers it imports), and the worker runs a copy in
  its own sandbox folder. Built-in entries come from the workers' installation, and modules
  named ``pkg.module:Class`` must be installed there too.
* No more units are submitted than the cluster has worker threads, so a submitted unit starts
  at once and another ``bench run`` on the same store can claim the rest.
* A unit whose worker dies (``KilledWorker``: a crash or out-of-memory in the problem or the
  certificate) or whose future is lost gives ``harness_error`` records; the other units go on.
  On the cluster this executor starts, the scheduler does not retry such a unit
  (``allowed-failures`` 0, like the pool); on an existing cluster its scheduler's
  ``distributed.scheduler.allowed-failures`` (default 3) decides how often it is retried first.
* A unit still running ``2 x time_limit + KILL_GRACE`` seconds after it was submitted is given up
  as ``harness_error`` (the time limit counts optimizer time; a hung entry is stopped by the
  harness long before that, so this catches a hung problem or certificate). A Dask task cannot be
  killed: the future is cancelled and the unit recorded. On the cluster this executor starts, the
  worker that ran it is restarted, which kills the hung harness process; on an existing cluster
  that worker's thread stays busy until the task returns (restart it by hand), and this run
  submits one unit fewer at a time.
* ``scheduler=None`` starts a ``distributed.LocalCluster`` of ``workers`` processes (default: the
  number of cores), one thread each, no dashboard and no memory limit (the local pool has none),
  and closes it at the end. With an address (``tcp://host:port``) it connects to a running
  scheduler; every worker must run the same harness version as the client
  (:func:`bench.provenance.harness_version`), checked on every connected worker before any unit
  is submitted and by each unit when it starts.

Errors the user can fix (no scheduler at the address, no workers, a version mismatch, the
connection to the scheduler lost) raise :class:`ExecutorError`, which ``bench run`` reports as a
user error (exit 2) after the finished units are stored and the claims released.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # imported where used: `bench` imports this module for ExecutorError only
    from bench.executors import Progress
    from bench.records import RunRecord
    from bench.runner import RunTask, SeedBatch
    from bench.store import ResultsStore

CONNECT_TIMEOUT = 10.0  # seconds to reach a scheduler given by address
WORKER_WAIT = 60.0  # seconds to wait for a first worker on a scheduler that has none
POLL = 0.05  # seconds between checks for finished units and deadlines
RESTART_TIMEOUT = 60.0  # seconds for a restarted worker (after a give-up) to come back
PLUGIN_NAME = "saddlebench-harness"


class ExecutorError(Exception):
    """The Dask executor cannot go on; the message says why and what to do."""


class HarnessVersionMismatch(RuntimeError):
    """Raised on a worker whose harness version differs from the client's."""


# --------------------------------------------------------------------------- on the workers
def worker_harness_version() -> str:
    from bench.provenance import harness_version

    return harness_version()


def _host(address: str) -> str:
    from distributed.comm import get_address_host

    try:
        return get_address_host(address)
    except Exception:
        return address


def run_unit(batch: SeedBatch, expected_version: str, layout: dict[str, tuple[int, int]],
             entry_files: tuple[tuple[str, bytes], ...] | None = None) -> list[RunRecord]:
    """The task a Dask worker runs for one unit: set up this harness process, run the batch.

    ``layout``: worker address -> (worker threads on its host, its index among that host's
    workers), as the client last saw the cluster. ``entry_files``: the files of an entry given
    by path, as the client hashed them."""
    import torch

    from bench.channel import set_spin
    from bench.profiles import WORKER_INDEX_ENV
    from bench.runner import execute_batch

    version = worker_harness_version()
    if version != expected_version:
        raise HarnessVersionMismatch(_mismatch_message({_worker_address(): version}, expected_version))
    # unknown worker (joined since): as many busy harness processes as cores (no spin), index 0
    busy, index = layout.get(_worker_address(), (os.cpu_count() or 1, 0))
    name = _worker_name()
    if isinstance(name, int):  # a LocalCluster's workers are named 0..n-1, restarts included
        index = name
    os.environ[WORKER_INDEX_ENV] = str(index)  # a CUDA profile's runs use GPU index mod count
    torch.set_num_threads(1)
    set_spin(busy)
    return execute_batch(_with_local_entry(batch, entry_files) if entry_files else batch)


def shipped_entry_files(batch: SeedBatch) -> tuple[tuple[str, bytes], ...] | None:
    """For an entry given by path (``my_opt.py:MyOpt``): its file and the helpers beside it that
    it imports, as copied and hashed by the client (``bench.entry_info.source_files``); None
    for other entries (built-in ones and modules come from the workers' own installation)."""
    ref = getattr(batch.tasks[0].choice.entry, "ref", None) or {}
    if ref.get("kind") != "file":
        return None
    from bench.entry_info import source_files

    return tuple(source_files(ref)) or None


def _with_local_entry(batch: SeedBatch, files: tuple[tuple[str, bytes], ...]) -> SeedBatch:
    """``batch`` with its entry file's reference pointing at a copy of ``files`` in this
    process's sandbox folder: the client's copy lives on the client's machine."""
    import dataclasses
    import hashlib
    import pathlib
    import shutil
    import tempfile

    from bench.runner import SeedBatch
    from bench.sandbox import sandbox

    choice = batch.tasks[0].choice
    ref = dict(choice.entry.ref)
    stem, _, attr = ref["target"].partition(".py")
    digest = hashlib.sha256(b"\0".join(n.encode() + b"\0" + data for n, data in files)).hexdigest()
    folder = sandbox().entry_folder()
    dest = folder / f"shipped-{digest[:16]}"
    if not dest.is_dir():
        tmp = pathlib.Path(tempfile.mkdtemp(dir=folder))
        os.chmod(tmp, 0o755)  # the sealed workers read it
        for name, data in files:
            rel = pathlib.PurePosixPath(name)
            if rel.is_absolute() or ".." in rel.parts:
                raise ValueError(f"entry file name {name!r} leaves its folder")
            path = tmp.joinpath(*rel.parts)
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            path.write_bytes(data)
            path.chmod(0o644)
        try:
            os.rename(tmp, dest)
        except OSError:  # another thread of this worker made it meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    ref["target"] = f"{dest / pathlib.PurePosixPath(stem).name}.py{attr}"
    choice = dataclasses.replace(choice, entry=dataclasses.replace(choice.entry, ref=ref))
    return SeedBatch(tuple(dataclasses.replace(t, choice=choice) for t in batch.tasks))


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except Exception:
        return "?"


def _worker_name() -> Any:
    try:
        from distributed import get_worker

        return get_worker().name
    except Exception:
        return None


def harness_plugin():
    """A worker plugin that closes the worker process's sandbox (its zygote and temporary
    folder) when the worker closes, as the local pool's workers do when they stop. (The class
    is made here so that importing this module does not import distributed.)"""
    from distributed.diagnostics.plugin import WorkerPlugin

    class HarnessPlugin(WorkerPlugin):
        name = PLUGIN_NAME

        def teardown(self, worker) -> None:
            import bench.sandbox as sandbox

            if sandbox._SANDBOX is not None:
                sandbox._SANDBOX.close()

    return HarnessPlugin()


# ----------------------------------------------------------------------------- the client
def _mismatch_message(versions: dict[str, str], mine: str) -> str:
    theirs = ", ".join(f"{addr}: {v}" for addr, v in sorted(versions.items()))
    return (f"harness version mismatch: this client runs harness version {mine}, the Dask "
            f"worker(s) run {theirs}. Every worker must run the same saddlebench sources as "
            f"`bench run`: install this checkout on the workers' machines (`pip install -e .` "
            f"of the same commit) and restart the workers (`dask worker <scheduler>`)")


def _connect(scheduler: str | None, workers: int | None):
    """(client, cluster or None): a new LocalCluster, or a client of the scheduler at ``scheduler``."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler is None:
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            # no dashboard; the scheduler's HTTP endpoints on a free local port (not 8787, which
            # may be another cluster's)
            cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                                   processes=True, dashboard_address=None, memory_limit=0,
                                   scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
        try:
            return Client(cluster), cluster
        except BaseException:
            cluster.close()
            raise
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except Exception as exc:
        raise ExecutorError(f"cannot reach a Dask scheduler at {scheduler!r} ({type(exc).__name__}: "
                            f"{exc}); start one with `dask scheduler` (it prints its tcp:// "
                            f"address) and workers with `dask worker <address>`, or leave "
                            f"--scheduler out to start a local cluster") from None
    return client, None


def _check_cluster(client, scheduler: str) -> None:
    """At least one worker, and every connected worker at this client's harness version."""
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT)
    except Exception:
        raise ExecutorError(f"the Dask scheduler at {scheduler} has no workers (waited "
                            f"{WORKER_WAIT:.0f} s); start some with `dask worker {scheduler}`") from None
    mine = worker_harness_version()
    versions = client.run(worker_harness_version)
    wrong = {addr: v for addr, v in versions.items() if v != mine}
    if wrong:
        raise ExecutorError(_mismatch_message(wrong, mine))


def cluster_layout(nthreads: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Worker address -> (worker threads on its host: the harness processes that may be busy
    there at once; the worker's index among its host's workers, by address)."""
    hosts: dict[str, list[str]] = {}
    for addr in sorted(nthreads):
        hosts.setdefault(_host(addr), []).append(addr)
    return {addr: (sum(int(nthreads[a]) for a in addrs), i)
            for addrs in hosts.values() for i, addr in enumerate(addrs)}


def run_dask(tasks: Sequence[RunTask], store: ResultsStore, *, scheduler: str | None = None,
             workers: int | None = None, progress: Progress | None = None, force: bool = False,
             max_rows: int | None = None) -> list[RunRecord]:
    """Run ``tasks`` on a Dask cluster (a new LocalCluster of ``workers`` processes, or the
    scheduler at ``scheduler``); records are appended to ``store`` unit by unit, in this process.
    Batched entries' seeds go in units of up to ``max_rows`` (default
    ``bench.runner.MAX_BATCH_ROWS``). See the module docstring for failures, give-ups and
    version checks."""
    from bench.runner import MAX_BATCH_ROWS, seed_batches

    if not tasks:
        return []
    queue = seed_batches(tasks, MAX_BATCH_ROWS if max_rows is None else max_rows)[::-1]
    client, cluster = _connect(scheduler, workers)
    try:
        _check_cluster(client, scheduler or cluster.scheduler_address)
        return _Run(client, own=cluster is not None, store=store, total=len(tasks),
                    progress=progress, force=force).go(queue)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


class _Run:
    """The client's bookkeeping: futures in flight, their units and deadlines."""

    def __init__(self, client, *, own: bool, store: ResultsStore, total: int,
                 progress: Progress | None, force: bool):
        self.client, self.own, self.store = client, own, store
        self.total, self.progress, self.force = total, progress, force
        self.version = worker_harness_version()
        self.out: list[RunRecord] = []
        self.flying: dict[Any, tuple[SeedBatch, float, float]] = {}  # future -> (unit, start, deadline)
        self.stuck = 0  # given-up tasks still occupying a thread of an existing cluster's worker
        self.nthreads: dict[str, int] = {}
        self.layout: dict[str, tuple[int, int]] = {}
        self._asked = -1.0

    def capacity(self) -> int:
        """Units to keep in flight: the cluster's worker threads (asked at most once a second)."""
        now = time.monotonic()
        if now - self._asked > 1.0:
            nthreads = self.client.nthreads()
            if nthreads != self.nthreads:
                self.nthreads, self.layout = nthreads, cluster_layout(nthreads)
            self._asked = now
        return max(1, sum(self.nthreads.values()) - self.stuck)

    def go(self, queue: list[SeedBatch]) -> list[RunRecord]:
        from distributed import as_completed

        from bench.executors import KILL_GRACE, claim

        try:
            self.client.register_plugin(harness_plugin(), name=PLUGIN_NAME)
        except Exception:  # only cleanup at worker exit depends on it
            pass
        done = as_completed()
        try:
            while queue or self.flying:
                while queue and len(self.flying) < self.capacity():
                    batch = claim(queue.pop(), self.store, self.force)
                    if batch is None:
                        continue
                    try:
                        future = self.client.submit(run_unit, batch, self.version, self.layout,
                                                    shipped_entry_files(batch), pure=False, retries=0,
                                                    key=f"saddlebench-unit-{uuid.uuid4().hex}")
                    except BaseException:
                        self._release(batch)
                        raise
                    start = time.monotonic()
                    self.flying[future] = (batch, start,
                                           start + 2 * batch.time_limit + KILL_GRACE)
                    done.add(future)
                if not self.flying:
                    continue
                if done.has_ready():
                    for future in done.next_batch(block=False):
                        self._collect(future)
                else:
                    time.sleep(POLL)
                self._give_up_overdue()
        finally:  # stopped by an error or an interrupt: the claims first, then the cluster
            flying, self.flying = list(self.flying.items()), {}
            for _, (batch, _, _) in flying:
                self._release(batch)
            try:
                self.client.cancel([future for future, _ in flying])
            except Exception:  # the cluster is going away too
                pass
        return self.out

    # ------------------------------------------------------------------------- outcomes
    def _collect(self, future) -> None:
        entry = self.flying.pop(future, None)
        if entry is None:  # given up already (a cancelled future is yielded too)
            return
        batch, start, _ = entry
        wall = time.monotonic() - start
        status = future.status
        if status == "finished":
            try:
                records = future.result()
            except Exception as exc:  # lost between finishing and fetching
                records = self._failed(batch, f"the unit's result could not be fetched from the "
                                              f"cluster ({type(exc).__name__}: {exc})", wall)
            else:
                if not isinstance(records, list) or len(records) != len(batch.tasks):
                    records = self._failed(batch, f"harness error: the unit returned "
                                                  f"{type(records).__name__} instead of "
                                                  f"{len(batch.tasks)} record(s)", wall)
        elif status == "error":
            from distributed import KilledWorker

            exc = future.exception()
            if isinstance(exc, HarnessVersionMismatch):
                self._release(batch)
                raise ExecutorError(str(exc))
            if isinstance(exc, KilledWorker):
                records = self._failed(batch, f"harness process died: the Dask worker running "
                                              f"this unit died (crash or out of memory in the "
                                              f"problem or certificate; {exc})", wall)
            else:
                records = self._failed(batch, f"harness error: {type(exc).__name__}: {exc}", wall)
        else:  # cancelled or lost, not by us
            if self.client.status != "running":
                self._release(batch)
                raise ExecutorError(
                    f"lost the connection to the Dask scheduler (client {self.client.status}); "
                    f"{len(self.out)} run(s) finished and are stored; run the same command "
                    f"again to resume (stored runs are skipped)")
            records = self._failed(batch, f"harness error: the unit's Dask future was {status} "
                                          f"(its task was lost on the cluster)", wall)
        self._finish(batch, records)

    def _give_up_overdue(self) -> None:
        now = time.monotonic()
        for future, (batch, start, deadline) in list(self.flying.items()):
            if now <= deadline or future.done():
                continue
            where = self._workers_of(future) if self.own else []
            future.cancel(reason="saddlebench: the unit ran past its deadline")
            del self.flying[future]
            elapsed = now - start
            note = ("its worker is restarted" if where else
                    "a Dask task cannot be killed: its worker thread stays busy until it returns")
            self._finish(batch, self._failed(
                batch, f"gave up on the unit after {elapsed:.0f} s (the limit is "
                       f"{batch.time_limit:.0f} s of optimizer time): problem construction or the "
                       f"certificate hangs; {note}", elapsed))
            restarted = False
            if where:
                try:
                    self.client.restart_workers(where, timeout=RESTART_TIMEOUT)
                    restarted = True
                except Exception:
                    pass
            if not restarted:
                self.stuck += 1

    def _workers_of(self, future) -> list[str]:
        try:
            return [w for w, keys in self.client.processing().items() if future.key in keys]
        except Exception:
            return []

    def _failed(self, batch: SeedBatch, message: str, wall: float) -> list[RunRecord]:
        from bench.executors import failure_records

        return failure_records(batch, "harness_error", message, wall)

    def _finish(self, batch: SeedBatch, records: list[RunRecord]) -> None:
        from bench.executors import _store

        try:
            _store(batch, records, self.store)
        finally:
            self._release(batch)
        for task, rec in zip(batch.tasks, records):
            self.out.append(rec)
            if self.progress:
                self.progress(task, rec, len(self.out), self.total)

    def _release(self, batch: SeedBatch) -> None:
        from bench.runner import task_key

        for task in batch.tasks:
            self.store.release(task_key(task))
