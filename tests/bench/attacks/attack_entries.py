"""Adversarial entries: each tries one route to uncounted gradients, a faked certificate, clock
or store, as a cheating submitter would (the routes a review found open before runs were
sealed). They run in a sealed worker with the lint bypassed, so only the process boundary
stands in their way.

Convention: an attack whose trick finds nothing raises ``RuntimeError("attack failed: ...")``;
one that reaches the harness raises ``RuntimeError("ATTACK SUCCEEDED: ...")`` (run in-process,
most of them do: that is how their test is known to be able to fail).
"""

import builtins
import importlib
import os
import signal
import sys
import threading
import time

import torch

HARNESS_TYPES = ("Oracle", "Counts", "Certifier", "ResultsStore", "Monitor", "SampleStreams")
MAX_NODES = 20_000


def _is_harness(obj):
    try:
        if type(obj).__name__ in HARNESS_TYPES:
            return True
        return isinstance(getattr(type(obj), "sample_loss_grad", None), type(_is_harness)) \
            and hasattr(obj, "saddle")  # a Problem
    except Exception:
        return False


def _children(obj):
    if isinstance(obj, dict):
        yield from obj.values()
    elif isinstance(obj, (list, tuple, set, frozenset)):
        yield from obj
    else:
        d = getattr(obj, "__dict__", None)
        if isinstance(d, dict):
            yield from d.values()
        for klass in type(obj).__mro__:
            for slot in getattr(klass, "__slots__", ()) or ():
                for name in (slot, f"_{klass.__name__}{slot}" if slot.startswith("__") else slot):
                    try:
                        yield object.__getattribute__(obj, name)
                    except (AttributeError, TypeError):
                        pass


def find_harness(roots):
    """Breadth-first search of the object graph from ``roots`` for a harness object."""
    seen, queue = set(), list(roots)
    while queue and len(seen) < MAX_NODES:
        obj = queue.pop(0)
        if id(obj) in seen or isinstance(obj, (str, bytes, int, float, torch.Tensor)):
            continue
        seen.add(id(obj))
        if _is_harness(obj):
            return obj
        try:
            queue.extend(_children(obj))
        except Exception:
            pass
    return None


def verdict(found, route):
    if found is not None:
        raise RuntimeError(f"ATTACK SUCCEEDED: {route} reached {type(found).__name__}")
    raise RuntimeError(f"attack failed: {route} found nothing of the harness")


class _Attack(torch.optim.Optimizer):
    def __init__(self, params, lr=0.05, target="", harness_pid=0):
        super().__init__(params, {"lr": lr})
        self.target, self.harness_pid = target, int(harness_pid)

    @property
    def p(self):
        return self.param_groups[0]["params"][0]

    def sgd_step(self, closure):
        closure()
        with torch.no_grad():
            self.p.add_(self.p.grad, alpha=-self.param_groups[0]["lr"])


# -- reaching the oracle or the problem through the object model ----------------------------
class SlotDescriptor(_Attack):
    def step(self, closure):
        closure()
        roots = []
        for klass in type(closure).__mro__:
            for value in vars(klass).values():
                if hasattr(value, "__get__"):
                    try:
                        roots.append(value.__get__(closure, type(closure)))
                    except Exception:
                        pass
        verdict(find_harness(roots), "slot descriptors of type(closure)")


class ObjectGetattribute(_Attack):
    def step(self, closure):
        closure()
        roots = []
        for name in ["_Closure" + "__or" + "acle", "_link", "__oracle", "_oracle", "oracle"]:
            try:
                roots.append(object.__getattribute__(closure, name))
            except AttributeError:
                pass
        verdict(find_harness(roots), "object.__getattribute__ with computed names")


class GetattrAlias(_Attack):
    def step(self, closure):
        closure()
        g = getattr
        roots = [g(closure, n, None) for n in dir(closure)]
        verdict(find_harness(roots), "a getattr alias over dir(closure)")


class GcScan(_Attack):
    def step(self, closure):
        closure()
        gc = importlib.import_module("".join(["g", "c"]))
        found = next((o for o in gc.get_objects() if _is_harness(o)), None)
        verdict(found, "gc.get_objects()")


def make_gc_scanner(params, lr=0.05):
    """A factory instead of a class (a lint evasion of the past)."""
    return GcScan(params, lr)


# -- sys.modules / importlib -----------------------------------------------------------------
class PatchCharge(_Attack):
    """Patches the oracle's charge and the cost in every loaded module, then runs honest SGD:
    the record must still show every call."""

    def step(self, closure):
        for module in list(sys.modules.values()):
            oracle = getattr(module, "Oracle", None)
            if isinstance(oracle, type) and hasattr(oracle, "_charge"):
                oracle._charge = lambda *a, **k: None
            counts = getattr(module, "Counts", None)
            if isinstance(counts, type):
                counts.cost = property(lambda self: 0)
        self.sgd_step(closure)


class ImportHarness(_Attack):
    def step(self, closure):
        closure()
        roots = []
        for name in ("bench." + "runner", "bench." + "oracle", "bench." + "executors"):
            try:
                roots.append(vars(importlib.import_module(name)))
            except Exception:
                pass
        verdict(find_harness(roots), "importlib.import_module(computed harness modules)")


# -- frames --------------------------------------------------------------------------------
def _frames_locals(frame):
    out = []
    while frame is not None:
        out.append(dict(frame.f_locals))
        frame = frame.f_back
    return out


class CurrentFrames(_Attack):
    def step(self, closure):
        closure()
        roots = []
        for frame in sys._current_frames().values():
            roots.extend(_frames_locals(frame))
        verdict(find_harness(roots), "sys._current_frames()")


class TracebackFrames(_Attack):
    def step(self, closure):
        closure()
        try:
            closure.grad(full=True)  # refused on a population problem: an OracleError
        except Exception as exc:
            roots, tb = [], exc.__traceback__
            while tb is not None:
                roots.append(dict(tb.tb_frame.f_locals))
                tb = tb.tb_next
            verdict(find_harness(roots), "the traceback of a provoked OracleError")
        raise RuntimeError("attack failed: no error to provoke")


class SignalFrame(_Attack):
    def step(self, closure):
        captured = []

        def handler(signum, frame):
            if len(captured) < 2000:
                captured.extend(_frames_locals(frame))

        old = signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 1e-4, 1e-4)
        try:
            for _ in range(50):
                closure()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        verdict(find_harness(captured), "frames caught by a signal handler")


class SetProfile(_Attack):
    def step(self, closure):
        captured = []

        def hook(frame, event, arg):
            if event == "call":
                captured.append(dict(frame.f_locals))

        sys.setprofile(hook)
        try:
            closure()
        finally:
            sys.setprofile(None)
        verdict(find_harness(captured), "sys.setprofile during a closure call")


# -- monkeypatching torch in the entry's process ---------------------------------------------
class PatchEigh(_Attack):
    """Makes every eigen-solve and norm in its process say "positive curvature, zero gradient",
    then sits at the start: the harness's certificate must not be fooled."""

    def step(self, closure):
        fake = lambda *a, **k: torch.ones(2, dtype=torch.float64)  # noqa: E731
        torch.linalg.eigh = lambda A, *a, **k: (torch.ones(A.shape[-1], dtype=A.dtype),
                                                torch.eye(A.shape[-1], dtype=A.dtype))
        torch.linalg.eigvalsh = fake
        torch.Tensor.norm = lambda self, *a, **k: torch.zeros((), dtype=self.dtype)
        closure()


class PatchRandom(_Attack):
    """Replaces torch's random draws with zeros (a noise-free oracle, if the sample stream were
    drawn here), then runs honest SGD: counts must equal honest SGD's."""

    def step(self, closure):
        torch.randn = lambda *a, **k: torch.zeros(*a, **{k_: v for k_, v in k.items()
                                                         if k_ in ("dtype", "device")})
        torch.Tensor.normal_ = lambda self, *a, **k: self.zero_()
        torch.randint = lambda low, high=None, size=(), **k: torch.zeros(size, dtype=torch.long)
        self.sgd_step(closure)


class PatchGetitem(_Attack):
    """Hooks Tensor.__getitem__ to capture the oracle's sample rows; runs honest SGD."""

    captured = []

    def step(self, closure):
        original = torch.Tensor.__getitem__

        def spy(self_, idx):
            out = original(self_, idx)
            PatchGetitem.captured.append(out)
            return out

        torch.Tensor.__getitem__ = spy
        self.sgd_step(closure)


class _Spy(torch.Tensor):
    seen = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        _Spy.seen.append(getattr(func, "__module__", "") or "")
        for frame_locals in _frames_locals(sys._getframe(1)):
            if find_harness([frame_locals]) is not None:
                _Spy.seen.append("HARNESS")
        return super().__torch_function__(func, types, args, kwargs or {})


class TorchFunctionAt(_Attack):
    def step(self, closure):
        closure()
        closure.grad(at=self.p.detach().clone().as_subclass(_Spy))
        if "HARNESS" in _Spy.seen:
            raise RuntimeError("ATTACK SUCCEEDED: a __torch_function__ subclass saw harness frames")
        raise RuntimeError("attack failed: the subclass never reached the harness")


# -- falsifying what is certified ------------------------------------------------------------
class FakeClass(_Attack):
    """Turns its parameter into a subclass that claims a zero norm, then sits at the start."""

    def step(self, closure):
        class Fake(torch.Tensor):
            def norm(self, *a, **k):
                return torch.zeros(())

        closure()
        self.p.__class__ = Fake


class ReshapeParam(_Attack):
    """Makes its parameter 16 times longer so one charged call would answer 16 points."""

    def step(self, closure):
        self.p.data = self.p.data.repeat(16)
        closure()


class MatrixHVP(_Attack):
    """Asks for d HVPs at once as one charged call."""

    def step(self, closure):
        d = self.p.numel()
        closure.hvp(torch.eye(d, dtype=self.p.dtype))


class FlipAtThread(_Attack):
    """A thread scribbles NaN and huge values into the shared memory while the harness reads it."""

    def step(self, closure):
        if not hasattr(self, "_thread"):
            slots = object.__getattribute__(closure, "_link").slots

            def scribble():
                while True:
                    slots.at.fill_(float("nan"))
                    slots.at.fill_(1e30)
                    slots.w.fill_(float("nan"))

            self._thread = threading.Thread(target=scribble, daemon=True)
            self._thread.start()
        self.sgd_step(closure)


# -- the store, the clock, the process ----------------------------------------------------------
class ForgeStore(_Attack):
    def step(self, closure):
        closure()
        forged = '{"entry": "forged", "status": "certified", "calls_to_sosp": 1}\n'
        try:
            with open(self.target, "a") as fh:
                fh.write(forged)
        except OSError as exc:
            raise RuntimeError(f"attack failed: cannot write the store ({exc})") from None
        raise RuntimeError("ATTACK SUCCEEDED: a forged line was written into the store")


class PatchClock(_Attack):
    """Stops every clock of its process and sleeps 20 ms per step."""

    def step(self, closure):
        for name in ("perf_counter", "monotonic", "time", "process_time"):
            setattr(time, name, lambda: 0.0)
        time.sleep(0.02)
        self.sgd_step(closure)


class RaisesSystemExit(_Attack):
    def step(self, closure):
        closure()
        raise SystemExit(0)


class CallsOsExit(_Attack):
    def step(self, closure):
        closure()
        os._exit(0)


class Flood(_Attack):
    def step(self, closure):
        closure()
        sock = object.__getattribute__(closure, "_link").sock
        for _ in range(100):
            sock.send(b"\xff" * 4096)
        closure()


class FloodOutput(_Attack):
    def step(self, closure):
        closure()
        chunk = "x" * (1 << 20)
        for _ in range(64):  # 64 MiB, beyond the worker's file-size limit
            sys.stderr.write(chunk)
        sys.stderr.flush()
        raise RuntimeError("ATTACK SUCCEEDED: wrote 64 MiB of output")


class SignalHarness(_Attack):
    def step(self, closure):
        closure()
        try:
            os.kill(self.harness_pid, signal.SIGUSR1)
        except OSError as exc:
            raise RuntimeError(f"attack failed: cannot signal the harness ({exc})") from None
        raise RuntimeError("ATTACK SUCCEEDED: signalled the harness")


class ReadHarnessMemory(_Attack):
    def step(self, closure):
        closure()
        for name in ("mem", "environ", "maps"):
            try:
                with open(f"/proc/{self.harness_pid}/{name}", "rb") as fh:
                    fh.read(64)
            except OSError:
                continue
            raise RuntimeError(f"ATTACK SUCCEEDED: read /proc/<harness>/{name}")
        raise RuntimeError("attack failed: the harness's /proc files are closed")


# -- module-level code (runs at import, before any lint in the old design) -------------------
builtins.__dict__.setdefault("saddlebench_module_level_runs", []).append(os.getpid())
for _module in list(sys.modules.values()):
    _oracle = getattr(_module, "Oracle", None)
    if isinstance(_oracle, type) and hasattr(_oracle, "_charge"):
        _oracle._charge = lambda *a, **k: None
