"""The Problem interface: a standardized non-convex objective with a known strict saddle.

A problem is a *family* (``quad-saddle``) instantiated at a *size* (``small``) from an
``instance_seed``. Its id ``family:size`` is stable forever once published; options that
change the landscape are part of the id (``quad-saddle:small[noise=iso]``).

Everything is a flat torch vector ``w`` of length ``dim``. Two views of the objective:

* exact (used by the certificate and monitoring, never by an entry):
  ``loss(w)`` = f(w), ``grad(w)`` = grad f(w), ``hvp(w, v)`` = Hess f(w) v;
* stochastic (what one oracle call sees): ``draw(generator, count)`` produces the randomness of
  ``count`` calls at once (minibatch indices, or noise vectors), and
  ``sample_loss_grad(w, sample)`` / ``sample_hvp(w, v, sample)`` / ``sample_loss(w, sample)``
  evaluate one call's estimate. Estimates are unbiased: E[sample_grad] = grad f.
  The sample stream does not depend on the run's dtype or device: ``generator`` is a CPU
  generator, ``draw`` draws on CPU (integer indices, or float64 numbers via
  :func:`draw_indices` / :func:`draw_normal`) and only then casts to the problem's dtype and
  device (:meth:`Problem.sample_tensor`). Two profiles therefore see the same draws, up to the
  rounding of the cast.

Options (``family:size[opt=val]``) are declared as :class:`Option` (type, default, range or
choices, one-line meaning). They are checked and coerced when an id is parsed, so that a bad
value fails before any run starts and one instance has one id (``rotate=1`` -> ``rotate=true``,
``p=10.0`` -> ``p=10``, defaults dropped). ``init_delta`` does not mean the same thing in every
family (an unnormalized N(0, I) perturbation, a perturbation of exact length, a per-coordinate
scale...): each family's option help says exactly how it is used.

Every family also has the :data:`BASE_OPTIONS` (merged in by ``problems.registry.register``):

* ``start``: where runs start (:meth:`Problem.start_point`). ``default`` is the family's own
  start (:meth:`Problem.initial_point`, shaped by its ``init``/``init_delta`` options);
  ``saddle`` is exactly the designated saddle w_s; ``minimum`` is a global minimum the family
  knows (:meth:`Problem.minimum_point`; refused, naming the families that know one, elsewhere);
  ``random`` is the family's own random start where it has one (``Problem.start_spellings``).
  A start that the family's own options already spell (``start=saddle`` is
  ``init=exact`` in phase-retrieval, ``init_delta=0`` in tensor...) is rewritten to that
  spelling, so that one start has one id.
* ``escape_delta``: Delta_esc of the escape test f(w) <= f_s - Delta_esc (default: the
  family's). A family with a projection test says what it means there (quad-saddle: the radius
  R at which one negative direction has descended by Delta_esc).

Batched rows (:mod:`problems.batch`): ``loss_rows``, ``grad_rows``, ``loss_grad_rows``,
``hvp_rows``, ``sample_loss_grad_rows``, ``sample_loss_rows`` and ``sample_hvp_rows`` evaluate S
points at once, one per row of an (S, d) tensor (and one call's sample per row), each row bitwise
independent of the others. Families override their ``_*_rows`` hooks with batched code.

Diagnostics (:mod:`problems.diagnostics`): quantities that experiments measure along a run and
that the entry never sees (``saddle_distance``, ``negative_projection`` for every family, and the
family's own, e.g. ``solution_distance``), declared in ``Problem.diagnostics`` and evaluated by
:meth:`Problem.diagnose_rows`.

Costs (sample gradients, docs/methodology.md "Cost unit") are not computed here: the counted oracle (bench.oracle) charges
``batch_size`` sample gradients per stochastic call and ``n`` per full-batch call.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from typing import Any, ClassVar, Mapping

import numpy as np
import torch

from .batch import BatchedRows, rows_matmul
from .diagnostics import Diagnostic, negative_basis, split_names

# Stream ids for numpy.random.SeedSequence([seed, STREAM]): instance data, start point and run
# randomness come from independent streams of their seeds.
INSTANCE_STREAM = 0
INIT_STREAM = 1
RUN_STREAM = 2


def rng(seed: int, stream: int, *extra: int) -> np.random.Generator:
    """A numpy PCG64 generator for child stream ``stream`` of ``seed`` (independent streams)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream, *extra])))


def torch_seed(seed: int, stream: int, *extra: int) -> int:
    """A 63-bit torch seed derived from ``(seed, stream, *extra)`` by SeedSequence."""
    state = np.random.SeedSequence([seed, stream, *extra]).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & ((1 << 63) - 1)


def draw_indices(generator: torch.Generator, count: int, n: int, batch: int) -> torch.Tensor:
    """Minibatch indices for ``count`` calls: iid uniform in [0, n) with replacement, shape
    (count, batch), int64 on CPU (``generator`` must be a CPU generator)."""
    return torch.randint(n, (count, batch), generator=generator)


def draw_normal(generator: torch.Generator, *shape: int) -> torch.Tensor:
    """Standard normal numbers of ``shape``, float64 on CPU (``generator`` must be a CPU
    generator): the same numbers whatever dtype and device the run uses."""
    return torch.randn(*shape, generator=generator, dtype=torch.float64)


def haar_orthogonal(gen: np.random.Generator, d: int) -> np.ndarray:
    """A Haar-random orthogonal d x d matrix (QR of a Gaussian with sign fix)."""
    q, r = np.linalg.qr(gen.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


@dataclasses.dataclass(frozen=True)
class Saddle:
    """The designated strict saddle w_s of an instance.

    ``lambda_min`` is the smallest Hessian eigenvalue at w_s (None if not known in closed form);
    ``escape_delta`` is Delta_esc (docs/methodology.md "Escape"): a run has escaped once
    f(w) <= value - escape_delta.
    """

    point: torch.Tensor
    value: float
    lambda_min: float | None
    escape_delta: float


class UnknownProblemError(KeyError):
    """An id that names no registered family, size or option."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


class UnknownDiagnosticError(UnknownProblemError, ValueError):
    """A diagnostic name that the problem's family does not declare."""


class ProblemOptionError(UnknownProblemError, ValueError):
    """A problem option with a wrong type, an out-of-range value, an unknown choice or a
    combination the family does not accept. Both an :class:`UnknownProblemError` (the CLI
    reports it as a user error) and a ``ValueError``."""


_OPTION_TYPES = (bool, int, float, str)


@dataclasses.dataclass(frozen=True)
class Option:
    """A declared problem option: ``family:size[name=value]``.

    Attributes:
        type: ``bool``, ``int``, ``float`` or ``str``; values are coerced to it (``1`` -> ``true``
            for a bool, ``10.0`` -> ``10`` for an int; ``10.5`` is refused for an int).
        default: the value when the option is not given (ids omit options at their default).
        help: one line: what the option does in this family.
        min, max: inclusive bounds of a numeric option (``min_exclusive``: value > min).
        choices: the allowed values of a ``str`` option; for an ``int``/``float`` option, words
            accepted besides numbers (tensor's ``saddle=d``).
        nullable: ``none`` is a value (always true when the default is None).
        even: an ``int`` option must be even.
    """

    type: type
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    choices: tuple = ()
    nullable: bool = False
    even: bool = False

    def __post_init__(self):
        if self.type not in _OPTION_TYPES:
            raise TypeError(f"Option type must be one of bool, int, float, str; got {self.type!r}")
        if not self.help.strip():
            raise ValueError("Option needs a one-line help text")

    @property
    def type_name(self) -> str:
        name = self.type.__name__
        if self.type is not str and self.choices:
            name += " | " + " | ".join(map(str, self.choices))
        return name + (" | none" if self.nullable or self.default is None else "")

    def describe_range(self) -> str:
        """The allowed values in words, e.g. ``>= 1``, ``aniso | iso``, ``true | false``."""
        if self.type is bool:
            return "true | false"
        if self.type is str:
            return " | ".join(map(str, self.choices)) if self.choices else "any word"
        parts = []
        if self.min is not None:
            parts.append(f"{'>' if self.min_exclusive else '>='} {_format_value(self.min)}")
        if self.max is not None:
            parts.append(f"<= {_format_value(self.max)}")
        text = " and ".join(parts) if parts else "any finite number"
        if self.even:
            text = "even, " + text
        if self.choices:
            text += " (or " + " | ".join(map(str, self.choices)) + ")"
        if self.nullable or self.default is None:
            text += " (or none)"
        return text

    def coerce(self, family: str, name: str, value: Any) -> Any:
        """``value`` converted to the declared type and checked against the range or choices;
        raises :class:`ProblemOptionError` naming the option, what is allowed and the fix."""
        given = value

        def bad(why: str) -> ProblemOptionError:
            return ProblemOptionError(
                f"problem option {name}={_format_value(given)} of {family}: {why}. {name} is "
                f"{self.type_name}, allowed {self.describe_range()} (default "
                f"{_format_value(self.default)}): {self.help}. Give an allowed value, or drop the "
                f"option for the default; `bench list problems --family {family}` lists every option.")

        if value is None:
            if self.nullable or self.default is None:
                return None
            raise bad("none is not a value of this option")
        if self.type is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, (int, float)) and value in (0, 1):
                return bool(value)
            raise bad("not a boolean")
        if self.type is str:
            if not isinstance(value, str):
                raise bad("not one of the choices")
            if self.choices and value not in self.choices:
                raise bad("not one of the choices")
            return value
        # int or float (optionally with extra words)
        if isinstance(value, str):
            if value in self.choices:
                return value
            raise bad("not a number" + (" nor one of the words" if self.choices else ""))
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad(f"not {'an int' if self.type is int else 'a number'}")
        if not math.isfinite(value):
            raise bad("not a finite number")
        if self.type is int:
            if isinstance(value, float):
                if not value.is_integer():
                    raise bad("not an integer (it would be truncated)")
                value = int(value)
        else:
            value = float(value)
        if self.min is not None and (value < self.min or (self.min_exclusive and value == self.min)):
            raise bad("out of range")
        if self.max is not None and value > self.max:
            raise bad("out of range")
        if self.even and value % 2:
            raise bad("not even")
        return value


START_CHOICES = ("default", "saddle", "minimum", "random")
#: options every family has (problems.registry.register merges them into ``cls.options``)
BASE_OPTIONS = {
    "start": Option(str, "default", choices=START_CHOICES, help=(
        "where runs start: default (the family's start), saddle (exactly w_s), minimum (a global "
        "minimum, in families that know one) or random (the family's random start, where it has "
        "one)")),
    "escape_delta": Option(float, None, min=0.0, min_exclusive=True, help=(
        "Delta_esc: a run has escaped once f(w) <= f_s - escape_delta (none: the family's value; "
        "families with a projection test say how they use it)")),
}
#: the family options that shape the default start (left at their defaults with another start)
START_SHAPING = ("init", "init_delta")


class Problem(BatchedRows, abc.ABC):
    """Base class of every SaddleBench problem. Subclasses set the class attributes below,
    fill the instance attributes in ``__init__`` and implement the abstract methods; the
    batched ``*_rows`` methods come from :class:`~problems.batch.BatchedRows` (override the
    ``_*_rows`` hooks with batched code).

    Class attributes:
        family: registry family name, e.g. ``"quad-saddle"``.
        sizes: size name -> keyword arguments of the family at that size.
        options: option name -> :class:`Option` (user-settable with ``family:size[opt=val]``);
            ``option_defaults()`` gives name -> default, ``option_values`` an instance's values.
        reference: the papers the family comes from (one line).
        control: True for a family that has no strict saddle to escape (a convergence control,
            e.g. ``halfspace-blobs``); suites and the site keep controls out of the ranking.
        start_spellings: ``start`` value -> the family's own option values that give that start
            (``{"saddle": {"init": "exact"}, "random": {"init": "paper"}}``); such a ``start`` is
            rewritten to them (one id per start). A ``random`` start exists only where listed.
            :meth:`start_spellings_at` may make it depend on the size.
        minimum_known: whether :meth:`minimum_point` gives a global minimum (``start=minimum``);
            by default it returns the instance attribute ``minimizer``.
        diagnostics: name -> :class:`~problems.diagnostics.Diagnostic`, the quantities a run may
            ask the harness to measure at its checkpoints (``problems.registry.register`` adds
            ``problems.diagnostics.BASE_DIAGNOSTICS``).

    Instance attribute ``certificate_level`` (None by default): a sublevel bound of the SOSP
    certificate. Where it is set, a point is certified only if also f(w) <= certificate_level
    (bench.certificate). A family sets it when its landscape has a degenerate critical point (a
    Hessian that vanishes, or tends to 0, so that every (eps_g, eps_h) test passes near it) that
    lies above the level; its docstring says why every honest descent run reaches the level.
    """

    family: ClassVar[str]
    sizes: ClassVar[Mapping[str, Mapping[str, Any]]]
    options: ClassVar[Mapping[str, Option]] = {}
    reference: ClassVar[str] = ""
    control: ClassVar[bool] = False
    start_spellings: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    minimum_known: ClassVar[bool] = False
    diagnostics: ClassVar[Mapping[str, Diagnostic]] = {}

    # Filled by __init__ of subclasses.
    dim: int
    n: int | None  # finite-sum size; None for a population (streaming) oracle
    batch_size: int  # samples per stochastic oracle call
    eps_g: float
    eps_h: float
    budget: int  # in sample gradients (IFO units)
    f_star: float | None
    cnc_gamma: float | None  # CNC constant E<grad f_i(w_s), v_min>^2 where known
    per_sample_grad_zero_at_saddle: bool = False
    divergence_radius: float = 1e6  # ||w|| beyond this counts as divergence
    certificate_level: float | None = None  # certified only where f(w) <= this (None: no bound)
    # Declared constants (None where not known in closed form); entries read them through
    # ``closure.facts`` (bench.facts.ProblemFacts), the certificate uses ``smoothness``.
    smoothness: float | None = None  # L >= ||Hess f(w)|| on the region of interest
    hessian_lipschitz: float | None = None  # rho: ||Hess f(u) - Hess f(w)|| <= rho ||u - w||

    def __init__(self, size: str, instance_seed: int = 0, *, dtype: torch.dtype = torch.float64,
                 device: str | torch.device = "cpu", **options: Any):
        self.size = size
        self.instance_seed = int(instance_seed)
        self.dtype = dtype
        self.device = torch.device(device)
        self.option_values = self.resolve_options(size, options)

    # ------------------------------------------------------------------ options
    @classmethod
    def option_defaults(cls) -> dict[str, Any]:
        """Option name -> default value."""
        return {name: opt.default for name, opt in cls.options.items()}

    @classmethod
    def resolve_options(cls, size: str, given: Mapping[str, Any]) -> dict[str, Any]:
        """Every option's value at ``size``: the defaults overridden by ``given``, each coerced
        to its declared type and checked (:meth:`Option.coerce`), then the family's
        :meth:`check_options`. Raises :class:`UnknownProblemError` for an unknown name and
        :class:`ProblemOptionError` for a bad value."""
        for key in given:
            if key not in cls.options:
                import difflib

                close = difflib.get_close_matches(key, list(cls.options), n=2, cutoff=0.5)
                hint = f" Did you mean {' or '.join(close)}?" if close else ""
                known = ", ".join(sorted(cls.options)) or "none"
                raise UnknownProblemError(
                    f"problem {cls.family} has no option {key!r} (options: {known}).{hint} "
                    f"`bench list problems --family {cls.family}` lists them with their meaning.")
        values = {name: opt.coerce(cls.family, name, given[name]) if name in given else opt.default
                  for name, opt in cls.options.items()}
        return cls.check_options(size, cls._resolve_start(size, values))

    @classmethod
    def start_spellings_at(cls, size: str) -> Mapping[str, Mapping[str, Any]]:
        """``start_spellings`` at ``size`` (a family whose default start is the saddle only at
        some sizes overrides this)."""
        return cls.start_spellings

    @classmethod
    def _resolve_start(cls, size: str, values: dict[str, Any]) -> dict[str, Any]:
        """Check option ``start`` and rewrite it to the family's own spelling where one exists."""
        start = values.get("start", "default")
        if start == "default":
            return values
        shaped = [n for n in START_SHAPING if n in cls.options
                  and not _same_value(values[n], cls.options[n].default)]
        if shaped:
            raise cls._option_error(size, f"start={start} replaces the family's default start, "
                                          f"which {', '.join(shaped)} shapes; drop "
                                          f"{', '.join(shaped)} or drop start")
        spelled = cls.start_spellings_at(size).get(start)
        if spelled is not None:
            return {**values, **spelled, "start": "default"}
        if start == "random":
            having = [f"{name} (start=random is {_spell(fam.start_spellings['random'])})"
                      for name, fam in _families().items() if "random" in fam.start_spellings]
            raise cls._option_error(size, f"start=random: {cls.family} has no random start of its "
                                          f"own; families with one: {', '.join(having)}")
        if start == "minimum" and not cls.minimum_known:
            having = [name for name, fam in _families().items() if fam.minimum_known]
            raise cls._option_error(size, f"start=minimum: {cls.family} knows no global minimum "
                                          f"(f* is not known in closed form); families that know "
                                          f"one: {', '.join(having)}")
        return values

    @classmethod
    def check_options(cls, size: str, values: dict[str, Any]) -> dict[str, Any]:
        """Family hook: checks that involve the size or several options (raise
        :class:`ProblemOptionError`), and rewrites spellings of one instance to one (so that the
        id is canonical). Must be idempotent. The default accepts everything."""
        return values

    @classmethod
    def changed_options(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        """The options of ``values`` that differ from their default (what an id shows)."""
        return {k: v for k, v in values.items()
                if not (k in cls.options and _same_value(v, cls.options[k].default))}

    @classmethod
    def _option_error(cls, size: str, message: str) -> ProblemOptionError:
        return ProblemOptionError(f"{cls.family}:{size}: {message}. `bench list problems --family "
                                  f"{cls.family}` lists every option with its meaning.")

    # ------------------------------------------------------------------ identity
    @property
    def id(self) -> str:
        """Stable id: ``family:size`` plus non-default options in sorted order."""
        return format_problem_id(self.family, self.size, self.changed_options(self.option_values))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id!r}, instance_seed={self.instance_seed}, dim={self.dim})"

    # ------------------------------------------------------------------ helpers
    def tensor(self, array: np.ndarray | float) -> torch.Tensor:
        """Cast float64 numpy instance data to the problem's dtype and device."""
        return torch.as_tensor(np.asarray(array, dtype=np.float64)).to(self.device, self.dtype)

    def sample_tensor(self, drawn: torch.Tensor) -> torch.Tensor:
        """A sample drawn on CPU (int64 indices or float64 numbers) moved to the problem's device,
        floats cast to its dtype: the last step of every ``draw``."""
        if drawn.is_floating_point():
            return drawn.to(self.device, self.dtype)
        return drawn.to(self.device)

    # ------------------------------------------------------------------ exact objective
    @abc.abstractmethod
    def loss(self, w: torch.Tensor) -> torch.Tensor:
        """f(w), a 0-dim tensor (full finite sum or population expectation)."""

    @abc.abstractmethod
    def grad(self, w: torch.Tensor) -> torch.Tensor:
        """grad f(w)."""

    @abc.abstractmethod
    def hvp(self, w: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Hess f(w) v."""

    def hessian(self, w: torch.Tensor) -> torch.Tensor:
        """Dense Hessian, column by column from ``hvp`` (override with a closed form if cheap)."""
        eye = torch.eye(self.dim, dtype=w.dtype, device=w.device)
        return torch.stack([self.hvp(w, eye[i]) for i in range(self.dim)], dim=1)

    # ------------------------------------------------------------------ stochastic oracle
    @abc.abstractmethod
    def draw(self, generator: torch.Generator, count: int) -> torch.Tensor:
        """The randomness of ``count`` oracle calls, row k for call k (indices or noise).

        ``generator`` is a CPU generator; draw on CPU (indices, or float64 numbers) and return
        ``self.sample_tensor(drawn)``, so that the stream does not depend on dtype or device."""

    @abc.abstractmethod
    def sample_loss_grad(self, w: torch.Tensor, sample: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(f_B(w), grad f_B(w)) for one call's sample B (a row of ``draw``)."""

    def sample_loss(self, w: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        """f_B(w) for one call's sample."""
        return self.sample_loss_grad(w, sample)[0]

    @abc.abstractmethod
    def sample_hvp(self, w: torch.Tensor, v: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        """Hess f_B(w) v for one call's sample."""

    # ------------------------------------------------------------------ saddle and escape
    @property
    def saddle(self) -> Saddle:
        """The designated saddle; its ``escape_delta`` is option ``escape_delta`` when given."""
        return self._saddle

    @saddle.setter
    def saddle(self, value: Saddle) -> None:
        delta = getattr(self, "option_values", {}).get("escape_delta")
        self._saddle = value if delta is None else dataclasses.replace(value, escape_delta=float(delta))

    def check_instance(self) -> None:
        """Checks that need the built instance (``problems.make_problem`` runs them): a given
        ``escape_delta`` must lie below f_s - f* where f* is known, else no point escapes."""
        delta = self.option_values.get("escape_delta")
        if delta is not None and self.f_star is not None and delta >= self.saddle.value - self.f_star:
            raise self._option_error(self.size, (
                f"escape_delta={_format_value(delta)} is not below f_s - f* = "
                f"{self.saddle.value - self.f_star:.6g} of instance {self.instance_seed}: no point "
                f"lies that far below the saddle, so no run would escape; give a smaller value"))

    def escaped(self, w: torch.Tensor, f: float) -> bool:
        """Whether w has left the saddle (the f-level test): f(w) <= f_s - escape_delta.

        Families whose f-level is swamped by noise in the positive directions override this
        with a projection test, ||P_-(w - w_s)|| >= R."""
        return f <= self.saddle.value - self.saddle.escape_delta

    # ------------------------------------------------------------------ diagnostics
    @classmethod
    def check_diagnostics(cls, names) -> tuple[str, ...]:
        """``names`` (``"a,b"`` or a sequence) as sorted distinct names, each one the family
        declares; raises :class:`UnknownDiagnosticError` listing the family's diagnostics."""
        names = split_names(names)
        unknown = [n for n in names if n not in cls.diagnostics]
        if unknown:
            import difflib

            close = list(dict.fromkeys(c for n in unknown for c in difflib.get_close_matches(
                n, list(cls.diagnostics), n=1, cutoff=0.6)))  # the closest name to each
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            raise UnknownDiagnosticError(
                f"problem family {cls.family} has no diagnostic {', '.join(map(repr, unknown))} "
                f"(its diagnostics: {', '.join(sorted(cls.diagnostics)) or 'none'}).{hint} "
                f"`bench list problems --family {cls.family}` says what each one measures.")
        return names

    def diagnose_rows(self, names, W: torch.Tensor) -> dict[str, torch.Tensor]:
        """name -> the diagnostic at every row of W (S, d), an (S,) tensor; each row from its
        own row only (uncounted: the harness's measurement, never an entry's)."""
        W = W.detach().to(self.device, self.dtype)
        if W.ndim != 2 or W.shape[1] != self.dim:
            raise ValueError(f"{self!r}: W must have shape (S, {self.dim}), got {tuple(W.shape)}")
        return {n: self.diagnostics[n].rows(self, W.contiguous()).reshape(W.shape[0])
                for n in self.check_diagnostics(names)}

    def negative_coordinates_rows(self, D: torch.Tensor) -> torch.Tensor:
        """The coordinates (S, k) of each row of D (S, d) in an orthonormal basis of the
        negative eigenspace of Hess f(w_s), so their norm is ||P_- D||. Default: the basis from
        one dense eigendecomposition of Hess f(w_s) (problems.diagnostics.negative_basis), made
        on first use and kept; families that know the eigenspace override this."""
        basis = getattr(self, "_negative_basis", None)
        if basis is None:
            basis = self._negative_basis = negative_basis(self.hessian(self.saddle.point))
        if basis.shape[1] == 0:
            return D.new_zeros(D.shape[0], 0)
        return rows_matmul(D, basis)

    # ------------------------------------------------------------------ start point
    def start_point(self, init_seed: int) -> torch.Tensor:
        """Where a run starts (option ``start``): the family's :meth:`initial_point` (default),
        exactly w_s (saddle) or :meth:`minimum_point` (minimum). A new tensor each call."""
        start = self.option_values.get("start", "default")
        if start == "default":
            return self.initial_point(init_seed)
        if start == "saddle":
            return self.saddle.point.clone()
        if start == "minimum":
            return self.minimum_point().to(self.device, self.dtype).clone()
        raise ValueError(f"{self.id}: start={start} has no start point here (resolve_options "
                         f"rewrites it to the family's own spelling)")

    def minimum_point(self) -> torch.Tensor:
        """A global minimum w* with f(w*) = f* (``start=minimum``): the instance attribute
        ``minimizer`` (families with ``minimum_known``)."""
        w = getattr(self, "minimizer", None)
        if w is None:
            raise self._option_error(self.size, f"start=minimum: this instance of {self.family} "
                                                f"knows no global minimum")
        return w

    @abc.abstractmethod
    def initial_point(self, init_seed: int) -> torch.Tensor:
        """The family's own start at or near the saddle (each family says where); deterministic
        in ``init_seed``. Runs start at :meth:`start_point`."""

    def perturbed_origin(self, init_seed: int) -> torch.Tensor:
        """w_0 = delta * zeta, zeta ~ N(0, I_d) from ``init_seed``, delta = option ``init_delta``
        (w_0 = 0 when delta = 0): the start of families whose saddle is the origin."""
        delta = float(self.option_values.get("init_delta", 0.0))
        if not delta:
            return self.tensor(np.zeros(self.dim))
        return self.tensor(delta * rng(init_seed, INIT_STREAM).standard_normal(self.dim))

    # ------------------------------------------------------------------ description
    def describe(self) -> dict[str, Any]:
        """Plain-data summary for listings and records."""
        return {
            "id": self.id,
            "family": self.family,
            "size": self.size,
            "dim": self.dim,
            "n": self.n,
            "batch_size": self.batch_size,
            "eps_g": self.eps_g,
            "eps_h": self.eps_h,
            "budget": self.budget,
            "saddle_value": self.saddle.value,
            "saddle_lambda_min": self.saddle.lambda_min,
            "escape_delta": self.saddle.escape_delta,
            "f_star": self.f_star,
            "cnc_gamma": self.cnc_gamma,
            "per_sample_grad_zero_at_saddle": self.per_sample_grad_zero_at_saddle,
            "certificate_level": self.certificate_level,
            "control": self.control,
            "instance_seed": self.instance_seed,
        }


def format_problem_id(family: str, size: str, options: Mapping[str, Any] | None = None) -> str:
    """``family:size`` or ``family:size[a=1,b=x]`` with options sorted by name."""
    base = f"{family}:{size}"
    if not options:
        return base
    inner = ",".join(f"{k}={_format_value(v)}" for k, v in sorted(options.items()))
    return f"{base}[{inner}]"


def _same_value(a: Any, b: Any) -> bool:
    """Equal and of the same kind (``True`` is not ``1``)."""
    return a == b and isinstance(a, bool) == isinstance(b, bool) and isinstance(a, str) == isinstance(b, str)


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, float) and math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return repr(value)
    return str(value)


def _spell(values: Mapping[str, Any]) -> str:
    """``init=paper`` for {"init": "paper"}; ``the default start`` for {}."""
    return ",".join(f"{k}={_format_value(v)}" for k, v in sorted(values.items())) or "the default start"


def _families() -> dict[str, type[Problem]]:
    from .registry import families

    return families()
