"""Regenerate the committed development records (``leaderboard/results/<suite>/``).

Equivalent to ``bench run --optimizer <name> --suite <suite> --profile cpu --results
leaderboard/results/<suite>`` for every entry; kept as a script so the data are reproducible
before the CLI is wired in. Usage::

    python -m leaderboard.make_results [--suite smoke] [--entries sgd,adam] [--out DIR]

Records are appended (the store is append-only); delete the folder first for a clean set.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

DEFAULT_ENTRIES = ["sgd", "sgd-momentum", "adam", "rmsprop", "adagrad", "nesterov", "amsgrad"]


def generate(suite_name: str, entries: list[str], out: pathlib.Path, profile: str = "cpu") -> int:
    from bench.entries import resolve_entry
    from bench.profiles import get_profile
    from bench.records import ResultsStore
    from bench.runner import RunTask, execute
    from bench.suites import get_suite

    suite = get_suite(suite_name)
    store = ResultsStore(out)
    prof = get_profile(profile)
    done = store.keys()
    n = 0
    for name in entries:
        for choice in resolve_entry(name):
            for item in suite.items:
                for i, s, r in item.seed_triples():
                    task = RunTask(choice, item.problem, i, s, r, prof, suite=suite.name,
                                   suite_version=suite.version, budget=item.budget,
                                   time_limit=item.time_limit)
                    rec = execute(task)
                    if rec.key in done:
                        continue
                    store.append(rec)
                    n += 1
                    print(f"{rec.entry:14s} {rec.problem:22s} seed {r}: {rec.status} "
                          f"calls={rec.calls_to_sosp}", flush=True)
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--suite", default="smoke")
    p.add_argument("--entries", default=",".join(DEFAULT_ENTRIES))
    p.add_argument("--profile", default="cpu")
    p.add_argument("--out", default=None, help="default: leaderboard/results/<suite>")
    a = p.parse_args(argv)
    out = pathlib.Path(a.out) if a.out else pathlib.Path(__file__).parent / "results" / a.suite
    generate(a.suite, [e for e in a.entries.split(",") if e], out, a.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
