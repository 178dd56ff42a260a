"""The append-only JSON Lines results store; it loses nothing.

A store is a folder of ``*.jsonl`` files (one per entry: ``<entry>.jsonl``) of
:class:`bench.records.RunRecord` lines.

* **appends are whole lines or nothing**: each record is written under an exclusive ``flock`` on
  its file (two processes never interleave a line), in a loop until every byte is written, then
  ``fsync``-ed. On any failure (disk full, I/O error, a short write that cannot complete) the
  file is cut back to its size before the attempt and :class:`StoreError` is raised: a record
  is never reported as stored when it is not.
* **newline repair**: if the file does not end with a newline (the last line of a run killed
  while writing), a newline is written first, so the new record starts its own line; the
  truncated line stays and is reported when read.
* **validated reads**: a line that is not JSON or not a valid record
  (:func:`bench.records.check_record_dict`) is skipped with a ``file:line`` warning.
* **claims**: :meth:`ResultsStore.claim` / :meth:`ResultsStore.release` let concurrent
  ``bench run`` processes on one folder split the work instead of doing it twice (advisory
  ``flock`` per run key, released automatically when a process dies).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import pathlib
import re
import warnings
from typing import Any, Iterator

try:
    import fcntl
except ImportError:  # not POSIX: no advisory locks (one bench run per folder at a time)
    fcntl = None  # type: ignore[assignment]

from bench.records import RunRecord

class StoreError(OSError):
    """The results folder cannot be used; the message says why and what to do."""


CLAIMS_DIR = ".claims"  # inside the store root: one lock file per claimed run key
_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


def _flock(fd: int, op: int) -> bool:
    """``flock(fd, op)``; False (and nothing locked) where the filesystem has no locks."""
    if fcntl is None:
        return False
    try:
        fcntl.flock(fd, op)
        return True
    except BlockingIOError:
        raise
    except OSError as exc:
        if exc.errno in _NO_LOCKS:
            return False
        raise


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` (``os.write`` may write fewer); raise OSError if it cannot."""
    view = memoryview(data)
    done = 0
    while done < len(data):
        n = os.write(fd, view[done:])
        if n <= 0:
            raise OSError(errno.EIO, f"short write: {done} of {len(data)} bytes written, "
                                     f"then no progress")
        done += n


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno == errno.EDQUOT:
        return "the disk quota is exceeded"
    return exc.strerror or str(exc)


def append_line(path: pathlib.Path, line: str, what: str) -> None:
    """Append ``line`` (one JSON document, no newline) to ``path`` as one complete line, or raise
    :class:`StoreError` naming ``what``. Under an exclusive ``flock``: repair a missing final
    newline, write the whole line (looping over short writes), ``fsync``; on any failure the
    file is cut back to its size before the attempt (all or nothing)."""
    data = (line + "\n").encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(f"cannot append to {path} ({_reason(exc)}); the runs already "
                         f"stored are untouched; pass --results DIR with a writable folder") from exc
    try:
        try:
            _flock(fd, fcntl.LOCK_EX if fcntl else 0)
            start = os.fstat(fd).st_size
            if start and os.pread(fd, 1, start - 1) != b"\n":
                data = b"\n" + data  # a killed run left a partial line: start a new one
        except OSError as exc:
            raise StoreError(f"cannot append to {path} ({_reason(exc)}); the runs already "
                             f"stored are untouched") from exc
        try:
            _write_all(fd, data)
            os.fsync(fd)
        except OSError as exc:
            try:
                os.ftruncate(fd, start)
                os.fsync(fd)
                state = f"{path.name} is back as it was, the runs already stored are untouched"
            except OSError as undo:
                state = (f"and cutting {path.name} back failed too ({_reason(undo)}): its last "
                         f"line may be partial; it is reported and skipped when read, and the "
                         f"next append starts a new line")
            raise StoreError(f"could not store {what} in {path}: {_reason(exc)}; {state}. "
                             f"Free space on that disk (or pass --results DIR on another "
                             f"one) and run again: stored runs are skipped, this one re-runs") from exc
    finally:
        os.close(fd)  # also releases the lock


class ResultsStore:
    """A folder of JSON Lines files of :class:`RunRecord`, safe to share between processes.

    Writing: :meth:`append` (whole line or :class:`StoreError`). Reading: :meth:`iter_records`,
    :meth:`records`, :meth:`keys` (bad lines are warned about and skipped). Splitting work
    between concurrent processes: :meth:`claim` / :meth:`release` (or :meth:`claimed`).
    """

    def __init__(self, root: str | os.PathLike):
        self.root = pathlib.Path(root)
        self._claims: dict[str, int] = {}  # key -> fd of its lock file (the flock lives on it)
        self._index: dict[str, tuple[int, int, set[str]]] = {}  # path -> (inode, bytes read, keys)
        self._warned_no_locks = False

    def __getstate__(self) -> dict[str, Any]:  # a pickled copy holds no claims
        return {"root": self.root}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["root"])

    def check_writable(self) -> None:
        """Fail early, before any run, if records could not be saved."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-test-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise StoreError(f"results folder {str(self.root)!r} is not writable ({exc.strerror or exc}); "
                             f"pass --results DIR with a folder you can write to") from exc

    def path_for(self, entry_label: str) -> pathlib.Path:
        slug = re.sub(r"[^A-Za-z0-9_.+-]+", "_", entry_label).strip("_") or "entry"
        if len(slug) > 120:
            slug = slug[:100] + "-" + hashlib.sha1(entry_label.encode()).hexdigest()[:12]
        return self.root / f"{slug}.jsonl"

    # ------------------------------------------------------------------------------ writing
    def append(self, record: RunRecord) -> None:
        """Store ``record`` as one line of its entry's file (:func:`append_line`: the store holds
        the record completely or not at all), or raise :class:`StoreError`."""
        what = f"the record of {record.entry} on {record.problem} (run seed {record.run_seed})"
        append_line(self.path_for(record.entry), record.to_json(), what)

    # ------------------------------------------------------------------------------ reading
    def files(self) -> list[pathlib.Path]:
        return sorted(self.root.rglob("*.jsonl")) if self.root.is_dir() else []

    @staticmethod
    def _lines(path: pathlib.Path, offset: int = 0) -> Iterator[tuple[bytes, bool]]:
        """(line, complete) for the bytes of ``path`` from ``offset`` up to its size when opened.

        The size is read under a shared lock, so a line being appended by another process (which
        holds the exclusive lock while it writes) is never half-read.
        """
        with open(path, "rb") as fh:
            locked = _flock(fh.fileno(), fcntl.LOCK_SH) if fcntl else False
            size = os.fstat(fh.fileno()).st_size
            if locked:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            fh.seek(offset)
            left = size - offset
            while left > 0:
                line = fh.readline(left)
                if not line:
                    return
                left -= len(line)
                yield line, line.endswith(b"\n")

    def iter_records(self, *, warn: bool = True) -> Iterator[RunRecord]:
        """Every readable record; a line that is not a valid record is reported and skipped."""
        for path in self.files():
            try:
                for lineno, (raw, complete) in enumerate(self._lines(path), 1):
                    rec, problem = _parse(raw, complete)
                    if rec is not None:
                        yield rec
                    elif problem and warn:
                        warnings.warn(f"{path}:{lineno}: skipped a corrupted record ({problem}); "
                                      f"the line is left as it is: delete it (the run it held, if "
                                      f"any, counts as not done and runs again)", stacklevel=2)
            except OSError as exc:
                if warn:
                    warnings.warn(f"{path}: cannot be read ({_reason(exc)}); its records are "
                                  f"skipped", stacklevel=2)

    def records(self, **filters: Any) -> list[RunRecord]:
        out = []
        for rec in self.iter_records():
            if all(getattr(rec, k) == v for k, v in filters.items()):
                out.append(rec)
        return out

    def keys(self, *, include_errors: bool = False) -> set[str]:
        """Keys of stored runs; ``error`` records are not counted as done (they re-run)."""
        return {r.key for r in self.iter_records() if include_errors or r.status != "error"}

    def _stored_keys(self) -> set[str]:
        """Same as ``keys()``, read incrementally: only the bytes appended since the last call
        (a file that shrank or was replaced is read again). Cheap enough to call per claim."""
        out: set[str] = set()
        for path in self.files():
            name = str(path)
            try:
                st = os.stat(path)
                inode, offset, keys = self._index.get(name, (st.st_ino, 0, set()))
                if inode != st.st_ino or st.st_size < offset:
                    inode, offset, keys = st.st_ino, 0, set()
                if st.st_size > offset:
                    for raw, complete in self._lines(path, offset):
                        if not complete:
                            break  # read again once it is finished (or repaired)
                        offset += len(raw)
                        rec, _ = _parse(raw, True)
                        if rec is not None and rec.status != "error":
                            keys.add(rec.key)
                self._index[name] = (inode, offset, keys)
            except OSError:
                continue
            out |= keys
        return out

    # ------------------------------------------------------------------------------- claims
    def claim(self, key: str, *, force: bool = False) -> bool:
        """Take the run ``key`` for this process: True if it is now ours to run, False if it is
        already stored (``force`` skips that check) or claimed -- by another live process, or
        already by this store object.

        Executors, around each task (the key is ``runner.task_key(task)``)::

            if not store.claim(key, force=force):
                continue                    # done, or another `bench run` is doing it
            try:
                store.append(execute(task))
            finally:
                store.release(key)          # after the append: later claimers see it stored

        or ``with store.claimed(key, force=force) as mine: if mine: ...``. A claim is an
        exclusive ``flock`` on ``<root>/.claims/<key>.lock`` held on an open descriptor, so it
        vanishes when its process exits or dies; claims are kept by the process that calls this
        (the pool's parent), not by worker processes. The stored check is made after the lock is
        taken, so a run that another process finished a moment ago is not run again.
        """
        if key in self._claims:
            return False
        path = self._claim_path(key)
        folder = path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            while True:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    locked = _flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB) if fcntl else False
                except BlockingIOError:
                    os.close(fd)
                    return False  # another live process holds it
                except OSError:
                    os.close(fd)
                    raise
                if not locked:
                    os.close(fd)
                    if not self._warned_no_locks:
                        self._warned_no_locks = True
                        warnings.warn(f"{self.root}: this filesystem has no file locks; concurrent "
                                      f"`bench run` processes on it may repeat each other's runs",
                                      stacklevel=2)
                    return force or key not in self._stored_keys()
                try:  # its previous owner may have removed the file between our open and lock
                    same = os.fstat(fd).st_ino == os.stat(path).st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    break
                os.close(fd)
            if not force and key in self._stored_keys():
                self._drop(path, fd)
                return False
            try:
                os.ftruncate(fd, 0)
                os.write(fd, f"pid {os.getpid()}\n".encode())  # for people looking at the folder
            except OSError:
                pass
        except OSError as exc:
            raise StoreError(f"cannot claim a run in {folder} ({_reason(exc)}); pass --results "
                             f"DIR with a writable folder") from exc
        self._claims[key] = fd
        return True

    def release(self, key: str) -> None:
        """Give up the claim on ``key`` (after its record is appended); no-op if not ours."""
        fd = self._claims.pop(key, None)
        if fd is not None:
            self._drop(self._claim_path(key), fd)

    def release_all(self) -> None:
        """Release every claim this store object holds."""
        for key in list(self._claims):
            self.release(key)

    @property
    def claims(self) -> frozenset[str]:
        """Keys currently claimed through this store object."""
        return frozenset(self._claims)

    @contextlib.contextmanager
    def claimed(self, key: str, *, force: bool = False) -> Iterator[bool]:
        """``with store.claimed(key) as mine:`` -- :meth:`claim` on entry, :meth:`release` on exit."""
        mine = self.claim(key, force=force)
        try:
            yield mine
        finally:
            if mine:
                self.release(key)

    def _claim_path(self, key: str) -> pathlib.Path:
        safe = key if re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}", key) \
            else hashlib.sha1(key.encode()).hexdigest()
        return self.root / CLAIMS_DIR / f"{safe}.lock"

    @staticmethod
    def _drop(path: pathlib.Path, fd: int) -> None:
        try:
            os.unlink(path)  # while still locked: a waiter that opened it sees a stale inode
        except OSError:
            pass
        os.close(fd)


def _parse(raw: bytes, complete: bool) -> tuple[RunRecord | None, str | None]:
    """(record, None), (None, why it is not one), or (None, None) for a blank line."""
    line = raw.decode("utf-8", errors="replace")
    if not line.strip():
        return None, None
    try:
        data = json.loads(line)
    except (ValueError, RecursionError) as exc:
        if not complete:
            return None, f"incomplete last line, no newline: a run killed while writing it ({exc})"
        return None, f"not valid JSON: {exc}"
    try:
        return RunRecord.from_dict(data), None
    except (TypeError, ValueError) as exc:
        return None, str(exc)
