"""Deliberately misbehaving optimizers used by the harness tests (loaded as file.py:Class)."""

import signal
import time

import torch


class Raises(torch.optim.Optimizer):
    """Crashes on its third step."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, {"lr": lr})
        self.t = 0

    def step(self, closure=None):
        closure()
        self.t += 1
        if self.t == 3:
            raise RuntimeError("boom from the entry")


class ReturnsNaN(torch.optim.Optimizer):
    """Writes NaN into the parameters."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, {"lr": lr})

    def step(self, closure=None):
        closure()
        for group in self.param_groups:
            for p in group["params"]:
                p.data.fill_(float("nan"))


class Hangs(torch.optim.Optimizer):
    """Never returns from step (a pure-Python infinite loop)."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, {"lr": lr})

    def step(self, closure=None):
        closure()
        while True:
            time.sleep(0.01)


class HangsIgnoringSignals(torch.optim.Optimizer):
    """Never returns and ignores SIGALRM: only killing the process stops it."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, {"lr": lr})

    def step(self, closure=None):
        closure()
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        while True:
            time.sleep(0.01)


class IgnoresClosure(torch.optim.Optimizer):
    """Never calls the closure (so it can never get a gradient)."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, {"lr": lr})

    def step(self, closure=None):
        return None


class BreaksRowZero(torch.optim.Optimizer):
    """SGD that, in a seed batch, writes NaN into row 0 after ``after`` steps (a seed that
    diverges while the others go on); with ``at_only`` it only asks for a gradient at a
    non-finite point for row 0 and keeps its iterate finite."""

    def __init__(self, params, lr=0.005, after=40, at_only=False):
        super().__init__(params, {"lr": lr, "after": after, "at_only": at_only})
        self.t = 0

    @torch.no_grad()
    def step(self, closure=None):
        (p,) = self.param_groups[0]["params"]
        group = self.param_groups[0]
        self.t += 1
        if self.t > group["after"] and p.dim() == 2:
            if group["at_only"]:
                at = p.clone()
                at[0] = float("nan")
                closure.grad(at)
            else:
                p[0] = float("nan")
        closure()
        p.add_(p.grad, alpha=-group["lr"])


class AveragesRows(torch.optim.Optimizer):
    """A cheat under --batch-seeds: every seed steps along the mean gradient of all rows, i.e.
    uses gradients charged to the other seeds (variance reduction for free)."""

    def __init__(self, params, lr=0.005):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        closure()
        (p,) = self.param_groups[0]["params"]
        g = p.grad.mean(dim=0, keepdim=True) if p.dim() == 2 else p.grad
        p.sub_(self.param_groups[0]["lr"] * g)
