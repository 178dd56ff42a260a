"""Boards: which records are compared with which.

Records are compared only within one board = (suite, suite version, profile, track)
(:func:`boards`). Tracks: ``tuned`` (hyperparameters from the entry's committed tuning file),
``defaults`` (the entry's own defaults on every family) and ``custom`` (set by the user). Only the
``tuned`` and ``defaults`` boards of the leaderboard suite (``RANKED_SUITE`` = "standard") are
*ranked*; every other board is a table without ranks, and ``custom`` records are never ranked.
A board never mixes harness versions: it keeps the records of its newest harness version (the
version whose newest record is newest) and counts the others as left out.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable

from bench.records import RunRecord

RANKED_SUITE = "standard"
RANKED_TRACKS = ("tuned", "defaults")
TRACK_ORDER = ("tuned", "defaults", "custom")
BoardKey = tuple[str, str, str, str]  # suite, suite_version, profile, track


def board_key(r: RunRecord) -> BoardKey:
    return (r.suite, r.suite_version, r.profile, r.track)


def is_ranked(key: BoardKey) -> bool:
    """Only the tuned and defaults tracks of the leaderboard suite are ranked."""
    return key[0] == RANKED_SUITE and key[3] in RANKED_TRACKS


SUITE_ORDER = ["standard", "quick", "scaling", "smoke"]


def _board_sort(key: BoardKey):
    suite, version, profile, track = key
    rank = SUITE_ORDER.index(suite) if suite in SUITE_ORDER else len(SUITE_ORDER)
    trank = TRACK_ORDER.index(track) if track in TRACK_ORDER else len(TRACK_ORDER)
    return (not is_ranked(key), rank, suite, _version_sort(version), profile != "cpu", profile, trank)


def _version_sort(version: str):
    # newest version first
    try:
        return (0, -float(version))
    except ValueError:
        return (1, version)


@dataclasses.dataclass
class BoardRecords:
    """The records of one board (newest harness version only) and what was left out."""

    key: BoardKey
    records: list[RunRecord]
    harness_version: str
    older_left_out: int  # records of the board made by other (older) harness versions

    @property
    def ranked(self) -> bool:
        return is_ranked(self.key)


def split_boards(records: Iterable[RunRecord]) -> list[BoardRecords]:
    """Records split by (suite, suite_version, profile, track), each board keeping the records of
    its newest harness version (the one whose newest record is newest), ranked boards first (the
    standard suite, newest version, ``cpu`` profile, tuned before defaults)."""
    from leaderboard.aggregate import latest

    groups: dict[BoardKey, dict[str, list[RunRecord]]] = {}
    for r in latest(records):
        groups.setdefault(board_key(r), {}).setdefault(r.harness_version, []).append(r)
    out = []
    for key in sorted(groups, key=_board_sort):
        by_version = groups[key]
        newest = max(by_version, key=lambda v: (max(r.created_at for r in by_version[v]), v))
        older = sum(len(rs) for v, rs in by_version.items() if v != newest)
        out.append(BoardRecords(key, by_version[newest], newest, older))
    return out


def boards(records: Iterable[RunRecord]) -> dict[BoardKey, list[RunRecord]]:
    """{board key: its records (newest harness version)}, in :func:`split_boards` order."""
    return {b.key: b.records for b in split_boards(records)}
