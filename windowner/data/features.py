"""Features of a word beside its vector: a small learned look-up table per feature, concatenated to x.

GloVe 6B is lowercase, so "Paris" and "paris" read the same row of E; whether a word is capitalised
has to travel separately, and so does what its spelling says about a word without a vector
("Kinshasa", "-based"). A feature maps every token to a *key* (its casing class, its last three
letters, ...), and every key to a class; the model looks the class of each window word up in the
feature's own table ``E_<name>`` (``(classes, dim)``, ``model.features.<name>`` the dim, 0 = off) and
concatenates the K rows to x after the word vectors: the same embedding gate as E, with its own gradient
(checked by ``windowner gradcheck``). Class 0 is the padding ``<s>``/``</s>``.

* ``case``: the casing of the token, the first rule that applies: ``other`` (no letter and no digit:
  ``,`` ``--``), ``digits`` (no letter, a digit: ``1996`` ``3-0``), ``lower`` (no uppercase letter:
  ``the`` ``e-mail``), ``title`` (the first character uppercase, no other: ``Paris`` ``A``), ``upper``
  (no lowercase letter: ``EU`` ``U.S.``), ``mixed`` (``McDonald`` ``iPod``).
* ``suffix`` / ``prefix``: the last / first three characters, lowercased (``-ing``, ``-ese``).
* ``shape``: the characters as ``X`` (uppercase), ``x`` (lowercase), ``d`` (digit) or themselves,
  runs longer than two cut to two (``Paris`` → ``Xxx``, ``U.S.`` → ``X.X.``, ``2026-11-26`` →
  ``dd-dd-dd``).
* ``headline``: whether the token's sentence has no lowercase letter (CoNLL-2003's headlines are all
  caps, and there casing says little).
* ``chars``: the character 3- and 4-grams of the lowercased token between the boundary marks ``<`` and
  ``>`` (``Paris``: ``<pa``, ``par``, ``ari``, ``ris``, ``is>``, ``<par``, ``pari``, ``aris``, ``ris>``);
  of a long word the first and last 6 of each length. The token reads the *mean* of its n-grams' rows
  (:mod:`windowner.network.layers.bag`), so a word without a vector ("Volgograd") still reads what its pieces
  ("grad", "vol") learnt from other words.
* ``gazetteer``: whether the token begins, continues or is outside the longest match of an entry of each
  of the run's lists of names (``model.gazetteers``; :mod:`windowner.data.gazetteer`).
* ``document``: what a first-pass model said about the same word elsewhere in the token's document
  (``LOC``, ``ORG?``, ``none``; :mod:`windowner.data.documents`). Its keys are not a function of the
  sentence: they are computed for whole documents and given to
  :func:`~windowner.data.windows.sentence_windows`.

``case`` and ``headline`` have fixed classes, ``gazetteer`` those its lists' labels call for, ``document``
those of the task's entity types;
``suffix``, ``prefix``, ``shape`` and ``chars`` take theirs from the training data: the keys seen at
least twice there, every other key (a word's suffix never met in training) class 1, ``<unk>``. A
feature with several keys a token (``chars``) fills ``slots`` tables of the windows, 0 in the slots a
token does not use. The classes of a run are saved in its ``features.json``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .vocab import DIGIT, memoised

PAD, UNKNOWN = "<pad>", "<unk>"
CASES = (PAD, "other", "digits", "lower", "title", "upper", "mixed")
MIN_COUNT = 2  # a key of a data-built feature needs this many training tokens to get a class of its own


def casing(token: str) -> str:
    """The casing class of ``token`` (see the module docstring). An ASCII token (nearly all) takes
    the same answer from whole-string methods, about 4× faster than the character-by-character rules."""
    if token.isascii():  # only A-Z and a-z are letters, and only they change case
        lower = token.lower()
        if lower == token.upper():
            return "digits" if DIGIT.search(token) else "other"
        if lower == token:
            return "lower"
        if token[0].isupper() and token[1:] == lower[1:]:
            return "title"
        return "upper" if token == token.upper() else "mixed"
    return casing_by_characters(token)


def casing_by_characters(token: str) -> str:
    """The casing rules of the module docstring, character by character: what :func:`casing` computes
    for a token that is not ASCII (and, faster, the same for one that is)."""
    if not any(ch.isalpha() for ch in token):
        return "digits" if any(ch.isdigit() for ch in token) else "other"
    if not any(ch.isupper() for ch in token):
        return "lower"
    if token[0].isupper() and not any(ch.isupper() for ch in token[1:]):
        return "title"
    if not any(ch.islower() for ch in token):
        return "upper"
    return "mixed"


def shape(token: str) -> str:
    """``Paris`` → ``Xxx``: X, x, d for upper, lower, digit, other characters as they are, each run
    cut to two."""
    out: list[str] = []
    for ch in token:
        kind = "X" if ch.isupper() else "x" if ch.isalpha() else "d" if ch.isdigit() else ch
        if len(out) < 2 or not (out[-1] == kind and out[-2] == kind):
            out.append(kind)
    return "".join(out)


CHAR_SLOTS = 24  # n-grams a token at most: 12 of each length


def char_ngrams(token: str) -> list[str]:
    """The character 3- and 4-grams of ``<token>`` lowercased; of each length the first and last 6 when
    there are more than 12."""
    marked = f"<{token.lower()}>"
    grams: list[str] = []
    half = CHAR_SLOTS // 4
    for n in (3, 4):
        of_n = [marked[i : i + n] for i in range(len(marked) - n + 1)]
        grams += of_n if len(of_n) <= 2 * half else of_n[:half] + of_n[-half:]
    return grams


def _no_lists(tokens: Sequence[str]) -> list[str]:
    raise ValueError("the gazetteer feature reads the run's lists: encode with encoders(..., gazetteers)")


def _given_keys(tokens: Sequence[str]) -> list[str]:
    raise ValueError("the document feature reads keys of whole documents: sentence_windows(..., keys=...)")


def _headline(tokens: Sequence[str]) -> list[str]:
    flag = "no" if any(ch.islower() for token in tokens for ch in token) else "yes"
    return [flag] * len(tokens)


@dataclass(frozen=True)
class Feature:
    """A feature: the key of each token alone (``per_token``), or of a sentence's tokens together
    (``per_sentence``); with ``slots`` > 1, a list of keys a token; its classes if they are fixed (None:
    the keys seen in training, :meth:`classes_of`)."""

    name: str
    per_token: Callable[[str], Any] | None = None
    per_sentence: Callable[[Sequence[str]], list[Any]] | None = None
    fixed: tuple[str, ...] | None = None
    slots: int = 1

    def keys(self, tokens: Sequence[str]) -> list[Any]:
        """The key (or keys) of every token of a sentence."""
        if self.per_token is not None:
            return [self.per_token(token) for token in tokens]
        return self.per_sentence(tokens)

    @property
    def table(self) -> str:
        return f"E_{self.name}"

    def classes_of(self, sentences: Iterable[Sequence[str]]) -> tuple[str, ...]:
        """The classes for a run trained on ``sentences``: the fixed ones, or ``<pad>``, ``<unk>`` and the
        keys met at least :data:`MIN_COUNT` times, most frequent first."""
        if self.fixed is not None:
            return self.fixed
        counts: Counter = Counter()
        if self.per_token is not None:  # each distinct token's keys computed once, counted as it occurs
            for token, n in Counter(token for tokens in sentences for token in tokens).items():
                for key in self.per_token(token) if self.slots > 1 else (self.per_token(token),):
                    counts[key] += n
        else:
            counts.update(key for tokens in sentences for key in self.per_sentence(tokens))
        kept = sorted((key for key, n in counts.items() if n >= MIN_COUNT), key=lambda k: (-counts[k], k))
        return (PAD, UNKNOWN, *kept)


FEATURES: dict[str, Feature] = {
    "case": Feature("case", casing, fixed=CASES),
    "suffix": Feature("suffix", lambda token: token[-3:].lower()),
    "prefix": Feature("prefix", lambda token: token[:3].lower()),
    "shape": Feature("shape", shape),
    "headline": Feature("headline", per_sentence=_headline, fixed=(PAD, "no", "yes")),
    "chars": Feature("chars", char_ngrams, slots=CHAR_SLOTS),
    "gazetteer": Feature("gazetteer", per_sentence=_no_lists),  # a run's is Gazetteers.feature
    "document": Feature("document", per_sentence=_given_keys),  # keys of documents: KEYS encodes them
}
KEYS = Feature("document", str)  # the document feature's encoder reads each token's key as its "token"


class Encoder:
    """Keys to classes for one feature of a run: ``encode(tokens)`` gives the class of every token,
    int ``(n,)``, or with several keys a token its ``slots`` classes, ``(n, slots)``, 0 after the last."""

    def __init__(self, feature: Feature, classes: Sequence[str]):
        self.feature = feature
        self.index = {key: i for i, key in enumerate(classes)}
        self.unknown = self.index.get(UNKNOWN, 0)
        # a feature of each token alone computes each distinct token's key once: memo maps the token to
        # its class, or with several keys a token to its row of classes in rows
        self._memo: dict[str, int] = {}
        self._rows: list[list[int]] = []

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        index, unknown, slots = self.index, self.unknown, self.feature.slots
        key = self.feature.per_token
        if key is None:
            keys = self.feature.keys(tokens)
            if slots == 1:
                return np.array([index.get(key, unknown) for key in keys], dtype=np.int32)
            return self._padded([[index.get(key, unknown) for key in many] for many in keys])
        if slots == 1:
            return memoised(tokens, self._memo, lambda token: index.get(key(token), unknown), np.int32)
        rows = self._rows

        def new_row(token: str) -> int:
            rows.append([index.get(gram, unknown) for gram in key(token)])
            return len(rows) - 1

        at = memoised(tokens, self._memo, new_row, np.int64)
        return self._padded(rows)[at]

    def _padded(self, rows: Sequence[Sequence[int]]) -> np.ndarray:
        """Lists of classes as int32 ``(len(rows), slots)``, 0 after each list's last."""
        out = np.zeros((len(rows), self.feature.slots), dtype=np.int32)
        for line, classes in zip(out, rows, strict=True):
            line[: len(classes)] = classes
        return out


def feature_classes(
    names: Iterable[str],
    sentences: Sequence[Sequence[str]],
    gazetteers: Any = None,
    types: Sequence[str] = (),
) -> dict[str, tuple[str, ...]]:
    """The classes of each feature in ``names`` for a run trained on ``sentences`` (tokens);
    ``gazetteers`` (:class:`~windowner.data.gazetteer.Gazetteers`) the run's lists, if it has any;
    ``types``, the task's entity types (sorted), which the ``document`` feature's classes name."""
    from .documents import document_classes

    return {
        name: document_classes(types)
        if name == "document"
        else _feature(name, gazetteers).classes_of(sentences)
        for name in names
    }


def encoders(classes: Mapping[str, Sequence[str]], gazetteers: Any = None) -> list[Encoder]:
    return [Encoder(_feature(name, gazetteers), values) for name, values in classes.items()]


def _feature(name: str, gazetteers: Any) -> Feature:
    """The feature ``name``; the gazetteer feature of the run's lists ``gazetteers``."""
    if name == "gazetteer" and gazetteers is not None:
        return gazetteers.feature
    return KEYS if name == "document" else FEATURES[name]
