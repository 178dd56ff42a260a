"""``bench tune``: run the tuning protocol of :mod:`bench.tuning` for entries and write their
tuning files.

    bench tune -o adam -o sgd --suite standard --trials 8

runs every trial of every entry on the suite's tuning instances (sealed, resumable: runs already
in ``--results/<suite>-tuning`` are not repeated), then writes ``leaderboard/tuning/<entry>.json``
(``--out`` elsewhere) with the protocol, the trial table and the choice per family.
"""

from __future__ import annotations

import pathlib
import sys

DEFAULT_TRIALS = 8


def add_command(subparsers) -> None:
    """Add ``bench tune`` to the ``bench`` command line's subparsers."""
    p = subparsers.add_parser(
        "tune", help="tune entries by the leaderboard's protocol (the tuned track)",
        description="Draw N quasi-random points of each entry's search space, run them on the "
                    "suite's tuning instances, pick a point per problem family (penalized median "
                    "calls to SOSP) and write the entry's tuning file.")
    p.add_argument("-o", "--optimizer", action="append", required=True, metavar="ENTRY",
                   help="entry to tune (built-in name or file.py:Class with a search_space); "
                        "repeatable")
    p.add_argument("-s", "--suite", default="standard", help="suite (default: standard)")
    p.add_argument("--trials", type=int, default=DEFAULT_TRIALS,
                   help=f"trial points per entry, the same for every entry (default {DEFAULT_TRIALS})")
    p.add_argument("--families", help="tune only these problem families of the suite (comma-"
                        "separated); their choices replace those in an existing tuning file made "
                        "by the same protocol, the other families' are kept")
    p.add_argument("--profile", default="cpu", help="hardware profile (default: cpu)")
    p.add_argument("--results", default="bench-results",
                   help="results folder for the tuning runs (default: bench-results)")
    p.add_argument("--out", help="folder of the tuning files (default: leaderboard/tuning)")
    p.add_argument("--executor", default="local", choices=["local", "serial", "dask"])
    p.add_argument("--scheduler", help="Dask scheduler address (with --executor dask)")
    p.add_argument("-j", "--workers", type=int, help="worker processes (default: cores)")
    p.add_argument("--force", action="store_true", help="re-run tuning runs already stored")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_tune)


def _only_families(suite, families):
    import dataclasses

    from bench.suites import UnknownSuiteError

    known = suite.families()
    unknown = [f for f in families if f not in known]
    if unknown:
        raise UnknownSuiteError(f"suite {suite.name} has no {', '.join(unknown)} problems; its "
                                f"families: {', '.join(known)}")
    return dataclasses.replace(suite, items=tuple(i for i in suite.items
                                                  if i.problem.partition(":")[0] in families))


def tuning_tasks(info, suite, trials, profile):
    """(labels, tasks): every trial of ``info`` on every problem of ``suite`` x its tuning
    instances x tuning run seeds, as custom-track runs labelled ``entry[point]``."""
    from bench.entries import EntryChoice
    from bench.runner import RunTask

    labels, tasks = [], []
    for point in trials:
        choice = EntryChoice(info, dict(point), info.name)
        labels.append(choice.label)
        for item in suite.items:
            for inst in suite.tuning_instance_seeds:
                for seed in range(suite.tuning_seeds):
                    tasks.append(RunTask(choice, item.problem, inst, seed, seed, profile,
                                         f"{suite.name}-tuning", suite.version, item.budget,
                                         item.time_limit))
    return labels, tasks


def tuning_result(info, suite, trials, labels, records, penalty):
    """The tuning document of one entry from its tuning runs in ``records``."""
    from bench import tuning
    from leaderboard.aggregate import latest
    from problems import canonical_id

    from bench.provenance import harness_version

    wanted = set(labels)
    seeds = set(range(suite.tuning_seeds))
    current = harness_version()  # runs of other code are not this tuning's evidence
    by_label: dict[str, dict[str, list]] = {}
    used = []
    for r in latest(records):
        if (r.entry in wanted and r.entry_source_hash == info.source_hash()
                and r.harness_version == current and r.instance_seed in suite.tuning_instance_seeds and r.run_seed in seeds):
            by_label.setdefault(r.entry, {}).setdefault(r.problem, []).append(r)
            used.append(r)
    problems = [canonical_id(item.problem) for item in suite.items]
    families = {f: [canonical_id(p) for p in ps] for f, ps in suite.families().items()}
    table = tuning.trial_table(by_label, labels, trials, problems, penalty)
    choice = tuning.choose(table, families)
    return tuning.tuning_document(info, suite, trials, table, choice, penalty, used)


def cmd_tune(args) -> int:
    from tabulate import tabulate

    from bench import tuning
    from bench.entries import EntryError, resolve_entry
    from bench.executors import pending, run_tasks, stderr_progress
    from bench.profiles import get_profile
    from bench.store import ResultsStore
    from bench.suites import get_suite
    from leaderboard.scoring import FAILURE_PENALTY

    suite = get_suite(args.suite)
    if args.families:
        suite = _only_families(suite, args.families.split(","))
    profile = get_profile(args.profile)
    out_dir = pathlib.Path(args.out) if args.out else tuning.TUNING_DIR
    plans = []
    for spec in args.optimizer:
        choices = resolve_entry(spec)
        if len(choices) != 1 or choices[0].overrides:
            raise EntryError(f"bench tune takes an entry without hyperparameters ({spec!r}): the "
                             f"protocol sets them from the entry's search_space")
        info = choices[0].entry
        trials = tuning.trial_points(info.search_space, args.trials)
        labels, tasks = tuning_tasks(info, suite, trials, profile)
        plans.append((info, trials, labels, tasks))
    store = ResultsStore(pathlib.Path(args.results) / f"{suite.name}-tuning")
    store.check_writable()
    every = [t for *_, tasks in plans for t in tasks]
    todo = pending(every, store, args.force)
    print(f"bench tune: {len(plans)} entr{'y' if len(plans) == 1 else 'ies'} x {args.trials} trials "
          f"on suite {suite.name} v{suite.version} (tuning instances "
          f"{', '.join(map(str, suite.tuning_instance_seeds))}, {suite.tuning_seeds} run seeds): "
          f"{len(every)} runs, {len(every) - len(todo)} already in {store.root}", file=sys.stderr)
    run_tasks(todo, store, executor=args.executor, workers=args.workers,
              progress=None if args.quiet else stderr_progress(), force=args.force,
              scheduler=args.scheduler)
    records = store.records()
    for info, trials, labels, _ in plans:
        doc = tuning_result(info, suite, trials, labels, records, FAILURE_PENALTY)
        path = tuning.tuning_path(info.name, out_dir)
        if args.families and path.is_file():
            doc = tuning.merge(tuning.load_tuning(path).data, doc)
        tuning.write_tuning(path, doc)
        rows = [[fam, c["trial"], ", ".join(f"{k}={v}" for k, v in sorted(c["hparams"].items())),
                 f"{c['objective']:.3g}", f"{c['certified']}/{c['runs']}"]
                for fam, c in sorted(doc["choice"].items())]
        print(f"\n{info.name}: {tuning._display_path(path)}")
        print(tabulate(rows, headers=["family", "trial", "chosen", "objective", "certified"]))
        errors = sum(r.status in ("error", "timeout") for r in records
                     if r.entry in set(labels) and r.entry_source_hash == info.source_hash())
        if errors:
            print(f"  ({errors} tuning runs ended in error or timeout; they count as failures)",
                  file=sys.stderr)
    return 0
