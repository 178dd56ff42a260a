"""What an entry is, and discovery of the entries in this folder.

An entry module ``optimizers/<module>.py`` defines ``ENTRY = Entry(...)``: a
``torch.optim.Optimizer`` subclass (or a factory ``f(params, **hparams) -> Optimizer``) plus its
metadata and its hyperparameters, by default and per problem family. The entry's name is the
file stem with ``_`` written as ``-`` (``sgd_momentum.py`` -> ``sgd-momentum``). A module that fails to import shows up as a :class:`BrokenEntry` carrying its
error; it does not break discovery of the others.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import inspect
import pathlib
import traceback
from typing import Any, Callable, Mapping

import torch

ORACLE_CLASSES = ("first-order", "hvp")


@dataclasses.dataclass(frozen=True)
class Entry:
    """An optimizer entry.

    Args:
        name: registry name (the module's file stem for built-in entries).
        optimizer: Optimizer subclass or factory ``(params, **hparams) -> Optimizer``.
        defaults: hyperparameters used on every family unless overridden.
        family_hparams: family name -> hyperparameters for that family (override ``defaults``).
        summary: one line: what the method does.
        authors, paper, url: where it comes from (``paper`` is a citation line).
        license: code license of the entry.
        spec_section: section of SPEC.md it implements ("" for outside entries).
        oracle_class: "first-order" (gradients, function values) or "hvp" (also uses HVPs).
        elementwise: whether the update acts coordinate-wise (seeds batchable, SPEC.md B18).
    """

    name: str
    optimizer: Callable[..., torch.optim.Optimizer]
    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    family_hparams: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    summary: str = ""
    authors: str = ""
    paper: str = ""
    url: str = ""
    license: str = "MIT"
    spec_section: str = ""
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

    def hparams_for(self, family: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Hyperparameters on ``family``: defaults <- family_hparams[family] <- overrides."""
        return {**self.defaults, **self.family_hparams.get(family, {}), **(overrides or {})}

    def source_hash(self) -> str:
        """sha256 (first 16 hex digits) of the entry's source file, plus torch's version for
        entries that are torch.optim classes."""
        path = self.source_file or _source_file(self.optimizer)
        h = hashlib.sha256()
        if path and pathlib.Path(path).is_file():
            h.update(pathlib.Path(path).read_bytes())
        else:
            h.update(repr(self.optimizer).encode())
        if getattr(self.optimizer, "__module__", "").startswith("torch."):
            h.update(torch.__version__.encode())
        return h.hexdigest()[:16]

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
            "spec_section": self.spec_section,
            "oracle_class": self.oracle_class,
            "elementwise": self.elementwise,
            "defaults": dict(self.defaults),
            "family_hparams": {k: dict(v) for k, v in self.family_hparams.items()},
        }


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
