"""Each gate's backward pass against central differences, in float64 (CS231n style: a random upstream
gradient G, the scalar f = Σ out ⊙ G, and ∂f/∂input compared with what backward(G) returns)."""

import numpy as np
import pytest
from helpers import max_relative_error, numeric_gradient

from windowner.gradcheck import TOLERANCE
from windowner.layers import ACTIVATIONS, SparseRows, affine, embedding
from windowner.losses import softmax_cross_entropy

TOL = TOLERANCE  # the tolerance `windowner gradcheck` states: a wrong gradient is off by far more


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def test_affine_gradients(rng):
    X, W, b = rng.normal(size=(6, 5)), rng.normal(size=(4, 5)), rng.normal(size=4)
    G = rng.normal(size=(6, 4))
    Z, backward = affine(X, W, b)
    np.testing.assert_allclose(Z, np.stack([W @ x + b for x in X]))  # z_i = W x_i + b, row by row
    dX, dW, db = backward(G)

    def f():
        return float(np.sum(affine(X, W, b)[0] * G))

    assert dX.shape == X.shape and dW.shape == W.shape and db.shape == b.shape
    assert max_relative_error(dX, numeric_gradient(f, X)) < TOL
    assert max_relative_error(dW, numeric_gradient(f, W)) < TOL
    assert max_relative_error(db, numeric_gradient(f, b)) < TOL


def test_affine_weight_gradient_is_the_sum_of_outer_products(rng):
    X, W, b = rng.normal(size=(3, 4)), rng.normal(size=(2, 4)), np.zeros(2)
    delta = rng.normal(size=(3, 2))
    _, dW, _ = affine(X, W, b)[1](delta)
    np.testing.assert_allclose(dW, sum(np.outer(delta[i], X[i]) for i in range(3)))


def test_affine_skips_the_input_gradient_when_not_needed(rng):
    _, backward = affine(rng.normal(size=(2, 3)), rng.normal(size=(4, 3)), np.zeros(4))
    dX, dW, db = backward(rng.normal(size=(2, 4)), need_input=False)
    assert dX is None and dW.shape == (4, 3) and db.shape == (4,)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradients(rng, name):
    z = rng.normal(size=(5, 7)) * 2
    G = rng.normal(size=(5, 7))
    h, backward = ACTIVATIONS[name](z)
    dz = backward(G)

    def f():
        return float(np.sum(ACTIVATIONS[name](z)[0] * G))

    assert dz.shape == z.shape
    assert max_relative_error(dz, numeric_gradient(f, z)) < TOL


def test_tanh_values():
    h, _ = ACTIVATIONS["tanh"](np.array([[0.0, 1.0, -30.0]]))
    np.testing.assert_allclose(h, [[0.0, np.tanh(1.0), -1.0]])


def test_embedding_concatenates_the_window(rng):
    E = rng.normal(size=(6, 3))
    windows = np.array([[1, 2, 3], [5, 5, 0]])
    x, _ = embedding(E, windows)
    np.testing.assert_array_equal(x[0], np.concatenate([E[1], E[2], E[3]]))
    np.testing.assert_array_equal(x[1], np.concatenate([E[5], E[5], E[0]]))


def test_embedding_gradient_is_sparse_and_sums_repeated_words(rng):
    E = rng.normal(size=(10, 4))
    windows = np.array([[1, 2, 1], [2, 7, 7], [1, 9, 3]])  # 1 three times, 2 twice, 7 twice in a window
    G = rng.normal(size=(3, 12))
    _, backward = embedding(E, windows)
    sparse = backward(G)

    def f():
        return float(np.sum(embedding(E, windows)[0] * G))

    dense = numeric_gradient(f, E)
    assert isinstance(sparse, SparseRows)
    np.testing.assert_array_equal(sparse.rows, [1, 2, 3, 7, 9])  # touched rows only, sorted, once each
    assert max_relative_error(sparse.to_dense(E.shape), dense) < TOL
    assert np.all(dense[[0, 4, 5, 6, 8]] == 0)


def test_softmax_cross_entropy_gradient_and_value(rng):
    scores = rng.normal(size=(6, 4)) * 3
    labels = rng.integers(0, 4, size=6)
    loss, d_scores = softmax_cross_entropy(scores, labels)
    probabilities = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(probabilities[np.arange(6), labels])))

    def f():
        return softmax_cross_entropy(scores, labels)[0]

    assert max_relative_error(d_scores, numeric_gradient(f, scores)) < TOL


def test_softmax_cross_entropy_does_not_overflow():
    scores = np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 999.0]])
    loss, d_scores = softmax_cross_entropy(scores, np.array([0, 2]))
    assert np.isfinite(loss) and np.all(np.isfinite(d_scores))
    assert loss == pytest.approx(0.5 * (0.0 + np.log1p(np.exp(-1.0)) + 1.0))


def test_gates_keep_float32(rng):
    X = rng.normal(size=(4, 6)).astype(np.float32)
    W = rng.normal(size=(3, 6)).astype(np.float32)
    Z, backward = affine(X, W, np.zeros(3, np.float32))
    h, act_backward = ACTIVATIONS["tanh"](Z)
    loss, d = softmax_cross_entropy(h, np.array([0, 1, 2, 0]))
    dX, dW, db = backward(act_backward(d))
    assert {a.dtype for a in (Z, h, d, dX, dW, db)} == {np.dtype(np.float32)}
