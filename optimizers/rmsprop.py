r"""RMSProp (``torch.optim.RMSprop``):
:math:`v_t=\alpha v_{t-1}+(1-\alpha)g_t^2,\ w\leftarrow w-\eta\,g_t/(\sqrt{v_t}+\epsilon)`.

Reference: Tieleman & Hinton 2012 (Coursera lecture 6.5); Staib et al., ICML 2019.
"""

import torch

from optimizers.base import Entry, LogUniform

ENTRY = Entry(
    name="rmsprop",
    optimizer=torch.optim.RMSprop,
    # torch.optim.RMSprop's defaults (lr 1e-2, alpha 0.99, eps 1e-8)
    defaults={"lr": 1e-2},
    # adaptive step (per-coordinate normalized): three decades around the torch default
    search_space={"lr": LogUniform(1e-4, 1e-1)},
    summary="RMSProp, diagonal, not centered, no momentum (torch.optim.RMSprop).",
    authors="Tieleman, Hinton",
    paper="Lecture 6.5 - RMSProp. COURSERA: Neural networks for machine learning, 2012",
    url="https://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf",
    license="BSD-3-Clause (PyTorch)",
    elementwise=True,
)
