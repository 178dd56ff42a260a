"""Checked full writes: a record is stored whole, or the append fails loudly and leaves the
file as it was (issue 9, "The store loses nothing")."""

import errno
import os
import subprocess
import uuid
import warnings

import pytest

from bench import store as store_module
from bench.store import ResultsStore, StoreError
from tests.bench.test_records import _rec

REAL_WRITE = os.write
REAL_FSYNC = os.fsync


def _is_store_file(fd: int) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}").endswith(".jsonl")
    except OSError:
        return False


def _read_all(store):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recs = store.records()
    return recs, [str(w.message) for w in caught]


def _big(seed: int, n: int = 1200):
    """A record of about 10 KB (a long trajectory), so a few fill a small disk."""
    return _rec(run_seed=seed, trajectory={"cost": list(range(n)), "f": [0.5] * n})


# ----------------------------------------------------------------- a real, small filesystem
@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", f"tmpfs-{uuid.uuid4().hex[:6]}",
                           str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({proc.stderr.strip() or proc.returncode}); "
                    f"the monkeypatched-write tests below cover the same code")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_full_disk_keeps_only_whole_records(small_disk, monkeypatch):
    store = ResultsStore(small_disk / "results")
    writes = []

    def spy(fd, data):
        n = REAL_WRITE(fd, data)
        if _is_store_file(fd):
            writes.append((len(data), n))
        return n

    monkeypatch.setattr(store_module.os, "write", spy)
    stored = []
    with pytest.raises(StoreError) as info:
        for seed in range(100):
            store.append(_big(seed))
            stored.append(seed)
    path = store.path_for("sgd")
    msg = str(info.value)
    assert str(path) in msg and "disk is full" in msg and "--results" in msg
    assert 2 <= len(stored) < 100
    # the failing append really did write part of its line before the disk filled up
    assert any(n < size for size, n in writes), writes
    data = path.read_bytes()
    assert data.endswith(b"\n") and data.count(b"\n") == len(stored)
    recs, msgs = _read_all(store)
    assert [r.run_seed for r in recs] == stored and not msgs
    # make room: the next append works and starts on its own line
    monkeypatch.setattr(store_module.os, "write", REAL_WRITE)
    keep = {path}
    for f in list(small_disk.rglob("*")):
        if f.is_file() and f not in keep:
            f.unlink()
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:1]))
    store.append(_rec(run_seed=999))
    recs, msgs = _read_all(store)
    assert [r.run_seed for r in recs] == [stored[0], 999] and not msgs


def test_full_disk_after_a_truncated_line(small_disk):
    """Newline repair and a failing write together: the file comes back byte for byte."""
    store = ResultsStore(small_disk / "results")
    store.append(_rec())
    path = store.path_for("sgd")
    with open(path, "a") as fh:
        fh.write('{"entry": "sgd", "trunc')
    before = path.read_bytes()
    with pytest.raises(StoreError, match="back as it was"):
        store.append(_big(1, n=20000))  # ~200 KB: cannot fit in 64 KB
    assert path.read_bytes() == before


# ----------------------------------------------------------------- writes made to fail
def test_short_writes_are_completed(tmp_path, monkeypatch):
    calls = []

    def dribble(fd, data):
        if _is_store_file(fd):
            calls.append(len(data))
            return REAL_WRITE(fd, bytes(data[:7]))
        return REAL_WRITE(fd, data)

    store = ResultsStore(tmp_path)
    store.append(_rec())
    monkeypatch.setattr(store_module.os, "write", dribble)
    store.append(_rec(run_seed=1))
    monkeypatch.setattr(store_module.os, "write", REAL_WRITE)
    assert len(calls) > 10
    recs, msgs = _read_all(store)
    assert [r.run_seed for r in recs] == [0, 1] and not msgs


@pytest.mark.parametrize("mode", ["enospc-after-half", "eio", "no-progress"])
def test_failed_write_is_undone_and_raises(tmp_path, monkeypatch, mode):
    store = ResultsStore(tmp_path)
    store.append(_rec())
    path = store.path_for("sgd")
    before = path.read_bytes()
    state = {"n": 0}

    def failing(fd, data):
        if not _is_store_file(fd):
            return REAL_WRITE(fd, data)
        state["n"] += 1
        if mode == "no-progress":
            return 0
        if mode == "eio":
            raise OSError(errno.EIO, "Input/output error")
        if state["n"] == 1:
            return REAL_WRITE(fd, bytes(data[: len(data) // 2]))  # a short write ...
        raise OSError(errno.ENOSPC, "No space left on device")  # ... then the disk is full

    monkeypatch.setattr(store_module.os, "write", failing)
    with pytest.raises(StoreError) as info:
        store.append(_rec(run_seed=1))
    monkeypatch.setattr(store_module.os, "write", REAL_WRITE)
    msg = str(info.value)
    assert str(path) in msg and "back as it was" in msg and "--results" in msg
    if mode == "enospc-after-half":
        assert "disk is full" in msg
    assert path.read_bytes() == before  # the half line is gone
    store.append(_rec(run_seed=2))
    recs, msgs = _read_all(store)
    assert [r.run_seed for r in recs] == [0, 2] and not msgs


def test_failed_fsync_is_undone_and_raises(tmp_path, monkeypatch):
    store = ResultsStore(tmp_path)
    store.append(_rec())
    path = store.path_for("sgd")
    before = path.read_bytes()
    state = {"n": 0}

    def bad_fsync(fd):
        state["n"] += 1
        if state["n"] == 1:
            raise OSError(errno.EIO, "Input/output error")
        return REAL_FSYNC(fd)

    monkeypatch.setattr(store_module.os, "fsync", bad_fsync)
    with pytest.raises(StoreError, match="Input/output error"):
        store.append(_rec(run_seed=1))
    assert path.read_bytes() == before


def test_undo_failure_is_reported_and_the_next_append_repairs(tmp_path, monkeypatch):
    """If even cutting back fails, the error says so, and the half line is later repaired."""
    store = ResultsStore(tmp_path)
    store.append(_rec())
    path = store.path_for("sgd")

    def half_then_enospc(fd, data):
        if not _is_store_file(fd):
            return REAL_WRITE(fd, data)
        if len(data) > 100:
            return REAL_WRITE(fd, bytes(data[:100]))
        raise OSError(errno.ENOSPC, "No space left on device")

    def no_truncate(fd, size):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(store_module.os, "write", half_then_enospc)
    monkeypatch.setattr(store_module.os, "ftruncate", no_truncate)
    with pytest.raises(StoreError, match="cutting sgd.jsonl back failed"):
        store.append(_rec(run_seed=1))
    monkeypatch.undo()
    store.append(_rec(run_seed=2))
    recs, msgs = _read_all(store)
    assert [r.run_seed for r in recs] == [0, 2]
    assert len(msgs) == 1 and f"{path}:2:" in msgs[0]
