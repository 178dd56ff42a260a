import math

import pytest

from bench.spec import SpecError, expand_sweep, format_spec, parse_spec


def test_parse_and_format_round_trip():
    name, hp = parse_spec("sgd-momentum[momentum=0.9,lr=0.01,nesterov=true,betas=(0.9,0.99)]")
    assert name == "sgd-momentum"
    assert hp == {"lr": 0.01, "momentum": 0.9, "nesterov": True, "betas": (0.9, 0.99)}
    assert parse_spec(format_spec(name, hp)) == (name, hp)


def test_plain_name_and_strings():
    assert parse_spec("adam") == ("adam", {})
    assert parse_spec("pgd[mode=theory]") == ("pgd", {"mode": "theory"})


def test_sweep_expands_lists_only():
    points = expand_sweep({"lr": [1e-3, 1e-2], "momentum": [0.5, 0.9], "betas": (0.9, 0.99)})
    assert len(points) == 4
    assert all(p["betas"] == (0.9, 0.99) for p in points)


@pytest.mark.parametrize("bad", ["sgd[lr]", "sgd[lr=0.1", "sgd[=1]", "sgd[lr=0.1,lr=0.2]", "[lr=1]",
                                 "sgd[lr=1)]", "sgd[lr=@@]"])
def test_malformed_specs_raise(bad):
    with pytest.raises(SpecError):
        parse_spec(bad)


def test_nan_parses_to_float():
    assert math.isnan(parse_spec("sgd[lr=nan]")[1]["lr"])
