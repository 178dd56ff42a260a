"""Batched rows: a problem evaluated at S points at once, one point (and one sample) per row.

The harness runs S seeds of one (entry, instance) as one (S, d) tensor. :class:`BatchedRows`
(a base of :class:`~problems.base.Problem`) gives every problem the ``*_rows`` methods:

* exact: ``loss_rows(W) -> (S,)``, ``grad_rows(W) -> (S, d)``,
  ``loss_grad_rows(W) -> ((S,), (S, d))``, ``hvp_rows(W, V) -> (S, d)``;
* stochastic: ``sample_loss_grad_rows(W, samples)``, ``sample_loss_rows(W, samples)``,
  ``sample_hvp_rows(W, V, samples)``, where ``samples[i]`` is one call's sample, shaped like
  ``draw(gen, 1)[0]``, and is used for row i only.

Contract:

1. **Row independence, bitwise.** Row i of a result depends on ``W[i]`` (``V[i]``,
   ``samples[i]``) only: not in any bit on the other rows, their number or their order. Plain
   torch kernels do not give this (measured on the CPU build here, MKL and AVX512): a BLAS
   product (M, K) @ (K, N) gives row i other bits for M = 8 than for M = 256 at K = N = 1000,
   and for M = 8 than for M = 13 in float32 with a transposed right factor; ``bmm`` splits its
   batch over threads; ``torch.sigmoid`` and ``pow`` (exponents other than 2 and 3) round the
   vectorized body and the scalar tail of a tensor differently, so an element's bits depend on
   its position. So the hooks build products only with :func:`rows_matmul` (BLAS on blocks of exactly
   BLOCK rows) and :func:`rows_bmm` (multiply and sum), integer powers with :func:`ipow` and the
   logistic function with :func:`sigmoid`. Elementwise arithmetic, ``exp``, ``log``, ``tanh``,
   ``logsumexp``, ``softmax`` and reductions along a row were measured row-safe (1 and 2
   threads, float64 and float32); tests/problems/test_batched.py checks every family at
   S = 1, 3, 8, 13 and a shuffled 37. (Padding every batch to 8 rows is not needed on top: the
   helpers block their own products, and the tests pass at S = 1.)
2. **Speed.** Families override the protected hooks ``_loss_rows``, ``_grad_rows``,
   ``_loss_grad_rows``, ``_hvp_rows``, ``_sample_loss_grad_rows``, ``_sample_loss_rows``,
   ``_sample_hvp_rows`` with one batched computation for all rows. The defaults here loop over
   the rows with the single-w methods (``torch.stack``): row-independent by construction, but
   S Python calls (``_loss_grad_rows`` and ``_sample_loss_rows`` default to the other hooks).
3. **Agreement.** Row i equals the single-w method at ``W[i]`` up to rounding (the batched
   code sums in another order; tests use rtol = atol / scale = 1e-12 in float64); bitwise where
   the single-w gradient is elementwise in correctly rounded operations (reddi2d, quad-saddle
   without rotation and with p = 10).
4. Results follow W's dtype and device and carry no autograd graph (inputs are detached).
"""

from __future__ import annotations

import math

import torch

BLOCK = 8  # rows per BLAS call in rows_matmul: every row goes through an (8, K) @ (K, N) product
BCAST_MAX = 512  # K * N at or below which rows_matmul multiplies and sums instead of calling BLAS
BCAST_CHUNK = 1 << 22  # elements of the broadcast product materialized at once


def ipow(x: torch.Tensor, k: int) -> torch.Tensor:
    """x**k for an integer k >= 1 by repeated multiplication (torch.pow's vectorized body and
    scalar tail round differently for most exponents)."""
    if k < 1:
        raise ValueError(f"ipow needs k >= 1, got {k}")
    result, base = None, x
    while True:
        if k & 1:
            result = base if result is None else result * base
        k >>= 1
        if not k:
            return result
        base = base * base


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """1 / (1 + exp(-x)): the same bits wherever x sits in a tensor (torch.sigmoid's are not)."""
    return 1.0 / (1.0 + torch.exp(-x))


def rows_matmul(X: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """``X @ B`` for X (..., K) and a shared B (K, N), each row of X computed on its own.

    Small products (K N <= BCAST_MAX) multiply and sum along K (a row reduction); larger ones
    call BLAS on blocks of exactly BLOCK rows (zero rows pad the last block), the one product
    shape measured to give every row the same bits whatever its block and position in it."""
    lead, K = X.shape[:-1], X.shape[-1]
    N = B.shape[-1]
    X2 = X.reshape(-1, K).contiguous()
    R = X2.shape[0]
    if K * N <= BCAST_MAX:
        Bt = B.T.contiguous()
        step = max(1, BCAST_CHUNK // max(1, K * N))
        parts = [(X2[i:i + step, None, :] * Bt).sum(-1) for i in range(0, max(R, 1), step)]
        out = parts[0] if len(parts) == 1 else torch.cat(parts)
        return out.reshape(*lead, N)
    pad = (-R) % BLOCK
    if pad:
        X2 = torch.cat([X2, X2.new_zeros(pad, K)])
    out = torch.cat([X2[i:i + BLOCK] @ B for i in range(0, R + pad, BLOCK)])
    return out[:R].reshape(*lead, N)


def rows_bmm(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """``A @ B`` for per-row matrices A (..., a, k) and B (..., k, c) (leading dims broadcast),
    by multiplying and summing along k: no BLAS, so no dependence on the batch. The product
    (..., a, c, k) is materialized in chunks of its first dim of about BCAST_CHUNK elements."""
    A = A.contiguous().unsqueeze(-2)  # (..., a, 1, k)
    Bt = B.transpose(-1, -2).contiguous().unsqueeze(-3)  # (..., 1, c, k)
    shape = torch.broadcast_shapes(A.shape, Bt.shape)
    per_row = math.prod(shape[1:])
    step = max(1, BCAST_CHUNK // max(1, per_row))
    if len(shape) < 4 or step >= shape[0]:
        return (A * Bt).sum(-1)
    A = A.expand(*shape[:-2], 1, shape[-1])
    Bt = Bt.expand(*shape[:-3], 1, *shape[-2:])
    return torch.cat([(A[i:i + step] * Bt[i:i + step]).sum(-1) for i in range(0, shape[0], step)])


def rows_sum(X: torch.Tensor) -> torch.Tensor:
    """``X.sum(-1)``, added up column by column for rows of at most 4 numbers (the reduction
    kernel costs about 10 us on a (256, 2) tensor, an addition about 1 us)."""
    n = X.shape[-1]
    if not 0 < n <= 4:
        return X.sum(-1)
    out = X[..., 0]
    for j in range(1, n):
        out = out + X[..., j]
    return out


def rows_dot(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Row-wise inner products (..., d) x (..., d) -> (...)."""
    return rows_sum(X * Y)


def _stack(values) -> torch.Tensor:
    return torch.stack(list(values))


# defaults that call other hooks (a family overriding those gets a batched default)
_COMPOSED = {"_loss_grad_rows": ("_loss_rows", "_grad_rows"),
             "_sample_loss_rows": ("_sample_loss_grad_rows",)}


class BatchedRows:
    """The ``*_rows`` methods of :class:`~problems.base.Problem` (contract: module docstring).

    Public methods validate shapes, call the protected hook and slice its result back to S rows;
    families override the hooks, never the public methods. A family's hook receives contiguous,
    detached tensors with the batch's R rows and returns R rows.
    """

    dim: int

    # ------------------------------------------------------------------ public
    def loss_rows(self, W: torch.Tensor) -> torch.Tensor:
        """f(W[i]) for every row: (S,)."""
        return self._apply_rows("_loss_rows", W)

    def grad_rows(self, W: torch.Tensor) -> torch.Tensor:
        """grad f(W[i]) for every row: (S, d)."""
        return self._apply_rows("_grad_rows", W)

    def loss_grad_rows(self, W: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(f(W[i]), grad f(W[i])) for every row: ((S,), (S, d))."""
        return self._apply_rows("_loss_grad_rows", W)

    def hvp_rows(self, W: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
        """Hess f(W[i]) V[i] for every row (exact, full): (S, d)."""
        return self._apply_rows("_hvp_rows", W, V)

    def sample_loss_grad_rows(self, W: torch.Tensor,
                              samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(f_B(W[i]), grad f_B(W[i])) with B = samples[i] for every row: ((S,), (S, d))."""
        return self._apply_rows("_sample_loss_grad_rows", W, samples=samples)

    def sample_loss_rows(self, W: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
        """f_B(W[i]) with B = samples[i] for every row: (S,)."""
        return self._apply_rows("_sample_loss_rows", W, samples=samples)

    def sample_hvp_rows(self, W: torch.Tensor, V: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
        """Hess f_B(W[i]) V[i] with B = samples[i] for every row: (S, d)."""
        return self._apply_rows("_sample_hvp_rows", W, V, samples)

    # ------------------------------------------------------------------ hooks (loop defaults)
    def _loss_rows(self, W):
        return _stack(self.loss(w) for w in W)

    def _grad_rows(self, W):
        return _stack(self.grad(w) for w in W)

    def _loss_grad_rows(self, W):
        return self._loss_rows(W), self._grad_rows(W)

    def _hvp_rows(self, W, V):
        return _stack(self.hvp(w, v) for w, v in zip(W, V))

    def _sample_loss_grad_rows(self, W, samples):
        pairs = [self.sample_loss_grad(w, s) for w, s in zip(W, samples)]
        return _stack(p[0] for p in pairs), _stack(p[1] for p in pairs)

    def _sample_loss_rows(self, W, samples):
        return self._sample_loss_grad_rows(W, samples)[0]

    def _sample_hvp_rows(self, W, V, samples):
        return _stack(self.sample_hvp(w, v, s) for w, v, s in zip(W, V, samples))

    # ------------------------------------------------------------------ machinery
    def _apply_rows(self, name: str, W: torch.Tensor, V: torch.Tensor | None = None,
                    samples: torch.Tensor | None = None):
        if W.ndim != 2 or W.shape[1] != self.dim:
            raise ValueError(f"{self!r}: W must have shape (S, {self.dim}), got {tuple(W.shape)}")
        S = W.shape[0]
        args = [W.detach().contiguous()]
        if V is not None:
            if V.shape != W.shape:
                raise ValueError(f"{self!r}: V must have W's shape {tuple(W.shape)}, got {tuple(V.shape)}")
            args.append(V.detach().contiguous())
        if samples is not None:
            if samples.ndim < 1 or samples.shape[0] != S:
                raise ValueError(f"{self!r}: samples must have S = {S} rows (one call's sample per "
                                 f"row), got shape {tuple(samples.shape)}")
            args.append(samples.detach().contiguous())
        out = getattr(self, name)(*args)
        if isinstance(out, tuple):
            return tuple(o[:S].detach().to(device=W.device, dtype=W.dtype) for o in out)
        return out[:S].detach().to(device=W.device, dtype=W.dtype)
