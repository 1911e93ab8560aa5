"""What a vectors reader fills: the words wanted (:class:`Selection`, with a hash filter of their
bytes for the fast parser) and the rows found (:class:`VectorTable`), and a parsed block (:class:`Parsed`).
"""

from __future__ import annotations

import itertools
from collections.abc import Collection

import numpy as np


class Selection:
    """Which words to keep: those in ``wanted`` (all if None), lowercased or not, first occurrence only."""

    def __init__(self, wanted: Collection[str] | None, lowercase: bool, dedupe: bool):
        self.wanted = wanted if wanted is None or isinstance(wanted, (set, frozenset)) else set(wanted)
        self.lowercase = lowercase
        self.dedupe = dedupe
        self.seen: set[str] = set()
        self._hashes: np.ndarray | None = None  # marks the wanted words' hashes (see may_keep)

    def keep(self, words: list[str | None], lowered: bool = False) -> list[int]:
        """Indices of the words to keep (None is a blank line); lowercases ``words`` in place if asked
        (unless they are ``lowered`` already)."""
        if self.lowercase and not lowered:
            words[:] = [None if word is None else word.lower() for word in words]
        if self.wanted is not None:
            candidates = list(itertools.compress(range(len(words)), map(self.wanted.__contains__, words)))
        elif None in words:
            candidates = [i for i, word in enumerate(words) if word is not None]
        else:
            candidates = list(range(len(words)))
            if not self.dedupe:
                return candidates
            new = set(words)
            if len(new) == len(words) and self.seen.isdisjoint(new):  # the usual case, at C speed
                self.seen |= new  # type: ignore[arg-type]
                return candidates
        if not self.dedupe:
            return candidates
        kept = []
        for i in candidates:
            word = words[i]
            if word not in self.seen:
                self.seen.add(word)  # type: ignore[arg-type]
                kept.append(i)
        return kept

    def may_keep(self, window: np.ndarray, length: np.ndarray) -> np.ndarray:
        """Which words may be wanted, from their first bytes ``window`` (n, 48) and byte ``length``.

        The top bits of a hash of the word's bytes (ASCII-lowercased if asked) must be marked in a table
        of the wanted words' hashes; words with non-ASCII bytes or of 48 bytes or more always may. False
        means surely not wanted.
        """
        if self.wanted is None:
            return np.ones(len(length), dtype=bool)
        if self._hashes is None:  # ASCII keys shorter than the window, zero-padded like the words
            keys = b"".join(key.ljust(TAIL, b"\0") for key in map(str.encode, self.wanted) if len(key) < TAIL)
            padded = np.frombuffer(keys, dtype=np.uint8).reshape(-1, TAIL)
            self._hashes = np.zeros(1 << _HASH_BITS, dtype=bool)  # a table of the hashes' top bits
            self._hashes[_hash_words(padded[(padded < 128).all(axis=1)]) >> np.uint64(64 - _HASH_BITS)] = True
        words = window * (COLUMNS < length[:, None])  # the word's bytes, then zeros
        if self.lowercase:
            words += ((words >= 65) & (words <= 90)) * np.uint8(32)  # A-Z: as str.lower() does
        found = self._hashes[_hash_words(words) >> np.uint64(64 - _HASH_BITS)]
        return found | (words >= 128).any(axis=1) | (length >= TAIL)


class VectorTable:
    """The kept words and their vectors, grown block by block (one float32 matrix, resized in place)."""

    def __init__(self) -> None:
        self.dim = 0  # until the first kept line (or a word2vec header) fixes it
        self.words: list[str] = []
        self.matrix: np.ndarray | None = None
        self.rows_hint = 0  # rows to make room for at first

    def add(self, words: list[str], rows: np.ndarray) -> None:
        n = len(self.words)
        if self.matrix is None:
            self.matrix = np.empty((max(self.rows_hint, len(words), 16), self.dim), dtype=np.float32)
        if n + len(words) > len(self.matrix):
            more = max(len(self.matrix) + len(self.matrix) // 4, n + len(words))  # not 2x: peak memory
            self.matrix.resize((more, self.dim), refcheck=False)
        self.matrix[n : n + len(words)] = rows
        self.words.extend(words)

    def finish(self) -> tuple[list[str], np.ndarray]:
        if self.matrix is None:
            return [], np.zeros((0, 0), dtype=np.float32)
        self.matrix.resize((len(self.words), self.dim), refcheck=False)  # shrinks in place
        return self.words, self.matrix


TAIL = 48  # newlines after a block's bytes: a word's window, a value's last word fit before the end


COLUMNS = np.arange(TAIL)  # the window of bytes read from a line's start to find its first space


_HASH_BITS = 20  # a 1 MiB table: 24k wanted words mark 2% of it, so few other words are decoded


_MIX = np.random.default_rng(20261126).integers(1, 2**63, size=TAIL // 8, dtype=np.uint64) * 2 + 1


def _hash_words(words: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row of ``words`` (uint8, n x 48): its 8-byte words times odd constants."""
    return (np.ascontiguousarray(words).view(np.uint64) * _MIX).sum(axis=1, dtype=np.uint64)


Parsed = tuple[int, list[str], np.ndarray]  # lines in the block, candidate words, their vectors
