"""Uncounted measurements at checkpoints: f, ||grad f||, the SOSP certificate, escape, divergence,
and the diagnostics the run asked for (problems.diagnostics: extra trajectory columns).

One :class:`Monitor` per run remembers its trajectory, escape and certification. For a batch of
S runs, :func:`observe_rows` evaluates f and ||grad f|| of all rows in one batched call of the
float64 certificate problem (the gradient-norm gate), and runs eigen-solves only for the rows
that pass the gate or are due a logged lambda_min. Row r's numbers do not depend on the other
rows (problems' ``*_rows`` contract), so a run's record is the same in any batch. Diagnostics
are evaluated after the timed part (they count neither as the entry's seconds nor as the
certificate's) and decide nothing: no event depends on them.
"""

from __future__ import annotations

import math
import time
from typing import Sequence

import torch

from bench.certificate import Certifier, LanczosResult, dense_eigen

LAMBDA_TRAJECTORY_GROWTH = 1.0  # lambda_min is logged when the cost doubled since the last log


class Monitor:
    """Measurements of one run at its checkpoints (the harness's own copy of the iterate)."""

    def __init__(self, problem, certifier: Certifier, diagnostics: Sequence[str] = ()):
        self.problem = problem
        self.certifier = certifier
        self.diagnostics = tuple(diagnostics)  # names (problems.diagnostics), checked by RunTask
        self.traj: dict[str, list] = {"cost": [], "seconds": [], "f": [], "grad_norm": [], "lambda_min": []}
        self.traj.update({name: [] for name in self.diagnostics})
        self.last_diagnostics: dict[str, float] = {}
        self.escape: tuple[int, float] | None = None
        self.escape_bracket: tuple[int, int] | None = None
        self.certified_at: tuple[int, int, int, float] | None = None
        self.certified_bracket: tuple[int, int] | None = None
        self.last_cert = None
        self.last_w: torch.Tensor | None = None
        self.last_f = math.nan
        self.cert_seconds = 0.0
        self._last_lambda_cost = -1
        self.previous_cost = 0

    def wants_lambda(self, cost: int, final: bool = False) -> bool:
        return final or self._last_lambda_cost < 0 or \
            cost >= (1 + LAMBDA_TRAJECTORY_GROWTH) * max(self._last_lambda_cost, 0)

    def usable(self, w64: torch.Tensor) -> bool:
        """Finite and inside the divergence radius (else the run has diverged)."""
        return bool(torch.isfinite(w64).all()) and float(w64.norm()) <= self.problem.divergence_radius

    def observe(self, w: torch.Tensor, counts, seconds: float, *, final: bool = False,
                f: float | None = None, grad_norm: float | None = None, usable: bool | None = None,
                eigen=None, diagnostics: dict[str, float] | None = None) -> str | None:
        """Measure at w; returns the event first seen here: "diverged", "certified" (the first
        certification; it wins over an escape seen at the same checkpoint), "escaped" (the first
        escape, not certified) or None. Which events end the run is the runner's stop rule
        (bench.runner.STOP_RULES). An event first seen here happened in (cost at the previous
        checkpoint, cost]. ``f``, ``grad_norm``, ``usable`` and ``eigen`` may come precomputed
        (a batch's, :func:`observe_rows`), and so may ``diagnostics`` (name -> value)."""
        t0 = time.perf_counter()
        p = self.problem
        w64 = w.detach().to(p.device, p.dtype)
        self.last_w = w64
        if usable is None:
            usable = self.usable(w64)
        if f is None:
            f = float(p.loss(w64)) if usable else math.nan
        cost = counts.cost
        cert = None
        if usable and math.isfinite(f):
            cert = self.certifier.check(w64, always_eigen=self.wants_lambda(cost, final),
                                        grad_norm=grad_norm, eigen=eigen, f=f)
        self.last_f = f
        self.last_cert = cert
        if cert is not None and cert.lambda_min is not None:
            self._last_lambda_cost = cost
        self.traj["cost"].append(cost)
        self.traj["seconds"].append(seconds)
        self.traj["f"].append(f)
        self.traj["grad_norm"].append(cert.grad_norm if cert else math.nan)
        self.traj["lambda_min"].append(cert.lambda_min if cert else None)
        self.cert_seconds += time.perf_counter() - t0
        if self.diagnostics:
            if diagnostics is None:
                diagnostics = diagnose(p, [self.diagnostics], w64[None], [usable])[0]
            self.last_diagnostics = diagnostics
            for name in self.diagnostics:
                self.traj[name].append(diagnostics[name])
        previous, self.previous_cost = self.previous_cost, cost
        if cert is None or not math.isfinite(cert.grad_norm):
            return "diverged"
        event = None
        if self.escape is None and p.escaped(w64, f):
            self.escape = (cost, seconds)
            self.escape_bracket = (previous, cost)
            event = "escaped"
        if cert.certified and self.certified_at is None:
            self.certified_at = (cost, counts.grad_calls, counts.hvp_calls, seconds)
            self.certified_bracket = (previous, cost)
            event = "certified"
        return event


def observe_rows(monitors: Sequence[Monitor], W: torch.Tensor, rows: Sequence[int], counts,
                 seconds: float) -> dict[int, str]:
    """Observe the batch rows ``rows`` of W (S, d); returns row -> its event (Monitor.observe).

    f and grad f of every usable row come from one batched call (``loss_grad_rows``), so the
    gradient-norm gate (and the level, where the problem sets one) is one computation for the
    batch; eigen-solves run per row, only where the certifier needs them (gate passed, or a
    lambda_min log is due)."""
    if not rows:
        return {}
    t0 = time.perf_counter()
    first = monitors[rows[0]]
    p = first.problem
    W64 = W.detach().to(p.device, p.dtype)[rows]
    ok = torch.isfinite(W64).all(dim=1)
    ok &= torch.linalg.vector_norm(torch.where(ok[:, None], W64, 0.0), dim=1) <= p.divergence_radius
    usable = ok.tolist()
    idx = [k for k, u in enumerate(usable) if u]
    f = [math.nan] * len(rows)
    g = [math.nan] * len(rows)
    if idx:
        fs, gs = p.loss_grad_rows(W64[idx])
        norms = torch.linalg.vector_norm(gs, dim=1).tolist()
        for j, k in enumerate(idx):
            f[k], g[k] = float(fs[j]), norms[j]
    eigen = {}
    if first.certifier.method == "dense":
        eigen = _dense_checks(p, [monitors[r] for r in rows], W64, idx, f, g, counts.cost)
    share = (time.perf_counter() - t0) / len(rows)
    diagnostics = diagnose(p, [monitors[r].diagnostics for r in rows], W64, usable)
    events = {}
    for k, r in enumerate(rows):
        m = monitors[r]
        m.cert_seconds += share
        event = m.observe(W64[k], counts, seconds, f=f[k], grad_norm=g[k], usable=usable[k],
                          eigen=eigen.get(k), diagnostics=diagnostics[k])
        if event:
            events[r] = event
    return events


def diagnose(p, names: Sequence[Sequence[str]], W64: torch.Tensor,
             usable: Sequence[bool]) -> list[dict[str, float]]:
    """Row k's diagnostics ``names[k]`` at W64[k], NaN where the row is not usable (diverged).
    Each diagnostic is one batched call over the usable rows that ask for it; a row's values
    come from its own row only (problems.diagnostics)."""
    out = [{name: math.nan for name in row_names} for row_names in names]
    for name in sorted({n for row_names in names for n in row_names}):
        ks = [k for k, row_names in enumerate(names) if name in row_names and usable[k]]
        if ks:
            values = p.diagnose_rows((name,), W64[ks])[name].tolist()
            for k, v in zip(ks, values):
                out[k][name] = float(v)
    return out


def _dense_checks(p, monitors, W64, idx, f, g, cost) -> dict:
    """Eigen results for the rows (positions ``idx``) that need one: a row due a lambda_min log
    gets the exact batched eigvalsh; a row that only passed the gate (gradient norm and level) is
    first probed with its previous eigenvector v (one batched HVP): v^T H v < -eps_h proves
    negative curvature, so no eigvalsh is needed (bench.certificate, dense route). The rest: one
    batched eigvalsh."""
    need = [k for k in idx if math.isfinite(f[k]) and math.isfinite(g[k]) and (
        monitors[k].certifier.passes_gate(g[k], f[k]) or monitors[k].wants_lambda(cost))]
    probe = [k for k in need if not monitors[k].wants_lambda(cost)
             and monitors[k].certifier.warm_vector is not None]
    out = {}
    if probe:
        V = torch.stack([monitors[k].certifier.warm_vector for k in probe])
        quotients = (V * p.hvp_rows(W64[probe], V)).sum(dim=1).tolist()
        for k, v, q in zip(probe, V, quotients):
            if q < -monitors[k].certifier.eps_h:
                out[k] = LanczosResult(q, v, 0.0, 1, "negative")
    rest = [k for k in need if k not in out]
    if rest:
        out.update(zip(rest, dense_eigen(p, W64[rest])))
    return out
