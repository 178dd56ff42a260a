"""Concurrent `bench run` processes on one folder split the work (claims) and never interleave
lines (locked appends) -- issue 9, "The store loses nothing"."""

import multiprocessing as mp
import os
import time
import warnings

import pytest

from bench import store as store_module
from bench.store import CLAIMS_DIR, ResultsStore
from tests.bench.test_records import _rec

N_KEYS = 40


def _claim_worker(root, order, start, out):
    store = ResultsStore(root)
    mine = []
    start.wait()
    for seed in order:
        rec = _rec(run_seed=seed)
        if store.claim(rec.key):
            try:
                time.sleep(0.005)  # "running"
                store.append(rec)
                mine.append(seed)
            finally:
                store.release(rec.key)
    out.put(mine)


def _run_two(root, orders):
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_claim_worker, args=(str(root), order, start, out)) for order in orders]
    for p in procs:
        p.start()
    start.set()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return results


@pytest.mark.parametrize("orders", ["same", "opposite"])
def test_two_processes_split_the_keys(tmp_path, orders):
    """Each key is run by exactly one of two processes (same order: they race for every key;
    opposite orders: they meet in the middle and must not redo the other's finished runs)."""
    keys = list(range(N_KEYS))
    second = keys if orders == "same" else keys[::-1]
    a, b = _run_two(tmp_path, [keys, second])
    assert not set(a) & set(b), sorted(set(a) & set(b))
    assert sorted(a + b) == keys
    seeds = sorted(r.run_seed for r in ResultsStore(tmp_path).records())
    assert seeds == keys  # each run stored exactly once
    assert not list((tmp_path / CLAIMS_DIR).iterdir())  # released claims leave no files


def test_claim_is_false_for_stored_runs(tmp_path):
    first = ResultsStore(tmp_path)
    rec = _rec()
    assert first.claim(rec.key)
    first.append(rec)
    first.release(rec.key)
    other = ResultsStore(tmp_path)
    assert not other.claim(rec.key)  # already stored
    assert other.claim(rec.key, force=True)  # unless forced
    other.release(rec.key)
    # an error record is not done: it may be claimed (and re-run)
    err = _rec(run_seed=5, status="error")
    other.append(err)
    assert other.claim(err.key)


def test_stored_check_sees_appends_made_after_the_index_was_built(tmp_path):
    reader, writer = ResultsStore(tmp_path), ResultsStore(tmp_path)
    writer.append(_rec(run_seed=0))
    assert reader._stored_keys() == {_rec(run_seed=0).key}
    late = _rec(run_seed=1)
    writer.append(late)
    assert not reader.claim(late.key)
    # a file rewritten shorter (someone deleted a line) is read again from the start
    path = writer.path_for("sgd")
    path.write_text(path.read_text().splitlines(keepends=True)[1])
    assert reader._stored_keys() == {late.key}
    assert reader.claim(_rec(run_seed=0).key)


def test_claim_twice_in_one_process_and_release(tmp_path):
    store = ResultsStore(tmp_path)
    assert store.claim("k1")
    assert not store.claim("k1")  # a duplicate task is not run twice
    assert not ResultsStore(tmp_path).claim("k1")  # another store object, same process
    assert store.claims == {"k1"}
    store.release("k1")
    store.release("k1")  # no-op
    assert ResultsStore(tmp_path).claim("k1")
    odd = "../weird key/with slashes"
    assert store.claim(odd) and not ResultsStore(tmp_path).claim(odd)
    assert all(p.parent == tmp_path / CLAIMS_DIR for p in (tmp_path / CLAIMS_DIR).iterdir())
    with store.claimed("k2") as mine:
        assert mine and not ResultsStore(tmp_path).claim("k2")
    with store.claimed("k2") as mine:
        assert mine
    store.release_all()
    assert store.claims == frozenset()


def _hold(root, key, ready, die):
    store = ResultsStore(root)
    assert store.claim(key)
    ready.set()
    die.wait(60)
    os._exit(1)  # crash: no release


def test_a_dead_process_claims_vanish(tmp_path):
    ctx = mp.get_context("spawn")
    ready, die = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold, args=(str(tmp_path), "key-a", ready, die))
    proc.start()
    assert ready.wait(60)
    store = ResultsStore(tmp_path)
    assert not store.claim("key-a")  # held by a live process
    die.set()
    proc.join(30)
    assert store.claim("key-a")  # its claim died with it (the stale lock file is reused)


def _appender(root, first, count, size, start):
    real = os.write

    def dribble(fd, data):  # short writes: a line goes out in many pieces
        n = real(fd, bytes(data[:997]))
        time.sleep(0)
        return n

    store_module.os.write = dribble
    store = ResultsStore(root)
    start.wait()
    for seed in range(first, first + count):
        store.append(_rec(run_seed=seed, trajectory={"cost": list(range(size))}))


def test_concurrent_appends_never_interleave(tmp_path):
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_appender, args=(str(tmp_path), first, 30, 3000, start))
             for first in (0, 1000)]
    for p in procs:
        p.start()
    time.sleep(0.5)
    start.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recs = ResultsStore(tmp_path).records()
    assert not caught, str(caught[0].message)[:300]
    assert sorted(r.run_seed for r in recs) == list(range(30)) + list(range(1000, 1030))
