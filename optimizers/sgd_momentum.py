r"""Heavy-ball momentum, PyTorch form (SPEC.md B2; Wang et al. Alg. 1):
:math:`m_t = \beta m_{t-1} + g_t,\ w_{t+1} = w_t - \eta m_t`; effective step
:math:`\eta/(1-\beta)`.

Reference: Polyak 1964; Wang, Lin, Abernethy, ICLR 2020.
"""

import torch

from optimizers.base import Entry

ENTRY = Entry(
    name="sgd-momentum",
    optimizer=torch.optim.SGD,
    defaults={"lr": 1e-3, "momentum": 0.9},
    family_hparams={
        "reddi2d": {"lr": 5e-4, "momentum": 0.9},
        "quad-saddle": {"lr": 5e-4, "momentum": 0.9},
        "tensor": {"lr": 1e-05, "momentum": 0.9},
        "phase-retrieval": {"lr": 2e-05, "momentum": 0.9},
        "matrix-sensing": {"lr": 0.0001, "momentum": 0.9},
        "halfspace-sym": {"lr": 0.005, "momentum": 0.9},
        "halfspace-blobs": {"lr": 0.005, "momentum": 0.9},
        "deep-linear": {"lr": 0.0003, "momentum": 0.9},
        "mlp-digits": {"lr": 0.01, "momentum": 0.9},
    },
    summary="Stochastic heavy-ball momentum in the PyTorch form (torch.optim.SGD, momentum>0).",
    authors="Polyak; Wang, Lin, Abernethy",
    paper="Escaping saddle points faster with stochastic momentum. ICLR 2020",
    url="https://openreview.net/forum?id=rkeNfp4tPr",
    license="BSD-3-Clause (PyTorch)",
    spec_section="B2",
    elementwise=True,
)
