"""The Dask executor on a real LocalCluster (2 worker processes, one thread each): the same
records as the local pool, resume, failing units, a dead worker, a give-up, a bad address."""

import pathlib

import pytest

distributed = pytest.importorskip("distributed")

import bench.dask_executor as dask_executor
import bench.executors as executors
from bench.cli import main
from bench.entries import resolve_entry
from bench.runner import RunTask, task_key
from bench.store import ResultsStore
from bench.suites import get_suite

pytestmark = pytest.mark.slow

MISBEHAVING = pathlib.Path(__file__).parent / "entries_for_tests.py"
BUDGET = 6_000
ENTRY = "pgd"  # not elementwise: one unit per run
BATCHED = "sgd"  # elementwise: one unit per problem instance, its seeds as rows of one batch


@pytest.fixture(scope="module")
def cluster():
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, memory_limit=0,
                                           scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
    with cluster:
        yield cluster.scheduler_address


def _smoke(profile, spec=ENTRY, budget=BUDGET, time_limit=None, sealed=True):
    suite = get_suite("smoke")
    choice = resolve_entry(spec)[0]
    return [RunTask(choice, item.problem, inst, init, run, profile, suite.name, suite.version,
                    budget, item.time_limit if time_limit is None else time_limit, sealed=sealed)
            for item in suite.items for inst, init, run in item.seed_triples()]


def _outcome(rec):
    traj = {k: v for k, v in rec.trajectory.items() if k != "seconds"}
    return (rec.entry, rec.problem, rec.run_seed, rec.status, rec.counts, rec.calls_to_sosp,
            rec.grad_calls_to_sosp, rec.final_f, rec.final_grad_norm, rec.steps, rec.batch_size, traj)


def _stored(root):
    return sorted((_outcome(r) for r in ResultsStore(root).records()), key=repr)


def test_smoke_suite_matches_the_local_pool_and_resumes(cpu, tmp_path, cluster):
    tasks = _smoke(cpu) + _smoke(cpu, BATCHED)[:2]  # sgd on the toy: one unit of 2 rows
    seen = []
    recs = executors.run_tasks(tasks, ResultsStore(tmp_path / "dask"), executor="dask",
                               scheduler=cluster, progress=lambda t, r, n, total: seen.append((n, total)))
    pool = executors.run_local(tasks, ResultsStore(tmp_path / "pool"), workers=2)
    assert len(recs) == len(tasks) == 6
    assert seen == [(n, 6) for n in range(1, 7)]
    assert sorted(map(_outcome, recs), key=repr) == sorted(map(_outcome, pool), key=repr)
    assert {r.status for r in recs if r.entry == ENTRY} == {"certified", "budget_exhausted"}
    assert sorted(r.batch_size for r in recs) == [1, 1, 1, 1, 2, 2]
    assert len({r.harness_version for r in recs}) == 1 and all(r.sealed for r in recs)
    assert _stored(tmp_path / "dask") == _stored(tmp_path / "pool")
    assert not list((tmp_path / "dask" / ".claims").glob("*.lock"))  # every claim released

    # running again: everything is stored, nothing runs
    assert executors.run_tasks(tasks, ResultsStore(tmp_path / "dask"), executor="dask",
                               scheduler=cluster) == []
    assert len(ResultsStore(tmp_path / "dask").records()) == 6

    # a store holding one of the toy's two runs: only the other one runs
    partial = ResultsStore(tmp_path / "partial")
    stored = next(r for r in recs if task_key(tasks[0]) == r.key)
    partial.append(stored)
    rest = executors.run_tasks(tasks[:2], partial, executor="dask", scheduler=cluster)
    assert [r.key for r in rest] == [task_key(tasks[1])]
    assert _stored(tmp_path / "partial") == sorted((_outcome(r) for r in pool if r.key in
                                                    {task_key(t) for t in tasks[:2]}), key=repr)


def test_a_failing_unit_gives_error_records_and_the_others_complete(cpu, tmp_path, cluster):
    tasks = _smoke(cpu, f"{MISBEHAVING}:Raises")[:1] + _smoke(cpu)[:1]
    recs = dask_executor.run_dask(tasks, ResultsStore(tmp_path), scheduler=cluster)
    assert sorted((r.entry_name.startswith("Raises@"), r.status) for r in recs) == \
        [(False, "certified"), (True, "error")]
    raised = next(r for r in recs if r.status == "error")
    assert "boom from the entry" in raised.message
    assert len(ResultsStore(tmp_path).records()) == 2
    assert ResultsStore(tmp_path).keys() == {task_key(tasks[1])}  # the error re-runs next time


DIES = '''
import os
import signal

import torch


class Dies(torch.optim.Optimizer):
    """Kills the process it steps in: run in-process, that is the harness (the Dask worker)."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, {"lr": lr})

    def step(self, closure=None):
        closure()
        os.kill(os.getpid(), signal.SIGKILL)
'''


def test_a_dead_worker_gives_harness_errors_and_the_others_complete(cpu, tmp_path, cluster):
    path = tmp_path / "dies.py"
    path.write_text(DIES)
    tasks = _smoke(cpu, f"{path}:Dies", sealed=False)[:1] + _smoke(cpu)[:1]
    recs = dask_executor.run_dask(tasks, ResultsStore(tmp_path / "store"), scheduler=cluster)
    assert sorted((r.entry_name.startswith("Dies@"), r.status) for r in recs) == \
        [(False, "certified"), (True, "harness_error")]
    died = next(r for r in recs if r.status == "harness_error")
    assert "worker running this unit died" in died.message
    assert len(ResultsStore(tmp_path / "store").records()) == 2


def test_a_hung_unit_is_given_up_and_its_worker_restarted(cpu, tmp_path, monkeypatch):
    """In-process, a hung step hangs the harness (a Dask task cannot be interrupted): the client
    gives up at 2 x limit + grace; on its own one-worker cluster the restarted worker then runs
    the next unit."""
    monkeypatch.setattr(executors, "KILL_GRACE", 1.0)
    tasks = _smoke(cpu, f"{MISBEHAVING}:Hangs", time_limit=0.5, sealed=False)[:1] + \
        _smoke(cpu, sealed=False)[:1]  # in-process too: the fresh worker needs no zygote
    recs = executors.run_tasks(tasks, ResultsStore(tmp_path), executor="dask", workers=1)
    assert [r.status for r in recs] == ["harness_error", "certified"]
    assert "gave up on the unit" in recs[0].message and "restarted" in recs[0].message
    assert len(ResultsStore(tmp_path).records()) == 2


def test_cli_unreachable_scheduler_is_a_user_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(dask_executor, "CONNECT_TIMEOUT", 2.0)
    code = main(["run", "--optimizer", ENTRY, "--problem", "reddi2d:canonical", "--seeds", "1",
                 "--budget", "1000", "--results", str(tmp_path), "--executor", "dask",
                 "--scheduler", "tcp://127.0.0.1:1", "--quiet", "--no-compare"])
    err = capsys.readouterr().err
    assert code == 2
    assert "bench: error: cannot reach a Dask scheduler at 'tcp://127.0.0.1:1'" in err
    assert "dask scheduler" in err and "Traceback" not in err
    assert not ResultsStore(tmp_path / "adhoc").records()
    assert not list((tmp_path / "adhoc").rglob("*.lock"))


def test_version_mismatch_is_refused_before_any_run(cpu, tmp_path, cluster, monkeypatch):
    """The client's version is patched here; the workers compute theirs in their own processes."""
    monkeypatch.setattr("bench.provenance.harness_version", lambda: "0000client000000")
    with pytest.raises(dask_executor.ExecutorError) as info:
        dask_executor.run_dask(_smoke(cpu)[:1], ResultsStore(tmp_path), scheduler=cluster)
    message = str(info.value)
    assert "0000client000000" in message and "pip install" in message
    with distributed.Client(cluster) as client:
        theirs = set(client.run(dask_executor.worker_harness_version).values())
    assert theirs and all(v in message for v in theirs)
    assert not ResultsStore(tmp_path).records()


MY_SGD = '''
import torch

from my_lr import LR


class MySGD(torch.optim.SGD):
    """Plain SGD whose step size comes from a helper module beside this file."""

    def __init__(self, params, lr=LR):
        super().__init__(params, lr=lr)
'''


def test_an_entry_file_travels_with_its_unit(cpu, tmp_path):
    """A worker on another machine has no copy of an entry given by path: the unit carries the
    files the client hashed, and the worker runs a copy of them in its own sandbox folder."""
    import dataclasses

    from bench.runner import SeedBatch, execute_batch

    (tmp_path / "my_sgd.py").write_text(MY_SGD)
    (tmp_path / "my_lr.py").write_text("LR = 0.005\n")
    task = _smoke(cpu, f"{tmp_path / 'my_sgd.py'}:MySGD", budget=20_000)[0]
    batch = SeedBatch((task,))
    files = dask_executor.shipped_entry_files(batch)
    assert [name for name, _ in files] == ["my_sgd.py", "my_lr.py"]
    assert dask_executor.shipped_entry_files(SeedBatch(tuple(_smoke(cpu)[:1]))) is None  # built-in

    # the batch as a remote worker gets it: the client's copy does not exist there
    elsewhere = dict(task.choice.entry.ref, target="/nonexistent/saddlebench/my_sgd.py:MySGD")
    choice = dataclasses.replace(task.choice, entry=dataclasses.replace(task.choice.entry, ref=elsewhere))
    remote = SeedBatch((dataclasses.replace(task, choice=choice),))
    local = dask_executor._with_local_entry(remote, files)
    target = local.tasks[0].choice.entry.ref["target"]
    assert target.endswith("/my_sgd.py:MySGD") and (pathlib.Path(target[:-len(":MySGD")]).parent
                                                    / "my_lr.py").read_text() == "LR = 0.005\n"
    [rec] = execute_batch(local)
    assert rec.status == "certified", rec.message
    assert rec.entry_source_hash == task.choice.entry.source_hash()
