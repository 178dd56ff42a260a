import pytest

from bench.suites import SUITES, Suite, SuiteItem, get_suite, register_suite
from problems import canonical_id
from problems.registry import resolve


@pytest.mark.parametrize("name", sorted(SUITES))
def test_every_suite_item_names_a_registered_problem(name):
    suite = get_suite(name)
    assert suite.version and suite.items
    for item in suite.items:
        assert canonical_id(item.problem) == item.problem, "suite ids must be canonical (stable)"
        resolve(item.problem)
        assert item.seeds >= 1 and item.time_limit > 0
        assert len(set(item.seed_triples())) == len(item.seed_triples())


def test_suite_names_are_unique():
    with pytest.raises(ValueError):
        register_suite(Suite("quick", "9", "dup", (SuiteItem("reddi2d:canonical"),)))
