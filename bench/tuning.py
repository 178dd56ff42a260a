r"""The tuning protocol: one search procedure, one budget of trials, for every entry.

The *tuned* track ranks each entry at the hyperparameters this protocol picks; the *defaults*
track ranks it at its own defaults. The protocol follows the external-tuning ruleset of AlgoPerf
(Dahl et al., "Benchmarking neural network training algorithms", 2023): the entry declares a
search space (:class:`optimizers.base.LogUniform`, ``Uniform``, ``Choice``), the same on every
problem family, and the harness, not the submitter, searches it.

1. **Trials**: N points :math:`h_1..h_N` of the space from a scrambled Sobol sequence
   (``scipy.stats.qmc.Sobol``, seed ``SAMPLER_SEED``); the same N for every entry, the same
   points for every entry with the same space. Floats are rounded to 3 significant digits.
2. **Tuning runs**: every trial runs on every problem of the suite, on the suite's *tuning
   instances* (instance seeds disjoint from the evaluation instances) with run seeds
   0..``tuning_seeds``-1, each with the problem's budget and time limit of the suite, sealed,
   like any other run (suite name ``<suite>-tuning``).
3. **Objective** of trial t on family F, over the family's problems P_F in the suite:

   .. math::
       J_F(t) = \Big(\prod_{p\in P_F} \frac{\operatorname{med}_{\text{runs}}\, c_{t,p}}{B_p}\Big)^{1/|P_F|},
       \qquad c = \begin{cases}\text{calls to SOSP} & \text{certified}\\
                                \text{FAILURE\_PENALTY}\cdot B_p & \text{otherwise}\end{cases}

   the geometric mean over the family's problems of the penalized median cost as a fraction
   of the budget :math:`B_p` (a failure costs twice the budget, as in the leaderboard's
   ranking), so each problem weighs the same and failures count.
4. **Choice**: per family, the trial with the smallest :math:`J_F`; ties go to more certified
   tuning runs, then to the lower trial index. The choice, the full trial table and the
   protocol are written to ``leaderboard/tuning/<entry>.json``; runs of the tuned track read
   it and record its path, sha256 and the chosen trial (``RunRecord.tuning``).

A tuning file is bound to the entry's code: it stores the entry's source hash, and a run refuses
a file made for other code (re-run ``bench tune``).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import math
import pathlib
import statistics
from typing import Any, Iterable, Mapping, Sequence

ROOT = pathlib.Path(__file__).resolve().parents[1]
TUNING_DIR = ROOT / "leaderboard" / "tuning"
SAMPLER_SEED = 0
FORMAT_VERSION = 1


class TuningError(ValueError):
    """A tuning file that cannot be used, or a tuning that cannot run; the message says why."""


# ------------------------------------------------------------------------------ trial points
def _round_sig(x: float, digits: int = 3) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits - 1}e}")


def trial_points(space: Mapping[str, Mapping[str, Any]], n: int, seed: int = SAMPLER_SEED) -> list[dict]:
    """The N trial points of a search space given as data (``Entry.search_space`` as
    ``to_data()``): a scrambled Sobol sequence in [0, 1)^k mapped through each dimension,
    dimensions in name order."""
    from scipy.stats import qmc

    from optimizers.base import dimension_from_data

    if not space:
        raise TuningError("the entry declares no search_space: add one to its Entry (e.g. "
                          "search_space={'lr': LogUniform(1e-4, 1.0)}) to tune it")
    if n < 1:
        raise TuningError(f"--trials must be at least 1, got {n}")
    names = sorted(space)
    dims = [dimension_from_data(space[k]) for k in names]
    sampler = qmc.Sobol(d=len(names), scramble=True, seed=seed)
    m = max(0, math.ceil(math.log2(n)))
    units = sampler.random_base2(m)[:n]  # a power-of-two prefix keeps Sobol's balance
    out = []
    for row in units:
        point = {}
        for name, dim, u in zip(names, dims, row):
            v = dim.value(float(u))
            point[name] = _round_sig(v) if isinstance(v, float) else v
        out.append(point)
    return out


# ------------------------------------------------------------------------------ the objective
def run_cost(record, penalty: float) -> float:
    """c of one run: calls to SOSP when certified, else ``penalty`` x its budget (the
    leaderboard's own rule, :func:`leaderboard.scoring.run_cost`)."""
    from leaderboard.scoring import run_cost as cost

    return cost(record.status, record.calls_to_sosp, record.budget, penalty)


def trial_table(records_by_label: Mapping[str, Mapping[str, list]], labels: Sequence[str],
                trials: Sequence[Mapping[str, Any]], problems: Sequence[str],
                penalty: float) -> list[dict]:
    """Per trial: its point and, per problem, runs, certified runs and the penalized median cost
    over the budget (``records_by_label[label][problem]``: the trial's tuning runs)."""
    table = []
    for t, (label, point) in enumerate(zip(labels, trials)):
        per_problem = {}
        for pid in problems:
            runs = records_by_label.get(label, {}).get(pid, [])
            if not runs:
                per_problem[pid] = {"runs": 0, "certified": 0, "cost": None}
                continue
            budget = float(runs[0].budget)
            per_problem[pid] = {
                "runs": len(runs),
                "certified": sum(r.status == "certified" for r in runs),
                "cost": statistics.median(run_cost(r, penalty) for r in runs) / budget,
            }
        table.append({"trial": t, "label": label, "hparams": dict(point), "problems": per_problem})
    return table


def family_objective(row: Mapping[str, Any], problems: Sequence[str]) -> float:
    """J_F(t): geometric mean of the penalized median cost / budget over the family's problems
    (inf when a problem has no run)."""
    costs = [row["problems"][p]["cost"] for p in problems]
    if any(c is None for c in costs):
        return math.inf
    return math.exp(sum(math.log(c) for c in costs) / len(costs))


def choose(table: Sequence[Mapping[str, Any]], families: Mapping[str, Sequence[str]]) -> dict[str, dict]:
    """Per family: the trial minimizing J_F; ties -> more certified runs, then lower index."""
    out = {}
    for family, problems in sorted(families.items()):
        def key(row):
            cert = sum(row["problems"][p]["certified"] for p in problems)
            return (family_objective(row, problems), -cert, row["trial"])

        best = min(table, key=key)
        runs = sum(best["problems"][p]["runs"] for p in problems)
        cert = sum(best["problems"][p]["certified"] for p in problems)
        out[family] = {"trial": best["trial"], "hparams": dict(best["hparams"]),
                       "problems": list(problems),
                       "objective": family_objective(best, problems),
                       "certified": cert, "runs": runs}
    return out


# ------------------------------------------------------------------------------ the file
@dataclasses.dataclass(frozen=True)
class TuningFile:
    """A committed tuning result: ``choice[family]["hparams"]`` is what the tuned track runs."""

    path: str  # as recorded: relative to the repository when inside it
    sha256: str
    data: Mapping[str, Any]

    def hparams(self, family: str) -> dict[str, Any]:
        choice = self.data.get("choice", {})
        if family not in choice:
            raise TuningError(f"{self.path} has no tuned values for the {family} family (tuned on "
                              f"{', '.join(sorted(choice)) or 'nothing'}): tune on a suite with "
                              f"{family} problems, or run the defaults track (--track defaults)")
        return dict(choice[family]["hparams"])

    def families(self) -> set[str]:
        return set(self.data.get("choice", {}))

    def provenance(self, family: str) -> dict[str, Any]:
        return {"file": self.path, "sha256": self.sha256, "trial": self.data["choice"][family]["trial"],
                "suite": self.data.get("suite"), "suite_version": self.data.get("suite_version"),
                "trials": self.data.get("protocol", {}).get("trials")}


def _display_path(path: pathlib.Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def tuning_path(entry_name: str, folder: pathlib.Path = TUNING_DIR) -> pathlib.Path:
    """``<folder>/<name>.json``; a file entry's name (a path, ``dir/my_opt.py:Class``) is reduced
    to a safe file name."""
    import re

    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", entry_name.replace(".py", "")).strip("._") or "entry"
    return pathlib.Path(folder) / f"{stem}.json"


def load_tuning(path: str | pathlib.Path, source_hash: str | None = None) -> TuningFile:
    """Read a tuning file; with ``source_hash``, refuse a file made for other entry code."""
    path = pathlib.Path(path)
    try:
        raw = path.read_bytes()
        data = json.loads(raw)
    except OSError as exc:
        raise TuningError(f"cannot read tuning file {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise TuningError(f"tuning file {path} is not valid JSON ({exc}); re-run bench tune") from None
    if not isinstance(data, dict) or not isinstance(data.get("choice"), dict):
        raise TuningError(f"tuning file {path} has no 'choice' table; re-run bench tune")
    if source_hash is not None and data.get("entry_source_hash") != source_hash:
        raise TuningError(
            f"tuning file {path} was made for other code of entry {data.get('entry')!r} (source "
            f"hash {data.get('entry_source_hash')}, now {source_hash}): re-run "
            f"`bench tune -o {data.get('entry')}` or run the defaults track (--track defaults)")
    return TuningFile(_display_path(path), hashlib.sha256(raw).hexdigest(), data)


def write_tuning(path: pathlib.Path, data: Mapping[str, Any]) -> None:
    """Write atomically (a temporary file renamed over the old one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, allow_nan=False) + "\n")
    tmp.replace(path)


def merge(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """``new`` (a tuning of some families) merged into ``old`` (the entry's file): the families
    of ``new`` replace theirs, the others are kept. Both must come from the same protocol, trial
    points, suite version and entry code; anything else is refused (re-tune every family)."""
    for key in ("entry", "entry_source_hash", "suite", "suite_version", "protocol", "search_space"):
        if old.get(key) != new.get(key):
            raise TuningError(f"cannot merge: the existing tuning file differs in {key!r}; tune "
                              f"every family (drop --families)")
    if [t["hparams"] for t in old["trials"]] != [t["hparams"] for t in new["trials"]]:
        raise TuningError("cannot merge: different trial points; tune every family (drop --families)")
    trials = []
    for a, b in zip(old["trials"], new["trials"]):
        trials.append({**a, "problems": {**a["problems"], **b["problems"]}})
    harness = dict(old.get("harness_versions") or {f: old.get("harness_version") for f in old["choice"]})
    harness.update({f: new["harness_version"] for f in new["choice"]})
    return {**new, "trials": trials, "choice": {**old["choice"], **new["choice"]},
            "harness_versions": harness, "runs": old.get("runs", 0) + new.get("runs", 0)}


def tuning_document(info, suite, trials: Sequence[Mapping[str, Any]], table: list[dict],
                    choice: Mapping[str, Any], penalty: float, records: Sequence) -> dict[str, Any]:
    """The JSON written for one entry: protocol, trial table, choice and provenance."""
    from bench.profiles import versions
    from bench.provenance import harness_version

    hv = harness_version()
    return {
        "format_version": FORMAT_VERSION,
        "entry": info.name,
        "entry_source_hash": info.source_hash(),
        "suite": suite.name,
        "suite_version": suite.version,
        "harness_version": hv,
        "harness_versions": {family: hv for family in choice},  # per family (see merge)
        "protocol": {
            "trials": len(trials), "sampler": "scipy.stats.qmc.Sobol(scramble=True)",
            "sampler_seed": SAMPLER_SEED, "tuning_instance_seeds": list(suite.tuning_instance_seeds),
            "run_seeds": list(range(suite.tuning_seeds)), "failure_penalty": penalty,
            "objective": "per family: geometric mean over its problems of "
                         "median(calls to SOSP, failures at failure_penalty x budget) / budget",
        },
        "search_space": dict(info.search_space),
        "defaults": dict(info.defaults),
        "trials": table,
        "choice": dict(choice),
        "runs": len(records),
        "hardware": sorted({str(r.hardware.get("id", "")) for r in records}),
        "versions": versions(),
        "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


# ------------------------------------------------------------------------------ tracks
TRACK_CHOICES = ("auto", "tuned", "defaults")


def apply_track(choices: Sequence, track: str, families: Iterable[str],
                tuning: str | pathlib.Path | None = None, notes: list[str] | None = None) -> list:
    """The choices with their track set (``bench run --track``):

    * ``defaults``: the entry's own defaults on every family;
    * ``tuned``: the values of its tuning file (``leaderboard/tuning/<name>.json`` for a built-in
      entry, ``tuning`` otherwise), which must cover every family run and match the entry's code;
    * ``auto``: tuned where such a file exists, else defaults (a note says why).

    A choice with hyperparameters of its own (``adam[lr=0.01]``, ``--hparams``) is the
    ``custom`` track and is never ranked; naming ``tuned``/``defaults`` for it is an error."""
    families = set(families)
    if tuning is not None and len(choices) > 1:
        raise TuningError("--tuning names the tuning file of ONE entry; run the entries one by one")
    out = []
    for c in choices:
        if c.overrides:
            if track != "auto":
                raise TuningError(f"{c.label} sets its own hyperparameters, which is the custom "
                                  f"track; --track {track} runs the entry's {track} values: drop "
                                  f"the bracketed values / --hparams, or drop --track")
            out.append(c)
            continue
        if track == "defaults":
            out.append(dataclasses.replace(c, track="defaults"))
            continue
        ref = getattr(c.entry, "ref", None) or {}
        path = pathlib.Path(tuning) if tuning is not None else (
            tuning_path(c.entry.name) if ref.get("kind") == "builtin" else None)
        reason = None
        if path is None:
            reason = f"{c.label} is not a built-in entry: pass its tuning file with --tuning"
        elif not path.is_file():
            reason = f"there is no tuning file {_display_path(path)} (make it with `bench tune -o {c.entry.name}`)"
        else:
            try:
                tf = load_tuning(path, c.entry.source_hash())
            except TuningError as exc:
                if track == "tuned":
                    raise
                reason = str(exc)
            else:
                missing = families - tf.families()
                if not missing:
                    out.append(dataclasses.replace(c, track="tuned", tuning=tf))
                    continue
                reason = (f"{tf.path} has no tuned values for {', '.join(sorted(missing))}")
        if track == "tuned":
            raise TuningError(f"--track tuned: {reason}")
        if notes is not None:
            notes.append(f"{c.label}: defaults track ({reason})")
        out.append(dataclasses.replace(c, track="defaults"))
    return out
