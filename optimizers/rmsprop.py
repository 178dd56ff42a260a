r"""RMSProp (SPEC.md B7; ``torch.optim.RMSprop``):
:math:`v_t=\alpha v_{t-1}+(1-\alpha)g_t^2,\ w\leftarrow w-\eta\,g_t/(\sqrt{v_t}+\epsilon)`.

Reference: Tieleman & Hinton 2012 (Coursera lecture 6.5); Staib et al., ICML 2019.
"""

import torch

from optimizers.base import Entry

ENTRY = Entry(
    name="rmsprop",
    optimizer=torch.optim.RMSprop,
    defaults={"lr": 1e-3},
    family_hparams={
        "reddi2d": {"lr": 1e-3},
        "quad-saddle": {"lr": 1e-3},
        "tensor": {"lr": 0.001},
        "phase-retrieval": {"lr": 0.003},
        "matrix-sensing": {"lr": 0.003},
        "halfspace-sym": {"lr": 0.01},
        "halfspace-blobs": {"lr": 0.01},
        "deep-linear": {"lr": 0.003},
        "mlp-digits": {"lr": 0.001},
    },
    summary="RMSProp, diagonal, not centered, no momentum (torch.optim.RMSprop).",
    authors="Tieleman, Hinton",
    paper="Lecture 6.5 - RMSProp. COURSERA: Neural networks for machine learning, 2012",
    url="https://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf",
    license="BSD-3-Clause (PyTorch)",
    spec_section="B7",
    elementwise=True,
)
