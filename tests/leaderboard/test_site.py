import json
import pathlib
import shutil

from leaderboard import site
from tests.leaderboard.helpers import make_record


def test_pages_exist(built_site):
    out = built_site.site_dir
    for page in ["index.html", "methodology.html", "submitting.html", "hardware.html",
                 "problems/reddi2d.html", "problems/quad-saddle.html", "entries/adam.html",
                 "entries/sgd.html", "javascripts/tablesort.js"]:
        assert (out / page).is_file(), page
    home = (out / "index.html").read_text()
    assert "fonts.googleapis" not in home and "cdn.jsdelivr" not in home
    assert "entries/adam.html" in home
    plots = list((built_site.src_dir / "docs" / "assets" / "plots").glob("*.svg"))
    assert any(p.name.startswith("profile-") for p in plots)
    assert any(p.name.startswith("escape-reddi2d") for p in plots)


def test_ranking_order_on_home(built_site):
    md = (built_site.src_dir / "docs" / "index.md").read_text()
    # adam is fastest everywhere; sgd fails (1/3 certified)
    assert md.index("[adam]") < md.index("[rmsprop]") < md.index("[sgd]")
    assert "| 1 | [adam](entries/adam.md) | 1.000 |" in md


def test_new_entry_adds_row_and_page(small_results, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(small_results, results)
    out1 = site.build_site(results, tmp_path / "site", tmp_path / "src")
    assert not (out1.site_dir / "entries" / "brand-new-opt.html").exists()
    from bench.store import ResultsStore

    store = ResultsStore(results)
    for seed in range(3):
        for problem in ("reddi2d:canonical", "quad-saddle:small", "newfam:tiny"):
            store.append(make_record("brand-new-opt", problem, seed, 50 + seed, budget=5000))
    out2 = site.build_site(results, tmp_path / "site", tmp_path / "src")
    assert "brand-new-opt" in out2.entries
    page = out2.site_dir / "entries" / "brand-new-opt.html"
    assert page.is_file()
    assert "entries/brand-new-opt.html" in (out2.site_dir / "index.html").read_text()
    assert (out2.site_dir / "problems" / "newfam.html").is_file()  # unknown family: still a page


def test_records_are_plain_jsonl(small_results):
    for path in pathlib.Path(small_results).glob("*.jsonl"):
        for line in path.read_text().splitlines():
            json.loads(line)


def test_docstring_markdown():
    md = site.docstring_markdown("Title line.\n\n    .. math::\n        f = :math:`x`\n\n    Body.")
    assert md.startswith("Title line.\n") and "```text" in md and ":math:" not in md


def test_cli_build_and_errors(small_results, tmp_path, capsys):
    from leaderboard.cli import main

    assert main(["build", "--results", str(tmp_path / "nope")]) == 2
    assert main(["serve", "--dir", str(tmp_path / "nosite")]) == 2
    assert main(["build", "--results", str(small_results), "--out", str(tmp_path / "s"),
                 "--src", str(tmp_path / "src")]) == 0
    assert (tmp_path / "s" / "index.html").is_file()


def test_add_commands_wiring():
    import argparse

    from leaderboard.cli import add_commands

    p = argparse.ArgumentParser(prog="bench")
    add_commands(p.add_subparsers(dest="command"))
    a = p.parse_args(["leaderboard", "build", "--results", "R", "--out", "O"])
    assert (a.results, a.out, a.func.__name__) == ("R", "O", "cmd_build")
    a = p.parse_args(["leaderboard", "serve", "--port", "0"])
    assert (a.port, a.func.__name__) == (0, "cmd_serve")


def test_unsealed_records_are_not_published(small_results, tmp_path):
    from bench.store import ResultsStore

    results = tmp_path / "results"
    shutil.copytree(small_results, results)
    store = ResultsStore(results)
    for seed in range(3):
        store.append(make_record("in-process-opt", "reddi2d:canonical", seed, 5, sealed=False))
    out = site.build_site(results, tmp_path / "site", tmp_path / "src")
    assert "in-process-opt" not in out.entries
    assert not (out.site_dir / "entries" / "in-process-opt.html").exists()
    assert "in-process-opt" not in (out.src_dir / "docs" / "index.md").read_text()


def test_home_boards_ranked_and_tables(built_site):
    md = (built_site.src_dir / "docs" / "index.md").read_text()
    tuned = md.index("## Ranking: tuned track")
    defaults = md.index("## Ranking: defaults track")
    smoke = md.index("## Results table (not ranked): suite `smoke`")
    assert tuned < defaults < smoke
    # the defaults board has no records: said plainly, no table
    assert "No records yet" in md[defaults:smoke] and "| rank |" not in md[defaults:smoke]
    # the smoke board is a table without a rank column
    assert "| rank |" not in md[smoke:] and "| entry | solved | certified/runs | SGM cost |" in md[smoke:]
    # ranking: success fraction beside the cost, rank interval
    assert "| rank | entry | score | rank 95% interval | SGM cost | solved | certified/runs |" in md
    assert "| 3 | [sgd](entries/sgd.md) | 0.000 | 3 |" in md and "| 0/2 | 2/6 |" in md
    csv = built_site.src_dir / "docs" / "assets" / "data" / "standard-v2-cpu-tuned.csv"
    assert csv.is_file() and "gap_median" in csv.read_text().splitlines()[0]
    assert (built_site.site_dir / "assets" / "data" / "standard-v2-cpu-tuned.csv").is_file()


def test_problem_page_shows_failures_ci_and_gap(built_site):
    md = (built_site.src_dir / "docs" / "problems" / "reddi2d.md").read_text()
    assert "| entry | certified/runs | cost | cost 95% CI | ratio | median calls (certified runs) |" in md
    # sgd certified 1 of 3 at 900: cost = median(900, 10000, 10000) = 10,000, median (certified) 900;
    # n = 3 is too small for 95%: (min, max) with the 75% it covers
    assert "| [sgd](../entries/sgd.md) | 1/3 | 10,000 | 900–10,000 (75%) | — | 900 |" in md
    # gap: final f = f* in the fixture -> 0
    assert "| [adam](../entries/adam.md) | 3/3 | 120 | 100–140 (75%) | 1 | 120 | 110–130 | 0 |" in md


def test_custom_and_older_harness_records_are_not_ranked(small_results, tmp_path):
    from bench.store import ResultsStore

    results = tmp_path / "results"
    shutil.copytree(small_results, results)
    store = ResultsStore(results)
    for seed in range(3):
        # custom hyperparameters on the leaderboard suite: a table, never a ranking
        store.append(make_record("adam[lr=9]", "reddi2d:canonical", seed, 5, suite="standard",
                                 version="2", track="custom"))
        # an older harness version of the tuned board: left out, and counted
        store.append(make_record("adam", "reddi2d:canonical", seed, 1, suite="standard", version="2",
                                 track="tuned", harness_version="h0",
                                 created_at="2025-01-01T00:00:00+00:00"))
    out = site.build_site(results, tmp_path / "site", tmp_path / "src")
    md = (out.src_dir / "docs" / "index.md").read_text()
    tuned = md[md.index("## Ranking: tuned track"):md.index("## Ranking: defaults track")]
    assert "adam[lr=9]" not in tuned
    assert "3 records made by older harness versions were left out" in tuned
    custom = md[md.index("## Results table (not ranked): suite `standard` v2, profile `cpu`, track `custom`"):]
    assert "adam-lr-9" in custom.split("## ")[1]
    assert "| 1 | [adam](entries/adam.md) | 1.000 |" in md  # the old harness' 1-call runs are not used
    entry = (out.src_dir / "docs" / "entries" / "adam-lr-9.md").read_text()
    assert "Not ranked" in entry


def test_board_note_says_when_the_runs_come_from_other_code():
    import pandas as pd

    from bench.provenance import harness_version

    def note(version: str) -> str:
        board = site.Board("standard", "2", "cpu", "tuned", [], pd.DataFrame(), pd.DataFrame(),
                           harness_version=version)
        return site.SiteWriter.board_note(None, board)

    assert "were made by other code" not in note(harness_version())
    stale = note("0123456789abcdef")
    assert "were made by other code" in stale and harness_version() in stale
    assert "python -m leaderboard.make_results" in stale
