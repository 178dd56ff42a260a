"""Problem options: declared (type, default, range or choices, meaning), checked when an id is
parsed (before any run), and spelled one way in ids."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.cli import main as bench_main
from problems import canonical_id, families, make_problem
from problems.base import INIT_STREAM, Option, ProblemOptionError, UnknownProblemError, rng
from problems.conformance import check_options
from problems.quadratic import QuadSaddle
from problems.registry import option_table

# (bad id, option named, what the message must say is allowed)
BAD = [
    ("quad-saddle:small[batch=0]", "batch", ">= 1"),
    ("quad-saddle:small[batch=-2]", "batch", ">= 1"),
    ("quad-saddle:small[p=10.5]", "p", "even, >= 4"),
    ("quad-saddle:small[p=7]", "p", "even, >= 4"),
    ("quad-saddle:small[noise=bogus]", "noise", "aniso | iso | hard | cnc0"),
    ("quad-saddle:small[mu=-1]", "mu", "> 0"),
    ("quad-saddle:small[mu=nan]", "mu", "> 0"),
    ("quad-saddle:small[rotate=2]", "rotate", "true | false"),
    ("quad-saddle:small[batch=true]", "batch", ">= 1"),
    ("quad-saddle:small[spectrum=1]", "spectrum", "flat | logspaced"),
    ("mlp-digits:small[batch=0]", "batch", ">= 1"),
    ("matrix-sensing:small[kappa=0.5]", "kappa", ">= 1"),
    ("halfspace-blobs:small[reg=0]", "reg", "> 0"),
    ("halfspace-sym:small[reg=-1e-3]", "reg", ">= 0"),
    ("tensor:small[oracle=population]", "oracle", "finite | ica"),
    ("tensor:small[saddle=1]", "saddle", ">= 2"),
    ("reddi2d:canonical[init_delta=-1]", "init_delta", ">= 0"),
    ("phase-retrieval:small[init=random]", "init", "saddle | exact | paper"),
    ("deep-linear:small[saddle=right]", "saddle", "wrong | zero"),
]
# combinations the family refuses (size-dependent ranges, options another option ignores)
BAD_COMBINATIONS = [
    ("quad-saddle:xl[rotate=true]", "rotate"),
    ("tensor:small[saddle=11]", "saddle"),
    ("phase-retrieval:small[init=paper,init_delta=0.1]", "init_delta"),
    ("mlp-digits:small[init=exact,init_delta=0.5]", "init_delta"),
    ("deep-linear:small[init=exact,init_delta=0.5]", "init_delta"),
]


@pytest.mark.parametrize("problem_id,option,allowed", BAD)
def test_bad_option_value_is_a_clear_error(problem_id, option, allowed):
    family = problem_id.split(":")[0]
    with pytest.raises(ProblemOptionError) as info:
        canonical_id(problem_id)
    message = str(info.value)
    assert f"option {option}=" in message
    assert f"allowed {allowed}" in message
    assert f"bench list problems --family {family}" in message  # where the fix is documented
    assert isinstance(info.value, ValueError) and isinstance(info.value, UnknownProblemError)
    with pytest.raises(ProblemOptionError):
        make_problem(problem_id)


@pytest.mark.parametrize("problem_id,option", BAD_COMBINATIONS)
def test_bad_option_combination_is_a_clear_error(problem_id, option):
    with pytest.raises(ProblemOptionError, match=option) as info:
        canonical_id(problem_id)
    assert "bench list problems --family" in str(info.value)


def test_direct_construction_checks_options_too():
    with pytest.raises(ProblemOptionError, match="batch"):
        QuadSaddle("small", batch=0)


def test_unknown_option_suggests_the_close_name():
    with pytest.raises(UnknownProblemError, match="Did you mean batch"):
        canonical_id("quad-saddle:small[bacth=2]")


def test_cli_refuses_a_bad_option_before_any_run(tmp_path, capsys):
    results = tmp_path / "results"
    code = bench_main(["run", "-q", "--optimizer", "sgd-momentum", "--problem",
                       "quad-saddle:small[batch=0]", "--seeds", "1", "--results", str(results)])
    err = capsys.readouterr().err
    assert code == 2
    assert "batch=0" in err and ">= 1" in err and "Traceback" not in err
    assert not results.exists() or not any(results.rglob("*.jsonl"))  # no run was stored


# ------------------------------------------------------------------------ canonical ids
CANONICAL = [
    ("quad-saddle:small[rotate=1]", "quad-saddle:small[rotate=true]"),
    ("quad-saddle:small[rotate=true]", "quad-saddle:small[rotate=true]"),
    ("quad-saddle:small[rotate=1.0]", "quad-saddle:small[rotate=true]"),
    ("quad-saddle:small[rotate=0]", "quad-saddle:small"),
    ("quad-saddle:small[p=10.0]", "quad-saddle:small"),
    ("quad-saddle:small[p=6.0]", "quad-saddle:small[p=6]"),
    ("quad-saddle:small[n=50.0,batch=2]", "quad-saddle:small[batch=2,n=50]"),
    ("quad-saddle:small[n=none]", "quad-saddle:small"),
    ("quad-saddle:small[mu=1]", "quad-saddle:small[mu=1.0]"),
    ("quad-saddle:small[mu=0.1,noise=aniso,batch=1]", "quad-saddle:small"),
    ("quad-saddle[noise=iso]", "quad-saddle:small[noise=iso]"),
    ("tensor:small[saddle=2.0]", "tensor:small"),
    ("tensor:small[saddle=10]", "tensor:small[saddle=d]"),
    ("tensor:medium[saddle=3]", "tensor:medium[saddle=3]"),
    ("matrix-sensing:small[kappa=2]", "matrix-sensing:small[kappa=2.0]"),
    ("deep-linear:small[init_delta=1e-4]", "deep-linear:small"),
    ("deep-linear:small[init=small,init_delta=0.001]", "deep-linear:small[init=small]"),
    ("deep-linear:small[init_delta=0]", "deep-linear:small[init=exact]"),
    ("phase-retrieval:small[init_delta=0]", "phase-retrieval:small[init=exact]"),
    ("mlp-digits:small[init_delta=0]", "mlp-digits:small[init=exact]"),
]


@pytest.mark.parametrize("given,canonical", CANONICAL)
def test_canonical_ids(given, canonical):
    assert canonical_id(given) == canonical
    assert canonical_id(canonical) == canonical  # a fixed point


@pytest.mark.parametrize("given,canonical", [c for c in CANONICAL if ":xl" not in c[0]][::3])
def test_problem_id_is_the_canonical_id(given, canonical):
    assert make_problem(given).id == canonical


@pytest.mark.parametrize("a,b", [
    ("phase-retrieval:small[init_delta=0]", "phase-retrieval:small[init=exact]"),
    ("deep-linear:small[init_delta=0.0001]", "deep-linear:small"),
    ("deep-linear:small[init_delta=0]", "deep-linear:small[init=exact]"),
    ("mlp-digits:small[init_delta=0]", "mlp-digits:small[init=exact]"),
    ("tensor:small[saddle=10]", "tensor:small[saddle=d]"),
])
def test_spellings_that_collapse_are_the_same_instance(a, b):
    pa, pb = make_problem(a), make_problem(b)
    assert torch.equal(pa.initial_point(4), pb.initial_point(4))
    assert torch.equal(pa.saddle.point, pb.saddle.point)


# ------------------------------------------------------------------------ declarations
@pytest.mark.parametrize("family", sorted(families()))
def test_every_option_is_declared_with_help(family):
    check_options(family)
    rows = option_table(family)
    assert [r["option"] for r in rows] == sorted(families()[family].options)
    for row in rows:
        assert all(row[k].strip() for k in ("type", "default", "range", "meaning")), row


def test_register_refuses_an_undeclared_option(refuses_registration):
    class Bare(QuadSaddle):
        """A family whose option is a bare default."""

        family = "bare-option-test"
        options = {"batch": 1}

    refuses_registration(Bare, "must be declared as")


def test_option_coercion_rules():
    opt = Option(int, 1, min=1, help="x")
    assert opt.coerce("f", "batch", 3.0) == 3 and isinstance(opt.coerce("f", "batch", 3.0), int)
    for bad in (2.5, True, "two", float("inf"), 0):
        with pytest.raises(ProblemOptionError):
            opt.coerce("f", "batch", bad)
    flag = Option(bool, False, help="x")
    assert flag.coerce("f", "rotate", 1) is True and flag.coerce("f", "rotate", 0) is False
    with pytest.raises(TypeError):
        Option(list, [], help="x")
    with pytest.raises(ValueError):
        Option(int, 1, help=" ")


def test_list_family_prints_the_options_table(capsys):
    assert bench_main(["list", "problems", "--family", "quad-saddle"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the meaning column wraps to the terminal
    for name, opt in QuadSaddle.options.items():
        assert name in out and " ".join(opt.help.split()) in out
    assert "aniso | iso | hard | cnc0" in out and "even, >= 4" in out


def test_list_unknown_family_is_an_error(capsys):
    assert bench_main(["list", "problems", "--family", "quad"]) == 2
    assert "Did you mean quad-saddle" in capsys.readouterr().err


# ------------------------------------------------------------------------ init_delta, per family
# How each family uses init_delta, as its option help says:
#   "unnormalized": w_0 = w_s + delta * zeta, zeta ~ N(0, I) from the init seed;
#   "exact length": w_0 = w_s + delta * zeta/||zeta||;
#   "rms": w_0 = w_s + delta * zeta/sqrt(d).
INIT_DELTA = {
    "reddi2d:canonical": ("unnormalized", "NOT normalized"),
    "quad-saddle:small": ("unnormalized", "NOT normalized"),
    "halfspace-blobs:small": ("unnormalized", "NOT normalized"),
    "deep-linear:small": ("unnormalized", "NOT normalized"),
    "tensor:small": ("exact length", "distance exactly init_delta"),
    "phase-retrieval:small": ("exact length", "distance exactly init_delta"),
    "halfspace-sym:small": ("exact length", "distance exactly init_delta"),
    "mlp-digits:small": ("rms", "zeta/sqrt(d)"),
}


def test_every_family_with_init_delta_is_covered():
    with_delta = {name for name, cls in families().items() if "init_delta" in cls.options}
    assert with_delta == {pid.split(":")[0] for pid in INIT_DELTA}


@pytest.mark.parametrize("problem_id", sorted(INIT_DELTA))
def test_init_delta_does_what_its_help_says(problem_id):
    kind, phrase = INIT_DELTA[problem_id]
    family = problem_id.split(":")[0]
    assert phrase in families()[family].options["init_delta"].help
    delta, seed = 0.3, 7
    p = make_problem(f"{problem_id}[init_delta={delta}]")
    w0 = p.initial_point(seed).numpy()
    w_s = make_problem(problem_id).saddle.point.numpy()
    zeta = rng(seed, INIT_STREAM).standard_normal(p.dim)
    step = {"unnormalized": delta * zeta, "exact length": delta * zeta / np.linalg.norm(zeta),
            "rms": delta * zeta / np.sqrt(p.dim)}[kind]
    np.testing.assert_allclose(w0, w_s + step, rtol=1e-12, atol=1e-14)
