"""The options every family has (problems.base.BASE_OPTIONS): ``start`` (default | saddle |
minimum | random) and ``escape_delta``; and quad-saddle's ``d``/``k`` and reddi2d's ``rotate``."""

from __future__ import annotations

import math

import pytest
import torch

from problems import canonical_id, families, make_problem
from problems.base import BASE_OPTIONS, Option, ProblemOptionError
from problems.quadratic import QuadSaddle

SMALLEST = {name: f"{name}:{next(iter(cls.sizes))}" for name, cls in families().items()}
KNOW_MINIMUM = sorted(name for name, cls in families().items() if cls.minimum_known)


# ------------------------------------------------------------------------ declarations
def test_every_family_has_the_base_options():
    for name, cls in families().items():
        for key, opt in BASE_OPTIONS.items():
            assert cls.options[key] is opt, (name, key)


def test_a_family_option_may_not_reuse_a_base_name(refuses_registration):
    class Clash(QuadSaddle):
        """A family declaring its own ``start``."""

        family = "start-clash-test"
        options = {**QuadSaddle.options, "start": Option(str, "x", help="its own start")}

    refuses_registration(Clash, "base option")


# ------------------------------------------------------------------------ start=saddle
@pytest.mark.parametrize("family", sorted(SMALLEST))
def test_start_saddle_starts_exactly_at_the_saddle(family):
    pid = f"{SMALLEST[family]}[start=saddle]"
    p = make_problem(pid)
    assert torch.equal(p.start_point(5), p.saddle.point)
    assert p.id == canonical_id(pid) and canonical_id(p.id) == p.id


@pytest.mark.parametrize("given,canonical", [
    ("quad-saddle:small[start=saddle]", "quad-saddle:small"),
    ("reddi2d:canonical[start=saddle]", "reddi2d:canonical"),
    ("reddi2d:paper[start=saddle]", "reddi2d:paper[start=saddle]"),  # w = 0 is not its saddle
    ("tensor:small[start=saddle]", "tensor:small[init_delta=0.0]"),
    ("phase-retrieval:small[start=saddle]", "phase-retrieval:small[init=exact]"),
    ("matrix-sensing:small[start=saddle]", "matrix-sensing:small[init=exact]"),
    ("deep-linear:small[start=saddle]", "deep-linear:small[init=exact]"),
    ("mlp-digits:small[start=saddle]", "mlp-digits:small[init=exact]"),
    ("halfspace-sym:small[start=saddle]", "halfspace-sym:small"),
    ("phase-retrieval:small[start=random]", "phase-retrieval:small[init=paper]"),
    ("deep-linear:small[start=random]", "deep-linear:small[init=small]"),
    ("matrix-sensing:small[start=random]", "matrix-sensing:small"),
    ("quad-saddle:small[start=default]", "quad-saddle:small"),
    ("quad-saddle:small[start=minimum]", "quad-saddle:small[start=minimum]"),
])
def test_a_start_the_family_already_spells_has_one_id(given, canonical):
    assert canonical_id(given) == canonical


def test_reddi2d_paper_saddle_start_is_not_the_origin():
    p = make_problem("reddi2d:paper[start=saddle]")
    w0 = p.start_point(0)
    assert torch.equal(w0, p.saddle.point) and float(w0.norm()) > 1e-3
    assert float(make_problem("reddi2d:paper").start_point(0).norm()) == 0.0


# ------------------------------------------------------------------------ start=minimum
@pytest.mark.parametrize("family", KNOW_MINIMUM)
def test_start_minimum_is_a_global_minimum(family):
    p = make_problem(f"{SMALLEST[family]}[start=minimum]")
    w0 = p.start_point(0)
    assert w0.shape == (p.dim,) and w0.dtype == p.dtype
    assert float(p.loss(w0)) == pytest.approx(p.f_star, rel=1e-8, abs=1e-10)
    assert float(p.grad(w0).norm()) <= 1e-3 * p.eps_g + 1e-9  # far inside the certificate's gate
    lam = float(torch.linalg.eigvalsh(p.hessian(w0))[0])
    assert lam >= -1e-8


def test_quad_saddle_minimum_is_plus_u_star_on_the_negative_directions():
    p = make_problem("quad-saddle:medium[start=minimum,rotate=true]")
    u = p.Q.T @ p.start_point(0)
    assert torch.allclose(u[: p.dim - p.k], torch.zeros(p.dim - p.k, dtype=p.dtype), atol=1e-13)
    assert torch.allclose(u[p.dim - p.k:], torch.full((p.k,), p.u_star, dtype=p.dtype), atol=1e-13)


def test_reddi2d_canonical_minimum_solves_its_stationarity_equation():
    p = make_problem("reddi2d:canonical[start=minimum]")
    u = float(p.start_point(0)[1])
    assert u == pytest.approx(10 ** -0.25) and 10 * u ** 9 - 0.1 * u == pytest.approx(0, abs=1e-15)
    assert float(p.start_point(0)[0]) == 0.0


def test_start_minimum_where_none_is_known_names_the_families_that_know_one():
    with pytest.raises(ProblemOptionError, match="mlp-digits knows no global minimum") as info:
        canonical_id("mlp-digits:small[start=minimum]")
    for family in KNOW_MINIMUM:
        assert family in str(info.value)
    with pytest.raises(ProblemOptionError, match="reg > 0"):
        canonical_id("halfspace-sym:small[start=minimum,reg=0]")


def test_start_random_only_where_the_family_has_one():
    with pytest.raises(ProblemOptionError, match="tensor has no random start") as info:
        canonical_id("tensor:small[start=random]")
    assert "phase-retrieval (start=random is init=paper)" in str(info.value)


@pytest.mark.parametrize("pid", ["tensor:small[start=minimum,init_delta=0.1]",
                                 "phase-retrieval:small[start=saddle,init=paper]",
                                 "deep-linear:small[start=minimum,init_delta=0.5]"])
def test_another_start_refuses_the_options_that_shape_the_default_one(pid):
    with pytest.raises(ProblemOptionError, match="drop"):
        canonical_id(pid)


def test_the_runner_starts_at_start_point(cpu):
    from bench.entries import resolve_entry
    from bench.runner import RunTask, execute

    task = RunTask(resolve_entry("sgd")[0], "quad-saddle:small[start=minimum]", 0, 0, 0, cpu,
                   budget=2_000, time_limit=60)
    rec = execute(task)
    # certified where it starts: the first checkpoint, before any oracle call
    assert rec.status == "certified" and rec.calls_to_sosp == 0
    assert rec.trajectory["f"][0] == pytest.approx(rec.f_star, rel=1e-12)
    assert rec.problem == "quad-saddle:small[start=minimum]"


# ------------------------------------------------------------------------ escape_delta
def test_escape_delta_sets_the_f_level_test():
    p = make_problem("reddi2d:canonical[escape_delta=0.001]")
    assert p.saddle.escape_delta == 0.001
    assert make_problem("reddi2d:canonical").saddle.escape_delta == pytest.approx(0.5 * -p.f_star)
    assert p.escaped(p.saddle.point, -0.0011) and not p.escaped(p.saddle.point, -0.0009)


def test_escape_delta_must_lie_below_the_saddle_to_minimum_gap():
    with pytest.raises(ProblemOptionError, match="not below f_s - f"):
        make_problem("phase-retrieval:small[escape_delta=100]")
    with pytest.raises(ProblemOptionError, match="escape_delta"):
        canonical_id("reddi2d:canonical[escape_delta=0]")


def test_quad_saddle_escape_delta_sets_the_projection_radius():
    base = make_problem("quad-saddle:small")
    c_p = QuadSaddle.depth(0.1, 10)
    same = make_problem(f"quad-saddle:small[escape_delta={c_p / 2!r}]")
    assert same.escape_radius == pytest.approx(base.escape_radius, rel=1e-12)
    deeper = make_problem("quad-saddle:small[escape_delta=0.01]")
    r = deeper.escape_radius
    assert r > base.escape_radius and -0.1 * r * r / 2 + r ** 10 == pytest.approx(-0.01, rel=1e-9)
    assert deeper.saddle.escape_delta == 0.01
    u = torch.zeros(10, dtype=torch.float64)
    u[-1] = 0.5 * (base.escape_radius + r)
    assert base.escaped(u, 0.0) and not deeper.escaped(u, 0.0)
    with pytest.raises(ProblemOptionError, match="below c_p"):
        canonical_id(f"quad-saddle:small[escape_delta={c_p}]")


def test_mlp_certificate_level_does_not_move_with_escape_delta():
    p = make_problem("mlp-digits:small[escape_delta=0.1]")
    assert p.certificate_level == 2.0 and p.saddle.escape_delta == 0.1


# ------------------------------------------------------------------------ quad-saddle d and k
def test_quad_saddle_d_and_k_override_the_size():
    p = make_problem("quad-saddle:small[d=50,k=3]")
    assert (p.dim, p.k) == (50, 3) and p.budget == make_problem("quad-saddle:small").budget
    assert p.f_star == pytest.approx(-3 * QuadSaddle.depth(0.1, 10))
    assert torch.equal(p.lam[-3:], torch.full((3,), -0.1, dtype=torch.float64))
    assert canonical_id("quad-saddle:medium[d=100,k=5]") == "quad-saddle:medium"
    assert canonical_id("quad-saddle:xl[d=500,rotate=true]") == "quad-saddle:xl[d=500,rotate=true]"


@pytest.mark.parametrize("pid,match", [("quad-saddle:small[k=10]", "1 <= k < d"),
                                       ("quad-saddle:small[d=5,k=5]", "1 <= k < d"),
                                       ("quad-saddle:small[d=1]", "d=1"),
                                       ("quad-saddle:small[d=2001,rotate=true]", "rotate")])
def test_quad_saddle_bad_shape_is_a_clear_error(pid, match):
    with pytest.raises(ProblemOptionError, match=match):
        canonical_id(pid)


# ------------------------------------------------------------------------ reddi2d rotate
def test_reddi2d_rotation_turns_the_landscape_and_its_noise():
    plain, rot = make_problem("reddi2d:paper"), make_problem("reddi2d:paper[rotate=true]")
    R = rot.R
    assert torch.allclose(R.T @ R, torch.eye(2, dtype=torch.float64), atol=1e-14)
    assert not torch.allclose(R.abs(), torch.eye(2, dtype=torch.float64), atol=1e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        u = 0.3 * torch.randn(2, generator=gen, dtype=torch.float64)
        assert float(rot.loss(R @ u)) == pytest.approx(float(plain.loss(u)), rel=1e-13, abs=1e-15)
        assert torch.allclose(rot.grad(R @ u), R @ plain.grad(u), atol=1e-14)
    # per-sample gradients at the saddle: the noise covariance rotates to R Sigma R^T
    samples = torch.arange(rot.n).view(-1, 1)
    G = torch.stack([rot.sample_loss_grad(rot.saddle.point, s)[1] for s in samples])
    G0 = torch.stack([plain.sample_loss_grad(plain.saddle.point, s)[1] for s in samples])
    assert torch.allclose(G, G0 @ R.T, atol=1e-13)
    cov, cov0 = torch.cov(G.T), torch.cov(G0.T)
    assert torch.allclose(cov, R @ cov0 @ R.T, atol=1e-13)
    assert abs(float(cov[0, 1])) > 1e-4  # no longer axis-aligned
    # invariants: values, curvature at the saddle, the same b_i
    assert rot.saddle.value == pytest.approx(plain.saddle.value, rel=1e-12)
    assert rot.f_star == plain.f_star and rot.saddle.lambda_min == plain.saddle.lambda_min
    assert torch.equal(rot.b, plain.b)


def test_reddi2d_rotated_run_escapes_and_certifies(cpu):
    from bench.entries import resolve_entry
    from bench.runner import RunTask, execute

    rec = execute(RunTask(resolve_entry("adam")[0], "reddi2d:canonical[rotate=true]", 0, 0, 0, cpu,
                          budget=50_000, time_limit=60))
    assert rec.status == "certified" and rec.escape_calls is not None
    assert rec.final_f < rec.saddle_value - rec.escape_delta
    assert rec.final_lambda_min >= -rec.eps_h and rec.final_grad_norm <= rec.eps_g
    assert not math.isnan(rec.final_f)
