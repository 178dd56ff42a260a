"""The counted oracle: the only door from an entry to a problem.

An entry is a ``torch.optim.Optimizer`` over one flat parameter ``w``. The runner hands its
``step`` a :class:`Closure` in the torch convention: ``closure()`` draws one minibatch,
writes the stochastic gradient into ``w.grad`` and returns the (detached) minibatch loss.
Entries that need more get it from the same closure, and every answer is charged first:

==========================================  ===============================================
call                                        charge (SPEC.md 0.3, IFO units)
==========================================  ===============================================
``closure()``                               ``batch_size`` sample gradients
``closure(full=True)``                      ``n`` sample gradients (finite sums only)
``closure.grad(at, full=..)``               as above, without touching ``w.grad``
``closure.loss(at, full=..)``               ``batch_size`` or ``n``; counted in fval_calls
``closure.hvp(v, at, full=..)``             ``batch_size`` or ``n``; counted in hvp_calls
==========================================  ===============================================

``same_sample=True`` re-uses the minibatch of the previous stochastic call (NEON's
``grad_B(x+u) - grad_B(x)``), and is charged again. The budget is enforced before anything is
computed: a call that would exceed it raises :class:`BudgetExhausted`, which derives from
``BaseException`` so that an entry's ``except Exception`` cannot swallow it. The closure holds
no reference an entry is meant to follow to the problem; nothing it returns carries an
autograd graph.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from bench.facts import ProblemFacts
from problems.base import Problem

SAMPLE_CHUNK_ELEMENTS = 1 << 20  # randomness is drawn in chunks of at most this many numbers
MAX_SAMPLE_CHUNK = 1024  # and at most this many calls per chunk


class BudgetExhausted(BaseException):
    """The entry asked for more than the run's budget of sample gradients."""


class OracleError(RuntimeError):
    """A request the oracle cannot serve (e.g. a full gradient of a population problem)."""


@dataclasses.dataclass
class Counts:
    """Oracle accounting of one run. ``cost`` (IFO units) is what the leaderboard reports."""

    grad_calls: int = 0
    grad_samples: int = 0
    hvp_calls: int = 0
    hvp_samples: int = 0
    fval_calls: int = 0
    fval_samples: int = 0

    @property
    def cost(self) -> int:
        """Sample gradients + sample HVPs + sample function values (SPEC.md 0.3)."""
        return self.grad_samples + self.hvp_samples + self.fval_samples

    def as_dict(self) -> dict[str, int]:
        return {**dataclasses.asdict(self), "cost": self.cost}


class Oracle:
    """Counts and serves every stochastic quantity of one run (one problem, one run seed).

    Args:
        problem: the instance (in the run's dtype and device).
        param: the flat parameter tensor the entry optimizes (the closure evaluates here).
        run_seed: seeds the per-run sample stream (minibatch indices or noise).
        budget: maximal ``cost`` in sample gradients.
    """

    def __init__(self, problem: Problem, param: torch.Tensor, run_seed: int, budget: int):
        from problems.base import RUN_STREAM, torch_seed

        self._problem = problem
        self._param = param
        self.budget = int(budget)
        self.counts = Counts()
        # A CPU generator whatever the run's device: problems draw on CPU (float64 or indices)
        # and cast, so every profile sees the same sample stream (up to rounding).
        self._generator = torch.Generator(device="cpu")
        self._generator.manual_seed(torch_seed(run_seed, RUN_STREAM))
        self._chunk: torch.Tensor | None = None
        self._pos = 0
        self._chunk_len = 0
        self._last_sample: torch.Tensor | None = None
        self.closure = Closure(self)

    # -- sampling ---------------------------------------------------------------------------
    def _next_sample(self) -> torch.Tensor:
        if self._pos >= self._chunk_len:
            if self._chunk_len == 0:
                row = self._problem.draw(self._generator, 1)[0]
                self._chunk_len = max(1, min(MAX_SAMPLE_CHUNK, SAMPLE_CHUNK_ELEMENTS // max(1, row.numel())))
            self._chunk = self._problem.draw(self._generator, self._chunk_len)
            self._pos = 0
        sample = self._chunk[self._pos]
        self._pos += 1
        self._last_sample = sample
        return sample

    def _sample(self, same_sample: bool) -> torch.Tensor:
        if same_sample:
            if self._last_sample is None:
                raise OracleError("same_sample=True before any stochastic call: there is no "
                                  "previous minibatch to re-use")
            return self._last_sample
        return self._next_sample()

    # -- charging ---------------------------------------------------------------------------
    def _full_size(self) -> int:
        n = self._problem.n
        if n is None:
            raise OracleError(f"problem {self._problem.id} is a population (streaming) oracle and "
                              f"has no full gradient; use minibatch calls (check closure.finite_sum)")
        return n

    def _charge(self, kind: str, samples: int) -> None:
        if self.counts.cost + samples > self.budget:
            raise BudgetExhausted(f"budget of {self.budget} sample gradients reached")
        c = self.counts
        if kind == "grad":
            c.grad_calls += 1
            c.grad_samples += samples
        elif kind == "hvp":
            c.hvp_calls += 1
            c.hvp_samples += samples
        else:
            c.fval_calls += 1
            c.fval_samples += samples

    def _point(self, at: torch.Tensor | None) -> torch.Tensor:
        if at is None:
            return self._param.detach()
        at = torch.as_tensor(at).detach()
        if at.shape != self._param.shape:
            raise OracleError(f"`at` has shape {tuple(at.shape)}, expected {tuple(self._param.shape)}")
        return at.to(self._param.dtype)

    # -- served quantities ------------------------------------------------------------------
    def loss_grad(self, at=None, *, full=False, same_sample=False) -> tuple[torch.Tensor, torch.Tensor]:
        w = self._point(at)
        if full:
            self._charge("grad", self._full_size())
            return self._problem.loss(w).detach(), self._problem.grad(w).detach()
        self._charge("grad", self._problem.batch_size)
        loss, grad = self._problem.sample_loss_grad(w, self._sample(same_sample))
        return loss.detach(), grad.detach()

    def loss(self, at=None, *, full=False, same_sample=False) -> torch.Tensor:
        w = self._point(at)
        if full:
            self._charge("fval", self._full_size())
            return self._problem.loss(w).detach()
        self._charge("fval", self._problem.batch_size)
        return self._problem.sample_loss(w, self._sample(same_sample)).detach()

    def hvp(self, v, at=None, *, full=False, same_sample=False) -> torch.Tensor:
        w = self._point(at)
        v = torch.as_tensor(v).detach().to(w.dtype)
        if full:
            self._charge("hvp", self._full_size())
            return self._problem.hvp(w, v).detach()
        self._charge("hvp", self._problem.batch_size)
        return self._problem.sample_hvp(w, v, self._sample(same_sample)).detach()

    def info(self) -> dict[str, Any]:
        p = self._problem
        return {"dim": p.dim, "n": p.n, "batch_size": p.batch_size}

    @property
    def facts(self) -> ProblemFacts:
        return ProblemFacts.of(self._problem, self.budget)


class Closure:
    """What ``optimizer.step(closure)`` receives (see the module docstring for the charges)."""

    __slots__ = ("__oracle",)

    def __init__(self, oracle: Oracle):
        self.__oracle = oracle

    def __call__(self, full: bool = False) -> torch.Tensor:
        """Minibatch (or full) loss at the current ``w``; writes the gradient into ``w.grad``."""
        o = self.__oracle
        loss, grad = o.loss_grad(full=full)
        o._param.grad = grad
        return loss

    def grad(self, at=None, *, full: bool = False, same_sample: bool = False) -> torch.Tensor:
        """Stochastic (or full) gradient at ``at`` (default: current ``w``); ``w.grad`` untouched."""
        return self.__oracle.loss_grad(at, full=full, same_sample=same_sample)[1]

    def loss_and_grad(self, at=None, *, full: bool = False, same_sample: bool = False):
        """(loss, gradient) at ``at``, charged as one gradient call."""
        return self.__oracle.loss_grad(at, full=full, same_sample=same_sample)

    def loss(self, at=None, *, full: bool = False, same_sample: bool = False) -> torch.Tensor:
        """Stochastic (or full) function value at ``at``; counted in fval_calls."""
        return self.__oracle.loss(at, full=full, same_sample=same_sample)

    def hvp(self, v, at=None, *, full: bool = False, same_sample: bool = False) -> torch.Tensor:
        """Stochastic (or full) Hessian-vector product; counted in hvp_calls."""
        return self.__oracle.hvp(v, at, full=full, same_sample=same_sample)

    @property
    def dim(self) -> int:
        """Number of parameters."""
        return self.__oracle.info()["dim"]

    @property
    def n(self) -> int | None:
        """Finite-sum size (cost of a full gradient), or None for a population oracle."""
        return self.__oracle.info()["n"]

    @property
    def finite_sum(self) -> bool:
        """Whether full-batch calls (``full=True``) are available."""
        return self.__oracle.info()["n"] is not None

    @property
    def batch_size(self) -> int:
        """Samples per stochastic call (the charge of one ``closure()``)."""
        return self.__oracle.info()["batch_size"]

    @property
    def facts(self) -> ProblemFacts:
        """Declared constants of the problem (eps_g, eps_h, smoothness L, ...): see bench.facts."""
        return self.__oracle.facts

    @property
    def budget_left(self) -> int:
        """Sample gradients left before BudgetExhausted."""
        o = self.__oracle
        return o.budget - o.counts.cost

    def __repr__(self) -> str:
        return f"Closure(dim={self.dim}, n={self.n}, batch_size={self.batch_size})"
