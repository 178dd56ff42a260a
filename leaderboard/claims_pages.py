"""The Claims section of the site: the papers' claims (``claims/``) and what reproducing them gave.

Pages are made from the committed results only (``leaderboard/claims/<id>/result.json``, written
by ``bench reproduce``): nothing is run or re-judged here. The claim modules are imported only to
list the claims that are registered but have no result yet ("not run yet") and to say when a
claim's code has changed since its result was computed (its code digest).

* ``claims/index.md``: every claim, what is claimed, its source, its verdict;
* ``claims/<id>.md``: one page per result: the paper's statement, the setting, the metric, the
  expected result, the plot (from the measurement's series), the checks, the measured table, the
  notes, the verdict and the provenance, with the ``result.json`` itself to download.

Claim texts are shown as text (HTML-escaped, never read as Markdown), with ``$...$`` and
``:math:`...``` as MathML and ``code`` in backquotes as code.
"""

from __future__ import annotations

import dataclasses
import html
import inspect
import json
import math
import pathlib
import re
from typing import Any, Callable

from leaderboard.markdown import DASH, WIDE, md_table, noindex, slug, tex_mathml

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: the committed results (the folder ``bench reproduce`` writes by default)
CLAIMS_RESULTS = ROOT / "leaderboard" / "claims"
NOT_RUN = "not run yet"
UNREADABLE = "unreadable"
#: verdict -> (symbol, CSS class); the symbol and the word say it without the colour
BADGES = {"reproduced": ("✓", "sb-v-reproduced"), "partly": ("◐", "sb-v-partly"),
          "not reproduced": ("✗", "sb-v-not-reproduced"), NOT_RUN: ("○", "sb-v-not-run"),
          UNREADABLE: ("?", "sb-v-not-run")}
#: the admonition of a claim page's verdict
ADMONITION = {"reproduced": "success", "partly": "warning", "not reproduced": "failure"}
_ID = re.compile(r"^D(\d+)$")


#: the section's stylesheet (``stylesheets/claims.css``, listed in mkdocs.yml): the verdict
#: badges and the checks that hold or not; each state has its symbol and its word, so the colour
#: is never the only sign
CSS = """\
.md-typeset .sb-verdict { display: inline-block; padding: 0.05em 0.55em; border-radius: 1em; font-weight: 600; white-space: nowrap; font-size: 0.92em; line-height: 1.5; }
.md-typeset .sb-v-reproduced { background: #d9f2e3; color: #14532d; }
.md-typeset .sb-v-partly { background: #fdefd3; color: #7a4500; }
.md-typeset .sb-v-not-reproduced { background: #fbe3e3; color: #9b1c1c; }
.md-typeset .sb-v-not-run { color: var(--md-default-fg-color--light); border: 1px dashed currentColor; }
.md-typeset .sb-holds { color: #14532d; font-weight: 600; white-space: nowrap; }
.md-typeset .sb-fails { color: #9b1c1c; font-weight: 600; white-space: nowrap; }
"""


@dataclasses.dataclass
class ClaimInfo:
    """One line of the claims index: a committed result, a registered claim, or both."""

    id: str
    title: str = ""
    source: str = ""
    verdict: str = NOT_RUN
    data: dict[str, Any] | None = None  # the result.json
    path: pathlib.Path | None = None  # where the result.json is
    claim: Any = None  # the registered bench.claims.Claim, if any
    error: str = ""  # why the result.json could not be read
    raw: bytes = b""  # the result.json as read (copied into the site)

    @property
    def page(self) -> str | None:
        """The page of the claim, relative to the docs folder (None: no result, no page)."""
        return f"claims/{slug(self.id)}.md" if self.data is not None else None

    @property
    def number(self) -> int:
        m = _ID.match(self.id)
        return int(m.group(1)) if m else 10**9


def registry() -> tuple[dict[str, Any], str]:
    """The claims registered in ``claims/`` by id, and the error if the registry did not load
    (a half-written claim module must not stop the site: the results are still shown)."""
    try:
        from bench.claims import discover

        return discover(), ""
    except Exception as exc:  # noqa: BLE001
        error = f"{type(exc).__name__}: {exc}"
    # one module is broken: the others, one by one (bench.claims.discover stops at the first)
    import importlib
    import pkgutil

    from bench.claims import CLAIMS_PACKAGE, Claim

    found: dict[str, Any] = {}
    try:
        pkg = importlib.import_module(CLAIMS_PACKAGE)
        for info in pkgutil.iter_modules(pkg.__path__):
            if info.name.startswith("_"):
                continue
            try:
                claim = getattr(importlib.import_module(f"{CLAIMS_PACKAGE}.{info.name}"), "CLAIM", None)
            except Exception:  # noqa: BLE001
                continue
            if isinstance(claim, Claim) and _ID.match(claim.id) and claim.id not in found:
                found[claim.id] = claim
    except Exception:  # noqa: BLE001
        pass
    return found, error


def collect(root: pathlib.Path, registered: dict[str, Any]) -> list[ClaimInfo]:
    """Every claim with a full-scale result under ``root`` (``<root>/<id>/result.json``; the
    ``reduced/`` results are never published) or registered, in numeric order."""
    from bench.claims import RESULT_FILE, RESULT_SCHEMA

    found: dict[str, ClaimInfo] = {}
    root = pathlib.Path(root)
    if root.is_dir():
        for path in sorted(root.glob(f"*/{RESULT_FILE}")):
            cid = path.parent.name
            if not _ID.match(cid):
                continue
            info = ClaimInfo(cid, path=path)
            try:
                # read once: the bytes read are the ones published (a result being rewritten
                # by `bench reproduce` is replaced atomically, never half-written)
                info.raw = path.read_bytes()
                data = json.loads(info.raw)
                if data.get("schema") != RESULT_SCHEMA:
                    raise ValueError(f"schema {data.get('schema')!r}, expected {RESULT_SCHEMA}")
                info.verdict = str(data["verdict"])
                info.title, info.source = str(data.get("title", "")), str(data.get("source", ""))
                info.data = data
            except (ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
                info.verdict, info.error = UNREADABLE, str(exc).replace(str(root), "").lstrip("/")
            found[cid] = info
    for cid, claim in registered.items():
        info = found.setdefault(cid, ClaimInfo(cid))
        info.claim = claim
        if not info.title:
            info.title, info.source = claim.title, claim.source
    return sorted(found.values(), key=lambda c: (c.number, c.id))


# ---------------------------------------------------------------------------- text
_GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "Delta": "Δ", "epsilon": "ε",
          "varepsilon": "ε", "eta": "η", "theta": "θ", "kappa": "κ", "lambda": "λ", "mu": "μ",
          "nu": "ν", "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "omega": "ω",
          "nabla": "∇", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "approx": "≈",
          "times": "×", "cdot": "·", "infty": "∞", "sqrt": "√", "log": "log", "min": "min",
          "max": "max", "to": "→", "in": "∈", "sim": "∼", "pm": "±"}
_INLINE = re.compile(r"\$(?P<tex>[^$\n]+?)\$|:math:`(?P<math>[^`]+)`|``(?P<code2>[^`]+)``"
                     r"|`(?P<code>[^`]+)`|\*\*(?P<strong>[^*]+)\*\*|\\(?P<cmd>[A-Za-z]+)\b")


_MARKDOWN = {ord(ch): f"&#{ord(ch)};" for ch in "\\`*_[]|{}#"}


def _esc(text: str) -> str:
    """Plain text for a Markdown page: HTML-escaped, and the characters Markdown would read
    (emphasis, links, table cells, code) as character references."""
    return html.escape(text, quote=False).translate(_MARKDOWN)


def inline(text: Any) -> str:
    """One line of a claim's text as HTML that Markdown leaves alone (also in a table cell)."""
    text = str(text).replace("\n", " ")
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(_esc(text[pos:m.start()]))
        tex = m.group("tex") or m.group("math")
        if tex is not None:
            out.append(tex_mathml(tex).replace("|", "&#124;"))
        elif m.group("cmd") is not None:
            out.append(_GREEK.get(m.group("cmd")) or _esc(m.group(0)))
        elif m.group("strong") is not None:
            out.append(f"<strong>{_esc(m.group('strong'))}</strong>")
        else:
            out.append(f"<code>{_esc(m.group('code2') or m.group('code'))}</code>")
        pos = m.end()
    out.append(_esc(text[pos:]))
    return "".join(out)


def paragraphs(text: Any, cls: str = "sb-doc") -> str:
    """A claim's text (paragraphs split by blank lines) as a raw HTML block."""
    paras = [p for p in re.split(r"\n\s*\n", str(text or "").strip()) if p.strip()]
    if not paras:
        return f"_{DASH}_\n"
    return f'<div class="{cls}">' + "".join(f"<p>{inline(p)}</p>" for p in paras) + "</div>\n"


def badge(verdict: str) -> str:
    symbol, cls = BADGES.get(verdict, BADGES[UNREADABLE])
    return f'<span class="sb-verdict {cls}">{symbol} {html.escape(verdict)}</span>'


def value(v: Any) -> str:
    """A measured value for a table cell: integers with thousands separators, other numbers to
    4 significant digits, None (censored, not measured) as a dash."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return DASH
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e15):
        return f"{int(v):,}"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, dict)):
        return inline(json.dumps(v, separators=(", ", ": ")))
    return inline(v)


def _checks_summary(checks: list[dict[str, Any]]) -> str:
    passed = sum(bool(c.get("passed")) for c in checks)
    return f"{passed}/{len(checks)}"


# ---------------------------------------------------------------------------- pages
INDEX_INTRO = """\
# Claims

Papers on escaping saddle points claim that momentum, adaptive steps, perturbations or plain SGD
escape faster, each on its own toy problem. Each claim below is reproduced with this benchmark's
own problems, sealed entries, counted oracle and run records: its setting (problems, start
points, entries, hyperparameters, seeds, budget), its metric and the checks that decide its
verdict are fixed in its module in `claims/`, before anything runs, and `bench reproduce ID`
computes the result from the committed runs.

**What a verdict means.** Each claim has a few checks, each comparing what was measured with what
the paper leads one to expect (a direction, a magnitude within a stated factor).
{reproduced}: every check holds. {partly}: some hold, some do not. {not_reproduced}: no check
holds. {not_run}: the claim is registered in `claims/` but has no committed result yet.

**A claim that does not reproduce is a result.** It is reported like the others, with what was
measured and the runs behind it: it says what this benchmark finds in the stated setting, and its
page gives that setting in full, so that anyone can see where it differs from the paper's, check
it or change it.
"""


def index_markdown(claims: list[ClaimInfo], registry_error: str = "") -> str:
    parts = [WIDE, INDEX_INTRO.format(reproduced=badge("reproduced"), partly=badge("partly"),
                                      not_reproduced=badge("not reproduced"), not_run=badge(NOT_RUN))]
    if registry_error:
        parts.append('\n!!! warning "A claim module did not load"\n    Claims registered in '
                     "`claims/` may be missing below (those with a committed result are all "
                     f"listed): {_esc(registry_error)}\n")
    if not claims:
        parts.append('\n!!! note "No claims yet"\n    No claim is registered in `claims/` and no '
                     "result is committed under `leaderboard/claims/`.\n")
        return "\n".join(parts)
    counts = {v: sum(c.verdict == v for c in claims) for v in BADGES}
    parts.append("\n## All claims\n\n" + ", ".join(f"{badge(v)} {n}" for v, n in counts.items()
                                                  if n) + "\n")
    rows = []
    for c in claims:
        name = f"[{c.id}]({slug(c.id)}.md)" if c.page else c.id
        checks = _checks_summary(c.data["checks"]) if c.data else DASH
        title = inline(c.title) if c.title else DASH
        if c.claim is None and c.data is not None:
            title += " <small>(no module in `claims/` defines it any more)</small>"
        if c.error:
            title += f" <small>(result.json unreadable: {_esc(c.error)})</small>"
        rows.append([name, badge(c.verdict), title, inline(c.source) if c.source else DASH, checks])
    # the verdict second: on a phone it is on screen beside the id
    parts.append(noindex(md_table(["claim", "verdict", "what is claimed", "source",
                                   "checks that hold"], rows)))
    return "\n".join(parts)


def _code_file(claim: Any) -> str:
    try:
        path = pathlib.Path(inspect.getfile(type(claim))).resolve()
        return path.relative_to(ROOT).as_posix()
    except (TypeError, ValueError, OSError):
        return ""


def _freshness(info: ClaimInfo) -> list[str]:
    """Notes on a result made by other code than the site's (harness, claim module)."""
    prov = (info.data or {}).get("provenance", {})
    notes = []
    if info.claim is None:
        notes.append(f"No module in `claims/` defines {info.id} any more: this result is kept "
                     "as it was committed.")
    else:
        try:
            digest = info.claim.code_digest()
        except Exception:  # noqa: BLE001
            digest = None
        if digest and prov.get("claim_code") and digest != prov.get("claim_code"):
            notes.append(f"The claim's code has changed since this result was computed (code "
                         f"digest `{prov.get('claim_code')}`, now `{digest}`): `bench reproduce "
                         f"{info.id}` judges the committed runs again with the current checks.")
    try:
        from bench.provenance import harness_version

        current = harness_version()
    except Exception:  # noqa: BLE001
        current = ""
    made = prov.get("harness_version")
    if current and made and made != current:
        notes.append(f"The runs were made by harness version `{made}`; the code that built this "
                     f"site is harness version `{current}`.")
    return notes


def _provenance(info: ClaimInfo, problem_pages: dict[str, str]) -> str:
    d = info.data or {}
    runs, prov = d.get("runs", {}), d.get("provenance", {})
    statuses = ", ".join(f"{k} {v}" for k, v in (runs.get("statuses") or {}).items()) or DASH
    problems = []
    for p in runs.get("problems") or []:
        page = problem_pages.get(p) or problem_pages.get(p.split(":")[0])
        problems.append(f"[{_esc(p)}](../{page})" if page else f"<code>{_esc(p)}</code>")
    versions = ", ".join(f"{k} {v}" for k, v in (prov.get("versions") or {}).items()) or DASH
    hw = prov.get("hardware") or {}
    machine = ", ".join(str(x) for x in (
        hw.get("cpu"), f"{hw['cores']} cores" if hw.get("cores") else None,
        f"{hw['memory_gib']} GiB memory" if hw.get("memory_gib") else None, hw.get("gpu"),
        hw.get("system"), f"id {hw['id']}" if hw.get("id") else None) if x) or DASH
    code_file = _code_file(info.claim) if info.claim is not None else ""
    records = info.path.parent / "records" if info.path else None
    where = ""
    if records is not None and records.is_dir():
        try:
            rel = records.resolve().relative_to(ROOT).as_posix()
            where = f"; their records are committed in <code>{_esc(rel)}/</code>"
        except ValueError:
            where = "; their records are in the `records/` folder beside the result"
    rows = [
        ["scale", _esc(str(d.get("scale", DASH)))],
        ["claim version", _esc(str(d.get("claim_version", DASH)))],
        ["runs", f"{runs.get('records', 0):,} (suite <code>{_esc(str(runs.get('suite', DASH)))}</code>)"
                 f"{where}" if runs.get("records") else
                 "none: measured directly on the problems' exact oracles, no optimizer runs"],
        ["run outcomes", _esc(statuses)],
        ["run seeds", _esc(str(runs.get("run_seeds") or DASH))],
        ["instance seeds", _esc(", ".join(map(str, runs.get("instance_seeds") or [])) or DASH)],
        ["entries", ", ".join(f"<code>{_esc(e)}</code>" for e in runs.get("entries") or []) or DASH],
        ["problems", ", ".join(problems) or DASH],
        ["harness version", f"<code>{_esc(str(prov.get('harness_version', DASH)))}</code>"],
        ["claim code digest", f"<code>{_esc(str(prov.get('claim_code', DASH)))}</code>"
                              + (f" (<code>{_esc(code_file)}</code> and the claims framework)"
                                 if code_file else "")],
        ["versions", _esc(versions)],
        ["hardware", _esc(machine)],
        ["seconds", value(prov.get("seconds"))],
        ["created", _esc(str(prov.get("created_at", DASH)))],
    ]
    return md_table(["field", "value"], rows)


def page_markdown(info: ClaimInfo, plot: str | None = None,
                  problem_pages: dict[str, str] | None = None) -> str:
    """The page of one claim with a result (``plot``: the plot's file name under
    ``assets/plots/``, if the result has series to draw)."""
    d = info.data or {}
    m = d.get("measurement") or {}
    checks = d.get("checks") or []
    verdict = info.verdict
    download = f"{info.id}/result.json"
    parts = [f"# {info.id}: {inline(info.title)}\n",
             f"[← All claims](index.md) · source: {inline(info.source)} · "
             f"[download result.json]({download})\n"]
    passed = sum(bool(c.get("passed")) for c in checks)
    kind = ADMONITION.get(verdict, "note")
    text = f"{passed} of {len(checks)} checks hold."
    if verdict == "not reproduced":
        text += (" This is a result: below is what the benchmark measures in this setting, and "
                 "the runs behind it.")
    elif verdict == "partly":
        text += " The checks below say which parts of the claim hold and which do not."
    parts.append(f'!!! {kind} "Verdict: {verdict}"\n    {text}\n')
    if d.get("scale") != "full":
        parts.append(f'!!! warning "Not a full-scale result"\n    This result was computed at '
                     f"scale `{_esc(str(d.get('scale')))}`, not at the claim's full scale.\n")
    for note in _freshness(info):
        parts.append(f'!!! info "Made by other code"\n    {note}\n')
    parts.append("\n## What the paper claims\n")
    parts.append(f"**Source**: {inline(info.source)}\n")
    parts.append(paragraphs(d.get("statement")))
    parts.append("\n## Setting\n")
    parts.append(paragraphs(d.get("setting")))
    parts.append("\n## Metric\n")
    parts.append(paragraphs(d.get("metric")))
    parts.append("\n## Expected\n")
    parts.append(paragraphs(d.get("expected")))
    parts.append("\n## Checks\n")
    parts.append("Each check compares what was measured with what the claim leads one to expect; "
                 "the verdict follows from them: reproduced when all hold, not reproduced when "
                 "none does, partly otherwise.\n")
    rows = [['<span class="sb-holds">✓ yes</span>' if c.get("passed") else
             '<span class="sb-fails">✗ no</span>', inline(c.get("name", "")),
             inline(c.get("expected", "")), inline(c.get("measured", ""))] for c in checks]
    parts.append(noindex(md_table(["holds", "check", "expected", "measured"], rows))
                 if rows else "_No checks._\n")
    parts.append("\n## Measured\n")
    if plot:
        series = m.get("series") or []
        refs = [s["label"] for s in series if not s.get("highlight", True)]
        caption = "The measurement's series"
        if refs:
            caption += f"; grey and dashed, for reference: {', '.join(inline(r) for r in refs)}"
        parts.append(f"{caption}. Click for full size.\n\n"
                     f"![{info.id}: {_esc(str((m.get('plot') or {}).get('y', 'measured')))}]"
                     f"(../assets/plots/{plot}){{ .plot }}\n")
    table = m.get("table") or []
    if table:
        cols: list[str] = []
        for row in table:
            cols.extend(k for k in row if k not in cols)
        body = [[value(row.get(k)) for k in cols] for row in table]
        parts.append(noindex(md_table([inline(k) for k in cols], body)))
    elif not plot:
        parts.append("_Nothing measured._\n")
    notes = m.get("notes") or []
    if notes:
        parts.append("\n## Notes\n")
        parts.append("<ul class=\"sb-doc\">" + "".join(f"<li>{inline(n)}</li>" for n in notes)
                     + "</ul>\n")
    parts.append("\n## Provenance\n")
    parts.append(f"Everything on this page comes from [result.json]({download}), written by "
                 f"`bench reproduce {info.id}`.\n")
    parts.append(noindex(_provenance(info, problem_pages or {})))
    return "\n".join(parts)


# ---------------------------------------------------------------------------- the section
@dataclasses.dataclass
class Section:
    claims: list[ClaimInfo]
    pages: list[str]  # the claim pages written (relative to the docs folder)
    registry_error: str = ""

    @property
    def nav(self) -> dict[str, str]:
        """The Claims section of the navigation: its index (the claim pages are reached from it;
        listing them in the sidebar would repeat every claim on every page of the site)."""
        return {"Claims": "claims/index.md"}

    def home(self) -> str:
        """The home page's paragraph on the claims, with their verdicts counted."""
        counts = {v: sum(c.verdict == v for c in self.claims) for v in BADGES}
        said = ", ".join(f"{badge(v)} {n}" for v, n in counts.items() if n) or "none yet"
        return ("\n## The papers' claims {#claims}\n\n"
                "Published claims about escaping saddle points (momentum, adaptive steps, "
                "perturbations, plain SGD), each reproduced with this benchmark's problems, "
                f"sealed entries and counted oracle, and judged by fixed checks: {said}. "
                "[Every claim, its verdict and what was measured](claims/index.md).\n")


def write_section(docs: pathlib.Path, write: Callable[[str, str], None],
                  plot: Callable[[pathlib.Path, Any, Callable[[pathlib.Path], None]], None],
                  plots_dir: pathlib.Path, plots_mod, root: pathlib.Path | None = None,
                  problems: dict[str, str] | None = None,
                  registered: tuple[dict[str, Any], str] | None = None) -> Section:
    """Write ``claims/index.md``, a page per result (with its plot and its result.json) and the
    section's stylesheet into ``docs``. ``write(rel, text)`` writes a page; ``plot(path, key,
    draw)`` draws a plot through the site's cache; ``problems``: problem id -> family of the
    problems that have a section on the site (a claim's problems link to it)."""
    root = pathlib.Path(root) if root is not None else CLAIMS_RESULTS
    claims_by_id, error = registered if registered is not None else registry()
    claims = collect(root, claims_by_id)
    problem_pages = {f: f"problems/{slug(f)}.md" for f in set((problems or {}).values())}
    problem_pages.update({p: f"problems/{slug(f)}.md#{slug(p)}" for p, f in (problems or {}).items()})
    pages = []
    for info in claims:
        if info.data is None:
            continue
        m = info.data.get("measurement") or {}
        name = None
        if m.get("series") and m.get("plot"):
            name = f"claim-{slug(info.id)}.svg"
            title = f"{info.id}: {info.title}"
            key = ["claim", info.id, m["series"], m["plot"], title]
            plot(plots_dir / name, key, lambda path, m=m, title=title: plots_mod.claim_plot(
                m["series"], m["plot"], path, title))
        write(info.page, page_markdown(info, name, problem_pages))
        target = docs / "claims" / info.id / "result.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(info.raw)
        pages.append(info.page)
    write("claims/index.md", index_markdown(claims, error))
    (docs / "stylesheets").mkdir(parents=True, exist_ok=True)
    (docs / "stylesheets" / "claims.css").write_text(CSS, encoding="utf-8")
    return Section(claims, pages, error)
