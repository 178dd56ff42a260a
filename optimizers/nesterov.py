r"""Nesterov momentum, PyTorch form (SPEC.md B3):
:math:`b_t = \beta b_{t-1} + g_t,\ w_{t+1} = w_t - \eta (g_t + \beta b_t)`.

Reference: Sutskever, Martens, Dahl, Hinton, ICML 2013; ``torch.optim.SGD(nesterov=True)``.
"""

import torch

from optimizers.base import Entry

ENTRY = Entry(
    name="nesterov",
    optimizer=torch.optim.SGD,
    defaults={"lr": 1e-3, "momentum": 0.9, "nesterov": True},
    family_hparams={
        "reddi2d": {"lr": 5e-4, "momentum": 0.9, "nesterov": True},
        "quad-saddle": {"lr": 5e-4, "momentum": 0.9, "nesterov": True},
        "tensor": {"lr": 1e-05, "momentum": 0.9, "nesterov": True},
        "phase-retrieval": {"lr": 2e-05, "momentum": 0.9, "nesterov": True},
        "matrix-sensing": {"lr": 0.0001, "momentum": 0.9, "nesterov": True},
        "halfspace-sym": {"lr": 0.005, "momentum": 0.9, "nesterov": True},
        "halfspace-blobs": {"lr": 0.005, "momentum": 0.9, "nesterov": True},
        "deep-linear": {"lr": 0.0003, "momentum": 0.9, "nesterov": True},
        "mlp-digits": {"lr": 0.01, "momentum": 0.9, "nesterov": True},
    },
    summary="Nesterov accelerated momentum in the PyTorch form.",
    authors="Nesterov; Sutskever, Martens, Dahl, Hinton",
    paper="On the importance of initialization and momentum in deep learning. ICML 2013",
    url="https://proceedings.mlr.press/v28/sutskever13.html",
    license="BSD-3-Clause (PyTorch)",
    spec_section="B3",
    elementwise=True,
)
