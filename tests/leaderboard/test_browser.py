"""The built site in headless Chromium (Debian's /usr/bin/chromium driven by playwright).

Skipped when playwright or Chromium is missing, unless SADDLEBENCH_REQUIRE_BROWSER=1 (CI),
which turns the skip into a failure. Screenshots go to $SADDLEBENCH_ARTIFACTS (default
build/test-artifacts, ignored by git).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import pathlib
import re
import shutil
import threading
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

import pytest

from tests.leaderboard.conftest import ROOT

pytestmark = pytest.mark.browser

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


def _chromium() -> str | None:
    for cand in (os.environ.get("SADDLEBENCH_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                 shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if cand and pathlib.Path(cand).is_file():
            return cand
    return None


def _need(reason: str):
    if os.environ.get("SADDLEBENCH_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser test required (SADDLEBENCH_REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server(built_site):
    handler = functools.partial(_QuietHandler, directory=str(built_site.site_dir))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/"
    srv.shutdown()
    srv.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("playwright is not installed (pip install playwright)")
    exe = _chromium()
    if exe is None:
        _need("no Chromium found (apt-get install -y chromium, or set SADDLEBENCH_CHROMIUM)")
    # playwright's launch() gives Chromium a fresh temporary --user-data-dir by itself
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=FLAGS)
        yield b
        b.close()


def _artifacts() -> pathlib.Path:
    d = pathlib.Path(os.environ.get("SADDLEBENCH_ARTIFACTS") or ROOT / "build" / "test-artifacts")
    d.mkdir(parents=True, exist_ok=True)
    return d


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("href", "src"):
            if a.get(key) and tag in ("a", "link", "script", "img"):
                self.links.append(a[key])


def _new_page(browser, width: int):
    page = browser.new_page(viewport={"width": width, "height": 900 if width > 600 else 844})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, errors


def test_home_ranking_sort_and_matrix(browser, server, built_site):
    page, errors = _new_page(browser, 1400)
    page.goto(server + "index.html")
    table = page.locator("article table").first
    names = table.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert sorted(names) == sorted(built_site.entries)
    # click "entry" header: sorted ascending by name; again: descending
    header = table.locator("thead th", has_text="entry").first
    header.click()
    assert table.locator("tbody tr td:nth-child(2)").all_inner_texts() == sorted(names)
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert table.locator("tbody tr td:nth-child(2)").all_inner_texts() == sorted(names, reverse=True)
    # numeric sort on score
    table.locator("thead th", has_text="score").first.click()
    scores = [float(x) for x in table.locator("tbody tr td:nth-child(3)").all_inner_texts()]
    assert scores == sorted(scores)
    img = page.locator("article img").first
    img.wait_for()
    assert page.evaluate("(el) => el.complete && el.naturalWidth", img.element_handle()) > 0
    # the problems x entries matrix: one row per entry, the best starred, the failures crossed
    matrix = page.locator("table.sb-matrix").first
    assert matrix.locator("tbody tr").count() == len(built_site.entries)
    assert matrix.locator("td.sb-best").count() >= 2 and "★" in matrix.locator("td.sb-best").first.inner_text()
    assert "✗" in matrix.locator("td.sb-fail").first.inner_text()
    # a click on a problem header sorts by its ratio; failures go last
    col = matrix.locator("thead th").nth(1)
    col.click()
    keys = matrix.locator("tbody tr td:nth-child(2)").evaluate_all("els => els.map(e => e.dataset.sort)")
    nums = [float(k) for k in keys if k]
    assert nums == sorted(nums) and all(k for k in keys[:len(nums)])
    assert not errors, errors
    page.close()


def test_problem_page_math_and_plots(browser, server):
    page, errors = _new_page(browser, 1400)
    page.goto(server + "problems/reddi2d.html")
    imgs = page.locator("article img")
    assert imgs.count() >= 1
    for i in range(imgs.count()):
        handle = imgs.nth(i).element_handle()
        page.wait_for_function("(el) => el.complete", arg=handle)
        assert page.evaluate("(el) => el.naturalWidth", handle) > 0
    # a plot is a link to itself (full size)
    assert imgs.first.evaluate("el => el.parentElement.tagName === 'A' && el.parentElement.href === el.src")
    # math is rendered: MathML elements with a size, and no LaTeX command left in the text
    maths = page.locator("article math")
    assert maths.count() >= 3
    box = maths.first.bounding_box()
    assert box and box["width"] > 20 and box["height"] > 5
    text = page.locator("article").inner_text()
    import re

    assert not re.search(r"\\(mathrm|lambda|frac|mathcal|sum|tfrac|nabla|min|sigma|mu)\b", text), \
        re.findall(r".{30}\\[a-z]+.{10}", text)[:3]
    for section in ("Objective", "Oracle", "Saddle and minimum", "Certificate and budget", "References"):
        assert page.locator(f"article h2:has-text('{section}')").count() == 1, section
    # the wide details are folded away until opened
    details = page.locator("article details").first
    assert not details.evaluate("el => el.open")
    details.locator("summary").click()
    assert details.evaluate("el => el.open") and "cost 95% CI" in details.inner_text()
    assert not errors, errors
    page.close()


def test_no_broken_internal_links(server):
    """Crawl every same-origin page from the home page; every link must answer 200."""
    seen = _crawl(server)
    assert any(u.endswith("records.parquet") for u in seen) and any(u.endswith(".svg") for u in seen)
    # the claims: the index (from the home page and the nav), each page, each result.json
    for url in ("claims/index.html", "claims/d901.html", "claims/D901/result.json",
                "assets/plots/claim-d901.svg", "stylesheets/claims.css"):
        assert server + url in seen, url


_LATEX = re.compile(r"\\(mathrm|lambda|frac|mathcal|sum|tfrac|nabla|min|sigma|mu|beta|eta|to|le|ge)\b"
                    r"|\$[^$\s][^$]*\$")


def test_claims_index_and_claim_page(browser, server, built_site):
    """The claims index: every claim with its verdict badge (colour and word), linked to its
    page; a claim page: verdict, checks, the plot loaded, MathML and no raw LaTeX, the
    result.json download answering; no JavaScript error; at 390 px nothing scrolls sideways."""
    for width in (1400, 390):
        page, errors = _new_page(browser, width)
        page.goto(server + "claims/index.html")
        table = page.locator("article table").first
        ids = table.locator("tbody tr td:nth-child(1)").all_inner_texts()
        assert {"D901", "D902", "D903"} <= set(ids), ids
        badges = table.locator(".sb-verdict")
        assert badges.count() == len(ids)
        colours = {b.inner_text().strip(): b.evaluate("el => getComputedStyle(el).backgroundColor")
                   for b in badges.all()}
        assert colours["✓ reproduced"] != colours["◐ partly"] != colours["✗ not reproduced"]
        assert not _LATEX.search(page.locator("article").inner_text())
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        table.locator("a", has_text="D901").first.click()
        page.wait_for_url("**/claims/d901.html")
        article = page.locator("article")
        assert "Verdict: partly" in article.inner_text()
        checks = page.locator("article table").first
        assert checks.locator("tbody tr").count() == 3 and checks.locator(".sb-fails").count() == 1
        img = page.locator("article img.plot").first
        page.wait_for_function("(el) => el.complete", arg=img.element_handle())
        assert page.evaluate("(el) => el.naturalWidth", img.element_handle()) > 0
        assert img.evaluate("el => el.parentElement.tagName === 'A' && el.parentElement.href === el.src")
        assert page.locator("article math").count() >= 3
        text = article.inner_text()
        assert not _LATEX.search(text), _LATEX.findall(text)[:3]
        assert "*helps*" in text and "| a tiny claim" in text  # text, never Markdown
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        href = page.locator("article a", has_text="download result.json").get_attribute("href")
        with urllib.request.urlopen(urllib.parse.urljoin(page.url, href), timeout=10) as resp:
            assert json.loads(resp.read())["claim"] == "D901"
        page.locator("article a", has_text="All claims").first.click()
        page.wait_for_url("**/claims/index.html")
        assert not errors, errors
        page.close()


def _serve(directory):
    handler = functools.partial(_QuietHandler, directory=str(directory))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/"


def _crawl(server: str) -> set[str]:
    """Every same-origin URL reachable from the home page (pages, images, scripts, styles,
    downloads); fails on any that does not answer 200."""
    seen: set[str] = set()
    todo = [server + "index.html"]
    bad = []
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                body = resp.read()
                ctype = resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            bad.append(f"{url}: {exc.code}")
            continue
        if "html" not in ctype:
            continue
        parser = _Links()
        parser.feed(body.decode("utf-8", "replace"))
        for link in parser.links:
            full = urllib.parse.urljoin(url, link).split("#")[0]
            if full.startswith(server) and full not in seen:
                todo.append(full)
    assert not bad, bad
    assert len(seen) > 10
    return seen


# ---------------------------------------------------------------------------- the archive's site
ARCHIVE_PAGES = {"home": "index.html", "problem": "problems/quad-saddle.html", "entry": "entries/adam.html",
                 "claims": "claims/index.html"}


def test_archive_site_size(archive_site):
    """What a reader downloads: the leaderboard part of the built site (theme included) is under
    4 MiB, and the claims section (claims/: each claim's page, plot and result.json) is at most
    96 KiB per committed claim result on average, so that it grows with the claims only."""
    from leaderboard.site import site_bytes

    total = site_bytes(archive_site.site_dir)
    claims_dir = archive_site.site_dir / "claims"
    claims = site_bytes(claims_dir) if claims_dir.exists() else 0
    results = len(list((ROOT / "leaderboard" / "claims").glob("D*/result.json")))
    print(f"site of the committed archive: {total / 2**20:.2f} MiB ({claims / 2**20:.2f} MiB of "
          f"claims, {results} results), {archive_site.n_records} records, built in "
          f"{archive_site.seconds:.1f} s")
    assert total - claims < 4 * 2**20, f"{(total - claims) / 2**20:.2f} MiB without claims/"
    assert claims <= 96 * 2**10 * max(results, 1), f"{claims / 2**10:.0f} KiB for {results} claims"


def test_archive_site_links(archive_site):
    """Every link of every page of the archive's site answers (every problem and entry page)."""
    srv, url = _serve(archive_site.site_dir)
    try:
        seen = _crawl(url)
    finally:
        srv.shutdown()
        srv.server_close()
    pages = {u for u in seen if u.endswith(".html")}
    assert sum("/entries/" in u for u in pages) == len(archive_site.entries)
    # every committed claim result has its page and its download
    results = list((ROOT / "leaderboard" / "claims").glob("D*/result.json"))
    claims = {p.parent.name for p in results if (archive_site.src_dir / "docs" / "claims" / p.parent.name).is_dir()}
    for cid in claims:
        assert url + f"claims/{cid.lower()}.html" in pages and url + f"claims/{cid}/result.json" in seen, cid
    assert url + "claims/index.html" in pages


def test_archive_pages_desktop_and_mobile(browser, archive_site):
    """Screenshots of home, a problem page and an entry page at 1400 and 390 px (from file://,
    offline); at 390 px no page scrolls sideways, every table's key column is on screen, and the
    matrix's entry column stays on screen when the matrix is scrolled to its end."""
    out = _artifacts()
    root = archive_site.site_dir.resolve().as_uri() + "/"
    for name, rel in ARCHIVE_PAGES.items():
        for width, tag in ((1400, "desktop"), (390, "mobile")):
            page, errors = _new_page(browser, width)
            page.goto(root + rel)
            page.wait_for_load_state("load")
            page.screenshot(path=str(out / f"{name}-{tag}.png"), full_page=True)
            assert not errors, (rel, errors)
            if width != 390:
                page.close()
                continue
            assert page.evaluate("document.scrollingElement.scrollWidth") <= 390, rel
            # every table's first column (rank, entry, problem, field) starts on screen
            lefts = page.locator("article table").evaluate_all(
                "ts => ts.map(t => { const c = t.querySelector('tbody tr > *'); "
                "if (!c) return [0, 0]; const r = c.getBoundingClientRect(); return [r.left, r.right]; })")
            assert all(0 <= left and right <= 390 for left, right in lefts), (rel, lefts)
            if name == "home":
                box = page.locator(".sb-scroll").first
                assert box.evaluate("el => el.scrollWidth > el.clientWidth")  # it does scroll
                assert page.locator(".sb-scroll-hint").first.is_visible()
                box.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
                page.wait_for_timeout(50)
                key = page.locator("table.sb-matrix tbody th.sb-key").first.bounding_box()
                wrap = box.bounding_box()
                assert key and wrap and key["x"] >= wrap["x"] - 1 and key["x"] + key["width"] <= 390, (key, wrap)
                # the plots fit the screen
                widths = page.locator("article img.plot").evaluate_all("els => els.map(e => e.getBoundingClientRect().right)")
                assert widths and max(widths) <= 390
            page.close()


def test_archive_search_from_file(browser, archive_site):
    """Search works from file:// (no server, no network) and finds an exact problem id."""
    page, errors = _new_page(browser, 1400)
    page.goto(archive_site.site_dir.resolve().as_uri() + "/index.html")
    page.locator(".md-search__input").first.click()
    page.keyboard.type("quad-saddle:medium", delay=10)  # the theme reads the box on keyup
    first = page.locator(".md-search-result__item").first
    first.wait_for(timeout=15000)
    # the first page found is the problem page, and its first section is that instance
    hrefs = first.locator("a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert "problems/quad-saddle.html" in hrefs[0], hrefs
    assert any(h.endswith("#quad-saddle-medium") for h in hrefs[:2]), hrefs
    assert not errors, errors
    page.close()
