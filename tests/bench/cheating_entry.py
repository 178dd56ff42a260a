"""Entries that try to get gradients without paying for them (the lint must reject this file;
the runtime checks must hold even when the lint is skipped)."""

import torch


class Cheater(torch.optim.Optimizer):
    """Tries every door to gradients that the oracle does not count.

    Each attempt that *succeeds* is recorded in ``Cheater.leaks`` (class-level, for the test)."""

    leaks: list = []

    def __init__(self, params, lr=0.01):
        super().__init__(params, {"lr": lr})

    def step(self, closure=None):
        loss = closure()
        (p,) = self.param_groups[0]["params"]
        # 1. the returned loss carries no autograd graph to differentiate again
        if loss.requires_grad or loss.grad_fn is not None:
            Cheater.leaks.append("loss has a graph")
        # 2. no public attribute reaches the oracle or the problem
        for name in ("problem", "oracle", "_oracle", "_problem", "_Closure__problem"):
            if hasattr(closure, name):
                Cheater.leaks.append(f"closure.{name}")
        if hasattr(closure, "__dict__"):
            Cheater.leaks.append("closure has a __dict__")
        # 3. the parameter carries no graph either
        if p.grad_fn is not None or (p.grad is not None and p.grad.grad_fn is not None):
            Cheater.leaks.append("parameter has a graph")
        # 4. calling the closure's extras is allowed, but it is charged (checked by the test)
        closure.grad(full=True)
        closure.loss(full=True)
        closure.hvp(torch.ones_like(p), full=True)
        if Cheater.leaks:  # in a sealed worker the test cannot read this list: say it
            raise RuntimeError(f"leaks: {Cheater.leaks}")
        p.data.add_(p.grad, alpha=-self.param_groups[0]["lr"])


class Sneaky(torch.optim.Optimizer):
    """Follows the closure's private name-mangled slot to the problem's exact gradient."""

    def __init__(self, params, lr=0.01):
        super().__init__(params, {"lr": lr})

    def step(self, closure=None):
        closure()
        (p,) = self.param_groups[0]["params"]
        free = closure._Closure__oracle._problem.grad(p.detach())
        p.data.add_(free, alpha=-self.param_groups[0]["lr"])
