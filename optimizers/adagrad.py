r"""Adagrad (SPEC.md B9; ``torch.optim.Adagrad``):
:math:`s_t=s_{t-1}+g_t^2,\ w\leftarrow w-\eta\,g_t/(\sqrt{s_t}+\epsilon)`.

Reference: Duchi, Hazan, Singer, JMLR 2011.
"""

import torch

from optimizers.base import Entry

ENTRY = Entry(
    name="adagrad",
    optimizer=torch.optim.Adagrad,
    defaults={"lr": 1e-2},
    family_hparams={
        "reddi2d": {"lr": 1e-2},
        "quad-saddle": {"lr": 1e-2},
        "tensor": {"lr": 0.01},
        "phase-retrieval": {"lr": 0.03},
        "matrix-sensing": {"lr": 0.03},
        "halfspace-sym": {"lr": 0.1},
        "halfspace-blobs": {"lr": 0.1},
        "deep-linear": {"lr": 0.03},
        "mlp-digits": {"lr": 0.01},
    },
    summary="Adagrad, diagonal (torch.optim.Adagrad).",
    authors="Duchi, Hazan, Singer",
    paper="Adaptive subgradient methods for online learning and stochastic optimization. JMLR 2011",
    url="https://jmlr.org/papers/v12/duchi11a.html",
    license="BSD-3-Clause (PyTorch)",
    spec_section="B9",
    elementwise=True,
)
