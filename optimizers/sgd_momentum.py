r"""Heavy-ball momentum, PyTorch form (Wang et al. Alg. 1):
:math:`m_t = \beta m_{t-1} + g_t,\ w_{t+1} = w_t - \eta m_t`; effective step
:math:`\eta/(1-\beta)`.

Reference: Polyak 1964; Wang, Lin, Abernethy, ICLR 2020.
"""

import torch

from optimizers.base import Entry, LogUniform, Uniform

ENTRY = Entry(
    name="sgd-momentum",
    optimizer=torch.optim.SGD,
    # torch.optim.SGD's default lr (1e-3) and the usual momentum 0.9
    defaults={"lr": 1e-3, "momentum": 0.9},
    # PyTorch-form lr: the effective step is lr/(1-momentum), so at momentum 0.9 this lr range
    # (four decades, like sgd's 1e-4 .. 1) is the effective-step range 1e-4 .. 1 of sgd and spa
    search_space={"lr": LogUniform(1e-5, 1e-1), "momentum": Uniform(0.5, 0.99)},
    summary="Stochastic heavy-ball momentum in the PyTorch form (torch.optim.SGD, momentum>0).",
    authors="Polyak; Wang, Lin, Abernethy",
    paper="Escaping saddle points faster with stochastic momentum. ICLR 2020",
    url="https://openreview.net/forum?id=rkeNfp4tPr",
    license="BSD-3-Clause (PyTorch)",
    elementwise=True,
)
