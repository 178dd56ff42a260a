"""Check 2 of ``bench validate``: the records file ``<results>/<suite>/<name>.jsonl``.

Every line must be a current-schema :class:`bench.records.RunRecord` of this entry (one entry
per file), of the current suite and suite version, made by this code
(:func:`bench.provenance.harness_version`) and this entry source, sealed, on the validated
profile, with the suite's budget, on the tuned or defaults track at that track's
hyperparameters (tuned: naming the committed tuning file by path and sha256, and its trial); no
run key twice; and on each track required (``--tracks``, by default both), every run of the suite.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any, Callable

from bench.validate_checks import (Check, Context, Findings, Submission, display,
                                   listed, normalized)
from leaderboard.boards import RANKED_TRACKS


def records_path_in(results: pathlib.Path, suite, name: str) -> pathlib.Path:
    """``<results>/<suite>/<name>.jsonl``."""
    return pathlib.Path(results) / suite.name / f"{name}.jsonl"


def read_record_lines(path: pathlib.Path, findings: Findings) -> list[tuple[int, Any]]:
    """(line number, RunRecord) of every line that is a current-schema record; the others go
    to ``findings``."""
    from bench.records import SCHEMA_VERSION, RunRecord, check_record_dict

    out = []
    lines = path.read_bytes().split(b"\n")
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            if lineno != len(lines):  # the text after the final newline
                findings.add("an empty line (the store writes none)", lineno)
            continue
        try:
            data = json.loads(raw)
        except ValueError as exc:
            findings.add(f"not valid JSON ({exc})", lineno)
            continue
        problem = check_record_dict(data)
        if problem:
            findings.add(f"not a record: {problem}", lineno)
            continue
        version = data.get("schema_version", 1)
        if version != SCHEMA_VERSION:
            findings.add(f"schema_version {version}, the current schema is {SCHEMA_VERSION}: an "
                         f"older record; re-run it", lineno)
            continue
        try:
            out.append((lineno, RunRecord.from_dict(data)))
        except (TypeError, ValueError) as exc:
            findings.add(f"not a record: {exc}", lineno)
    return out


def claimed_tracks(path: pathlib.Path, suite) -> set[str]:
    """The ranked tracks among the readable records of ``suite`` in ``path`` (cheap peek)."""
    if not path.is_file():
        return set()
    return {r.track for _, r in read_record_lines(path, Findings())
            if r.suite == suite.name and r.track in RANKED_TRACKS}


def check_records(sub: Submission, ctx: Context) -> tuple[Check, list]:
    """The records check (module docstring); also returns the usable claimed records: the newest
    record of each run of the suite on this profile and a ranked track."""
    from bench.provenance import harness_version
    from problems import canonical_id

    path = records_path_in(ctx.results, ctx.suite, sub.name)
    check = Check("Records", note=f"`{display(path)}`")
    suite, profile = ctx.suite, ctx.profile.name
    rerun = (f"`bench run --optimizer {sub.name} --suite {suite.name} --track <tuned|defaults> "
             f"--profile {profile} --results {display(ctx.results)}`")
    if not path.is_file():
        check.fail(f"no records file `{display(path)}`: run the suite on both tracks, {rerun}")
        return check, []
    findings = Findings()
    parsed = read_record_lines(path, findings)
    items = {canonical_id(item.problem): item for item in suite.items}
    expected = {(canonical_id(item.problem), inst, init, run)
                for item in suite.items for inst, init, run in item.seed_triples()}
    current, source_hash = harness_version(), sub.source_hash
    choices, choice_errors = {}, {}
    for track in RANKED_TRACKS:
        if sub.info is None:
            continue
        try:
            choices[track] = sub.choice(track, suite.families(), ctx.tuning_dir)
        except Exception as exc:  # TuningError: no file, other code, families missing
            choice_errors[track] = str(exc)
    seen_keys: dict[str, int] = {}
    usable: dict[tuple, Any] = {}
    by_track: dict[str, set] = {}
    for lineno, r in parsed:
        def bad(message: str) -> None:
            findings.add(message, lineno)

        if r.entry != sub.name or r.entry_name != sub.name:
            bad(f"entry {r.entry!r} (entry_name {r.entry_name!r}): this file holds the records of "
                f"{sub.name} only (one entry per file)")
        if r.suite != suite.name or r.suite_version != suite.version:
            bad(f"suite {r.suite} v{r.suite_version}, the current suite is {suite.name} "
                f"v{suite.version}: re-run, {rerun}")
        if r.harness_version != current:
            bad(f"harness_version {r.harness_version or '(none)'}, this code is {current}: records "
                f"from another code version; re-run them with this code, {rerun}, and keep "
                f"only the new records (move this file away first: the store appends)")
        if r.entry_source_hash != source_hash:
            bad(f"entry_source_hash {r.entry_source_hash}, the entry's source now hashes to "
                f"{source_hash}: made by other entry code; re-run, {rerun}, and keep only the "
                f"new records (move this file away first: the store appends)")
        if not r.sealed:
            bad("sealed: false (an --in-process debugging run): re-run without --in-process")
        if r.profile != profile:
            bad(f"profile {r.profile}, validating profile {profile}")
        if r.status == "harness_error":
            bad("status harness_error (the harness failed, not the entry): re-run")
        if r.stop != "sosp":
            bad(f"stop rule {r.stop} (bench run --stop {r.stop}): the boards rank runs that stop "
                f"at their first certified SOSP; re-run without --stop")
        if r.track not in RANKED_TRACKS:
            bad(f"track {r.track}: only the tuned and defaults tracks are published; drop the "
                f"hyperparameters set by hand and run with --track tuned or --track defaults")
        item = items.get(r.problem)
        run = (r.problem, r.instance_seed, r.init_seed, r.run_seed)
        if item is None or run not in expected:
            bad(f"{r.problem} instance {r.instance_seed}, seeds {r.init_seed}/{r.run_seed} is not a "
                f"run of suite {suite.name} v{suite.version}")
        elif item.budget is not None and r.budget != item.budget:
            bad(f"budget {r.budget}, the suite's budget for {r.problem} is {item.budget}")
        if r.track in choices:
            _check_hparams(r, choices[r.track], bad)
        elif r.track in choice_errors:
            bad(f"track {r.track}, but its hyperparameters cannot be set: {choice_errors[r.track]}")
        if r.key in seen_keys:
            bad(f"the same run key as line {seen_keys[r.key]} (a run stored twice)")
        seen_keys.setdefault(r.key, lineno)
        if r.track in RANKED_TRACKS and r.suite == suite.name and r.suite_version == suite.version \
                and r.profile == profile and item is not None and run in expected \
                and r.entry == sub.name:
            usable[(r.track, *run)] = r
            by_track.setdefault(r.track, set()).add(run)
    findings.report(check, display(path))
    if not by_track and not check.failed:
        check.fail(f"no record of suite {suite.name} v{suite.version} on a ranked track: {rerun}")
    for track in ctx.tracks:  # by default both: a submission is ranked on both tracks
        if by_track and track not in by_track:
            check.fail(f"track {track}: no record; a submission runs the suite on both tracks: "
                       f"`bench run --optimizer {sub.name} --suite {suite.name} --track {track}`")
            continue
        missing = sorted(expected - by_track.get(track, expected))
        if missing:
            check.fail(f"track {track}: {len(missing)} of {len(expected)} runs of the suite are "
                       f"missing: {listed([f'{p} instance {i}, seeds {a}/{b}' for p, i, a, b in missing])}")
    if not check.failed:
        check.info(f"{len(parsed)} records: complete on track{'s' if len(by_track) > 1 else ''} "
                   f"{', '.join(sorted(by_track))} ({len(expected)} runs each), current schema, "
                   f"suite {suite.name} v{suite.version}, harness {current}, entry source "
                   f"{source_hash}, sealed, profile {profile}, no duplicate")
    return check, list(usable.values())


def _check_hparams(record, choice, bad: Callable[[str], None]) -> None:
    """The record's hyperparameters (and, tuned, its tuning file and trial) are its track's."""
    want = choice.hparams_for(record.family)
    if normalized(record.hparams) != normalized(want):
        bad(f"hparams {json.dumps(record.hparams, sort_keys=True)}, the {record.track} track "
            f"runs {json.dumps(normalized(want), sort_keys=True)}")
    if record.track != "tuned":
        return
    prov = choice.tuning_provenance(record.family)
    got = record.tuning or {}
    for key in ("file", "sha256", "trial"):
        if got.get(key) != prov.get(key):
            bad(f"tuning {key} is {got.get(key)!r}, the committed tuning file gives {prov.get(key)!r}: "
                f"re-run the tuned track after the last `bench tune`")
            break
