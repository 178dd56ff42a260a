"""Suites: named, versioned lists of problem ids x seeds x budgets.

A leaderboard row is valid only for the suite version it ran on: change a suite's items and you
must bump its ``version``. Seeds: each item runs ``seeds`` run seeds 0..seeds-1 on each instance
seed; the init seed equals the run seed (they seed independent streams,
``problems.base.rng``).
"""

from __future__ import annotations

import dataclasses
import difflib


@dataclasses.dataclass(frozen=True)
class SuiteItem:
    """Runs of one problem: ``seeds`` run seeds on each instance seed, with an optional budget
    (sample gradients; None = the problem's default) and a per-run time limit in seconds."""

    problem: str
    seeds: int = 4
    instance_seeds: tuple[int, ...] = (0,)
    budget: int | None = None
    time_limit: float = 300.0

    def seed_triples(self) -> list[tuple[int, int, int]]:
        """(instance_seed, init_seed, run_seed) for every run of the item."""
        return [(i, s, s) for i in self.instance_seeds for s in range(self.seeds)]


@dataclasses.dataclass(frozen=True)
class Suite:
    """A named, versioned list of items. ``tuning_instance_seeds`` (disjoint from every item's
    evaluation instance seeds) and ``tuning_seeds`` (run seeds 0..n-1) are where ``bench tune``
    runs its trials (:mod:`bench.tuning`)."""

    name: str
    version: str
    description: str
    items: tuple[SuiteItem, ...]
    tuning_instance_seeds: tuple[int, ...] = (100, 101)
    tuning_seeds: int = 1

    def __post_init__(self):
        for item in self.items:
            shared = set(item.instance_seeds) & set(self.tuning_instance_seeds)
            if shared:
                raise ValueError(f"suite {self.name}: {item.problem} evaluates on instance seeds "
                                 f"{sorted(shared)}, which are tuning instances")

    def families(self) -> dict[str, list[str]]:
        """family -> the suite's problem ids of that family (in suite order)."""
        out: dict[str, list[str]] = {}
        for item in self.items:
            out.setdefault(item.problem.partition(":")[0], []).append(item.problem)
        return out

    @property
    def n_runs(self) -> int:
        return sum(len(item.seed_triples()) for item in self.items)


SUITES: dict[str, Suite] = {}


def register_suite(suite: Suite) -> Suite:
    if suite.name in SUITES:
        raise ValueError(f"suite {suite.name!r} is already defined")
    SUITES[suite.name] = suite
    return suite


class UnknownSuiteError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def get_suite(name: str) -> Suite:
    if name not in SUITES:
        close = difflib.get_close_matches(name, list(SUITES), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownSuiteError(f"unknown suite {name!r}.{hint} Suites: {', '.join(sorted(SUITES))}")
    return SUITES[name]


register_suite(Suite(
    name="smoke",
    version="1",
    description="Seconds: the 2-D toy and the small quadratic saddle, 2 seeds, small budgets (tests).",
    items=(
        SuiteItem("reddi2d:canonical", seeds=2, budget=40_000, time_limit=60),
        SuiteItem("quad-saddle:small", seeds=2, budget=40_000, time_limit=60),
    ),
))

register_suite(Suite(
    name="quick",
    version="1",
    description="About a minute on 2 cores: the 2-D toy, quadratic saddles up to d=1000, 4 seeds.",
    items=(
        SuiteItem("reddi2d:canonical", seeds=4, budget=200_000, time_limit=120),
        SuiteItem("quad-saddle:small", seeds=4, budget=200_000, time_limit=120),
        SuiteItem("quad-saddle:medium", seeds=2, budget=200_000, time_limit=120),
        SuiteItem("quad-saddle:large", seeds=2, budget=200_000, time_limit=120),
    ),
))

# The leaderboard suite. Every problem is a strict-saddle problem (the control halfspace-blobs,
# which has no saddle, is not in it); each runs on 3 evaluation instances x 5 run seeds; entries
# are tuned on instances 100 and 101, one run seed each (bench.tuning). Budgets are sample
# gradients, about 10x (or more) the median calls of the best tuned entry on the problem.
# mlp-digits is not in it yet: at eps_g = 1e-3 no method certifies within 200k calls (the
# gradient norm stays at 0.03-0.4 after escape, f still falling), and no eps_g was found that is
# both reachable and means "near a minimum" (see problems/networks.py, MLPDigits). The tensor
# family's population (ICA) oracle is left for a later version: its single-sample calls made it
# one of the two most expensive problems to tune and evaluate on the reference machine.
LEADERBOARD_INSTANCES = (0, 1, 2)

register_suite(Suite(
    name="standard",
    version="2",
    description=("The leaderboard: one or two strict-saddle problems per family (mlp-digits not "
                 "yet), 3 instances x 5 run seeds each; tuned on instances 100 and 101."),
    items=(
        SuiteItem("reddi2d:canonical", seeds=5, instance_seeds=LEADERBOARD_INSTANCES, budget=20_000, time_limit=60),
        SuiteItem("quad-saddle:small", seeds=5, instance_seeds=LEADERBOARD_INSTANCES, budget=30_000, time_limit=60),
        SuiteItem("quad-saddle:medium", seeds=5, instance_seeds=LEADERBOARD_INSTANCES, budget=40_000, time_limit=60),
        SuiteItem("tensor:small", seeds=5, instance_seeds=LEADERBOARD_INSTANCES, budget=50_000, time_limit=45),
        SuiteItem("phase-retrieval:small", seeds=5, instance_seeds=LEADERBOARD_INSTANCES, budget=50_000, time_limit=45),
        SuiteItem("matrix-sensing:small", seeds=5, instance_seeds=LEADERBOARD_INSTANCES, budget=30_000, time_limit=45),
        SuiteItem("halfspace-sym:small", seeds=5, instance_seeds=LEADERBOARD_INSTANCES, budget=30_000, time_limit=45),
        SuiteItem("deep-linear:small", seeds=5, instance_seeds=LEADERBOARD_INSTANCES, budget=50_000, time_limit=45),
    ),
))

register_suite(Suite(
    name="scaling",
    version="2",
    description="Dimension sweeps: quad-saddle d = 10 .. 10^4 and phase-retrieval d = 10 .. 1000, 2 seeds each.",
    items=(
        SuiteItem("quad-saddle:small", seeds=2, budget=400_000, time_limit=120),
        SuiteItem("quad-saddle:medium", seeds=2, budget=400_000, time_limit=120),
        SuiteItem("quad-saddle:large", seeds=2, budget=400_000, time_limit=180),
        SuiteItem("quad-saddle:xl", seeds=2, budget=400_000, time_limit=300),
        SuiteItem("phase-retrieval:small", seeds=2, budget=100_000, time_limit=120),
        SuiteItem("phase-retrieval:medium", seeds=2, budget=500_000, time_limit=300),
        SuiteItem("phase-retrieval:large", seeds=2, budget=2_000_000, time_limit=600),
    ),
))
