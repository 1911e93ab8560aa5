"""Reading pretrained word vectors from text files.

Two text formats are read, told apart by the first line:

* **GloVe**: no header; every line is ``word v1 v2 ... vd``.
* **word2vec text** (``-binary 0``, fastText ``.vec``): a first line ``count dim``, then lines as GloVe's.

A file ending in ``.gz`` is read through gzip. Only the words in ``wanted`` are parsed into numbers (a
400k-word GloVe file needs a few thousand rows for a CoNLL corpus), unless ``wanted`` is None. With
``lowercase=True`` the file's words are lowercased as they are read and the first occurrence of each
lowercased form is kept (files are sorted by frequency, so that is the most frequent casing).
"""

from __future__ import annotations

import gzip
from collections.abc import Collection
from pathlib import Path
from typing import IO

import numpy as np

from .errors import WindownerError


def read_vectors(
    path: str | Path, wanted: Collection[str] | None = None, lowercase: bool = False, required: bool = True
) -> tuple[list[str], np.ndarray]:
    """Read a GloVe or word2vec text file.

    Returns ``(words, vectors)``: the kept words in file order and a float32 matrix of shape
    ``(len(words), dim)``. Finding no word is an error, or with ``required=False`` gives a ``(0, 0)``
    matrix. A kept line whose number of values differs from the first vector's (or from the word2vec
    header's ``dim``), a value that is not a number, and a value that is inf or nan in float32 raise
    :class:`WindownerError` with the file and line number.
    """
    path = Path(path)
    try:
        with _open_text(path) as lines:
            return _parse(lines, path, wanted, lowercase, required)
    except FileNotFoundError:
        raise WindownerError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise WindownerError(f"{path}: is a directory, expected a word-vector file") from None
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as err:
        raise WindownerError(f"{path}: cannot read as UTF-8 text ({err})") from None


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig")
    return open(path, encoding="utf-8-sig")  # -sig: a byte-order mark is not part of the first word


def _parse(
    lines: IO[str], path: Path, wanted: Collection[str] | None, lowercase: bool, required: bool
) -> tuple[list[str], np.ndarray]:
    words: list[str] = []
    values: list[str] = []  # the kept rows' numbers, still as text: parsed in one call at the end
    numbers: list[int] = []  # the line number of each kept word, for error messages
    seen: set[str] = set()
    dim = 0
    first = lines.readline()
    header = first.split()
    if len(header) == 2 and header[0].isdigit() and header[1].isdigit():
        dim, start = int(header[1]), 2  # word2vec text: the header names the dimension
        rows = lines
    else:
        start = 1
        rows = _chain(first, lines)
    for number, line in enumerate(rows, start=start):
        line = line.rstrip()
        if not line:
            continue  # a blank line (often the last)
        word, _, rest = line.partition(" ")  # split at a space only: some words hold other whitespace
        if not rest and "\t" in word:
            word, _, rest = word.partition("\t")  # a tab-separated file
        if lowercase:
            word = word.lower()
        if (wanted is not None and word not in wanted) or word in seen:
            continue
        fields = rest.split()
        if not dim:
            dim = len(fields)
            if not dim:
                raise WindownerError(f"{path}:{number}: a word with no vector values")
        if len(fields) != dim:
            raise WindownerError(f"{path}:{number}: {len(fields)} values for {word!r}, expected {dim}")
        seen.add(word)
        words.append(word)
        numbers.append(number)
        values.extend(fields)
    if not words and not required:
        return [], np.zeros((0, 0), dtype=np.float32)
    if not words:
        which = "no word vectors" if wanted is None else "none of the data's words"
        raise WindownerError(f"{path}: {which} found (is it a GloVe or word2vec text file?)")
    try:
        with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, reported below
            matrix = np.array(values, dtype=np.float32)
    except ValueError:
        raise WindownerError(f"{path}:{_first_bad_value(values, dim, words, numbers)}") from None
    matrix = matrix.reshape(len(words), dim)
    finite = np.isfinite(matrix).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        raise WindownerError(f"{path}:{numbers[row]}: the vector of {words[row]!r} holds inf or nan")
    return words, matrix


def _chain(first: str, rest: IO[str]):
    yield first
    yield from rest


def _first_bad_value(values: list[str], dim: int, words: list[str], numbers: list[int]) -> str:
    """``"line: message"`` for the first value that is not a number."""
    for i, value in enumerate(values):
        try:
            float(value)
        except ValueError:
            return f"{numbers[i // dim]}: value {value!r} of {words[i // dim]!r} is not a number"
    return " a value is not a number"  # pragma: no cover - np.array and float() agree
