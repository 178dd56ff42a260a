"""What the harness knows about an entry without running a line of its code.

An entry's module is untrusted: importing it runs its module-level code. So the harness never
imports it. It *locates* the entry's source (a built-in file in optimizers/, a file given by
path, or an installed class such as ``torch.optim.Adam``), lints those files and hashes their
code (:func:`source_digest`), and asks a sealed worker (:mod:`bench.sandbox`) to import the
entry and *describe* it as plain data. The result is an :class:`EntryInfo`; the worker of each
run imports the entry again from the same reference.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import pathlib
import shutil
import sys
import time
from typing import Any, Mapping

DESCRIBE_TIMEOUT = 120.0


class LocateError(ValueError):
    """No entry by that name or path; the message says what would work."""


@dataclasses.dataclass(frozen=True)
class EntryInfo:
    """An entry as plain data: its reference, metadata and the hash of its source files.

    Offers what the harness reads of :class:`optimizers.base.Entry` (``name``,
    ``hparams_for``, ``source_hash()``, ``oracle_class``, ``elementwise``, ``metadata()``)."""

    name: str
    ref: Mapping[str, Any]  # how a worker imports it (bench.entry_worker.load_entry)
    source_files: tuple[str, ...]
    source_digest: str
    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    search_space: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)  # as data
    oracle_class: str = "first-order"
    elementwise: bool = False
    meta: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def hparams_for(self, family: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Hyperparameters of a run: defaults <- overrides (as :meth:`optimizers.base.Entry.hparams_for`)."""
        return {**self.defaults, **(overrides or {})}

    def source_hash(self) -> str:
        return self.source_digest

    @property
    def source_file(self) -> str | None:
        return self.ref.get("source_file")

    def metadata(self) -> dict[str, Any]:
        return dict(self.meta)


# ------------------------------------------------------------------------------- locating
def builtin_names() -> dict[str, pathlib.Path]:
    """Built-in entry names -> their files (by listing optimizers/, importing nothing)."""
    from optimizers.base import FOLDER

    return {p.stem.replace("_", "-"): p for p in sorted(FOLDER.glob("*.py"))
            if not p.stem.startswith("_") and p.stem not in ("base", "__init__")}


def _find_module_file(dotted: str) -> pathlib.Path | None:
    """The file of module ``dotted`` found on sys.path by name (nothing imported)."""
    parts = dotted.split(".")
    for base in sys.path:
        root = pathlib.Path(base or ".").joinpath(*parts)
        for cand in (root.with_suffix(".py"), root / "__init__.py"):
            if cand.is_file():
                return cand.resolve()
    return None


def locate(name: str, entry_folder) -> dict[str, Any]:
    """A reference to the entry called ``name`` (see the module docstring).

    ``entry_folder()`` returns a folder the workers can read; files given by path are copied
    there (with the ``*.py`` files beside them), so a run imports exactly the hashed text."""
    builtins = builtin_names()
    if name in builtins:
        path = builtins[name]
        return {"kind": "builtin", "name": name, "module": f"optimizers.{path.stem}",
                "source_file": str(path)}
    if ".py" in name:
        file_part, _, attr = name.partition(".py")
        path = pathlib.Path(file_part + ".py")
        if not path.is_file():
            raise LocateError(f"optimizer file {str(path)!r} does not exist")
        copy = _copy_entry_files(path.resolve(), entry_folder())
        return {"kind": "file", "name": name, "target": f"{copy}.py{attr}",
                "source_file": str(path.resolve())}
    if ":" in name or "." in name:
        mod_name = name.partition(":")[0] if ":" in name else name.rpartition(".")[0]
        found = _find_module_file(mod_name)
        if found is None and not mod_name.startswith("torch"):
            raise LocateError(f"cannot find module {mod_name!r} for optimizer {name!r} on the "
                              f"Python path; install it or give path/to/file.py:Class")
        return {"kind": "object", "name": name, "target": name,
                "source_file": str(found) if found else None}
    close = difflib.get_close_matches(name, list(builtins), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise LocateError(f"unknown optimizer {name!r}.{hint} Give a built-in entry (`bench list "
                      f"optimizers`), a class path like torch.optim.Adam, pkg.module:Class, or "
                      f"path/to/file.py:Class.")


def sibling_imports(path: pathlib.Path) -> list[pathlib.Path]:
    """``path`` and, transitively, the modules beside it that it imports (``import helper``,
    ``from helper import x``, ``from . import helper``), found by reading the source (ast):
    exactly the files a worker gets, so exactly the files linted and hashed. The folder's
    name does not matter (a folder called ``site-packages`` is read like any other)."""
    import ast

    folder = path.parent
    order, seen = [path], {path}
    for file in order:
        try:
            tree = ast.parse(file.read_bytes(), str(file))
        except (SyntaxError, ValueError):
            continue
        names = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level <= 1:
                base = node.module or ""
                names += [base] if base else []
                names += [f"{base}.{a.name}" if base else a.name for a in node.names]
        for name in names:
            top = folder.joinpath(*name.split("."))
            for cand in (top.parent / f"{top.name}.py", top / "__init__.py"):
                if cand.is_file() and cand.resolve() not in seen and folder in cand.resolve().parents:
                    seen.add(cand.resolve())
                    order.append(cand.resolve())
    return order


def _copy_entry_files(path: pathlib.Path, folder: pathlib.Path) -> pathlib.Path:
    """Copy the entry file and the helpers it imports beside it into ``folder``."""
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    dest = folder / digest
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(mode=0o755)
    for src in sibling_imports(path):
        target = dest / src.relative_to(path.parent)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        shutil.copyfile(src, target)
        target.chmod(0o644)
    return dest / path.name.removesuffix(".py")


def source_files(ref: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """The entry's own source first, then its local helper modules, as (name, bytes): for a
    file given by path, its copy and the helpers copied with it (:func:`sibling_imports`);
    otherwise the modules of optimizers/ it imports (optimizers.base._local_sources)."""
    from optimizers.base import _local_sources

    path = ref.get("source_file")
    if not path or not pathlib.Path(path).is_file():
        return []
    if ref["kind"] == "file":
        copy = pathlib.Path(ref["target"].partition(".py")[0] + ".py")
        return [(f.relative_to(copy.parent).as_posix(), f.read_bytes()) for f in sibling_imports(copy)]
    return _local_sources(pathlib.Path(path))


def source_digest(ref: Mapping[str, Any], sources: list[tuple[str, bytes]]) -> str:
    """The entry's source hash (optimizers.base.digest_sources, as Entry.source_hash): sha256 of
    the code tokens of its files (comments, docstrings and blank lines dropped)."""
    from optimizers.base import digest_sources

    return digest_sources(sources, str(ref.get("target", ref.get("name"))),
                          str(ref.get("target", "")).startswith("torch."))


def is_own_code(ref: Mapping[str, Any]) -> bool:
    """Whether the entry's files are its author's (linted), not an installed library's."""
    import sysconfig

    if ref["kind"] in ("builtin", "file"):
        return True
    if not ref.get("source_file") or str(ref.get("target", "")).startswith("torch."):
        return False
    path = pathlib.Path(ref["source_file"]).resolve()
    installed = {pathlib.Path(v).resolve() for k, v in sysconfig.get_paths().items()
                 if k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return not ({"site-packages", "dist-packages"} & set(path.parts)
                or any(d in path.parents for d in installed))


# ------------------------------------------------------------------------------- describing
def describe(ref: Mapping[str, Any], sandbox) -> dict[str, Any]:
    """The entry's metadata, from a sealed worker that imports it. Raises EntryFailed."""
    return _ask(sandbox, {"mode": "describe", "entry": dict(ref)})


def check_in_worker(ref: Mapping[str, Any], checks: list[dict[str, Any]], allow_unknown: bool,
                    sandbox) -> list[str]:
    """Messages of the hyperparameter checks (bench.entries.check_choice) that fail, each of
    ``checks`` being {"overrides", "family"}; run in a sealed worker that imports the entry."""
    answer = _ask(sandbox, {"mode": "check", "entry": dict(ref), "checks": checks,
                            "allow_unknown": bool(allow_unknown)})
    return [str(m) for m in answer.get("problems", [])]


def _ask(sandbox, request: dict[str, Any]) -> dict[str, Any]:
    """One question to a fresh sealed worker; its plain-data answer."""
    from bench import channel as ch
    from bench.drivers import EntryFailed

    sock, child = ch.socket_pair()
    try:
        pid, log = sandbox.spawn([child.fileno()])
    finally:
        child.close()
    try:
        sock.setblocking(False)
        buffer = bytearray(ch.MAX_PACKET)
        try:
            ch.send(sock, ch.encode(ch.REPLY, ch.S_SETUP, 0, 0.0, 0, payload=request))
            (op, *_), payload = ch.receive(sock, ch.REQUEST, buffer, timeout=DESCRIBE_TIMEOUT)
        except (ch.ChannelClosed, ch.ProtocolError, OSError) as exc:
            time.sleep(0.05)
            raise EntryFailed(f"the worker loading it ended ({exc}): "
                              f"{sandbox.log_tail(log)[-600:]}") from None
        if op == ch.OP_FAILED:
            raise EntryFailed((payload or {}).get("message", "import failed"))
        if op != ch.OP_READY or not isinstance(payload, dict):
            raise EntryFailed(f"protocol violation while loading the entry (op {op})")
        return payload
    finally:
        sock.close()
        sandbox.kill(pid)


def file_entry_label(spec: str, digest: str) -> str:
    """``Object@hash8`` for an entry given by file (``path/my_opt.py:MyOpt`` -> ``MyOpt@1a2b3c4d``;
    ``path/my_opt.py`` -> ``my_opt@...``): the same code has one label however its path is
    typed, and an edited file is a different entry."""
    file_part, _, attr = spec.partition(".py")
    return f"{attr.lstrip(':.') or pathlib.Path(file_part).name}@{digest[:8]}"


def entry_info(ref: Mapping[str, Any], meta: Mapping[str, Any], sources) -> EntryInfo:
    name = ref["name"]
    if ref["kind"] == "builtin" and meta.get("name") != name:
        raise ValueError(f"optimizers/{pathlib.Path(ref['source_file']).name}: ENTRY.name is "
                         f"{meta.get('name')!r}, but the file name says {name!r}; they must match")
    digest = source_digest(ref, sources)
    if ref["kind"] == "builtin":
        name = meta["name"]
    elif ref["kind"] == "file":
        name = file_entry_label(name, digest)
    return EntryInfo(
        name=name, ref=dict(ref),
        source_files=tuple(n for n, _ in sources), source_digest=digest,
        defaults=dict(meta.get("defaults", {})),
        search_space={k: dict(v) for k, v in meta.get("search_space", {}).items()},
        oracle_class=meta.get("oracle_class", "first-order"),
        elementwise=bool(meta.get("elementwise", False)), meta=dict(meta))
