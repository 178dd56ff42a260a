"""The counted oracle: the only door from an entry to a problem.

An entry is a ``torch.optim.Optimizer`` over one flat parameter ``w``. The runner hands its
``step`` a :class:`Closure` in the torch convention: ``closure()`` draws one minibatch,
writes the stochastic gradient into ``w.grad`` and returns the (detached) minibatch loss.
Entries that need more get it from the same closure, and every answer is charged first:

==========================================  ===============================================
call                                        charge (IFO units: sample gradients)
==========================================  ===============================================
``closure()``                               ``batch_size`` sample gradients
``closure(full=True)``                      ``n`` sample gradients (finite sums only)
``closure.grad(at, full=..)``               as above, without touching ``w.grad``
``closure.loss(at, full=..)``               ``batch_size`` or ``n``; counted in fval_calls
``closure.hvp(v, at, full=..)``             ``batch_size`` or ``n``; counted in hvp_calls
==========================================  ===============================================

In a seed batch (an elementwise entry running S seeds as one (S, d) parameter, see
:class:`Oracle`) every quantity has one row per seed: ``closure()`` returns the S losses and
writes the (S, d) gradient, ``at`` and ``v`` are (S, d), and every active row is charged.

``same_sample=True`` re-uses the minibatch of the previous stochastic call (NEON's
``grad_B(x+u) - grad_B(x)``), and is charged again. The budget is enforced before anything is
computed: a call that would exceed it raises :class:`BudgetExhausted`, which derives from
``BaseException`` so that an entry's ``except Exception`` cannot swallow it. The closure holds
no reference an entry is meant to follow to the problem; nothing it returns carries an
autograd graph.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

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
        """Sample gradients + sample HVPs + sample function values (the cost unit)."""
        return self.grad_samples + self.hvp_samples + self.fval_samples

    def as_dict(self) -> dict[str, int]:
        return {**dataclasses.asdict(self), "cost": self.cost}


class SampleStreams:
    """The sample streams of a run's rows: one CPU generator per run seed, drawn in chunks.

    Row r's k-th stochastic call gets the k-th sample of ``torch_seed(run_seeds[r], RUN_STREAM)``'s
    stream, drawn in chunks of ``K`` calls (``K`` from the size of one sample), whatever the other
    rows are: a seed sees the same samples alone or in a batch. All rows advance
    together (every row gets every call), so the chunks are stacked to ``(S, K, ...)`` and one
    call's samples are one slice."""

    def __init__(self, problem: Problem, run_seeds: Sequence[int]):
        from problems.base import RUN_STREAM, torch_seed

        self._problem = problem
        self._gens = []
        for seed in run_seeds:
            gen = torch.Generator(device="cpu")
            gen.manual_seed(torch_seed(int(seed), RUN_STREAM))
            self._gens.append(gen)
        self._chunk: torch.Tensor | None = None
        self._pos = 0
        self._len = 0
        self.last: torch.Tensor | None = None  # (S, ...) samples of the previous call

    def next(self) -> torch.Tensor:
        """The samples of the next call, one row per run: shape (S, ...)."""
        if self._pos >= self._len:
            if self._len == 0:  # the first draw sizes the chunks (and is part of the stream)
                first = [self._problem.draw(g, 1)[0] for g in self._gens]
                self._len = max(1, min(MAX_SAMPLE_CHUNK, SAMPLE_CHUNK_ELEMENTS // max(1, first[0].numel())))
            draws = [self._problem.draw(g, self._len) for g in self._gens]
            self._chunk = draws[0].unsqueeze(0) if len(draws) == 1 else torch.stack(draws)
            self._pos = 0
        self.last = self._chunk[:, self._pos]
        self._pos += 1
        return self.last


class Oracle:
    """Counts and serves every stochastic quantity of one run, or of a batch of runs.

    Args:
        problem: the instance (in the run's dtype and device).
        param: the flat parameter the entry optimizes: shape (d,) for one run, (S, d) for a
            batch of S runs of one entry on one instance (one row per run seed).
        run_seed: the run seed (one run) or the S run seeds (a batch); each seeds its row's
            sample stream (:class:`SampleStreams`).
        budget: maximal ``cost`` in sample gradients, per run.

    In a batch every call is answered for all rows at once, each row from its own sample, and
    every *active* row pays for it. A row that has finished (certified, diverged, stopped) is
    retired (:meth:`retire`): its counts freeze, its rows of later answers are zeros and cost
    nothing. Active rows therefore always have the same counts (``counts``); a retired row's
    are ``row_counts(r)``. Problems answer batches with their ``*_rows`` methods, whose row r
    does not depend on the other rows, so a seed's answers are the same in any batch.
    """

    def __init__(self, problem: Problem, param: torch.Tensor, run_seed: int | Sequence[int],
                 budget: int):
        self._problem = problem
        self._param = param
        self.batched = param.dim() == 2
        seeds = [int(s) for s in run_seed] if isinstance(run_seed, (list, tuple)) else [int(run_seed)]
        self.rows = len(seeds)
        if self.batched and param.shape[0] != self.rows:
            raise ValueError(f"a batch of {param.shape[0]} rows needs {param.shape[0]} run seeds, "
                             f"got {self.rows}")
        if not self.batched and self.rows != 1:
            raise ValueError("one run (a (d,) parameter) has one run seed")
        self.budget = int(budget)
        self.counts = Counts()
        self._streams = SampleStreams(problem, seeds)
        self._retired: dict[int, Counts] = {}
        self._active: torch.Tensor | None = None  # indices of active rows; None: all
        self.closure = Closure(self)

    # -- rows -------------------------------------------------------------------------------
    def retire(self, row: int) -> None:
        """Stop serving and charging ``row`` (its counts freeze at their current value)."""
        if row in self._retired:
            return
        self._retired[row] = dataclasses.replace(self.counts)
        active = [r for r in range(self.rows) if r not in self._retired]
        self._active = torch.tensor(active, dtype=torch.long)

    def row_counts(self, row: int) -> Counts:
        """The counts of ``row``: frozen at retirement, else the active rows' counts."""
        return self._retired.get(row, self.counts)

    @property
    def active_rows(self) -> list[int]:
        return [r for r in range(self.rows) if r not in self._retired]

    # -- sampling ---------------------------------------------------------------------------
    def _sample(self, same_sample: bool) -> torch.Tensor:
        if same_sample:
            if self._streams.last is None:
                raise OracleError("same_sample=True before any stochastic call: there is no "
                                  "previous minibatch to re-use")
            return self._streams.last
        return self._streams.next()

    # -- charging ---------------------------------------------------------------------------
    def _full_size(self) -> int:
        n = self._problem.n
        if n is None:
            raise OracleError(f"problem {self._problem.id} is a population (streaming) oracle and "
                              f"has no full gradient; use minibatch calls (check closure.finite_sum)")
        return n

    def _charge(self, kind: str, samples: int) -> None:
        if self._active is not None and len(self._active) == 0:
            raise BudgetExhausted("every run of the batch has finished")
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

    # -- batched evaluation -----------------------------------------------------------------
    def _rows(self, fn, W: torch.Tensor, *extra: torch.Tensor, vector: bool = True):
        """``fn(W_active, *extra_active)`` scattered back to all rows (retired rows: zeros)."""
        idx = self._active
        if idx is None:
            return fn(W, *extra)
        out = fn(W[idx], *(x[idx] for x in extra))
        outs = out if isinstance(out, tuple) else (out,)
        full = []
        for o in outs:
            z = torch.zeros((self.rows,) + tuple(o.shape[1:]), dtype=o.dtype, device=o.device)
            z[idx] = o
            full.append(z)
        return tuple(full) if isinstance(out, tuple) else full[0]

    # -- served quantities ------------------------------------------------------------------
    def loss_grad(self, at=None, *, full=False, same_sample=False) -> tuple[torch.Tensor, torch.Tensor]:
        w, p = self._point(at), self._problem
        if full:
            self._charge("grad", self._full_size())
            if self.batched:
                return self._rows(p.loss_grad_rows, w)
            return p.loss(w).detach(), p.grad(w).detach()
        self._charge("grad", p.batch_size)
        sample = self._sample(same_sample)
        if self.batched:
            return self._rows(p.sample_loss_grad_rows, w, sample)
        loss, grad = p.sample_loss_grad(w, sample[0])
        return loss.detach(), grad.detach()

    def loss(self, at=None, *, full=False, same_sample=False) -> torch.Tensor:
        w, p = self._point(at), self._problem
        if full:
            self._charge("fval", self._full_size())
            return self._rows(p.loss_rows, w) if self.batched else p.loss(w).detach()
        self._charge("fval", p.batch_size)
        sample = self._sample(same_sample)
        if self.batched:
            return self._rows(p.sample_loss_rows, w, sample)
        return p.sample_loss(w, sample[0]).detach()

    def hvp(self, v, at=None, *, full=False, same_sample=False) -> torch.Tensor:
        w, p = self._point(at), self._problem
        v = torch.as_tensor(v).detach().to(w.dtype)
        if v.shape != w.shape:
            raise OracleError(f"`v` has shape {tuple(v.shape)}, expected {tuple(w.shape)}")
        if full:
            self._charge("hvp", self._full_size())
            return self._rows(p.hvp_rows, w, v) if self.batched else p.hvp(w, v).detach()
        self._charge("hvp", p.batch_size)
        sample = self._sample(same_sample)
        if self.batched:
            return self._rows(p.sample_hvp_rows, w, v, sample)
        return p.sample_hvp(w, v, sample[0]).detach()

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
