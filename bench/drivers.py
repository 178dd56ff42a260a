"""Entry drivers: how the runner advances an entry from one checkpoint to the next.

:class:`SealedEntry` (what every published number uses) runs the entry in a worker process made
by :mod:`bench.sandbox` and serves its oracle calls from this (harness) process over
:mod:`bench.channel`. Everything that decides a number stays here: the problem and its sample
stream (inside :class:`bench.oracle.Oracle`), the counts and budget, the clock, and the copy of
the iterate that the certificate reads. Each request is validated before it is charged: known
op and flags only, ``at`` and ``v`` copied out of shared memory into private tensors first
(exactly ``dim`` numbers of the run's dtype: a matrix cannot be passed as one vector), finite.

:class:`InProcessEntry` runs the entry in this process with the plain closure. It is for
debugging only: an entry there can reach anything, so its records say ``sealed: false`` and the
leaderboard refuses them.

Both return a :class:`Snapshot` per checkpoint: a private copy of the iterate, the entry's step
count (as the entry reports it: informational) and the seconds the segment took.
"""

from __future__ import annotations

import dataclasses
import math
import socket
import time
from typing import Any

import torch

from bench import channel as ch
from bench.oracle import BudgetExhausted, Oracle, OracleError

NONFINITE_POINT = "the entry asked for an oracle value at a non-finite point"
SETUP_TIMEOUT = 120.0  # seconds for a worker to import and build its optimizer
PING_ROUNDS = 50  # empty round trips timed at start: the channel's cost per oracle call


class EntryFailed(Exception):
    """The entry raised, exited, died or broke the protocol; the message says which."""


class SegmentTimeout(Exception):
    """The entry did not reach the next checkpoint within the run's time limit."""


@dataclasses.dataclass
class Snapshot:
    w: torch.Tensor  # the harness's private copy of the iterate
    steps: int  # step() calls so far, as reported by the entry (informational)
    seconds: float  # wall seconds of the segment (entry steps + oracle answers + channel)
    stop_reason: str = ""  # set when the harness ended the run (e.g. a non-finite point)
    budget_spent: bool = False  # a call was refused because it would exceed the budget
    stopped_rows: dict[int, str] = dataclasses.field(default_factory=dict)  # batch row -> why


@dataclasses.dataclass
class RunSetup:
    """What an entry needs to start a run (plain data)."""

    entry_ref: dict[str, Any]
    overrides: dict[str, Any]
    family: str
    w0: torch.Tensor
    optimizer_seed: int
    threads: int = 1
    # rows of one batch with different hyperparameters: overrides per row (None: all ``overrides``)
    row_overrides: list[dict[str, Any]] | None = None


class SealedEntry:
    """The entry in a sealed worker process; oracle calls served from ``oracle``."""

    sealed = True

    def __init__(self, setup: RunSetup, oracle: Oracle, sandbox):
        self.setup, self.oracle, self.sandbox = setup, oracle, sandbox
        self.slots: ch.Slots | None = None
        self.sock: socket.socket | None = None
        self.pid: int | None = None
        self.log = None
        self.buffer = bytearray(ch.MAX_PACKET)
        self.round_trips = 0
        self.oracle_seconds = 0.0
        self.round_trip_seconds = 0.0

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        s, facts = self.setup, self.oracle.facts
        batched = s.w0.dim() == 2
        rows = s.w0.shape[0] if batched else 1
        self.slots = ch.Slots.create(facts.dim, s.w0.dtype, rows, batched=batched)
        self.slots.w.copy_(s.w0)
        self._at = torch.empty_like(self.slots.at)  # private copies of what the worker sends
        self._v = torch.empty_like(self.slots.v)
        self.sock, child = ch.socket_pair()
        self.sock.setblocking(False)
        try:
            self.pid, self.log = self.sandbox.spawn([child.fileno(), self.slots.fd])
        finally:
            child.close()
        self._send(ch.encode(ch.REPLY, ch.S_SETUP, 0, 0.0, 0, payload={
            "mode": "run", "entry": s.entry_ref, "overrides": dict(s.overrides), "family": s.family,
            "row_overrides": s.row_overrides,
            "dtype": ch.dtype_name(s.w0.dtype), "facts": facts.as_dict(),
            "optimizer_seed": int(s.optimizer_seed), "threads": s.threads,
            "rows": rows, "batched": batched, "spin": ch.spin_seconds()}))
        op, _, payload = self._receive(time.perf_counter() + SETUP_TIMEOUT, "building the optimizer")
        if op != ch.OP_READY:
            raise EntryFailed(f"the worker sent op {op} before it was ready")
        self.round_trip_seconds = self._ping(PING_ROUNDS)

    def _ping(self, rounds: int) -> float:
        """Median seconds of an empty round trip (the channel's own cost per oracle call)."""
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            self._send(ch.encode(ch.REPLY, ch.S_PING, 0, 0.0, 0))
            op, _, _ = self._receive(time.perf_counter() + SETUP_TIMEOUT, "answering a ping")
            if op != ch.OP_PONG:
                raise EntryFailed(f"protocol violation: op {op} in answer to a ping")
            times.append(time.perf_counter() - t0)
        return sorted(times)[len(times) // 2]

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.send(ch.encode(ch.REPLY, ch.S_STOP, 0, 0.0, 0))
            except OSError:  # it is killed next anyway
                pass
            self.sock.close()
            self.sock = None
        if self.pid is not None:
            self.sandbox.kill(self.pid)
            self.pid = None
        if self.slots is not None:
            self.slots.close()
            self.slots = None

    # -- one segment -------------------------------------------------------------------------
    def advance(self, target: int, deadline: float) -> Snapshot:
        """Let the entry step until the cost reaches ``target`` (or the budget is spent)."""
        t0 = time.perf_counter()
        self._send(ch.encode(ch.REPLY, ch.S_GO, 0, 0.0, 0))
        stop_reason = ""
        self.budget_spent = False
        self.stopped_rows = {}
        while True:
            op, fields, _ = self._receive(deadline, "stepping")
            if op in ch.CALL_OPS:
                stop_reason = self._serve(op, fields[1], target) or stop_reason
                continue
            if op == ch.OP_SNAPSHOT:
                w = self.slots.w.clone()
                return Snapshot(w, int(fields[3]), time.perf_counter() - t0, stop_reason,
                                self.budget_spent, dict(self.stopped_rows))
            raise EntryFailed(f"protocol violation: op {op} while stepping")

    def _receive(self, deadline: float, doing: str) -> tuple[int, tuple, Any]:
        left = deadline - time.perf_counter()
        if left <= 0:
            raise SegmentTimeout(f"time limit reached while {doing}")
        try:
            fields, payload = ch.receive(self.sock, ch.REQUEST, self.buffer, spin=ch.spin_seconds(),
                                         timeout=left)
        except socket.timeout:
            raise SegmentTimeout(f"time limit reached while {doing}: the entry's step hangs or "
                                 f"is too slow") from None
        except ch.ChannelClosed:
            raise EntryFailed(self._death_message(doing)) from None
        except ch.ProtocolError as exc:
            raise EntryFailed(f"protocol violation while {doing}: {exc}") from None
        op = fields[0]
        if op == ch.OP_FAILED:
            p = payload if isinstance(payload, dict) else {}
            raise EntryFailed(f"{p.get('message', 'the entry failed')}\n{p.get('traceback', '')}".strip())
        return op, fields, payload

    def _death_message(self, doing: str) -> str:
        time.sleep(0.05)  # let the worker's last words reach its log
        tail = self.sandbox.log_tail(self.log) if self.log else ""
        return (f"the entry's worker process ended while {doing} (it exited, was killed, or "
                f"crashed); an entry must return from step() and never exit the process"
                + (f"; its output ends with: {tail[-800:]}" if tail else ""))

    def _reply(self, status: int, flags: int = 0, loss: float = 0.0, payload: Any = None) -> None:
        left = self.oracle.budget - self.oracle.counts.cost
        self._send(ch.encode(ch.REPLY, status, flags, loss, left, payload=payload))

    def _send(self, packet: bytes) -> None:
        try:
            ch.send(self.sock, packet)
        except ch.ChannelClosed as exc:
            raise EntryFailed(f"the entry's worker stopped reading the oracle's answers ({exc})") from None

    def _serve(self, op: int, flags: int, target: int) -> str:
        """Answer one oracle call; returns a stop reason when the run must end."""
        t0 = time.perf_counter()
        self.round_trips += 1
        try:
            if flags & ~ch.KNOWN_FLAGS:
                self._reply(ch.S_REFUSED, payload={"message": f"unknown request flags {flags}"})
                return ""
            at = self._at.copy_(self.slots.at)  # private copies first, then checks
            v = self._v.copy_(self.slots.v) if op == ch.OP_HVP else None
            if not bool(torch.isfinite(at).all()) and self._stop_rows(at):
                self._reply(ch.S_STOP)
                return NONFINITE_POINT
            if v is not None and not bool(torch.isfinite(v).all()):
                self._reply(ch.S_REFUSED, payload={"message": "hvp direction `v` is not finite"})
                return ""
            kw = {"full": bool(flags & ch.F_FULL), "same_sample": bool(flags & ch.F_SAME_SAMPLE)}
            try:
                if op == ch.OP_LOSS_GRAD:
                    loss, out = self.oracle.loss_grad(at, **kw)
                elif op == ch.OP_LOSS:
                    loss, out = self.oracle.loss(at, **kw), None
                else:
                    loss, out = torch.zeros(()), self.oracle.hvp(v, at, **kw)
            except BudgetExhausted:
                self.budget_spent = True
                self._reply(ch.S_BUDGET)
                return ""
            except OracleError as exc:
                self._reply(ch.S_REFUSED, payload={"message": str(exc)})
                return ""
            if out is not None:
                self.slots.out.copy_(out.reshape(self.slots.out.shape))
            due = ch.R_CHECKPOINT if self.oracle.counts.cost >= target or self.stopped_rows else 0
            if self.oracle.batched:
                self.slots.losses.copy_(loss)
                value = 0.0
            else:
                value = float(loss)
            self._reply(ch.S_OK, due, value if math.isfinite(value) else math.nan)
            return ""
        finally:
            self.oracle_seconds += time.perf_counter() - t0

    def _stop_rows(self, at: torch.Tensor) -> bool:
        """Retire the active rows whose ``at`` is not finite; True when no row is left (one
        run: always). The runner classifies each at the next checkpoint (diverged or error)."""
        if not self.oracle.batched:
            return True
        bad = ~torch.isfinite(at).all(dim=1)
        for row in self.oracle.active_rows:
            if bool(bad[row]):
                self.oracle.retire(row)
                self.stopped_rows[row] = NONFINITE_POINT
        return not self.oracle.active_rows


class InProcessEntry:
    """The entry in this process with the plain closure (debugging only: not sealed)."""

    sealed = False

    def __init__(self, setup: RunSetup, oracle_factory, stall_steps: int):
        self.setup = setup
        self._oracle_factory = oracle_factory
        self.stall_steps = stall_steps
        self.round_trips = 0
        self.oracle_seconds = 0.0
        self.round_trip_seconds = 0.0
        self.steps = 0

    def start(self) -> None:
        from bench.entries import EntryChoice, build_optimizer
        from bench.entry_worker import load_entry

        s = self.setup
        if s.row_overrides is not None:
            raise EntryFailed("rows with different hyperparameters run sealed only")
        entry = load_entry(s.entry_ref)
        torch.manual_seed(s.optimizer_seed)
        self.w = s.w0.clone()
        self.optimizer = build_optimizer(EntryChoice(entry, s.overrides), [self.w], s.family)
        self.oracle = self._oracle_factory(self.w)

    def advance(self, target: int, deadline: float) -> Snapshot:
        t0 = time.perf_counter()
        counts, stalled, spent = self.oracle.counts, 0, False
        try:
            while counts.cost < target:
                before = counts.cost
                self.optimizer.step(self.oracle.closure)
                self.steps += 1
                stalled = stalled + 1 if counts.cost == before else 0
                if stalled >= self.stall_steps:
                    raise EntryFailed(f"{self.stall_steps} calls of step() made no oracle call: the "
                                      f"entry must call closure() to get gradients (they are "
                                      f"counted there)")
                if time.perf_counter() > deadline:
                    raise SegmentTimeout("time limit reached while stepping")
        except BudgetExhausted:
            spent = True
        return Snapshot(self.w.detach().clone(), self.steps, time.perf_counter() - t0,
                        budget_spent=spent)

    def close(self) -> None:
        pass
