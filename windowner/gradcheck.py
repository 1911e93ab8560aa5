"""Gradient checks: every analytic gradient against central differences, in float64.

For a parameter entry θ_j, the central difference with step h is

    D(h) = (J(θ + h·e_j) − J(θ − h·e_j)) / 2h  =  ∂J/∂θ_j + c·h² + O(h⁴)

(a one-sided difference's error is O(h)). Its error has two parts: the h² term, and the rounding of
the two values of J (about 1e-16·|J| each in float64) divided by 2h, about 1e-16·|J|/h. No h makes both
small: at best about 1e-11 absolute, which for the smallest of 25,000 entries of W (|∂J/∂W_ij| ≈ 1e-7)
is a relative error of 1e-4 on a correct gradient. So by default the numeric derivative is the
Richardson extrapolation of two central differences, which cancels the h² term and allows a larger
step (less rounding):

    n_j = (4·D(h/2) − D(h)) / 3  =  ∂J/∂θ_j + O(h⁴),   h = 3e-3

(``richardson=False`` gives the plain D(h) with h = 1e-5). It is compared with the analytic a_j by the
relative error |a − n| / max(|a| + |n|, tiny). J and a come from :class:`WindowModel`, the code training
runs, on a copy of the model in float64 (in float32 the rounding alone would swamp the comparison).

``tiny`` is the size below which a derivative cannot be measured to the tolerance at all: the rounding
of the difference, r = 4ε·max(|J|, 1)/h (ε = 2.2e-16), divided by the tolerance; about 3e-7 by default.
An entry smaller than that (at a batch of 256 windows some entries of ∂J/∂E are 1e-8) is compared at
that size, that is, its absolute error must stay below r ≈ 3e-13: all that differences can show of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import ModelConfig
from .model import WindowModel

TOLERANCE = 1e-6  # a correct gradient lands around 1e-10 … 3e-7 (the smallest entries); a wrong one near 1
STEP = 3e-3  # h for the extrapolated difference
PLAIN_STEP = 1e-5  # h for the plain central difference
ROUNDING = 4 * np.finfo(np.float64).eps  # r = ROUNDING · max(|J|, 1) / h bounds the rounding of D(h)


@dataclass(frozen=True)
class Check:
    """The result for one parameter: the largest relative error over the entries checked."""

    name: str
    entries: int
    max_relative_error: float
    tiny: float  # the floor of the denominator: the smallest derivative differences can resolve

    @property
    def ok(self) -> bool:
        return self.max_relative_error <= TOLERANCE


def relative_error(analytic: np.ndarray, numeric: np.ndarray, tiny: float = 1e-12) -> np.ndarray:
    """|a − n| / max(|a| + |n|, tiny), entrywise."""
    return np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), tiny)


def check_gradients(
    model: WindowModel,
    windows: np.ndarray,
    labels: np.ndarray,
    l2: float = 0.0,
    max_entries: int | None = None,
    rng: np.random.Generator | None = None,
    richardson: bool = True,
) -> list[Check]:
    """Check ∂J/∂W, ∂J/∂b, ∂J/∂U, ∂J/∂c and ∂J/∂E (the rows the batch touches) of one batch.

    Every entry is checked, or ``max_entries`` of each parameter drawn at random with ``rng``. The model
    itself is not changed: the check runs on a float64 copy.
    """
    model = model.astype(np.float64)
    rng = rng or np.random.default_rng(0)
    _, grads = model.loss_and_grads(windows, labels, l2, fine_tune=True)
    analytic = {name: grad for name, grad in grads.items() if name != "E"}
    sparse = grads["E"]
    analytic["E"] = sparse.values  # compare on the touched rows only

    def central_difference(param: np.ndarray, index: tuple, step: float) -> float:
        original = param[index]
        param[index] = original + step
        plus = model.loss(windows, labels, l2)
        param[index] = original - step
        minus = model.loss(windows, labels, l2)
        param[index] = original
        return (plus - minus) / (2 * step)

    step = STEP if richardson else PLAIN_STEP
    tiny = ROUNDING * max(abs(model.loss(windows, labels, l2)), 1.0) / step / TOLERANCE

    def numeric(param: np.ndarray, index: tuple) -> float:
        if richardson:
            return (
                4 * central_difference(param, index, step / 2) - central_difference(param, index, step)
            ) / 3
        return central_difference(param, index, step)

    checks = []
    for name in [*(name for name in model.params if name != "E"), "E"]:  # every parameter, E last
        param = model.params[name]
        view = param[sparse.rows] if name == "E" else param
        entries = [np.unravel_index(i, view.shape) for i in range(view.size)]
        if max_entries is not None and len(entries) > max_entries:
            entries = [entries[i] for i in rng.choice(len(entries), max_entries, replace=False)]
        errors = []
        for entry in entries:
            index = (sparse.rows[entry[0]], entry[1]) if name == "E" else entry
            errors.append(relative_error(analytic[name][entry], numeric(param, index), tiny))
        checks.append(Check(name, len(entries), float(np.max(errors)), tiny))
    return checks


def random_problem(
    rng: np.random.Generator, batch: int = 8, words: int = 40, dim: int = 8, classes: int = 5
) -> tuple[WindowModel, np.ndarray, np.ndarray]:
    """A float64 model of the default shape (window 2, hidden 100, tanh) on random vectors, windows and
    labels: what ``windowner gradcheck`` checks when it is given no config. Window 0 uses one word twice,
    so that the sum of its two slices is checked as well."""
    shape = ModelConfig()
    E = rng.normal(0.0, 0.5, size=(words, dim))
    model = WindowModel.initialise(E, shape.window, shape.hidden, classes, rng, shape.activation, np.float64)
    windows = rng.integers(0, words, size=(batch, 2 * shape.window + 1))
    windows[0, 0] = windows[0, 1]
    labels = rng.integers(0, classes, size=batch)
    return model, windows, labels
