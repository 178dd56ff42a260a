"""Regenerate the committed records: ``bench run`` for every built-in entry on a suite.

    python -m leaderboard.make_results --suite standard --track tuned [--entries sgd,adam]

is exactly

    bench run -o <entry> ... --suite standard --track tuned --profile cpu \
        --results leaderboard/results --no-compare

The leaderboard suite is run twice, ``--track tuned`` (each entry at the values of its committed
tuning file, ``bench tune``) and ``--track defaults``; ``--track auto`` (the default) runs an
entry tuned where its tuning file covers the suite, else at its defaults.

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
    p.add_argument("--track", default="auto", choices=["auto", "tuned", "defaults"])
    p.add_argument("-j", "--workers", type=int)
    a = p.parse_args(argv)
    names = a.entries.split(",") if a.entries else [n for n, e in discover().items() if isinstance(e, Entry)]
    args = ["run", "--suite", a.suite, "--profile", a.profile, "--results", str(RESULTS), "--no-compare",
            "--track", a.track]
    for name in names:
        args += ["-o", name]
    if a.workers:
        args += ["-j", str(a.workers)]
    return bench_main(args)


if __name__ == "__main__":
    raise SystemExit(main())
