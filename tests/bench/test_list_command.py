"""``bench list``: problem facts come from a cache keyed by the harness version (no instance is
built when it is warm), and every list fits the terminal width."""

import json

import pytest

from bench import catalog, list_command


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SADDLEBENCH_CACHE", str(tmp_path))
    return tmp_path


def _no_builds(monkeypatch):
    import problems

    def refuse(pid, *a, **k):
        raise AssertionError(f"built {pid}")
    monkeypatch.setattr(problems, "make_problem", refuse)


def test_facts_are_built_once_then_read_from_the_cache(cache, monkeypatch):
    ids = ["reddi2d:canonical", "quad-saddle:small"]
    first = catalog.describe(ids)
    assert first["quad-saddle:small"]["dim"] == 10 and first["reddi2d:canonical"]["dim"] == 2
    assert catalog.cache_file().parent == cache and catalog.cache_file().exists()
    _no_builds(monkeypatch)
    assert catalog.describe(ids) == first  # warm: nothing built


def test_the_cache_is_per_code_version_and_survives_corruption(cache, monkeypatch):
    catalog.describe(["reddi2d:canonical"])
    path = catalog.cache_file()
    data = json.loads(path.read_text())
    data["problems"]["reddi2d:canonical"]["dim"] = 999  # a stale fact of this version is served
    path.write_text(json.dumps(data))
    assert catalog.describe(["reddi2d:canonical"])["reddi2d:canonical"]["dim"] == 999
    monkeypatch.setattr(catalog, "code_key", lambda: "another-version")
    assert catalog.describe(["reddi2d:canonical"])["reddi2d:canonical"]["dim"] == 2  # not read
    catalog.cache_file().write_text("{not json")
    assert catalog.describe(["reddi2d:canonical"])["reddi2d:canonical"]["dim"] == 2  # rebuilt


def test_a_problem_that_fails_to_build_is_reported_not_cached(cache, monkeypatch):
    import problems

    real = problems.make_problem
    monkeypatch.setattr(problems, "make_problem",
                        lambda pid: (_ for _ in ()).throw(RuntimeError("boom")) if "small" in pid
                        else real(pid))
    out = catalog.describe(["quad-saddle:small", "reddi2d:canonical"])
    assert out["quad-saddle:small"] == {"error": "RuntimeError: boom"} and out["reddi2d:canonical"]["dim"] == 2
    assert "quad-saddle:small" not in json.loads(catalog.cache_file().read_text())["problems"]


@pytest.mark.parametrize("what", ["problems", "optimizers", "suites", "profiles"])
def test_every_list_fits_the_terminal(what, cache, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    text = list_command.list_problems("quad-saddle") if what == "problems" else list_command.LISTS[what]()
    assert max(len(line) for line in text.splitlines()) <= 100
    monkeypatch.setenv("COLUMNS", "80")
    if what in ("suites", "optimizers"):  # text columns wrap to a narrower terminal
        narrow = list_command.LISTS[what]()
        assert max(len(line) for line in narrow.splitlines()) <= 80
        words = " ".join(text.split())
        assert " ".join(narrow.split()).replace("- ", "-") == words.replace("- ", "-") or \
            len(narrow.splitlines()) > len(text.splitlines())


def test_list_problems_reads_the_warm_cache_only(cache, monkeypatch):
    catalog.describe(catalog.all_problem_ids("reddi2d"))
    _no_builds(monkeypatch)
    text = list_command.list_problems("reddi2d")
    assert "reddi2d:canonical" in text and "reddi2d:paper" in text and "options of reddi2d" in text


def test_wrapped_table_keeps_every_word():
    rows = [["a", "one two three four five six seven eight nine ten eleven twelve"]]
    text = list_command.wrapped_table(["k", "text"], rows, wrap=1, width=30)
    assert max(len(line) for line in text.splitlines()) <= 30 and len(text.splitlines()) > 3
    assert " ".join(" ".join(line[3:].split()) for line in text.splitlines()[2:]) == rows[0][1]


def test_the_code_key_follows_every_byte_of_the_harness(tmp_path, monkeypatch):
    import shutil

    from bench import provenance

    root = tmp_path / "repo"
    for pkg in ("bench", "problems"):
        shutil.copytree(catalog.pathlib.Path(catalog.__file__).parents[1] / pkg, root / pkg,
                        ignore=shutil.ignore_patterns("__pycache__"))
    fake = root / "bench" / "catalog.py"
    monkeypatch.setattr(catalog, "__file__", str(fake))
    catalog.code_key.cache_clear()
    try:
        base = catalog.code_key()
        catalog.code_key.cache_clear()
        (root / "problems" / "tensor.py").write_text((root / "problems" / "tensor.py").read_text() + "# c\n")
        assert catalog.code_key() != base  # even a comment: facts are never stale
    finally:
        catalog.code_key.cache_clear()
    assert provenance  # the file list is the harness's own


def test_a_warm_list_imports_no_problem_module(cache):
    import subprocess
    import sys

    catalog.describe(catalog.all_problem_ids("reddi2d"))
    code = ("import sys; from bench.catalog import all_problem_ids, describe; "
            "from bench.list_command import list_problems; "
            "assert describe(all_problem_ids('reddi2d'))['reddi2d:paper']['dim'] == 2; "
            "print(sorted(m for m in sys.modules if m.startswith(('problems', 'torch', 'sklearn'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "SADDLEBENCH_CACHE": str(cache)})
    assert out.returncode == 0 and out.stdout.strip() == "[]", (out.stdout + out.stderr)[:2000]
