"""The vocabulary: which row of the word-vector matrix E each token reads.

Rows 0, 1 and 2 are special:

* ``<unk>``: every token without a pretrained vector;
* ``<s>`` and ``</s>``: the padding before the first and after the last word of a sentence, so that the
  window of a word near a sentence boundary still has 2·window + 1 words.

The rows after them are the pretrained words, in the vector file's order (then, with
``vectors.new_words``, training words that have no vector). A token is looked up as it is written,
then lowercased (with ``vectors.lowercase`` only lowercased: GloVe 6B has no capitals), then, if it is
not found and has a digit, each form with every digit replaced by ``0`` (``vectors.normalize_digits``;
"1996" → "0000" when "1996" itself has no vector), and else reads ``<unk>``.

The special rows (and the rows of ``vectors.new_words``) start as draws from N(0, σ²), σ the standard
deviation of the pretrained values of the training words, so that they are on the scale of the real
vectors (and the same whatever dev and test files a run lists).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence, Set
from pathlib import Path

import numpy as np

from ..base.errors import WindownerError
from ..base.files import text_file, write_atomic
from .characters import normal_form

UNK, START, END = "<unk>", "<s>", "</s>"
SPECIALS = (UNK, START, END)
DIGIT = re.compile(r"\d")  # a digit (Unicode's; casing reads it in ASCII tokens only)


class Vocabulary:
    """Maps tokens to rows of E. ``words[i]`` is the word of row ``i``; rows 0-2 are the specials."""

    def __init__(self, words: Sequence[str], lowercase: bool = True, normalize_digits: bool = True):
        if tuple(words[: len(SPECIALS)]) != SPECIALS:
            raise WindownerError(f"a vocabulary must start with {', '.join(SPECIALS)}")
        self.words = list(words)
        self.lowercase = lowercase
        self.normalize_digits = normalize_digits
        self.row = {word: i for i, word in enumerate(self.words)}
        self._cache: dict[str, int] = {}  # token -> row, filled by encode
        if len(self.row) != len(self.words):
            raise WindownerError("a vocabulary lists a word twice")

    def __len__(self) -> int:
        return len(self.words)

    def extend(self, words: Sequence[str]) -> None:
        """Append rows for ``words`` (none of them in the vocabulary yet), as a new vocabulary of all the
        words would have them. What :meth:`encode` memoised stays, but for the tokens that may now read
        another row (:meth:`_may_move`): new text's words added batch by batch cost no new look-ups of
        the tokens met before."""
        start = len(self.words)
        added = {word: start + i for i, word in enumerate(words)}
        if len(added) != len(words) or not added.keys().isdisjoint(self.row):
            raise WindownerError("a vocabulary lists a word twice")
        self.words.extend(words)
        self.row.update(added)
        for token in [
            token for token, row in self._cache.items() if self._may_move(token, row, added.keys())
        ]:
            del self._cache[token]

    def _may_move(self, token: str, row: int, added: Set[str]) -> bool:
        """Whether ``token``, memoised at ``row``, may read another row once ``added`` are rows (True may
        be said of a token that does not: its row is then computed again). A token found under its first
        key keeps its row; an ASCII token's keys are itself and lowercased, with digits as 0 if it has any:
        tested without computing them."""
        if not token.isascii() or DIGIT.search(token):
            return not added.isdisjoint(self.keys(token))
        lower = token.lower()
        if row and self.words[row] == (lower if self.lowercase else token):
            return False
        return token in added or lower in added

    def key(self, token: str) -> str:
        """The first form a token is looked up under (lowercased with ``vectors.lowercase``)."""
        token = normal_form(token)
        return token.lower() if self.lowercase else token

    def keys(self, token: str) -> list[str]:
        """The forms a token is looked up under, in order: as written (unless ``lowercase``: GloVe 6B
        has no capitals), lowercased, then each with every digit replaced by 0; in NFC and without
        invisible characters (:func:`~windowner.data.characters.normal_form`)."""
        token = normal_form(token)
        lower = token.lower()
        forms = [lower] if self.lowercase or lower == token else [token, lower]
        if self.normalize_digits and DIGIT.search(token):
            forms += [DIGIT.sub("0", form) for form in forms]
        return forms

    def index(self, token: str) -> int:
        """The row of ``token``: its first key with a vector, else ``<unk>`` (0)."""
        for key in self.keys(token):
            row = self.row.get(key)
            if row is not None and row >= len(SPECIALS):
                return row
        return 0

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Rows of a token sequence, as an int64 array (each distinct token looked up once)."""
        return memoised(tokens, self._cache, self.index, np.int64)

    def save(self, path: str | Path) -> None:
        """One word a line, in row order (words hold no newline), written atomically."""
        write_atomic(path, "".join(word + "\n" for word in self.words))

    @staticmethod
    def read_words(path: str | Path) -> list[str]:
        """The words of a file written a word a line (``vocab.txt``, ``train_words.txt``); a binary file,
        a bad byte or an empty line is an error."""
        with text_file(path, "a list of words (a word a line)", newline="") as file:
            text = file.read()
        words = text.split("\n")
        if words[-1] == "":
            words.pop()  # the newline after the last word
        if "" in words:
            raise WindownerError(
                f"{path}:{words.index('') + 1}: an empty line (the file lists a word a line)"
            )
        return words

    @classmethod
    def load(cls, path: str | Path, lowercase: bool, normalize_digits: bool) -> Vocabulary:
        """Read a vocabulary :meth:`save` wrote (see :meth:`read_words`)."""
        words = cls.read_words(path)
        try:
            return cls(words, lowercase, normalize_digits)
        except WindownerError as err:
            raise WindownerError(f"{path}: {err}") from None


def lookup_keys(tokens: Iterable[str], lowercase: bool, normalize_digits: bool) -> set[str]:
    """Every form under which these tokens may be looked up: what to keep of a vector file."""
    probe = Vocabulary(SPECIALS, lowercase, normalize_digits)
    return {key for token in set(tokens) for key in probe.keys(token)}


def with_specials(
    words: Sequence[str], vectors: np.ndarray, rng: np.random.Generator, sigma: float | None = None
) -> tuple[list[str], np.ndarray]:
    """Prepend the special rows to pretrained ``(words, vectors)``; returns the vocabulary's words and E.

    E has shape ``(3 + len(words), d)``; its first three rows are drawn from N(0, σ²), σ = ``sigma`` or
    else ``vectors.std()``.
    """
    keep = np.array([word not in SPECIALS for word in words], dtype=bool)  # a file may have its own <unk>
    words, vectors = [word for word in words if word not in SPECIALS], vectors[keep]
    if sigma is None:
        sigma = float(np.std(vectors)) if len(vectors) else 1.0
    specials = rng.normal(0.0, sigma, size=(len(SPECIALS), vectors.shape[1])).astype(vectors.dtype)
    return [*SPECIALS, *words], np.concatenate([specials, vectors])


def memoised(
    tokens: Sequence[str], memo: dict[str, int], compute: Callable[[str], int], dtype: type
) -> np.ndarray:
    """``compute(token)`` for every token, as an array of ``dtype``, each distinct token computed once
    and kept in ``memo``. The look-ups run in C (a set difference, then ``map`` into ``np.fromiter``):
    3-4x a Python loop over the tokens."""
    for token in set(tokens).difference(memo):
        memo[token] = compute(token)
    return np.fromiter(map(memo.__getitem__, tokens), dtype=dtype, count=len(tokens))
