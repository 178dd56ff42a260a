"""Batched rows (problems/batch.py): every registered family answers S points at once.

For every family at its smallest size, plus options that change the code path, in float64 and
float32, for each ``*_rows`` method:

* row independence, bitwise: row i of a batch of S in {1, 3, 8, 13} rows, and of a shuffled
  batch of 37 rows, equals the one-row batch ``W[i:i+1]``;
* samples: row i gets its own sample, drawn from its own generator, and only row i uses it;
* agreement with the single-w method at ``W[i]`` (and ``samples[i]``) within
  ``assert_close(rtol=TOL, atol=TOL * scale)``, scale = the largest |value| of that quantity over
  the rows: TOL = 1e-12 in float64 (different summation orders), 1e-5 in float32 (worst seen:
  1.3e-15 and 8e-7);
* shapes, dtype, and no autograd graph even when W requires grad.

Also: the public methods pad what a family's hook gets (and only that) with row 0 and sample 0;
the row-safe helpers of problems/batch.py are row-independent at 1 and 2 threads on shapes
where plain torch kernels are not; families whose single-w gradient is elementwise agree
bitwise. Seen to go red when: a hook used sample 0 for every row; the padding was dropped;
rows_matmul or rows_bmm were plain torch products; ipow was torch.pow; sigmoid was torch.sigmoid.
"""

from __future__ import annotations

import functools

import pytest
import torch

from problems import families, make_problem
from problems.batch import BatchedRows, ipow, rows_bmm, rows_matmul, sigmoid

SMALLEST = sorted(f"{name}:{next(iter(cls.sizes))}" for name, cls in families().items())
# options and sizes that take another code path: rotation (small: broadcast products; medium:
# blocked BLAS products; reddi2d's 2 x 2), options d and k, a finite sum with minibatches, population minibatches, p != 10, the
# ICA oracle, the paper instance, a deeper network, MLP minibatches.
VARIANTS = ["quad-saddle:small[rotate=true]", "quad-saddle:medium[rotate=true]",
            "quad-saddle:small[n=50,batch=3]", "quad-saddle:small[batch=3,noise=iso]",
            "quad-saddle:small[p=6]", "tensor:small[oracle=ica]", "reddi2d:paper",
            "reddi2d:canonical[rotate=true]", "quad-saddle:small[d=24,k=3]",
            "deep-linear:medium", "mlp-digits:small[batch=4]"]
PROBLEM_IDS = SMALLEST + VARIANTS
# variants whose options change only the stochastic oracle: their exact methods are not rerun
SAMPLE_ONLY = {"quad-saddle:small[n=50,batch=3]", "quad-saddle:small[batch=3,noise=iso]",
               "tensor:small[oracle=ica]", "mlp-digits:small[batch=4]"}
SIZES = (1, 3, 8, 13)
ROWS = 13  # rows checked one by one
BIG = 37  # rows of the shuffled batch (the 13 plus 24 others)
TOL = {torch.float64: 1e-12, torch.float32: 1e-5}
DTYPES = {"f64": torch.float64, "f32": torch.float32}

# method -> (batched call, single-w call); every call returns a tuple of tensors
METHODS = {
    "loss_rows": (lambda p, W, V, s: (p.loss_rows(W),),
                  lambda p, w, v, s: (p.loss(w),)),
    "grad_rows": (lambda p, W, V, s: (p.grad_rows(W),),
                  lambda p, w, v, s: (p.grad(w),)),
    "loss_grad_rows": (lambda p, W, V, s: p.loss_grad_rows(W),
                       lambda p, w, v, s: (p.loss(w), p.grad(w))),
    "hvp_rows": (lambda p, W, V, s: (p.hvp_rows(W, V),),
                 lambda p, w, v, s: (p.hvp(w, v),)),
    "sample_loss_grad_rows": (lambda p, W, V, s: p.sample_loss_grad_rows(W, s),
                              lambda p, w, v, s: p.sample_loss_grad(w, s)),
    "sample_loss_rows": (lambda p, W, V, s: (p.sample_loss_rows(W, s),),
                         lambda p, w, v, s: (p.sample_loss(w, s),)),
    "sample_hvp_rows": (lambda p, W, V, s: (p.sample_hvp_rows(W, V, s),),
                        lambda p, w, v, s: (p.sample_hvp(w, v, s),)),
}


@functools.lru_cache(maxsize=None)
def _problem(problem_id, dtype):
    return make_problem(problem_id, 0, dtype=dtype)


@functools.lru_cache(maxsize=None)
def _inputs(problem_id, dtype):
    """BIG points around the saddle at varied distances, directions V, and one sample per row,
    row k's drawn from its own generator seeded k."""
    p = _problem(problem_id, dtype)
    gen = torch.Generator().manual_seed(0)
    w_s = p.saddle.point.to(torch.float64)
    scale = max(0.3, 0.3 * float(w_s.norm()))
    z = torch.randn(BIG, p.dim, generator=gen, dtype=torch.float64)
    radius = scale * (0.5 + torch.rand(BIG, 1, generator=gen, dtype=torch.float64))
    W = (w_s + radius * z / z.norm(dim=1, keepdim=True)).to(dtype)
    V = torch.randn(BIG, p.dim, generator=gen, dtype=torch.float64).to(dtype)
    samples = torch.stack([p.draw(torch.Generator().manual_seed(k), 1)[0] for k in range(BIG)])
    return W, V, samples


def _assert_bitwise(got, want, what):
    for g, w in zip(got, want):
        if not torch.equal(g, w):
            diff = (g.double() - w.double()).abs().max().item()
            raise AssertionError(f"{what}: not bitwise equal (max abs difference {diff:.3e})")


CASES = [(pid, method) for pid in PROBLEM_IDS for method in METHODS
         if pid not in SAMPLE_ONLY or method.startswith("sample_")]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("problem_id,method", CASES)
def test_rows(problem_id, method, dtype):
    dtype = DTYPES[dtype]
    p = _problem(problem_id, dtype)
    W, V, samples = _inputs(problem_id, dtype)
    batched, single = METHODS[method]
    call = functools.partial(batched, p)

    refs = [call(W[i:i + 1], V[i:i + 1], samples[i:i + 1]) for i in range(ROWS)]
    for ref in refs:
        assert len(ref) == len(single(p, W[0], V[0], samples[0]))
        for r in ref:
            assert r.shape in ((1,), (1, p.dim)), r.shape
            assert r.dtype == dtype and not r.requires_grad

    for S in SIZES:
        out = call(W[:S], V[:S], samples[:S])
        for o, r in zip(out, refs[0]):
            assert o.shape == (S, *r.shape[1:]) and o.dtype == dtype and not o.requires_grad
        for i in range(S):
            _assert_bitwise([o[i] for o in out], [r[0] for r in refs[i]],
                            f"{problem_id} {method}: row {i} of a batch of {S} vs the row alone")

    perm = torch.randperm(BIG, generator=torch.Generator().manual_seed(1))
    out = call(W[perm], V[perm], samples[perm])
    for j, i in enumerate(perm.tolist()):
        if i < ROWS:
            _assert_bitwise([o[j] for o in out], [r[0] for r in refs[i]],
                            f"{problem_id} {method}: row {i} at position {j} of a shuffled batch of {BIG}")

    # no autograd graph, even from a W that requires grad
    out = call(W[:3].clone().requires_grad_(True), V[:3], samples[:3])
    assert not any(o.requires_grad for o in out)

    # agreement with the single-w method
    want = [single(p, W[i], V[i], samples[i]) for i in range(ROWS)]
    for k in range(len(want[0])):
        got_k = torch.stack([refs[i][k][0] for i in range(ROWS)])
        want_k = torch.stack([want[i][k].detach() for i in range(ROWS)])
        scale = float(want_k.abs().max())
        torch.testing.assert_close(got_k, want_k, rtol=TOL[dtype], atol=TOL[dtype] * scale,
                                   msg=lambda m: f"{problem_id} {method} vs the single-w method: {m}")


def test_sample_rows_use_their_own_sample():
    """Row i's result changes with samples[i] only (a hook that used sample 0 for every row
    would fail this and test_rows)."""
    p = _problem("quad-saddle:small[rotate=true]", torch.float64)
    W, _, samples = _inputs("quad-saddle:small[rotate=true]", torch.float64)
    W = W[:5]
    base = p.sample_loss_grad_rows(W, samples[:5])[1]
    changed = samples[:5].clone()
    changed[2] = samples[7]
    out = p.sample_loss_grad_rows(W, changed)[1]
    assert not torch.equal(out[2], base[2])
    assert torch.equal(out[[0, 1, 3, 4]], base[[0, 1, 3, 4]])


def test_loop_defaults_get_the_batch_unpadded():
    """The loop defaults are row-independent by construction: no padding rows to pay for."""
    p = make_problem("mlp-digits:small", 0)  # its own instance: the spy below
    assert type(p)._loss_rows is BatchedRows._loss_rows
    W = _inputs("mlp-digits:small", torch.float64)[0][:3]
    seen = []
    loss = p.loss

    def spy(w):
        seen.append(w)
        return loss(w)

    p.loss = spy
    assert p.loss_rows(W).shape == (3,)
    assert len(seen) == 3


def test_empty_batch_and_bad_shapes():
    p = make_problem("tensor:small", 0)
    W = torch.zeros(0, p.dim, dtype=torch.float64)
    assert p.loss_rows(W).shape == (0,) and p.grad_rows(W).shape == (0, p.dim)
    loss, g = p.sample_loss_grad_rows(W, p.draw(torch.Generator().manual_seed(0), 0))
    assert loss.shape == (0,) and g.shape == (0, p.dim)
    W = torch.zeros(3, p.dim, dtype=torch.float64)
    with pytest.raises(ValueError, match="W must have shape"):
        p.loss_rows(W[0])
    with pytest.raises(ValueError, match="W must have shape"):
        p.grad_rows(torch.zeros(3, p.dim + 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="V must have"):
        p.hvp_rows(W, W[:2])
    with pytest.raises(ValueError, match="samples must have"):
        p.sample_loss_rows(W, p.draw(torch.Generator().manual_seed(0), 2))


# Families whose exact oracle is heavy enough per row that the loop default is kept (see the
# comment at their class). Every other family overrides every hook whose default loops over
# the rows (the defaults of _loss_grad_rows and _sample_loss_rows call the other hooks).
LOOPED = {"mlp-digits": {"_loss_rows", "_grad_rows", "_hvp_rows"}}
LOOP_HOOKS = ["_loss_rows", "_grad_rows", "_hvp_rows", "_sample_loss_grad_rows", "_sample_hvp_rows"]


@pytest.mark.parametrize("family", sorted(families()))
def test_families_override_the_loop_hooks(family):
    cls = families()[family]
    for hook in LOOP_HOOKS:
        overridden = getattr(cls, hook) is not getattr(BatchedRows, hook)
        assert overridden != (hook in LOOPED.get(family, ())), f"{family}.{hook}"


# ---------------------------------------------------------------------------- row-safe helpers
@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


def _check_row_independent(fn, X, sizes=(8, 13, 64), checked=16):
    """fn(X[:M])[i] == fn(X[i:i+1])[0] bitwise for the first ``checked`` rows i, in batches of
    M rows and in the whole batch shuffled."""
    ref = torch.cat([fn(X[i:i + 1]) for i in range(checked)])
    for M in sizes:
        n = min(M, checked)
        assert torch.equal(fn(X[:M])[:n], ref[:n]), f"batch of {M}"
    perm = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    out = fn(X[perm])
    pos = [j for j, i in enumerate(perm.tolist()) if i < checked]
    assert torch.equal(out[pos], ref[perm[pos]]), "shuffled batch"


# Shapes where a plain BLAS product was measured to give a row other bits in a larger batch
# (float64 at K = N = 1000 from 256 rows; float32 with a transposed right factor from 13 rows).
MATMUL_CASES = [(torch.float64, 2, 2, False), (torch.float64, 10, 200, False),
                (torch.float64, 1000, 1000, False), (torch.float32, 10, 10, True),
                (torch.float32, 200, 10, True), (torch.float32, 2000, 100, True)]
MATMUL_IDS = [f"{'f64' if c[0] == torch.float64 else 'f32'}-{c[1]}x{c[2]}{'-T' if c[3] else ''}"
              for c in MATMUL_CASES]


@pytest.mark.parametrize("dtype,K,N,transposed", MATMUL_CASES, ids=MATMUL_IDS)
def test_rows_matmul_is_row_independent(threads, dtype, K, N, transposed):
    gen = torch.Generator().manual_seed(K * N)
    rows = 260 if K * N >= 10 ** 6 else 100
    X = torch.randn(rows, K, generator=gen, dtype=torch.float64).to(dtype)
    B = torch.randn(N, K, generator=gen, dtype=torch.float64).to(dtype).T if transposed else \
        torch.randn(K, N, generator=gen, dtype=torch.float64).to(dtype)
    sizes = (8, 13, 64, 260) if rows == 260 else (8, 13, 64)
    _check_row_independent(lambda x: rows_matmul(x, B), X, sizes)
    torch.testing.assert_close(rows_matmul(X, B), X @ B, rtol=TOL[dtype] * K, atol=TOL[dtype] * K)


# (8, 1797) @ (1797, 10) per row: torch.matmul gives a row other bits in a batch of 2 or more
# rows than alone, in float64 with 2 threads (measured).
@pytest.mark.parametrize("a,k,c", [(5, 7, 3), (8, 1797, 10)])
@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES)
def test_rows_bmm_is_row_independent(threads, dtype, a, k, c):
    gen = torch.Generator().manual_seed(3)
    rows = 100 if k < 100 else 24
    A = torch.randn(rows, a, k, generator=gen, dtype=torch.float64).to(dtype)
    B = torch.randn(rows, k, c, generator=gen, dtype=torch.float64).to(dtype)
    AB = torch.cat([A.reshape(rows, -1), B.reshape(rows, -1)], dim=1)
    _check_row_independent(lambda x: rows_bmm(x[:, :a * k].reshape(-1, a, k),
                                              x[:, a * k:].reshape(-1, k, c)), AB, sizes=(2, 8, 13, rows))
    torch.testing.assert_close(rows_bmm(A, B), A @ B, rtol=TOL[dtype] * k, atol=TOL[dtype] * k)


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES)
def test_ipow_and_sigmoid_are_row_independent(threads, dtype):
    gen = torch.Generator().manual_seed(3)
    for width in (1, 5, 13):  # one column: torch.pow and torch.sigmoid get this wrong from 16 rows
        X = 2 * torch.randn(100, width, generator=gen, dtype=torch.float64).to(dtype)
        for k in (2, 4, 8, 9):
            _check_row_independent(lambda x: ipow(x, k), X)
            torch.testing.assert_close(ipow(X, k), X ** k, rtol=TOL[dtype] * 10, atol=0.0)
        _check_row_independent(sigmoid, X)
        torch.testing.assert_close(sigmoid(X), torch.sigmoid(X), rtol=TOL[dtype], atol=TOL[dtype])


# Families whose single-w gradient (and HVP) is elementwise in correctly rounded operations:
# the batched rows are bitwise the single-w results there (losses add up in another order).
BITWISE = {"reddi2d:canonical": ("grad", "sample_grad", "hvp", "sample_hvp"),
           "quad-saddle:small": ("grad", "sample_grad"),
           "quad-saddle:small[n=50]": ("grad", "sample_grad"),
           "quad-saddle:small[batch=3,noise=iso]": ("grad", "sample_grad")}


@pytest.mark.parametrize("problem_id", BITWISE)
def test_elementwise_families_are_bitwise_the_single_w_methods(problem_id):
    p = _problem(problem_id, torch.float64)
    W, V, samples = _inputs(problem_id, torch.float64)
    W, V, samples = W[:ROWS], V[:ROWS], samples[:ROWS]
    got = {"grad": p.grad_rows(W), "sample_grad": p.sample_loss_grad_rows(W, samples)[1],
           "hvp": p.hvp_rows(W, V), "sample_hvp": p.sample_hvp_rows(W, V, samples)}
    want = {"grad": [p.grad(w) for w in W],
            "sample_grad": [p.sample_loss_grad(w, s)[1] for w, s in zip(W, samples)],
            "hvp": [p.hvp(w, v) for w, v in zip(W, V)],
            "sample_hvp": [p.sample_hvp(w, v, s) for w, v, s in zip(W, V, samples)]}
    for name in BITWISE[problem_id]:
        assert torch.equal(got[name], torch.stack(want[name])), name
