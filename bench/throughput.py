"""``bench throughput``: sample gradients per second and memory bandwidth of built-in entries.

    bench throughput                          # sgd, adam on quad-saddle d = 1e4..1e7, S = 1, 64
    bench throughput -o adam --sizes 1e6 1e7 --seeds 1 --device cuda
    bench throughput --quick                  # tiny sizes, a few seconds (tests)

What is measured and how (in-process steps, the bytes model, the copy bandwidth, the timers):
:mod:`bench.throughput_measure`. Sizes too big for the free memory are skipped and reported.

Records: one plain JSON object per measurement, one line each, appended whole (under an
exclusive ``flock``, newline repaired, ``fsync``-ed) to ``<results>/throughput/<hardware
id>.ndjson``; the hardware id is the fingerprint's (bench.profiles), computed for the device
actually used. The files are JSON Lines named ``.ndjson`` because the run-record store
(:class:`bench.store.ResultsStore`) reads every ``*.jsonl`` under a results folder as run records.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import pathlib
import sys
import warnings
from typing import Any, Iterable

DEFAULT_ENTRIES = ("sgd", "adam")
DEFAULT_SIZES = ("xl", "xxl", "1e6", "1e7")  # quad-saddle sizes, d = 1e4, 1e5, 1e6, 1e7
DEFAULT_ROWS = (1, 64)
DEFAULT_MAX_ELEMENTS = 10_000_000  # the default grid leaves out S x d above this (minutes on a CPU)
QUICK_SIZES = ("small", "medium")
QUICK_ROWS = (1, 4)
QUICK_COPY_BYTES = 64 << 20  # --quick: a small copy (it may sit in cache; the record says so)
FOLDER = "throughput"
SUFFIX = ".ndjson"
SCHEMA = 1
REQUIRED = ("entry", "problem", "d", "S", "sample_gradients_per_s", "hardware_id", "device")


def add_command(subparsers) -> None:
    """Add ``bench throughput`` to the ``bench`` command line's subparsers."""
    p = subparsers.add_parser(
        "throughput", help="measure sample gradients/s and memory bandwidth of built-in entries",
        description="Time built-in entries' optimizer.step(closure) in this process on the counted "
                    "oracle, per problem size and number of batched seeds S; report sample "
                    "gradients per second, achieved GB/s (a lower-bound bytes model) and its "
                    "percent of the measured copy bandwidth. Records go to "
                    "RESULTS/throughput/<hardware id>.ndjson.")
    p.add_argument("-o", "--optimizer", action="append", metavar="ENTRY",
                   help="built-in entry, optionally with [lr=...]; repeatable (default: sgd, adam)")
    p.add_argument("--sizes", nargs="+", metavar="SIZE",
                   help="quad-saddle sizes (xl, 1e6, ...) or full problem ids "
                        f"(default: {' '.join(DEFAULT_SIZES)})")
    p.add_argument("--seeds", nargs="+", type=_positive("--seeds", 4096), metavar="S",
                   help="numbers of batched seeds S (default: 1 64; without --sizes and --seeds "
                        f"the grid leaves out S x d > {DEFAULT_MAX_ELEMENTS:.0e})")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: the profile's device)")
    p.add_argument("--profile", help="hardware profile for dtype and threads (default: cpu, or "
                                     "cuda with --device cuda)")
    p.add_argument("--steps", type=_positive("--steps", 10**7),
                   help="timed steps per measurement (default: about 0.5 s worth, in whole "
                        "periods of the sample stream's chunks)")
    p.add_argument("--results", default="bench-results", help="results folder (default: bench-results)")
    p.add_argument("--quick", action="store_true", help="tiny sizes and short timings (tests)")
    p.set_defaults(func=cmd_throughput)


def _positive(flag: str, upper: int):
    import argparse

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} takes whole numbers, got {text!r}") from None
        if not 1 <= value <= upper:
            raise argparse.ArgumentTypeError(f"{flag} must be from 1 to {upper:,}, got {text}")
        return value

    parse.__name__ = "positive int"
    return parse


# ---------------------------------------------------------------------------------- setup
def _cli_error(message: str) -> Exception:
    from bench.cli import CLIError  # not at import time: bench.cli imports this module

    return CLIError(message)


def resolve_device(device: str | None, profile_name: str | None):
    """(profile, torch.device) from --device and --profile; a CUDA device gets its index."""
    import torch

    from bench.profiles import get_profile

    name = profile_name or ("cuda" if device and device.startswith("cuda") else "cpu")
    profile = get_profile(name)
    try:
        dev = torch.device(device or profile.device)
    except (RuntimeError, ValueError):
        raise _cli_error(f"--device {device!r} is not a device; use cpu, cuda or cuda:N") from None
    if dev.type != profile.device:
        raise _cli_error(f"--device {device} does not match --profile {name} (which runs on "
                         f"{profile.device}); pick a {dev.type} profile (bench list profiles)")
    if dev.type == "cuda":
        count = torch.cuda.device_count()
        index = torch.cuda.current_device() if dev.index is None else dev.index
        if index >= count:
            raise _cli_error(f"--device {device}: torch sees {count} CUDA device(s), 0 to {count - 1}")
        dev = torch.device("cuda", index)
    elif dev.type != "cpu":
        raise _cli_error(f"--device {device}: only cpu and cuda are supported")
    return profile, dev


def hardware(device) -> dict[str, Any]:
    """The fingerprint (bench.profiles) of the device actually used (``cuda:<i>``: that GPU,
    whose ``torch.cuda.get_device_name`` is recorded as ``device_name``)."""
    import torch

    from bench.profiles import fingerprint

    info = dict(fingerprint(str(device)))
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device.index)
    return info


def load_entries(specs: Iterable[str]) -> list[tuple[Any, Any]]:
    """(EntryChoice as resolved, the same choice imported here) for every spec; only built-in
    entries (their source is in optimizers/): anything else is refused with a CLIError."""
    from bench.entries import load_here, resolve_entry
    from bench.entry_info import builtin_names
    from bench.spec import parse_spec

    builtins = builtin_names()
    out = []
    for spec in specs:
        name, _ = parse_spec(spec)
        refusal = (f"bench throughput times entries inside its own process, so it measures only "
                   f"the built-in entries of optimizers/ ({', '.join(builtins)}); {name!r} is not "
                   f"one. Time other entries sealed with `bench run` (their records hold seconds)")
        if name not in builtins:
            raise _cli_error(refusal)
        for choice in resolve_entry(spec):
            if choice.entry.ref.get("kind") != "builtin":
                raise _cli_error(refusal)
            out.append((choice, load_here(choice)))
    return out


def problem_ids(sizes: Iterable[str]) -> list[str]:
    from problems import canonical_id

    return [canonical_id(s if ":" in s else f"quad-saddle:{s}") for s in sizes]


def _dim(problem_id: str) -> int | None:
    from problems.registry import resolve

    cls, size, _ = resolve(problem_id)
    return cls.sizes[size].get("d")


# ---------------------------------------------------------------------------------- records
def append_record(path: pathlib.Path, record: dict[str, Any]) -> None:
    """Append ``record`` as one complete JSON line (bench.store.append_line: flock, newline
    repair, fsync, all or nothing)."""
    from bench.records import _clean
    from bench.store import append_line

    line = json.dumps(_clean(record), sort_keys=True, allow_nan=False)
    append_line(path, line, f"a throughput record of {record.get('entry')} on {record.get('problem')}")


def read_records(folders: Iterable[str | os.PathLike]) -> list[dict[str, Any]]:
    """Every throughput record under ``folders`` (each a results folder: its ``throughput/``
    is read, or a ``throughput`` folder itself); bad lines are warned about and skipped, and a
    record found twice (the same line in two folders) is kept once."""
    out, seen = [], set()
    for folder in folders:
        folder = pathlib.Path(folder)
        folder = folder if folder.name == FOLDER else folder / FOLDER
        for path in sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []:
            for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    rec, why = None, f"not JSON: {exc}"
                else:
                    missing = [k for k in REQUIRED if k not in rec] if isinstance(rec, dict) else None
                    why = (f"a JSON {type(rec).__name__}" if missing is None
                           else f"missing {', '.join(missing)}" if missing else None)
                if why:
                    warnings.warn(f"{path}:{lineno}: skipped a line that is not a throughput "
                                  f"record ({why})", stacklevel=2)
                    continue
                key = json.dumps(rec, sort_keys=True)
                if key not in seen:
                    seen.add(key)
                    out.append(rec)
    return out


# ---------------------------------------------------------------------------------- command
def measure_all(entries, pids: list[str], rows_list: list[int], *, profile, device, steps=None,
                quick: bool = False, max_elements: int | None = None, sink=None, timer=None,
                available=None, copy=None):
    """Measure every (problem, S, entry) with S x d <= ``max_elements``; returns (records,
    skipped, failed), where skipped and failed are (entry, problem, S, reason) tuples.
    ``sink(record)`` is called as soon as a record is made (the command appends it: an
    interrupted run keeps what it measured). ``timer``/``available``/``copy`` replace the
    device's timer, free-memory probe and copy measurement (tests)."""
    import torch

    from bench import throughput_measure as tm
    from bench.profiles import versions
    from bench.provenance import harness_version
    from bench.sandbox import tune_malloc
    from problems import make_problem

    tune_malloc()  # as in every harness process: freed vectors are reused, not fresh pages
    dtype = profile.torch_dtype()
    itemsize = torch.empty((), dtype=dtype).element_size()
    timer = timer or tm.timer_for(device)
    hw = hardware(device)
    threads = torch.get_num_threads()
    torch.set_num_threads(profile.threads)
    records, skipped, failed = [], [], []
    try:
        if copy is None:
            copy = tm.copy_bandwidth(device, dtype, timer=timer, repeats=3 if quick else tm.COPY_REPEATS,
                                     array_bytes=QUICK_COPY_BYTES if quick else None)
        for pid in pids:
            problem = None
            for rows in rows_list:
                d = _dim(pid)
                if d is not None and max_elements is not None and rows * d > max_elements:
                    continue
                reason = None if d is None else tm.memory_skip_reason(device, d, rows, itemsize, available)
                if reason:
                    skipped += [(c.label, pid, rows, reason) for c, _ in entries]
                    continue
                if problem is None:
                    problem = make_problem(pid, 0, dtype=dtype, device=device)
                for info, choice in entries:
                    try:
                        m = tm.measure(choice, problem, rows, timer=timer, warmup=1 if quick else 2,
                                       steps=steps, target_seconds=0.02 if quick else 0.5,
                                       copy_gb_per_s=copy["gb_per_s"])
                    except (MemoryError, torch.OutOfMemoryError) as exc:
                        skipped.append((info.label, pid, rows, f"out of memory: {exc}"[:200]))
                        continue
                    except Exception as exc:  # one broken combination must not end the table
                        failed.append((info.label, pid, rows, f"{type(exc).__name__}: {exc}"[:300]))
                        continue
                    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
                    records.append({
                        "schema": SCHEMA, "entry": info.label, "entry_name": info.entry.name,
                        "entry_source_hash": info.entry.source_hash(),
                        "hparams": info.hparams_for(problem.family), "problem": pid,
                        "family": problem.family, "d": problem.dim, "S": rows,
                        "dtype": profile.dtype, "device": str(device), "threads": profile.threads,
                        **m, "copy": copy, "profile": profile.name, "hardware": hw,
                        "hardware_id": hw["id"], "load_average": os.getloadavg()[0],
                        "versions": versions(), "harness_version": harness_version(),
                        "created_at": now})
                    if sink is not None:
                        sink(records[-1])
    finally:
        torch.set_num_threads(threads)
    return records, skipped, failed


def _fmt_d(d: int) -> str:
    e = round(math.log10(d)) if d > 0 else 0
    return f"1e{e}" if d >= 10_000 and d == 10 ** e else f"{d:,}"


def table(records: list[dict[str, Any]]) -> str:
    """entry, problem, d, S, sample gradients/s, GB/s, % of copy, copy GB/s (<= 100 columns)."""
    from tabulate import tabulate

    def num(x, fmt):
        return "-" if x is None else format(x, fmt)

    rows = [[r["entry"], r["problem"], _fmt_d(r["d"]), r["S"], num(r["sample_gradients_per_s"], ".3g"),
             num(r["gb_per_s"], ".3g"), "-" if r["ratio"] is None else f"{100 * r['ratio']:.3g}%",
             num(r["copy_gb_per_s"], ".2f")] for r in records]
    return tabulate(rows, headers=["entry", "problem", "d", "S", "grads/s", "GB/s", "% copy",
                                   "copy GB/s"], tablefmt="github", disable_numparse=True,
                    maxcolwidths=[18, 24, None, None, None, None, None, None])


def cmd_throughput(args) -> int:
    """``bench throughput``: measure, append the records, print the table (exit 1 if a
    measurement failed)."""
    profile, device = resolve_device(args.device, args.profile)
    pids = problem_ids(args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES))
    entries = load_entries(args.optimizer or DEFAULT_ENTRIES)
    rows_list = list(dict.fromkeys(args.seeds or (QUICK_ROWS if args.quick else DEFAULT_ROWS)))
    hw = hardware(device)
    path = pathlib.Path(args.results) / FOLDER / f"{hw['id']}{SUFFIX}"
    print(f"bench throughput on {device} ({hw.get('gpu') or hw.get('cpu')}), profile {profile.name} "
          f"({profile.dtype}, {profile.threads} thread(s)): {len(entries)} entries x "
          f"{len(pids)} problem(s) x S in {rows_list}", file=sys.stderr)
    grid = None if args.sizes or args.seeds or args.quick else DEFAULT_MAX_ELEMENTS
    records, skipped, failed = measure_all(entries, pids, rows_list, profile=profile, device=device,
                                           steps=args.steps, quick=args.quick, max_elements=grid,
                                           sink=lambda rec: append_record(path, rec))
    if records:
        c = records[0]["copy"]
        print(f"copy bandwidth: {c['gb_per_s']:.2f} GB/s, {c['statistic']} (median "
              f"{c['gb_per_s_median']:.2f}) of b.copy_(a) on {c['array_bytes'] / 2**20:.0f} MiB "
              f"arrays\n(last-level cache {c['llc_bytes'] / 2**20:.0f} MiB), 2 x array bytes per copy")
        print("GB/s: lower-bound bytes model / seconds per step; % copy: of the copy bandwidth\n")
        print(table(records))
        print(f"\n{len(records)} record(s) appended to {path}")
    for label, pid, rows, why in skipped:
        print(f"skipped {label} on {pid} S={rows}: {why}")
    for label, pid, rows, why in failed:
        print(f"failed {label} on {pid} S={rows}: {why}")
    if grid is not None:
        print(f"(the default grid leaves out S x d > {grid:,}: ask for them with --sizes and --seeds)")
    return 1 if failed else 0
