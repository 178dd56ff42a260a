"""Per-family step sizes that entries take as hyperparameters (SPEC.md Part A), for the families
other than reddi2d / quad-saddle (those are written out in each entry).

``STEP``: the SGD step size of SPEC Part A for the family's default (small) size, a starting
point for the step-size hyperparameters, not a tuned value and not a problem fact. Problem
constants (the certificate's eps_g / eps_h, smoothness L, Hessian-Lipschitz rho) are NOT here:
entries read them from ``closure.facts`` at their first step, for the instance actually run.
"""

STEP = {
    "tensor": 1e-3,
    "halfspace-sym": 0.5,
    "halfspace-blobs": 0.5,
    "matrix-sensing": 5e-3,
    "phase-retrieval": 5e-4,
    "deep-linear": 1e-2,
    "mlp-digits": 0.1,
}


def per_family(make):
    """{family: make(step)} over the families above."""
    return {fam: make(STEP[fam]) for fam in STEP}
