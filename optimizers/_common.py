"""Helpers shared by the saddle-escaping entries (not an entry: the leading underscore keeps
discovery away).

* hyperparameter validation that raises ``ValueError("Invalid <name>: ...")``;
* :func:`generator`: an entry's private CPU ``torch.Generator`` whose state lives in
  ``optimizer.state`` so that ``state_dict()``/``load_state_dict()`` resume the noise stream
  exactly. It is seeded on first use from torch's global RNG (which the runner seeds from the
  run seed), so a seeded run is deterministic;
* :func:`randn_like`, :func:`uniform`, :func:`sphere`, :func:`ball`: entry noise drawn on the CPU
  in float64 from that generator and only then cast to the parameter's dtype and device, so the
  same seeds give the same draws on every profile (float32 runs see them rounded, nothing else);
* :func:`fact`: a problem constant resolved from an explicit hyperparameter or ``closure.facts``;
  :func:`power_norm`: an estimate of ||H|| (smoothness L) from counted Hessian-vector products
  or gradient differences, for entries whose problem declares no smoothness;
* :func:`single_param`: entries that use the closure's extra calls (full gradients, HVPs,
  ``same_sample``) work on the ONE flat parameter tensor the oracle evaluates;
* :func:`lanczos_min`: smallest eigenpair through counted HVPs (Lanczos, full re-orthogonalization).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch


# -- validation -------------------------------------------------------------------------------
def check_positive(name: str, value: Any, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0 \
            or not math.isfinite(value):
        raise ValueError(f"Invalid {name}: {value!r} (must be a finite number > 0)")


def check_nonneg(name: str, value: Any, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0 \
            or not math.isfinite(value):
        raise ValueError(f"Invalid {name}: {value!r} (must be a finite number >= 0)")


def check_interval(name: str, value: Any, lo: float, hi: float, *, lo_open=False, hi_open=True) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > lo if lo_open else value >= lo) and (value < hi if hi_open else value <= hi)
    if not ok:
        lb, rb = ("(" if lo_open else "["), (")" if hi_open else "]")
        raise ValueError(f"Invalid {name}: {value!r} (must lie in {lb}{lo}, {hi}{rb})")


def check_int(name: str, value: Any, minimum: int = 1, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"Invalid {name}: {value!r} (must be an integer >= {minimum})")


def check_choice(name: str, value: Any, choices) -> None:
    if value not in choices:
        raise ValueError(f"Invalid {name}: {value!r} (must be one of {list(choices)})")


# -- parameters -------------------------------------------------------------------------------
def single_param(opt: torch.optim.Optimizer) -> tuple[torch.Tensor, dict]:
    """The one parameter tensor (and its group) of an entry that drives the closure's extra calls."""
    params = [(p, g) for g in opt.param_groups for p in g["params"]]
    if len(params) != 1:
        raise ValueError(f"Invalid params: {type(opt).__name__} uses full gradients / HVPs of the "
                         f"closure and needs exactly one (flat) parameter tensor, got {len(params)}")
    return params[0]


def require_single_param(opt: torch.optim.Optimizer) -> None:
    single_param(opt)


# -- randomness -------------------------------------------------------------------------------
_SNAPSHOT = "_rng_snapshot"


def generator(opt: torch.optim.Optimizer, state: dict, device: torch.device | None = None) -> torch.Generator:
    """The entry's CPU generator, restored from ``state["rng_state"]`` after a load_state_dict.

    Call :func:`save_rng` after drawing. The first call seeds it from the global torch RNG.
    ``device`` is accepted for compatibility and ignored: the generator always lives on the CPU
    (draw with :func:`randn_like` / :func:`uniform` / :func:`sphere` / :func:`ball`, which cast to
    the parameter's device), so the noise does not depend on where the run executes.
    """
    gen = getattr(opt, "_rng_gen", None)
    saved = state.get("rng_state")
    if gen is None:
        gen = torch.Generator()
        opt._rng_gen = gen
        setattr(opt, _SNAPSHOT, None)
    if saved is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())  # global RNG: seeded by the runner
        gen.manual_seed(seed)
        save_rng(opt, state)
    elif saved is not getattr(opt, _SNAPSHOT, None):  # a loaded (or foreign) state
        gen.set_state(saved.detach().to("cpu", torch.uint8))
        setattr(opt, _SNAPSHOT, saved)
    return gen


def save_rng(opt: torch.optim.Optimizer, state: dict) -> None:
    snap = opt._rng_gen.get_state()
    state["rng_state"] = snap
    setattr(opt, _SNAPSHOT, snap)


# Entry noise: drawn on the CPU in float64 from the entry's generator, then cast. The profile
# (device, dtype) changes only the rounding of a draw, never the draw itself.
def randn(shape, gen: torch.Generator, dtype, device) -> torch.Tensor:
    """N(0, I) of ``shape``: float64 CPU draw cast to ``dtype``/``device``."""
    return torch.randn(shape, generator=gen, dtype=torch.float64).to(device=device, dtype=dtype)


def randn_like(p: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """N(0, I) shaped, typed and placed like ``p`` (drawn in float64 on the CPU)."""
    return randn(p.shape, gen, p.dtype, p.device)


def uniform(gen: torch.Generator) -> float:
    """One U[0, 1) draw (float64, CPU) as a Python float."""
    return float(torch.rand((), generator=gen, dtype=torch.float64))


def sphere(shape, gen: torch.Generator, dtype, device) -> torch.Tensor:
    """Uniform on the unit sphere of R^numel (normalized in float64, then cast)."""
    z = torch.randn(shape, generator=gen, dtype=torch.float64)
    z = z / z.norm().clamp_min(torch.finfo(torch.float64).tiny)
    return z.to(device=device, dtype=dtype)


def ball(shape, radius: float, gen: torch.Generator, dtype, device) -> torch.Tensor:
    """Uniform in the ball of radius ``radius``: r U^(1/d) z/||z|| (the perturbation of PGD,
    Jin et al. ICML 2017)."""
    d = int(torch.Size(shape).numel())
    u = torch.rand((), generator=gen, dtype=torch.float64)
    z = torch.randn(shape, generator=gen, dtype=torch.float64)
    z = z / z.norm().clamp_min(torch.finfo(torch.float64).tiny)
    return (radius * u.pow(1.0 / d) * z).to(device=device, dtype=dtype)


# -- problem facts ----------------------------------------------------------------------------
def facts_of(closure) -> Any:
    """``closure.facts`` (a ``bench.facts.ProblemFacts``), or None for a closure without facts."""
    return getattr(closure, "facts", None)


def fact(explicit: Any, closure, name: str, fallback: Any = None) -> Any:
    """An explicit hyperparameter if given, else ``closure.facts.<name>`` if declared, else
    ``fallback`` (a value, or a zero-argument callable evaluated only when needed)."""
    if explicit is not None:
        return explicit
    facts = facts_of(closure)
    value = None if facts is None else facts.as_dict().get(name)
    if value is not None:
        return value
    return fallback() if callable(fallback) else fallback


def require_fact(explicit: Any, closure, name: str, entry: str) -> float:
    value = fact(explicit, closure, name)
    if value is None:
        raise ValueError(f"Invalid {name}: None needs a SaddleBench closure (closure.facts); "
                         f"give {name} explicitly to run {entry} elsewhere")
    return float(value)


def fd_step(dtype) -> float:
    """Finite-difference radius of the first-order entries: 1e-4 (float64), 1e-3 otherwise."""
    return 1e-4 if dtype == torch.float64 else 1e-3


def power_norm(hv: Callable[[torch.Tensor], torch.Tensor], q1: torch.Tensor, iters: int) -> float:
    """max_k ||H v_k|| over ``iters`` power-iteration steps v_{k+1} = H v_k/||H v_k|| from q1.

    ``hv`` must be counted (closure HVPs or gradient differences). Each ||H v_k|| <= ||H||, and
    the iteration tends to the largest |eigenvalue|: an estimate of the smoothness L at the point.
    """
    v = q1 / q1.norm()
    best = 0.0
    for _ in range(max(1, iters)):
        w = hv(v)
        nw = float(w.norm())
        if not math.isfinite(nw):
            break
        best = max(best, nw)
        if nw == 0.0:
            break
        v = w / nw
    return best


# -- gradients through the closure ------------------------------------------------------------
def mean_grad(closure, calls: int, at=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, gradient) averaged over ``calls`` fresh minibatch calls (each charged)."""
    loss, g = closure.loss_and_grad(at)
    g = g.clone()
    for _ in range(calls - 1):
        l2, g2 = closure.loss_and_grad(at)
        loss = loss + l2
        g += g2
    return loss / calls, g / calls


def mean_loss(closure, calls: int, at=None) -> torch.Tensor:
    total = closure.loss(at)
    for _ in range(calls - 1):
        total = total + closure.loss(at)
    return total / calls


def batch_calls(closure, samples: int) -> int:
    """Closure calls for a minibatch of about ``samples`` samples (min(n, samples) on finite sums)."""
    if closure.finite_sum:
        samples = min(samples, closure.n)
    return max(1, math.ceil(samples / closure.batch_size))


# -- Lanczos -----------------------------------------------------------------------------------
def lanczos_min(hvp: Callable[[torch.Tensor], torch.Tensor], q1: torch.Tensor, k: int):
    """Smallest Ritz pair (theta, u) of k Lanczos steps with full re-orthogonalization.

    ``hvp(v)`` must be the counted closure HVP. theta >= lambda_min always (interlacing).
    """
    d = q1.numel()
    k = max(1, min(k, d))
    q = q1 / q1.norm()
    Q = [q]
    alphas, betas = [], []
    q_prev, beta_prev = torch.zeros_like(q), 0.0
    for j in range(k):
        z = hvp(Q[-1])
        a = float(torch.dot(Q[-1], z))
        alphas.append(a)
        z = z - a * Q[-1] - beta_prev * q_prev
        Qm = torch.stack(Q, 1)
        for _ in range(2):
            z = z - Qm @ (Qm.T @ z)
        b = float(z.norm())
        if j == k - 1 or b < 1e-12 * max(abs(x) for x in alphas) or b == 0.0:
            break
        betas.append(b)
        q_prev, beta_prev = Q[-1], b
        Q.append(z / b)
    m = len(alphas)
    T = torch.diag(torch.tensor(alphas, dtype=torch.float64))
    if m > 1:
        off = torch.tensor(betas[: m - 1], dtype=torch.float64)
        T += torch.diag(off, 1) + torch.diag(off, -1)
    evals, evecs = torch.linalg.eigh(T)
    y = evecs[:, 0].to(q1.dtype)
    u = torch.stack(Q[:m], 1) @ y
    return float(evals[0]), u / u.norm()
