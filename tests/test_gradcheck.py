"""`check_gradients` passes on the real model, every case of `--all`, skips kinks, and catches a wrong
backward pass."""

import numpy as np
import pytest

from windowner.network import layers
from windowner.network.gradcheck import (
    STEP,
    TOLERANCE,
    all_cases,
    check_case,
    check_gradients,
    random_problem,
    relative_error,
)
from windowner.network.layers.activations import Activation
from windowner.network.model import WindowModel
from windowner.network.shape import FeaturesConfig, ModelConfig


def problem(seed=0, batch=6, **shape):
    rng = np.random.default_rng(seed)
    return random_problem(
        rng, batch, words=15, dim=4, classes=3, shape=ModelConfig(window=1, hidden=5, **shape)
    )


@pytest.mark.parametrize("richardson", [True, False])
def test_passes_on_the_model(richardson):
    model, batch = problem()
    checks = check_gradients(model, batch, l2=0.01, l2_vectors=0.01, richardson=richardson)
    assert [c.name for c in checks] == ["E", "W", "b", "U", "c"]
    assert all(c.ok for c in checks), checks
    assert checks[1].entries == 5 * 12 and checks[0].entries == 4 * len(np.unique(batch.windows[:, 0]))


def test_frozen_vectors_are_not_checked():
    model, batch = problem(features=FeaturesConfig(case=2))
    checks = check_gradients(model, batch, fine_tune=False)
    assert [c.name for c in checks] == ["E_case", "W", "b", "U", "c"] and all(c.ok for c in checks)


def test_the_document_table_agrees_with_central_differences_in_float64(monkeypatch):
    """The document feature's table (the first pass's keys) is checked as every table is, and a wrong
    gradient of it is caught."""
    model, batch = problem(features=FeaturesConfig(case=2, document=3))
    assert model.params["E_document"].dtype == np.float64
    checks = {c.name: c for c in check_gradients(model, batch, l2=0.01)}
    assert checks["E_document"].ok and checks["E_document"].entries == 3 * len(np.unique(batch.windows[:, 2]))
    real = WindowModel.loss_and_grads

    def wrong(self, *args, **kwargs):
        loss, grads = real(self, *args, **kwargs)
        table = grads["E_document"]
        return loss, {**grads, "E_document": type(table)(table.rows, 1.01 * table.values)}

    monkeypatch.setattr(WindowModel, "loss_and_grads", wrong)  # (the check runs on a copy of the model)
    failed = {c.name for c in check_gradients(model, batch) if not c.ok}
    assert failed == {"E_document"}


def test_leaves_the_model_unchanged():
    model, batch = problem()
    before = {name: value.copy() for name, value in model.params.items()}
    check_gradients(model.astype(np.float32), batch)
    check_gradients(model, batch)
    for name, value in before.items():
        np.testing.assert_array_equal(model.params[name], value)


def test_catches_a_wrong_activation_derivative(monkeypatch):
    def wrong_tanh(z):
        h = np.tanh(z)
        return h, lambda dh: (dh * (1.0 - h),)  # should be 1 − h²

    monkeypatch.setitem(layers.ACTIVATIONS, "tanh", Activation(wrong_tanh))
    model, batch = problem()
    failed = {c.name for c in check_gradients(model, batch) if not c.ok}
    assert {"W", "b", "E"} <= failed and "U" not in failed and "c" not in failed


def test_catches_a_wrong_transition_gradient(monkeypatch):
    from windowner.network.losses import crf

    real = crf.crf_loss

    def wrong(scores, labels, lengths, params):
        loss, d_scores, grads = real(scores, labels, lengths, params)
        return loss, d_scores, {**grads, "A_end": 2 * grads["A_end"]}

    monkeypatch.setattr("windowner.network.losses.crf_loss", wrong)
    model, batch = random_problem(np.random.default_rng(0), 8, loss="crf")
    failed = {c.name for c in check_gradients(model, batch, max_entries=20) if not c.ok}
    assert failed == {"A_end"}


def test_catches_a_wrong_prelu_slope_gradient(monkeypatch):
    real = layers.ACTIVATIONS["prelu"]

    def wrong(z, a):
        h, backward = real.forward(z, a)
        return h, lambda dh: (backward(dh)[0], -backward(dh)[1])

    monkeypatch.setitem(layers.ACTIVATIONS, "prelu", Activation(wrong, ("a",), 0.25, (0.0,)))
    model, batch = problem(activation="prelu")
    failed = {c.name for c in check_gradients(model, batch) if not c.ok}
    assert failed == {"a"}


def test_an_entry_whose_step_crosses_a_kink_is_left_out():
    model, batch = problem(activation="relu")
    trace = {}
    model.forward(batch.windows, None, trace)
    model.params["b"][0] -= trace["z"][0, 0]  # z[0, 0] is now exactly at the kink
    checks = {c.name: c for c in check_gradients(model, batch)}
    assert checks["b"].skipped >= 1 and all(c.ok for c in checks.values())
    assert checks["b"].entries + checks["b"].skipped == 5


def test_every_case_of_all_passes():
    """`windowner gradcheck --all`: 6 activations × 4 losses × {frozen, fine-tuned} × {λ = 0, λ > 0}."""
    cases = list(all_cases())
    assert len(cases) == 6 * 4 * 2 * 2
    for case in cases:
        checks = check_case(case, max_entries=4)
        assert all(check.ok for check in checks), (case, checks)
        names = {check.name for check in checks}
        assert ("E" in names) == case.fine_tune
        assert {"E_case", "E_chars", "E_gazetteer", "E_document"} <= names
        assert ("a" in names) == (case.activation == "prelu") and ("A" in names) == (case.loss == "crf")


def test_sampling_entries():
    model, batch = problem()
    checks = check_gradients(model, batch, max_entries=7, rng=np.random.default_rng(3))
    assert [c.entries for c in checks] == [7, 7, 5, 7, 3]


def test_relative_error():
    assert relative_error(np.array([1.0]), np.array([1.0])) == 0
    assert relative_error(np.array([0.0]), np.array([0.0])) == 0
    assert relative_error(np.array([1.0]), np.array([-1.0])) == 1
    assert relative_error(np.array([2e-7]), np.array([1e-7]), tiny=1e-6) == pytest.approx(0.1)


def test_the_floor_is_the_resolution_of_central_differences():
    """Entries below ``tiny`` are judged by the absolute error differences can resolve, and no more."""
    model, batch = problem()
    check = check_gradients(model, batch, max_entries=1)[0]
    J = model.objective(batch)
    assert check.tiny == pytest.approx(32 * np.finfo(float).eps * max(J, 1.0) / STEP / TOLERANCE)
    assert 1e-6 < check.tiny < 1e-5
    # the worst entry seen at a batch of 256 windows: 9.2e-9, off by rounding alone (3.1e-14)
    assert relative_error(np.array([9.2e-9]), np.array([9.2e-9 + 3.1e-14]), check.tiny) < TOLERANCE
    # a wrong derivative of that size is still caught
    assert relative_error(np.array([9.2e-9]), np.array([0.0]), check.tiny) > 100 * TOLERANCE


def test_an_entry_at_the_floor_off_by_the_rounding_of_a_trained_model_passes():
    """The README's API example (a two-epoch run of the default config) printed ``('A', 1.05e-06)``: an
    entry at the old floor, 4ε·max(|J|, 1)/h / TOLERANCE, whose analytic and numeric values differed by
    1.05 times that rounding estimate (they agreed to five digits). J, the difference of the CRF's
    log-partition and gold-path score, rounds like those larger terms: the floor now bounds that."""
    model, batch = problem()
    check = check_gradients(model, batch, max_entries=1)[0]
    estimate = 4 * np.finfo(float).eps * max(model.objective(batch), 1.0) / STEP  # the old r
    analytic = estimate / TOLERANCE / 2  # |a| + |n| at the old floor
    numeric = analytic + 1.05 * estimate
    assert relative_error(np.array([analytic]), np.array([numeric]), check.tiny) < TOLERANCE / 4
    # a derivative of that size that is wrong by a factor of two is still caught
    assert relative_error(np.array([analytic]), np.array([2 * analytic]), check.tiny) > 1e4 * TOLERANCE


def test_report_gets_each_check_as_it_is_done():
    model, batch = problem()
    seen = []
    checks = check_gradients(model, batch, max_entries=3, report=seen.append)
    assert seen == checks and [c.name for c in seen] == ["E", "W", "b", "U", "c"]
