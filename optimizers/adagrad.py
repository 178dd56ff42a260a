r"""Adagrad (``torch.optim.Adagrad``):
:math:`s_t=s_{t-1}+g_t^2,\ w\leftarrow w-\eta\,g_t/(\sqrt{s_t}+\epsilon)`.

Reference: Duchi, Hazan, Singer, JMLR 2011.
"""

import torch

from optimizers.base import Entry, LogUniform

ENTRY = Entry(
    name="adagrad",
    optimizer=torch.optim.Adagrad,
    # torch.optim.Adagrad's defaults (lr 1e-2, eps 1e-10)
    defaults={"lr": 1e-2},
    # three decades like adam's, one decade higher: Adagrad's denominator sqrt(sum g^2) only
    # grows, so its good steps sit about 10x above Adam's (torch defaults 1e-2 vs 1e-3)
    search_space={"lr": LogUniform(1e-3, 1.0)},
    summary="Adagrad, diagonal (torch.optim.Adagrad).",
    authors="Duchi, Hazan, Singer",
    paper="Adaptive subgradient methods for online learning and stochastic optimization. JMLR 2011",
    url="https://jmlr.org/papers/v12/duchi11a.html",
    license="BSD-3-Clause (PyTorch)",
    elementwise=True,
)
