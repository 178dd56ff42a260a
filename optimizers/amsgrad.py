r"""AMSGrad in the torch form (``torch.optim.Adam(amsgrad=True)``): Adam with
:math:`v^{max}_t=\max(v^{max}_{t-1}, v_t)` in the denominator.

Reference: Reddi, Kale, Kumar, "On the convergence of Adam and beyond", ICLR 2018.
"""

import torch

from optimizers.base import Entry, LogUniform

ENTRY = Entry(
    name="amsgrad",
    optimizer=torch.optim.Adam,
    # torch.optim.Adam's defaults (lr 1e-3) with amsgrad=True
    defaults={"lr": 1e-3, "amsgrad": True},
    # adaptive step (per-coordinate normalized): three decades around the torch default
    search_space={"lr": LogUniform(1e-4, 1e-1)},
    summary="AMSGrad (torch.optim.Adam with amsgrad=True).",
    authors="Reddi, Kale, Kumar",
    paper="On the convergence of Adam and beyond. ICLR 2018",
    url="https://openreview.net/forum?id=ryQu7f-RZ",
    license="BSD-3-Clause (PyTorch)",
    elementwise=True,
)
