"""Document context: what a first-pass model said about the same word elsewhere in its document.

A window of 5 words sees one sentence, but a word is often the same entity throughout its document (a
person named in full once and by surname after, a club in every line of a results table). The
``document`` feature (``model.features.document``) gives every token a *key* from the rest of its
document:

* for a *capitalised* token t (its first character uppercase: :func:`capitalised`) of document d, the
  other capitalised occurrences of the same word in d, compared casefolded (``JAPAN`` in a headline
  meets ``Japan`` in the text);
* a first-pass model's marginals at those occurrences (forward-backward over its CRF), summed into types
  (O and each entity type, B- and I- together) and averaged: Q_t(k), ``(K,)``;
* the key is the type with the largest Q_t, with ``?`` after it when that mean is below :data:`SURE`
  (``LOC``, ``ORG?``, ``O``); a token that is not capitalised, or whose word is alone in its document,
  reads ``none``.

The classes are ``<pad>``, ``none`` and each type with and without ``?`` (:func:`document_classes`: 12
for CoNLL-2003's four types). This module computes keys from marginals already summed into types; the
marginals of a run are :mod:`windowner.tagging.documents`'s, and how a run trains and tags with the
feature is :mod:`windowner.training.documents`'s (docs/usage.md, "Document context").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .features import PAD

NONE = "none"  # the key of a token without another capitalised occurrence of its word in its document
SURE = 0.75  # a key without "?": the mean probability of its type is at least this
OUTSIDE = "O"  # the type of the tag O


def document_classes(types: Sequence[str]) -> tuple[str, ...]:
    """The classes of the feature for the entity ``types`` (sorted, without O): ``<pad>``, ``none``, then
    ``O``, ``O?``, and each type and the type with ``?``."""
    return (PAD, NONE, *[f"{kind}{doubt}" for kind in (OUTSIDE, *types) for doubt in ("", "?")])


def key_types(classes: Sequence[str]) -> tuple[str, ...]:
    """The types (O first) of a run's classes of the feature: the inverse of :func:`document_classes`."""
    return tuple(classes[2::2])


def capitalised(token: str) -> bool:
    """Whether a token takes part: its first character is uppercase (``Paris``, ``EU``, ``McDonald``)."""
    return token[:1].isupper()


class Occurrences:
    """The capitalised tokens of a corpus grouped by (document, casefolded word).

    ``sentences`` are the tokens of each sentence, ``documents`` the document of each (any hashable
    labels: sentences with equal labels are one document, wherever they are)."""

    def __init__(self, sentences: Sequence[Sequence[str]], documents: Sequence[int]):
        tokens = [token for sentence in sentences for token in sentence]
        document = np.repeat(np.asarray(documents, dtype=np.int64), [len(s) for s in sentences])
        self.capitalised = np.array([capitalised(token) for token in tokens], dtype=bool)
        groups: dict[tuple[int, str], int] = {}
        group = [
            groups.setdefault((int(d), t.casefold()), len(groups)) if up else -1
            for d, t, up in zip(document.tolist(), tokens, self.capitalised.tolist(), strict=True)
        ]
        self.group = np.array(group, dtype=np.int64)  # (N,): the group of each token, -1 if not capitalised
        self.size = np.bincount(self.group[self.capitalised], minlength=len(groups))  # tokens a group

    def others_mean(self, q: np.ndarray) -> np.ndarray:
        """``(N, K)``: the mean of the rows of ``q`` ``(N, K)`` over the other members of each token's
        group, (Σ_group q − q_t) / (size − 1); NaN for a token without any (not capitalised, or alone)."""
        sums = np.zeros((len(self.size), q.shape[1]))
        np.add.at(sums, self.group[self.capitalised], q[self.capitalised])
        out = np.full(q.shape, np.nan)
        rows = self.capitalised & (self.size[np.maximum(self.group, 0)] > 1)
        g = self.group[rows]
        out[rows] = (sums[g] - q[rows]) / (self.size[g] - 1)[:, None]
        return out


def keys_of(
    q: np.ndarray, sentences: Sequence[Sequence[str]], documents: Sequence[int], types: Sequence[str]
) -> list[str]:
    """The key of every token of ``sentences`` (flat, sentence after sentence): ``q`` ``(N, K)`` is the
    first pass's probability of each of ``types`` (O first) at every token; ``documents`` the document of
    each sentence."""
    means = Occurrences(sentences, documents).others_mean(q)
    best = np.nan_to_num(means, nan=-1.0).argmax(axis=1)
    names = np.array([f"{kind}{doubt}" for kind in types for doubt in ("", "?")] + [NONE], dtype=object)
    sure = np.take_along_axis(np.nan_to_num(means, nan=0.0), best[:, None], axis=1)[:, 0] >= SURE
    index = np.where(np.isnan(means[:, 0]), len(names) - 1, 2 * best + (~sure))
    return names[index].tolist()
