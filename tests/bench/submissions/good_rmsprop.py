"""A well-formed submission (tests/bench/test_validate.py): RMSProp at a step that certifies
both smoke problems in a few hundred calls."""

import torch

from optimizers.base import Entry, LogUniform

ENTRY = Entry(
    name="good-rmsprop",
    optimizer=torch.optim.RMSprop,
    defaults={"lr": 3e-3},
    search_space={"lr": LogUniform(1e-4, 1e-1)},
    summary="RMSProp (torch.optim.RMSprop), a test submission",
    authors="Tieleman, Hinton",
    paper="Lecture 6.5 - RMSProp, COURSERA: Neural Networks for Machine Learning, 2012",
    license="BSD-3-Clause (PyTorch)",
)
