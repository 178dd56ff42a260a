"""The entry side of a sealed run: the only process in which an entry's code executes.

The worker holds the entry's optimizer and its one flat parameter, nothing else: no problem, no
data, no sample stream, no counts, no clock that matters, no results store. Its
:class:`ProxyClosure` has the API of :class:`bench.oracle.Closure` (``closure()``,
``grad/loss/loss_and_grad/hvp(..., at=, full=, same_sample=)``, ``dim``, ``n``,
``finite_sum``, ``batch_size``, ``budget_left``, ``facts``); every call is one round trip to the
harness, which validates, charges and answers it (see :mod:`bench.channel`).

Run mode: build the optimizer, report ready, then step until the harness's reply to an oracle
call says a checkpoint is due; copy the parameter into shared memory, report the step count,
and wait to be told to go on or stop. Describe mode: import the entry and report its metadata.
"""

from __future__ import annotations

import socket
import traceback
from typing import Any

import torch

from bench import channel as ch
from bench.facts import ProblemFacts
from bench.oracle import BudgetExhausted, OracleError

STALL_STEPS = 10_000  # steps in a row without an oracle call: the entry ignores its closure


class RunStopped(BaseException):
    """The harness ended the run (the entry asked for a value at a non-finite point)."""


class _Link:
    """The worker's end of the channel: turns closure calls into round trips."""

    def __init__(self, sock: socket.socket, slots: ch.Slots, param: torch.Tensor, facts: ProblemFacts):
        self.sock, self.slots, self.param, self.facts = sock, slots, param, facts
        self.buffer = bytearray(ch.MAX_PACKET)
        self.budget_left = facts.budget
        self.spin = 0.0
        self.checkpoint_due = False
        self.calls = 0
        # (rows, view w[rows]) of each param group when rows differ in hyperparameters
        self.row_params: tuple[tuple[slice, torch.Tensor], ...] = ()

    def _vector(self, name: str, x: Any) -> torch.Tensor:
        x = torch.as_tensor(x)
        if tuple(x.shape) != tuple(self.param.shape):
            raise OracleError(f"`{name}` has shape {tuple(x.shape)}, expected "
                              f"{tuple(self.param.shape)} (one point of the flat parameter)")
        return x.detach()

    def call(self, op: int, at: Any = None, v: Any = None, *, full: bool = False,
             same_sample: bool = False):
        point = self.param if at is None else self._vector("at", at)
        if point.shape != self.slots.at.shape:
            raise OracleError(f"the parameter has shape {tuple(point.shape)}, the problem's point "
                              f"{tuple(self.slots.at.shape)}: entries must not reshape it")
        self.slots.at.copy_(point)
        if op == ch.OP_HVP:
            self.slots.v.copy_(self._vector("v", v))
        flags = (ch.F_FULL if full else 0) | (ch.F_SAME_SAMPLE if same_sample else 0)
        ch.send(self.sock, ch.encode(ch.REQUEST, op, flags, 0))
        (status, rflags, _, loss, left), payload = ch.receive(self.sock, ch.REPLY, self.buffer,
                                                              spin=self.spin)
        self.budget_left = left
        self.calls += 1
        if rflags & ch.R_CHECKPOINT:
            self.checkpoint_due = True
        if status == ch.S_BUDGET:
            self.checkpoint_due = True
            raise BudgetExhausted(f"budget of {self.facts.budget} sample gradients reached")
        if status == ch.S_REFUSED:
            raise OracleError((payload or {}).get("message", "request refused"))
        if status == ch.S_STOP:
            self.checkpoint_due = True
            raise RunStopped("the harness stopped the run")
        if self.slots.batched:
            loss_t = self.slots.losses.clone().to(self.param.device)
        else:
            loss_t = torch.tensor(loss, dtype=self.param.dtype, device=self.param.device)
        if op == ch.OP_LOSS:
            return loss_t
        out = self.slots.out.clone()
        if out.shape != self.param.shape or out.device != self.param.device:
            out = out.view_as(self.param).to(self.param.device)
        return out if op == ch.OP_HVP else (loss_t, out)


class ProxyClosure:
    """What ``optimizer.step(closure)`` receives in a sealed run (charges: bench.oracle)."""

    __slots__ = ("_link",)

    def __init__(self, link: _Link):
        self._link = link

    def __call__(self, full: bool = False) -> torch.Tensor:
        """Minibatch (or full) loss at the current ``w``; writes the gradient into ``w.grad``."""
        loss, grad = self._link.call(ch.OP_LOSS_GRAD, full=full)
        self._link.param.grad = grad
        for rows, p in self._link.row_params:
            p.grad = grad[rows]
        return loss

    def grad(self, at=None, *, full: bool = False, same_sample: bool = False) -> torch.Tensor:
        """Stochastic (or full) gradient at ``at`` (default: current ``w``); ``w.grad`` untouched."""
        return self._link.call(ch.OP_LOSS_GRAD, at, full=full, same_sample=same_sample)[1]

    def loss_and_grad(self, at=None, *, full: bool = False, same_sample: bool = False):
        """(loss, gradient) at ``at``, charged as one gradient call."""
        return self._link.call(ch.OP_LOSS_GRAD, at, full=full, same_sample=same_sample)

    def loss(self, at=None, *, full: bool = False, same_sample: bool = False) -> torch.Tensor:
        """Stochastic (or full) function value at ``at``; counted in fval_calls."""
        return self._link.call(ch.OP_LOSS, at, full=full, same_sample=same_sample)

    def hvp(self, v, at=None, *, full: bool = False, same_sample: bool = False) -> torch.Tensor:
        """Stochastic (or full) Hessian-vector product; counted in hvp_calls."""
        return self._link.call(ch.OP_HVP, at, v, full=full, same_sample=same_sample)

    @property
    def facts(self) -> ProblemFacts:
        """Declared constants of the problem (eps_g, eps_h, smoothness L, ...): see bench.facts."""
        return self._link.facts

    @property
    def dim(self) -> int:
        return self._link.facts.dim

    @property
    def n(self) -> int | None:
        return self._link.facts.n

    @property
    def finite_sum(self) -> bool:
        return self._link.facts.n is not None

    @property
    def batch_size(self) -> int:
        return self._link.facts.batch_size

    @property
    def budget_left(self) -> int:
        """Sample gradients left before BudgetExhausted (as of the last answered call)."""
        return self._link.budget_left

    def __repr__(self) -> str:
        return f"Closure(dim={self.dim}, n={self.n}, batch_size={self.batch_size})"


# ------------------------------------------------------------------------------- entry loading
def load_entry(ref: dict[str, Any]):
    """The :class:`optimizers.base.Entry` named by a reference made by bench.entries."""
    import dataclasses
    import importlib

    from bench.entries import _as_entry, _import_object
    from optimizers.base import Entry

    if ref["kind"] == "builtin":
        module = importlib.import_module(ref["module"])
        entry = getattr(module, "ENTRY", None)
        if not isinstance(entry, Entry):
            raise TypeError(f"{ref['module']} defines no `ENTRY = Entry(...)`")
        return dataclasses.replace(entry, source_file=ref.get("source_file"))
    if ref["kind"] == "file":  # helpers beside the file import as top-level modules
        import sys

        sys.path.insert(0, ref["target"].partition(".py")[0].rpartition("/")[0])
    return _as_entry(_import_object(ref["target"]), ref["name"])


def _failure(exc: BaseException) -> dict[str, str]:
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return {"type": type(exc).__name__, "message": f"{type(exc).__name__}: {exc}",
            "traceback": "".join(tb[-4:])[-2000:]}


def _plain(x: Any) -> Any:
    """JSON-safe copy: non-finite floats -> None, unknown objects -> their repr."""
    if isinstance(x, float):
        return x if x == x and abs(x) != float("inf") else None
    if isinstance(x, (str, int, bool)) or x is None:
        return x
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return repr(x)


def _send(sock, op: int, value: int = 0, payload: Any = None) -> None:
    ch.send(sock, ch.encode(ch.REQUEST, op, 0, value, payload=payload))


def _describe(sock, setup) -> None:
    entry = load_entry(setup["entry"])
    meta = entry.metadata()
    meta["is_optimizer_class"] = isinstance(entry.optimizer, type)
    _send(sock, ch.OP_READY, payload=_plain(meta))


def _check(sock, setup) -> None:
    from bench.entries import EntryChoice, EntryError, check_choice

    entry = load_entry(setup["entry"])
    problems = []
    for item in setup["checks"]:
        try:
            check_choice(EntryChoice(entry, item["overrides"]), item["family"],
                         allow_unknown=setup["allow_unknown"])
        except EntryError as exc:
            problems.append(str(exc))
    _send(sock, ch.OP_READY, payload={"problems": problems})


def _run(sock, setup) -> None:
    from bench.entries import EntryChoice, build_optimizer, build_row_optimizer

    torch.set_num_threads(int(setup.get("threads", 1)))
    dtype = ch.DTYPES[setup["dtype"]]
    facts = ProblemFacts(**setup["facts"])
    slots = ch.Slots(setup["_slots_fd"], facts.dim, dtype, int(setup.get("rows", 1)),
                     batched=bool(setup.get("batched", False)))
    entry = load_entry(setup["entry"])
    torch.manual_seed(int(setup["optimizer_seed"]))
    w = slots.w.clone()
    allow = bool(setup.get("allow_unknown", False))
    if setup.get("row_overrides"):  # rows differ in hyperparameters: a param group per set of rows
        optimizer, spans = build_row_optimizer(entry, w, setup["family"], setup["row_overrides"],
                                               allow_unknown=allow)
        row_params = tuple(zip(spans, (g["params"][0] for g in optimizer.param_groups)))
    else:
        optimizer = build_optimizer(EntryChoice(entry, setup["overrides"]), [w], setup["family"],
                                    allow_unknown=allow)
        row_params = ()
    link = _Link(sock, slots, w, facts)
    link.row_params = row_params
    link.spin = float(setup.get("spin", 0.0))
    closure = ProxyClosure(link)
    buffer = bytearray(ch.MAX_PACKET)
    _send(sock, ch.OP_READY)
    steps = stalled = 0
    while True:
        (status, *_), _ = ch.receive(sock, ch.REPLY, buffer, spin=link.spin)
        if status == ch.S_PING:
            _send(sock, ch.OP_PONG)
            continue
        if status != ch.S_GO:
            return
        link.checkpoint_due = False
        while not link.checkpoint_due:
            before = link.calls
            try:
                optimizer.step(closure)
            except (BudgetExhausted, RunStopped):
                link.checkpoint_due = True
            steps += 1
            stalled = stalled + 1 if link.calls == before else 0
            if stalled >= STALL_STEPS:
                raise RuntimeError(f"{STALL_STEPS} calls of step() made no oracle call: the entry "
                                   f"must call closure() to get gradients (they are counted there)")
        if w.shape != slots.w.shape:
            raise RuntimeError("the entry changed the shape of its parameter")
        slots.w.copy_(w.detach())
        _send(sock, ch.OP_SNAPSHOT, steps)


def main(chan_fd: int, slots_fd: int | None) -> None:
    """Serve one run or one description on the channel ``chan_fd``, then return."""
    sock = socket.socket(fileno=chan_fd)
    sock.setblocking(False)
    buffer = bytearray(ch.MAX_PACKET)
    try:
        (status, *_), setup = ch.receive(sock, ch.REPLY, buffer)
        if status != ch.S_SETUP or not isinstance(setup, dict):
            return
        setup["_slots_fd"] = slots_fd
        {"describe": _describe, "check": _check, "run": _run}[setup["mode"]](sock, setup)
    except ch.ChannelClosed:
        return
    except BaseException as exc:  # the entry crashed: say so, then end
        try:
            _send(sock, ch.OP_FAILED, payload=_failure(exc))
        except OSError:
            pass
    finally:
        try:
            sock.close()
        except OSError:
            pass
