"""The four checks of ``bench validate`` on one submitted entry (module + records).

1. **Entry module**: the lint (:mod:`bench.lint`) first; then the module imports in a sealed
   worker; its metadata (name = file stem with ``_`` as ``-``; authors, paper, license; oracle
   class; a search space whose dimensions parse, that holds the entry's defaults and every
   hyperparameter of its tuning file); conformance: the smoke suite at its defaults, sealed,
   gives no ``error``, ``timeout`` or ``harness_error`` record.
2. **Records** ``<results>/<suite>/<name>.jsonl`` (:mod:`bench.validate_records`): every line
   a current-schema record of this entry, of the current suite version, harness version and
   entry source hash, sealed, on the validated profile, track tuned or defaults at that track's
   hyperparameters (tuned: naming the committed tuning file, by path and sha256, and its trial),
   the suite's budget; every run of the suite present for each track; no run key twice.
3. **Reproduction**: a sample of the records, drawn by ``random.Random(seed).sample`` from the
   records sorted by (track, problem, instance, init, run seed), re-run sealed; every count
   field must be equal (:data:`COUNT_FIELDS`; seconds are not compared).
4. **Held-out instances**: the runs of every claimed track re-done on fresh instance seeds and
   compared with the records by the rule of :mod:`bench.validate_stats`.

Runs go through :func:`bench.executors.run_tasks` into a temporary store that is thrown away.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import random
import sys
import tempfile
from typing import Any, Callable, Sequence
#: the fields of a record that a re-run must reproduce exactly (``counts`` key by key)
COUNT_FIELDS = ("status", "calls_to_sosp", "grad_calls_to_sosp", "hvp_calls_to_sosp",
                "escape_calls", "sosp_bracket", "escape_bracket", "steps", "counts")
CONFORMANCE_SUITE = "smoke"
LISTED = 8  # failures listed one by one before "... and N more"


# ------------------------------------------------------------------------------ results
@dataclasses.dataclass
class Check:
    """One section of the report: ``status`` is pass, fail, skipped or "not run"."""

    title: str
    note: str = ""
    status: str = "pass"
    lines: list[str] = dataclasses.field(default_factory=list)
    table: list[str] = dataclasses.field(default_factory=list)

    def fail(self, line: str) -> None:
        self.status = "fail"
        self.lines.append(line)

    def info(self, line: str) -> None:
        self.lines.append(line)

    @property
    def failed(self) -> bool:
        return self.status == "fail"


class Findings:
    """Failure messages with the record lines that have them, grouped by message."""

    def __init__(self) -> None:
        self.lines: dict[str, list[int]] = {}

    def add(self, message: str, line: int) -> None:
        self.lines.setdefault(message, []).append(line)

    def report(self, check: Check, where: str) -> None:
        for message, lines in self.lines.items():
            shown = ", ".join(map(str, lines[:LISTED]))
            more = f" and {len(lines) - LISTED} more" if len(lines) > LISTED else ""
            noun = "line" if len(lines) == 1 else "lines"
            check.fail(f"`{where}` {noun} {shown}{more}: {message}")


def listed(items: Sequence[str]) -> str:
    more = f" ... and {len(items) - LISTED} more" if len(items) > LISTED else ""
    return "; ".join(items[:LISTED]) + more


def display(path: pathlib.Path) -> str:
    """``path`` relative to the working folder when inside it."""
    try:
        return str(pathlib.Path(path).resolve().relative_to(pathlib.Path.cwd().resolve()))
    except ValueError:
        return str(path)


# ------------------------------------------------------------------------------ the entry
@dataclasses.dataclass
class Submission:
    """A submitted entry: ``name`` is the name its file stem gives; ``info`` the
    :class:`bench.entry_info.EntryInfo` once it imports (a file outside the package's
    optimizers/ is validated under that name, not under its path)."""

    spec: str
    name: str
    ref: dict[str, Any]
    sources: list[tuple[str, bytes]]
    info: Any = None
    meta: dict[str, Any] | None = None

    @property
    def source_hash(self) -> str:
        from bench.entry_info import source_digest

        return self.info.source_hash() if self.info is not None else source_digest(self.ref, self.sources)

    def choice(self, track: str, families, tuning_dir: pathlib.Path):
        """The EntryChoice of ``track`` (bench.tuning.apply_track); raises TuningError."""
        from bench.entries import EntryChoice
        from bench.tuning import apply_track, tuning_path

        base = EntryChoice(self.info, {}, self.name)
        tuning = tuning_path(self.name, tuning_dir) if track == "tuned" else None
        return apply_track([base], track, families, tuning)[0]


def entry_name_of(spec: str) -> str:
    """The entry name a spec stands for: a path's file stem with ``_`` as ``-``, else the spec."""
    return pathlib.Path(spec).stem.replace("_", "-") if spec.endswith(".py") else spec


def locate_submission(spec: str) -> Submission:
    """Find the entry's files (nothing of it runs). A path inside the package's optimizers/
    is the built-in entry of that name. Raises bench.entry_info.LocateError."""
    from bench.entry_info import LocateError, locate, source_files
    from bench.sandbox import sandbox
    from optimizers.base import FOLDER

    name = entry_name_of(spec)
    target = spec
    if spec.endswith(".py"):
        path = pathlib.Path(spec)
        if not path.is_file():
            raise LocateError(f"entry module {spec!r} does not exist; give a built-in entry name "
                              f"or the path optimizers/<name>.py")
        if path.resolve().parent == FOLDER.resolve():
            target = name
        else:
            target = str(path)
    elif "." in spec or ":" in spec or "[" in spec:
        raise LocateError(f"{spec!r} is not an entry: bench validate takes a built-in entry name "
                          f"or the path of an entry module, optimizers/<name>.py")
    ref = locate(target, sandbox().entry_folder)
    return Submission(spec, name, dict(ref), source_files(ref))


# ------------------------------------------------------------------------------ runs
@dataclasses.dataclass
class Context:
    """What every check of one validation shares."""

    suite: Any
    profile: Any
    results: pathlib.Path
    reproduce: int | None  # records to re-run; None: all
    held_out: int  # held-out instances (0: skip the check)
    workers: int | None
    tuning_dir: pathlib.Path
    reproduce_seed: int
    held_out_seeds: tuple[int, ...]
    tracks: tuple[str, ...] = ("defaults", "tuned")  # the tracks whose records must be complete
    say: Callable[[str], None] = lambda text: print(text, file=sys.stderr)


def _cannot_run(check, skipped: bool, flag: str, sub, records) -> bool:
    """Mark ``check`` skipped (by ``flag``) or not run (no entry or no usable record); True if
    so."""
    if skipped:
        check.status = "skipped"
        check.info(f"skipped ({flag})")
    elif sub.info is None or not records:
        check.status = "not run"
        check.info("not run: " + ("the entry module check failed" if sub.info is None
                                  else "no usable record (see Records)"))
    return check.status in ("skipped", "not run")


def run_sealed(tasks: list, ctx: Context) -> dict[tuple, Any]:
    """Run ``tasks`` sealed (bench.executors.run_tasks, a temporary store); their records by
    identity (track, problem, instance, init, run seed)."""
    from bench.executors import run_tasks, stderr_progress
    from bench.store import ResultsStore

    if not tasks:
        return {}
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        executor = "serial" if ctx.workers == 1 else "local"
        records = run_tasks(tasks, ResultsStore(tmp), executor=executor, workers=ctx.workers,
                            progress=stderr_progress(), force=True)
    return {identity(r): r for r in records}


def identity(record) -> tuple:
    return (record.track, record.problem, record.instance_seed, record.init_seed, record.run_seed)


def describe_run(ident: tuple) -> str:
    track, problem, inst, init, run = ident
    return f"{problem} instance {inst}, init seed {init}, run seed {run}, track {track}"


def suite_tasks(choice, suite, profile, instance_seeds: dict[str, Sequence[int]] | None = None):
    """RunTasks of ``choice`` on every run of ``suite`` (on ``instance_seeds[problem]`` instead
    of the suite's instance seeds when given)."""
    from bench.runner import RunTask

    tasks = []
    for item in suite.items:
        instances = item.instance_seeds if instance_seeds is None else instance_seeds[item.problem]
        for inst in instances:
            for seed in range(item.seeds):
                tasks.append(RunTask(choice, item.problem, inst, seed, seed, profile, suite.name,
                                     suite.version, item.budget, item.time_limit))
    return tasks


# ------------------------------------------------------------------------------ 1. module
def check_entry_module(sub: Submission, ctx: Context) -> Check:
    """Lint, import, metadata and conformance (the module docstring, item 1)."""
    from bench.lint import lint_source

    check = Check("Entry module", note=f"`{sub.spec}` ({', '.join(n for n, _ in sub.sources) or 'no source file'})")
    found = []
    for fname, data in sub.sources:
        try:
            found.extend(lint_source(data.decode("utf-8", errors="replace"), fname))
        except SyntaxError as exc:
            found.append(f"{fname} is not valid Python: {exc}")
    if not sub.sources:
        found.append("no source file found for the entry")
    if found:
        check.fail(f"lint: the entry reaches into the harness (entries get gradients, values and "
                   f"HVPs only through the closure): {listed(found)}")
        check.info("import, metadata and conformance not run: fix the lint findings first")
        return check
    check.info("lint: clean")
    if not _import_and_describe(sub, check):
        return check
    _check_metadata(sub, ctx, check)
    if sub.info is None:
        check.info("conformance not run: fix the metadata first")
        return check
    _check_conformance(sub, ctx, check)
    return check


def _import_and_describe(sub: Submission, check: Check) -> bool:
    from bench.entry_info import describe
    from bench.sandbox import sandbox

    try:
        sub.meta = dict(describe(sub.ref, sandbox()))
    except Exception as exc:  # EntryFailed, or the worker could not start
        check.fail(f"import: the module does not import in a sealed worker: {str(exc)[:600]}")
        check.info("metadata and conformance not run")
        return False
    check.info("import: the module imports in a sealed worker and defines ENTRY")
    return True


def _check_metadata(sub: Submission, ctx: Context, check: Check) -> None:
    from optimizers.base import ORACLE_CLASSES, dimension_from_data

    meta, problems = sub.meta or {}, []
    if meta.get("name") != sub.name:
        problems.append(f"ENTRY.name is {meta.get('name')!r}, the file name says {sub.name!r} "
                        f"(file stem with _ written as -)")
    for key in ("authors", "paper", "license"):
        if not isinstance(meta.get(key), str) or not meta.get(key, "").strip():
            problems.append(f"ENTRY.{key} is empty: say where the method comes from")
    if meta.get("oracle_class") not in ORACLE_CLASSES:
        problems.append(f"oracle_class {meta.get('oracle_class')!r} is not one of {ORACLE_CLASSES}")
    space, defaults = meta.get("search_space") or {}, meta.get("defaults") or {}
    if not space:
        problems.append("ENTRY declares no search_space (what `bench tune` searches)")
    dims = {}
    for key, data in space.items():
        try:
            dims[key] = dimension_from_data(data)
        except (TypeError, ValueError) as exc:
            problems.append(f"search_space[{key!r}]: {exc}")
    for key, dim in dims.items():
        value = defaults.get(key)
        if value is not None and not contains(dim, value):
            problems.append(f"default {key}={value!r} lies outside its search space {data_text(space[key])}")
    problems += tuning_coverage(sub.name, dims, ctx.tuning_dir)
    for p in problems:
        check.fail(f"metadata: {p}")
    if problems:
        return
    sub.info = submission_info(sub)
    check.info(f"metadata: name {sub.name}, {meta.get('oracle_class')}, search space "
               f"{', '.join(f'{k} {data_text(v)}' for k, v in sorted(space.items()))}; defaults inside")


def submission_info(sub: Submission):
    """The EntryInfo of a described submission (``sub.meta`` set), named ``sub.name``: a file
    entry outside optimizers/ would otherwise be named by its path."""
    from bench.entry_info import entry_info

    info = entry_info(sub.ref, sub.meta, sub.sources)
    return info if sub.ref["kind"] == "builtin" else dataclasses.replace(info, name=sub.name)


def tuning_coverage(name: str, dims: dict, tuning_dir: pathlib.Path) -> list[str]:
    """What is wrong with the entry's tuning file (if it has one) against the search space
    ``dims`` (name -> dimension): every tuned hyperparameter must be a point of the space."""
    from bench.tuning import TuningError, load_tuning, tuning_path

    path = tuning_path(name, tuning_dir)
    if not path.is_file():
        return []
    try:
        tf = load_tuning(path)
    except TuningError as exc:
        return [str(exc)]
    out = []
    for family, chosen in sorted(tf.data.get("choice", {}).items()):
        for key, value in sorted(chosen.get("hparams", {}).items()):
            if key not in dims:
                out.append(f"{display(path)} tunes {key} on {family}, which the search_space "
                           f"does not declare")
            elif not contains(dims[key], value):
                out.append(f"{display(path)} sets {key}={value!r} on {family}, outside the "
                           f"search space")
    return out


def contains(dim, value) -> bool:
    """Whether ``value`` is a point of the search-space dimension (3-digit rounding allowed)."""
    from optimizers.base import Choice

    if isinstance(dim, Choice):
        return value in dim.values
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    tol = 1e-9 * max(abs(dim.low), abs(dim.high))
    return dim.low - tol <= value <= dim.high + tol


def data_text(data: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in data.items())


def _check_conformance(sub: Submission, ctx: Context, check: Check) -> None:
    from bench.suites import get_suite

    smoke = get_suite(CONFORMANCE_SUITE)
    choice = sub.choice("defaults", smoke.families(), ctx.tuning_dir)
    tasks = suite_tasks(choice, smoke, ctx.profile)
    ctx.say(f"bench validate: {sub.name}: conformance, {len(tasks)} sealed runs on {smoke.name}")
    records = run_sealed(tasks, ctx).values()
    bad = [f"{r.problem} run seed {r.run_seed}: {r.status}"
           f"{': ' + r.message.splitlines()[0][:200] if r.message else ''}"
           for r in records if r.status in ("error", "timeout", "harness_error")]
    if bad:
        check.fail(f"conformance: sealed runs on suite {smoke.name} at the defaults ended in error: "
                   f"{listed(bad)}")
    else:
        done = sum(r.status == "certified" for r in records)
        check.info(f"conformance: {len(tasks)} sealed runs on suite {smoke.name} at the defaults, "
                   f"no error or timeout ({done} certified)")


def normalized(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples as lists, keys as strings)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


# ------------------------------------------------------------------------------ 3. reproduction
def reproduction_sample(records: list, n: int | None, seed: int) -> list:
    """The records to re-run: ``random.Random(seed).sample`` of ``records`` sorted by identity
    (all of them when ``n`` is None or at least their number)."""
    ordered = sorted(records, key=identity)
    if n is None or n >= len(ordered):
        return ordered
    return sorted(random.Random(seed).sample(ordered, n), key=identity)


def count_differences(claimed, rerun) -> list[str]:
    """``field: claimed X, re-run Y`` for every count field that differs."""
    out = []
    for field in COUNT_FIELDS:
        a, b = getattr(claimed, field), getattr(rerun, field)
        if field == "counts":
            for key in sorted(set(a) | set(b)):
                if a.get(key) != b.get(key):
                    out.append(f"counts.{key}: claimed {a.get(key)}, re-run {b.get(key)}")
        elif normalized(a) != normalized(b):
            out.append(f"{field}: claimed {a}, re-run {b}")
    return out


def check_reproduction(sub: Submission, ctx: Context, records: list) -> Check:
    """Item 3 of the module docstring."""
    how = "all records" if ctx.reproduce is None else f"{ctx.reproduce} records"
    check = Check("Reproduction", note=f"{how}, drawn by random.Random({ctx.reproduce_seed}), "
                                       f"re-run sealed on profile {ctx.profile.name}")
    if _cannot_run(check, ctx.reproduce == 0, "--reproduce 0", sub, records):
        return check
    sample = reproduction_sample(records, ctx.reproduce, ctx.reproduce_seed)
    tasks, errors = _tasks_for(sub, ctx, sample)
    for message in errors:
        check.fail(message)
    ctx.say(f"bench validate: {sub.name}: reproduction, {len(tasks)} sealed runs")
    reruns = run_sealed(tasks, ctx)
    matched = 0
    for record in sample:
        rerun = reruns.get(identity(record))
        if rerun is None:
            continue
        diffs = count_differences(record, rerun)
        if diffs:
            check.fail(f"{describe_run(identity(record))}: {'; '.join(diffs)}")
        else:
            matched += 1
    check.info(f"{matched} of {len(sample)} re-run records match every count "
               f"({', '.join(COUNT_FIELDS)}): "
               f"{listed([describe_run(identity(r)) for r in sample])}")
    return check


def _tasks_for(sub: Submission, ctx: Context, records: list) -> tuple[list, list[str]]:
    from bench.runner import RunTask
    from problems import canonical_id

    items = {canonical_id(item.problem): item for item in ctx.suite.items}
    tasks, errors, choices = [], [], {}
    for r in records:
        if r.track not in choices:
            try:
                choices[r.track] = sub.choice(r.track, ctx.suite.families(), ctx.tuning_dir)
            except Exception as exc:
                choices[r.track] = None
                errors.append(f"track {r.track} cannot be re-run: {exc}")
        if choices[r.track] is None:
            continue
        item = items[r.problem]
        tasks.append(RunTask(choices[r.track], item.problem, r.instance_seed, r.init_seed,
                             r.run_seed, ctx.profile, ctx.suite.name, ctx.suite.version,
                             item.budget, item.time_limit))
    return tasks, errors


# ------------------------------------------------------------------------------ 4. held-out
def draw_held_out_seeds(k: int, suite, entropy: bytes) -> tuple[int, ...]:
    """``k`` distinct instance seeds in [1000, 2^31) from ``entropy`` (os.urandom), none of them
    an evaluation or tuning instance seed of ``suite``."""
    used = set(suite.tuning_instance_seeds) | {s for item in suite.items for s in item.instance_seeds}
    rng = random.Random(int.from_bytes(entropy, "big"))
    out: list[int] = []
    while len(out) < k:
        seed = rng.randrange(1000, 2**31)
        if seed not in used and seed not in out:
            out.append(seed)
    return tuple(out)


def held_out_comparisons(sub: Submission, ctx: Context, records: list):
    """(comparisons, errors): the runs of every claimed track re-done on the held-out instance
    seeds, compared per (track, problem) with the claimed records."""
    from bench.validate_stats import Comparison
    from leaderboard.scoring import run_cost
    from problems import canonical_id

    tracks = sorted({r.track for r in records})
    fresh = {item.problem: ctx.held_out_seeds for item in ctx.suite.items}
    tasks, errors = [], []
    for track in tracks:
        try:
            choice = sub.choice(track, ctx.suite.families(), ctx.tuning_dir)
        except Exception as exc:
            errors.append(f"track {track} cannot be run: {exc}")
            continue
        tasks += suite_tasks(choice, ctx.suite, ctx.profile, fresh)
    ctx.say(f"bench validate: {sub.name}: held-out instances {', '.join(map(str, ctx.held_out_seeds))}, "
            f"{len(tasks)} sealed runs")
    reruns = list(run_sealed(tasks, ctx).values())
    m = len(tracks) * len(ctx.suite.items)
    out = []
    for track in tracks:
        for item in ctx.suite.items:
            pid = canonical_id(item.problem)
            claimed = [r for r in records if r.track == track and r.problem == pid]
            held = [r for r in reruns if r.track == track and r.problem == pid]
            out.append(Comparison(
                track, pid, tuple(run_cost(r.status, r.calls_to_sosp, r.budget) for r in claimed),
                tuple(run_cost(r.status, r.calls_to_sosp, r.budget) for r in held),
                sum(r.status == "certified" for r in claimed), sum(r.status == "certified" for r in held), m))
    return out, errors


def check_held_out(sub: Submission, ctx: Context, records: list) -> Check:
    """Item 4 of the module docstring."""
    from bench.validate_stats import ALPHA, RATIO_FLOOR

    seeds = ", ".join(map(str, ctx.held_out_seeds))
    check = Check("Held-out instances", note=f"instance seeds {seeds or '(none)'} (os.urandom)")
    if _cannot_run(check, ctx.held_out == 0, "--held-out 0", sub, records):
        return check
    comparisons, errors = held_out_comparisons(sub, ctx, records)
    for message in errors:
        check.fail(message)
    m = len(comparisons)
    check.info(f"rule: a problem fails when the held-out runs cost more than the claimed ones by "
               f"the exact one-sided Wilcoxon-Mann-Whitney rank-sum test at p < {ALPHA:g}/{m} "
               f"(Bonferroni over {m} track x problem comparisons) **and** the held-out penalized "
               f"median is at least {RATIO_FLOOR:g}x the claimed one (cost: calls to SOSP, a "
               f"failed run 2 x budget)")
    check.info("false alarms: replayed on the committed standard archive (honest entries, "
               "instance-to-instance variation included), the rule fails 1.0% of validations on "
               "average and at most 3.7% for an entry that certifies on some instances and fails "
               "on others; run `bench validate` again for a new draw of instances")
    check.table = ["| track | problem | claimed: certified, median cost | held-out: certified, "
                   "median cost | ratio | p | verdict |", "|---|---|---|---|---|---|---|"]
    for c in comparisons:
        verdict = "**FAIL**" if c.flagged else "pass"
        check.table.append(
            f"| {c.track} | {c.problem} | {c.claimed_certified}/{len(c.claimed)}, "
            f"{_cost(c.claimed_median)} | {c.held_out_certified}/{len(c.held_out)}, "
            f"{_cost(c.held_out_median)} | {c.ratio:.3g} | {c.p_value:.2g} | {verdict} |")
        if c.flagged:
            check.fail(f"{c.problem} (track {c.track}): held-out runs cost {c.ratio:.3g}x the "
                       f"claimed ones (median {_cost(c.held_out_median)} vs "
                       f"{_cost(c.claimed_median)}), p = {c.p_value:.2g} < {c.level:.2g}: the "
                       f"claimed records are better than the entry is on instances it has not seen")
    return check


def _cost(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.0f}"
