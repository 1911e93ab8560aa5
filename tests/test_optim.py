"""Optimisers against the update rules written out by hand."""

import numpy as np
import pytest

from windowner.layers import SparseRows
from windowner.optim import SGD, Adam, make_optimizer


def test_sgd_dense_and_sparse():
    params = {"W": np.ones((2, 3)), "E": np.ones((4, 2))}
    grads = {"W": np.full((2, 3), 2.0), "E": SparseRows(np.array([1, 3]), np.array([[1.0, 2.0], [3.0, 4.0]]))}
    SGD(lr=0.1).step(params, grads)
    np.testing.assert_allclose(params["W"], 0.8)
    np.testing.assert_allclose(params["E"], [[1, 1], [0.9, 0.8], [1, 1], [0.7, 0.6]])


def reference_adam(param, gradients, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = np.zeros_like(param)
    v = np.zeros_like(param)
    for t, g in enumerate(gradients, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        param = param - lr * m_hat / (np.sqrt(v_hat) + eps)
    return param


def test_adam_matches_the_algorithm():
    rng = np.random.default_rng(0)
    start = rng.normal(size=(3, 4))
    gradients = [rng.normal(size=(3, 4)) for _ in range(4)]
    params = {"W": start.copy()}
    adam = Adam(lr=0.01)
    for g in gradients:
        adam.step(params, {"W": g})
    np.testing.assert_allclose(params["W"], reference_adam(start, gradients, 0.01), rtol=1e-12)


def test_adam_first_step_moves_by_lr_times_sign():
    params = {"b": np.zeros(3)}
    Adam(lr=0.01).step(params, {"b": np.array([5.0, -0.001, 0.0])})
    np.testing.assert_allclose(params["b"], [-0.01, 0.01, 0.0], rtol=1e-5)


def test_adam_sparse_gradient_is_dense_adam_with_zero_rows():
    rng = np.random.default_rng(1)
    start = rng.normal(size=(5, 2))
    sparse_steps = [
        SparseRows(np.array([0, 3]), rng.normal(size=(2, 2))),
        SparseRows(np.array([1]), rng.normal(size=(1, 2))),
    ]
    sparse, dense = {"E": start.copy()}, {"E": start.copy()}
    a, b = Adam(lr=0.1), Adam(lr=0.1)
    for g in sparse_steps:
        a.step(sparse, {"E": g})
        b.step(dense, {"E": g.to_dense(start.shape)})
    np.testing.assert_array_equal(sparse["E"], dense["E"])
    assert not np.allclose(sparse["E"][0], start[0] - 0.1)  # row 0 kept moving on momentum in step 2
    np.testing.assert_array_equal(sparse["E"][[2, 4]], start[[2, 4]])  # never touched: no momentum


def test_make_optimizer():
    assert isinstance(make_optimizer("sgd", 0.1), SGD)
    adam = make_optimizer("adam", 0.002)
    assert isinstance(adam, Adam) and adam.lr == pytest.approx(0.002)
