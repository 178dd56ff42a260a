"""``bench reproduce``: run the papers' claims (``claims/``), print each verdict, write results.

    bench reproduce --list          # the claims, their source papers and committed verdicts
    bench reproduce D1 D7           # run two claims at full scale
    bench reproduce D1 --reduced    # a few seeds, short budgets (a smoke test; never published)

Runs are sealed and stored like ``bench run``'s (resumable: runs already in
``<results>/<id>/records`` are not repeated); each claim's measurement, checks, verdict and
provenance go to ``<results>/<id>/result.json`` (``<results>/reduced/<id>/`` at reduced scale).
"""

from __future__ import annotations

import pathlib
import sys
import textwrap
import time

from bench.run_command import workers_type

CLAIMS_RESULTS = pathlib.Path(__file__).resolve().parent.parent / "leaderboard" / "claims"


def add_command(subparsers) -> None:
    """Add ``bench reproduce`` to the ``bench`` command line's subparsers."""
    p = subparsers.add_parser(
        "reproduce", help="reproduce the papers' claims and print their verdicts",
        description="Run the experiments behind published claims about escaping saddle points "
                    "(momentum, adaptive methods, perturbations...) with the benchmark's own "
                    "problems, entries and counted oracle, and judge each claim: reproduced, "
                    "partly or not reproduced.")
    p.add_argument("claims", nargs="*", metavar="CLAIM", help="claim ids, e.g. D1 D7 (default: all)")
    p.add_argument("--list", action="store_true", help="list the claims with their source papers")
    p.add_argument("--reduced", action="store_true",
                   help="a few seeds and short budgets: a quick check that the claim runs "
                        "(results go to <results>/reduced/, never published)")
    p.add_argument("--results", default=str(CLAIMS_RESULTS),
                   help="folder of claim results (default: leaderboard/claims, the committed ones)")
    p.add_argument("--executor", default="local", choices=["local", "serial", "dask"],
                   help="how runs execute, as for bench run")
    p.add_argument("--scheduler", help="Dask scheduler address (with --executor dask)")
    p.add_argument("-j", "--workers", type=workers_type,
                   help="worker processes (default: the claim's own if it sets one, else cores)")
    p.add_argument("--force", action="store_true", help="re-run runs already stored")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_reproduce)


def cmd_reproduce(args) -> int:
    from bench.claims import discover, select

    claims = discover()
    if args.list:
        return _list(claims, pathlib.Path(args.results))
    chosen = select(args.claims, claims)
    scale = "reduced" if args.reduced else "full"
    failed = 0
    for claim in chosen:
        failed += reproduce(claim, scale, pathlib.Path(args.results), args)
    return 1 if failed else 0


def reproduce(claim, scale: str, root: pathlib.Path, args) -> int:
    """Run one claim, write its result and print its verdict; returns the number of runs that
    ended in error or timeout (their records are stored and reported)."""
    from bench.claims import result_data, result_path, store_root, write_result
    from bench.executors import pending, run_tasks, stderr_progress
    from bench.runner import task_key
    from bench.store import ResultsStore

    started = time.monotonic()
    print(f"\n== {claim.id}: {claim.title}", file=sys.stderr)
    tasks = claim.tasks(scale)
    records = []
    if tasks:
        store = ResultsStore(store_root(root, claim.id, scale))
        store.check_writable()
        todo = pending(tasks, store, args.force)
        workers = args.workers or claim.workers
        told = "" if not todo or not workers else f"; {workers} worker(s)" + (
            "" if args.workers else ", the claim's default")
        print(f"{len(tasks)} runs ({len(tasks) - len(todo)} already stored, {len(todo)} to run"
              f"{told})", file=sys.stderr)
        run_tasks(todo, store, executor=args.executor, workers=workers,
                  progress=None if args.quiet else stderr_progress(), force=args.force,
                  scheduler=args.scheduler)
        wanted = {task_key(t) for t in tasks}
        records = [r for r in store.iter_records() if r.key in wanted]
    m = claim.measure(records, scale)
    checks = claim.checks(m)
    data = result_data(claim, scale, m, checks, records, time.monotonic() - started)
    path = result_path(root, claim.id, scale)
    write_result(path, data)
    print(render(data))
    print(f"(written to {path})", file=sys.stderr)
    bad = [r for r in records if r.status in ("error", "timeout")]
    for r in bad[:5]:
        print(f"{r.status.upper()}: {r.entry} on {r.problem} seed {r.run_seed}: "
              f"{(r.message or '').splitlines()[0] if r.message else ''}", file=sys.stderr)
    return len(bad)


def render(data: dict) -> str:
    """A claim's result as text: verdict, checks and the measured table (fits 100 columns)."""
    from tabulate import tabulate

    lines = [f"{data['claim']} ({data['scale']} scale): {data['verdict'].upper()}",
             textwrap.fill(data["title"], 100)]
    rows = [["yes" if c["passed"] else "NO", c["name"], c["expected"], c["measured"]]
            for c in data["checks"]]
    lines.append(tabulate([[r[0], textwrap.fill(r[1], 30), textwrap.fill(r[2], 30),
                            textwrap.fill(r[3], 30)] for r in rows],
                          headers=["holds", "check", "expected", "measured"]))
    table = data["measurement"]["table"]
    if table:
        lines.append("")
        lines.append(tabulate(table, headers="keys", floatfmt=".4g", missingval="-"))
    for note in data["measurement"].get("notes", []):
        lines.append(textwrap.fill(f"note: {note}", 100))
    return "\n".join(lines)


def _list(claims, root: pathlib.Path) -> int:
    from tabulate import tabulate

    from bench.claims import ClaimError, read_result, result_path

    rows = []
    for claim in claims.values():
        path = result_path(root, claim.id, "full")
        try:
            verdict = read_result(path)["verdict"] if path.exists() else "not run"
        except (ClaimError, ValueError, KeyError) as exc:
            verdict = f"unreadable ({exc})"
        rows.append([claim.id, textwrap.fill(claim.title, 48), textwrap.fill(claim.source, 28),
                     verdict])
    print(tabulate(rows, headers=["claim", "what is claimed", "source", "verdict"]))
    return 0
