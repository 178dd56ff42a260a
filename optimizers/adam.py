r"""Adam (``torch.optim.Adam``):
:math:`m_t=\beta_1 m_{t-1}+(1-\beta_1)g_t,\ v_t=\beta_2 v_{t-1}+(1-\beta_2)g_t^2,\
w \leftarrow w-\eta\,\hat m_t/(\sqrt{\hat v_t}+\epsilon)` with bias corrections.

Reference: Kingma & Ba, ICLR 2015; Staib et al., ICML 2019 (adaptive methods escape saddles).
"""

import torch

from optimizers.base import Entry, LogUniform

ENTRY = Entry(
    name="adam",
    optimizer=torch.optim.Adam,
    # torch.optim.Adam's defaults (lr 1e-3, betas (0.9, 0.999), eps 1e-8; Kingma & Ba)
    defaults={"lr": 1e-3},
    # adaptive step (per-coordinate normalized): three decades around the torch default
    search_space={"lr": LogUniform(1e-4, 1e-1)},
    summary="Adam with bias correction (torch.optim.Adam).",
    authors="Kingma, Ba",
    paper="Adam: A method for stochastic optimization. ICLR 2015",
    url="https://arxiv.org/abs/1412.6980",
    license="BSD-3-Clause (PyTorch)",
    elementwise=True,
)
