"""``bench validate``: check a submission (entry module + records) for a pull request.

    bench validate [ENTRY ...] [--since GIT_REF] [--results DIR] [--suite SUITE] [--profile PROFILE]
                   [--reproduce N|all] [--held-out K] [--report FILE] [-j WORKERS]

Every ENTRY (a built-in entry name or a path ``optimizers/<name>.py``; with ``--since``, the
entries the diff submits, :mod:`bench.validate_scope`) goes through four checks in order
(:mod:`bench.validate_checks`): the entry module, its records, a reproduction of a random
sample of them, and held-out instances (:mod:`bench.validate_stats`). The report is Markdown,
fit for a pull-request comment: printed on stdout and, with ``--report FILE``, appended to FILE
(e.g. ``$GITHUB_STEP_SUMMARY``); progress goes to stderr.

Exit status: 0 every check passed, 1 a check failed, 2 a usage error.
"""

from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import sys

DEFAULT_RESULTS = "leaderboard/results"
DEFAULT_REPRODUCE = 6
DEFAULT_HELD_OUT = 2


def _tracks_type(text: str) -> tuple[str, ...]:
    tracks = tuple(sorted({t.strip() for t in text.split(",") if t.strip()}))
    if not tracks or not set(tracks) <= {"tuned", "defaults"}:
        raise argparse.ArgumentTypeError(f"--tracks {text!r}: give tuned, defaults or both "
                                         f"(comma-separated), e.g. --tracks defaults,tuned")
    return tracks


def _reproduce_type(text: str) -> int | None:
    """``N`` (records to re-run, 0 skips the check) or ``all`` (None)."""
    if text.strip().lower() == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"--reproduce takes a whole number of records or 'all', "
                                         f"got {text!r}; e.g. --reproduce 6 or --reproduce all")
    return value


def _count_type(what: str, fix: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = -1
        if value < 0:
            raise argparse.ArgumentTypeError(f"{what} takes a whole number >= 0, got {text!r}{fix}")
        return value

    parse.__name__ = "count"
    return parse


def add_command(subparsers) -> None:
    """Add ``bench validate`` to the ``bench`` command line's subparsers."""
    p = subparsers.add_parser(
        "validate", help="validate a submission (entry module + records) for a pull request",
        description="Check entry modules and their records: lint, import, metadata and a sealed "
                    "smoke run; the records' schema, provenance and completeness; a random sample "
                    "of them re-run sealed (counts must match exactly); the entry on instances "
                    "drawn now (it must not be worse than its records claim). Prints a Markdown "
                    "report; exit 0 all passed, 1 a check failed, 2 a usage error.")
    p.add_argument("entries", nargs="*", metavar="ENTRY",
                   help="built-in entry name or path optimizers/<name>.py (default with --since: "
                        "the entries the diff submits)")
    p.add_argument("--since", metavar="GIT_REF",
                   help="validate what `git diff REF...HEAD` submits, and fail if the diff touches "
                        "other entries' records or edits existing record lines")
    p.add_argument("--results", default=DEFAULT_RESULTS, metavar="DIR",
                   help=f"results folder holding <suite>/<entry>.jsonl (default: {DEFAULT_RESULTS})")
    p.add_argument("-s", "--suite", default="standard", help="suite of the records (default: standard)")
    p.add_argument("--profile", default="cpu", help="hardware profile of the records and the re-runs "
                                                   "(default: cpu)")
    p.add_argument("--reproduce", type=_reproduce_type, default=DEFAULT_REPRODUCE, metavar="N|all",
                   help=f"records to re-run and compare exactly, drawn at random (default "
                        f"{DEFAULT_REPRODUCE}; all: every record; 0 skips the check)")
    p.add_argument("--held-out", type=_count_type("--held-out", "; e.g. --held-out 2 (0 skips the check)"),
                   default=DEFAULT_HELD_OUT, metavar="K",
                   help=f"fresh instance seeds to run the entry on (default {DEFAULT_HELD_OUT}; "
                        f"0 skips the check)")
    p.add_argument("--tracks", type=_tracks_type, default="defaults,tuned", metavar="LIST",
                   help="tracks whose records must be complete (default: defaults,tuned, what the "
                        "leaderboard ranks; a single track is for trying an entry out)")
    p.add_argument("--report", metavar="FILE", help="also append the report to FILE "
                                                    "(e.g. $GITHUB_STEP_SUMMARY)")
    p.add_argument("-j", "--workers", type=_count_type("-j", "; leave it out for one per core"),
                   help="worker processes for the runs (default: one per core)")
    p.set_defaults(func=cmd_validate)


def cmd_validate(args) -> int:
    from bench.cli import CLIError
    from bench.entry_info import LocateError
    from bench.profiles import get_profile
    from bench.suites import get_suite
    from bench.tuning import TUNING_DIR
    from bench.validate_checks import Context, draw_held_out_seeds, locate_submission
    from bench.validate_scope import ScopeError, diff_scope

    suite = get_suite(args.suite)
    profile = get_profile(args.profile)
    if args.workers == 0:
        raise CLIError("-j takes at least 1 worker; leave it out for one per core")
    results = pathlib.Path(args.results)
    if not args.entries and not args.since:
        raise CLIError("name the entries to validate (bench validate ENTRY ..., a built-in name "
                       "or optimizers/<name>.py) or give --since GIT_REF to take them from a diff")
    if args.report:
        try:
            open(args.report, "a", encoding="utf-8").close()
        except OSError as exc:
            raise CLIError(f"cannot append the report to {args.report} ({exc.strerror or exc}); "
                           f"pass --report with a writable file") from None
    report = Report(suite, profile, args)
    specs = list(args.entries)
    if args.since:
        try:
            scope = diff_scope(args.since, results, suite.name, specs)
        except ScopeError as exc:
            raise CLIError(str(exc)) from None
        report.scope = scope
        if scope.problems:
            return report.emit()
        specs = scope.entries
        if not specs:
            raise CLIError(f"the diff {args.since}...HEAD adds or changes no entry module "
                           f"(optimizers/<name>.py) and no records ({results}/{suite.name}/*.jsonl): "
                           f"nothing to validate; name the entries (bench validate ENTRY ...)")
    subs = []
    for spec in specs:
        try:
            subs.append(locate_submission(spec))
        except LocateError as exc:
            raise CLIError(str(exc)) from None
    _check_power(subs, suite, args.held_out, results)
    ctx = Context(suite=suite, profile=profile, results=results, reproduce=args.reproduce,
                  held_out=args.held_out, workers=args.workers, tuning_dir=TUNING_DIR,
                  reproduce_seed=int.from_bytes(os.urandom(8), "big"),
                  held_out_seeds=draw_held_out_seeds(args.held_out, suite, os.urandom(16)),
                  tracks=args.tracks)
    report.ctx = ctx
    for sub in subs:
        report.entries.append((sub, validate_submission(sub, ctx)))
    return report.emit()


def validate_submission(sub, ctx) -> list:
    """The four checks of one entry, in order (later ones run where they can)."""
    from bench.validate_checks import check_entry_module, check_held_out, check_reproduction
    from bench.validate_records import check_records

    module = check_entry_module(sub, ctx)
    records_check, records = check_records(sub, ctx)
    return [module, records_check, check_reproduction(sub, ctx, records),
            check_held_out(sub, ctx, records)]


def _check_power(subs, suite, held_out: int, results: pathlib.Path) -> None:
    """A usage error when ``--held-out K`` is too few for the held-out check to fail at all."""
    from bench.cli import CLIError
    from bench.validate_records import claimed_tracks, records_path_in
    from bench.validate_stats import ALPHA, min_held_out_instances, smallest_p_value

    if held_out == 0:
        return
    for sub in subs:
        tracks = max(1, len(claimed_tracks(records_path_in(results, suite, sub.name), suite)))
        m = tracks * len(suite.items)
        for item in suite.items:
            n_claimed = len(item.seed_triples())
            p_min = smallest_p_value(n_claimed, held_out * item.seeds)
            if p_min >= ALPHA / m:
                need = min_held_out_instances(n_claimed, item.seeds, m)
                raise CLIError(
                    f"--held-out {held_out} is too few for suite {suite.name}: with {n_claimed} "
                    f"claimed runs of {item.problem}, the held-out check could not fail (smallest "
                    f"attainable p = {p_min:.2g}, the level is {ALPHA:g}/{m}); pass --held-out "
                    f"{need} or more, or --held-out 0 to skip the check")


class Report:
    """The Markdown report: a summary table, then one section per check of every entry."""

    def __init__(self, suite, profile, args):
        self.suite, self.profile, self.args = suite, profile, args
        self.scope = None
        self.ctx = None
        self.entries: list[tuple] = []

    @property
    def passed(self) -> bool:
        if self.scope is not None and self.scope.problems:
            return False
        return bool(self.entries) and not any(c.failed for _, checks in self.entries for c in checks)

    def markdown(self) -> str:
        from bench.provenance import harness_version

        verdict = "PASS" if self.passed else "FAIL"
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        out = [f"## bench validate: {verdict}", "",
               f"Suite {self.suite.name} v{self.suite.version}, profile {self.profile.name}, "
               f"harness {harness_version()}, results `{self.args.results}`, {now}."]
        if self.ctx is not None:
            out.append(f"Reproduction draw: `random.Random({self.ctx.reproduce_seed})`; held-out "
                       f"instance seeds: {', '.join(map(str, self.ctx.held_out_seeds)) or 'none'} "
                       f"(both from os.urandom).")
        out.append("")
        if self.scope is not None:
            out += self._scope()
        if self.entries:
            titles = [c.title for c in self.entries[0][1]]
            out += ["| entry | " + " | ".join(titles) + " |", "|---" * (len(titles) + 1) + "|"]
            for sub, checks in self.entries:
                out.append(f"| {sub.name} | " + " | ".join(_mark(c.status) for c in checks) + " |")
            out.append("")
        for sub, checks in self.entries:
            for i, check in enumerate(checks, 1):
                out.append(f"### {sub.name}: {i}. {check.title}: {_mark(check.status)}")
                if check.note:
                    out.append(f"_{check.note}_")
                out.append("")
                out += [f"- {line}" for line in check.lines]
                if check.table:
                    out += [""] + check.table
                out.append("")
        return "\n".join(out).rstrip() + "\n"

    def _scope(self) -> list[str]:
        s = self.scope
        head = f"### Scope of the diff {s.ref}...HEAD (merge base {s.base[:12]}): "
        if s.problems:
            return [head + _mark("fail"), ""] + [f"- {p}" for p in s.problems] + [
                "", "The entries were not validated: a submission adds its entry module, its "
                    "records and its tuning file, and appends to its own records only.", ""]
        listed = ", ".join(f"`{p}`" for _, p in s.changed[:20]) or "nothing"
        return [head + _mark("pass"), "", f"- changed: {listed}",
                f"- submitted: {', '.join(s.entries) or 'none'}", ""]

    def emit(self) -> int:
        text = self.markdown()
        sys.stdout.write(text)
        sys.stdout.flush()
        if self.args.report:  # checked writable before any run
            with open(self.args.report, "a", encoding="utf-8") as fh:
                fh.write(text + "\n")
        return 0 if self.passed else 1


def _mark(status: str) -> str:
    return {"pass": "pass", "fail": "**FAIL**", "skipped": "skipped", "not run": "not run"}.get(status, status)
