"""From per-token class scores to a tag sequence: argmax, or Viterbi over the allowed tag paths.

* ``argmax``: each token takes its best class on its own. An impossible IOB2 sequence (``O I-LOC``) can
  come out; it is read the way conlleval reads it (an ``I-X`` that starts an entity becomes ``B-X``).
* ``viterbi``: the best whole path, where a path scores Σ_t f_t[y_t] (+ the transitions A of a ``crf``
  model) and the impossible IOB2 transitions are removed: no ``I-X`` after ``O`` or at the start of a
  sentence, no ``I-Y`` after ``B-X``/``I-X`` with Y ≠ X. It never outputs an impossible sequence. For
  a softmax model the raw scores give the same path as the log-probabilities (they differ by a
  constant a token).

Viterbi, for one sentence of n tokens, A' the transitions with −∞ where forbidden::

    v_1[j] = A_start'[j] + f_1[j]           v_t[j] = f_t[j] + max_i(v_{t−1}[i] + A'[i, j]),  ψ_t[j] = argmax_i
    y_n = argmax_j(v_n[j] + A_end[j]),       y_{t−1} = ψ_t[y_t]

All sentences run together, longest first (as in :mod:`windowner.losses.crf`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .losses import by_length

DECODERS = ("argmax", "viterbi")


def allowed_transitions(classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Which IOB2 transitions are possible: ``(C, C)`` (tag i then tag j) and at a sentence start ``(C,)``.

    ``I-X`` may follow only ``B-X`` or ``I-X``; every other tag may follow anything. Class names
    without ``B-`` tags (the location task's ``O``/``I-LOC``, read the IOB1 way) allow everything.
    """
    count = len(classes)
    if not any(name.startswith("B-") for name in classes):
        return np.ones((count, count), dtype=bool), np.ones(count, dtype=bool)
    inside = [name.startswith("I-") for name in classes]
    kind = [name[2:] for name in classes]
    allowed = np.array(
        [
            [not inside[j] or (classes[i] != "O" and kind[i] == kind[j]) for j in range(count)]
            for i in range(count)
        ]
    )
    return allowed, ~np.array(inside)


def viterbi(
    scores: np.ndarray,
    lengths: Sequence[int],
    allowed: np.ndarray,
    allowed_start: np.ndarray,
    transitions: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """The best allowed path of every sentence.

    Args:
        scores: per-token class scores ``(N, C)``, sentence after sentence.
        lengths: sentence lengths summing to N.
        allowed, allowed_start: from :func:`allowed_transitions`.
        transitions: ``A`` ``(C, C)``, ``A_start``, ``A_end`` ``(C,)`` of a ``crf`` model, or None (zero).

    Returns:
        The class of every token, int ``(N,)``.
    """
    tokens, classes = scores.shape
    out = np.zeros(tokens, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    lengths = lengths[lengths > 0]
    if not len(lengths):
        return out
    dtype = np.promote_types(scores.dtype, np.float32)  # float32 scores are decoded in float32
    zero = np.zeros(classes, dtype=dtype)
    forbid = np.where(allowed, 0.0, -np.inf)
    A = (forbid + (transitions["A"] if transitions else 0.0)).astype(dtype)
    start = np.where(allowed_start, 0.0, -np.inf) + (transitions["A_start"] if transitions else zero)
    end = transitions["A_end"] if transitions else zero
    positions, valid, active = by_length(lengths)
    sentences, steps = positions.shape
    f = scores.astype(dtype, copy=False)[positions]  # (S, T, C)
    best = (start + f[:, 0]).astype(dtype)  # (S, C) v_t, rows of finished sentences keep their last value
    back = np.zeros((sentences, steps, classes), dtype=np.int16)  # ψ_t
    for t in range(1, steps):
        n = active[t]
        # max_i (v_{t−1}[i] + A'[i, j]) and its argmax, one i at a time over (n, C) arrays: numpy's argmax
        # over a short middle axis of (n, C, C) is 1.7x slower. A later i wins only when strictly
        # better: ties go to the first i, as argmax breaks them.
        top, arg = best[:n, 0:1] + A[0], back[:n, t]
        for i in range(1, classes):
            candidate = best[:n, i : i + 1] + A[i]
            np.putmask(arg, candidate > top, i)
            np.maximum(top, candidate, out=top)
        best[:n] = top + f[:n, t]
    last = valid.sum(axis=1) - 1
    tags = np.zeros((sentences, steps), dtype=np.int64)
    rows = np.arange(sentences)
    tags[rows, last] = (best + end).argmax(axis=1)
    for t in range(steps - 1, 0, -1):
        n = active[t]
        tags[:n, t - 1] = back[rows[:n], t, tags[:n, t]]
    out[positions[valid]] = tags[valid]
    return out
