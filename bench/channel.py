"""The wire between the harness and a sealed entry worker: a socket for messages, shared memory
for tensors.

* **Messages** travel over an ``AF_UNIX`` ``SOCK_SEQPACKET`` socket pair, so each ``send`` is one
  whole packet: a fixed header (:data:`REQUEST` worker -> harness, :data:`REPLY` harness ->
  worker) optionally followed by a UTF-8 JSON payload. A packet longer than
  :data:`MAX_PACKET` is cut and then refused as malformed, so a flooding worker cannot make the
  harness allocate without bound.
* **Tensors** live in one ``memfd`` mapped by both processes, cut into :class:`Slots` of ``d``
  numbers in the run's dtype (``S x d`` for a batch of S seeds): ``at`` (the point of an oracle
  call), ``v`` (the HVP direction), ``out`` (the answer), ``w`` (the iterate at a checkpoint)
  and ``losses`` (a batch's S losses; one run's loss rides in the reply header). The harness copies every slot it
  reads into private memory *before* it validates or uses it, so a worker that keeps writing
  into shared memory cannot change what was checked.

One oracle call is one round trip: the worker writes ``at`` (and ``v``), sends a request
header, and blocks on the reply; the harness charges, computes, writes ``out`` and replies.
"""

from __future__ import annotations

import json
import mmap
import os
import select
import socket
import struct
import time
from typing import Any

import torch

MAX_PACKET = 1 << 20  # bytes; payloads are small JSON documents
SPIN_SECONDS = 2e-4  # how long a waiting side polls before it sleeps (see _recv)
_spin = {"seconds": SPIN_SECONDS if (os.cpu_count() or 1) >= 2 else 0.0}  # one harness


def spin_seconds() -> float:
    """The polling time of this process's channels (0 when cores are shared, see set_spin)."""
    return _spin["seconds"]


def set_spin(busy_processes: int) -> None:
    """Poll only while every process that may be busy has a core of its own: a harness and its
    worker take turns, so ``busy_processes`` pairs need 2 x that many cores. Measured on 2 cores
    with 2 pool workers, polling made a suite 1.4x slower; alone it halves a round trip."""
    _spin["seconds"] = SPIN_SECONDS if 2 * busy_processes <= (os.cpu_count() or 1) else 0.0

# worker -> harness: op, flags, payload length, integer argument (steps, ...)
REQUEST = struct.Struct("<BBxxIq")
# harness -> worker: status, flags, payload length, loss, budget left
REPLY = struct.Struct("<BBxxIdq")

# request ops (worker -> harness)
OP_LOSS_GRAD = 1
OP_LOSS = 2
OP_HVP = 3
OP_SNAPSHOT = 8  # the iterate is in slot ``w``; the integer argument is the step count
OP_FAILED = 9  # payload: {"type", "message"}: the entry raised, or broke the protocol
OP_READY = 10  # payload: describe mode: the entry's metadata; run mode: {}
OP_PONG = 11  # the answer to S_PING
CALL_OPS = (OP_LOSS_GRAD, OP_LOSS, OP_HVP)

# request flags
F_FULL = 1
F_SAME_SAMPLE = 2
KNOWN_FLAGS = F_FULL | F_SAME_SAMPLE

# reply statuses (harness -> worker)
S_OK = 0
S_BUDGET = 1  # the budget is spent: the proxy raises BudgetExhausted
S_REFUSED = 2  # payload: why; the proxy raises OracleError (nothing was charged)
S_STOP = 3  # the run ends now (non-finite point): the proxy raises RunStopped
S_GO = 10  # start or continue stepping
S_PING = 12  # measure the channel: the worker answers OP_PONG at once
S_SETUP = 11  # payload: the run's setup document
# reply flags
R_CHECKPOINT = 1  # the cost reached the next checkpoint: snapshot after this step

SLOT_NAMES = ("at", "v", "out", "w")


class ChannelClosed(Exception):
    """The other side closed the socket or died."""


class ProtocolError(Exception):
    """A malformed packet: wrong size, unknown op or flags, an oversized payload."""


def socket_pair() -> tuple[socket.socket, socket.socket]:
    """A connected SOCK_SEQPACKET pair; each side sets its end non-blocking (see receive)."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


def send(sock: socket.socket, packet: bytes) -> None:
    """Send one packet on a non-blocking socket; a full buffer means the other side stopped
    reading (ChannelClosed)."""
    try:
        sock.send(packet)
    except BlockingIOError:
        raise ChannelClosed("the other side does not read its messages") from None
    except (BrokenPipeError, ConnectionResetError) as exc:
        raise ChannelClosed(str(exc)) from None


def encode(header: struct.Struct, *fields: Any, payload: Any = None) -> bytes:
    body = b"" if payload is None else json.dumps(payload, allow_nan=False).encode()
    if len(body) + header.size > MAX_PACKET:
        body = json.dumps({"type": "ProtocolError", "message": "payload too long"}).encode()
    return header.pack(fields[0], fields[1], len(body), *fields[2:]) + body


def _recv(sock: socket.socket, buffer: bytearray, spin: float, timeout: float | None) -> int:
    """recv_into on a non-blocking socket: poll for up to ``spin`` seconds, then sleep in
    select() for at most ``timeout`` seconds (None: no limit). The other side usually answers
    within tens of microseconds, and waking a sleeping process costs more than that on a
    virtual machine, so a short spin halves the cost of a round trip (docs/methodology.md)."""
    end = time.perf_counter() + spin
    while True:
        try:
            return sock.recv_into(buffer, MAX_PACKET)
        except BlockingIOError:
            pass
        if time.perf_counter() >= end:
            break
        os.sched_yield()  # let a runnable process on this core go first (pools share cores)
    if not select.select([sock], [], [], timeout)[0]:
        raise socket.timeout("timed out")
    return sock.recv_into(buffer, MAX_PACKET)


def receive(sock: socket.socket, header: struct.Struct, buffer: bytearray, *, spin: float = 0.0,
            timeout: float | None = None) -> tuple[tuple, Any]:
    """One packet: (header fields, decoded JSON payload or None) from a non-blocking socket.
    Raises ChannelClosed, ProtocolError or ``socket.timeout``."""
    try:
        size = _recv(sock, buffer, spin, timeout)
    except (ConnectionResetError, BrokenPipeError) as exc:
        raise ChannelClosed(str(exc)) from None
    if size == 0:
        raise ChannelClosed("end of stream")
    if size < header.size:
        raise ProtocolError(f"packet of {size} bytes, shorter than the {header.size}-byte header")
    fields = header.unpack_from(buffer)
    length = fields[2]
    if header.size + length != size:
        raise ProtocolError(f"packet of {size} bytes announces a {length}-byte payload")
    payload = None
    if length:
        try:
            payload = json.loads(bytes(buffer[header.size:size]))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProtocolError(f"payload is not JSON: {exc}") from None
    return fields, payload


class Slots:
    """The shared-memory tensors of one run: ``at``, ``v``, ``out`` and ``w`` of ``rows x dim``
    numbers of ``dtype`` each, plus ``losses`` (``rows`` numbers: a batch's per-row losses).
    One run (``batched=False``) sees flat ``(dim,)`` views; a batch of seeds ``(rows, dim)``."""

    def __init__(self, fd: int, dim: int, dtype: torch.dtype, rows: int = 1, *,
                 batched: bool = False, create: bool = False):
        self.fd, self.dim, self.dtype, self.rows, self.batched = fd, int(dim), dtype, int(rows), batched
        if not batched and self.rows != 1:
            raise ValueError("an unbatched run has one row")
        itemsize = torch.empty((), dtype=dtype).element_size()
        self.slot_bytes = self.rows * self.dim * itemsize
        size = max(1, self.slot_bytes * len(SLOT_NAMES) + self.rows * itemsize)
        if create:
            os.ftruncate(fd, size)
        self._mmap = mmap.mmap(fd, size)
        count = self.rows * self.dim
        for i, name in enumerate(SLOT_NAMES):
            view = torch.frombuffer(self._mmap, dtype=dtype, count=count, offset=i * self.slot_bytes)
            setattr(self, name, view.view(self.rows, self.dim) if batched else view)
        self.losses = torch.frombuffer(self._mmap, dtype=dtype, count=self.rows,
                                       offset=len(SLOT_NAMES) * self.slot_bytes)

    @classmethod
    def create(cls, dim: int, dtype: torch.dtype, rows: int = 1, *, batched: bool = False) -> "Slots":
        fd = os.memfd_create("saddlebench-slots", 0)
        return cls(fd, dim, dtype, rows, batched=batched, create=True)

    def close(self) -> None:
        for name in SLOT_NAMES + ("losses",):
            setattr(self, name, None)
        try:
            self._mmap.close()
        except BufferError:  # a tensor view is still alive somewhere; the mapping goes with it
            pass
        try:
            os.close(self.fd)
        except OSError:
            pass


DTYPES = {"float64": torch.float64, "float32": torch.float32}


def dtype_name(dtype: torch.dtype) -> str:
    return {v: k for k, v in DTYPES.items()}[dtype]
