"""Run records and the append-only JSON Lines results store.

One :class:`RunRecord` per (entry, problem, seeds, profile). The store is a folder of ``*.jsonl``
files (one per entry: ``<entry>.jsonl``). The store loses nothing:

* **appends are whole lines or nothing**: each record is written under an exclusive ``flock`` on
  its file (two processes never interleave a line), in a loop until every byte is written, then
  ``fsync``-ed. On any failure (disk full, I/O error, a short write that cannot complete) the
  file is cut back to its size before the attempt and :class:`StoreError` is raised: a record
  is never reported as stored when it is not.
* **newline repair**: if the file does not end with a newline (the last line of a run killed
  while writing), a newline is written first, so the new record starts its own line; the
  truncated line stays and is reported when read.
* **validated reads**: a line that is not JSON, not a JSON object, lacks a required field or has
  a field of the wrong type is skipped with a ``file:line`` warning (cheap per-field type
  checks, see :func:`check_record_dict`); one bad line never stops ``show``, ``run`` or the
  leaderboard.
* **claims**: :meth:`ResultsStore.claim` / :meth:`ResultsStore.release` let concurrent
  ``bench run`` processes on one folder split the work instead of doing it twice (advisory
  ``flock`` per run key, released automatically when a process dies).

Schema versions: 1 (no ``harness_version``; read with ``harness_version = ""``), 2 (current).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import json
import math
import os
import pathlib
import re
import warnings
from typing import Any, Iterable, Iterator

try:
    import fcntl
except ImportError:  # not POSIX: no advisory locks (one bench run per folder at a time)
    fcntl = None  # type: ignore[assignment]

from bench.provenance import harness_version  # noqa: F401  (re-exported: the resume key's harness part)

SCHEMA_VERSION = 2
STATUSES = ("certified", "budget_exhausted", "diverged", "error", "timeout", "harness_error")


@dataclasses.dataclass
class RunRecord:
    """Everything measured in one run. Costs are in sample gradients (SPEC.md 0.3)."""

    # what ran
    entry: str  # label: name or name[overrides]
    entry_name: str
    hparams: dict[str, Any]
    entry_source_hash: str
    oracle_class: str
    problem: str
    family: str
    dim: int
    instance_seed: int
    init_seed: int
    run_seed: int
    profile: str
    suite: str
    suite_version: str
    # outcome
    status: str
    message: str = ""
    # time to SOSP (None unless certified)
    calls_to_sosp: int | None = None  # cost (IFO units) at the first certifying checkpoint
    grad_calls_to_sosp: int | None = None  # oracle calls (minibatches) at that checkpoint
    hvp_calls_to_sosp: int | None = None
    seconds_to_sosp: float | None = None  # optimizer time only (certification excluded)
    # escape (None if never escaped)
    escape_calls: int | None = None
    escape_seconds: float | None = None
    # totals and final point
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    steps: int = 0
    optimizer_seconds: float = 0.0
    wall_seconds: float = 0.0
    final_f: float | None = None
    final_grad_norm: float | None = None
    final_lambda_min: float | None = None
    # the problem's constants as run
    eps_g: float = 0.0
    eps_h: float = 0.0
    budget: int = 0
    saddle_value: float | None = None
    f_star: float | None = None
    escape_delta: float | None = None
    certificate: dict[str, Any] = dataclasses.field(default_factory=dict)
    trajectory: dict[str, list] = dataclasses.field(default_factory=dict)
    # provenance
    hardware: dict[str, Any] = dataclasses.field(default_factory=dict)
    versions: dict[str, Any] = dataclasses.field(default_factory=dict)
    created_at: str = ""
    # integrity: how the entry ran, and the honest interval of each reported count
    sealed: bool = False  # the entry ran in a sealed worker process (only these are published)
    confinement: dict[str, Any] = dataclasses.field(default_factory=dict)
    ipc: dict[str, Any] = dataclasses.field(default_factory=dict)  # round trips, seconds shares
    # [cost at the last checkpoint before, cost at the first checkpoint at or after] the event:
    # the event happened somewhere in this interval; calls_to_sosp / escape_calls are its top
    sosp_bracket: list[int] | None = None
    escape_bracket: list[int] | None = None
    # bench.provenance.harness_version() of the code that made the record ("" in schema-1 records)
    harness_version: str = ""
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def key(self) -> str:
        return run_key(self.entry, self.entry_source_hash, self.problem, self.instance_seed,
                       self.init_seed, self.run_seed, self.profile, self.suite, self.suite_version,
                       self.harness_version)

    def to_json(self) -> str:
        return json.dumps(_clean(dataclasses.asdict(self)), sort_keys=True, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Any) -> "RunRecord":
        """A record from its JSON object. Raises ``ValueError`` (saying which field) for anything
        that is not a well-typed record (see :func:`check_record_dict`); unknown keys are ignored
        and fields missing from older schemas take their defaults."""
        problem = check_record_dict(data)
        if problem:
            raise ValueError(problem)
        kwargs = {k: v for k, v in data.items() if k in _FIELD_NAMES}
        for name in _NAN_IF_NULL:  # the writer stores a non-finite float as null
            if kwargs.get(name, 0.0) is None:
                kwargs[name] = math.nan
        return cls(**kwargs)


def run_key(entry: str, source_hash: str, problem: str, instance_seed: int, init_seed: int,
            run_seed: int, profile: str, suite: str, suite_version: str,
            harness_version: str = "") -> str:
    """Identity of a run: a store holding this key has the result (resume skips it).

    ``harness_version`` is :func:`bench.provenance.harness_version` of the code that runs it (a
    record carries it in its ``harness_version`` field, and :attr:`RunRecord.key` passes it):
    editing the harness or the problems then gives new keys, so results measured by other code
    are not resumed onto. ``""`` (schema-1 records, callers not passing it) gives exactly the
    schema-1 key.
    """
    parts = [entry, source_hash, problem, instance_seed, init_seed, run_seed, profile, suite,
             suite_version]
    if harness_version:
        parts.append(harness_version)
    return hashlib.sha1(json.dumps(parts).encode()).hexdigest()[:20]


# ------------------------------------------------------------------ validation of stored lines
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_BASE_CHECKS = {"str": lambda v: isinstance(v, str), "int": _is_int, "float": _is_number,
                "bool": lambda v: isinstance(v, bool)}


def _field_checks() -> tuple[tuple[str, bool, Any, bool, str], ...]:
    """(name, required, check, nullable, type text) for every RunRecord field, from its annotation."""
    out = []
    for f in dataclasses.fields(RunRecord):
        text = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        nullable = text.replace(" ", "").endswith("|None")
        base = text.replace(" ", "").removesuffix("|None")
        if base.startswith("dict"):
            check = lambda v: isinstance(v, dict)  # noqa: E731
        elif base.startswith("list"):
            check = lambda v: isinstance(v, list)  # noqa: E731
        else:
            check = _BASE_CHECKS.get(base, lambda v: True)
        if base == "float":  # a non-finite float is written as null (JSON has no NaN)
            nullable = True
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        out.append((f.name, required, check, nullable, base))
    return tuple(out)


_FIELD_CHECKS = _field_checks()
_FIELD_NAMES = frozenset(name for name, *_ in _FIELD_CHECKS)
_NAN_IF_NULL = tuple(f.name for f in dataclasses.fields(RunRecord)
                     if str(f.type).replace(" ", "") == "float")


def check_record_dict(data: Any) -> str | None:
    """Why ``data`` (a parsed JSON line) is not a usable record, or None if it is.

    Cheap: one ``isinstance`` per field (no schema library), plus the values of ``counts``
    (integers), ``trajectory`` (lists), the status and the schema version.
    """
    if not isinstance(data, dict):
        return f"a JSON {type(data).__name__}, not an object"
    for name, required, check, nullable, type_text in _FIELD_CHECKS:
        if name not in data:
            if required:
                return f"required field {name!r} is missing"
            continue
        value = data[name]
        if value is None and nullable:
            continue
        if not check(value):
            return (f"field {name!r} should be {type_text}{' or null' if nullable else ''}, "
                    f"got {type(value).__name__} {_short(value)}")
    if data["status"] not in STATUSES:
        return f"status {_short(data['status'])} is not one of {', '.join(STATUSES)}"
    for k, v in data.get("counts", {}).items():
        if not _is_int(v):
            return f"counts[{k!r}] should be int, got {type(v).__name__} {_short(v)}"
    for k, v in data.get("trajectory", {}).items():
        if not isinstance(v, list):
            return f"trajectory[{k!r}] should be a list, got {type(v).__name__}"
    version = data.get("schema_version", 1)
    if version < 1:
        return f"schema_version {version} is not a version (1..{SCHEMA_VERSION})"
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _clean(obj: Any) -> Any:
    """Non-finite floats -> None (JSON has no NaN); tuples -> lists."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


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
        """Store ``record`` as one line of its entry's file, or raise :class:`StoreError`.

        Under an exclusive ``flock`` on the file: repair a missing final newline, write the whole
        line (looping over short writes), ``fsync``. On any failure the file is cut back to its
        size before the attempt, so the store holds the record completely or not at all.
        """
        data = (record.to_json() + "\n").encode()
        path = self.path_for(record.entry)
        what = f"the record of {record.entry} on {record.problem} (run seed {record.run_seed})"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
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


def records_frame(records: Iterable[RunRecord]):
    """A pandas DataFrame of the scalar fields (one row per record)."""
    import pandas as pd

    rows = []
    for r in records:
        d = dataclasses.asdict(r)
        d.pop("trajectory")
        for k, v in d.pop("counts").items():
            d[f"total_{k}"] = v
        d["hparams"] = json.dumps(d["hparams"], sort_keys=True)
        d["hardware_id"] = r.hardware.get("id", "")
        d.pop("hardware")
        d.pop("versions")
        d.pop("certificate")
        rows.append(d)
    return pd.DataFrame(rows)
