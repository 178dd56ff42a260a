"""The resume key covers what changes results: the harness and problem sources
(harness_version) and every local helper module an entry imports (Entry.source_hash)."""

import importlib.util
import pathlib
import shutil
import sys

import torch

from bench import provenance

REPO = pathlib.Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------- harness_version
def test_harness_version_covers_bench_and_problems(tmp_path):
    for pkg in ("bench", "problems", "optimizers"):
        shutil.copytree(REPO / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "README.md").write_text("x")
    base = provenance._digest(tmp_path)
    assert base == provenance._digest(tmp_path) and len(base) == 16
    names = [p.relative_to(tmp_path).as_posix() for p in provenance.harness_files(tmp_path)]
    assert "bench/runner.py" in names and "problems/quadratic.py" in names
    assert names == sorted(names) and not any(n.startswith("optimizers/") for n in names)
    oracle = tmp_path / "bench" / "oracle.py"
    text = oracle.read_text()
    docstring = text.index('"""') + 3
    oracle.write_text(text[:docstring] + "Reworded. " + text[docstring:])  # a docstring is prose
    assert provenance._digest(tmp_path) == base
    oracle.write_text(text.replace("import ", "import sys\nimport ", 1))  # one more statement
    assert provenance._digest(tmp_path) != base
    oracle.write_text(text)

    def changed(rel: str, text: str = "\n# edited\n") -> bool:
        path = tmp_path / rel
        old = path.read_bytes()
        path.write_bytes(old + text.encode())
        try:
            return provenance._digest(tmp_path) != base
        finally:
            path.write_bytes(old)

    assert changed("problems/quadratic.py", "\nX = 1\n")
    assert changed("bench/certificate.py", "\ndef f():\n    return 2\n")
    assert not changed("problems/quadratic.py")  # a comment is prose, not code
    assert not changed("bench/certificate.py", "\n\n   \n")  # blank lines and spaces
    assert not changed("README.md")
    assert not changed("bench/cli.py", "\nX = 1\n")  # the front end is not the harness
    assert not changed("optimizers/sgd.py")  # entries are covered by their own source hash
    (tmp_path / "problems" / "new_family.py").write_text("X = 1\n")
    assert provenance._digest(tmp_path) != base  # a new file counts too
    (tmp_path / "problems" / "new_family.py").unlink()
    # renaming a file (same contents) changes it: names are hashed with the contents
    (tmp_path / "problems" / "tensor.py").rename(tmp_path / "problems" / "tensor2.py")
    assert provenance._digest(tmp_path) != base


def test_code_tokens_keep_code_and_drop_prose():
    src = b'''"""Module doc."""
import x  # why


def f(a):
    """Doc."""
    s = """not a docstring"""
    return a + 1  # note
'''
    code = provenance.code_tokens(src)
    assert code == b'import x\ndef f(a):\n    s = """not a docstring"""\n    return a + 1'
    assert provenance.code_tokens(src.replace(b"Doc.", b"Other\n    words.")) == code
    assert provenance.code_tokens(src.replace(b"a + 1", b"a + 2")) != code
    assert provenance.code_tokens(src.replace(b"# why", b"")) == code


def test_harness_version_of_this_checkout():
    assert provenance.harness_version() == provenance._digest(REPO)


# ----------------------------------------------------------------- Entry.source_hash
def _entry(path: pathlib.Path, base=None):
    if base is None:
        from optimizers import base
    return base.Entry(name="user", optimizer=lambda params, **kw: torch.optim.SGD(params, lr=0.1),
                      source_file=str(path))


def _edit_changes(entry, path: pathlib.Path, text: str = "\nEDITED = 1\n") -> bool:
    before = entry.source_hash()
    old = path.read_bytes()
    path.write_bytes(old + text.encode())
    try:
        return entry.source_hash() != before
    finally:
        path.write_bytes(old)
        assert entry.source_hash() == before


def test_user_file_helpers_beside_it_are_hashed(tmp_path):
    (tmp_path / "my_entry.py").write_text(
        "import torch\nimport os, json\nimport my_helper\nfrom other_helper import g\n"
        "from mypkg import sub\nfrom mypkg.deep import thing\n"
        "def f():\n    import lazy_helper  # imports inside functions count too\n")
    (tmp_path / "my_helper.py").write_text("import transitive\nA = 1\n")
    (tmp_path / "transitive.py").write_text("B = 2\n")
    (tmp_path / "other_helper.py").write_text("def g(): return 3\n")
    (tmp_path / "lazy_helper.py").write_text("C = 4\n")
    (tmp_path / "unrelated.py").write_text("D = 5\n")
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from . import rel\n")
    (pkg / "rel.py").write_text("from .up import z\n")
    (pkg / "up.py").write_text("z = 1\n")
    (pkg / "sub.py").write_text("s = 1\n")
    (pkg / "deep.py").write_text("from .. import transitive\nthing = 1\n")
    entry = _entry(tmp_path / "my_entry.py")
    for rel in ("my_entry.py", "my_helper.py", "transitive.py", "other_helper.py", "lazy_helper.py",
                "mypkg/__init__.py", "mypkg/rel.py", "mypkg/up.py", "mypkg/sub.py", "mypkg/deep.py"):
        assert _edit_changes(entry, tmp_path / rel), rel
    assert not _edit_changes(entry, tmp_path / "unrelated.py")
    # a helper that vanishes (or appears) changes the hash
    before = entry.source_hash()
    (tmp_path / "lazy_helper.py").rename(tmp_path / "lazy_helper.bak")
    assert entry.source_hash() != before
    (tmp_path / "lazy_helper.bak").rename(tmp_path / "lazy_helper.py")
    assert entry.source_hash() == before


def test_helper_file_names_count(tmp_path):
    """Two layouts with the same bytes in differently named helpers hash differently."""
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, helper in ((a, "h1"), (b, "h2")):
        folder.mkdir()
        (folder / "e.py").write_text("import h1\nimport h2\n")
        (folder / f"{helper}.py").write_text("X = 1\n")
    assert _entry(a / "e.py").source_hash() != _entry(b / "e.py").source_hash()


def test_entry_hash_covers_code_not_prose(tmp_path):
    """The hash is over code tokens: rewording a docstring or a comment, or adding blank lines,
    keeps it; changing a statement, a constant or a name changes it; the formula is pinned."""
    import hashlib

    from optimizers.base import source_code

    src = ('"""Entry doc."""\nimport torch\n\n\ndef f(x):\n    """Step."""\n    return x * 0.5  # half\n'
           '\nSUMMARY = "a summary"\n')
    path = tmp_path / "plain.py"
    path.write_text(src)
    entry = _entry(path)
    before = entry.source_hash()
    assert before == hashlib.sha256(provenance.code_tokens(src.encode())).hexdigest()[:16]
    for prose in (src.replace("Entry doc.", "Reworded,\nlonger entry doc."),
                  src.replace("Step.", "Another word."), src.replace("# half", "# one half"),
                  src.replace("\n\n", "\n\n\n   \n"), src.replace("# half", "")):
        path.write_text(prose)
        assert entry.source_hash() == before, prose
    for code in (src.replace("0.5", "0.25"), src.replace("def f", "def g"),
                 src.replace("a summary", "another summary"), src + "import math\n"):
        path.write_text(code)
        assert entry.source_hash() != before, code
    # a source that is not valid Python is hashed as raw bytes, deterministically
    bad = b"def f(:\n    return 1  # one\n"
    assert source_code(bad) == source_code(bad) == b"\0raw\0" + bad
    assert source_code(bad.replace(b"# one", b"# two")) != source_code(bad)


def test_helper_docstring_edit_keeps_the_hash_code_edit_changes_it(tmp_path):
    (tmp_path / "main.py").write_text("import helper\n")
    (tmp_path / "helper.py").write_text('"""Helper doc."""\nSCALE = 2.0\n')
    entry = _entry(tmp_path / "main.py")
    assert not _edit_changes(entry, tmp_path / "helper.py", "\n# a comment\n")
    before = entry.source_hash()
    (tmp_path / "helper.py").write_text('"""Other words."""\nSCALE = 2.0\n')
    assert entry.source_hash() == before
    (tmp_path / "helper.py").write_text('"""Helper doc."""\nSCALE = 3.0\n')
    assert entry.source_hash() != before


def _copied_optimizers(tmp_path):
    """A copy of the optimizers package, with base.py loaded from the copy (so the package
    folder it resolves `optimizers.X` against is the copy, which the test may edit)."""
    dst = tmp_path / "optimizers"
    shutil.copytree(REPO / "optimizers", dst, ignore=shutil.ignore_patterns("__pycache__"))
    spec = importlib.util.spec_from_file_location("copied_optimizers_base", dst / "base.py")
    base = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = base
    spec.loader.exec_module(base)
    return dst, base


def test_optimizers_package_helpers_are_hashed(tmp_path):
    dst, base = _copied_optimizers(tmp_path)
    (dst / "_h1.py").write_text("A = 1\n")
    (dst / "_h2.py").write_text("from optimizers._h3 import z\n")
    (dst / "_h3.py").write_text("z = 1\n")
    (dst / "_h4.py").write_text("W = 1\n")
    (dst / "e1.py").write_text("from optimizers.base import Entry\nfrom optimizers import _h1\n")
    (dst / "e2.py").write_text("import optimizers._h2\n")
    (dst / "e3.py").write_text("from optimizers._h4 import W\nfrom . import _h1\n")
    e1, e2, e3 = (_entry(dst / f"e{i}.py", base) for i in (1, 2, 3))
    assert _edit_changes(e1, dst / "_h1.py")
    assert _edit_changes(e2, dst / "_h2.py")
    assert _edit_changes(e2, dst / "_h3.py")  # transitively
    assert _edit_changes(e3, dst / "_h4.py") and _edit_changes(e3, dst / "_h1.py")
    assert not _edit_changes(e1, dst / "_h4.py")
    assert not _edit_changes(e1, dst / "base.py")  # the Entry contract is not the algorithm
    names = [n for n, _ in base._local_sources(dst / "e2.py")]
    assert names == ["e2.py", "optimizers/_h2.py", "optimizers/_h3.py"]
    # a real built-in entry: its shared helpers are covered
    pgd = _entry(dst / "pgd.py", base)
    names = {n for n, _ in base._local_sources(dst / "pgd.py")}
    assert "optimizers/_common.py" in names  # `from optimizers import _common as C`
    assert _edit_changes(pgd, dst / "_common.py")
    assert not _edit_changes(pgd, dst / "sgd.py")


def test_installed_package_files_are_hashed_alone():
    import torch.optim.sgd as mod

    from optimizers.base import Entry, _local_sources

    assert [n for n, _ in _local_sources(pathlib.Path(mod.__file__))] == ["sgd.py"]
    assert len(Entry("sgd", torch.optim.SGD).source_hash()) == 16


# ----------------------------------------------------------------- the front end is not run
_LOADED_BY_RUNS = r"""
import sys
from bench.entries import resolve_entry
from bench.profiles import get_profile
from bench.runner import RunTask, execute_batch, seed_batches
from problems import canonical_id

tasks = []
for spec, problem in [("adam", "reddi2d"), ("pgd", "quad-saddle:small[n=10]"),
                      ("sgd", "tensor:small"), ("cubic-newton", "phase-retrieval:small"),
                      ("sgd-momentum", "matrix-sensing:small"), ("sgd", "halfspace-sym:small"),
                      ("adagrad", "deep-linear:small"), ("sgd", "mlp-digits:small")]:
    for choice in resolve_entry(spec, []):
        tasks.append(RunTask(choice, canonical_id(problem), 0, 0, 0, get_profile("cpu"),
                             budget=200, time_limit=60.0))
for batch in seed_batches(tasks):
    execute_batch(batch)
import bench.entry_worker, bench.sandbox  # what the sealed worker (the zygote) imports
print(" ".join(sorted(sys.modules)))
"""


def test_front_end_modules_are_not_loaded_by_runs():
    """The modules left out of the harness version are not loaded by the process that runs and
    certifies sealed runs, nor by the sealed worker; every name in bench/front_end.txt exists."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", _LOADED_BY_RUNS], cwd=REPO, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    loaded = {m.replace(".", "/") + ".py" for m in out.stdout.split()
              if m.split(".")[0] in provenance.HARNESS_PACKAGES}
    assert "bench/runner.py" in loaded and "problems/tensor.py" in loaded  # the probe ran
    assert not loaded & provenance.front_end(), sorted(loaded & provenance.front_end())
    for rel in provenance.front_end():
        assert (REPO / rel).is_file(), rel
    names = {p.relative_to(REPO).as_posix() for p in provenance.harness_files(REPO)}
    assert not names & provenance.front_end() and "bench/suites.py" in names


def test_builtin_entries_hash_as_the_harness_does():
    """Entry.source_hash (in process) and the harness's hash of the located entry (what records
    and tuning files carry) agree for every built-in entry, torch-class wrappers included."""
    from bench.entry_info import builtin_names, locate, source_digest, source_files
    from optimizers.base import discover

    entries = discover()
    for name in builtin_names():
        ref = locate(name, lambda: None)
        assert source_digest(ref, source_files(ref)) == entries[name].source_hash(), name
