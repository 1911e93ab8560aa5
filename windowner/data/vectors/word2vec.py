"""word2vec's binary format (a header ``count dim``, then each word and its float32 values), and how a
file is told to be binary.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ...base.errors import WindownerError
from .table import Selection, VectorTable

_NUMBER_BYTES = frozenset(b"0123456789+-.eEnNaAiIfFtTyY \t\r")  # what a value may be made of


def word2vec_header(first: bytes) -> tuple[int, int] | None:
    """``(count, dim)`` if the first line is a word2vec header ``count dim``, else None."""
    fields = first.split()
    if len(fields) == 2 and all(field.isdigit() for field in fields):  # bytes.isdigit: ASCII digits
        return int(fields[0]), int(fields[1])
    return None


def is_binary(data: bytes, dim: int) -> bool:
    """After a header: does the first record hold raw floats rather than number text?

    Text: the part of the second line after its first space holds at least min(dim, 2) values made of
    number characters. Anything else is taken as binary.
    """
    if not data:
        return False  # a header alone
    word, space, rest = data.partition(b" ")
    if not space or b"\n" in word:
        return False  # no space on the second line: text (the text parser says what is wrong)
    values = rest.split(b"\n", 1)[0]
    return len(values.split()) < min(dim, 2) or any(byte not in _NUMBER_BYTES for byte in values)


def parse_binary(
    blocks: Iterable[bytes], path: Path, selection: Selection, count: int, dim: int
) -> tuple[list[str], np.ndarray]:
    """Records ``word, space, dim float32 (little-endian), optional newline`` after a ``count dim`` header.

    Errors name the record (1 is the first word): a word that is not UTF-8, a file that ends inside a
    record, a count of records that is not the header's, a vector that holds inf or nan.
    """
    size = 4 * dim
    table = VectorTable()
    table.dim = dim
    table.rows_hint = count if selection.wanted is None else 0
    buffer, position, records = b"", 0, 0
    for block in blocks:
        buffer = buffer[position:] + block
        position = 0
        names: list[bytes] = []
        offsets: list[int] = []
        while True:
            while buffer[position : position + 1] == b"\n":
                position += 1  # the newline after a vector
            space = buffer.find(b" ", position, position + 100_000)
            if space < 0 or space + 1 + size > len(buffer):
                if len(buffer) - position > 100_000 + size:
                    raise WindownerError(f"{path}: word {records + len(names) + 1}: no space after a word")
                break  # the rest of the record is in the next block
            names.append(buffer[position:space])
            offsets.append(space + 1)
            position = space + 1 + size
        _add_binary_records(buffer, names, offsets, records, size, path, selection, table)
        records += len(names)
    if buffer[position:].strip(b"\n"):
        raise WindownerError(f"{path}: the file ends inside the record of word {records + 1}")
    if records != count:
        raise WindownerError(f"{path}: the header says {count:,} words, the file holds {records:,}")
    return table.finish()


def _add_binary_records(
    buffer: bytes,
    names: list[bytes],
    offsets: list[int],
    before: int,
    size: int,
    path: Path,
    selection: Selection,
    table: VectorTable,
) -> None:
    words: list[str | None] = []
    for i, name in enumerate(names):
        try:
            words.append(name.decode("utf-8"))
        except UnicodeDecodeError as err:
            raise WindownerError(f"{path}: word {before + i + 1} is not UTF-8 ({err.reason})") from None
    kept = selection.keep(words)
    if not kept:
        return
    raw = np.frombuffer(buffer, dtype=np.uint8)
    starts = np.array(offsets)[kept]
    rows = raw[starts[:, None] + np.arange(size)].view("<f4").astype(np.float32)
    finite = np.isfinite(rows).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        word = words[kept[row]]
        raise WindownerError(
            f"{path}: word {before + kept[row] + 1}: the vector of {word!r} holds inf or nan"
        )
    table.add([words[i] for i in kept], rows)  # type: ignore[misc]
