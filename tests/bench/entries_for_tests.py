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
