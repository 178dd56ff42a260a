"""Diagnostics (problems.diagnostics): the quantities experiments measure along a run.

Values at known points (the saddle, every known global minimum, a start at init_delta computed
again here from the seed), the closed forms against the dense route, the dense route's
eigenspace, row independence, and clear errors for unknown or badly declared names."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from problems import Diagnostic, UnknownDiagnosticError, families, make_problem
from problems.base import INIT_STREAM, Problem, rng
from problems.diagnostics import BASE_DIAGNOSTICS
from problems.quadratic import QuadSaddle
from problems.registry import check_diagnostics, diagnostic_table

SMALLEST = {name: f"{name}:{next(iter(cls.sizes))}" for name, cls in families().items()}
SOLVED = ["deep-linear", "matrix-sensing", "phase-retrieval", "quad-saddle", "reddi2d", "tensor"]


def diag(p, name, *points):
    return p.diagnose_rows((name,), torch.stack(points))[name]


# ------------------------------------------------------------------------ declarations
def test_every_family_has_the_base_diagnostics_and_the_solved_ones_a_solution_distance():
    for name, cls in families().items():
        for key, d in BASE_DIAGNOSTICS.items():
            assert cls.diagnostics[key] is d, (name, key)
        assert ("solution_distance" in cls.diagnostics) == (name in SOLVED), name
    rows = diagnostic_table("phase-retrieval")
    assert [r["diagnostic"] for r in rows] == ["negative_projection", "saddle_distance",
                                               "solution_distance"]
    assert "sign" in rows[2]["meaning"]


@pytest.mark.parametrize("bad", ["f", "lambda_min", "Bad-Name", "2x"])
def test_a_diagnostic_needs_a_lowercase_name_the_trajectory_does_not_use(bad, refuses_registration):
    class Clash(QuadSaddle):
        """A family declaring a diagnostic under a bad name."""

        family = "diag-clash-test"
        diagnostics = {bad: Diagnostic("a quantity", lambda p, W: W[:, 0])}

    refuses_registration(Clash, "lowercase identifier")


def test_a_diagnostic_must_be_declared_as_a_diagnostic(refuses_registration):
    class Loose(QuadSaddle):
        """A family declaring a bare function."""

        family = "diag-loose-test"
        diagnostics = {"first": lambda p, W: W[:, 0]}

    refuses_registration(Loose, r"Diagnostic\(help, rows\)")


def test_an_unknown_name_is_refused_with_the_familys_list():
    with pytest.raises(UnknownDiagnosticError) as err:
        check_diagnostics("quad-saddle:small", "saddle_distance,solution_distanc")
    text = str(err.value)
    assert "'solution_distanc'" in text and "Did you mean solution_distance" in text
    assert "negative_projection, saddle_distance, solution_distance" in text
    assert "bench list problems --family quad-saddle" in text
    with pytest.raises(UnknownDiagnosticError, match="its diagnostics: negative_projection, "
                                                     "saddle_distance\\)"):
        check_diagnostics("mlp-digits:small", ["solution_distance"])
    assert isinstance(err.value, ValueError)


def test_names_are_sorted_and_distinct():
    assert check_diagnostics("tensor:small", " solution_distance,saddle_distance,solution_distance") \
        == ("saddle_distance", "solution_distance")
    assert check_diagnostics("tensor:small", ["saddle_distance"]) == ("saddle_distance",)


# ------------------------------------------------------------------------ known points
@pytest.mark.parametrize("family", sorted(SMALLEST))
def test_at_the_saddle_both_base_diagnostics_are_zero(family):
    p = make_problem(SMALLEST[family])
    values = p.diagnose_rows(("saddle_distance", "negative_projection"), p.saddle.point[None])
    assert float(values["saddle_distance"][0]) == 0.0
    assert float(values["negative_projection"][0]) == 0.0


@pytest.mark.parametrize("pid", ["quad-saddle:small", "quad-saddle:medium[rotate=true]",
                                 "reddi2d:canonical", "reddi2d:paper[rotate=true]",
                                 "phase-retrieval:small", "phase-retrieval:small[wstar=paper]",
                                 "matrix-sensing:small[kappa=3]", "tensor:small", "deep-linear:medium"])
def test_at_every_known_global_minimum_the_solution_distance_is_zero(pid):
    p = make_problem(pid)
    w = p.minimum_point()
    minima = [w]
    if p.family == "phase-retrieval":
        minima.append(-w)
    elif p.family == "reddi2d" and p.size == "canonical":
        minima.append(p._from_u(-p._to_u(w)))
    elif p.family == "tensor":
        minima += [p.A[:, 3], -p.A[:, 3]]
    elif p.family == "quad-saddle":  # flip the sign on one negative direction
        u = p._to_u(w).clone()
        u[-1] = -u[-1]
        minima.append(p._from_u(u))
    elif p.family == "matrix-sensing":  # U* R for a rotation R of the r columns
        R = torch.as_tensor(np.linalg.qr(np.random.default_rng(0).standard_normal((p.r, p.r)))[0])
        minima.append((p.U_star @ R).reshape(-1))
    elif p.family == "deep-linear":  # W_3 (W_2 A)(A^-1 W_1): the same end-to-end map
        mats = p._mats(w)
        A = torch.eye(mats[1].shape[0], dtype=w.dtype) + 0.3
        mats = [A.inverse() @ mats[0], mats[1] @ A, mats[2]]
        minima.append(torch.cat([m.reshape(-1) for m in mats]))
    values = diag(p, "solution_distance", *minima)
    assert float(values.max()) <= 1e-12, values
    assert float(diag(p, "solution_distance", p.saddle.point)[0]) > 0.1


def test_solution_distance_formulas_at_the_saddle_and_the_start():
    """Direct computations (numpy) at points that are neither a minimum nor the saddle."""
    pr = make_problem("phase-retrieval:small")
    w = pr.start_point(3).numpy()
    ws = pr.w_star.numpy()
    want = min(np.linalg.norm(w - ws), np.linalg.norm(w + ws)) / np.linalg.norm(ws)
    assert float(diag(pr, "solution_distance", pr.start_point(3))[0]) == pytest.approx(want, rel=1e-13)

    ms = make_problem("matrix-sensing:small[kappa=4]")
    U = ms.start_point(2).numpy().reshape(ms.d, ms.r)
    M = ms.U_star.numpy() @ ms.U_star.numpy().T
    want = np.linalg.norm(U @ U.T - M) / np.linalg.norm(M)
    assert float(diag(ms, "solution_distance", ms.start_point(2))[0]) == pytest.approx(want, rel=1e-12)
    assert float(diag(ms, "solution_distance", ms.saddle.point)[0]) == pytest.approx(1.0, abs=1e-15)

    qs = make_problem("quad-saddle:small")
    w = torch.zeros(qs.dim, dtype=torch.float64)
    w[0], w[-1] = 0.3, -0.5 * qs.u_star  # a positive direction, half-way to -u* on the negative one
    want = math.hypot(0.3, 0.5 * qs.u_star) / qs.u_star
    assert float(diag(qs, "solution_distance", w)[0]) == pytest.approx(want, rel=1e-14)


@pytest.mark.parametrize("pid,delta", [("phase-retrieval:small[init_delta=0.001]", 1e-3),
                                       ("tensor:small[init_delta=0.01]", 1e-2)])
def test_a_start_at_distance_init_delta_is_measured_at_that_distance(pid, delta):
    p = make_problem(pid)
    assert float(diag(p, "saddle_distance", p.start_point(7))[0]) == pytest.approx(delta, rel=1e-10)


@pytest.mark.parametrize("pid,delta", [("quad-saddle:medium[init_delta=0.01]", 1e-2),
                                       ("reddi2d:canonical[init_delta=0.2]", 0.2)])
def test_negative_projection_of_a_perturbed_start_is_its_negative_part(pid, delta):
    """w_0 = delta zeta (unrotated): the projection is delta ||zeta on the last k coordinates||."""
    p = make_problem(pid)
    zeta = rng(4, INIT_STREAM).standard_normal(p.dim)
    k = p.k if p.family == "quad-saddle" else 1
    w0 = p.start_point(4)
    assert float(diag(p, "negative_projection", w0)[0]) == pytest.approx(
        delta * np.linalg.norm(zeta[-k:]), rel=1e-14)
    assert float(diag(p, "saddle_distance", w0)[0]) == pytest.approx(
        delta * np.linalg.norm(zeta), rel=1e-14)


# ------------------------------------------------------------------------ the eigenspace
@pytest.mark.parametrize("pid", ["quad-saddle:medium[rotate=true,spectrum=logspaced]",
                                 "quad-saddle:small[k=3,rotate=true]", "reddi2d:paper[rotate=true]",
                                 "reddi2d:canonical"])
def test_the_closed_forms_agree_with_the_dense_route(pid):
    p = make_problem(pid)
    D = torch.as_tensor(np.random.default_rng(1).standard_normal((5, p.dim)))
    closed = torch.linalg.vector_norm(p.negative_coordinates_rows(D), dim=1)
    dense = torch.linalg.vector_norm(Problem.negative_coordinates_rows(p, D), dim=1)
    assert p._negative_basis.shape[1] == (p.k if p.family == "quad-saddle" else 1)
    torch.testing.assert_close(closed, dense, rtol=1e-10, atol=0)


def test_the_dense_route_counts_every_negative_eigenvalue_and_no_rounded_zero():
    """matrix sensing at U = 0: Hess = -2 S_hat (x) I_r, so every positive eigenvalue of S_hat
    gives r negative directions; deep-linear's zero saddle at depth 3 has a zero Hessian."""
    p = make_problem("matrix-sensing:small")
    Y, S = p.y.numpy(), p.S_flat.numpy()
    s_hat = np.linalg.eigvalsh((Y @ S).reshape(p.d, p.d) / p.m)
    D = torch.as_tensor(np.random.default_rng(2).standard_normal((3, p.dim)))
    p.negative_coordinates_rows(D)
    assert p._negative_basis.shape[1] == p.r * int((s_hat > 1e-6).sum())
    zero = make_problem("deep-linear:medium[saddle=zero]")
    assert float(diag(zero, "negative_projection", zero.start_point(0) + 1.0)[0]) == 0.0
    assert zero._negative_basis.shape[1] == 0


# ------------------------------------------------------------------------ rows
@pytest.mark.parametrize("family", sorted(SMALLEST))
def test_each_row_is_diagnosed_from_its_own_row_alone(family):
    p = make_problem(SMALLEST[family])
    gen = np.random.default_rng(3)
    W = p.saddle.point + 0.1 * torch.as_tensor(gen.standard_normal((13, p.dim)), dtype=p.dtype)
    names = sorted(p.diagnostics)
    batch = p.diagnose_rows(names, W)
    for i in (0, 5, 12):
        alone = p.diagnose_rows(names, W[i:i + 1])
        for name in names:
            assert torch.equal(batch[name][i:i + 1], alone[name]), (name, i)
            assert math.isfinite(float(alone[name][0]))
