"""The Claims section of the site (leaderboard/claims_pages.py): index, one page per result."""

import json
import re

from leaderboard import claims_pages
from tests.leaderboard.helpers import TinyClaim, write_tiny_results

BADGE = {"reproduced": "sb-v-reproduced", "partly": "sb-v-partly",
         "not reproduced": "sb-v-not-reproduced", "not run yet": "sb-v-not-run"}


def _results(root):
    """id -> verdict of every full-scale result under root (what the index must list)."""
    return {p.parent.name: json.loads(p.read_text())["verdict"]
            for p in root.glob("D*/result.json")}


def test_claims_index_lists_every_result_with_its_verdict(built_site, claims_results):
    results = _results(claims_results)
    assert {"D901": "partly", "D902": "not reproduced", "D903": "reproduced"}.items() <= results.items()
    md = (built_site.src_dir / "docs" / "claims" / "index.md").read_text()
    html = (built_site.site_dir / "claims" / "index.html").read_text()
    rows = {r.split(" | ")[0].lstrip("| "): r for r in md.splitlines() if r.startswith("| [D")
            or re.match(r"^\| D\d+ \|", r)}
    for cid, verdict in results.items():
        page = f"{cid.lower()}.md"
        row = rows[f"[{cid}]({page})"]
        assert f'class="sb-verdict {BADGE[verdict]}">' in row and f" {verdict}</span>" in row, row
        assert f'href="{cid.lower()}.html"' in html
        assert (built_site.site_dir / "claims" / f"{cid.lower()}.html").is_file()
    assert "2/3" in rows["[D901](d901.md)"] and "0/2" in rows["[D902](d902.md)"]
    # the reduced result is never published
    assert "D904" not in md and not (built_site.site_dir / "claims" / "d904.html").exists()
    # what a verdict means, and that a claim that does not reproduce is a result
    assert "What a verdict means" in md and "A claim that does not reproduce is a result" in md
    # the claims registered in claims/ without a result: listed, not run yet, no page (other
    # claims may have been registered since the site was built: the registry is read once)
    unrun = re.findall(r"^\| (D\d+) \|.*", md, re.M)
    assert all(cid not in results for cid in unrun)
    assert all("sb-v-not-run" in row for row in re.findall(r"^\| D\d+ \|.*", md, re.M))


def test_claim_page_shows_checks_plot_measured_and_provenance(built_site, claims_results):
    md = (built_site.src_dir / "docs" / "claims" / "d901.md").read_text()
    for section in ("## What the paper claims", "## Setting", "## Metric", "## Expected",
                    "## Checks", "## Measured", "## Notes", "## Provenance"):
        assert section in md, section
    assert '!!! warning "Verdict: partly"' in md and "2 of 3 checks hold" in md
    # the checks: holds or not, expected and measured
    checks = md[md.index("## Checks"):md.index("## Measured")]
    assert "| holds | check | expected | measured |" in checks
    assert checks.count("✓ yes") == 2 and checks.count("✗ no") == 1
    assert "| 0.1 within x1.5 | 1.2e+06, 6e+05, censored |" in checks
    # the measured table: numbers formatted, a censored value as a dash
    measured = md[md.index("## Measured"):md.index("## Notes")]
    assert "| beta | runs | T&#95;esc median | escaped |" in measured
    assert "| 0.9 | 3 | — | 0.5 |" in measured and "| 0 | 3 | 1,200,000 | 1 |" in measured
    # the plot: drawn from the series, light SVG, the reference grey and dashed, linked full size
    assert "[![D901: median T&#95;esc (sample gradients)](../assets/plots/claim-d901.svg)" in measured
    assert "grey and dashed, for reference: reference (numpy)" in measured
    svg = (built_site.site_dir / "assets" / "plots" / "claim-d901.svg").read_text()
    assert "<text" in svg and "DejaVuSans-" not in svg and len(svg) < 40_000
    assert "median T_esc (sample gradients)" in svg and "reference (numpy)" in svg and "budget" in svg
    grey = re.findall(r'(?:style="|\{)([^"}]*#b0b0b0[^"}]*)', svg)
    assert any("stroke-dasharray" in style for style in grey), grey
    assert not (built_site.site_dir / "assets" / "plots" / "claim-d902.svg").exists()  # no series
    # provenance: seeds, runs and outcomes, harness version, code digest, versions, hardware
    data = json.loads((claims_results / "D901" / "result.json").read_text())
    prov = md[md.index("## Provenance"):]
    assert "| run seeds | 0-2 |" in prov and "| run outcomes | certified 3 |" in prov
    assert f"<code>{data['provenance']['harness_version']}</code>" in prov
    assert f"<code>{data['provenance']['claim_code']}</code>" in prov
    assert "No module in `claims/` defines D901 any more" in md  # a tiny claim is not registered
    assert f"torch {data['provenance']['versions']['torch']}" in prov
    assert "| created | " + data["provenance"]["created_at"] in prov and "| scale | full |" in prov
    # a problem with a page on the site is linked to it
    assert "[reddi2d:canonical](../problems/reddi2d.md#reddi2d-canonical)" in prov
    # the download: the result.json itself, as committed
    copy = built_site.site_dir / "claims" / "D901" / "result.json"
    assert copy.read_bytes() == (claims_results / "D901" / "result.json").read_bytes()
    html = (built_site.site_dir / "claims" / "d901.html").read_text()
    assert 'href="D901/result.json"' in html and "<math" in html
    # a claim that does not reproduce says it is a result
    d902 = (built_site.src_dir / "docs" / "claims" / "d902.md").read_text()
    assert '!!! failure "Verdict: not reproduced"' in d902 and "This is a result" in d902


def test_claim_text_is_shown_as_text(built_site):
    """Stars, pipes and underscores of a claim's text stay characters (never Markdown), TeX
    between dollars is MathML, and no file outside the repository is named."""
    html = (built_site.site_dir / "claims" / "d901.html").read_text()
    text = re.sub(r"<math.*?</math>", "", html, flags=re.S)
    assert "Momentum *helps*: T_esc falls as" in text.replace("&#42;", "*").replace("&#95;", "_")
    assert "<em>helps</em>" not in html and "| a tiny claim" in text.replace("&#124;", "|")
    assert "\\beta" not in text and "\\lambda" not in text and html.count("<math") >= 3
    assert "<code>code</code>" in html and "<strong>bold</strong>" in html
    for page in built_site.site_dir.glob("claims/*.html"):
        assert not re.search(r"SPEC\b|\.\./shared", page.read_text()), page


def test_home_and_nav_link_to_the_claims(built_site):
    home = (built_site.site_dir / "index.html").read_text()
    assert 'id="claims"' in home and 'href="claims/index.html"' in home
    md = (built_site.src_dir / "docs" / "index.md").read_text()
    assert re.search(r"sb-v-partly\">◐ partly</span> \d+", md)
    for page in ("hardware.html", "entries/adam.html", "claims/d901.html"):
        html = (built_site.site_dir / page).read_text()
        assert re.search(r'<a href="(\.\./)?claims/index.html" class="md-nav__link', html) \
            or re.search(r'<a href="index.html" class="md-nav__link', html), page
    css = (built_site.site_dir / "stylesheets" / "claims.css").read_text()
    assert ".sb-v-reproduced" in css and 'href="stylesheets/claims.css"' in home


def test_not_run_unreadable_and_removed_claims(tmp_path):
    """collect() + index_markdown() without a site: a registered claim without a result is
    "not run yet" (no page, no link), an unreadable result.json is said so, a result whose module
    is gone is still listed, a broken registry is reported, reduced results are skipped."""
    verdicts = write_tiny_results(tmp_path)
    (tmp_path / "D905").mkdir()
    (tmp_path / "D905" / "result.json").write_text('{"schema": 0}')
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "result.json").write_text("{}")  # not a claim id: ignored
    registered = {"D903": TinyClaim("D903", (True, True)), "D950": TinyClaim("D950", (True,))}
    claims = claims_pages.collect(tmp_path, registered)
    by_id = {c.id: c for c in claims}
    assert [c.id for c in claims] == ["D901", "D902", "D903", "D905", "D950"]
    assert by_id["D950"].verdict == "not run yet" and by_id["D950"].page is None
    assert by_id["D905"].verdict == "unreadable" and "schema 0" in by_id["D905"].error
    assert {c: by_id[c].verdict for c in verdicts} == verdicts
    md = claims_pages.index_markdown(claims, "ClaimError: claims/d99_x.py defines no CLAIM")
    assert re.search(r"^\| D950 \| <span class=\"sb-verdict sb-v-not-run\">○ not run yet</span> \| Momentum ", md, re.M)
    assert re.search(r"^\| D905 \| .*unreadable", md, re.M)
    assert re.search(r"^\| \[D901\]\(d901.md\) \|.*no module in `claims/` defines it", md, re.M)
    assert "[D903](d903.md)" in md and "no module" not in md.split("[D903]")[1].split("\n")[0]
    assert '!!! warning "A claim module did not load"' in md and "d99&#95;x.py" in md
    page = claims_pages.page_markdown(by_id["D901"])
    assert "No module in `claims/` defines D901" in page
    assert "[D903](d903.md)" in md and claims_pages.index_markdown([], "").count("No claims yet") == 1


def test_inline_text_and_values():
    assert claims_pages.inline("a*b*_c_ | [x](y) `z`") == \
        "a&#42;b&#42;&#95;c&#95; &#124; &#91;x&#93;(y) <code>z</code>"
    assert "<math" in claims_pages.inline("$\\|w\\|_2$") and "|" not in claims_pages.inline("$|w|$")
    assert claims_pages.inline("\\beta \\to 1 and \\unknown") == "β → 1 and &#92;unknown"
    assert [claims_pages.value(v) for v in (None, float("nan"), 3, 1.45e6, 0.0625, True, "a_b")] == \
        ["—", "—", "3", "1,450,000", "0.0625", "yes", "a&#95;b"]


def test_squeeze_html_keeps_preformatted_text():
    from leaderboard.trim import squeeze_html

    page = ("<nav>\n      <ul>\n        <li>a</li>\n\n      </ul>\n</nav>\n"
            "<pre><code>x = 1\n    y = 2\n\n</code></pre>\n   <p>one   two\n   three</p>")
    assert squeeze_html(page) == ("<nav>\n<ul>\n<li>a</li>\n</ul>\n</nav>\n"
                                  "<pre><code>x = 1\n    y = 2\n\n</code></pre>\n<p>one   two\nthree</p>")


def test_claim_plot_stays_light_with_many_dense_series(tmp_path):
    """Twelve series of 2,000 points on a symlog axis: no marker on dense series, each drawn
    through at most MAX_POINTS points, long labels wrapped, a small file with text as text."""
    import math

    from leaderboard import plots

    xs = [float(i + 1) for i in range(2000)]
    series = [{"label": f"series {k}: quad-saddle:small[init_delta=0.001,noise=cnc{k}]", "x": xs,
               "y": [math.sin(i / 50 + k) * 10.0 ** (-(i % 17)) for i in range(2000)],
               "highlight": k < 9} for k in range(12)]
    spec = {"x": "sample gradients", "y": "(f - f_s) / Delta", "xscale": "log", "yscale": "symlog",
            "hlines": {"escape level": -1.0}}
    path = tmp_path / "dense.svg"
    plots.claim_plot(series, spec, path, "D999: a long title " * 8)
    svg = path.read_text()
    assert len(svg) < 150_000, len(svg)
    assert svg.count("<use") < 60  # the axes' ticks; no markers on the points
    assert "series 11: quad-saddle:small[init_delta=0.001,noise=cnc11]" not in svg  # wrapped
    assert "escape level" in svg and "−1" in svg and "…" in svg  # symlog ticks, title shortened
