"""Declared smoothness constants (Problem.smoothness = L >= ||Hess f||) hold where the runs start:
at the designated saddle and at the start point of every family (smallest size, default options)."""

import pytest
import torch

from problems import families, make_problem


def _minimum(p):
    """A global minimizer where the family gives it in closed form (else None)."""
    if getattr(p, "minimizer", None) is not None:
        return p.minimizer
    if p.family == "quad-saddle":
        u = torch.zeros(p.dim, dtype=torch.float64)
        u[p.dim - p.k:] = p.u_star
        return u if p.Q is None else p.Q @ u
    if p.family == "reddi2d" and p.size == "canonical":
        return torch.tensor([0.0, 10 ** -0.25], dtype=torch.float64)
    return None


def _smallest(cls):
    return min(cls.sizes, key=lambda s: (cls.sizes[s].get("d", 0), str(cls.sizes[s])))


FAMILIES = sorted(families())


@pytest.mark.parametrize("family", FAMILIES)
def test_declared_smoothness_bounds_the_hessian(family):
    cls = families()[family]
    p = make_problem(f"{family}:{_smallest(cls)}")
    if p.smoothness is None:
        pytest.skip(f"{family} declares no smoothness constant")
    assert p.smoothness > 0
    if p.dim > 1500:
        pytest.skip("too large for a dense Hessian here")
    points = {"saddle": p.saddle.point, "start": p.initial_point(0), "minimum": _minimum(p)}
    for where, w in points.items():
        if w is None:
            continue
        w = w.to(torch.float64)
        norm = float(torch.linalg.matrix_norm(p.hessian(w).to(torch.float64), ord=2))
        assert norm <= p.smoothness * (1 + 1e-12), (family, where, norm, p.smoothness)


@pytest.mark.parametrize("family", FAMILIES)
def test_declared_hessian_lipschitz_between_saddle_and_start(family):
    cls = families()[family]
    p = make_problem(f"{family}:{_smallest(cls)}")
    if p.hessian_lipschitz is None or p.dim > 1500:
        pytest.skip(f"{family} declares no Hessian-Lipschitz constant (or is too large)")
    s = p.saddle.point.to(torch.float64)
    gen = torch.Generator().manual_seed(0)
    near = s + 1e-2 * torch.randn(p.dim, generator=gen, dtype=torch.float64)
    pairs = [(s, near), (s, p.initial_point(0).to(torch.float64))]
    if _minimum(p) is not None:
        pairs.append((s, _minimum(p).to(torch.float64)))
    for a, b in pairs:
        diff = float(torch.linalg.matrix_norm(p.hessian(a) - p.hessian(b), ord=2))
        assert diff <= p.hessian_lipschitz * float((a - b).norm()) * (1 + 1e-9) + 1e-12, (family, diff)


@pytest.mark.parametrize("pid", ["quad-saddle:small", "quad-saddle:medium[spectrum=logspaced,rotate=true]",
                                 "reddi2d:canonical", "reddi2d:paper", "tensor:small",
                                 "tensor:small[saddle=d]", "halfspace-sym:small", "halfspace-blobs:small"])
def test_families_with_closed_form_constants_declare_them(pid):
    p = make_problem(pid)
    assert p.smoothness is not None and p.hessian_lipschitz is not None, pid
    m = _minimum(p)
    if m is not None:
        norm = float(torch.linalg.matrix_norm(p.hessian(m.to(torch.float64)), ord=2))
        assert norm <= p.smoothness
