"""Run records and the append-only JSON Lines results store.

One :class:`RunRecord` per (entry, problem, seeds, profile). The store is a folder of ``*.jsonl``
files (one per entry: ``<entry>.jsonl``); each record is one line written with a single
``write`` + ``fsync`` on a file opened for appending, so a run killed mid-way loses only itself
and never corrupts earlier lines. Reading skips (and reports) lines that do not parse.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import pathlib
import re
import warnings
from typing import Any, Iterable, Iterator

SCHEMA_VERSION = 1
STATUSES = ("certified", "budget_exhausted", "diverged", "error", "timeout")


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
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def key(self) -> str:
        return run_key(self.entry, self.entry_source_hash, self.problem, self.instance_seed,
                       self.init_seed, self.run_seed, self.profile, self.suite, self.suite_version)

    def to_json(self) -> str:
        return json.dumps(_clean(dataclasses.asdict(self)), sort_keys=True, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunRecord":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def run_key(entry: str, source_hash: str, problem: str, instance_seed: int, init_seed: int,
            run_seed: int, profile: str, suite: str, suite_version: str) -> str:
    """Identity of a run: a store holding this key has the result (resume skips it)."""
    text = json.dumps([entry, source_hash, problem, instance_seed, init_seed, run_seed, profile,
                       suite, suite_version])
    return hashlib.sha1(text.encode()).hexdigest()[:20]


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


class ResultsStore:
    """A folder of JSON Lines files of :class:`RunRecord`."""

    def __init__(self, root: str | os.PathLike):
        self.root = pathlib.Path(root)

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

    def append(self, record: RunRecord) -> None:
        line = record.to_json() + "\n"
        path = self.path_for(record.entry)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StoreError(f"cannot append to {path} ({exc.strerror or exc}); the runs already "
                             f"stored are untouched; pass --results DIR with a writable folder") from exc

    def files(self) -> list[pathlib.Path]:
        return sorted(self.root.rglob("*.jsonl")) if self.root.is_dir() else []

    def iter_records(self, *, warn: bool = True) -> Iterator[RunRecord]:
        """Every readable record; a line that does not parse is reported and skipped."""
        for path in self.files():
            with open(path, encoding="utf-8", errors="replace") as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        yield RunRecord.from_dict(json.loads(line))
                    except (json.JSONDecodeError, TypeError, ValueError) as exc:
                        if warn:
                            warnings.warn(f"{path}:{lineno}: skipped a corrupted record ({exc}); the "
                                          f"line is left as it is: delete it, or re-run that run "
                                          f"with --force", stacklevel=2)

    def records(self, **filters: Any) -> list[RunRecord]:
        out = []
        for rec in self.iter_records():
            if all(getattr(rec, k) == v for k, v in filters.items()):
                out.append(rec)
        return out

    def keys(self, *, include_errors: bool = False) -> set[str]:
        """Keys of stored runs; ``error`` records are not counted as done (they re-run)."""
        return {r.key for r in self.iter_records() if include_errors or r.status != "error"}


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
