r"""SGD (SPEC.md B1): :math:`w_{t+1} = w_t - \eta g_t`, g_t a minibatch gradient.

Reference: Robbins & Monro 1951; ``torch.optim.SGD``.
"""

import torch

from optimizers.base import Entry

ENTRY = Entry(
    name="sgd",
    optimizer=torch.optim.SGD,
    defaults={"lr": 1e-3},
    family_hparams={
        "reddi2d": {"lr": 5e-4},
        "quad-saddle": {"lr": 5e-4},
        "tensor": {"lr": 0.0001},
        "phase-retrieval": {"lr": 0.0002},
        "matrix-sensing": {"lr": 0.001},
        "halfspace-sym": {"lr": 0.05},
        "halfspace-blobs": {"lr": 0.05},
        "deep-linear": {"lr": 0.01},
        "mlp-digits": {"lr": 0.1},
    },
    summary="Plain stochastic gradient descent (torch.optim.SGD).",
    authors="Robbins, Monro",
    paper="A stochastic approximation method. Ann. Math. Statist. 1951",
    url="https://pytorch.org/docs/stable/generated/torch.optim.SGD.html",
    license="BSD-3-Clause (PyTorch)",
    spec_section="B1",
    elementwise=True,
)
