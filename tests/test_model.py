"""The whole network: J and every gradient against central differences (float64) for every activation,
loss, feature and dropout; the sparse word-vector gradient against a dense one; frozen vectors; the
penalties; shapes and dtypes."""

from dataclasses import replace

import numpy as np
import pytest
from helpers import max_relative_error, numeric_gradient

from windowner.network.gradcheck import TOLERANCE
from windowner.network.init import log_priors, xavier_normal, xavier_uniform
from windowner.network.layers import ACTIVATIONS, SparseRows
from windowner.network.losses import LOSSES, Examples
from windowner.network.model import WindowModel, make_loss
from windowner.network.shape import FeaturesConfig, ModelConfig
from windowner.optim import SGD

SHAPE = ModelConfig(window=2, hidden=6, features=FeaturesConfig(case=2))


def small_model(rng, dtype=np.float64, shape=SHAPE, loss="softmax", classes=3):
    tables = {"E": rng.normal(0.0, 0.5, size=(12, 4))}
    if shape.features.case:
        tables["E_case"] = rng.normal(0.0, 0.5, size=(7, shape.features.case))
    objective = make_loss(loss, corruptions=2)
    model = WindowModel.initialise(
        tables, shape, 2 if objective.binary else classes, rng, objective, dtype=dtype
    )
    for name in ("b", "c", "A", "A_start", "A_end"):  # away from zero: a general point
        if name in model.params:
            model.params[name] += rng.normal(0, 0.3, size=model.params[name].shape).astype(dtype)
    model.pretrained = model.params["E"] + rng.normal(0, 0.2, size=(12, 4)).astype(dtype)
    return model


def make_batch(rng, loss="softmax", classes=3, shape=SHAPE):
    lengths = np.array([3, 4, 2])
    n = int(lengths.sum())
    tables = 2 if shape.features.case else 1
    windows = np.stack([rng.integers(0, 12, size=(n, 5)), rng.integers(0, 7, size=(n, 5))][:tables], axis=1)
    windows[0, 0] = [3, 3, 3, 4, 3]  # a word several times in one window
    windows[1, 0, 2] = 3  # and again in another window
    objective = make_loss(loss, corruptions=2)
    labels = rng.integers(0, 2 if objective.binary else classes, size=n)
    labels[:2] = 1
    data = Examples(windows, labels, lengths)
    return next(objective.batches(data, 32, np.random.default_rng(0)))


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def every_gradient_agrees(model, batch, l2=0.0, l2_vectors=0.0, seed=None, fine_tune=True):
    """Compare every gradient with central differences of J (the whole objective)."""

    def masks():
        return None if seed is None else np.random.default_rng(seed)

    _, grads = model.loss_and_grads(batch, l2, l2_vectors, fine_tune, masks())

    def J():
        return model.objective(batch, l2, l2_vectors, masks(), fine_tune=fine_tune)

    expected = set(model.parameter_names()) - (set() if fine_tune else {"E"})
    assert set(grads) == expected
    for name, grad in grads.items():
        if isinstance(grad, SparseRows):
            grad = grad.to_dense(model.params[name].shape)
        error = max_relative_error(grad, numeric_gradient(J, model.params[name]), tiny=1e-6)
        assert error < TOLERANCE, (name, error)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "prelu"])
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_every_gradient_against_central_differences(rng, activation, loss):
    """Smooth activations (PReLU at a point where no z is near its kink) × every loss, with λ, λ_E,
    a casing table and dropout on x and h with a fixed mask."""
    shape = replace(SHAPE, activation=activation, dropout=0.3, input_dropout=0.2, word_dropout=0.3)
    model = small_model(rng, shape=shape, loss=loss)
    batch = make_batch(rng, loss)
    trace = {}
    model.forward(batch.windows, np.random.default_rng(11), trace)
    if activation == "prelu":
        assert np.abs(trace["z"]).min() > 1e-3  # the numeric gradient's steps stay on one piece
    if loss == "margin":
        s, positives = trace["scores"][:, 0], batch.positives
        assert np.abs(1 - s[:positives] + s[positives:].reshape(-1, positives)).min() > 1e-3  # no hinge kink
    every_gradient_agrees(model, batch, l2=0.05, l2_vectors=0.1, seed=11)


@pytest.mark.parametrize("activation", ["hardtanh", "relu", "leaky_relu"])
def test_piecewise_activations_away_from_their_kinks(rng, activation):
    shape = replace(SHAPE, activation=activation, slope=0.2)
    model = small_model(rng, shape=shape)
    model.params["W"] *= 3  # spread z out, beyond hard tanh's ±1 too
    batch = make_batch(rng)
    trace = {}
    model.forward(batch.windows, None, trace)
    kinks = np.array(ACTIVATIONS[activation].kinks)
    assert np.abs(trace["z"][..., None] - kinks).min() > 1e-3
    assert (np.abs(trace["z"]) > 1).any() and (trace["z"] < 0).any()
    every_gradient_agrees(model, batch, l2=0.05)


def test_frozen_vectors_gradients_of_the_rest(rng):
    model = small_model(rng)
    every_gradient_agrees(model, make_batch(rng), l2=0.05, fine_tune=False)


def test_frozen_vectors_objective_takes_no_word_vector_penalty(rng):
    # Before: objective had no fine_tune and added the penalty that loss_and_grads(fine_tune=False) leaves
    # out (1.8213 against 1.2644 on one batch); with frozen vectors the two must agree on J.
    model = small_model(rng)
    model.params["E"] += 0.1 * rng.standard_normal(model.params["E"].shape)  # E moved from E0
    batch = make_batch(rng)
    frozen, _ = model.loss_and_grads(batch, l2=0.1, l2_vectors=0.5, fine_tune=False)
    assert frozen == model.objective(batch, 0.1, 0.5, fine_tune=False)
    assert frozen == model.objective(batch, 0.1, 0.0)
    tuned, _ = model.loss_and_grads(batch, l2=0.1, l2_vectors=0.5)
    assert tuned == model.objective(batch, 0.1, 0.5) > frozen


def test_objective_and_loss_and_grads_agree(rng):
    model = small_model(rng)
    batch = make_batch(rng)
    loss, _ = model.loss_and_grads(batch, l2=0.1, l2_vectors=0.2)
    assert loss == model.objective(batch, 0.1, 0.2)
    rows = np.unique(batch.windows[:, 0])
    penalty = 0.05 * (np.sum(model.params["W"] ** 2) + np.sum(model.params["U"] ** 2))
    penalty += 0.1 * np.sum((model.params["E"][rows] - model.pretrained[rows]) ** 2)
    assert model.objective(batch, 0.1, 0.2) == pytest.approx(model.objective(batch) + penalty)


def test_sparse_word_vector_gradient_equals_the_dense_one(rng):
    """The dense ∂J/∂E built the slow way: every slice of ∂J/∂x added to its word's row, one at a time."""
    model = small_model(rng, shape=replace(SHAPE, features=FeaturesConfig()))
    batch = make_batch(rng, shape=model.shape)
    windows, labels = batch.windows[:, 0], batch.labels
    _, grads = model.loss_and_grads(batch)
    scores, _ = model.forward(batch.windows)
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


def test_frozen_vectors_get_no_gradient_and_stay_bit_for_bit(rng):
    model = small_model(rng, dtype=np.float32)
    batch = make_batch(rng)
    before = {name: value.copy() for name, value in model.params.items()}
    first = model.objective(batch)
    optimizer = SGD(lr=0.5)
    for _ in range(5):
        _, grads = model.loss_and_grads(batch, fine_tune=False)
        assert "E" not in grads and "E_case" in grads  # the features are trained all the same
        optimizer.step(model.params, grads)
    assert model.params["E"].tobytes() == before["E"].tobytes()
    assert all(
        not np.array_equal(model.params[name], before[name]) for name in ("W", "b", "U", "c", "E_case")
    )
    assert model.objective(batch) < first


def test_the_frozen_path_gives_the_same_gradients_for_the_rest(rng):
    """fine_tune=False skips E's part of ∂J/∂X; the other gradients are exactly the checked path's."""
    model = small_model(rng)
    batch = make_batch(rng)
    loss, tuned = model.loss_and_grads(batch, l2=0.01)
    frozen_loss, frozen = model.loss_and_grads(batch, l2=0.01, fine_tune=False)
    assert frozen_loss == loss and set(frozen) == set(tuned) - {"E"}
    for name in ("W", "b", "U", "c"):
        np.testing.assert_array_equal(frozen[name], tuned[name])
    np.testing.assert_allclose(frozen["E_case"].values, tuned["E_case"].values, rtol=1e-13)


def test_fine_tuning_moves_only_the_touched_rows(rng):
    model = small_model(rng)
    batch = make_batch(rng)
    before = model.params["E"].copy()
    _, grads = model.loss_and_grads(batch)
    SGD(lr=0.5).step(model.params, grads)
    changed = np.flatnonzero(np.any(model.params["E"] != before, axis=1))
    np.testing.assert_array_equal(changed, np.unique(batch.windows[:, 0]))


def test_float32_training_stays_float32(rng):
    shape = replace(SHAPE, activation="prelu", dropout=0.5, input_dropout=0.1)
    model = small_model(rng, dtype=np.float32, shape=shape, loss="crf")
    batch = make_batch(rng, "crf")
    loss, grads = model.loss_and_grads(batch, l2=0.01, l2_vectors=0.1, rng=np.random.default_rng(0))
    assert isinstance(loss, float)
    dtypes = {(g.values if isinstance(g, SparseRows) else g).dtype for g in grads.values()}
    assert dtypes == {np.dtype(np.float32)}
    assert model.scores(batch.windows).dtype == np.float32


def test_dropout_is_off_without_a_generator(rng):
    model = small_model(rng, shape=replace(SHAPE, dropout=0.5, input_dropout=0.5))
    batch = make_batch(rng)
    np.testing.assert_array_equal(model.forward(batch.windows)[0], model.forward(batch.windows)[0])
    plain = replace(model, shape=replace(model.shape, dropout=0.0, input_dropout=0.0))
    np.testing.assert_array_equal(model.forward(batch.windows)[0], plain.forward(batch.windows)[0])
    assert not np.array_equal(model.forward(batch.windows, rng)[0], plain.forward(batch.windows)[0])


def test_initialisation(rng):
    E = rng.normal(size=(20, 5)).astype(np.float32)
    shape = ModelConfig(window=1, hidden=8, activation="prelu")
    model = WindowModel.initialise({"E": E}, shape, classes=4, rng=rng, loss=make_loss("crf"))
    p = model.params
    assert (
        p["W"].shape == (8, 15) and p["b"].shape == (8,) and p["U"].shape == (4, 8) and p["c"].shape == (4,)
    )
    assert p["A"].shape == (4, 4) and not p["A"].any() and p["a"].tolist() == [0.25] * 8
    assert not p["b"].any() and not p["c"].any()
    np.testing.assert_array_equal(p["E"], E)
    assert p["E"] is not E and model.pretrained is not p["E"]  # copies: never trained in place
    bound = np.sqrt(6 / (15 + 8))
    assert np.abs(p["W"]).max() <= bound and np.abs(p["W"]).max() > 0.8 * bound
    single = WindowModel.initialise({"E": E}, shape, classes=2, rng=rng, loss=make_loss("logistic"))
    assert single.params["U"].shape == (1, 8) and single.classes == 2


def test_initialisers():
    rng = np.random.default_rng(0)
    assert xavier_uniform(300, 500, rng).var() == pytest.approx(2 / 800, rel=0.02)
    assert xavier_normal(300, 500, rng).var() == pytest.approx(2 / 800, rel=0.02)
    shape = ModelConfig(init="uniform", init_range=0.05)
    model = WindowModel.initialise({"E": np.zeros((3, 2))}, shape, classes=3, rng=rng)
    assert 0.045 < np.abs(model.params["W"]).max() <= 0.05


def test_output_bias_at_the_log_priors(rng):
    labels = np.array([0] * 82 + [1] * 9 + [2] * 6)  # +1 smoothing: 83, 10, 7 of 100
    np.testing.assert_allclose(log_priors(labels, 3), np.log([0.83, 0.10, 0.07]))
    shape = ModelConfig(output_bias="prior")
    model = WindowModel.initialise({"E": np.zeros((3, 2))}, shape, 3, rng, labels=labels)
    probabilities = np.exp(model.params["c"]) / np.exp(model.params["c"]).sum()
    np.testing.assert_allclose(probabilities, [0.83, 0.10, 0.07], rtol=1e-6)
    binary = np.array([0] * 8 + [1] * 1)  # 9 and 2 of 11 → log(2/9)
    np.testing.assert_allclose(log_priors(binary, 1), [np.log(2 / 9)])


def test_batched_scores_equal_one_pass(rng):
    model = small_model(rng)
    windows = make_batch(rng).windows
    windows = np.concatenate([windows] * 6)
    np.testing.assert_allclose(model.scores(windows, batch_size=7), model.forward(windows)[0])


def test_single_score_models_give_two_class_scores(rng):
    model = small_model(rng, loss="margin")
    model.threshold = 0.3
    windows = make_batch(rng, "margin").windows
    s = model.forward(windows)[0][:, 0]
    np.testing.assert_allclose(
        model.scores(windows), np.stack([np.zeros_like(s), s - 0.3], axis=1), rtol=1e-6
    )
