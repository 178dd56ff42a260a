import json
import pathlib
import shutil

from leaderboard import site
from leaderboard.markdown import docstring_markdown
from tests.leaderboard.conftest import ROOT
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


def test_docstring_markdown_sections_math_and_plain_text():
    doc = ("Title line.\n\n    Objective:\n        .. math::\n            f(w) = \\frac12 \\|w\\|^2\n\n"
           "        with :math:`\\lambda_{\\min} = -\\mu` and w_i * x_j | b.\n\n"
           "    Saddle and minimum:\n        * ``zero``: W = 0\n          continued.\n        * two\n")
    md = docstring_markdown(doc, heading="##")
    assert md.startswith('<div class="sb-doc"><p>Title line.</p></div>')
    assert "\n## Objective\n" in md and "\n## Saddle and minimum\n" in md
    assert md.count("<math") == 2 and 'display="block"' in md
    # no LaTeX left as text, and text is never read as Markdown (escaped, inside raw HTML blocks)
    assert "\\lambda" not in md and "\\frac" not in md and ":math:" not in md
    assert "w_i * x_j | b" in md
    assert "<li><strong><code>zero</code></strong>: W = 0 continued.</li><li>two</li>" in md


def test_every_family_defines_itself_without_outside_documents():
    """Each registered family's docstring has the sections its page shows, and neither it nor
    any docstring or comment of bench/ and problems/ cites a document outside the repository."""
    import io
    import re
    import tokenize

    from problems import families

    for name, cls in families().items():
        doc = cls.__doc__ or ""
        for section in ("Objective:", "Oracle:", "Saddle and minimum:", "Certificate and budget:",
                        "References:"):
            assert f"\n    {section}\n" in doc, (name, section)
        md = docstring_markdown(doc)
        assert not re.search(r"\\[A-Za-z]+", re.sub(r"<math.*?</math>", "", md, flags=re.S)), name
    bad = re.compile(r"SPEC\b|SPEC\.md|\.\./shared|spec §")
    for pkg in ("bench", "problems"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            for tok in tokenize.generate_tokens(io.StringIO(text).readline):
                if tok.type in (tokenize.COMMENT, tokenize.STRING) and bad.search(tok.string):
                    line = text.splitlines()[tok.start[0] - 1]
                    if tok.type == tokenize.STRING and "headers=" in line:
                        continue
                    raise AssertionError(f"{path.relative_to(ROOT)}:{tok.start[0]}: {tok.string[:80]}")


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


def test_problem_page_compact_table_and_details(built_site):
    md = (built_site.src_dir / "docs" / "problems" / "reddi2d.md").read_text()
    # the compact table: the columns a reader needs
    assert "| entry | certified | cost | ratio |" in md
    # sgd certified 1 of 3 at 900: cost = median(900, 10000, 10000) = 10,000: not solved
    assert "| [sgd](../entries/sgd.md) | 1/3 | 10,000 | — |" in md
    assert "| [adam](../entries/adam.md) | 3/3 | 120 | **1.00** ★ |" in md
    # the wide details are in a collapsible block: CI (n = 3 covers 75%), median calls, IQR, gap
    details = md[md.index('??? note "Details'):]
    assert "    | entry | cost 95% CI | median calls (certified runs) | IQR (certified) | gap |" in details
    assert "    | [sgd](../entries/sgd.md) | 900–10,000 (75%) | 900 |" in details
    assert "    | [adam](../entries/adam.md) | 100–140 (75%) | 120 | 110–130 | 0 |" in details
    # the family's own definition, with rendered math and its sections
    assert "## Objective" in md and "## References" in md and "<math" in md
    html = (built_site.site_dir / "problems" / "reddi2d.html").read_text()
    assert "<math" in html and "\\mathrm" not in html and "SPEC" not in html
    assert '<details class="note">' in html


def test_home_matrix_marks_best_and_failures(built_site):
    md = (built_site.src_dir / "docs" / "index.md").read_text()
    tuned = md[md.index("## Ranking: tuned track"):md.index("## Ranking: defaults track")]
    assert '<table class="sb-matrix">' in tuned and "Problems × entries" in tuned
    matrix = tuned[tuned.index('<table class="sb-matrix">'):tuned.index("</table>")]
    rows = matrix.split("<tr>")[2:]
    # rank order: adam (best everywhere), rmsprop, sgd (fails everywhere)
    assert [r.split(".html\">")[1].split("<")[0] for r in rows] == ["adam", "rmsprop", "sgd"]
    assert rows[0].count('class="sb-best"') == 2 and rows[0].count("★ 1.00") == 2
    assert rows[2].count('class="sb-fail"') == 2 and "✗<small>1/3</small>" in rows[2]
    assert "1.50<small>3/3</small>" in rows[1]  # rmsprop: median 180 vs adam's 120
    # no matrix for a board that is not ranked
    smoke = md[md.index("## Results table (not ranked): suite `smoke`"):]
    assert "sb-matrix" not in smoke and "Not a ranking" in smoke


def test_downloads_csv_and_parquet(built_site):
    import pandas as pd

    data = built_site.site_dir / "assets" / "data"
    recs = pd.read_csv(data / "records.csv.gz")
    assert len(recs) == built_site.n_records and {"entry", "problem", "status", "cost", "hparams"} <= set(recs.columns)
    assert recs.equals(pd.read_parquet(data / "records.parquet")) or len(pd.read_parquet(data / "records.parquet")) == len(recs)
    stats = pd.read_parquet(data / "problem-stats.parquet")
    assert len(stats) == len(pd.read_csv(data / "problem-stats.csv")) == 3 * 2 + 2 * 2
    ranks = pd.read_csv(data / "rankings.csv")
    assert list(ranks.sort_values("rank").entry) == ["adam", "rmsprop", "sgd"]
    home = (built_site.site_dir / "index.html").read_text()
    for name in ("records.csv.gz", "records.parquet", "problem-stats.csv", "problem-stats.parquet",
                 "rankings.csv", "rankings.parquet"):
        assert f'href="assets/data/{name}"' in home, name


def test_plots_light_highlighted_and_cached(built_site, small_results, claims_results, tmp_path):
    plots = built_site.site_dir / "assets" / "plots"
    svg = (plots / "escape-reddi2d-canonical-standard-v2-cpu-tuned.svg").read_text()
    assert "<text" in svg and "DejaVuSans-" not in svg  # text as text, no glyph outlines
    assert "1 other entries" in svg and "#b0b0b0" in svg  # 2 highlighted (adam, rmsprop), sgd grey
    assert "−μ: λmin at the saddle" in svg and "−εh (certificate)" in svg and "f* (minimum)" in svg
    assert "symlog" in svg
    assert (plots / "profile-standard-v2-cpu-tuned-adam.svg").is_file()  # entry pages' profile
    entry = (built_site.src_dir / "docs" / "entries" / "sgd.md").read_text()
    assert "[![Performance profile of sgd" in entry  # click for full size
    # a rebuild draws nothing: every plot comes from the cache
    first = site.build_site(small_results, tmp_path / "site", tmp_path / "src", claims=claims_results)
    again = site.build_site(small_results, tmp_path / "site", tmp_path / "src", claims=claims_results)
    assert first.plots_drawn > 0 and first.plots_cached == 0
    assert again.plots_drawn == 0 and again.plots_cached == first.plots_drawn
    for p in (tmp_path / "site" / "assets" / "plots").glob("*.svg"):
        assert p.read_bytes() == (plots / p.name).read_bytes(), p.name


def test_site_is_trimmed_and_offline(built_site):
    out = built_site.site_dir
    assert not list(out.rglob("*.map")) and not (out / "assets" / "javascripts" / "lunr" / "min").exists()
    assert (out / "search" / "search_index.js").is_file()  # the offline plugin's inlined index
    home = (out / "index.html").read_text()
    assert "javascripts/iframe-worker-shim.js" in home and "unpkg" not in home
    assert built_site.bytes == site.site_bytes(out) < 4 * 2**20


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


def test_path_data_relative_is_the_same_path():
    """Plots' path data: absolute coordinates become steps from the previous point; summed
    back, they are the rounded absolute points (exact to 0.1 px, no drift), repeated points
    dropped, subpaths and closes kept, curves left absolute."""
    import random
    import re

    from leaderboard.svg import path_data as _path_data

    def absolute(d):
        out, cur, start, cmd, nums = [], None, None, None, []
        for tok in re.findall(r"[MmLlz]|-?\d*\.?\d+(?:e[-+]?\d+)?", d):
            if tok in "MmLlz":
                cmd = tok
                if tok == "z":
                    out.append("z")
                    cur = start
                continue
            nums.append(float(tok))
            if len(nums) == 2:
                x, y = nums
                nums = []
                if cmd in "ml" and cur is not None:
                    x, y = x + cur[0], y + cur[1]
                out.append(("M" if cmd in "Mm" else "L", round(x, 1), round(y, 1)))
                if cmd in "Mm":
                    start, cmd = (x, y), ("l" if cmd == "m" else "L")
                cur = (x, y)
        return out

    rng = random.Random(0)
    pts, x, y = [], 60.0, 150.0  # a curve as a plot draws it: small steps
    for _ in range(300):
        x, y = x + rng.uniform(0.2, 3), y + rng.uniform(-4, 4)
        pts.append((x, y))
    d = f"M {pts[0][0]:.6f} {pts[0][1]:.6f} " + " ".join(
        f"L {x:.6f} {y:.6f}" for x, y in pts[1:150]) + f" L {pts[149][0]:.6f} {pts[149][1]:.6f} z " \
        + f"M {pts[150][0]:.6f} {pts[150][1]:.6f} " + " ".join(f"L {x:.6f} {y:.6f}" for x, y in pts[151:])
    rel = _path_data(d)
    expected = [("M", round(pts[0][0], 1), round(pts[0][1], 1))] \
        + [("L", round(x, 1), round(y, 1)) for x, y in pts[1:150]] + ["z"] \
        + [("M", round(pts[150][0], 1), round(pts[150][1], 1))] \
        + [("L", round(x, 1), round(y, 1)) for x, y in pts[151:]]
    got = absolute(rel)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g == e or (g[0] == e[0] and abs(g[1] - e[1]) < 1e-6 and abs(g[2] - e[2]) < 1e-6), (g, e)
    assert rel.startswith("M") and "L" not in rel and len(rel) < 0.75 * len(_path_data_absolute(d))
    curve = "M 1.25 2 C 3 4 5 6 7.333 8"
    assert _path_data(curve) == "M 1.2 2 C 3 4 5 6 7.3 8"


def _path_data_absolute(d):
    """The rounded absolute path (what the plots wrote before steps): for the size comparison."""
    import re

    return "".join(f"{c}{round(float(x), 1):g} {round(float(y), 1):g}" if c != "z" else "z"
                   for c, x, y in re.findall(r"([MLz])\s*(?:(-?[\d.]+)\s+(-?[\d.]+))?", d))
