"""Entries read problem constants from ``closure.facts``; entry noise does not depend on the
profile (issue 9)."""

import copy

import pytest
import torch

from tests.optimizers.conftest import FakeClosure
from optimizers import _common as C
from optimizers.cnc_pgd import CNCPGD
from optimizers.cubic_newton import CubicNewton
from optimizers.neon import NEON
from optimizers.ngd import NGD
from optimizers.pgd import PGD
from optimizers.psgd import PSGD
from optimizers.sgld import SGLD

D = torch.float64
SADDLE = torch.diag(torch.tensor([1.0, -0.1], dtype=D))


def _clo(w, **facts):
    return FakeClosure(w, SADDLE, torch.zeros(2, dtype=D), n=10, facts=facts)


@pytest.mark.parametrize("cls,keys", [
    (PGD, {"eps_g": "eps_g", "eps_h": "eps_h", "L": "smoothness"}),
    (CNCPGD, {"g_thres": "eps_g", "eps_h": "eps_h"}),
    (NEON, {"eps_g": "eps_g", "eps_h": "eps_h", "L": "smoothness", "rho": "hessian_lipschitz"}),
    (CubicNewton, {"eps_g": "eps_g", "eps_h": "eps_h", "L": "smoothness"}),
])
def test_constants_come_from_closure_facts(cls, keys):
    facts = dict(eps_g=0.0451, eps_h=0.0123, smoothness=3.7, hessian_lipschitz=2.9)
    w = torch.zeros(2, dtype=D)
    opt = cls([w])
    torch.manual_seed(0)
    opt.step(_clo(w, **facts))
    got = opt.state[w]["facts"]
    for key, fact in keys.items():
        assert got[key] == facts[fact], (key, got)
    # an explicit hyperparameter overrides the fact
    w2 = torch.zeros(2, dtype=D)
    opt2 = cls([w2], eps_h=0.5)
    opt2.step(_clo(w2, **facts))
    assert opt2.state[w2]["facts"]["eps_h"] == 0.5
    # the resolved values travel with state_dict
    w3 = torch.zeros(2, dtype=D)
    opt3 = cls([w3])
    opt3.load_state_dict(copy.deepcopy(opt.state_dict()))
    assert opt3.state[w3]["facts"] == got


def test_smoothness_estimated_when_undeclared():
    """No declared L: a counted power-iteration estimate (||H|| = 1 here), charged to the run."""
    for cls in (PGD, CubicNewton, NEON):
        w = torch.zeros(2, dtype=D)
        clo = _clo(w)
        opt = cls([w])
        torch.manual_seed(0)
        opt.step(clo)
        assert opt.state[w]["facts"]["L"] == pytest.approx(1.0, rel=1e-3), cls
        assert clo.calls > 20, "the estimate's calls must go through the (counted) closure"


def test_pgd_practical_constants_from_facts():
    w = torch.zeros(2, dtype=D)
    opt = PGD([w])
    opt.step(_clo(w, eps_g=0.045, eps_h=0.01, smoothness=2.0))
    k = PGD.constants(opt.param_groups[0], 2, opt.state[w]["facts"])
    assert k["lr"] == 1 / (2 * 2.0) and k["g_thres"] == 0.045 and k["r"] == 0.045 / 2.0


NOISE_DIM = 64  # >= 16: torch draws float32 and float64 normals differently from there on


def _noise(cls, dtype, seed=7, **hp):
    w = torch.zeros(NOISE_DIM, dtype=dtype)
    opt = cls([w], lr=0.1, **hp)
    clo = FakeClosure(w, torch.zeros(NOISE_DIM, NOISE_DIM, dtype=dtype),
                      torch.zeros(NOISE_DIM, dtype=dtype))
    torch.manual_seed(seed)
    for _ in range(5):
        opt.step(clo)
    return w.detach().to(D)


@pytest.mark.parametrize("cls,hp", [(PSGD, {"sigma_n": 1.0}), (PSGD, {"sigma_n": 1.0, "noise": "gauss"}),
                                    (SGLD, {"sigma_ref": 1.0}), (NGD, {"sigma_n": 1.0})])
def test_entry_noise_does_not_depend_on_dtype(cls, hp):
    """Same seeds, float64 vs float32 parameter: the same draws, equal to float32 rounding."""
    a, b = _noise(cls, D, **hp), _noise(cls, torch.float32, **hp)
    assert float(a.norm()) > 0
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-6), (a, b)
    assert not torch.allclose(a, _noise(cls, D, seed=8, **hp)), "the seed has no effect"


def test_noise_helpers_draw_float64_on_cpu_then_cast():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    p32 = torch.zeros(NOISE_DIM, dtype=torch.float32)
    z64 = C.randn_like(torch.zeros(NOISE_DIM, dtype=D), g1)
    z32 = C.randn_like(p32, g2)
    assert z32.dtype == torch.float32 and torch.equal(z32, z64.to(torch.float32))
    g1.manual_seed(4), g2.manual_seed(4)
    b64 = C.ball((NOISE_DIM,), 0.3, g1, D, "cpu")
    b32 = C.ball((NOISE_DIM,), 0.3, g2, torch.float32, "cpu")
    assert torch.equal(b32, b64.to(torch.float32)) and float(b64.norm()) <= 0.3
