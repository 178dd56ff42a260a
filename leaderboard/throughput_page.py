"""The Throughput page of the site: ``bench throughput`` records, one section per hardware id.

Records are plain dicts read by :func:`bench.throughput.read_records`. For each (hardware,
profile, device, entry, problem, S) the latest measurement is shown. Without records the page
says so: no number is shown that was not measured.
"""

from __future__ import annotations

import pathlib
from collections import defaultdict
from typing import Any, Iterable

from leaderboard.markdown import DASH, WIDE, cell, code, fmt_int, md_table, slug

INTRO = """\
# Throughput

Measured with `bench throughput`: a built-in entry's `optimizer.step(closure)` driven in one
process on the counted oracle, one run (S = 1, a `(d,)` parameter) or S seeds batched as an
`(S, d)` parameter, on the device named. Warm-up steps are excluded.

- **grads/s**: sample gradients per second (S x the oracle's per-row cost / seconds).
- **GB/s**: the minimal bytes a step must move (a *lower bound*: each d-vector read or written
  once; temporaries and drawing the samples not counted) over the seconds per step.
- **% copy**: GB/s as a percent of the copy bandwidth measured on the same device and dtype
  (`b.copy_(a)` on arrays larger than the last-level cache, 2 x array bytes per copy, best of
  the repeats): the percent of the achievable limit, conservative. Where a step's vectors fit in
  the cache it can exceed 100%.

Compare numbers only within one hardware id and profile (CPU numbers also depend on the load of
the machine while they ran: the `load` column is the 1-minute load average).
"""


def latest(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest record per (hardware, profile, device, entry, problem, S)."""
    best: dict[tuple, dict[str, Any]] = {}
    for r in records:
        key = (r["hardware_id"], r.get("profile"), r["device"], r["entry"], r["problem"], r["S"])
        if key not in best or str(r.get("created_at", "")) >= str(best[key].get("created_at", "")):
            best[key] = r
    return sorted(best.values(), key=lambda r: (r["hardware_id"], str(r.get("profile")), r["entry"],
                                                 r["d"], r["S"], r["problem"]))


def _num(x: Any, fmt: str) -> str:
    return DASH if x is None else format(float(x), fmt)


def _machine(hw: dict[str, Any]) -> str:
    parts = [f"CPU {hw.get('cpu', '?')}", f"{hw.get('cores', '?')} cores"]
    if hw.get("memory_gib") is not None:
        parts.append(f"{hw['memory_gib']} GiB memory")
    if hw.get("gpu"):
        parts.append(f"GPU {hw['gpu']} ({hw.get('gpu_memory_gib', '?')} GiB, driver "
                     f"{hw.get('driver') or '?'}, CUDA {hw.get('cuda') or '?'})")
    parts.append(f"torch {hw.get('torch', '?')}")
    return ", ".join(cell(p) for p in parts)


def page(records: list[dict[str, Any]], plots_dir: pathlib.Path, plots_mod, colors) -> str:
    """The markdown of throughput.md; plots written into ``plots_dir``."""
    parts = [WIDE, INTRO]
    recs = latest(records)
    if not recs:
        parts.append('\n!!! note "No throughput records yet"\n    No `bench throughput` records '
                     "were found in the results folder or the archive "
                     "(`leaderboard/results/throughput/`). Run `bench throughput` to add some.\n")
        return "\n".join(parts)
    by_hw: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in recs:
        by_hw[str(r["hardware_id"])].append(r)
    for hid, hrecs in sorted(by_hw.items()):
        hw = hrecs[0].get("hardware") or {}
        parts.append(f"\n## Hardware `{hid}` {{#hw-{slug(hid)}}}\n")
        parts.append(_machine(hw) + ".\n")
        by_profile: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
        for r in hrecs:
            by_profile[(str(r.get("profile")), r["device"], r.get("dtype"))].append(r)
        for (profile, device, dtype), prec in sorted(by_profile.items()):
            copy = prec[0].get("copy") or {}
            parts.append(f"\n### Profile `{profile}` on `{device}` ({dtype}) "
                         f"{{#hw-{slug(hid)}-{slug(profile)}-{slug(device)}}}\n")
            if copy:
                parts.append(f"Copy bandwidth {_num(copy.get('gb_per_s'), '.2f')} GB/s "
                             f"({_num(copy.get('array_bytes', 0) / 2**20, '.0f')} MiB arrays, "
                             f"last-level cache {_num(copy.get('llc_bytes', 0) / 2**20, '.0f')} MiB, "
                             f"{cell(copy.get('statistic', ''))}) when the first of these ran; each "
                             f"row's own is in its `copy GB/s` column.\n")
            rows = [[code(r["entry"]), code(r["problem"]), fmt_int(r["d"]), r["S"],
                     _num(r.get("sample_gradients_per_s"), ".3g"), _num(r.get("gb_per_s"), ".3g"),
                     DASH if r.get("ratio") is None else f"{100 * r['ratio']:.3g}%",
                     _num(r.get("copy_gb_per_s"), ".2f"), r.get("steps", DASH),
                     _num(r.get("load_average"), ".1f"), str(r.get("created_at", ""))[:10]]
                    for r in prec]
            parts.append(md_table(["entry", "problem", "d", "S", "grads/s", "GB/s", "% copy",
                                   "copy GB/s", "steps", "load", "date"], rows))
            series: dict[tuple[str, int], list[tuple[float, float]]] = defaultdict(list)
            for r in prec:
                if r.get("sample_gradients_per_s"):
                    series[(r["entry"], int(r["S"]))].append((float(r["d"]), float(r["sample_gradients_per_s"])))
            if series:
                name = f"throughput-{slug(hid)}-{slug(profile)}-{slug(device)}.svg"
                plots_mod.throughput_curves(series, plots_dir / name,
                                            f"Throughput on {hid}, {profile}, {device}", colors)
                parts.append(f"\n![Sample gradients per second against d on {hid}]"
                             f"(assets/plots/{name}){{ .plot }}\n")
    return "\n".join(parts)
