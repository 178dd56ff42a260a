"""``bench run``: entries on a suite (or on problems given by id), a table of calls and seconds to
an (eps_g, eps_h)-SOSP, and a comparison with the committed leaderboard.

    bench run --optimizer sgd-momentum            # the quick suite, table + comparison
    bench run --optimizer torch.optim.Adam[lr=1e-3] --suite standard
    bench run --optimizer my_opt.py:MyOpt --problem quad-saddle:medium --seeds 8

Flag values are checked here (:func:`_bounded`), so a bad one is refused before anything runs.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import sys

from bench.cli import ARCHIVE, DEFAULT_RESULTS, CLIError, load_records

MAX_SEEDS = 10_000
MAX_BUDGET = 10**10
MAX_TIME_LIMIT = 7 * 24 * 3600.0
MAX_WORKERS = 1024
MAX_BATCH = 4096


# ----------------------------------------------------------------------------------- flag types
def _bounded(kind: type, upper: float, what: str, fix: str):
    """An argparse ``type=``: a positive ``kind`` (int or float) at most ``upper``."""
    noun = "a whole number" if kind is int else "a number"
    span = f"from 1 to {int(upper):,}" if kind is int else f"above 0 and at most {upper:,g}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {noun}; give {what} as {noun} {span}{fix}") from None
        if not math.isfinite(value) or value <= 0 or value > upper:
            raise argparse.ArgumentTypeError(f"{what} must be {noun} {span}, got {text}{fix}")
        return value

    parse.__name__ = f"positive {kind.__name__}"
    return parse


_seeds_type = _bounded(int, MAX_SEEDS, "the number of run seeds",
                       "; leave --seeds out to use the suite's seeds")
def _instance_seeds_type(text: str) -> tuple[int, ...]:
    """``3``, ``0,5,7`` or ``0-3`` -> the instance seeds (whole numbers >= 0, no repeats)."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            lo, dash, hi = part.strip().partition("-")
            seeds += list(range(int(lo), int(hi) + 1)) if dash else [int(lo)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of instance seeds; write e.g. 3, 0,5,7 or 0-3") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds) or len(seeds) > MAX_SEEDS:
        raise argparse.ArgumentTypeError(
            f"instance seeds must be distinct whole numbers >= 0 (at most {MAX_SEEDS:,}), got {text}")
    return tuple(seeds)


def _diagnostics_type(text: str) -> tuple[str, ...]:
    """``a,b`` -> the diagnostic names (checked against each problem's family by RunTask)."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"expected diagnostic names separated by commas, got "
                                         f"{text!r} (e.g. solution_distance,saddle_distance)")
    return names


_budget_type = _bounded(int, MAX_BUDGET, "the budget in sample gradients",
                        "; leave --budget out to use the suite's (or the problem's) budget")
_time_limit_type = _bounded(float, MAX_TIME_LIMIT, "the time limit per run in seconds",
                            "; leave --time-limit out to use the suite's limit")
workers_type = _bounded(int, MAX_WORKERS, "the number of worker processes",
                         "; leave -j out to use one per core, or use --executor serial")
_max_batch_type = _bounded(int, MAX_BATCH, "the number of seeds per batch",
                           "; leave --max-batch out for 256")


# ----------------------------------------------------------------------------------- run
def _build_tasks(args):
    from bench.entries import resolve_entry
    from bench.profiles import get_profile
    from bench.runner import RunTask
    from bench.suites import Suite, SuiteItem, get_suite
    from problems import canonical_id

    profile = get_profile(args.profile)
    choices = []
    for spec in args.optimizer or ["sgd-momentum"]:
        choices.extend(resolve_entry(spec, args.hparams))
    if args.problem:
        items = tuple(SuiteItem(canonical_id(p), seeds=4 if args.seeds is None else args.seeds,
                                instance_seeds=args.instance_seeds or (0,), budget=args.budget,
                                time_limit=300.0 if args.time_limit is None else args.time_limit)
                      for p in args.problem)
        suite = Suite("adhoc", "0", "problems given on the command line", items)
    else:
        if args.instance_seeds:
            raise CLIError(f"a suite fixes its instances (suite {args.suite}); --instance-seeds "
                           f"goes with --problem, e.g. -p reddi2d:paper --instance-seeds 0-3")
        suite = get_suite(args.suite)
    from bench.tuning import apply_track

    notes: list[str] = []
    choices = apply_track(choices, getattr(args, "track", "auto"), suite.families(),
                          getattr(args, "tuning", None), notes)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    _check_hparams_up_front(choices, suite, getattr(args, "allow_unknown_hparams", False))
    if getattr(args, "batch_seeds", False):
        choices = _batch_choices(choices, suite.items[0].problem, profile, not args.in_process)
    tasks = []
    for choice in choices:
        for item in suite.items:
            seeds = item.seed_triples()
            if args.seeds is not None and not args.problem:
                seeds = [(i, s, s) for i in item.instance_seeds for s in range(args.seeds)]
            for inst, init, run in seeds:
                tasks.append(RunTask(choice, item.problem, inst, init, run, profile, suite.name,
                                     suite.version, item.budget if args.budget is None else args.budget,
                                     item.time_limit if args.time_limit is None else args.time_limit,
                                     sealed=not args.in_process, stop=getattr(args, "stop", "sosp"),
                                     diagnostics=getattr(args, "diagnostics", None) or ()))
    return suite, choices, tasks


def _batch_choices(choices, problem: str, profile, sealed: bool):
    """--batch-seeds: the choices marked to batch their seeds, each not declared elementwise
    checked first on ``problem`` (bench.batch_check)."""
    import dataclasses

    from bench.batch_check import check_rows_independent

    out = []
    for choice in choices:
        if not choice.entry.elementwise:
            print(f"checking that {choice.label} can run seeds as a batch (--batch-seeds) on "
                  f"{problem}...", file=sys.stderr)
            check_rows_independent(choice, problem, profile, sealed=sealed)
        out.append(dataclasses.replace(choice, batch_seeds=True))
    return out


def _check_hparams_up_front(choices, suite, allow_unknown: bool) -> None:
    """Every choice's hyperparameters on every family of the suite, before any run starts."""
    from bench.entries import check_choices

    families = sorted({item.problem.partition(":")[0] for item in suite.items})
    check_choices(choices, families, allow_unknown=allow_unknown)


def cmd_run(args) -> int:
    from bench.executors import pending, run_tasks, stderr_progress
    from bench.runner import MAX_BATCH_ROWS
    from bench.store import ResultsStore
    from leaderboard.aggregate import problem_table
    from leaderboard.terminal import comparison_matrix, comparison_table, results_table

    suite, choices, tasks = _build_tasks(args)
    root = pathlib.Path(args.results)
    store = ResultsStore(root / suite.name)
    store.check_writable()
    todo = pending(tasks, store, args.force)
    skipped = len(tasks) - len(todo)
    labels = {c.label for c in choices}
    print(f"suite {suite.name} v{suite.version}: {len(tasks)} runs of {', '.join(sorted(labels))} "
          f"({skipped} already in {store.root}, {len(todo)} to run) on profile {args.profile}",
          file=sys.stderr)
    if args.in_process:
        print("warning: --in-process runs the entry inside the harness (debugging only): its "
              "records are marked sealed: false and the leaderboard refuses them", file=sys.stderr)
    if args.scheduler and args.executor != "dask":
        raise CLIError("--scheduler is the address of a Dask scheduler: add --executor dask")
    records = run_tasks(todo, store, executor=args.executor, workers=args.workers,
                        progress=None if args.quiet else stderr_progress(), force=args.force,
                        max_rows=args.max_batch or MAX_BATCH_ROWS, scheduler=args.scheduler)
    stop = getattr(args, "stop", "sosp")
    everything = [r for r in load_records([store.root], suite.name, suite.version) if r.stop == stop]
    runs = {(c.label, c.track) for c in choices}
    wanted = list(tasks[0].diagnostics) if tasks else []  # one run with and without: two records
    mine = [r for r in everything if (r.entry, r.track) in runs and r.diagnostics == wanted]
    # compare with the ranked track of the same kind: defaults with defaults, else tuned
    board_track = "defaults" if all(c.track == "defaults" for c in choices) else "tuned"
    print()
    print(results_table(problem_table(mine)))
    if stop == "budget":
        print("\n" + tail_table(mine))
    if wanted:
        print("\n" + diagnostics_table(mine, wanted))
    if stop != "sosp" and not args.no_compare:
        print(f"\n(no comparison with the leaderboard: its runs stop at their first certified "
              f"SOSP, these at {'their first escape' if stop == 'escape' else 'their budget'})")
    elif not args.no_compare:
        from leaderboard.aggregate import publishable

        archive = [] if suite.name == "adhoc" else \
            publishable(load_records([ARCHIVE / suite.name], suite.name, suite.version))[0]
        others = [r for r in archive + everything
                  if r.entry not in labels and r.track == board_track]
        both = problem_table(mine + others)
        comp = comparison_matrix(both, labels) if args.wide else comparison_table(both, labels)
        if comp:
            import textwrap

            print("\n" + textwrap.fill(
                f"Comparison on suite {suite.name} v{suite.version}, {board_track} track (cost: "
                f"median calls to SOSP over all runs, a failure counted as 2x the budget):", 100))
            print(comp)
    failures = [r for r in records if r.status in ("error", "timeout")]
    for r in failures[:10]:
        print(f"\n{r.status.upper()}: {r.entry} on {r.problem} (seed {r.run_seed}): "
              f"{r.message.splitlines()[0] if r.message else ''}", file=sys.stderr)
    if len(failures) > 10:
        print(f"\n... and {len(failures) - 10} more", file=sys.stderr)
    if failures:
        n_err = sum(r.status == "error" for r in failures)
        n_timeout = len(failures) - n_err
        print(f"\nbench: {len(failures)} of {len(records)} runs did not finish: {n_err} error, "
              f"{n_timeout} timeout (listed above). Their records are stored in {store.root}; "
              f"errors re-run on the next `bench run`, timeouts re-run with --force (raise "
              f"--time-limit if the entry is merely slow).", file=sys.stderr)
        return 1
    return 0


def tail_table(records) -> str:
    """Stop rule "budget": per entry and problem, the median over runs of tail_f_mean (f
    averaged over the last 10% of the budget) and of its gap to f* (where f* is known)."""
    import statistics

    from tabulate import tabulate

    groups: dict[tuple[str, str], list] = {}
    for r in records:
        groups.setdefault((r.entry, r.problem), []).append(r)
    rows = []
    for (entry, problem), recs in sorted(groups.items()):
        tails = [r.tail_f_mean for r in recs if r.tail_f_mean is not None and math.isfinite(r.tail_f_mean)]
        med = statistics.median(tails) if tails else None
        f_star = recs[0].f_star
        gap = med - f_star if med is not None and f_star is not None else None
        rows.append([entry, problem, f"{len(tails)}/{len(recs)}", med, gap])
    return tabulate(rows, headers=["entry", "problem", "runs at budget", "median tail mean f",
                                   "minus f*"], floatfmt=".4g", missingval="-")


def diagnostics_table(records, names) -> str:
    """``--diagnostics``: per entry and problem, the median over runs of each diagnostic at the
    run's final point (the last trajectory entry)."""
    import statistics

    from tabulate import tabulate

    groups: dict[tuple[str, str], list] = {}
    for r in records:
        groups.setdefault((r.entry, r.problem), []).append(r)
    rows = []
    for (entry, problem), recs in sorted(groups.items()):
        row = [entry, problem, len(recs)]
        for name in names:
            finals = [v for r in recs for v in (r.trajectory.get(name) or [None])[-1:]
                      if v is not None and math.isfinite(v)]
            row.append(statistics.median(finals) if finals else None)
        rows.append(row)
    return tabulate(rows, headers=["entry", "problem", "runs", *(f"final {n} (median)" for n in names)],
                    floatfmt=".4g", missingval="-")


def add_command(subparsers) -> None:
    run = subparsers.add_parser("run", help="run optimizers on a suite and print the comparison",
                         description="Run entries on a suite (default: quick) and print calls and "
                                     "seconds to an (eps_g, eps_h)-SOSP.")
    run.add_argument("-o", "--optimizer", action="append",
                     help="entry name, torch.optim.Class, pkg.module:Class or file.py:Class, with "
                          "optional [lr=0.01,...]; a list value sweeps ([lr=[1e-3,1e-2]]); "
                          "repeatable (default: sgd-momentum)")
    run.add_argument("--hparams", help="hyperparameters for every --optimizer, e.g. lr=0.01,momentum=0.9")
    run.add_argument("--track", default="auto", choices=["auto", "tuned", "defaults"],
                     help="hyperparameters of an entry run without its own: tuned (its committed "
                          "tuning file, bench tune), defaults (its own defaults on every family), "
                          "auto (tuned where a tuning file covers the suite, else defaults)")
    run.add_argument("--tuning", help="tuning file of a non-built-in entry (from bench tune --out)")
    run.add_argument("--allow-unknown-hparams", action="store_true",
                     help="accept hyperparameter names that an optimizer taking **kwargs does not "
                          "expose (by default they are refused: a typo would be silently ignored)")
    run.add_argument("-s", "--suite", default="quick", help="suite name (default: quick)")
    run.add_argument("-p", "--problem", action="append",
                     help="run these problem ids instead of a suite (repeatable)")
    run.add_argument("--seeds", type=_seeds_type,
                     help=f"run seeds per problem, 1 to {MAX_SEEDS:,} (overrides the suite)")
    run.add_argument("--instance-seeds", type=_instance_seeds_type, metavar="SEEDS",
                     help="with --problem: the problem instances to run, e.g. 3, 0,5,7 or 0-3 "
                          "(default 0); other instances draw other data, saddles and minima")
    run.add_argument("--budget", type=_budget_type, help="budget in sample gradients (overrides)")
    run.add_argument("--time-limit", type=_time_limit_type, help="seconds per run, > 0 (overrides)")
    run.add_argument("--stop", default="sosp", choices=["sosp", "escape", "budget"],
                     help="when a run ends: sosp, at its first certified SOSP (default, the "
                          "leaderboard's rule); escape, at its first escape checkpoint; budget, "
                          "at its budget (f is then also averaged over the last 10%% of it)")
    run.add_argument("--diagnostics", type=_diagnostics_type, default=None, metavar="NAME,...",
                     help="also measure these quantities at every checkpoint, uncounted and never "
                          "shown to the entry (e.g. solution_distance,negative_projection; each "
                          "family's list: bench list problems --family F); they are written into "
                          "each record's trajectory")
    run.add_argument("--profile", default="cpu", help="hardware profile (bench list profiles)")
    run.add_argument("--executor", default="local", choices=["local", "serial", "dask"],
                     help="local: a process pool (default); serial: this process; dask: a Dask "
                          "cluster (--scheduler, or a LocalCluster of -j workers)")
    run.add_argument("--scheduler", help="address of a running Dask scheduler, tcp://host:port "
                                         "(with --executor dask)")
    run.add_argument("-j", "--workers", type=workers_type, help="worker processes (default: cores)")
    run.add_argument("--batch-seeds", action="store_true",
                     help="run the seeds of an entry that does not declare an elementwise update "
                          "(e.g. a torch.optim class) as one (S, d) batch; refused if a check "
                          "finds that its rows interact")
    run.add_argument("--max-batch", type=_max_batch_type, default=None,
                     help="seeds per batch of a batched entry (default 256; 1 runs every seed alone)")
    run.add_argument("--results", default=DEFAULT_RESULTS, help=f"results folder (default: {DEFAULT_RESULTS})")
    run.add_argument("--force", action="store_true", help="re-run runs already in the store")
    run.add_argument("--in-process", action="store_true",
                     help="debugging only: run the entry inside the harness process instead of a "
                          "sealed worker (faster start, no protection; records marked "
                          "sealed: false, refused by the leaderboard)")
    run.add_argument("--no-compare", action="store_true", help="do not print the comparison")
    run.add_argument("--wide", action="store_true",
                     help="compare as a matrix: every entry x every problem (cost / best)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    run.set_defaults(func=cmd_run)
