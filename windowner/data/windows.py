"""Windows: the 2·window + 1 rows around every token, for every look-up table, as one integer array.

For a sentence ``w_1 … w_n`` and ``window = 2``, token ``t`` gets the rows of
``w_{t-2}, w_{t-1}, w_t, w_{t+1}, w_{t+2}``; positions before the first word read ``<s>``, positions
after the last read ``</s>``. A model with features (:mod:`windowner.data.features`) reads several tables:
``windows[i, t, k]`` is the row of table t (0: the words in E, then one a feature) of the k-th word of
window i, shape ``(N, T, K)``. The windows of a whole corpus are built at once, with no Python loop over
tokens: every token's neighbour at offset ``k`` is the token ``k`` places further in the concatenated
corpus, replaced by a pad wherever that crosses its own sentence's boundary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .characters import normal_form
from .features import encoders
from .gazetteer import Gazetteers
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
    rows = np.concatenate(sentences) if len(sentences) else np.zeros(0, dtype=np.int32)
    return Layout(lengths, window).fill(rows, start, end)


class Layout:
    """Where the window words of a corpus come from: computed once for its sentence lengths, then filled
    with the rows of each table (:meth:`fill`).

    Token i's neighbour at offset k is token i + k of the concatenated corpus where that lies in its own
    sentence; before the sentence's first word it is the ``start`` pad, after its last the ``end`` pad.
    """

    def __init__(self, lengths: np.ndarray, window: int):
        total = int(lengths.sum())
        sentence_start = np.repeat(np.cumsum(lengths) - lengths, lengths)  # (N,) first token of own sentence
        position = np.arange(total) - sentence_start  # (N,) index within the sentence
        offsets = np.arange(-window, window + 1)  # (K,)
        neighbour = position[:, None] + offsets[None, :]  # (N, K) position of each window word
        self.lengths = lengths
        self.source = np.clip(np.arange(total)[:, None] + offsets[None, :], 0, max(total - 1, 0))
        self.before = np.flatnonzero(neighbour < 0)  # flat positions of (N, K) that read the start pad
        self.after = np.flatnonzero(neighbour >= np.repeat(lengths, lengths)[:, None])  # ... the end pad

    def fill(self, rows: np.ndarray, start: int, end: int) -> np.ndarray:
        """The windows of one table, int32 ``(N, K)``: ``rows`` ``(N,)`` holds each token's row."""
        out = np.take(rows.astype(np.int32, copy=False), self.source)
        out.flat[self.before] = start
        out.flat[self.after] = end
        return out


def sentence_windows(
    sentences: Sequence[Sequence[str]],
    vocab: Vocabulary,
    window: int,
    features: Mapping[str, Sequence[str]] | None = None,
    gazetteers: Gazetteers | None = None,
    keys: Sequence[str] | None = None,
) -> np.ndarray:
    """The windows of tokenised sentences: int32 ``(N, T, 2·window + 1)``.

    Table 0 is the words, looked up in ``vocab``; then the tables of each feature, ``features`` mapping
    each feature's name to its classes (see :mod:`windowner.data.features`; padding class 0): one table, or
    ``slots`` tables for a feature with several keys a token (``chars``); ``gazetteers``, the lists the
    ``gazetteer`` feature matches (:mod:`windowner.data.gazetteer`); ``keys``, the ``document`` feature's
    key of every token, sentence after sentence (:mod:`windowner.data.documents`). Every table is encoded
    for the whole corpus at once and fills the same :class:`Layout`. Tokens are read in their
    :func:`~windowner.data.characters.normal_form` (NFC, without invisible characters).
    """
    layout = Layout(np.array([len(tokens) for tokens in sentences], dtype=np.int64), window)
    tokens = [token for sentence in sentences for token in sentence]
    if not "".join(tokens).isascii():  # words and features read NFC, without invisible characters
        tokens = list(map(normal_form, tokens))
        ends = np.cumsum(layout.lengths).tolist()
        sentences = [
            tokens[end - length : end] for end, length in zip(ends, layout.lengths.tolist(), strict=True)
        ]
    tables = [layout.fill(vocab.encode(tokens), vocab.row[START], vocab.row[END])]
    for encoder in encoders(features or {}, gazetteers):
        if encoder.feature.name == "document":  # keys of whole documents, given
            if keys is None or len(keys) != len(tokens):
                raise ValueError("the document feature needs the key of every token (keys=...)")
            classes = encoder.encode(keys)
        elif encoder.feature.per_token is not None:  # each token alone: the whole corpus in one call
            classes = encoder.encode(tokens)  # (N,) or (N, slots)
        else:
            parts = [encoder.encode(sentence) for sentence in sentences]
            classes = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
        if encoder.feature.slots == 1:
            tables.append(layout.fill(classes, 0, 0))
        else:  # a table of the windows for each slot
            tables += [layout.fill(classes[:, slot], 0, 0) for slot in range(encoder.feature.slots)]
    return np.stack(tables, axis=1)
