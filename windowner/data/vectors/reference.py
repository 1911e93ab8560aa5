"""The reference parser of a vectors text file: line by line, with an error naming the line; the
fast parser (:mod:`windowner.data.vectors.fast`) must give the same words and float32 bits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from ...base.errors import WindownerError
from .table import Selection, VectorTable


def text_lines(data: bytes, number: int, path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of each line of a block as a text file reads them: ``\\n``, ``\\r\\n`` and
    ``\\r`` end a line. A line that is not UTF-8 is an error naming its line."""
    raw_lines = data.split(b"\n")
    if raw_lines[-1] == b"":
        raw_lines.pop()  # the block ends with a line end
    for raw in raw_lines:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            line = number + raw[: err.start].count(b"\r")  # a \r before the bad byte ended a line
            raise WindownerError(f"{path}:{line}: not UTF-8 ({err.reason} at byte {err.start + 1})") from None
        if text.endswith("\r"):
            text = text[:-1]  # the \r of \r\n
        for piece in text.split("\r"):  # a lone \r ends a line too
            yield number, piece
            number += 1


def parse_lines(
    lines: Iterable[tuple[int, str]], path: Path, selection: Selection, table: VectorTable
) -> int:
    """The reference: parse numbered lines into ``table``; returns how many lines there were."""
    words: list[str] = []
    numbers: list[int] = []  # the line number of each kept word, for error messages
    values: list[str] = []  # the kept rows' numbers, still as text: converted in one call below
    count = 0
    for number, text in lines:
        count += 1
        line = text.rstrip()
        if not line:
            continue  # a blank line (often the last)
        word, _, rest = line.partition(" ")  # split at a space only: some words hold other whitespace
        if not rest and "\t" in word:
            word, _, rest = word.partition("\t")  # a tab-separated file
        candidate = [word]
        if not selection.keep(candidate):
            continue
        word = candidate[0]  # lowercased if asked
        fields = rest.split()
        if not table.dim:
            table.dim = len(fields)
            if not table.dim:
                raise WindownerError(f"{path}:{number}: a word with no vector values")
        if len(fields) != table.dim:
            raise WindownerError(f"{path}:{number}: {len(fields)} values for {word!r}, expected {table.dim}")
        words.append(word)
        numbers.append(number)
        values.extend(fields)
    if words:
        table.add(words, _to_float32(values, table.dim, words, numbers, path))
    return count


def _to_float32(values: list[str], dim: int, words: list[str], numbers: list[int], path: Path) -> np.ndarray:
    """The values (text) as a float32 matrix ``(len(words), dim)``; errors name the line."""
    try:
        with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, reported below
            matrix = np.array(values, dtype=np.float32).reshape(len(words), dim)
    except ValueError:
        for i, value in enumerate(values):
            try:
                float(value)
            except ValueError:
                row = i // dim
                raise WindownerError(
                    f"{path}:{numbers[row]}: value {value!r} of {words[row]!r} is not a number"
                ) from None
        raise  # pragma: no cover - np.array and float() agree on what a number is
    finite = np.isfinite(matrix).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        raise WindownerError(f"{path}:{numbers[row]}: the vector of {words[row]!r} holds inf or nan")
    return matrix
