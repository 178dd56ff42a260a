"""What a built site keeps: the theme files it never loads are removed, and the HTML pages lose
the indentation and blank lines of the theme's templates (:func:`trim_site`).

The leaderboard part of the site (theme included) is meant to stay under 4 MiB, and the claims
section under 96 KiB per claim (tests/leaderboard/test_browser.py); the theme's templates indent every
item of the navigation, which every page repeats, and that whitespace was about a fifth of the
pages' bytes.
"""

from __future__ import annotations

import pathlib
import re

#: theme files that the built site never loads: source maps (for debugging the theme) and the
#: search language packs (the site's search is English; Thai and Japanese segmenters included)
_UNUSED = ("*.map", "assets/javascripts/lunr/min/*", "assets/javascripts/lunr/wordcut.js",
           "assets/javascripts/lunr/tinyseg.js")

#: elements whose text keeps its whitespace as it is
_VERBATIM = re.compile(r"(<(pre|textarea)\b.*?</\2>)", re.S | re.I)
#: a run of whitespace that holds a line break: outside the verbatim elements it renders as one
#: space, and a single line break keeps it a line break (inline scripts stay line by line)
_BREAK = re.compile(r"[ \t\r\f\v]*\n\s*")


def squeeze_html(text: str) -> str:
    """``text`` with every run of whitespace that holds a line break turned into one line break,
    except inside ``<pre>`` and ``<textarea>``: the same page for the browser, fewer bytes."""
    parts = _VERBATIM.split(text)
    # split() with two groups yields: text, whole verbatim element, its tag name, text, ...
    out = []
    for i in range(0, len(parts), 3):
        out.append(_BREAK.sub("\n", parts[i]))
        if i + 1 < len(parts):
            out.append(parts[i + 1])
    return "".join(out)


def trim_site(site_dir: pathlib.Path) -> int:
    """Remove the theme files in :data:`_UNUSED` from a built site and squeeze the whitespace of
    its HTML pages (:func:`squeeze_html`); returns the bytes freed."""
    freed = 0
    for pattern in _UNUSED:
        for path in site_dir.glob(pattern) if "/" in pattern else site_dir.rglob(pattern):
            if path.is_file():
                freed += path.stat().st_size
                path.unlink()
    lunr_min = site_dir / "assets" / "javascripts" / "lunr" / "min"
    if lunr_min.is_dir() and not any(lunr_min.iterdir()):
        lunr_min.rmdir()
    for path in site_dir.rglob("*.html"):
        raw = path.read_bytes()
        small = squeeze_html(raw.decode("utf-8")).encode("utf-8")
        if len(small) < len(raw):
            path.write_bytes(small)
            freed += len(raw) - len(small)
    return freed


def site_bytes(site_dir: pathlib.Path) -> int:
    """Total size of the files of a built site."""
    return sum(p.stat().st_size for p in pathlib.Path(site_dir).rglob("*") if p.is_file())
