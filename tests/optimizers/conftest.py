"""Shared helpers for the optimizer tests.

:class:`FakeClosure` is a deterministic quadratic oracle f(w) = 1/2 w^T A w + b^T w with the
SaddleBench closure API; it is for unit tests of update rules only (the conformance suite uses
the real, counted oracle).
"""

import pathlib
import sys

import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


class FakeClosure:
    def __init__(self, w, A, b, n=None, budget=10**9, noise=None, facts=None):
        self.w, self.A, self.b = w, A, b
        # problem facts (closure.facts); default: reddi2d-like thresholds, no declared L / rho
        self._facts = facts or {}
        self.n = n
        self.batch_size = 1
        self.budget_left = budget
        self.calls = 0
        self.noise = noise  # optional list of per-call additive gradient offsets (cycled)
        self._last = torch.zeros_like(b)

    @property
    def finite_sum(self):
        return self.n is not None

    @property
    def dim(self):
        return self.w.numel()

    @property
    def facts(self):
        from bench.facts import ProblemFacts

        kw = dict(dim=self.w.numel(), n=self.n, batch_size=1, budget=self.budget_left,
                  eps_g=5e-3, eps_h=1e-2, smoothness=None, hessian_lipschitz=None)
        kw.update(self._facts)
        return ProblemFacts(**kw)

    def _g(self, at, full=False, same_sample=False):
        at = self.w.detach() if at is None else at
        g = self.A @ at + self.b
        if not full and self.noise is not None:
            if not same_sample:
                self._last = self.noise[self.calls % len(self.noise)]
            g = g + self._last
        self.calls += 1
        return g

    def f(self, at):
        return 0.5 * at @ self.A @ at + self.b @ at

    def __call__(self, full=False):
        self.w.grad = self._g(None, full)
        return self.f(self.w.detach())

    def grad(self, at=None, *, full=False, same_sample=False):
        return self._g(at, full, same_sample)

    def loss_and_grad(self, at=None, *, full=False, same_sample=False):
        at2 = self.w.detach() if at is None else at
        return self.f(at2), self._g(at, full, same_sample)

    def loss(self, at=None, *, full=False, same_sample=False):
        self.calls += 1
        return self.f(self.w.detach() if at is None else at)

    def hvp(self, v, at=None, *, full=False, same_sample=False):
        self.calls += 1
        return self.A @ v
