r"""AMSGrad in the torch form (SPEC.md B8; ``torch.optim.Adam(amsgrad=True)``): Adam with
:math:`v^{max}_t=\max(v^{max}_{t-1}, v_t)` in the denominator.

Reference: Reddi, Kale, Kumar, "On the convergence of Adam and beyond", ICLR 2018.
"""

import torch

from optimizers.base import Entry

ENTRY = Entry(
    name="amsgrad",
    optimizer=torch.optim.Adam,
    defaults={"lr": 1e-3, "amsgrad": True},
    family_hparams={
        "reddi2d": {"lr": 1e-3, "amsgrad": True},
        "quad-saddle": {"lr": 1e-3, "amsgrad": True},
        "tensor": {"lr": 0.001, "amsgrad": True},
        "phase-retrieval": {"lr": 0.003, "amsgrad": True},
        "matrix-sensing": {"lr": 0.003, "amsgrad": True},
        "halfspace-sym": {"lr": 0.01, "amsgrad": True},
        "halfspace-blobs": {"lr": 0.01, "amsgrad": True},
        "deep-linear": {"lr": 0.003, "amsgrad": True},
        "mlp-digits": {"lr": 0.001, "amsgrad": True},
    },
    summary="AMSGrad (torch.optim.Adam with amsgrad=True).",
    authors="Reddi, Kale, Kumar",
    paper="On the convergence of Adam and beyond. ICLR 2018",
    url="https://openreview.net/forum?id=ryQu7f-RZ",
    license="BSD-3-Clause (PyTorch)",
    spec_section="B8",
    elementwise=True,
)
