"""Losses: from the output layer's scores to the objective J and the error signal ∂J/∂s.

A loss (config ``train.loss``, one entry of :data:`LOSSES`) decides four things:

* how wide the output layer is (C scores a window, or the lecture's single score),
* which examples a training batch holds (:meth:`Loss.batches`): shuffled windows; true windows with
  corrupted copies (``margin``); whole sentences (``crf``),
* J of a batch and ∂J/∂scores, and the gradients of its own parameters (the transitions of ``crf``),
* how scores become per-class scores for decoding (:meth:`Loss.class_scores`).

The window-level losses are in :mod:`.window`, the sentence-level one in :mod:`.crf`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ...data.vocab import SPECIALS
from .crf import TRANSITIONS, by_length, crf_loss
from .window import logistic, margin, margin_pieces, softmax_cross_entropy

__all__ = [
    "LOSSES",
    "TRANSITIONS",
    "Batch",
    "Epoch",
    "Examples",
    "Loss",
    "by_length",
    "crf_loss",
    "softmax_cross_entropy",
]


@dataclass(frozen=True)
class Examples:
    """A data set as the losses batch it: the windows of every token, its class, the sentence lengths.

    ``windows`` int ``(N, T, K)`` (T look-up tables, K words a window; see :mod:`windowner.data.windows`),
    ``labels`` int ``(N,)``, ``lengths`` int ``(S,)`` summing to N.
    """

    windows: np.ndarray
    labels: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Batch:
    """One step's examples: ``windows`` ``(B, T, K)``, ``labels`` ``(B,)``; ``lengths`` (``crf``: the
    sentences the B tokens make up) or ``positives`` (``margin``: the first P windows are true windows,
    then blocks of P corrupted copies)."""

    windows: np.ndarray
    labels: np.ndarray
    lengths: np.ndarray | None = None
    positives: int = 0


class Epoch:
    """The batches of one epoch, in order: an iterator that knows how many it holds (``len``)."""

    def __init__(self, batches: Iterator[Batch], count: int):
        self._batches, self.count = batches, count

    def __iter__(self) -> Epoch:
        return self

    def __next__(self) -> Batch:
        return next(self._batches)

    def __len__(self) -> int:
        return self.count


PREFETCH = 8192  # windows gathered at once, then cut into batches (one gather a batch costs 2-8% a step)


class Loss:
    """Softmax cross-entropy over C classes, each batch ``batch_size`` windows drawn without
    replacement; the base of the other losses."""

    name = "softmax"
    binary = False  # True: one score a window, for the location task only
    transitions = False  # True: the loss has the parameters A, A_start, A_end
    kinked = False  # True: J has kinks (see pieces)

    def outputs(self, classes: int) -> int:
        """The width of the output layer for ``classes`` classes."""
        return 1 if self.binary else classes

    def __call__(
        self, scores: np.ndarray, batch: Batch, params: dict[str, np.ndarray]
    ) -> tuple[float, np.ndarray, dict[str, np.ndarray]]:
        """``(J, ∂J/∂scores, gradients of the loss's own parameters)``."""
        loss, d_scores = softmax_cross_entropy(scores, batch.labels)
        return loss, d_scores, {}

    def batches(self, data: Examples, batch_size: int, rng: np.random.Generator) -> Epoch:
        """The batches of one epoch, in an order drawn from ``rng``."""
        order = rng.permutation(len(data))
        return Epoch(self._cut(data, order, batch_size), -(-len(order) // batch_size))

    @staticmethod
    def _cut(data: Examples, order: np.ndarray, batch_size: int) -> Iterator[Batch]:
        block = batch_size * max(1, PREFETCH // batch_size)
        for start in range(0, len(order), block):
            chosen = order[start : start + block]
            windows, labels = data.windows[chosen], data.labels[chosen]
            for first in range(0, len(chosen), batch_size):
                yield Batch(windows[first : first + batch_size], labels[first : first + batch_size])

    def class_scores(self, scores: np.ndarray, threshold: float = 0.0) -> np.ndarray:
        """Scores ``(N, outputs)`` to scores of each class ``(N, C)``, what decoding reads."""
        return scores

    def pieces(self, scores: np.ndarray, batch: Batch) -> np.ndarray:
        """For a loss with kinks: which piece each kinked term is on (a gradient check compares them)."""
        raise NotImplementedError


class Logistic(Loss):
    """The lecture's single score and a sigmoid, binary cross-entropy (location task)."""

    name = "logistic"
    binary = True

    def __call__(self, scores, batch, params):
        loss, d_scores = logistic(scores, batch.labels)
        return loss, d_scores, {}

    def class_scores(self, scores: np.ndarray, threshold: float = 0.0) -> np.ndarray:
        """Scores (0, s − θ) of (O, location): the softmax of (0, s) is (1 − σ(s), σ(s)), so the argmax
        is the location exactly when σ(s) > 1/2 (θ = 0)."""
        return np.concatenate([np.zeros_like(scores), scores - threshold], axis=1)


class Margin(Logistic):
    """The max-margin objective: true location windows against corrupted copies (location task).

    A batch holds ``batch_size`` windows whose centre word is a location and ``corruptions`` copies of
    each with the centre word (column ``window`` of table 0) replaced by a word drawn uniformly from the
    vocabulary of the training data (its distinct words; not the special rows, nor words met only in dev
    or test files, which must not shape the model). The other look-up tables (casing, ...) of the
    centre word are kept: only the word changes. A margin model decides "location" when s > θ, the
    threshold that maximises the location token F1 on the dev data (on the training data without a dev
    file), chosen after every epoch (:func:`windowner.training.epochs.choose_threshold`).
    """

    name = "margin"
    kinked = True

    def __init__(self, corruptions: int = 1):
        self.corruptions = corruptions

    def __call__(self, scores, batch, params):
        loss, d_scores = margin(scores, batch.positives)
        return loss, d_scores, {}

    def batches(self, data, batch_size, rng):
        true = np.flatnonzero(data.labels == 1)
        return Epoch(self._corrupted(data, true, batch_size, rng), -(-len(true) // batch_size))

    def _corrupted(self, data, true, batch_size, rng):
        order = true[rng.permutation(len(true))]
        centre = data.windows.shape[2] // 2
        words = np.unique(data.windows[:, 0, centre])
        words = words[words >= len(SPECIALS)]  # not <unk>, <s>, </s>
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            positives = data.windows[chosen]
            copies = np.tile(positives, (self.corruptions, 1, 1))
            copies[:, 0, centre] = words[rng.integers(0, len(words), size=len(copies))]
            windows = np.concatenate([positives, copies])
            labels = np.concatenate([np.ones(len(chosen), np.int64), np.zeros(len(copies), np.int64)])
            yield Batch(windows, labels, positives=len(chosen))

    def pieces(self, scores, batch):
        return margin_pieces(scores, batch.positives)


class Crf(Loss):
    """The sentence-level log-likelihood with learned transitions (see :mod:`.crf`).

    A batch is whole sentences, taken in random order until they hold at least ``batch_size`` tokens
    (a sentence longer than that makes a batch of its own), so that a step sees about as many windows as
    with the window-level losses.
    """

    name = "crf"
    transitions = True

    def __call__(self, scores, batch, params):
        return crf_loss(scores, batch.labels, batch.lengths, params)

    def batches(self, data, batch_size, rng):
        lengths = data.lengths
        starts = np.cumsum(lengths) - lengths
        order = rng.permutation(len(lengths))
        cuts, filled = [], 0
        for i, length in enumerate(lengths[order].tolist()):
            filled += length
            if filled >= batch_size:
                cuts.append(i + 1)
                filled = 0
        chunks = [chosen for chosen in np.split(order, cuts) if len(chosen)]
        return Epoch(self._sentences(data, chunks, starts), len(chunks))

    @staticmethod
    def _sentences(data, chunks, starts):
        for chosen in chunks:
            counts = data.lengths[chosen]
            first = np.repeat(starts[chosen] - (np.cumsum(counts) - counts), counts)
            tokens = first + np.arange(counts.sum())
            yield Batch(data.windows[tokens], data.labels[tokens], lengths=counts)


LOSSES: dict[str, type[Loss]] = {"softmax": Loss, "logistic": Logistic, "margin": Margin, "crf": Crf}
