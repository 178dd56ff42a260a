"""check_hparams: hyperparameter names and value types checked against the constructor."""

import pytest
import torch

from bench.entries import EntryError, build_optimizer, check_hparams, load_here, resolve_entry


class Lion(torch.optim.Optimizer):
    """Named hyperparameters plus **kwargs that swallow anything else (like pytorch_optimizer)."""

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, **kwargs):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))


class OnlyKwargs(torch.optim.Optimizer):
    """Exposes its hyperparameters only through ``defaults``."""

    def __init__(self, params, **kwargs):
        super().__init__(params, {"lr": 0.1, "momentum": 0.0, "nesterov": False, **kwargs})


class WrappedSGD(torch.optim.SGD):
    def __init__(self, params, warmup: int = 10, **kwargs):
        super().__init__(params, **kwargs)


def lion_factory(params, **kwargs):
    return Lion(params, **kwargs)


@pytest.mark.parametrize("target", [Lion, lion_factory])
def test_unknown_name_for_kwargs_constructor_is_refused_listing_accepted_names(target):
    with pytest.raises(EntryError) as err:
        check_hparams(target, {"lrr": 1e-3}, label="pytorch_optimizer:Lion[lrr=0.001]")
    msg = str(err.value)
    assert "pytorch_optimizer:Lion[lrr=0.001]" in msg and "lrr" in msg
    assert "accepted: betas, lr, weight_decay" in msg and "--allow-unknown-hparams" in msg
    check_hparams(target, {"lrr": 1e-3}, allow_unknown=True)  # the user insists


def test_names_exposed_only_through_defaults():
    check_hparams(OnlyKwargs, {"lr": 0.5, "momentum": 0.9})
    with pytest.raises(EntryError, match="momentm.*accepted: lr, momentum, nesterov.*Did you mean momentum"):
        check_hparams(OnlyKwargs, {"momentm": 0.9})
    with pytest.raises(EntryError, match="lr=abc is a string, but lr must be a real number"):
        check_hparams(OnlyKwargs, {"lr": "abc"})
    with pytest.raises(EntryError, match="nesterov must be true or false"):
        check_hparams(OnlyKwargs, {"nesterov": 1})


def test_init_chain_is_followed_through_kwargs():
    check_hparams(WrappedSGD, {"warmup": 5, "momentum": 0.9, "nesterov": True})
    with pytest.raises(EntryError, match="warmup must be an integer"):
        check_hparams(WrappedSGD, {"warmup": 2.5})
    with pytest.raises(EntryError, match="momentum must be a real number"):
        check_hparams(WrappedSGD, {"momentum": True})
    with pytest.raises(EntryError, match="accepted: .*momentum.*warmup"):
        check_hparams(WrappedSGD, {"momentun": 0.9})


def test_unknown_name_without_kwargs_is_refused_even_when_allowed():
    with pytest.raises(EntryError, match="lrr"):
        check_hparams(torch.optim.SGD, {"lrr": 0.1}, allow_unknown=True)


@pytest.mark.parametrize("hparams, want", [
    ({"lr": "abc"}, "a real number"), ({"lr": True}, "a real number"), ({"lr": None}, "a real number"),
    ({"betas": (0.9,)}, "a tuple of 2 numbers"), ({"betas": (0.9, "x")}, "a tuple of 2 numbers"),
    ({"betas": 0.9}, "a tuple of 2 numbers"), ({"amsgrad": 1}, "true or false"),
    ({"amsgrad": "yes"}, "true or false"),
])
def test_value_types_follow_the_defaults(hparams, want):
    with pytest.raises(EntryError, match=want):
        check_hparams(torch.optim.Adam, hparams, label="adam")


def test_good_values_pass():
    check_hparams(torch.optim.Adam, {"lr": 1, "betas": (0.9, 0.99), "amsgrad": True, "weight_decay": 0.1})
    check_hparams(torch.optim.Adam, {"foreach": False})  # None default accepts anything


def test_build_optimizer_checks_and_passes_allow_unknown():
    w = torch.zeros(3, requires_grad=True)
    with pytest.raises(EntryError, match="real number"):
        build_optimizer(load_here(resolve_entry("sgd[lr=true]")[0]), [w], "reddi2d")
    opt = build_optimizer(load_here(resolve_entry("sgd[lr=0.1]")[0]), [w], "reddi2d")
    assert opt.defaults["lr"] == 0.1


def test_every_builtin_entry_passes_its_own_defaults():
    from bench.entries import check_choice
    from optimizers import discover
    from problems import families

    for name in discover():
        choice = load_here(resolve_entry(name)[0])
        for family in families():
            check_choice(choice, family)
