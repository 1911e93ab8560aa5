"""Each gate's backward pass against central differences, in float64 (CS231n style: a random upstream
gradient G, the scalar f = Σ out ⊙ G, and ∂f/∂input compared with what backward(G) returns)."""

import numpy as np
import pytest
from helpers import max_relative_error, numeric_gradient

from windowner.network.gradcheck import TOLERANCE
from windowner.network.layers import ACTIVATIONS, SparseRows, affine, bag, dropout, embedding
from windowner.network.layers.embedding import ONE_HOT, sum_rows

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


def test_affine_input_gradient_of_some_columns_or_none(rng):
    X, W = rng.normal(size=(2, 5)), rng.normal(size=(4, 5))
    _, backward = affine(X, W, np.zeros(4))
    G = rng.normal(size=(2, 4))
    full, dW, db = backward(G)
    part, dW2, _ = backward(G, input_from=3)
    np.testing.assert_array_equal(part, full[:, 3:])
    np.testing.assert_array_equal(dW, dW2)
    none, dW3, db3 = backward(G, input_from=None)
    assert none is None and dW3.shape == (4, 5) and db3.shape == (4,)


def gate(name, rng, units, slope=0.1):
    """The forward function of an activation with its parameters bound (PReLU: a random slope per unit,
    leaky ReLU: ``slope``), and those parameters."""
    spec = ACTIVATIONS[name]
    if name == "leaky_relu":
        return (lambda z: spec.forward(z, slope)), ()
    params = tuple(rng.normal(0.3, 0.2, size=units) for _ in spec.params)
    return (lambda z: spec.forward(z, *params)), params


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradients(rng, name):
    z = rng.normal(size=(5, 7)) * 2
    z[np.abs(z) < 0.05] += 0.2  # away from the kinks at 0 …
    z[np.abs(np.abs(z) - 1) < 0.05] += 0.2  # … and at ±1 (hard tanh): the check's steps stay on one piece
    G = rng.normal(size=(5, 7))
    forward, params = gate(name, rng, 7)
    h, backward = forward(z)
    dz, *d_params = backward(G)
    assert h.shape == dz.shape == z.shape

    def f():
        return float(np.sum(forward(z)[0] * G))

    assert max_relative_error(dz, numeric_gradient(f, z)) < TOL
    for param, grad in zip(params, d_params, strict=True):
        assert grad.shape == param.shape
        assert max_relative_error(grad, numeric_gradient(f, param)) < TOL


def test_activation_values():
    z = np.array([[-2.0, -1.0, 0.0, 0.5, 1.0, 3.0]])
    f = {name: spec.forward for name, spec in ACTIVATIONS.items()}
    np.testing.assert_allclose(f["sigmoid"](z)[0], 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(f["tanh"](z)[0], np.tanh(z))
    np.testing.assert_allclose(f["hardtanh"](z)[0], [[-1, -1, 0, 0.5, 1, 1]])
    np.testing.assert_allclose(f["relu"](z)[0], [[0, 0, 0, 0.5, 1, 3]])
    np.testing.assert_allclose(f["leaky_relu"](z, 0.01)[0], [[-0.02, -0.01, 0, 0.5, 1, 3]])
    np.testing.assert_allclose(f["prelu"](z, np.full(6, 0.25))[0], [[-0.5, -0.25, 0, 0.5, 1, 3]])


def test_derivatives_at_the_kinks_are_the_documented_one_sided_ones():
    ones = np.ones((1, 3))
    at = np.array([[-1.0, 0.0, 1.0]])
    assert ACTIVATIONS["relu"].forward(at)[1](ones)[0].tolist() == [[0.0, 0.0, 1.0]]  # 0 at z = 0
    assert ACTIVATIONS["hardtanh"].forward(at)[1](ones)[0].tolist() == [[0.0, 1.0, 0.0]]  # 0 at ±1
    assert ACTIVATIONS["leaky_relu"].forward(at, 0.1)[1](ones)[0].tolist() == [[0.1, 0.1, 1.0]]  # slope at 0
    dz, da = ACTIVATIONS["prelu"].forward(at, np.full(3, 0.2))[1](ones)
    assert dz.tolist() == [[0.2, 0.2, 1.0]] and da.tolist() == [-1.0, 0.0, 0.0]


def test_sigmoid_does_not_overflow_in_float32():
    z = np.array([[-200.0, 0.0, 200.0]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        h, backward = ACTIVATIONS["sigmoid"].forward(z)
        (dz,) = backward(np.ones_like(z))
    assert h.dtype == np.float32 and h.tolist() == [[0.0, 0.5, 1.0]] and dz.tolist() == [[0.0, 0.25, 0.0]]


def test_dropout_scales_kept_units_and_masks_the_gradient(rng):
    X = rng.normal(size=(200, 50))
    Y, backward = dropout(X, 0.3, np.random.default_rng(5))
    kept = Y != 0
    np.testing.assert_allclose(Y[kept], X[kept] / 0.7)
    assert abs(kept.mean() - 0.7) < 0.02
    G = rng.normal(size=X.shape)
    np.testing.assert_allclose(backward(G), G * kept / 0.7)
    np.testing.assert_allclose(backward(G[:, 20:], 20), (G * kept / 0.7)[:, 20:])


def test_dropout_gradient_with_a_fixed_mask(rng):
    """The same seed draws the same mask at every evaluation, so f is one function of X."""
    small = rng.normal(size=(3, 4))
    G_small = rng.normal(size=(3, 4))
    _, back_small = dropout(small, 0.5, np.random.default_rng(9))

    def g():
        return float(np.sum(dropout(small, 0.5, np.random.default_rng(9))[0] * G_small))

    assert max_relative_error(back_small(G_small), numeric_gradient(g, small)) < TOL


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


@pytest.mark.parametrize("slices", [0, 1, 160, ONE_HOT, ONE_HOT + 1, 3000])
def test_sum_rows_sums_the_slices_of_each_row(rng, slices):
    """Both ways of summing, the 0/1 matrix product (up to ONE_HOT slices) and the reduce, against
    np.add.at, which scatters the slices one by one."""
    rows = rng.zipf(1.5, size=slices) % 50  # a few rows used many times, many once
    values = rng.normal(size=(slices, 4))
    expected = np.zeros((50, 4))
    np.add.at(expected, rows, values)
    summed = sum_rows(rows, values)
    np.testing.assert_array_equal(summed.rows, np.unique(rows))
    np.testing.assert_allclose(summed.to_dense((50, 4)), expected, rtol=1e-13, atol=1e-13)


def test_bag_gradient_is_the_scaled_sum_of_slices(rng):
    """Each word is the mean of its rows; row 0 (an empty slot) is zero and gets no gradient."""
    E = rng.normal(size=(8, 3))
    E[0] = 0.0
    ids = np.array([[[1, 2], [3, 0], [0, 5]], [[2, 7], [2, 0], [0, 0]]])  # (B=2, L=3, K=2)
    x, backward = bag(E, ids)
    np.testing.assert_allclose(x[0, :3], (E[1] + E[3]) / 2)  # word 0 of window 0: rows 1, 3
    np.testing.assert_allclose(x[0, 3:], (E[2] + E[5]) / 2)
    np.testing.assert_allclose(x[1, 3:], E[7])  # one key: the row itself
    G = rng.normal(size=x.shape)
    sparse = backward(G)

    def f():
        return float(np.sum(bag(E, ids)[0] * G))

    numeric = numeric_gradient(f, E)
    assert sparse.rows.tolist() == [1, 2, 3, 5, 7]  # not row 0
    assert max_relative_error(sparse.to_dense(E.shape)[1:], numeric[1:]) < TOL


def test_gates_keep_float32(rng):
    X = rng.normal(size=(4, 6)).astype(np.float32)
    W = rng.normal(size=(3, 6)).astype(np.float32)
    Z, backward = affine(X, W, np.zeros(3, np.float32))
    outputs = [Z]
    for spec in ACTIVATIONS.values():
        params = [np.full(3, 0.25, np.float32) for _ in spec.params]
        h, act_backward = spec.forward(Z, *params)
        outputs += [h, *act_backward(np.ones_like(h))]
    Y, drop_backward = dropout(X, 0.5, np.random.default_rng(0))
    dX, dW, db = backward(Z)
    outputs += [Y, drop_backward(X), dX, dW, db]
    assert {a.dtype for a in outputs} == {np.dtype(np.float32)}
