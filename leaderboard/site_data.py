"""What the site's pages show, as data: the boards (one per suite version, profile and track,
with their per-problem table and ranking), the problems' facts (cached), and the small
formatting rules shared by the page writers."""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any, Iterable

import numpy as np
import pandas as pd

from bench.records import RunRecord
from leaderboard import boards, scoring
from leaderboard.aggregate import problem_table
from leaderboard.markdown import DASH, fmt_int, is_missing, slug

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: the hand-written pages (copied into the site)
DOCS = ROOT / "docs"

#: entries drawn in colour on a board's performance profile (the rest are grey)
PROFILE_TOP = 5
#: entries drawn in colour on an escape-curve plot (the best on that problem)
ESCAPE_TOP = 3
#: entries in colour on an entry page's profile, beside the entry itself (in black)
ENTRY_TOP = 3
#: the wide columns of a problem's results, behind a collapsible block
DETAIL_COLUMNS = ["cost 95% CI", "median calls (certified runs)", "IQR (certified)", "gap",
                  "escape calls", "escaped", "median s", "hardware"]


@dataclasses.dataclass
class Board:
    suite: str
    version: str
    profile: str
    track: str
    records: list[RunRecord]
    table: pd.DataFrame
    ranking: pd.DataFrame  # empty for a board that is not ranked
    harness_version: str = ""
    older_left_out: int = 0  # records of older harness versions left out of this board
    ranked: bool = False

    @property
    def key(self) -> str:
        return slug(f"{self.suite}-v{self.version}-{self.profile}-{self.track}")

    @property
    def title(self) -> str:
        return f"suite `{self.suite}` v{self.version}, profile `{self.profile}`, track `{self.track}`"


def make_board(b: boards.BoardRecords) -> Board:
    suite, version, profile, track = b.key
    table = problem_table(b.records)
    rk = scoring.ranking(b.records, table=table) if b.ranked else pd.DataFrame(columns=scoring.RANKING_COLUMNS)
    return Board(suite, version, profile, track, b.records, table, rk, b.harness_version,
                 b.older_left_out, b.ranked)


def make_boards(records: Iterable[RunRecord]) -> list[Board]:
    return [make_board(b) for b in boards.split_boards(records)]


def ranked_version() -> str:
    """The current version of the leaderboard suite (its boards head the home page)."""
    try:
        from bench.suites import get_suite

        return get_suite(boards.RANKED_SUITE).version
    except Exception:
        return ""


def entry_modules() -> dict[str, Any]:
    try:
        from optimizers import discover

        return discover()
    except Exception:  # the site must build even if discovery itself breaks
        return {}


def family_classes() -> dict[str, type]:
    try:
        from problems import families

        return families()
    except Exception:
        return {}


def _describe(problem_id: str) -> dict[str, Any] | None:
    try:
        from problems import make_problem

        return make_problem(problem_id).describe()
    except Exception:
        return None


class Facts:
    """``Problem.describe()`` of each problem id, cached in a JSON file per harness version (the
    facts come from the problem code, which the harness version covers): building an instance
    can take seconds (deep-linear's, phase-retrieval's), reading the cache takes none."""

    def __init__(self, path: pathlib.Path | None):
        self.path = path
        self.data: dict[str, Any] = {}
        self.dirty = False
        if path is not None and path.is_file():
            try:
                self.data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.data = {}
        try:
            from bench.provenance import harness_version

            self.version = harness_version()
        except Exception:  # noqa: BLE001
            self.version = "?"

    def get(self, problem_id: str) -> dict[str, Any]:
        key = f"{self.version}|{problem_id}"
        if key not in self.data:
            self.data[key] = _describe(problem_id)
            self.dirty = True
        return self.data[key] or {}

    def save(self) -> None:
        if self.path is not None and self.dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.data, sort_keys=True, default=float), encoding="utf-8")
            self.dirty = False


def interval(lo: float, hi: float) -> str:
    if is_missing(lo) or is_missing(hi):
        return DASH
    return f"{int(lo)}" if lo == hi else f"{int(lo)}–{int(hi)}"


def ci_text(lo: float, hi: float, coverage: float) -> str:
    """"lo–hi", with the coverage achieved in parentheses when it is below 95%."""
    if is_missing(lo) or is_missing(hi):
        return DASH
    text = f"{fmt_int(lo)}–{fmt_int(hi)}"
    if not is_missing(coverage) and coverage < scoring.CI_LEVEL:
        text += f" ({100 * coverage:.0f}%)"
    return text


def ratio_text(r: float) -> str:
    return f"{r:.2f}" if r < 10 else f"{r:.0f}"


def indent_block(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line.strip() else "" for line in text.splitlines()) + "\n"


def math_isfinite(x: Any) -> bool:
    try:
        return bool(np.isfinite(float(x)))
    except (TypeError, ValueError):
        return False
