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
from optimizers.base import Entry


class EntryError(ValueError):
    """An optimizer that cannot be resolved or constructed; the message says how to fix it."""


@dataclasses.dataclass(frozen=True)
class EntryChoice:
    """An entry plus the user's hyperparameter overrides (one point of a sweep).

    ``entry`` is an :class:`bench.entry_info.EntryInfo` (plain data, what the harness holds) or,
    inside a worker or a test, the loaded :class:`optimizers.base.Entry`. ``source`` is the
    name the user gave (entry name, class path or file path)."""

    entry: Any
    overrides: Mapping[str, Any]
    source: str = ""
    batch_seeds: bool = False  # run seeds as one (S, d) batch though the entry does not declare
    # an elementwise update (``bench run --batch-seeds``; checked by bench.batch_check first)
    track: str = "custom"  # "tuned", "defaults" or "custom" (bench.records.TRACKS)
    tuning: Any = None  # track "tuned": the bench.tuning.TuningFile whose choices it runs

    def __post_init__(self):
        if self.track == "tuned" and self.tuning is None:
            raise ValueError("the tuned track needs a tuning file")
        if self.track != "custom" and self.overrides:
            raise ValueError(f"the {self.track} track takes no hyperparameter overrides")

    @property
    def label(self) -> str:
        """``name`` or ``name[k=v]``: how records and tables name this choice (the track is a
        field of the record, not part of the label)."""
        return format_spec(self.entry.name, self.overrides)

    def overrides_for(self, family: str) -> dict[str, Any]:
        """What is set over the entry's defaults on ``family``: the tuned point (track tuned),
        nothing (track defaults) or the user's overrides (track custom)."""
        if self.track == "tuned":
            return self.tuning.hparams(family)
        return dict(self.overrides)

    def hparams_for(self, family: str) -> dict[str, Any]:
        return self.entry.hparams_for(family, self.overrides_for(family))

    def tuning_provenance(self, family: str) -> dict[str, Any]:
        """The record's ``tuning`` field: which file and trial chose this family's values."""
        return self.tuning.provenance(family) if self.track == "tuned" else {}


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
    """All choices named by ``text`` (several when a hyperparameter is a list: a sweep).

    Nothing of the entry runs in this process: its files are located, linted and hashed as
    text, and a sealed worker imports it and describes it (bench.entry_info)."""
    from bench.entry_info import LocateError, describe, entry_info, is_own_code, locate, source_files
    from bench.sandbox import sandbox

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
    box = sandbox()
    try:
        ref = locate(name, box.entry_folder)
    except LocateError as exc:
        raise EntryError(str(exc)) from None
    sources = source_files(ref)
    if is_own_code(ref):
        _lint(name, sources)
    try:
        meta = describe(ref, box)
        info = entry_info(ref, meta, sources)
    except Exception as exc:
        where = f" (fix optimizers/{pathlib.Path(ref['source_file']).name})" if ref["kind"] == "builtin" else ""
        raise EntryError(f"entry {name!r} cannot be loaded: {exc}{where}") from None
    return [EntryChoice(info, point, name) for point in points]


def load_here(choice: EntryChoice) -> EntryChoice:
    """The choice with its entry imported *into this process* (tests and --in-process debugging
    only: the entry's code then runs beside the harness, unsealed)."""
    from bench.entry_worker import load_entry

    ref = getattr(choice.entry, "ref", None)
    if ref is None:
        return choice
    return dataclasses.replace(choice, entry=load_entry(ref))


def _lint(name: str, sources: list[tuple[str, bytes]]) -> None:
    """Reject entries whose own source (or a local helper it imports) reaches into the harness:
    a fast first check with clear messages; the sealed worker is the defence (bench.lint)."""
    from bench.lint import lint_source

    found = []
    for fname, data in sources:
        try:
            found.extend(lint_source(data.decode("utf-8", errors="replace"), fname))
        except SyntaxError as exc:
            raise EntryError(f"entry {name!r}: {fname} is not valid Python: {exc}") from None
    if found:
        raise EntryError(f"entry {name!r} reaches into the harness, which would bypass the "
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


def build_row_optimizer(entry: Any, w: torch.Tensor, family: str,
                        row_overrides: list[Mapping[str, Any]], *,
                        allow_unknown: bool = False) -> tuple[torch.optim.Optimizer, list[slice]]:
    """One optimizer over the rows of an (S, d) batch whose rows differ in hyperparameters
    (e.g. the trials of ``bench tune`` for an elementwise entry, or a claim's sweep): each
    maximal run of consecutive rows with equal hyperparameters ``w[a:b]`` (a view, updated in
    place) is one param group with hyperparameters ``defaults <- row_overrides[r]``, where a name
    a row leaves out has the entry's default (never another row's value). An elementwise update
    then does to each row what it does to that row's run alone (tests/bench/test_trial_rows.py
    proves it for the built-in entries); rows sharing a group cost one update, not one each.
    Returns the optimizer and each group's row slice."""
    target = entry.optimizer
    if not inspect.isclass(target):
        raise EntryError(f"{entry.name}: rows with different hyperparameters need an Optimizer "
                         f"class (param groups), not a factory")
    spans: list[tuple[int, int, dict[str, Any]]] = []
    for r, overrides in enumerate(row_overrides):
        choice = EntryChoice(entry, dict(overrides))
        hparams = choice.hparams_for(family)
        check_hparams(target, hparams, allow_unknown=allow_unknown, label=choice.label)
        if spans and spans[-1][2] == hparams:
            spans[-1] = (spans[-1][0], r + 1, hparams)
        else:
            spans.append((r, r + 1, hparams))
    groups = [{"params": [w[a:b]], **hparams} for a, b, hparams in spans]
    # The constructor gets only what every row sets (each group overrides it with its own
    # value); a name some row leaves out is not passed, so torch fills that row's group with
    # the constructor's own default, as in the row's run alone.
    shared = {k: v for k, v in groups[0].items()
              if k != "params" and all(k in g for g in groups[1:])}
    try:
        opt = target(groups, **shared)
    except (TypeError, ValueError) as exc:
        raise EntryError(f"{entry.name}: invalid hyperparameters {row_overrides}: {exc} (a "
                         f"hyperparameter without a default must be set on every row)") from exc
    if len(opt.param_groups) != len(groups):
        raise EntryError(f"{entry.name}: the optimizer did not keep one param group per set of rows")
    return opt, [slice(a, b) for a, b, _ in spans]


def build_optimizer(choice: EntryChoice, params: list[torch.Tensor], family: str, *,
                    allow_unknown: bool = False) -> torch.optim.Optimizer:
    """Construct the entry's optimizer on ``params`` with its hyperparameters for ``family``.

    The hyperparameters are checked first (``check_hparams``): names against the constructor,
    values against the types of its defaults. ``allow_unknown`` lets names through that a
    ``**kwargs`` constructor does not expose (``bench run --allow-unknown-hparams``)."""
    entry, hparams = choice.entry, choice.hparams_for(family)
    target = entry.optimizer
    check_hparams(target, hparams, allow_unknown=allow_unknown, label=choice.label)
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


# ------------------------------------------------------------------ hyperparameter checks
_NO_DEFAULT = inspect.Parameter.empty


def _own_parameters(func: Any, *, skip_first: bool) -> tuple[dict[str, inspect.Parameter], bool] | None:
    """Named parameters of ``func`` (minus ``self``/``params``) and whether it takes ``**kwargs``."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())
    if params and params[0].name == "self":
        params = params[1:]
    if skip_first and params and params[0].kind in (inspect.Parameter.POSITIONAL_ONLY,
                                                    inspect.Parameter.POSITIONAL_OR_KEYWORD):
        params = params[1:]  # the parameters (tensors) argument
    named = {p.name: p for p in params
             if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)}
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    return named, takes_kwargs


def constructor_parameters(target: Any) -> tuple[dict[str, Any], bool] | None:
    """Hyperparameter names of an optimizer class or factory with their defaults.

    For a class, ``__init__`` methods are followed up the MRO while they pass ``**kwargs`` on
    (stopping before ``torch.optim.Optimizer``, whose ``defaults`` argument is not a
    hyperparameter). Returns ``(name -> default, still_takes_kwargs)``; ``None`` when there is
    no signature to read (nothing can be checked then)."""
    named: dict[str, Any] = {}
    if inspect.isclass(target):
        takes_kwargs = True
        seen_init = False
        for klass in target.__mro__:
            if klass in (torch.optim.Optimizer, object):
                break
            init = klass.__dict__.get("__init__")
            if init is None:
                continue
            seen_init = True
            own = _own_parameters(init, skip_first=True)
            if own is None:
                return None
            params, takes_kwargs = own
            for name, p in params.items():
                named.setdefault(name, p.default)
            if not takes_kwargs:
                break
        if not seen_init:
            return None
        return named, takes_kwargs
    own = _own_parameters(target, skip_first=True)
    if own is None:
        return None
    params, takes_kwargs = own
    return {name: p.default for name, p in params.items()}, takes_kwargs


def _exposed_defaults(target: Any, known: Mapping[str, Any]) -> dict[str, Any]:
    """``optimizer.defaults`` of ``target`` built on a dummy parameter (empty if that fails)."""
    dummy = torch.zeros(1, requires_grad=True)
    try:
        opt = target([dummy], **known)
    except Exception:  # the names it exposes cannot be read: treat as exposing none
        return {}
    defaults = getattr(opt, "defaults", None)
    return dict(defaults) if isinstance(opt, torch.optim.Optimizer) and isinstance(defaults, dict) else {}


def _is_real(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return (isinstance(value, torch.Tensor) and value.numel() == 1
            and not value.dtype == torch.bool and not value.is_complex())


def _int_annotated(annotation: Any) -> bool:
    return annotation is int or annotation == "int"


def _expected(value: Any, default: Any, annotation: Any = _NO_DEFAULT) -> str | None:
    """What ``value`` should be, judged by the constructor's ``default``; None when it fits."""
    if default is _NO_DEFAULT or default is None:
        return None  # no default (or None): anything goes, the constructor decides
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "true or false"
    if isinstance(default, int) and _int_annotated(annotation):
        return None if isinstance(value, int) and not isinstance(value, bool) else "an integer"
    if isinstance(default, (int, float)):
        return None if _is_real(value) else "a real number"
    if isinstance(default, (tuple, list)) and all(_is_real(x) for x in default):
        if (isinstance(value, (tuple, list)) and len(value) == len(default)
                and all(_is_real(x) for x in value)):
            return None
        return f"a tuple of {len(default)} numbers"
    if isinstance(default, str):
        return None if isinstance(value, str) else "a string"
    return None  # another kind of default (a tensor, a sentinel): not checked here


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    if value is None:
        return "none"
    return f"a {type(value).__name__}"


def check_hparams(target: Any, hparams: Mapping[str, Any], *, allow_unknown: bool = False,
                  label: str | None = None) -> None:
    """Refuse hyperparameters that ``target`` (optimizer class or factory) cannot take.

    * Names: each must be a parameter of the constructor; for a constructor taking
      ``**kwargs``, also any key of the ``defaults`` it exposes (read from an instance built on
      a dummy parameter). Other names are refused unless ``allow_unknown`` (they would be
      swallowed by ``**kwargs`` and silently ignored).
    * Values: compared with the default: a number default needs a real number (not a bool or a
      string), an ``int``-annotated integer default an integer, a bool default a bool, a tuple
      of numbers a tuple of as many numbers, a string default a string; ``None`` or no default
      accepts anything.

    Raises :class:`EntryError` naming ``label`` (the entry), the hyperparameter, the expected
    type and the fix."""
    from bench.spec import format_value

    name = label or getattr(target, "__qualname__", repr(target))
    found = constructor_parameters(target)
    if found is None:
        return
    named, takes_kwargs = found
    annotations = _annotations(target)

    def check_value(key: str, value: Any, default: Any) -> None:
        want = _expected(value, default, annotations.get(key, _NO_DEFAULT))
        if want is not None:
            raise EntryError(
                f"{name}: hyperparameter {key}={format_value(value)} is {_kind_of(value)}, but "
                f"{key} must be {want} (its default is {format_value(default)}); write e.g. "
                f"{key}={format_value(default)}")

    for key, value in hparams.items():
        if key in named:
            check_value(key, value, named[key])
    unknown = [k for k in hparams if k not in named]
    if not unknown:
        return
    exposed: dict[str, Any] = {}
    if takes_kwargs:
        exposed = _exposed_defaults(target, {k: v for k, v in hparams.items() if k in named})
        unknown = [k for k in unknown if k not in exposed]
    if unknown and not (takes_kwargs and allow_unknown):
        accepted = sorted(set(named) | set(exposed))
        close = [m for k in unknown for m in difflib.get_close_matches(k, accepted, n=1, cutoff=0.6)]
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        insist = (" If the optimizer does read it from **kwargs, pass --allow-unknown-hparams."
                  if takes_kwargs else "")
        raise EntryError(f"{name}: unknown hyperparameter(s) {', '.join(unknown)} for "
                         f"{getattr(target, '__qualname__', target)}; accepted: "
                         f"{', '.join(accepted) or '(none)'}.{hint}{insist}")
    for key, value in hparams.items():
        if key in exposed:
            check_value(key, value, exposed[key])


def _annotations(target: Any) -> dict[str, Any]:
    """Parameter annotations of the constructor chain (first one wins), for int checks."""
    out: dict[str, Any] = {}
    funcs = ([k.__dict__["__init__"] for k in target.__mro__ if "__init__" in k.__dict__
              and k not in (torch.optim.Optimizer, object)] if inspect.isclass(target) else [target])
    for func in funcs:
        try:
            params = inspect.signature(func).parameters
        except (TypeError, ValueError):
            continue
        for pname, p in params.items():
            out.setdefault(pname, p.annotation)
    return out


def check_choices(choices: list[EntryChoice], families: list[str], *,
                  allow_unknown: bool = False) -> None:
    """``check_choice`` for every choice on every family, before any run starts. Entries held
    as plain data (resolved by ``resolve_entry``) are checked in a sealed worker, since reading
    their constructor means importing their code."""
    from bench.entry_info import check_in_worker
    from bench.sandbox import sandbox

    by_ref: dict[str, list[EntryChoice]] = {}
    for choice in choices:
        if getattr(choice.entry, "ref", None) is None:
            for family in families:
                check_choice(choice, family, allow_unknown=allow_unknown)
        else:
            by_ref.setdefault(repr(sorted(choice.entry.ref.items())), []).append(choice)
    for group in by_ref.values():
        checks = [{"overrides": c.overrides_for(f), "family": f} for c in group for f in families]
        problems = check_in_worker(group[0].entry.ref, checks, allow_unknown, sandbox())
        if problems:
            raise EntryError(problems[0])


def check_choice(choice: EntryChoice, family: str, *, allow_unknown: bool = False) -> None:
    """``check_hparams`` for ``choice`` on a problem ``family``, before any run starts."""
    check_hparams(choice.entry.optimizer, choice.hparams_for(family), allow_unknown=allow_unknown,
                  label=f"{choice.label} (on {family} problems)")
