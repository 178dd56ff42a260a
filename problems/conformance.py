"""Reusable conformance checks for Problem implementations.

Every check raises :class:`ConformanceError` (an AssertionError) with a message naming the
problem and the quantity that disagrees. ``check_all`` runs them in order; the test suite
(tests/problems/test_conformance.py) parametrizes it over every registered id.

Checks (float64):

* ``check_derivatives``: grad and HVP against torch autograd of ``loss`` at random points near
  the saddle; ``hessian()`` against HVP columns (small dims);
* ``check_sample_derivatives``: ``sample_loss_grad``'s loss equals ``sample_loss`` and its grad
  equals autograd of ``sample_loss``; ``sample_hvp`` equals autograd of that grad;
* ``check_unbiased``: the mean of many stochastic gradients matches grad f: the squared error
  norm is within its expectation + 6 standard deviations under unbiasedness;
* ``check_saddle``: f(w_s) = saddle.value, ||grad f(w_s)|| ~ 0 (unless the family declares
  ``saddle_is_critical = False``), and lambda_min(hessian(w_s)) = saddle.lambda_min (dim <= 400);
* ``check_f_star``: f(minimizer) = f_star where the problem exposes a ``minimizer``;
* ``check_seeds``: same instance seed -> identical instance, different seed -> different;
* ``check_describe`` / ``check_id``: describe() is JSON-serializable, the id round-trips;
* ``check_options``: every option is a declared :class:`~problems.base.Option` with help text
  and a default that its own check accepts;
* ``check_draw`` / ``check_draw_profiles``: ``draw`` takes a CPU generator, returns samples in
  the problem's dtype and device, and draws the same stream in float64 and float32 (equal up
  to float32 rounding).
"""

from __future__ import annotations

import json
import math

import torch

from .base import Option, Problem
from .registry import canonical_id, families, make_problem

DENSE_MAX_DIM = 400


class ConformanceError(AssertionError):
    """A problem does not do what its interface promises."""


def _fail(problem: Problem, what: str, detail: str) -> None:
    raise ConformanceError(f"{problem.id} (instance {problem.instance_seed}): {what}: {detail}")


def _close(problem, what, got, want, rtol, atol=0.0):
    got = torch.as_tensor(got, dtype=torch.float64)
    want = torch.as_tensor(want, dtype=torch.float64)
    err = float((got - want).abs().max()) if got.numel() else 0.0
    scale = float(want.abs().max()) if want.numel() else 0.0
    if not math.isfinite(err) or err > rtol * scale + atol:
        _fail(problem, what, f"max abs error {err:.3e} > rtol {rtol:g} x scale {scale:.3e} + atol {atol:g}")


def sample_points(problem: Problem, count: int = 2, seed: int = 0) -> list[torch.Tensor]:
    """Random points near the saddle (scale of ||w_s|| or 0.3) and one far point."""
    gen = torch.Generator().manual_seed(seed)
    w_s = problem.saddle.point.to(torch.float64)
    scale = max(0.3, 0.3 * float(w_s.norm()))
    pts = []
    for _ in range(count):
        z = torch.randn(problem.dim, generator=gen, dtype=torch.float64)
        pts.append((w_s + scale * z / z.norm()).to(problem.device, problem.dtype))
    return pts


def _autograd_grad_hvp(fn, w, v):
    w = w.detach().clone().requires_grad_(True)
    val = fn(w)
    (g,) = torch.autograd.grad(val, w, create_graph=True)
    (hv,) = torch.autograd.grad(g @ v, w)
    return val.detach(), g.detach(), hv.detach()


def check_derivatives(problem: Problem, points=None, rtol: float = 1e-8) -> None:
    gen = torch.Generator().manual_seed(1)
    for k, w in enumerate(points or sample_points(problem)):
        v = torch.randn(problem.dim, generator=gen, dtype=problem.dtype).to(problem.device)
        val, g_ad, hv_ad = _autograd_grad_hvp(problem.loss, w, v)
        _close(problem, "grad vs autograd of loss", problem.grad(w), g_ad, rtol, 1e-12)
        _close(problem, "hvp vs autograd of loss", problem.hvp(w, v), hv_ad, rtol, 1e-12)
        if problem.dim <= DENSE_MAX_DIM and k == 0:
            H = problem.hessian(w)
            _close(problem, "hessian() is not symmetric", H, H.T, rtol, 1e-12)
            _close(problem, "hessian() @ v vs hvp", H @ v, problem.hvp(w, v), rtol, 1e-12)


def check_sample_derivatives(problem: Problem, points=None, draws: int = 3, rtol: float = 1e-8) -> None:
    gen = torch.Generator().manual_seed(2)
    samples = problem.draw(gen, draws)
    vgen = torch.Generator().manual_seed(3)
    for w in points or sample_points(problem):
        for sample in samples:
            v = torch.randn(problem.dim, generator=vgen, dtype=problem.dtype).to(problem.device)
            loss, g = problem.sample_loss_grad(w, sample)
            _close(problem, "sample_loss_grad loss vs sample_loss", loss, problem.sample_loss(w, sample), rtol, 1e-12)
            _, g_ad, hv_ad = _autograd_grad_hvp(lambda x: problem.sample_loss(x, sample), w, v)
            _close(problem, "sample grad vs autograd of sample_loss", g, g_ad, rtol, 1e-12)
            _close(problem, "sample_hvp vs autograd of sample_loss", problem.sample_hvp(w, v, sample), hv_ad,
                   rtol, 1e-12)


def check_unbiased(problem: Problem, w: torch.Tensor | None = None, draws: int = 4000,
                   sigmas: float = 6.0) -> None:
    """Mean of ``draws`` stochastic gradients vs grad f: ||mean - g||^2 <= (tr Sigma + sigmas
    sqrt(2 tr Sigma^2)) / draws, i.e. its expectation plus ``sigmas`` standard deviations."""
    if w is None:
        w = sample_points(problem, 1, seed=5)[0]
    gen = torch.Generator().manual_seed(4)
    samples = problem.draw(gen, draws)
    grads = torch.stack([problem.sample_loss_grad(w, s)[1] for s in samples]).to(torch.float64)
    mean = grads.mean(dim=0)
    centered = grads - mean
    g = problem.grad(w).to(torch.float64)
    # Under unbiasedness ||mean - g||^2 has expectation tr(Sigma)/N and (Gaussian approximation)
    # standard deviation sqrt(2 tr(Sigma^2))/N, Sigma the per-call covariance; this norm test is
    # robust to correlated and rare-event coordinates.
    gram = centered @ centered.T if draws <= problem.dim else centered.T @ centered
    tr1 = float(centered.pow(2).sum()) / (draws - 1)
    tr2 = float(gram.pow(2).sum()) / (draws - 1) ** 2
    err2 = float(((mean - g) ** 2).sum())
    bound = (tr1 + sigmas * math.sqrt(2 * tr2)) / draws \
        + (1e-9 * (float(g.norm()) + float(mean.norm())) + 1e-12) ** 2
    if not err2 <= bound:
        j = int((mean - g).abs().argmax())
        _fail(problem, "stochastic gradient is biased",
              f"||mean of {draws} draws - grad|| = {math.sqrt(err2):.3e} > {math.sqrt(bound):.3e} "
              f"(expectation + 6 sd under unbiasedness); worst coordinate {j}: mean "
              f"{float(mean[j]):.6g}, grad {float(g[j]):.6g}")


def check_saddle(problem: Problem, lam_rtol: float = 1e-6) -> None:
    s = problem.saddle
    w = s.point
    _close(problem, "loss(saddle.point) vs saddle.value", problem.loss(w), s.value, 1e-9, 1e-12)
    if not getattr(problem, "saddle_is_critical", True):
        return
    g = float(problem.grad(w).norm())
    scale = max(1.0, float(problem.grad(sample_points(problem, 1)[0]).norm()))
    if not g <= 1e-7 * scale:
        _fail(problem, "gradient at the saddle", f"||grad f(w_s)|| = {g:.3e} (scale {scale:.3g})")
    if s.lambda_min is not None and problem.dim <= DENSE_MAX_DIM:
        H = problem.hessian(w).to(torch.float64)
        lam = float(torch.linalg.eigvalsh(H)[0])
        tol = lam_rtol * max(1.0, abs(s.lambda_min)) + 1e-9 * float(H.abs().max())
        if abs(lam - s.lambda_min) > tol:
            _fail(problem, "saddle lambda_min", f"eigvalsh gives {lam:.10g}, stated {s.lambda_min:.10g}")
        if lam < 0 and not lam < -problem.eps_h and getattr(problem, "saddle_is_strict", True):
            _fail(problem, "eps_h", f"the saddle (lambda_min {lam:.4g}) would pass the certificate "
                  f"with eps_h = {problem.eps_h:.4g}")


def check_f_star(problem: Problem) -> None:
    w = getattr(problem, "minimizer", None)
    if w is None or problem.f_star is None:
        return
    f = float(problem.loss(w))
    _close(problem, "loss(minimizer) vs f_star", f, problem.f_star, 1e-8, 1e-10)
    if not f < problem.saddle.value:
        _fail(problem, "f_star", f"f* = {f} is not below the saddle value {problem.saddle.value}")


def _fingerprint(problem: Problem, w: torch.Tensor) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(11)
    samples = problem.draw(gen, 3)
    return [problem.loss(w).reshape(1), problem.grad(w), problem.saddle.point, problem.initial_point(3),
            *(problem.sample_loss_grad(w, s)[1] for s in samples)]


def check_seeds(problem_id: str, seeds=(0, 1), *, expect_different: bool = True) -> None:
    """Same instance seed -> bitwise identical instance (exact and stochastic views, start
    point); different seeds -> a different instance (unless ``expect_different`` is False, for
    families with no instance randomness)."""
    a0 = make_problem(problem_id, seeds[0])
    a1 = make_problem(problem_id, seeds[0])
    w = sample_points(a0, 1, seed=9)[0]
    f0, f1 = _fingerprint(a0, w), _fingerprint(a1, w)
    if not all(torch.equal(x, y) for x, y in zip(f0, f1)):
        _fail(a0, "instance seed", "the same instance seed gave different instances")
    if expect_different:
        fb = _fingerprint(make_problem(problem_id, seeds[1]), w)
        if all(torch.equal(x, y) for x, y in zip(f0, fb)):
            _fail(a0, "instance seed", f"instance seeds {seeds} gave the same instance")


def check_describe(problem: Problem) -> None:
    try:
        text = json.dumps(problem.describe())
    except (TypeError, ValueError) as exc:
        _fail(problem, "describe() is not JSON-serializable", str(exc))
    if json.loads(text)["id"] != problem.id:
        _fail(problem, "describe()", "id field differs from problem.id")


def check_id(problem_id: str) -> None:
    cid = canonical_id(problem_id)
    p = make_problem(problem_id)
    if p.id != cid or canonical_id(cid) != cid:
        raise ConformanceError(f"{problem_id}: id round trip gives {p.id!r} / {cid!r}")


def check_options(family: str) -> None:
    """Every option of ``family`` is an :class:`Option` with a one-line help text, and its
    default passes its own check (so the default instance has a valid id)."""
    cls = families()[family]
    for name, opt in cls.options.items():
        if not isinstance(opt, Option):
            raise ConformanceError(f"{family}: option {name!r} is not declared as an Option: {opt!r}")
        if not opt.help.strip() or "\n" in opt.help:
            raise ConformanceError(f"{family}: option {name!r} needs a one-line help text")
        if opt.coerce(family, name, opt.default) != opt.default:
            raise ConformanceError(f"{family}: option {name!r} default {opt.default!r} is not in "
                                   f"its declared type")
    for size in cls.sizes:
        values = cls.resolve_options(size, {})
        if cls.changed_options(values):
            raise ConformanceError(f"{family}:{size}: the defaults are not canonical: "
                                   f"check_options rewrites them to {cls.changed_options(values)}")


def check_draw(problem: Problem, count: int = 3) -> torch.Tensor:
    """``draw`` with a CPU generator: samples on the problem's device, floats in its dtype,
    the same for the same generator seed. Returns the draws."""
    a = problem.draw(torch.Generator().manual_seed(21), count)
    b = problem.draw(torch.Generator().manual_seed(21), count)
    if a.device != problem.device or (a.is_floating_point() and a.dtype != problem.dtype):
        _fail(problem, "draw", f"samples on {a.device} in {a.dtype}; expected {problem.device}, "
              f"{problem.dtype} (draw on CPU, then self.sample_tensor(...))")
    if a.shape[0] != count or not torch.equal(a, b):
        _fail(problem, "draw", "not reproducible from the generator, or wrong number of rows")
    return a


def check_draw_profiles(problem_id: str, count: int = 64, seed: int = 0) -> None:
    """The float64 and float32 instances draw the same sample stream from the same CPU
    generator: integer samples are equal, float samples equal up to float32 rounding."""
    p64 = make_problem(problem_id, 0, dtype=torch.float64)
    p32 = make_problem(problem_id, 0, dtype=torch.float32)
    check_draw(p64)
    check_draw(p32)
    s64 = p64.draw(torch.Generator().manual_seed(seed), count)
    s32 = p32.draw(torch.Generator().manual_seed(seed), count)
    if s64.shape != s32.shape:
        _fail(p32, "draw across dtypes", f"shapes {tuple(s64.shape)} vs {tuple(s32.shape)}")
    if s64.is_floating_point():
        want = s64.to(torch.float32)
        if not torch.equal(s32, want):
            err = float((s32.double() - s64).abs().max())
            _fail(p32, "draw across dtypes", f"float32 samples are not the float64 samples rounded "
                  f"(max abs difference {err:.3e}): draw in float64 on CPU, then cast")
    elif not torch.equal(s64, s32):
        _fail(p32, "draw across dtypes", "float32 and float64 instances draw different indices")


def check_fields(problem: Problem) -> None:
    for name in ("dim", "batch_size", "eps_g", "eps_h", "budget", "saddle"):
        if getattr(problem, name, None) is None:
            _fail(problem, "missing field", name)
    w0 = problem.initial_point(0)
    if w0.shape != (problem.dim,) or w0.dtype != problem.dtype:
        _fail(problem, "initial_point", f"shape {tuple(w0.shape)} dtype {w0.dtype}")
    if not (problem.__doc__ or "").strip():
        _fail(problem, "docstring", "the class has no docstring")


def check_all(problem_id: str, *, unbiased_draws: int | None = None, seeds: bool = True,
              expect_different: bool = True) -> Problem:
    """Run every check on ``problem_id`` (float64, instance seed 0); returns the problem."""
    check_id(problem_id)
    check_options(problem_id.split(":")[0])
    p = make_problem(problem_id, 0)
    check_fields(p)
    check_draw(p)
    check_describe(p)
    check_derivatives(p)
    check_sample_derivatives(p)
    if unbiased_draws is None:  # keep the (draws x dim) stack below ~20M numbers
        unbiased_draws = int(min(4000, max(200, 2e7 // p.dim)))
    check_unbiased(p, draws=unbiased_draws)
    check_saddle(p)
    check_f_star(p)
    if seeds:
        check_seeds(problem_id, expect_different=expect_different)
    return p
