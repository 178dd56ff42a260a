"""The ``bench`` command line.

    bench run --optimizer sgd-momentum            # the quick suite, table + comparison
    bench run --optimizer torch.optim.Adam[lr=1e-3] --suite standard
    bench run --optimizer my_opt.py:MyOpt --problem quad-saddle:medium --seeds 8
    bench list problems | optimizers | suites | profiles
    bench show --results bench-results
    bench leaderboard build | serve

Heavy modules (torch, pandas) are imported inside the commands so that ``bench --help`` is fast.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import warnings

from bench import __version__

DEFAULT_RESULTS = "bench-results"
ARCHIVE = pathlib.Path(__file__).resolve().parent.parent / "leaderboard" / "results"
PACKAGE_ROOT = pathlib.Path(__file__).resolve().parent.parent
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a reader that went away


class CLIError(Exception):
    """A user error: printed as one message, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """Argument errors become ``CLIError`` (``bench: error: ...``, exit 2) like every user error."""

    def error(self, message: str):
        raise CLIError(f"{message} (see `{self.prog} --help`)")


# ----------------------------------------------------------------------------------- helpers
def load_records(paths: list[pathlib.Path], suite: str | None, version: str | None):
    from bench.store import ResultsStore

    out = []
    for path in paths:
        store = ResultsStore(path)
        for rec in store.iter_records():
            if suite and (rec.suite != suite or (version and rec.suite_version != version)):
                continue
            out.append(rec)
    return out


# ----------------------------------------------------------------------------------- list / show
def cmd_list(args) -> int:
    from bench.list_command import cmd_list as list_command

    return list_command(args)


def cmd_show(args) -> int:
    from leaderboard.aggregate import problem_table
    from leaderboard.terminal import results_table

    root = pathlib.Path(args.results)
    if not root.exists():
        raise CLIError(f"results folder {str(root)!r} does not exist; run `bench run` first or pass "
                       f"--results DIR")
    records = load_records([root], args.suite, None)
    if args.entry:
        records = [r for r in records if r.entry == args.entry or r.entry_name == args.entry]
    if not records:
        print(f"no records in {root}" + (f" for suite {args.suite}" if args.suite else ""))
        return 0
    by_suite: dict[tuple[str, str], list] = {}
    for r in records:
        by_suite.setdefault((r.suite, r.suite_version), []).append(r)
    for (suite, version), recs in sorted(by_suite.items()):
        print(f"\nsuite {suite} v{version}: {len(recs)} records")
        print(results_table(problem_table(recs)))
    return 0


# ----------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bench", description="SaddleBench: how fast do optimizers escape strict saddles?")
    parser.add_argument("--version", action="version", version=f"%(prog)s (SaddleBench) {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    from bench.run_command import add_command as add_run

    add_run(sub)  # adds `bench run` (first in the help)

    lst = sub.add_parser("list", help="list problems, optimizers, suites or profiles")
    lst.add_argument("what", choices=["problems", "optimizers", "suites", "profiles"])
    lst.add_argument("--family", help="only this problem family")
    lst.set_defaults(func=cmd_list)

    show = sub.add_parser("show", help="summarize a results store")
    show.add_argument("--results", default=DEFAULT_RESULTS)
    show.add_argument("--suite")
    show.add_argument("--entry")
    show.set_defaults(func=cmd_show)

    from bench.throughput import add_command as add_throughput
    from bench.tune_command import add_command as add_tune
    from bench.reproduce_command import add_command as add_reproduce
    from bench.validate import add_command as add_validate

    add_tune(sub)  # adds `bench tune`
    add_validate(sub)  # adds `bench validate`
    add_reproduce(sub)  # adds `bench reproduce`
    add_throughput(sub)  # adds `bench throughput`

    try:
        from leaderboard.cli import add_commands
    except ImportError:
        add_commands = None
    if add_commands is not None:
        add_commands(sub)  # adds `bench leaderboard build|serve`
    return parser


def _is_own_file(filename: str) -> bool:
    try:
        rel = pathlib.Path(filename).resolve().relative_to(PACKAGE_ROOT)
    except (ValueError, OSError):
        return False
    return rel.parts[:1] in (("bench",), ("problems",), ("leaderboard",))


def _emit_warnings(show_other):
    """``warnings.showwarning`` for a command: the harness's own warnings (a corrupted record
    line...) are user-facing and printed as ``bench: warning: ...``; the others (torch, user
    code) keep Python's usual format and filters."""

    def show(message, category, filename, lineno, file=None, line=None):
        if _is_own_file(filename):
            print(f"bench: warning: {message}", file=sys.stderr if file is None else file)
        else:
            show_other(message, category, filename, lineno, file, line)

    return show


def _silence_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so the final flush at exit does not fail again."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (tests capture it): nothing is flushed at exit
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    """Run the ``bench`` command line; returns the exit code (0 ok, 1 failed runs, 2 user error,
    130 interrupted, 141 stdout closed by its reader, e.g. ``bench list problems | head``)."""
    try:
        return _main(argv)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE


#: the exceptions that are the user's to fix (a message, exit 2), by module: looked up only in
#: modules already imported (the one raising is), so that `bench list` need not import torch
USER_ERRORS = (("bench.claims", "ClaimError"), ("bench.dask_executor", "ExecutorError"), ("bench.entries", "EntryError"),
               ("bench.profiles", "ProfileError"), ("bench.store", "StoreError"),
               ("bench.spec", "SpecError"), ("bench.suites", "UnknownSuiteError"),
               ("bench.tuning", "TuningError"), ("problems.base", "UnknownProblemError"))


def _user_error_types() -> tuple[type, ...]:
    found = [getattr(sys.modules[m], name) for m, name in USER_ERRORS if m in sys.modules]
    return (CLIError, *found)


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except CLIError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    try:
        with warnings.catch_warnings():
            # the harness's own warnings every time they happen; no global filter change, so
            # torch's deprecation warnings stay hidden as Python hides them by default
            for module in ("bench", "problems", "leaderboard"):
                warnings.filterwarnings("always", module=rf"{module}(\.|$)")
            warnings.showwarning = _emit_warnings(warnings.showwarning)
            code = int(args.func(args) or 0)
            sys.stdout.flush()  # a closed pipe shows up here, not at interpreter exit
            return code
    except Exception as exc:
        if not isinstance(exc, _user_error_types()):
            raise
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nbench: interrupted; the runs finished so far are stored", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
