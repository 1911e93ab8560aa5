"""The whole network: J and every gradient against central differences (float64), the sparse word-vector
gradient against a dense one, frozen vectors, shapes and dtypes."""

import numpy as np
import pytest
from helpers import max_relative_error, numeric_gradient

from windowner.gradcheck import TOLERANCE
from windowner.layers import SparseRows
from windowner.model import WindowModel, xavier_uniform
from windowner.optim import SGD


def small_model(rng, dtype=np.float64, window=2, classes=3):
    E = rng.normal(0.0, 0.5, size=(12, 4))
    return WindowModel.initialise(E, window, hidden=6, classes=classes, rng=rng, dtype=dtype)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.fixture
def batch(rng):
    windows = rng.integers(0, 12, size=(9, 5))
    windows[0] = [3, 3, 3, 4, 3]  # a word several times in one window
    windows[1, 2] = 3  # and again in another window
    return windows, rng.integers(0, 3, size=9)


@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_every_gradient_against_central_differences(rng, batch, l2):
    model = small_model(rng)
    windows, labels = batch
    _, grads = model.loss_and_grads(windows, labels, l2=l2)

    def J():
        return model.loss(windows, labels, l2)

    for name in ("W", "b", "U", "c"):
        assert max_relative_error(grads[name], numeric_gradient(J, model.params[name])) < TOLERANCE, name
    numeric_E = numeric_gradient(J, model.params["E"])
    assert max_relative_error(grads["E"].to_dense(model.params["E"].shape), numeric_E) < TOLERANCE


def test_loss_and_loss_and_grads_agree(rng, batch):
    model = small_model(rng)
    loss, _ = model.loss_and_grads(*batch, l2=0.1)
    assert loss == model.loss(*batch, 0.1)
    penalty = 0.05 * (np.sum(model.params["W"] ** 2) + np.sum(model.params["U"] ** 2))
    assert model.loss(*batch, 0.1) == pytest.approx(model.loss(*batch) + penalty)


def test_sparse_word_vector_gradient_equals_the_dense_one(rng, batch):
    """The dense ∂J/∂E built the slow way: every slice of ∂J/∂x added to its word's row, one at a time."""
    model = small_model(rng)
    windows, labels = batch
    _, grads = model.loss_and_grads(windows, labels)
    scores, backward = model.forward(windows)
    # ∂J/∂x from the hidden layer alone: δ₁ W, recomputed here from the pieces of the forward pass
    probabilities = np.exp(scores - scores.max(1, keepdims=True))
    probabilities /= probabilities.sum(1, keepdims=True)
    d_scores = probabilities.copy()
    d_scores[np.arange(len(labels)), labels] -= 1
    d_scores /= len(labels)
    x = model.params["E"][windows].reshape(len(windows), -1)
    h = np.tanh(x @ model.params["W"].T + model.params["b"])
    delta = (d_scores @ model.params["U"]) * (1 - h**2)
    dx = delta @ model.params["W"]
    dense = np.zeros_like(model.params["E"])
    d = dense.shape[1]
    for i, window in enumerate(windows):
        for k, word in enumerate(window):
            dense[word] += dx[i, k * d : (k + 1) * d]
    sparse = grads["E"]
    assert isinstance(sparse, SparseRows)
    np.testing.assert_array_equal(sparse.rows, np.unique(windows))
    np.testing.assert_allclose(sparse.to_dense(dense.shape), dense, rtol=1e-12, atol=1e-15)


def test_frozen_vectors_get_no_gradient_and_stay_bit_for_bit(rng, batch):
    model = small_model(rng, dtype=np.float32)
    before = {name: value.copy() for name, value in model.params.items()}
    first = model.loss(*batch)
    optimizer = SGD(lr=0.5)
    for _ in range(5):
        _, grads = model.loss_and_grads(*batch, fine_tune=False)
        assert "E" not in grads
        optimizer.step(model.params, grads)
    assert model.params["E"].tobytes() == before["E"].tobytes()
    assert all(not np.array_equal(model.params[name], before[name]) for name in "WbUc")  # the rest trained
    assert model.loss(*batch) < first


def test_the_frozen_path_gives_the_same_gradients_for_the_rest(rng, batch):
    """fine_tune=False skips ∂J/∂X; the other gradients must be exactly those of the checked path."""
    model = small_model(rng)
    loss, tuned = model.loss_and_grads(*batch, l2=0.01)
    frozen_loss, frozen = model.loss_and_grads(*batch, l2=0.01, fine_tune=False)
    assert frozen_loss == loss and set(frozen) == {"W", "b", "U", "c"}
    for name in frozen:
        np.testing.assert_array_equal(frozen[name], tuned[name])


def test_fine_tuning_moves_only_the_touched_rows(rng, batch):
    model = small_model(rng)
    before = model.params["E"].copy()
    _, grads = model.loss_and_grads(*batch)
    SGD(lr=0.5).step(model.params, grads)
    changed = np.flatnonzero(np.any(model.params["E"] != before, axis=1))
    np.testing.assert_array_equal(changed, np.unique(batch[0]))


def test_float32_training_stays_float32(rng, batch):
    model = small_model(rng, dtype=np.float32)
    loss, grads = model.loss_and_grads(*batch, l2=0.01)
    assert isinstance(loss, float)
    assert {g.dtype for name, g in grads.items() if name != "E"} == {np.dtype(np.float32)}
    assert grads["E"].values.dtype == np.float32
    assert model.scores(batch[0]).dtype == np.float32


def test_initialisation(rng):
    E = rng.normal(size=(20, 5)).astype(np.float32)
    model = WindowModel.initialise(E, window=1, hidden=8, classes=4, rng=rng)
    p = model.params
    assert (
        p["W"].shape == (8, 15) and p["b"].shape == (8,) and p["U"].shape == (4, 8) and p["c"].shape == (4,)
    )
    assert not p["b"].any() and not p["c"].any()
    np.testing.assert_array_equal(p["E"], E)
    assert p["E"] is not E  # the pretrained vectors are copied, never trained in place
    bound = np.sqrt(6 / (15 + 8))
    assert np.abs(p["W"]).max() <= bound and np.abs(p["W"]).max() > 0.8 * bound


def test_xavier_variance():
    W = xavier_uniform(300, 500, np.random.default_rng(0))
    assert W.var() == pytest.approx(2 / (300 + 500), rel=0.02)


def test_batched_scores_equal_one_pass(rng):
    model = small_model(rng)
    windows = rng.integers(0, 12, size=(50, 5))
    np.testing.assert_allclose(model.scores(windows, batch_size=7), model.forward(windows)[0])
    assert model.predict(windows).shape == (50,)
