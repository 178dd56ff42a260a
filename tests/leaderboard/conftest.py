import pathlib

import pytest

from tests.leaderboard.helpers import make_record, standard

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def small_results(tmp_path_factory):
    """A results store of hand-made records: the tuned board of the leaderboard suite (3
    entries, 2 problems of real families) and a smoke board of 2 of them (custom track)."""
    from bench.store import ResultsStore

    root = tmp_path_factory.mktemp("results")
    store = ResultsStore(root)
    table = {"adam": [100, 120, 140], "sgd": [None, None, 900], "rmsprop": [200, 150, 180]}
    for entry, calls in table.items():
        for problem, scale in (("reddi2d:canonical", 1), ("quad-saddle:small", 3)):
            for seed, c in enumerate(calls):
                store.append(standard(entry, problem, seed, None if c is None else c * scale,
                                      budget=5000))
                if entry != "rmsprop":
                    store.append(make_record(entry, problem, seed, None if c is None else c * scale,
                                             budget=5000))
    return root


@pytest.fixture(scope="session")
def claims_results(tmp_path_factory):
    """A claims folder: the tiny claims' results (helpers.write_tiny_results) and a copy of
    every committed result (leaderboard/claims/<id>/result.json), as the site reads them."""
    import shutil

    from tests.leaderboard.helpers import write_tiny_results

    root = tmp_path_factory.mktemp("claims")
    write_tiny_results(root)
    for path in sorted((ROOT / "leaderboard" / "claims").glob("D*/result.json")):
        try:
            (root / path.parent.name).mkdir()
            shutil.copyfile(path, root / path.parent.name / path.name)
        except OSError:  # being written by `bench reproduce` right now
            pass
    return root


@pytest.fixture(scope="session")
def built_site(small_results, claims_results, tmp_path_factory):
    from leaderboard.site import build_site

    tmp = tmp_path_factory.mktemp("site")
    return build_site(small_results, tmp / "site", tmp / "src", claims=claims_results)


@pytest.fixture(scope="session")
def archive_site(tmp_path_factory):
    """The site built from the committed archive (leaderboard/results/): the real size, the
    real pages (the browser tests measure and photograph this one)."""
    from leaderboard.site import DEFAULT_RESULTS, build_site

    if not any(DEFAULT_RESULTS.rglob("*.jsonl")):
        pytest.skip("no committed records in leaderboard/results/")
    tmp = tmp_path_factory.mktemp("archive-site")
    return build_site(DEFAULT_RESULTS, tmp / "site", tmp / "src")
