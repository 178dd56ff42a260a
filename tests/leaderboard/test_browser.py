"""The built site in headless Chromium (Debian's /usr/bin/chromium driven by playwright).

Skipped when playwright or Chromium is missing, unless SADDLEBENCH_REQUIRE_BROWSER=1 (CI),
which turns the skip into a failure. Screenshots go to $SADDLEBENCH_ARTIFACTS (default
build/test-artifacts, ignored by git).
"""

from __future__ import annotations

import functools
import http.server
import os
import pathlib
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


def test_home_ranking_sort_and_screenshot(browser, server, built_site):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
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
    table.locator("thead th", has_text="rank").first.click()
    page.screenshot(path=str(_artifacts() / "home.png"), full_page=True)
    assert not errors, errors
    page.close()


def test_problem_page_plot_loads(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server + "problems/reddi2d.html")
    imgs = page.locator("article img")
    assert imgs.count() >= 1
    for i in range(imgs.count()):
        handle = imgs.nth(i).element_handle()
        page.wait_for_function("(el) => el.complete", arg=handle)
        assert page.evaluate("(el) => el.naturalWidth", handle) > 0
    page.screenshot(path=str(_artifacts() / "problem-reddi2d.png"), full_page=True)
    page.close()


def test_no_broken_internal_links(server):
    """Crawl every same-origin page from the home page; every link must answer 200."""
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
