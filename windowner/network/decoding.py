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

All sentences run together, longest first (as in :mod:`windowner.network.losses.crf`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

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
    order = np.argsort(-lengths, kind="stable")  # the sentences, longest first
    order = order[lengths[order] > 0]
    if not len(order):
        return out
    dtype = np.promote_types(scores.dtype, np.float32)  # float32 scores are decoded in float32
    zero = np.zeros(classes, dtype=dtype)
    forbid = np.where(allowed, 0.0, -np.inf)
    A = (forbid + (transitions["A"] if transitions else 0.0)).astype(dtype)
    start = np.where(allowed_start, 0.0, -np.inf) + (transitions["A_start"] if transitions else zero)
    end = transitions["A_end"] if transitions else zero
    scores = scores.astype(dtype, copy=False)
    first = (np.cumsum(lengths) - lengths)[order]  # the row of each sentence's first token
    longest = -lengths[order]
    active = np.searchsorted(longest, -np.arange(-longest[0]))  # how many sentences have a token at t
    # v_t of the first active[t] sentences, (active[t], C); the loop keeps every step's for the way back
    v = [(start + scores.take(first, axis=0)).astype(dtype)]
    candidate = np.empty_like(v[0])
    for t in range(1, len(active)):
        n = active[t]
        last = v[-1][:n]
        # max_i (v_{t−1}[i] + A'[i, j]) over (n, C) arrays, one i at a time: for 7,519 sentences and
        # 9 tags, 3.9x faster than numpy's max over the middle axis of (n, C, C)
        top = last[:, 0:1] + A[0]
        for i in range(1, classes):
            np.add(last[:, i : i + 1], A[i], out=candidate[:n])
            np.maximum(top, candidate[:n], out=top)
        top += scores.take(first[:n] + t, axis=0)
        v.append(top)
    # the way back: ψ_t[y_t] = argmax_i (v_{t−1}[i] + A'[i, y_t]), recomputed for the chosen y_t only
    # (the same sums as above, so the same maximum; argmax breaks ties by the first i)
    tags = np.zeros(len(order), dtype=np.int64)
    for t in range(len(active) - 1, -1, -1):
        n = active[t]
        ending = slice(active[t + 1] if t + 1 < len(active) else 0, n)  # sentences whose last token is t
        tags[ending] = (v[t][ending] + end).argmax(axis=1)
        out[first[:n] + t] = tags[:n]
        if t:
            tags[:n] = (v[t - 1][:n] + A.T[tags[:n]]).argmax(axis=1)
    return out
