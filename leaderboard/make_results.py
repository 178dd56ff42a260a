"""Regenerate the committed records: ``bench run`` for every built-in entry on a suite.

    python -m leaderboard.make_results --suite quick [--entries sgd,adam]

is exactly

    bench run -o <entry> ... --suite quick --profile cpu --results leaderboard/results --no-compare

Records are appended to ``leaderboard/results/<suite>/<entry>.jsonl``; runs already stored are
skipped (the store is append-only: delete a file to regenerate it from scratch).
"""

from __future__ import annotations

import argparse
import pathlib

RESULTS = pathlib.Path(__file__).parent / "results"


def main(argv: list[str] | None = None) -> int:
    from bench.cli import main as bench_main
    from optimizers import Entry, discover

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--suite", default="quick")
    p.add_argument("--entries", help="comma-separated (default: every built-in entry)")
    p.add_argument("--profile", default="cpu")
    p.add_argument("-j", "--workers", type=int)
    a = p.parse_args(argv)
    names = a.entries.split(",") if a.entries else [n for n, e in discover().items() if isinstance(e, Entry)]
    args = ["run", "--suite", a.suite, "--profile", a.profile, "--results", str(RESULTS), "--no-compare"]
    for name in names:
        args += ["-o", name]
    if a.workers:
        args += ["-j", str(a.workers)]
    return bench_main(args)


if __name__ == "__main__":
    raise SystemExit(main())
