"""Re-make every committed number after a change of the harness or of an entry's code.

    python -m leaderboard.regenerate [--steps archive,claims,throughput] [-j 2] [--dry-run]

A stored run is keyed by the harness version (``bench.provenance``) and its entry's source hash:
after either changes, the committed records no longer match this code, the leaderboard shows
them as made by other code and ``bench reproduce`` would re-run every claim. This command
re-runs them, in order, on this machine:

1. ``archive``: the leaderboard suite, both ranked tracks (``python -m leaderboard.make_results
   --suite standard --track tuned``, then ``--track defaults``);
2. ``claims``: every claim at full scale (``bench reproduce``, each claim with its own number
   of workers: ``-j`` is the archive's);
3. ``throughput``: ``bench throughput --results leaderboard/results`` (sgd and adam, default
   sizes).

Before a step runs, the records it would replace -- those of a store holding any record made by
another harness version or entry code -- are moved (never deleted) to
``build/regenerate-backup/<time>/``, so a store never mixes versions and nothing recorded is
lost. A step whose stores already match this code is resumed: runs already stored are skipped.
Run it on an otherwise idle machine (time limits are wall-clock): on the 2-core reference
machine the archive took 28 (tuned) + 54 (defaults) minutes and the claims about 50 minutes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "leaderboard" / "results"
CLAIMS = ROOT / "leaderboard" / "claims"
BACKUP = ROOT / "build" / "regenerate-backup"
STEPS = ("archive", "claims", "throughput")


def current_hashes() -> tuple[str, dict[str, str]]:
    """This code's harness version and each built-in entry's source hash."""
    from bench.provenance import harness_version
    from optimizers import Entry, discover

    return harness_version(), {n: e.source_hash() for n, e in discover().items()
                               if isinstance(e, Entry)}


def stale_files(folder: pathlib.Path, harness: str, entries: dict[str, str]) -> list[pathlib.Path]:
    """The ``*.jsonl`` stores under ``folder`` with a record made by other code (another
    harness version, or a built-in entry's other source hash)."""
    out = []
    for path in sorted(folder.rglob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                r = json.loads(line)
                name = r.get("entry_name")
                if r.get("harness_version") != harness or (
                        name in entries and r.get("entry_source_hash") != entries[name]):
                    out.append(path)
                    break
    return out


def move_aside(paths: list[pathlib.Path], stamp: str, dry_run: bool) -> None:
    for path in paths:
        target = BACKUP / stamp / path.relative_to(ROOT)
        print(f"  move {path.relative_to(ROOT)} -> {target.relative_to(ROOT)}", file=sys.stderr)
        if not dry_run:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), target)


def commands(step: str, workers: int) -> list[list[str]]:
    py = sys.executable
    if step == "archive":
        return [[py, "-m", "leaderboard.make_results", "--suite", "standard", "--track", track,
                 "-j", str(workers)] for track in ("tuned", "defaults")]
    if step == "claims":
        return [[py, "-m", "bench", "reproduce"]]
    return [[py, "-m", "bench", "throughput", "--results", str(RESULTS)]]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", default=",".join(STEPS),
                   help=f"comma-separated, in this order: {', '.join(STEPS)} (default: all)")
    p.add_argument("-j", "--workers", type=int, default=2,
                   help="worker processes of the archive (claims: each claim's default)")
    p.add_argument("--dry-run", action="store_true", help="say what would move and run, do nothing")
    a = p.parse_args(argv)
    steps = [s.strip() for s in a.steps.split(",") if s.strip()]
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        p.error(f"unknown step(s) {', '.join(unknown)}; choose from {', '.join(STEPS)}")
    harness, entries = current_hashes()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    print(f"harness version {harness}", file=sys.stderr)
    for step in (s for s in STEPS if s in steps):
        folders = {"archive": [RESULTS / "standard"], "claims": [CLAIMS], "throughput": []}[step]
        stale = [f for folder in folders for f in stale_files(folder, harness, entries)]
        print(f"== {step}: {len(stale)} store(s) made by other code", file=sys.stderr)
        move_aside(stale, stamp, a.dry_run)
        for cmd in commands(step, a.workers):
            print("  $ " + " ".join(cmd[1:]), file=sys.stderr)
            if not a.dry_run:
                rc = subprocess.run(cmd, cwd=ROOT).returncode
                if rc != 0:
                    print(f"{step}: exit {rc}; fix it and run this command again (stored runs "
                          f"are kept)", file=sys.stderr)
                    return rc
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
