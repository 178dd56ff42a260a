r"""SGD: :math:`w_{t+1} = w_t - \eta g_t`, g_t a minibatch gradient.

Reference: Robbins & Monro 1951; ``torch.optim.SGD``.
"""

import torch

from optimizers.base import Entry, LogUniform

ENTRY = Entry(
    name="sgd",
    optimizer=torch.optim.SGD,
    # torch.optim.SGD's default lr (1e-3)
    defaults={"lr": 1e-3},
    # the step size over four decades: contains every family's good SGD step (~1e-4 .. 0.5)
    search_space={"lr": LogUniform(1e-4, 1.0)},
    summary="Plain stochastic gradient descent (torch.optim.SGD).",
    authors="Robbins, Monro",
    paper="A stochastic approximation method. Ann. Math. Statist. 1951",
    url="https://pytorch.org/docs/stable/generated/torch.optim.SGD.html",
    license="BSD-3-Clause (PyTorch)",
    elementwise=True,
)
