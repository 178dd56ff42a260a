"""Claims from the literature, reproduced with the benchmark's own problems, entries and records.

A claim is a module ``claims/<id>_<slug>.py`` defining ``CLAIM = <Claim subclass>()`` (discovered
like ``optimizers/``). It declares

* what the paper says (``statement``, ``source``) and what was expected (``expected``);
* the runs it needs (:meth:`Claim.tasks`: ordinary :class:`bench.runner.RunTask` objects, run by
  the same executors, sealed workers, counted oracle and certificate as the leaderboard, and
  stored as ordinary run records);
* what it measures (:meth:`Claim.measure`: a :class:`Measurement` computed from those records,
  or, for a claim about the landscape, computed directly from the problems' exact oracles);
* the checks that decide the verdict (:meth:`Claim.checks`: pure functions of the measurement,
  so a committed result can be re-judged without running anything).

The verdict is ``reproduced`` when every check passes, ``not reproduced`` when none does, and
``partly`` otherwise. A claim that does not reproduce is a result, reported with what was
measured.

Every claim has two scales: ``full`` (the committed result, at most about 10 minutes on 2
cores) and ``reduced`` (a few seeds and short budgets, for tests; never published).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import importlib
import inspect
import json
import math
import os
import pathlib
import pkgutil
import re
from typing import Any, Iterable, Sequence

VERDICTS = ("reproduced", "partly", "not reproduced")
SCALES = ("full", "reduced")
CLAIMS_PACKAGE = "claims"
RESULT_FILE = "result.json"
RECORDS_FILE = "records"  # the claim's run-record store: <root>/<claim id>/records/
RESULT_SCHEMA = 1
_ID = re.compile(r"^D\d+$")


class ClaimError(ValueError):
    """An unknown claim id or a claim module that is not well formed."""


@dataclasses.dataclass(frozen=True)
class Check:
    """One test of the claim: what was expected, what was measured, whether it holds."""

    name: str
    expected: str
    measured: str
    passed: bool


@dataclasses.dataclass
class Series:
    """One line of the claim's plot (``x`` and ``y`` of equal length; None is a gap)."""

    label: str
    x: list[float]
    y: list[float | None]
    highlight: bool = True


@dataclasses.dataclass
class Plot:
    """How to draw the series: axis labels and scales (``linear``, ``log`` or ``symlog``)."""

    x: str
    y: str
    xscale: str = "linear"
    yscale: str = "linear"
    hlines: dict[str, float] = dataclasses.field(default_factory=dict)  # label -> y


@dataclasses.dataclass
class Measurement:
    """What a claim measured: ``values`` (named numbers the checks read), a ``table`` (rows of
    column -> value, printed and shown on the site), and optional plot ``series``."""

    values: dict[str, Any]
    table: list[dict[str, Any]]
    series: list[Series] = dataclasses.field(default_factory=list)
    plot: Plot | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        return {"values": _finite(self.values), "table": _finite(self.table),
                "series": [_finite(dataclasses.asdict(s)) for s in self.series],
                "plot": dataclasses.asdict(self.plot) if self.plot else None,
                "notes": list(self.notes)}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "Measurement":
        return cls(values=data["values"], table=data["table"],
                   series=[Series(**s) for s in data.get("series", [])],
                   plot=Plot(**data["plot"]) if data.get("plot") else None,
                   notes=list(data.get("notes", [])))


def _finite(obj: Any) -> Any:
    """JSON-safe copy: NaN and +-inf become None (JSON has no such numbers)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy / torch scalars
        return _finite(obj.item())
    return obj


def judge(checks: Sequence[Check]) -> str:
    """``reproduced`` if every check passes, ``not reproduced`` if none does, else ``partly``."""
    passed = sum(c.passed for c in checks)
    if checks and passed == len(checks):
        return "reproduced"
    return "not reproduced" if passed == 0 else "partly"


class Claim:
    """Base class of a claim module's ``CLAIM``; subclasses set the text attributes and
    implement :meth:`measure` and :meth:`checks` (and :meth:`tasks` when they need runs)."""

    id: str = ""  # "D1": the claim's number in the project's claim list
    title: str = ""  # one line: what is claimed
    source: str = ""  # the paper(s), as a citation
    statement: str = ""  # what the paper says, in our words
    setting: str = ""  # problems, start points, entries, hyperparameters, seeds, budget
    metric: str = ""  # what is measured, with its formula
    expected: str = ""  # the expected direction and magnitude, and where that number comes from
    version: str = "1"  # bump when the setting changes (part of the records' suite version)
    #: worker processes ``bench reproduce`` uses for its runs unless ``-j`` says otherwise (None:
    #: one per core). A claim whose time is one long seed batch may run faster with fewer: on 2
    #: cores a lone worker polls its channel and halves a step's round trip (bench.channel).
    workers: int | None = None

    # ---- what to run
    def tasks(self, scale: str) -> list:
        """The runs the claim needs at ``scale`` (``bench.runner.RunTask``); none by default."""
        return []

    # ---- what to measure and how to judge it
    def measure(self, records: list, scale: str) -> Measurement:
        raise NotImplementedError

    def checks(self, m: Measurement) -> list[Check]:
        raise NotImplementedError

    # ---- helpers for subclasses
    @property
    def suite(self) -> str:
        """The suite name of this claim's run records."""
        return f"claim-{self.id}"

    def task(self, choice, problem: str, seed: int, *, instance_seed: int = 0,
             budget: int | None = None, time_limit: float = 3600.0, profile: str = "cpu",
             scale: str = "full", stop: str = "sosp", diagnostics=()):
        """A sealed run of ``choice`` (an :class:`bench.entries.EntryChoice`) on ``problem``
        with run and init seed ``seed``, recorded under this claim's suite. ``stop`` is the
        run's stop rule (bench.records.STOP_RULES): ``sosp`` (the first certification),
        ``escape`` (the first escape checkpoint) or ``budget`` (run to the budget; the record's
        ``tail_f_mean`` is f averaged over the last 10% of it). ``diagnostics`` (names, or
        ``"a,b"``) are quantities the problem's family declares (problems.diagnostics, e.g.
        ``solution_distance``), measured at every checkpoint uncounted and never shown to the
        entry: ``record.trajectory[name]``, its last value at the final point."""
        from bench.profiles import get_profile
        from bench.runner import RunTask

        return RunTask(choice, problem, instance_seed, seed, seed, get_profile(profile),
                       self.suite, f"{self.version}-{scale}", budget, time_limit, sealed=True,
                       stop=stop, diagnostics=diagnostics)

    def code_digest(self) -> str:
        """sha256 (16 hex) of this claim's code without prose (bench.provenance.code_tokens)
        together with this framework's: what computed the measurement and the verdict."""
        from bench.provenance import code_tokens

        h = hashlib.sha256()
        for path in (pathlib.Path(inspect.getfile(type(self))), pathlib.Path(__file__)):
            h.update(code_tokens(path.read_bytes()))
        return h.hexdigest()[:16]


_CHOICES: dict[str, list] = {}


def choice(spec: str):
    """The :class:`bench.entries.EntryChoice` named by ``spec`` (``sgd-momentum[lr=5e-5]``),
    resolved once per process (resolving starts a sealed worker that describes the entry)."""
    if spec not in _CHOICES:
        from bench.entries import resolve_entry

        found = resolve_entry(spec)
        if len(found) != 1:
            raise ClaimError(f"{spec!r} names {len(found)} hyperparameter points; a claim names one")
        _CHOICES[spec] = found
    return _CHOICES[spec][0]


def in_processes(fn, jobs: Sequence[Any], workers: int = 2) -> list[Any]:
    """``[fn(job) for job in jobs]`` in ``workers`` fresh (spawned) processes: the in-process
    claims' independent configurations, one per core. ``fn`` must be a module-level function."""
    import concurrent.futures
    import multiprocessing

    with concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(fn, jobs))


# ------------------------------------------------------------------------------ discovery
def discover(package: str = CLAIMS_PACKAGE) -> dict[str, Claim]:
    """Every claim of ``package``, by id, in numeric order (``D2`` before ``D10``)."""
    pkg = importlib.import_module(package)
    found: dict[str, Claim] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        claim = getattr(module, "CLAIM", None)
        if not isinstance(claim, Claim):
            raise ClaimError(f"{package}/{info.name}.py defines no CLAIM = <bench.claims.Claim "
                             f"subclass>()")
        if not _ID.match(claim.id):
            raise ClaimError(f"{package}/{info.name}.py: claim id {claim.id!r} is not D<number>")
        if claim.id in found:
            raise ClaimError(f"claim {claim.id} is defined twice ({package}/{info.name}.py)")
        found[claim.id] = claim
    return dict(sorted(found.items(), key=lambda kv: int(kv[0][1:])))


def select(ids: Iterable[str], claims: dict[str, Claim]) -> list[Claim]:
    """The claims named by ``ids`` (case-insensitive; all when empty); an unknown id is an error
    naming the known ones."""
    ids = [i.upper() for i in ids]
    unknown = [i for i in ids if i not in claims]
    if unknown:
        raise ClaimError(f"unknown claim {', '.join(unknown)}; known: {', '.join(claims)} "
                         f"(see `bench reproduce --list`)")
    return [claims[i] for i in ids] if ids else list(claims.values())


# ------------------------------------------------------------------------------ results
def result_path(root: pathlib.Path, claim_id: str, scale: str) -> pathlib.Path:
    """Where a claim's result goes: ``<root>/<id>/result.json`` (full scale) or
    ``<root>/reduced/<id>/result.json`` (reduced: never mixed with a committed result)."""
    base = root / "reduced" if scale == "reduced" else root
    return base / claim_id / RESULT_FILE


def store_root(root: pathlib.Path, claim_id: str, scale: str) -> pathlib.Path:
    return result_path(root, claim_id, scale).parent / RECORDS_FILE


def result_data(claim: Claim, scale: str, m: Measurement, checks: Sequence[Check],
                records: Sequence, seconds: float) -> dict[str, Any]:
    """The JSON document of one reproduction: claim text, measurement, checks, verdict and
    provenance (harness version, the claim's code digest, versions, hardware, seeds)."""
    from bench.profiles import fingerprint, versions
    from bench.provenance import harness_version

    run_seeds = sorted({r.run_seed for r in records})
    return {
        "schema": RESULT_SCHEMA,
        "claim": claim.id, "title": claim.title, "source": claim.source,
        "statement": claim.statement, "setting": claim.setting, "metric": claim.metric,
        "expected": claim.expected, "claim_version": claim.version, "scale": scale,
        "verdict": judge(checks), "checks": [dataclasses.asdict(c) for c in checks],
        "measurement": m.to_data(),
        "runs": {"records": len(records), "suite": claim.suite,
                 "statuses": _count(r.status for r in records),
                 "run_seeds": _ranges(run_seeds),
                 "instance_seeds": sorted({r.instance_seed for r in records}),
                 "entries": sorted({r.entry for r in records}),
                 "problems": sorted({r.problem for r in records})},
        "provenance": {"harness_version": harness_version(), "claim_code": claim.code_digest(),
                       "versions": versions(), "hardware": fingerprint(),
                       "seconds": round(seconds, 1),
                       "created_at": datetime.datetime.now(datetime.timezone.utc)
                       .isoformat(timespec="seconds")},
    }


def _count(items: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return dict(sorted(out.items()))


def _ranges(values: list[int]) -> str:
    """[0, 1, 2, 5] -> "0-2, 5"."""
    parts, start = [], None
    for i, v in enumerate(values):
        if start is None:
            start = v
        if i + 1 == len(values) or values[i + 1] != v + 1:
            parts.append(f"{start}" if start == v else f"{start}-{v}")
            start = None
    return ", ".join(parts)


def write_result(path: pathlib.Path, data: dict[str, Any]) -> None:
    """Write atomically (a temporary file renamed over the old result)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    os.replace(tmp, path)


def read_result(path: pathlib.Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    if data.get("schema") != RESULT_SCHEMA:
        raise ClaimError(f"{path}: result schema {data.get('schema')!r}, expected {RESULT_SCHEMA}")
    return data


def rejudge(claim: Claim, data: dict[str, Any]) -> tuple[str, list[Check]]:
    """The verdict the claim's current checks give on a stored measurement."""
    checks = claim.checks(Measurement.from_data(data["measurement"]))
    return judge(checks), checks


# ------------------------------------------------------------------------------ statistics
def quantiles(values: Sequence[float], qs: Sequence[float] = (0.25, 0.5, 0.75)) -> list[float | None]:
    """Empirical quantiles (lower order statistic, so a censored +inf is never averaged in);
    None where the quantile is censored (+inf) or there are no values."""
    xs = sorted(values)
    out: list[float | None] = []
    for q in qs:
        if not xs:
            out.append(None)
            continue
        v = xs[min(len(xs) - 1, max(0, math.ceil(q * len(xs)) - 1))]
        out.append(None if math.isinf(v) else v)
    return out


def escape_times(records: Sequence) -> list[float]:
    """T_esc^f of each run in sample gradients (docs/methodology.md "Escape"): the record's
    ``escape_calls``, +inf for a run that did not escape within its budget (right-censored,
    never imputed)."""
    return [float(r.escape_calls) if r.escape_calls is not None else math.inf for r in records]


def escape_summary(records: Sequence) -> dict[str, Any]:
    """runs, fraction escaped, and the q25 / median / q75 of T_esc^f (None where censored)."""
    times = escape_times(records)
    q25, med, q75 = quantiles(times)
    escaped = sum(not math.isinf(t) for t in times)
    return {"runs": len(times), "escaped": escaped / len(times) if times else 0.0,
            "q25": q25, "median": med, "q75": q75}


def within_factor(measured: float | None, expected: float, factor: float) -> bool:
    """expected / factor <= measured <= expected * factor (False when nothing was measured)."""
    return measured is not None and expected / factor <= measured <= expected * factor
