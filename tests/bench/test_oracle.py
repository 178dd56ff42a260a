import pytest
import torch

from bench.oracle import BudgetExhausted, Oracle, OracleError
from problems import make_problem


def _oracle(problem_id="reddi2d:canonical", budget=1000, seed=0):
    p = make_problem(problem_id)
    w = p.initial_point(0).clone()
    return p, w, Oracle(p, w, seed, budget)


def test_every_call_is_charged_in_ifo_units():
    p, w, o = _oracle()
    c = o.closure
    loss = c()
    assert w.grad is not None and loss.ndim == 0
    assert o.counts.grad_calls == 1 and o.counts.grad_samples == p.batch_size
    c(full=True)
    assert o.counts.grad_samples == p.batch_size + p.n
    c.loss(full=True)
    c.loss()
    assert o.counts.fval_calls == 2 and o.counts.fval_samples == p.n + 1
    c.hvp(torch.ones(2))
    c.hvp(torch.ones(2), full=True)
    assert o.counts.hvp_calls == 2 and o.counts.hvp_samples == 1 + p.n
    assert o.counts.cost == o.counts.grad_samples + o.counts.fval_samples + o.counts.hvp_samples
    c.grad(at=torch.ones(2))
    assert o.counts.grad_calls == 3


def test_stochastic_gradient_is_the_problem_sample_gradient_and_unbiased():
    p, w, o = _oracle(budget=10_000)
    grads = torch.stack([o.closure.grad() for _ in range(4000)])
    assert torch.allclose(grads.mean(0), p.grad(w), atol=0.02)
    # same_sample re-uses the minibatch, charged again
    g1 = o.closure.grad(at=torch.tensor([0.3, 0.2], dtype=torch.float64))
    before = o.counts.cost
    g2 = o.closure.grad(at=torch.tensor([0.3, 0.2], dtype=torch.float64), same_sample=True)
    assert torch.equal(g1, g2) and o.counts.cost == before + 1


def test_budget_is_enforced_before_computing():
    p, w, o = _oracle(budget=25)
    for _ in range(25):
        o.closure()
    with pytest.raises(BudgetExhausted):
        o.closure()
    assert o.counts.cost == 25
    with pytest.raises(BudgetExhausted):
        o.closure(full=True)  # n = 10 > 0 left


def test_budget_exhausted_is_not_an_exception():
    # an entry's `except Exception` must not swallow the end of the budget
    assert not issubclass(BudgetExhausted, Exception)


def test_population_problem_has_no_full_gradient():
    p, w, o = _oracle("quad-saddle:small")
    assert not o.closure.finite_sum and o.closure.n is None
    with pytest.raises(OracleError, match="population"):
        o.closure(full=True)
    assert o.counts.cost == 0


def test_same_sample_before_any_call_is_an_error():
    p, w, o = _oracle()
    with pytest.raises(OracleError):
        o.closure.grad(same_sample=True)


def test_closure_exposes_no_problem_and_no_graph():
    p, w, o = _oracle()
    c = o.closure
    for name in ("problem", "oracle", "_oracle", "_problem", "__dict__"):
        assert not hasattr(c, name)
    loss = c()
    assert not loss.requires_grad and loss.grad_fn is None
    assert w.grad.grad_fn is None


def test_sample_stream_is_reproducible_and_seed_dependent():
    def stream(seed):
        p, w, o = _oracle(seed=seed, budget=10_000)
        return torch.stack([o.closure.grad() for _ in range(1500)])  # crosses a chunk boundary

    assert torch.equal(stream(3), stream(3))
    assert not torch.equal(stream(3), stream(4))
