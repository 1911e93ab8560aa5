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

``tiny`` is the size below which a derivative cannot be measured to the tolerance at all: a bound on
the rounding of the difference, r = 32ε·max(|J|, 1)/h (ε = 2.2e-16), divided by the tolerance; about
2.4e-6 by default. An entry smaller than that (at a batch of 256 windows some entries of ∂J/∂E are 1e-8)
is compared at that size, that is, its absolute error must stay below r ≈ 2.4e-12: all that differences
can show of it. 32ε, not the 4ε of J's own last bit: J is computed from terms larger than itself (the
CRF's log-partition and gold-path score, of which J is the difference), and on trained models the
rounding of entries at the old floor reached 1.05 times 4ε·|J|/h, a false alarm (``docs/gradients.md``
§10 has the numbers); 32ε leaves a factor of 8 above what was seen.

**Kinks.** ReLU, hard tanh, leaky and parametric ReLU and the margin loss's hinge are piecewise linear.
If a ±h step moves some z across a kink, the difference quotient spans two pieces and says nothing about
either one-sided derivative. Every evaluation of J therefore records which piece each kinked gate is on
(:meth:`WindowModel.pieces`); an entry whose steps change any of them is left out and counted
(``skipped``). Elsewhere the function is smooth in a neighbourhood and the check is exact.

**Dropout.** J must be the same function at every evaluation, so each one draws its masks from a
generator seeded with the same ``seed``: the masks are fixed, and the check covers their backward pass.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from ..data.features import FEATURES
from .layers import ACTIVATIONS, SparseRows
from .losses import LOSSES, TRANSITIONS, Batch, Examples
from .model import WindowModel, make_loss, table_slots
from .shape import FeaturesConfig, ModelConfig

TOLERANCE = 1e-6  # a correct gradient lands around 1e-10 … 3e-7 (the smallest entries); a wrong one near 1
STEP = 3e-3  # h for the extrapolated difference
PLAIN_STEP = 1e-5  # h for the plain central difference
ROUNDING = 32 * np.finfo(np.float64).eps  # r = ROUNDING · max(|J|, 1) / h bounds the rounding of D(h)


@dataclass(frozen=True)
class Check:
    """The result for one parameter: the largest relative error over the entries checked, and how many
    entries were left out because a step crossed a kink."""

    name: str
    entries: int
    max_relative_error: float
    tiny: float  # the floor of the denominator: the smallest derivative differences can resolve
    skipped: int = 0

    @property
    def ok(self) -> bool:
        return self.max_relative_error <= TOLERANCE


def relative_error(analytic: np.ndarray, numeric: np.ndarray, tiny: float = 1e-12) -> np.ndarray:
    """|a − n| / max(|a| + |n|, tiny), entrywise."""
    return np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), tiny)


def check_gradients(
    model: WindowModel,
    batch: Batch,
    l2: float = 0.0,
    l2_vectors: float = 0.0,
    fine_tune: bool = True,
    max_entries: int | None = None,
    rng: np.random.Generator | None = None,
    richardson: bool = True,
    seed: int | None = None,
    report: Callable[[Check], object] | None = None,
) -> list[Check]:
    """Check the gradient of every trained parameter on one batch (of a look-up table: its touched rows).

    Every entry is checked, or ``max_entries`` of each parameter drawn at random with ``rng``. ``seed``
    fixes the dropout masks (None: dropout off, the model evaluates). ``report`` is called with each
    parameter's :class:`Check` as soon as it is done (a long check shows its progress). The model itself
    is not changed: the check runs on a float64 copy.
    """
    model = model.astype(np.float64)
    rng = rng or np.random.default_rng(0)

    def masks() -> np.random.Generator | None:
        return None if seed is None else np.random.default_rng(seed)

    def evaluate() -> tuple[float, list[np.ndarray]]:
        trace: dict = {}
        value = model.objective(batch, l2, l2_vectors, masks(), trace, fine_tune=fine_tune)
        return value, model.pieces(batch, trace) if model.kinked else []

    _, grads = model.loss_and_grads(batch, l2, l2_vectors, fine_tune, masks())
    value, base_pieces = evaluate()
    step = STEP if richardson else PLAIN_STEP
    tiny = ROUNDING * max(abs(value), 1.0) / step / TOLERANCE
    offsets = (step / 2, -step / 2, step, -step) if richardson else (step, -step)

    def numeric(param: np.ndarray, index: tuple) -> float | None:
        """The numeric derivative at ``index``, or None if a step crosses a kink."""
        original = param[index]
        values = []
        for offset in offsets:
            param[index] = original + offset
            value, pieces = evaluate()
            values.append(value)
            if any(not np.array_equal(a, b) for a, b in zip(pieces, base_pieces, strict=True)):
                param[index] = original
                return None
        param[index] = original
        half = (values[0] - values[1]) / step  # D(h/2) = (J(+h/2) − J(−h/2)) / h
        if not richardson:
            return half / 2
        return (4 * half - (values[2] - values[3]) / (2 * step)) / 3

    checks = []
    for name in model.parameter_names():
        if name not in grads:
            continue  # frozen
        param, grad = model.params[name], grads[name]
        rows = grad.rows if isinstance(grad, SparseRows) else None
        analytic = grad.values if isinstance(grad, SparseRows) else grad
        entries = list(np.ndindex(analytic.shape))
        if max_entries is not None and len(entries) > max_entries:
            entries = [entries[i] for i in rng.choice(len(entries), max_entries, replace=False)]
        errors, skipped = [0.0], 0
        for entry in entries:
            index = (rows[entry[0]], *entry[1:]) if rows is not None else entry
            estimate = numeric(param, index)
            if estimate is None:
                skipped += 1
                continue
            errors.append(float(relative_error(analytic[entry], estimate, tiny)))
        checks.append(Check(name, len(entries) - skipped, max(errors), tiny, skipped))
        if report is not None:
            report(checks[-1])
    return checks


def random_problem(
    rng: np.random.Generator,
    batch: int = 8,
    words: int = 40,
    dim: int = 8,
    classes: int = 5,
    shape: ModelConfig | None = None,
    loss: str = "softmax",
) -> tuple[WindowModel, Batch]:
    """A float64 model of ``shape`` (default: the default model, window 2, hidden 100, tanh) on random
    vectors, windows and labels: what ``windowner gradcheck`` checks when it is given no config.

    The batch is drawn as training draws it for ``loss`` (sentences for ``crf``, true windows and
    corrupted copies for ``margin``); window 0 uses one word twice, so that the sum of its two slices is
    checked as well. A single-score loss gets two classes (O and location).
    """
    shape = shape or ModelConfig()
    objective = make_loss(loss, corruptions=2)
    classes = 2 if objective.binary else classes
    width = 2 * shape.window + 1
    tables = {"E": rng.normal(0.0, 0.5, size=(words, dim))}
    for name in shape.features.active():
        size = (7, getattr(shape.features, name))  # 7 classes, as many as the casing feature has
        tables[FEATURES[name].table] = rng.normal(0.0, 0.5, size=size)  # (a bag's row 0 is zeroed)
    model = WindowModel.initialise(tables, shape, classes, rng, objective, dtype=np.float64)
    model.params["b"] += rng.normal(0.0, 0.3, size=model.params["b"].shape)  # not all zero: a general point
    model.params["c"] += rng.normal(0.0, 0.3, size=model.params["c"].shape)
    for name in TRANSITIONS:
        if name in model.params:
            model.params[name] += rng.normal(0.0, 0.5, size=model.params[name].shape)
    model.pretrained = model.params["E"] + rng.normal(0.0, 0.1, size=model.params["E"].shape)
    lengths = rng.integers(1, 2 * width, size=3 * batch)
    lengths = lengths[: int(np.searchsorted(np.cumsum(lengths), batch)) + 1]
    count = int(lengths.sum())
    columns = []  # a slot of the windows per table, several for a bag (the chars feature)
    for name in tables:
        slots = table_slots(name)
        ids = rng.integers(0, len(tables[name]), size=(count, slots, width))
        if slots > 1:
            ids[:, slots // 2 :] = 0  # words use the first half of the slots (and row 0, empty, some more)
        columns.append(ids)
    windows = np.concatenate(columns, axis=1)
    labels = rng.integers(0, classes, size=count)
    labels[0] = 1  # margin needs at least one true window
    data = Examples(windows, labels, lengths)
    first = next(objective.batches(data, batch, np.random.default_rng(1)))
    first.windows[0, 0, 0] = first.windows[0, 0, 1]
    return model, first


@dataclass(frozen=True)
class Case:
    """One model of ``gradcheck --all``."""

    activation: str
    loss: str
    fine_tune: bool
    l2: float

    @property
    def label(self) -> str:
        vectors = "fine-tuned" if self.fine_tune else "frozen"
        return f"{self.activation} · {self.loss} · {vectors} · λ={self.l2:g}"


def all_cases(l2: float = 1e-2) -> Iterator[Case]:
    """Every activation × every loss × {frozen, fine-tuned} × {λ = 0, λ > 0}."""
    for activation, loss, fine_tune, lam in itertools.product(ACTIVATIONS, LOSSES, (False, True), (0.0, l2)):
        yield Case(activation, loss, fine_tune, lam)


def case_problem(case: Case, seed: int = 0) -> tuple[WindowModel, Batch]:
    """The model and batch of one ``gradcheck --all`` case: a small random float64 model with that
    activation and loss, a casing table, a character n-gram bag, a gazetteer and a document table, dropout
    on x and h and word dropout."""
    rng = np.random.default_rng(seed)
    shape = ModelConfig(
        hidden=10,
        activation=case.activation,
        dropout=0.2,
        input_dropout=0.1,
        word_dropout=0.1,
        # a gazetteer table of dimension 3: of the draws of 1 to 4, one of the two with the fewest entries
        # left at a kink (538 of 83,272; 2: 2,064), and the fewest in the check of 4 entries a parameter;
        # a document table of dimension 2 (the table of the first pass's keys, read as every table is)
        features=FeaturesConfig(case=3, chars=2, gazetteer=3, document=2),
    )
    if case.activation == "leaky_relu":
        shape = replace(shape, slope=0.1)
    return random_problem(rng, batch=8, words=30, dim=6, classes=5, shape=shape, loss=case.loss)


def check_case(case: Case, max_entries: int | None = None, seed: int = 0) -> list[Check]:
    """``gradcheck --all`` for one case (:func:`case_problem`): dropout with fixed masks, λ on W and U
    and, when fine-tuning, λ_E on E."""
    model, batch = case_problem(case, seed)
    return check_gradients(
        model, batch, case.l2, case.l2, case.fine_tune, max_entries, np.random.default_rng(seed), seed=seed
    )
