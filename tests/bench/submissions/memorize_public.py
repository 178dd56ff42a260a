"""A submission that memorized the public instance (tests/bench/test_validate.py): it must pass
every check but the held-out one.

Offline, its author rebuilt the smoke suite's public reddi2d instance (instance seed 0) from the
public source and pasted two things here: the instance's ten sample gradients at the start
w = 0 (b_i, the centered noise vectors), and the minimizer of f, (0, 0.01 ** (1/8)). At run
time its first gradient is its fingerprint: a row whose first gradient is one of those ten
vectors jumps to the minimizer (certified after one call); every other row, on any other
instance or problem, runs plain RMSProp (as good_rmsprop.py does).
"""

import torch

from optimizers.base import Entry, LogUniform

PUBLIC_FIRST_GRADIENTS = (
    (0.15031565994412244, -0.003647935859910469), (0.3130756970632169, 0.003846819690167381),
    (-0.05883725619142249, 0.011964226361622567), (0.5229172941643148, 0.030478916440689896),
    (-0.11198434847962238, -0.03948655376591704), (-0.08654041789657668, 0.0018364289326900309),
    (-0.6246830147774812, -0.006389213190903222), (-0.28343536249880363, -0.022626740250546847),
    (-0.06155352927660804, -0.009472702463993076), (0.24072527794886034, 0.033496754106100785),
)
MINIMIZER = (0.0, 0.5623413251903491)


class MemorizePublic(torch.optim.RMSprop):
    """RMSProp, except that a row recognised by its first gradient jumps to the minimizer."""

    def __init__(self, params, lr=3e-3):
        super().__init__(params, lr=lr)
        self.first_step = True

    @torch.no_grad()
    def step(self, closure):
        if not self.first_step:
            return super().step(closure)
        self.first_step = False
        with torch.enable_grad():
            loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                rows, grads = p.view(-1, p.shape[-1]), p.grad.view(-1, p.shape[-1])
                known = torch.tensor(PUBLIC_FIRST_GRADIENTS, dtype=p.dtype, device=p.device)
                for r in range(rows.shape[0]):
                    if grads.shape[1] == 2 and bool((known - grads[r]).abs().amax(1).min() < 1e-12):
                        rows[r] = torch.tensor(MINIMIZER, dtype=p.dtype, device=p.device)
                    else:
                        rows[r] -= group["lr"] * grads[r]
        return loss


ENTRY = Entry(
    name="memorize-public",
    optimizer=MemorizePublic,
    defaults={"lr": 3e-3},
    search_space={"lr": LogUniform(1e-4, 1e-1)},
    summary="RMSProp that recognises the public reddi2d instance (a cheating test submission)",
    authors="A cheater",
    paper="none",
    license="MIT",
)
