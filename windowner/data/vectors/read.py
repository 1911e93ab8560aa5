""":func:`read_vectors`: a vectors file's words and matrix, the wanted words only or all, from the cache
or parsed (fast, reference or word2vec binary), with the checks of what was found.
"""

from __future__ import annotations

import contextlib
import gzip
import zlib
from collections.abc import Collection
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ...base.errors import WindownerError
from .cache import CacheEntry
from .fast import add_block, line_blocks, parse_workers, parsed_ahead
from .reference import parse_lines, text_lines
from .table import Selection, VectorTable
from .word2vec import is_binary, parse_binary, word2vec_header

CHUNK_BYTES = 1 << 17  # a block of whole lines handled at once: its arrays stay small (no page faults)


def read_vectors(
    path: str | Path,
    wanted: Collection[str] | None = None,
    lowercase: bool = False,
    required: bool = True,
    cache: bool = True,
) -> tuple[list[str], np.ndarray]:
    """Read a GloVe or word2vec (text or binary) file; only the words in ``wanted`` unless it is None.

    Returns ``(words, vectors)``: the kept words in file order and a float32 matrix of shape
    ``(len(words), dim)``. Finding no word is an error, or with ``required=False`` gives a ``(0, 0)``
    matrix. A kept line whose number of values differs from the first kept vector's (or from the header's
    ``dim``), a value that is not a number, and a value that is inf or nan in float32 raise
    :class:`WindownerError` naming the file and line. With ``cache`` the whole file is parsed once and
    kept in :func:`cache_folder` (see the module's docstring); later calls read it from there.
    """
    path = Path(path)
    source = _stat(path)
    workers = parse_workers()  # a bad WINDOWNER_THREADS is an error here, not a file's
    entry = CacheEntry.for_source(path, source) if cache else None
    if entry:
        cached = entry.load()
        if cached is not None:
            words, matrix = _select(path, *cached, wanted, lowercase, required)
            if np.isfinite(matrix).all():
                return words, matrix
            # else a damaged entry: parse the source again
    if entry or wanted is None:  # every row as it is, then the selection over all of them at once
        try:
            table = _read(path, Selection(None, lowercase=False, dedupe=False), workers=workers)
        except WindownerError:
            pass  # the reading below says whether this file is an error for these words
        else:
            if entry and table[0] and _stat(path) == source:  # not changed while it was read
                entry.store(*table)
            return _select(path, *table, wanted, lowercase, required)
    words, matrix = _read(path, Selection(wanted, lowercase, dedupe=True))  # one thread: names any error
    return _result(path, words, matrix, wanted, required)


def _result(
    path: Path, words: list[str], matrix: np.ndarray, wanted: Collection[str] | None, required: bool
) -> tuple[list[str], np.ndarray]:
    if not words and required:
        which = "no word vectors" if wanted is None else "none of the data's words"
        raise WindownerError(f"{path}: {which} found (is it a GloVe or word2vec file?)")
    if not words:
        return [], np.zeros((0, 0), dtype=np.float32)
    return words, matrix


def _select(
    path: Path,
    words: list[str] | str,
    matrix: np.ndarray,
    wanted: Collection[str] | None,
    lowercase: bool,
    required: bool,
) -> tuple[list[str], np.ndarray]:
    """What :func:`read_vectors` returns, from every row of a file (as the cache keeps them): ``words`` is
    their list, or their text (a word and a newline each, as cached)."""
    if isinstance(words, str):
        keys = (words.lower() if lowercase else words)[:-1].split("\n")  # lower(): as word by word
    else:
        keys = "\n".join(words).lower().split("\n") if lowercase else list(words)
    if wanted is None and len(set(keys)) == len(keys):
        return _result(path, keys, np.asarray(matrix), wanted, required)  # every row
    rows = Selection(wanted, lowercase, dedupe=True).keep(keys, lowered=True)  # type: ignore[arg-type]
    if len(rows) == len(keys):
        return _result(path, keys, np.asarray(matrix), wanted, required)
    return _result(path, [keys[i] for i in rows], matrix[rows], wanted, required)


def _stat(path: Path) -> tuple[str, int, int]:
    """The source's identity for the cache (absolute path, size, mtime in ns); the errors of a bad path."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise WindownerError(f"{path}: no such file") from None
    except OSError as err:
        raise WindownerError(f"{path}: cannot read ({err.strerror})") from None
    if path.is_dir():
        raise WindownerError(f"{path}: is a directory, expected a word-vector file")
    return str(path.resolve()), info.st_size, info.st_mtime_ns


def _read(
    path: Path, selection: Selection, fast: bool = True, workers: int = 1
) -> tuple[list[str], np.ndarray]:
    """Parse the file: the kept words and their vectors. ``fast=False``: the reference parser alone;
    ``workers``: the threads that parse a text file's blocks when every word is read."""
    try:
        with _open_binary(path) as file:
            return _parse_file(file, path, selection, fast, workers)
    except FileNotFoundError:
        raise WindownerError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise WindownerError(f"{path}: is a directory, expected a word-vector file") from None
    except PermissionError as err:
        raise WindownerError(f"{path}: cannot read ({err.strerror})") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise WindownerError(f"{path}: cannot read as gzip ({err})") from None


def _open_binary(path: Path) -> BinaryIO:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _parse_file(
    file: BinaryIO, path: Path, selection: Selection, fast: bool, workers: int
) -> tuple[list[str], np.ndarray]:
    _prime_allocator()
    head = file.read(CHUNK_BYTES)
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]  # a byte-order mark is not part of the first word
    first, newline, rest = head.partition(b"\n")
    header = word2vec_header(first)
    if header and is_binary(rest, header[1]):
        return parse_binary(line_blocks(file, rest, CHUNK_BYTES), path, selection, *header)
    table = VectorTable()
    number = 1
    if header:
        table.dim, head, number = header[1], rest, 2  # word2vec text: the header names the dimension
    if selection.wanted is None:
        table.rows_hint = header[0] if header else _rows_hint(path, head)  # room for every row at once
        size = 2 * CHUNK_BYTES
    else:  # few values to convert: larger blocks, one thread (a second: faster idle, slower if busy)
        size, workers = 8 * CHUNK_BYTES, 1
    blocks = line_blocks(file, head, size)
    with contextlib.closing(parsed_ahead(blocks, selection, workers if fast else 0)) as parsed:
        for block, result in parsed:
            lines = None if result is None else add_block(result, selection, table)
            if lines is None:
                lines = parse_lines(text_lines(block, number, path), path, selection, table)
            number += lines
    return table.finish()


def _prime_allocator() -> None:
    """Let the C library's malloc reuse the memory of a block's arrays rather than map fresh pages.

    glibc maps every allocation above a threshold (128 KiB at first) afresh, and raises the threshold to
    the size of such a mapping once it is freed. A block's arrays are about that size, so without this a
    process's first read of GloVe 6B took 400k page faults and 1.4 times as long; after one 2 MiB array
    is freed they come from the heap (17k faults). With another allocator this costs nothing.
    """
    np.empty(16 * CHUNK_BYTES, dtype=np.uint8)  # twice the largest block


def _rows_hint(path: Path, head: bytes) -> int:
    """About how many lines the file has, from the lines of its first bytes (0 for gzip)."""
    if path.suffix == ".gz" or not head:
        return 0
    return int(path.stat().st_size / len(head) * head.count(b"\n") * 1.02) + 16
