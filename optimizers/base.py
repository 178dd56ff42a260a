"""What an entry is, and discovery of the entries in this folder.

An entry module ``optimizers/<module>.py`` defines ``ENTRY = Entry(...)``: a
``torch.optim.Optimizer`` subclass (or a factory ``f(params, **hparams) -> Optimizer``) plus its
metadata and its hyperparameters, by default and per problem family. The entry's name is the
file stem with ``_`` written as ``-`` (``sgd_momentum.py`` -> ``sgd-momentum``). A module that fails to import shows up as a :class:`BrokenEntry` carrying its
error; it does not break discovery of the others.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import inspect
import pathlib
import traceback
from typing import Any, Callable, Mapping

import torch

ORACLE_CLASSES = ("first-order", "hvp")


# ------------------------------------------------------------------------ search spaces
@dataclasses.dataclass(frozen=True)
class LogUniform:
    """A positive hyperparameter drawn log-uniformly: x = low * (high/low)^u, u in [0, 1)."""

    low: float
    high: float
    integer: bool = False  # round to the nearest integer (e.g. a period or a batch size)

    def __post_init__(self):
        if not 0 < self.low < self.high:
            raise ValueError(f"LogUniform needs 0 < low < high, got low={self.low}, high={self.high}")

    def value(self, u: float):
        x = self.low * (self.high / self.low) ** u
        return int(round(x)) if self.integer else float(x)

    def to_data(self) -> dict[str, Any]:
        return {"log_uniform": [self.low, self.high], **({"integer": True} if self.integer else {})}


@dataclasses.dataclass(frozen=True)
class Uniform:
    """A hyperparameter drawn uniformly: x = low + (high - low) u, u in [0, 1)."""

    low: float
    high: float

    def __post_init__(self):
        if not self.low < self.high:
            raise ValueError(f"Uniform needs low < high, got low={self.low}, high={self.high}")

    def value(self, u: float) -> float:
        return float(self.low + (self.high - self.low) * u)

    def to_data(self) -> dict[str, Any]:
        return {"uniform": [self.low, self.high]}


@dataclasses.dataclass(frozen=True)
class Choice:
    """A categorical hyperparameter: values[floor(u * len(values))]."""

    values: tuple

    def __post_init__(self):
        if len(self.values) < 1:
            raise ValueError("Choice needs at least one value")
        object.__setattr__(self, "values", tuple(self.values))

    def value(self, u: float):
        return self.values[min(int(u * len(self.values)), len(self.values) - 1)]

    def to_data(self) -> dict[str, Any]:
        return {"choice": list(self.values)}


Dimension = LogUniform | Uniform | Choice


def dimension_from_data(data: Mapping[str, Any]) -> Dimension:
    """The inverse of ``to_data`` (search spaces travel as plain data from a sealed worker)."""
    if "log_uniform" in data:
        low, high = data["log_uniform"]
        return LogUniform(float(low), float(high), bool(data.get("integer", False)))
    if "uniform" in data:
        low, high = data["uniform"]
        return Uniform(float(low), float(high))
    if "choice" in data:
        return Choice(tuple(data["choice"]))
    raise ValueError(f"not a search-space dimension: {data!r} (expected log_uniform, uniform or choice)")


@dataclasses.dataclass(frozen=True)
class Entry:
    """An optimizer entry.

    Args:
        name: registry name (the module's file stem for built-in entries).
        optimizer: Optimizer subclass or factory ``(params, **hparams) -> Optimizer``.
        defaults: the entry's own hyperparameters, one setting for every problem (the
            *defaults* track ranks them as they are).
        search_space: hyperparameter name -> :class:`LogUniform`, :class:`Uniform` or
            :class:`Choice`: what ``bench tune`` searches, the same space on every problem family
            (the *tuned* track ranks the values it picks per family; names not in the space keep
            their defaults).
        summary: one line: what the method does.
        authors, paper, url: where it comes from (``paper`` is a citation line).
        license: code license of the entry.
        oracle_class: "first-order" (gradients, function values) or "hvp" (also uses HVPs).
        elementwise: whether the update acts coordinate-wise (then seeds can run batched, as
            rows of one tensor).
    """

    name: str
    optimizer: Callable[..., torch.optim.Optimizer]
    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    search_space: Mapping[str, Dimension] = dataclasses.field(default_factory=dict)
    summary: str = ""
    authors: str = ""
    paper: str = ""
    url: str = ""
    license: str = "MIT"
    oracle_class: str = "first-order"
    elementwise: bool = True
    source_file: str | None = None

    def __post_init__(self):
        if self.oracle_class not in ORACLE_CLASSES:
            raise ValueError(f"entry {self.name!r}: oracle_class must be one of {ORACLE_CLASSES}, "
                             f"got {self.oracle_class!r}")
        if not callable(self.optimizer):
            raise TypeError(f"entry {self.name!r}: optimizer must be a torch.optim.Optimizer "
                            f"subclass or a factory, got {self.optimizer!r}")
        for key, dim in self.search_space.items():
            if not isinstance(dim, (LogUniform, Uniform, Choice)):
                raise TypeError(f"entry {self.name!r}: search_space[{key!r}] must be LogUniform, "
                                f"Uniform or Choice, got {dim!r}")

    def hparams_for(self, family: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Hyperparameters of a run: ``defaults`` <- ``overrides`` (a tuned value, a user's
        setting). ``family`` is accepted for the harness's interface and not used: an entry's
        own settings are the same on every family."""
        return {**self.defaults, **(overrides or {})}

    def source_hash(self) -> str:
        """sha256 (first 16 hex digits) of the code of the entry's source file and of the local
        helper modules it imports, plus torch's version for an entry without a file of its own
        whose optimizer is a torch.optim class (:func:`digest_sources`). The code is each file without its comments, docstrings and
        blank lines (:func:`bench.provenance.code_tokens`): rewording prose keeps the hash,
        changing a statement, a constant (metadata strings included) or a name changes it.

        Helpers are found statically (``ast``, nothing is imported), transitively:
        ``from optimizers import _x``, ``import optimizers._x``, ``from optimizers._x import y``
        (any module of the optimizers package but ``base`` and ``__init__``), relative imports
        (``from . import x``, ``from .x import y``) and, for a file outside the optimizers
        package, ``import my_helper`` / ``from my_helper import y`` where ``my_helper.py`` (or the
        package ``my_helper/``) sits beside it. Each helper is hashed with its name, sorted by
        name. Files of installed packages (site-packages, the standard library) are hashed alone;
        their package's version is their identity.
        """
        path = self.source_file or _source_file(self.optimizer)
        sources = _local_sources(pathlib.Path(path)) if path and pathlib.Path(path).is_file() else []
        # as the harness (bench.entry_info.source_digest): an entry file of its own is its
        # identity, even when its optimizer is a torch class
        torch_class = self.source_file is None and \
            getattr(self.optimizer, "__module__", "").startswith("torch.")
        return digest_sources(sources, repr(self.optimizer), torch_class)

    def metadata(self) -> dict[str, Any]:
        """Plain-data description for listings, records and the leaderboard."""
        return {
            "name": self.name,
            "optimizer": _qualname(self.optimizer),
            "summary": self.summary,
            "authors": self.authors,
            "paper": self.paper,
            "url": self.url,
            "license": self.license,
            "oracle_class": self.oracle_class,
            "elementwise": self.elementwise,
            "defaults": dict(self.defaults),
            "search_space": {k: d.to_data() for k, d in self.search_space.items()},
        }


def digest_sources(sources: list[tuple[str, bytes]], fallback: str, torch_class: bool) -> str:
    """sha256 (first 16 hex digits) of an entry's ``(name, bytes)`` sources, main file first,
    helpers by name, each through :func:`source_code`; ``fallback`` when there is no file; plus
    torch's version for torch classes::

        sha256( C(main) || for each helper h: "\\0helper\\0" name_h "\\0" len(C(h)) "\\0" C(h)
                || torch.__version__ if torch_class )
    """
    h = hashlib.sha256()
    if sources:
        (_, main), *helpers = sources
        h.update(source_code(main))
        for name, data in sorted(helpers):
            code = source_code(data)
            h.update(b"\0helper\0" + name.encode() + b"\0" + str(len(code)).encode() + b"\0")
            h.update(code)
    else:
        h.update(fallback.encode())
    if torch_class:
        h.update(torch.__version__.encode())
    return h.hexdigest()[:16]


#: prefix of a source hashed as raw bytes (not valid Python), so that it never hashes like code
RAW_SOURCE_PREFIX = b"\0raw\0"


@functools.lru_cache(maxsize=512)
def source_code(data: bytes) -> bytes:
    """C(data): what of a source file the hash covers -- its code tokens (comments, docstrings and
    blank lines dropped, :func:`bench.provenance.code_tokens`), or, for a file that is not valid
    UTF-8 Python (e.g. the placeholder of an unreadable helper), ``RAW_SOURCE_PREFIX`` + its raw
    bytes: still deterministic, but then any byte counts."""
    import tokenize

    from bench.provenance import code_tokens

    try:
        return code_tokens(data)
    except (SyntaxError, ValueError, tokenize.TokenError):  # UnicodeDecodeError is a ValueError
        return RAW_SOURCE_PREFIX + data


_IMPORTS_CACHE: dict[bytes, list[tuple[int, str, tuple[str, ...]]]] = {}  # sha256 -> imports


def _local_sources(path: pathlib.Path,
                   package: pathlib.Path | None = None) -> list[tuple[str, bytes]]:
    """``[(name, bytes)]`` of ``path`` (first) and, transitively, the local modules it imports
    (see :meth:`Entry.source_hash`). Names are stable across machines: ``optimizers/<rel>`` for
    modules of this package, else the path relative to the entry file's folder. ``package``:
    the folder that ``optimizers`` imports resolve to (this package's; another checkout of it,
    e.g. one from an older commit, to hash the sources as they were)."""
    import ast
    import os
    import sysconfig

    folder = (package or pathlib.Path(__file__).parent).resolve()
    paths = sysconfig.get_paths()
    installed = {pathlib.Path(paths[k]).resolve() for k in ("stdlib", "platstdlib", "purelib", "platlib")
                 if k in paths}
    excluded = {folder / "base.py", folder / "__init__.py"}
    harness = {"bench", "problems", "leaderboard"}  # covered by the harness version

    def in_folder(p: pathlib.Path) -> bool:
        return p == folder or folder in p.parents

    def is_local(p: pathlib.Path) -> bool:
        if in_folder(p):
            return True
        return not any(part in ("site-packages", "dist-packages") for part in p.parts) and \
            not any(d == p or d in p.parents for d in installed)

    def module_file(base: pathlib.Path, dotted: str) -> pathlib.Path | None:
        target = base.joinpath(*dotted.split("."))
        for cand in (target.parent / (target.name + ".py"), target / "__init__.py"):
            if cand.is_file():
                return cand.resolve()
        return None

    def imports(data: bytes) -> list[tuple[int, str, tuple[str, ...]]]:
        digest = hashlib.sha256(data).digest()
        if digest not in _IMPORTS_CACHE:
            found = []
            try:
                tree = ast.parse(data)
            except (SyntaxError, ValueError):
                tree = None
            for node in ast.walk(tree) if tree is not None else ():
                if isinstance(node, ast.Import):
                    found.extend((0, alias.name, ()) for alias in node.names)
                elif isinstance(node, ast.ImportFrom):
                    found.append((node.level, node.module or "", tuple(a.name for a in node.names)))
            _IMPORTS_CACHE[digest] = found
        return _IMPORTS_CACHE[digest]

    def targets(file: pathlib.Path, level: int, module: str, names: tuple[str, ...]):
        if level:  # relative: from the file's package folder, up level-1 folders
            base = file.parent
            for _ in range(level - 1):
                base = base.parent
        elif module == "optimizers" or module.startswith("optimizers."):
            base, module = folder, module.partition(".")[2]
        elif module.split(".")[0] in harness or in_folder(file):
            return
        else:  # a sibling module next to a user file
            base = file.parent
        if module:
            yield module_file(base, module)
        for name in names:  # `from pkg import sub` may name a submodule
            if name != "*":
                yield module_file(base, f"{module}.{name}" if module else name)

    start = path.resolve()
    seen = {start}
    order = [start]
    out = []
    for file in order:  # grows while we walk it
        try:
            data = file.read_bytes()
        except OSError as exc:
            if file is start:
                raise
            data = f"<unreadable: {exc.strerror or exc}>".encode()
        if file is start:
            name = start.name
        elif in_folder(file):
            name = "optimizers/" + file.relative_to(folder).as_posix()
        else:
            name = pathlib.Path(os.path.relpath(file, start.parent)).as_posix()
        out.append((name, data))
        if not is_local(file):
            continue
        for level, module, names in imports(data):
            for target in targets(file, level, module, names):
                if target is not None and target not in seen and target not in excluded \
                        and is_local(target):
                    seen.add(target)
                    order.append(target)
    return out


@dataclasses.dataclass(frozen=True)
class BrokenEntry:
    """An entry module that could not be loaded; ``error`` says why."""

    name: str
    error: str


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _source_file(obj: Any) -> str | None:
    try:
        return inspect.getsourcefile(obj)
    except TypeError:
        return None


FOLDER = pathlib.Path(__file__).parent
_NOT_ENTRIES = {"base", "__init__"}


def discover() -> dict[str, Entry | BrokenEntry]:
    """Every module in optimizers/ by file stem: its ENTRY, or a BrokenEntry with the error."""
    found: dict[str, Entry | BrokenEntry] = {}
    for path in sorted(FOLDER.glob("*.py")):
        stem = path.stem
        if stem in _NOT_ENTRIES or stem.startswith("_"):
            continue
        name = stem.replace("_", "-")
        try:
            module = importlib.import_module(f"optimizers.{stem}")
            entry = getattr(module, "ENTRY", None)
            if not isinstance(entry, Entry):
                raise TypeError(f"optimizers/{path.name} defines no `ENTRY = Entry(...)`")
            if entry.name != name:
                raise ValueError(f"optimizers/{path.name}: ENTRY.name is {entry.name!r}, but "
                                 f"the file name says {name!r}; they must match")
            found[name] = dataclasses.replace(entry, source_file=str(path))
        except Exception as exc:  # a broken entry must not break the others
            last = traceback.format_exception_only(type(exc), exc)[-1].strip()
            found[name] = BrokenEntry(name, last)
    return found
