"""Run records: one :class:`RunRecord` per (entry, problem, seeds, profile), as a JSON line.

* :func:`run_key`: a run's identity (a store holding it has the result; resume skips it);
* **validated reads**: :func:`check_record_dict` says why a parsed line is not a usable record
  (cheap per-field type checks), so one bad line never stops ``show``, ``run`` or the
  leaderboard.

Schema versions: 1 (no ``harness_version``; read with ``harness_version = ""``), 2 (no
``batch_size``; read as 1), 3 (no ``track``/``tuning``; read as "custom"), 4 (no ``stop``,
``tail_f_mean``, ``tail``: every run then stopped at its first certification, so it reads as
stop "sosp" with no tail), 5 (no ``diagnostics``: read as none), 6 (current).
The store that holds records is :mod:`bench.store`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Any, Iterable, Sequence

SCHEMA_VERSION = 6
TRACKS = ("tuned", "defaults", "custom")
STATUSES = ("certified", "escaped", "budget_exhausted", "diverged", "error", "timeout",
            "harness_error")
#: when a run stops (bench.runner.RunTask.stop): "sosp" at its first certification (the
#: leaderboard's rule), "escape" at its first escape checkpoint (or its first certification,
#: if that comes first), "budget" only at its budget (certification and escape are recorded on
#: the way, and f is averaged over the last TAIL_FRACTION of the budget: ``tail_f_mean``)
STOP_RULES = ("sosp", "escape", "budget")


@dataclasses.dataclass
class RunRecord:
    """Everything measured in one run. Costs are in sample gradients (IFO calls)."""

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
    # runs that shared this run's clock as one (S, d) batch (1: the run ran alone); its seconds
    # are the batch's, so seconds per run = seconds / batch_size
    batch_size: int = 1
    # where the hyperparameters came from: "tuned" (the entry's committed tuning file, see
    # bench.tuning), "defaults" (the entry's own defaults on every family) or "custom" (set by the
    # user); only "tuned" and "defaults" are ranked, each on its own board
    track: str = "custom"
    # for track "tuned": the tuning file (path, sha256) and the trial chosen for this family
    tuning: dict[str, Any] = dataclasses.field(default_factory=dict)
    # the stop rule (STOP_RULES); status "escaped" only under "escape". Under "budget" the final_*
    # fields are at the budget and calls_to_sosp is still the first certification
    stop: str = "sosp"
    # stop "budget": the mean of f at the tail points (bench.runner.tail_points: evenly spaced
    # costs over the last 10% of the budget), None unless the run reached its budget; ``tail``
    # holds {"point": tail point, "cost": the checkpoint measured for it, "f": f there} lists
    tail_f_mean: float | None = None
    tail: dict[str, list] = dataclasses.field(default_factory=dict)
    # the diagnostics the run measured (problems.diagnostics; sorted names): each is a column of
    # ``trajectory`` (its value at every logged checkpoint, the last one the final point; null
    # where the iterate had diverged) and, under stop "budget", of ``tail``
    diagnostics: list[str] = dataclasses.field(default_factory=list)
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.track not in TRACKS:
            raise ValueError(f"track must be one of {TRACKS}, got {self.track!r}")
        if self.stop not in STOP_RULES:
            raise ValueError(f"stop must be one of {STOP_RULES}, got {self.stop!r}")

    @property
    def key(self) -> str:
        return run_key(self.entry, self.entry_source_hash, self.problem, self.instance_seed,
                       self.init_seed, self.run_seed, self.profile, self.suite, self.suite_version,
                       self.harness_version, self.track, self.hparams, self.stop, self.diagnostics)

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
            harness_version: str = "", track: str = "custom",
            hparams: dict[str, Any] | None = None, stop: str = "sosp",
            diagnostics: Sequence[str] = ()) -> str:
    """Identity of a run: a store holding this key has the result (resume skips it).

    ``harness_version`` is :func:`bench.provenance.harness_version` of the code that runs it (a
    record carries it in its ``harness_version`` field, and :attr:`RunRecord.key` passes it):
    editing the harness or the problems then gives new keys, so results measured by other code
    are not resumed onto. ``""`` (schema-1 records, callers not passing it) gives exactly the
    schema-1 key. A ranked track (``tuned``, ``defaults``) adds the track and the hyperparameters
    it resolved to, so the tracks of one entry, or two tuning files, never share a key. A stop
    rule other than "sosp" is added next, so a run stopped at its escape and one run to its
    budget never resume onto each other (nor onto the "sosp" run, whose key is unchanged).
    Requested diagnostics (sorted names) are added last, so a run without them keeps its key and
    a stored run never stands in for one whose record must have the diagnostics' columns.
    """
    parts = [entry, source_hash, problem, instance_seed, init_seed, run_seed, profile, suite,
             suite_version]
    if harness_version:
        parts.append(harness_version)
    if track != "custom":
        parts += [track, json.dumps(hparams or {}, sort_keys=True, default=str)]
    if stop != "sosp":
        parts += ["stop", stop]
    if diagnostics:
        parts += ["diagnostics", sorted(diagnostics)]
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
    if data.get("track", "custom") not in TRACKS:
        return f"track {_short(data['track'])} is not one of {', '.join(TRACKS)}"
    if data.get("stop", "sosp") not in STOP_RULES:
        return f"stop {_short(data['stop'])} is not one of {', '.join(STOP_RULES)}"
    for k, v in data.get("counts", {}).items():
        if not _is_int(v):
            return f"counts[{k!r}] should be int, got {type(v).__name__} {_short(v)}"
    for k, v in data.get("trajectory", {}).items():
        if not isinstance(v, list):
            return f"trajectory[{k!r}] should be a list, got {type(v).__name__}"
    for name in data.get("diagnostics", []):
        if not isinstance(name, str):
            return f"diagnostics should be a list of names, got {_short(name)}"
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
        d["diagnostics"] = ",".join(d["diagnostics"])
        d["hardware_id"] = r.hardware.get("id", "")
        d.pop("hardware")
        d.pop("versions")
        d.pop("certificate")
        d.pop("tuning")
        d.pop("tail")
        rows.append(d)
    return pd.DataFrame(rows)
