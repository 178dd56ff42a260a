"""Resolve what a user passes as ``--optimizer`` into an :class:`optimizers.base.Entry`.

Accepted forms (each may carry hyperparameters ``[lr=0.01,momentum=0.9]``):

* a built-in entry name: ``sgd-momentum``;
* a dotted path to an Optimizer class: ``torch.optim.Adam``;
* ``pkg.module:Class``;
* ``path/to/file.py:Class`` (or ``path/to/file.py`` whose module defines ``ENTRY``).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.util
import inspect
import math
import pathlib
import sys
from typing import Any, Mapping

import torch

from bench.spec import SpecError, expand_sweep, format_spec, parse_assignments, parse_spec
from optimizers.base import BrokenEntry, Entry, discover


class EntryError(ValueError):
    """An optimizer that cannot be resolved or constructed; the message says how to fix it."""


@dataclasses.dataclass(frozen=True)
class EntryChoice:
    """An entry plus the user's hyperparameter overrides (one point of a sweep).

    ``source`` is the name the user gave (entry name, class path or file path); it is how a
    worker process resolves the same choice again (see ``__reduce__``)."""

    entry: Entry
    overrides: Mapping[str, Any]
    source: str = ""

    def __reduce__(self):
        # Classes loaded from user files live in synthetic modules that other processes
        # cannot import: pickle the spec text and resolve it again on the other side.
        return (_resolve_single, (format_spec(self.source or self.entry.name, self.overrides),))

    @property
    def label(self) -> str:
        """``name`` or ``name[k=v]``: how records and tables name this choice."""
        return format_spec(self.entry.name, self.overrides)

    def hparams_for(self, family: str) -> dict[str, Any]:
        return self.entry.hparams_for(family, self.overrides)


def _load_file(path: pathlib.Path) -> Any:
    if not path.is_file():
        raise EntryError(f"optimizer file {str(path)!r} does not exist")
    mod_name = f"saddlebench_user_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise EntryError(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc
    return module


def _import_object(name: str) -> Any:
    """Import ``file.py:attr``, ``module:attr`` or ``module.attr``."""
    if ".py" in name:
        file_part, _, attr = name.partition(".py")
        module = _load_file(pathlib.Path(file_part + ".py"))
        attr = attr.lstrip(":")
        if not attr:
            if not isinstance(getattr(module, "ENTRY", None), Entry):
                raise EntryError(f"{file_part}.py defines no ENTRY; name the optimizer class as "
                                 f"{file_part}.py:ClassName")
            return dataclasses.replace(module.ENTRY, source_file=str(pathlib.Path(file_part + ".py")))
    elif ":" in name:
        mod_name, _, attr = name.partition(":")
        module = _import_module(mod_name, name)
    else:
        mod_name, _, attr = name.rpartition(".")
        module = _import_module(mod_name, name)
    try:
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj
    except AttributeError:
        raise EntryError(f"{name!r}: {module.__name__} has no attribute {attr!r}") from None


def _import_module(mod_name: str, full: str):
    try:
        return importlib.import_module(mod_name)
    except ImportError as exc:
        raise EntryError(f"cannot import module {mod_name!r} for optimizer {full!r}: {exc}") from exc


def _unknown(name: str, entries: Mapping[str, Any]) -> EntryError:
    close = difflib.get_close_matches(name, list(entries), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return EntryError(f"unknown optimizer {name!r}.{hint} Give a built-in entry (`bench list "
                      f"optimizers`), a class path like torch.optim.Adam, pkg.module:Class, or "
                      f"path/to/file.py:Class.")


def _as_entry(obj: Any, name: str) -> Entry:
    if isinstance(obj, Entry):
        return obj
    if inspect.isclass(obj):
        if not issubclass(obj, torch.optim.Optimizer):
            raise EntryError(f"{name!r} is the class {obj.__module__}.{obj.__qualname__}, which is "
                             f"not a torch.optim.Optimizer subclass")
        return Entry(name=name, optimizer=obj, summary=(inspect.getdoc(obj) or "").split("\n")[0],
                     elementwise=False)
    if callable(obj):  # a factory; validated when it is called
        return Entry(name=name, optimizer=obj, elementwise=False)
    raise EntryError(f"{name!r} is a {type(obj).__name__}, not a torch.optim.Optimizer subclass "
                     f"or a factory returning one")


def resolve_entry(text: str, extra_hparams: str | None = None) -> list[EntryChoice]:
    """All choices named by ``text`` (several when a hyperparameter is a list: a sweep)."""
    try:
        name, overrides = parse_spec(text)
        if extra_hparams:
            extra = parse_assignments(extra_hparams)
            clash = set(extra) & set(overrides)
            if clash:
                raise SpecError(f"{sorted(clash)} given both in brackets and in --hparams")
            overrides.update(extra)
        _check_finite(overrides)
        points = expand_sweep(overrides)
    except SpecError as exc:
        raise EntryError(f"malformed optimizer spec {text!r}: {exc}") from None
    entries = discover()
    if name in entries:
        found = entries[name]
        if isinstance(found, BrokenEntry):
            raise EntryError(f"entry {name!r} is broken: {found.error} (fix optimizers/{name}.py)")
        entry = found
    elif any(ch in name for ch in ".:/"):
        entry = _as_entry(_import_object(name), name)
    else:
        raise _unknown(name, entries)
    _lint(entry)
    return [EntryChoice(entry, point, name) for point in points]


def _lint(entry: Entry) -> None:
    """Reject entries whose own source reaches into the harness (see bench.lint)."""
    from bench.lint import lint_entry_files
    from optimizers.base import FOLDER

    path = entry.source_file or (inspect.getsourcefile(entry.optimizer)
                                 if inspect.isclass(entry.optimizer) else None)
    if not path or "site-packages" in path or "/torch/" in path:
        return  # torch.optim and installed libraries are not entries' own code
    files = [path]
    if pathlib.Path(path).resolve().parent == FOLDER.resolve():
        files += sorted(p for p in FOLDER.glob("_*.py") if p.name != "__init__.py")
    found = lint_entry_files(files)
    if found:
        raise EntryError(f"entry {entry.name!r} reaches into the harness, which would bypass the "
                         f"counted oracle: {'; '.join(found[:5])}. Entries may get gradients, "
                         f"function values and HVPs only through the closure passed to step().")


def _check_finite(values: Mapping[str, Any]) -> None:
    def bad(v: Any) -> bool:
        if isinstance(v, float):
            return not math.isfinite(v)
        if isinstance(v, (list, tuple)):
            return any(bad(x) for x in v)
        return False

    for key, value in values.items():
        if bad(value):
            raise SpecError(f"hyperparameter {key}={value} is not a finite number")


def _resolve_single(text: str) -> EntryChoice:
    choices = resolve_entry(text)
    if len(choices) != 1:
        raise EntryError(f"{text!r} names {len(choices)} choices, expected one")
    return choices[0]


def build_optimizer(choice: EntryChoice, params: list[torch.Tensor], family: str) -> torch.optim.Optimizer:
    """Construct the entry's optimizer on ``params`` with its hyperparameters for ``family``."""
    entry, hparams = choice.entry, choice.hparams_for(family)
    target = entry.optimizer
    try:
        sig = inspect.signature(target)
        accepts_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
        if not accepts_any:
            unknown = [k for k in hparams if k not in sig.parameters]
            if unknown:
                allowed = [k for k in sig.parameters if k not in ("self", "params")]
                raise EntryError(f"{choice.label}: hyperparameter(s) {unknown} not accepted by "
                                 f"{getattr(target, '__qualname__', target)}; accepted: {allowed}")
    except (TypeError, ValueError) as exc:
        if isinstance(exc, EntryError):
            raise
    try:
        opt = target(params, **hparams)
    except EntryError:
        raise
    except (TypeError, ValueError) as exc:
        raise EntryError(f"{choice.label}: invalid hyperparameters {hparams}: {exc}") from exc
    if not isinstance(opt, torch.optim.Optimizer):
        raise EntryError(f"{choice.label}: {getattr(target, '__qualname__', target)} returned a "
                         f"{type(opt).__name__}, not a torch.optim.Optimizer")
    return opt
