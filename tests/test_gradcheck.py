"""`check_gradients` passes on the real model and catches a wrong backward pass."""

import numpy as np
import pytest

from windowner import layers
from windowner.gradcheck import STEP, TOLERANCE, check_gradients, relative_error
from windowner.model import WindowModel


def problem(seed=0, batch=6):
    rng = np.random.default_rng(seed)
    E = rng.normal(0, 0.5, size=(15, 4))
    model = WindowModel.initialise(E, window=1, hidden=5, classes=3, rng=rng)
    return model, rng.integers(0, 15, size=(batch, 3)), rng.integers(0, 3, size=batch)


@pytest.mark.parametrize("richardson", [True, False])
def test_passes_on_the_model(richardson):
    model, windows, labels = problem()
    checks = check_gradients(model, windows, labels, l2=0.01, richardson=richardson)
    assert [c.name for c in checks] == ["W", "b", "U", "c", "E"]
    assert all(c.ok for c in checks), checks
    assert checks[0].entries == 5 * 12


def test_leaves_the_model_unchanged():
    model, windows, labels = problem()
    before = {name: value.copy() for name, value in model.params.items()}
    check_gradients(model.astype(np.float32), windows, labels)
    check_gradients(model, windows, labels)
    for name, value in before.items():
        np.testing.assert_array_equal(model.params[name], value)


def test_catches_a_wrong_activation_derivative(monkeypatch):
    def wrong_tanh(z):
        h = np.tanh(z)
        return h, lambda dh: dh * (1.0 - h)  # should be 1 − h²

    monkeypatch.setitem(layers.ACTIVATIONS, "tanh", wrong_tanh)
    model, windows, labels = problem()
    failed = {c.name for c in check_gradients(model, windows, labels) if not c.ok}
    assert {"W", "b", "E"} <= failed and "U" not in failed and "c" not in failed


def test_sampling_entries():
    model, windows, labels = problem()
    checks = check_gradients(model, windows, labels, max_entries=7, rng=np.random.default_rng(3))
    assert [c.entries for c in checks] == [7, 5, 7, 3, 7]


def test_relative_error():
    assert relative_error(np.array([1.0]), np.array([1.0])) == 0
    assert relative_error(np.array([0.0]), np.array([0.0])) == 0
    assert relative_error(np.array([1.0]), np.array([-1.0])) == 1
    assert relative_error(np.array([2e-7]), np.array([1e-7]), tiny=1e-6) == pytest.approx(0.1)


def test_the_floor_is_the_resolution_of_central_differences():
    """Entries below ``tiny`` are judged by the absolute error differences can resolve, and no more."""
    model, windows, labels = problem()
    check = check_gradients(model, windows, labels, max_entries=1)[0]
    J = model.loss(windows, labels)
    assert check.tiny == pytest.approx(4 * np.finfo(float).eps * max(J, 1.0) / STEP / TOLERANCE)
    assert 1e-7 < check.tiny < 1e-6
    # the worst entry seen at a batch of 256 windows: 9.2e-9, off by rounding alone (3.1e-14)
    assert relative_error(np.array([9.2e-9]), np.array([9.2e-9 + 3.1e-14]), check.tiny) < TOLERANCE
    # a wrong derivative of that size is still caught
    assert relative_error(np.array([9.2e-9]), np.array([0.0]), check.tiny) > 100 * TOLERANCE
