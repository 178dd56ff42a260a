"""Per-family facts that entries take as hyperparameters (SPEC.md Part A), for the families other
than reddi2d / quad-saddle (those are written out in each entry).

``STEP``: the SGD step size of SPEC Part A for the family's default (small) size; ``EPS``:
(eps_g, eps_h) of the small instance (the certificate's thresholds). An entry that needs a
smoothness constant uses L-hat = 1/(2 STEP), i.e. its GD step equals the SPEC step.
These are starting points, not tuned values.
"""

STEP = {
    "tensor": 1e-3,          # A2.1: 0.01/d, d=10
    "halfspace-sym": 0.5,    # A3
    "halfspace-blobs": 0.5,  # A3
    "matrix-sensing": 5e-3,  # A4 small
    "phase-retrieval": 5e-4,  # A5: 5e-3/d, d=10
    "deep-linear": 1e-2,     # A6.1
    "mlp-digits": 0.1,       # A6.2, batch 1
}

EPS = {
    "tensor": (0.96, 0.5),
    "halfspace-sym": (8.7e-4, 1.2e-3),
    "halfspace-blobs": (2.6e-3, 1e-3),
    "matrix-sensing": (1e-4, 0.2186),
    "phase-retrieval": (1e-3, 0.8),
    "deep-linear": (4.6, 0.2),
    "mlp-digits": (1e-3, 0.024),
}

def per_family(make):
    """{family: make(step, eps_g, eps_h)} over the families above."""
    return {fam: make(STEP[fam], *EPS[fam]) for fam in STEP}
