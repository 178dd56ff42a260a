"""Every entry declares what ``bench tune`` searches (issue 11, "A fair leaderboard").

An entry's own settings are its ``defaults`` (one setting for every problem family); the tuned
track runs it at the point of its ``search_space`` that ``bench tune`` picks per family. These
tests check the spaces themselves:

* every entry declares a non-empty space of at most 3 dimensions, built only from
  ``LogUniform`` / ``Uniform`` / ``Choice``, that survives the plain-data round trip a sealed
  worker uses, and that searches the entry's step size (log-uniform over at least two decades);
* every point of the space builds the optimizer through the harness's checks
  (``check_hparams`` in ``build_optimizer``) and takes a finite step: the corners and centre of
  the unit cube (u = 0, 0.5, 0.999 on every dimension) and the 16 Sobol points ``bench tune``
  draws;
* the entry's defaults lie inside the space, and so do the settings with which the conformance
  suite shows the entry escaping reddi2d (a space must contain a working step);
* similar entries search the same step-size range, so that no entry is favoured by a wider or
  better-placed range.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from bench.entries import EntryChoice, build_optimizer, check_hparams, constructor_parameters
from bench.tuning import trial_points
from optimizers import BrokenEntry, discover
from optimizers.base import Choice, LogUniform, Uniform, dimension_from_data

from tests.optimizers.conftest import FakeClosure
from tests.optimizers.test_conformance import FAMILY, choice

ENTRIES = discover()
NAMES = sorted(ENTRIES)
MAX_DIMS = 3
# the step size of each entry (its analogue for cubic Newton: the initial cubic weight M0, whose
# inverse sets the step length)
STEP_KEY = {"cubic-newton": "M0"}
# entries whose step sizes mean the same thing search the same range (see the entries' comments)
SAME_STEP_RANGE = {
    "sgd step": ["sgd", "spa", "cnc-sgd", "sgld", "psgd", "pgd", "cnc-pgd", "neon"],
    "PyTorch-form heavy-ball lr (effective step lr/(1-beta))":
        ["sgd-momentum", "nesterov", "momentum-annealing", "wang-momentum"],
    "Adam-type adaptive step": ["adam", "amsgrad", "rmsprop"],
}
UNITS = (0.0, 0.5, 0.999)
N_TRIALS = 16


def entry(name):
    e = ENTRIES[name]
    assert not isinstance(e, BrokenEntry), e.error
    return e


def step_key(name):
    return STEP_KEY.get(name, "lr")


def corner_points(space):
    names = sorted(space)
    for units in itertools.product(UNITS, repeat=len(names)):
        yield {k: space[k].value(u) for k, u in zip(names, units)}


def sobol_points(space):
    return trial_points({k: d.to_data() for k, d in space.items()}, N_TRIALS)


def contains(dim, value) -> bool:
    if isinstance(dim, Choice):
        return value in dim.values
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    tol = 1e-9 * max(abs(dim.low), abs(dim.high))  # values are rounded to 3 digits by bench tune
    return dim.low - tol <= value <= dim.high + tol


@pytest.mark.parametrize("name", NAMES)
def test_space_declared_with_allowed_types(name):
    e = entry(name)
    space = e.search_space
    assert space, f"{name} declares no search_space"
    assert len(space) <= MAX_DIMS, f"{name}: {len(space)} dimensions; the tuning budget is small"
    params, _ = constructor_parameters(e.optimizer)
    for key, dim in space.items():
        assert type(dim) in (LogUniform, Uniform, Choice), (key, dim)
        assert dimension_from_data(dim.to_data()) == dim, (key, dim)
        assert key in params, f"{name}: search_space names {key!r}, which the optimizer does not take"
    key = step_key(name)
    assert key in space, f"{name}: the step size {key!r} must be searched"
    dim = space[key]
    assert isinstance(dim, LogUniform) and not dim.integer, f"{name}: {key} must be LogUniform"
    assert math.log10(dim.high / dim.low) >= 2, f"{name}: {key} range {dim} is too narrow"


@pytest.mark.parametrize("name", NAMES)
def test_every_point_builds_and_steps(name):
    e = entry(name)
    points = list(corner_points(e.search_space)) + sobol_points(e.search_space)
    for point in points:
        for key, value in point.items():
            assert contains(e.search_space[key], value), (key, value)
            if isinstance(e.search_space[key], LogUniform) and e.search_space[key].integer:
                assert isinstance(value, int)
        hp = e.hparams_for(FAMILY, point)
        check_hparams(e.optimizer, hp, label=name)
        w = torch.tensor([0.3, -0.2], dtype=torch.float64)
        opt = build_optimizer(EntryChoice(e, point, name), [w], FAMILY)
        clo = FakeClosure(w, torch.diag(torch.tensor([1.0, -0.1], dtype=torch.float64)),
                          torch.zeros(2, dtype=torch.float64), n=10)
        torch.manual_seed(0)
        opt.step(clo)
        assert torch.isfinite(w).all(), (name, point, w)


@pytest.mark.parametrize("name", NAMES)
def test_defaults_and_escaping_settings_lie_in_the_space(name):
    """The defaults track's values, and the values the conformance suite escapes reddi2d with
    (defaults <- its test-only FAST overrides), are points of the space where it searches them."""
    e = entry(name)
    params, _ = constructor_parameters(e.optimizer)
    for label, hp in (("defaults", {**params, **e.defaults}), ("escaping", choice(name).hparams_for(FAMILY))):
        for key, dim in e.search_space.items():
            value = hp.get(key)
            if value is None:  # derived at run time (pgd's lr = 1/(2L), nc_iters, ...)
                continue
            assert contains(dim, value), f"{name}: {label} {key}={value} lies outside {dim}"


@pytest.mark.parametrize("group", sorted(SAME_STEP_RANGE))
def test_similar_entries_search_the_same_step_range(group):
    ranges = {name: entry(name).search_space[step_key(name)] for name in SAME_STEP_RANGE[group]}
    assert len(set(ranges.values())) == 1, f"{group}: {ranges}"


def test_the_groups_cover_the_first_order_step_sizes():
    grouped = {n for names in SAME_STEP_RANGE.values() for n in names}
    assert grouped | {"adagrad", "ngd", "cubic-newton"} == set(NAMES)
