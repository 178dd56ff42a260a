r"""Nesterov momentum, PyTorch form:
:math:`b_t = \beta b_{t-1} + g_t,\ w_{t+1} = w_t - \eta (g_t + \beta b_t)`.

Reference: Sutskever, Martens, Dahl, Hinton, ICML 2013; ``torch.optim.SGD(nesterov=True)``.
"""

import torch

from optimizers.base import Entry, LogUniform, Uniform

ENTRY = Entry(
    name="nesterov",
    optimizer=torch.optim.SGD,
    # torch.optim.SGD's default lr (1e-3) and the usual momentum 0.9
    defaults={"lr": 1e-3, "momentum": 0.9, "nesterov": True},
    # PyTorch-form lr: the effective step is lr/(1-momentum), so at momentum 0.9 this lr range
    # (four decades, like sgd's 1e-4 .. 1) is the effective-step range 1e-4 .. 1 of sgd and spa
    search_space={"lr": LogUniform(1e-5, 1e-1), "momentum": Uniform(0.5, 0.99)},
    summary="Nesterov accelerated momentum in the PyTorch form.",
    authors="Nesterov; Sutskever, Martens, Dahl, Hinton",
    paper="On the importance of initialization and momentum in deep learning. ICML 2013",
    url="https://proceedings.mlr.press/v28/sutskever13.html",
    license="BSD-3-Clause (PyTorch)",
    elementwise=True,
)
