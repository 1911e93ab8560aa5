"""The window classifier of the CS224N lecture "Backpropagation and computation graphs".

Notation (the lecture's, used for the parameter names throughout windowner):

* ``E`` (V, d): the word vectors, one row a word; further look-up tables ``E_<feature>`` (the casing of
  each word, …) sit beside it, each concatenated to x the same way;
* ``W`` (H, D) and ``b`` (H,): the hidden layer, D = K·d (+ the features' widths), K = 2·window + 1;
* ``a`` (H,): the slopes of a ``prelu`` activation (the only activation with a parameter);
* ``U`` (O, H) and ``c`` (O,): the output layer, O = C classes (or 1 score for ``logistic``/``margin``);
* ``A`` (C, C), ``A_start``, ``A_end`` (C,): the tag transitions of the ``crf`` loss.

For a window of words w_1 … w_K::

    x = [E[w_1]; …; E[w_K]; E_case[case(w_1)]; …]   (D,)   embedding gates (look-up, concatenate);
                                                            while training a word reads <unk> with
                                                            probability model.word_dropout
    x = dropout(x)                                          only while training (model.input_dropout)
    z = W x + b                                     (H,)   affine gate
    h = f(z)                                        (H,)   activation gate
    h = dropout(h)                                          only while training (model.dropout)
    s = U h + c                                     (O,)   affine gate
    J = loss(s, y) + (λ/2)(‖W‖² + ‖U‖²) + (λ_E/2) Σ_{rows of the batch} ‖E[v] − E₀[v]‖²

and the backward pass runs the same gates in reverse order (see :meth:`WindowModel.forward`, the one
place that orders them).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..data.features import FEATURES
from .init import INITIALISERS, log_priors
from .layers import ACTIVATIONS, SparseRows, affine, bag, dropout, embedding
from .layers.embedding import run_starts
from .losses import LOSSES, TRANSITIONS, Batch, Loss
from .shape import ModelConfig

REGULARISED = ("W", "U")  # λ applies to the weight matrices, not to biases; λ_E to the word vectors
SCORING_BATCH = 4096  # windows a forward pass when scoring (eval, predict)
UNKNOWN = np.zeros(1, dtype=np.int64)  # row 0, <unk>: read by every batch that drops words

Gradients = dict[str, "np.ndarray | SparseRows"]


@dataclass
class WindowModel:
    """The parameters and shape of a window classifier; the forward and backward passes.

    ``params`` maps names to arrays, all of one float dtype; ``tables`` names the look-up tables in the
    order of the model's input ``windows[:, t]`` (``E`` first); ``loss`` is the objective, ``threshold``
    the decision threshold θ of a single-score model (s > θ: location). ``pretrained`` is E as it started
    (E₀, the centre of the word-vector penalty; None when the model was loaded for prediction).
    """

    params: dict[str, np.ndarray]
    shape: ModelConfig = field(default_factory=ModelConfig)
    loss: Loss = field(default_factory=Loss)
    tables: tuple[str, ...] = ("E",)
    threshold: float = 0.0
    pretrained: np.ndarray | None = field(default=None, repr=False)
    theta: np.ndarray = field(init=False, repr=False)
    _activation: Callable = field(init=False, repr=False)

    def __post_init__(self) -> None:
        activation = ACTIVATIONS[self.shape.activation]
        forward = activation.forward
        if self.shape.activation == "leaky_relu":
            forward = functools.partial(forward, slope=self.shape.slope)
        self._activation = forward
        missing = [name for name in self.parameter_names() if name not in self.params]
        if missing:
            raise ValueError(f"missing parameters: {', '.join(missing)}")
        # θ: every parameter that is not a look-up table, one after another in one vector (the lecture's
        # "θ, all parameters as one long vector"); params holds views of it, so the optimiser updates
        # them all at once (see :meth:`trainables`).
        dense = self.dense_names()
        self.theta = np.concatenate([self.params[name].ravel() for name in dense]).astype(
            self.params["W"].dtype
        )
        offset = 0
        for name in dense:
            size = self.params[name].size
            self.params[name] = self.theta[offset : offset + size].reshape(self.params[name].shape)
            offset += size

    def dense_names(self) -> tuple[str, ...]:
        """The parameters that make up θ: all but the look-up tables."""
        return tuple(name for name in self.parameter_names() if name not in self.tables)

    def trainables(self) -> dict[str, np.ndarray]:
        """What the optimiser updates: ``theta`` (every dense parameter in one vector) and each table."""
        return {"theta": self.theta, **{name: self.params[name] for name in self.tables}}

    def rows_read(self, windows: np.ndarray, fine_tune: bool = True) -> dict[str, np.ndarray]:
        """The rows of each trained table that a batch of windows ``(B, T, K)`` reads (E only with
        ``fine_tune``; with word dropout, E's row 0 too, ``<unk>``, which a dropped word reads), sorted
        and unique."""
        rows, t = {}, 0
        for name in self.tables:
            slots = table_slots(name)
            if name != "E" or fine_tune:
                read = windows[:, t : t + slots].ravel()
                if name == "E" and self.shape.word_dropout:
                    read = np.concatenate((read, UNKNOWN))
                read = np.sort(read)
                rows[name] = read[run_starts(read)]
            t += slots
        return rows

    def packed(self, grads: Gradients) -> Gradients:
        """The gradients of :meth:`trainables`: the dense ones concatenated in θ's order, the tables'."""
        theta = np.concatenate([grads[name].ravel() for name in self.dense_names()])
        return {"theta": theta, **{name: grads[name] for name in self.tables if name in grads}}

    def parameter_names(self) -> tuple[str, ...]:
        """Every parameter this model has, in the order of the forward pass."""
        names = [*self.tables, "W", "b", *ACTIVATIONS[self.shape.activation].params, "U", "c"]
        if self.loss.transitions:
            names += TRANSITIONS
        return tuple(names)

    @classmethod
    def initialise(
        cls,
        tables: dict[str, np.ndarray],
        shape: ModelConfig,
        classes: int,
        rng: np.random.Generator,
        loss: Loss | None = None,
        labels: np.ndarray | None = None,
        dtype: type = np.float32,
    ) -> WindowModel:
        """A new model on the look-up ``tables`` (``E`` first; copied), with W and U as ``shape.init``
        says and zero biases, or the output bias at the log class priors of ``labels``
        (``shape.output_bias: prior``); PReLU slopes at 0.25, transitions at 0."""
        loss = loss or Loss()
        width = (2 * shape.window + 1) * sum(table.shape[1] for table in tables.values())
        outputs = loss.outputs(classes)
        initialiser = INITIALISERS[shape.init]
        params = {name: np.array(table, dtype=dtype) for name, table in tables.items()}
        for name in params:
            if table_slots(name) > 1:
                params[name][0] = 0.0  # a bag's empty slot reads row 0: zero, and never trained
        params["W"] = initialiser(shape.hidden, width, rng, shape.init_range).astype(dtype)
        params["b"] = np.zeros(shape.hidden, dtype=dtype)
        activation = ACTIVATIONS[shape.activation]
        for name in activation.params:
            params[name] = np.full(shape.hidden, activation.init, dtype=dtype)
        params["U"] = initialiser(outputs, shape.hidden, rng, shape.init_range).astype(dtype)
        params["c"] = np.zeros(outputs, dtype=dtype)
        if shape.output_bias == "prior" and labels is not None:
            params["c"] = log_priors(labels, outputs).astype(dtype)
        if loss.transitions:
            params["A"] = np.zeros((classes, classes), dtype=dtype)
            params["A_start"] = np.zeros(classes, dtype=dtype)
            params["A_end"] = np.zeros(classes, dtype=dtype)
        return cls(params, shape, loss, tuple(tables), pretrained=params["E"].copy())

    @property
    def dtype(self) -> np.dtype:
        return self.params["W"].dtype

    @property
    def classes(self) -> int:
        """The number of classes C (two for a single-score model: O and location)."""
        outputs = self.params["U"].shape[0]
        return 2 if outputs == 1 else outputs

    def astype(self, dtype: type) -> WindowModel:
        """A copy with every parameter in ``dtype`` (gradient checks run in float64)."""
        params = {name: value.astype(dtype) for name, value in self.params.items()}
        pretrained = None if self.pretrained is None else self.pretrained.astype(dtype)
        return WindowModel(params, self.shape, self.loss, self.tables, self.threshold, pretrained)

    def forward(
        self, windows: np.ndarray, rng: np.random.Generator | None = None, trace: dict | None = None
    ) -> tuple[np.ndarray, Callable[..., Gradients]]:
        """Scores of a batch of windows, int ``(B, T, K)`` -> ``(B, O)``, and the backward pass.

        ``rng`` draws the dropout masks: given, the model is training; None, it is evaluating (dropout is
        the identity). ``backward(d_scores, fine_tune=True)`` takes ∂J/∂s ``(B, O)`` and returns the
        gradients that flow back from the scores: dense arrays for W, b, (a), U, c, and
        :class:`SparseRows` (the touched rows only) for the look-up tables; E only with ``fine_tune``
        (frozen word vectors get no gradient, and ∂J/∂x is computed only for the columns of trained
        tables). The penalties are added by :meth:`loss_and_grads`. A ``trace`` dictionary, if given,
        receives the intermediate values (the windows as read, x, z, h) and the scores.
        """
        p, shape = self.params, self.shape
        if rng is not None and shape.word_dropout:  # while training, some words read <unk> (row 0)
            words = windows[:, 0]
            dropped = (rng.random(words.shape) < shape.word_dropout) & (words > 2)  # not <s>, </s>
            windows = windows.copy()
            windows[:, 0][dropped] = 0
        looked_up, t = [], 0  # each table's part of x (B, K·d_t) and its backward
        for name in self.tables:
            slots = table_slots(name)  # 1, or a bag of several rows a word (the chars feature)
            if slots == 1:
                looked_up.append(embedding(p[name], windows[:, t]))
            else:
                looked_up.append(bag(p[name], windows[:, t : t + slots]))
            t += slots
        widths = [part.shape[1] for part, _ in looked_up]
        x = looked_up[0][0] if len(looked_up) == 1 else np.concatenate([x for x, _ in looked_up], axis=1)
        input_dropout = hidden_dropout = None
        if rng is not None and shape.input_dropout:
            x, input_dropout = dropout(x, shape.input_dropout, rng)  # (B, D)
        z, hidden_backward = affine(x, p["W"], p["b"])  # (B, H)
        activation_params = ACTIVATIONS[shape.activation].params
        h, activation_backward = self._activation(z, *(p[name] for name in activation_params))  # (B, H)
        if rng is not None and shape.dropout:
            h, hidden_dropout = dropout(h, shape.dropout, rng)
        scores, output_backward = affine(h, p["U"], p["c"])  # (B, O)
        if trace is not None:
            trace.update(windows=windows, x=x, z=z, h=h, scores=scores)

        def backward(d_scores: np.ndarray, fine_tune: bool = True) -> Gradients:
            d_hidden, dU, dc = output_backward(d_scores)  # ∂J/∂H = δ₂ U, δ₂ = ∂J/∂S
            if hidden_dropout is not None:
                d_hidden = hidden_dropout(d_hidden)
            delta, *d_activation = activation_backward(d_hidden)  # δ₁ = ∂J/∂Z = ∂J/∂H ⊙ f'(Z)
            frozen = 0 if fine_tune else 1  # E is table 0; the other tables are always trained
            first = sum(widths[:frozen])  # the first column of x that comes from a trained table
            trained = frozen < len(self.tables)
            dx, dW, db = hidden_backward(delta, input_from=first if trained else None)  # ∂J/∂X = δ₁ W
            grads: Gradients = {"W": dW, "b": db, "U": dU, "c": dc}
            grads.update(zip(activation_params, d_activation, strict=True))
            if input_dropout is not None and trained:
                dx = input_dropout(dx, first)
            for t in range(frozen, len(self.tables)):  # slices of ∂J/∂x to sparse rows of each table
                start = sum(widths[:t]) - first
                grads[self.tables[t]] = looked_up[t][1](dx[:, start : start + widths[t]])
            return grads

        return scores, backward

    def loss_and_grads(
        self,
        batch: Batch,
        l2: float = 0.0,
        l2_vectors: float = 0.0,
        fine_tune: bool = True,
        rng: np.random.Generator | None = None,
    ) -> tuple[float, Gradients]:
        """The objective J on a batch and its gradient with respect to every trained parameter.

        J is the loss plus (l2/2)(‖W‖² + ‖U‖²) and, when fine-tuning, (l2_vectors/2) times the squared
        distance of the batch's rows of E from where they started. With ``fine_tune=False`` no gradient
        is computed for E. ``rng`` turns dropout on (see :meth:`forward`).
        """
        scores, backward = self.forward(batch.windows, rng)
        loss, d_scores, loss_grads = self.loss(scores, batch, self.params)
        grads = backward(d_scores, fine_tune)
        grads.update(loss_grads)
        if l2:
            for name in REGULARISED:
                grads[name] = grads[name] + l2 * self.params[name]  # ∂/∂W (l2/2)‖W‖² = l2·W
        moved = None
        if l2_vectors and fine_tune:
            E = grads["E"]
            moved = self._moved(E.rows)
            grads["E"] = SparseRows(E.rows, E.values + l2_vectors * moved)
        return loss + self._penalty(l2, l2_vectors, moved), grads

    def objective(
        self,
        batch: Batch,
        l2: float = 0.0,
        l2_vectors: float = 0.0,
        rng: np.random.Generator | None = None,
        trace: dict | None = None,
        *,
        fine_tune: bool = True,
    ) -> float:
        """J on a batch, without gradients (what a gradient check perturbs): the J of
        :meth:`loss_and_grads` with the same arguments (frozen vectors, ``fine_tune=False``, take no
        word-vector penalty); ``trace`` as in :meth:`forward`."""
        trace = {} if trace is None else trace
        scores, _ = self.forward(batch.windows, rng, trace)
        moved = None
        if l2_vectors and fine_tune:
            moved = self._moved(np.unique(trace["windows"][:, 0]))  # the rows read
        return self.loss(scores, batch, self.params)[0] + self._penalty(l2, l2_vectors, moved)

    def _penalty(self, l2: float, l2_vectors: float, moved: np.ndarray | None) -> float:
        """(l2/2)(‖W‖² + ‖U‖²) + (l2_vectors/2) Σ_v ‖E[v] − E₀[v]‖², ``moved`` the batch's rows of
        E − E₀ (None: no word-vector penalty)."""
        total = 0.0
        if l2:
            total += 0.5 * l2 * sum(float(np.sum(self.params[name] ** 2)) for name in REGULARISED)
        if moved is not None:
            total += 0.5 * l2_vectors * float(np.sum(moved**2))
        return total

    def _moved(self, rows: np.ndarray) -> np.ndarray:
        """E[rows] − E₀[rows]: how far fine-tuning has moved those rows."""
        if self.pretrained is None:
            raise ValueError("the word-vector penalty needs the pretrained vectors E0 (model.pretrained)")
        return self.params["E"][rows] - self.pretrained[rows]

    def pieces(self, batch: Batch, trace: dict) -> list[np.ndarray]:
        """Which piece of every piecewise-linear gate a forward pass was on (``trace`` from it): the side
        of each kink of the activation for every z, and the loss's hinges. A gradient check leaves out an
        entry whose ±h step changes any of them (the difference quotient would then span a kink)."""
        out = [np.searchsorted(ACTIVATIONS[self.shape.activation].kinks, trace["z"])]
        if self.loss.kinked:
            out.append(self.loss.pieces(trace["scores"], batch))
        return out

    @property
    def kinked(self) -> bool:
        """Whether any gate is piecewise linear (see :meth:`pieces`)."""
        return bool(ACTIVATIONS[self.shape.activation].kinks) or self.loss.kinked

    def scores(self, windows: np.ndarray, batch_size: int = SCORING_BATCH) -> np.ndarray:
        """Per-class scores of many windows, computed a batch at a time; ``(N, T, K) -> (N, C)``."""
        out = np.empty((len(windows), self.classes), dtype=self.dtype)
        for start in range(0, len(windows), batch_size):
            raw = self.forward(windows[start : start + batch_size])[0]
            out[start : start + batch_size] = self.loss.class_scores(raw, self.threshold)
        return out

    def transitions(self) -> dict[str, np.ndarray] | None:
        """A, A_start, A_end of a ``crf`` model (for Viterbi), else None."""
        if not self.loss.transitions:
            return None
        return {name: self.params[name] for name in TRANSITIONS}


def table_slots(name: str) -> int:
    """How many slots of the windows table ``name`` reads: 1 (E, most features) or a bag's keys."""
    return FEATURES[name[2:]].slots if name.startswith("E_") else 1


def make_loss(name: str, corruptions: int = 1) -> Loss:
    """The loss ``name`` of :data:`~windowner.network.losses.LOSSES` (``corruptions``: margin's copies)."""
    kind = LOSSES[name]
    return kind(corruptions) if name == "margin" else kind()
