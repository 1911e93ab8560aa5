"""Windows: the 2·window + 1 rows around every token, for every look-up table, as one integer array.

For a sentence ``w_1 … w_n`` and ``window = 2``, token ``t`` gets the rows of
``w_{t-2}, w_{t-1}, w_t, w_{t+1}, w_{t+2}``; positions before the first word read ``<s>``, positions
after the last read ``</s>``. A model with features (:mod:`windowner.features`) reads several tables:
``windows[i, t, k]`` is the row of table t (0: the words in E, then one a feature) of the k-th word of
window i, shape ``(N, T, K)``. The windows of a whole corpus are built at once, with no Python loop over
tokens: every token's neighbour at offset ``k`` is the token ``k`` places further in the concatenated
corpus, replaced by a pad wherever that crosses its own sentence's boundary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .features import encoders
from .vocab import END, START, Vocabulary


def make_windows(sentences: Sequence[np.ndarray], window: int, start: int, end: int) -> np.ndarray:
    """Windows of every token of every sentence, for one table.

    Args:
        sentences: one int array of rows (word indices) per sentence.
        window: words on each side of the centre word.
        start, end: the rows of the ``<s>`` and ``</s>`` pads.

    Returns:
        int32 array of shape ``(N, 2·window + 1)``, N the total number of tokens, sentence after sentence;
        column ``window`` is the centre word.
    """
    lengths = np.array([len(s) for s in sentences], dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros((0, 2 * window + 1), dtype=np.int32)
    rows = np.concatenate(sentences).astype(np.int32)
    sentence_start = np.repeat(np.cumsum(lengths) - lengths, lengths)  # (N,) first token of own sentence
    position = np.arange(total) - sentence_start  # (N,) index within the sentence
    length = np.repeat(lengths, lengths)  # (N,) length of own sentence
    offsets = np.arange(-window, window + 1)  # (2w+1,)
    neighbour = position[:, None] + offsets[None, :]  # (N, 2w+1) position of each window word
    inside = (neighbour >= 0) & (neighbour < length[:, None])
    gathered = rows[np.clip(np.arange(total)[:, None] + offsets[None, :], 0, total - 1)]
    return np.where(inside, gathered, np.where(neighbour < 0, start, end)).astype(np.int32)


def sentence_windows(
    sentences: Sequence[Sequence[str]],
    vocab: Vocabulary,
    window: int,
    features: Mapping[str, Sequence[str]] | None = None,
) -> np.ndarray:
    """The windows of tokenised sentences: int32 ``(N, T, 2·window + 1)``.

    Table 0 is the words, looked up in ``vocab``; then the tables of each feature, ``features`` mapping
    each feature's name to its classes (see :mod:`windowner.features`; padding class 0): one table, or
    ``slots`` tables for a feature with several keys a token (``chars``).
    """
    words = [vocab.encode(tokens) for tokens in sentences]
    tables = [make_windows(words, window, vocab.row[START], vocab.row[END])]
    for encoder in encoders(features or {}):
        classes = [encoder.encode(tokens) for tokens in sentences]  # (n,) or (n, slots) a sentence
        if encoder.feature.slots == 1:
            tables.append(make_windows(classes, window, 0, 0))
        else:  # a table of the windows for each slot
            tables += [
                make_windows([c[:, slot] for c in classes], window, 0, 0)
                for slot in range(encoder.feature.slots)
            ]
    return np.stack(tables, axis=1)
