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
