"""Reading pretrained word vectors: GloVe text, word2vec text and binary, plain or gzipped, with a cache.

**Formats**, told apart by the first line (and, after a header, by the second):

* **GloVe**: no header; every line is ``word v1 v2 ... vd``.
* **word2vec text** (``-binary 0``, fastText ``.vec``): a first line ``count dim``, then lines as GloVe's.
* **word2vec binary** (``-binary 1``, ``.bin``): a first line ``count dim``, then for each word its UTF-8
  bytes, a space, ``dim`` little-endian float32 (4·dim bytes), and optionally a newline. After a header,
  the file is binary unless the part of the second line after its first space is made of number
  characters (digits, signs, ``.``, ``e``, the letters of ``nan`` and ``inf``, spaces) and holds at least
  min(dim, 2) values: raw float32 bytes would have to be such characters up to a newline byte.

A file ending in ``.gz`` is read through gzip; a byte-order mark is ignored; line ends may be ``\\n``,
``\\r\\n`` or ``\\r``. A line's **word** is everything before its first ASCII space (a word may hold a
non-breaking space or another non-ASCII space); a line without a space but with a tab is split at its first
tab (a tab-separated file). Blank lines are skipped. With ``lowercase=True`` words are lowercased as they
are read; the first occurrence of each word (each lowercased form) is kept, the later ones are skipped,
as files are sorted by frequency. Only the lines of kept words are checked and parsed into numbers.

**Two parsers, one result.** :func:`_parse_lines` is the reference: one line at a time, readable, slow.
:func:`_parse_block` does the same for a block of lines with numpy (2.6 times as fast on GloVe 6B with
one thread, 3.4 times with two; ``benchmarks/vectors.py`` measures it): it splits the block at spaces and
newlines, takes each line's first span as its word and converts every value ``[-]digits.digits`` exactly
as ``float(text)`` then float32 do (the digits as an exact integer M, the value M / 10^f in one correctly
rounded float64 division: Clinger's fast path; then float32). Any block it is not sure of (a lone
carriage return, control bytes, a line without values, a value it cannot convert, counts that do not
match) goes to the reference, which parses it or raises the error, so both give the same words, the same
float32 bits and the same one-line errors. The file is read in blocks of a few :data:`CHUNK_BYTES`, which
two threads parse at once when every word is read and there are two cores (:func:`parse_workers`), so
memory holds a few blocks and the result, never the whole text.

**Cache.** ``read_vectors(..., cache=True)`` keeps the parsed file, every row in file order, as a float32
``.npy`` and a vocabulary text file (one word a line) in :func:`cache_folder`, named after the source
file's absolute path, size and modification time. The next call reads them (memory-mapped, copy on
write) instead of the text; a changed source has another name, and an entry that does not load as such
(a bad ``.npy``, a word count that is not its row count, another dtype, a missing file, a value that is
not finite) is rebuilt, never trusted. Entries are written under temporary names and renamed into place
(two processes building the same entry write the same bytes). A folder that cannot be written just means
no cache (and a warning). Delete the folder to clear the cache.
"""

from __future__ import annotations

import collections
import contextlib
import glob
import gzip
import hashlib
import itertools
import os
import warnings
import zlib
from collections.abc import Collection, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import WindownerError
from .files import atomic_open
from .threads import thread_count

CHUNK_BYTES = 1 << 17  # a block of whole lines handled at once: its arrays stay small (no page faults)
CACHE_ENV = "WINDOWNER_CACHE_DIR"
_CACHE_VERSION = "v1"
_NUMBER_BYTES = frozenset(b"0123456789+-.eEnNaAiIfFtTyY \t\r")  # what a value may be made of


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
    entry = _CacheEntry.for_source(path, source) if cache else None
    if entry:
        cached = entry.load()
        if cached is not None:
            words, matrix = _select(path, *cached, wanted, lowercase, required)
            if np.isfinite(matrix).all():
                return words, matrix
            # else a damaged entry: parse the source again
    if entry or wanted is None:  # every row as it is, then the selection over all of them at once
        try:
            table = _read(path, _Selection(None, lowercase=False, dedupe=False), workers=workers)
        except WindownerError:
            pass  # the reading below says whether this file is an error for these words
        else:
            if entry and table[0] and _stat(path) == source:  # not changed while it was read
                entry.store(*table)
            return _select(path, *table, wanted, lowercase, required)
    words, matrix = _read(path, _Selection(wanted, lowercase, dedupe=True))  # one thread: names any error
    return _result(path, words, matrix, wanted, required)


def cache_folder() -> Path:
    """Where the vectors cache lives: ``$WINDOWNER_CACHE_DIR``, else ``$XDG_CACHE_HOME/windowner/vectors``,
    else ``~/.cache/windowner/vectors``."""
    folder = os.environ.get(CACHE_ENV)
    if folder:
        return Path(folder).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "windowner" / "vectors"


# ---------------------------------------------------------------------------------------------------------
# which lines are kept, and what they add up to


class _Selection:
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
            keys = b"".join(
                key.ljust(_TAIL, b"\0") for key in map(str.encode, self.wanted) if len(key) < _TAIL
            )
            padded = np.frombuffer(keys, dtype=np.uint8).reshape(-1, _TAIL)
            self._hashes = np.zeros(1 << _HASH_BITS, dtype=bool)  # a table of the hashes' top bits
            self._hashes[_hash_words(padded[(padded < 128).all(axis=1)]) >> np.uint64(64 - _HASH_BITS)] = True
        words = window * (_COLUMNS < length[:, None])  # the word's bytes, then zeros
        if self.lowercase:
            words += ((words >= 65) & (words <= 90)) * np.uint8(32)  # A-Z: as str.lower() does
        found = self._hashes[_hash_words(words) >> np.uint64(64 - _HASH_BITS)]
        return found | (words >= 128).any(axis=1) | (length >= _TAIL)


class _Table:
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
    rows = _Selection(wanted, lowercase, dedupe=True).keep(keys, lowered=True)  # type: ignore[arg-type]
    if len(rows) == len(keys):
        return _result(path, keys, np.asarray(matrix), wanted, required)
    return _result(path, [keys[i] for i in rows], matrix[rows], wanted, required)


# ---------------------------------------------------------------------------------------------------------
# reading a file


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
    path: Path, selection: _Selection, fast: bool = True, workers: int = 1
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


def _blocks(file: BinaryIO, rest: bytes, size: int) -> Iterator[bytes]:
    """``rest`` and then the file's bytes, in blocks of whole lines (cut after a newline; the last block
    may lack one)."""
    while data := file.read(size):
        data = rest + data
        cut = data.rfind(b"\n") + 1
        rest = data[cut:]
        if cut:
            yield data[:cut]
    if rest:
        yield rest


def _parse_file(
    file: BinaryIO, path: Path, selection: _Selection, fast: bool, workers: int
) -> tuple[list[str], np.ndarray]:
    _prime_allocator()
    head = file.read(CHUNK_BYTES)
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]  # a byte-order mark is not part of the first word
    first, newline, rest = head.partition(b"\n")
    header = _header(first)
    if header and _is_binary(rest, header[1]):
        return _parse_binary(_blocks(file, rest, CHUNK_BYTES), path, selection, *header)
    table = _Table()
    number = 1
    if header:
        table.dim, head, number = header[1], rest, 2  # word2vec text: the header names the dimension
    if selection.wanted is None:
        table.rows_hint = header[0] if header else _rows_hint(path, head)  # room for every row at once
        size = 2 * CHUNK_BYTES
    else:  # few values to convert: larger blocks, one thread (a second: faster idle, slower if busy)
        size, workers = 8 * CHUNK_BYTES, 1
    blocks = _blocks(file, head, size)
    with contextlib.closing(_parsed_ahead(blocks, selection, workers if fast else 0)) as parsed:
        for block, result in parsed:
            lines = None if result is None else _add_block(result, selection, table)
            if lines is None:
                lines = _parse_lines(_text_lines(block, number, path), path, selection, table)
            number += lines
    return table.finish()


_AHEAD = 2  # blocks a parsing thread may have waiting (each a few times its size in memory)


def parse_workers() -> int:
    """How many threads parse a text file's blocks: ``WINDOWNER_THREADS`` if set, else the cores this
    process may use, at most 2.

    The fast parser spends most of a block in numpy loops, which release the GIL, so a second thread
    parses the next block meanwhile: all of GloVe 6B 50d in 1.21 s against 1.57 s with one, the process
    using 2.15 CPU seconds in 1.40 s (``benchmarks/vectors.py``, 2 cores, 2026-11-27; an interleaved A/B
    run of 5 loads each gave 1.29 against 1.57 s). With another process keeping
    one core busy it took 1.64 s against 1.77 s: no gain beyond this machine's noise, and no collapse. A
    thread hands over whole blocks (milliseconds of work), not the fine-grained waits of a BLAS thread.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return thread_count(min(2, cores))  # the environment first, as for BLAS threads


def _parsed_ahead(
    blocks: Iterable[bytes], selection: _Selection, workers: int
) -> Iterator[tuple[bytes, Parsed | None]]:
    """Each block with the fast parser's result (:func:`_parse_block`; None: the reference's turn), in
    the file's order. With ``workers`` ≥ 2 that many threads parse up to :data:`_AHEAD` blocks each
    ahead of the one returned; with 1 the calling thread parses each block in turn; with 0 every result
    is None (the reference parses everything)."""
    if workers < 2:
        yield from ((block, _parse_block(block, selection) if workers else None) for block in blocks)
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="windowner-vectors")
    pending: collections.deque[tuple[bytes, Future[Parsed | None]]] = collections.deque()
    failure = None
    try:
        try:
            for block in blocks:
                pending.append((block, pool.submit(_parse_block, block, selection)))
                if len(pending) > _AHEAD * workers:
                    block, future = pending.popleft()
                    yield block, future.result()
        except Exception as err:  # a read error (a truncated gzip...) comes after the blocks before it,
            failure = err  # whose own errors come first, as when each block is read in its turn
        while pending:
            block, future = pending.popleft()
            yield block, future.result()
        if failure is not None:
            raise failure
    finally:
        pool.shutdown(cancel_futures=True)  # an error or an interrupt: the blocks ahead are dropped


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


def _header(first: bytes) -> tuple[int, int] | None:
    """``(count, dim)`` if the first line is a word2vec header ``count dim``, else None."""
    fields = first.split()
    if len(fields) == 2 and all(field.isdigit() for field in fields):  # bytes.isdigit: ASCII digits
        return int(fields[0]), int(fields[1])
    return None


def _is_binary(data: bytes, dim: int) -> bool:
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


# ---------------------------------------------------------------------------------------------------------
# the reference parser: one line at a time


def _text_lines(data: bytes, number: int, path: Path) -> Iterator[tuple[int, str]]:
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


def _parse_lines(lines: Iterable[tuple[int, str]], path: Path, selection: _Selection, table: _Table) -> int:
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


# ---------------------------------------------------------------------------------------------------------
# the fast parser: a block of lines at a time, with numpy

_PAD = 16  # newlines before a block's bytes: every value then has 16 bytes before its end
_LOW4, _HIGH4 = np.uint64(0x0F0F0F0F0F0F0F0F), np.uint64(0xF0F0F0F0F0F0F0F0)
_LOW7, _HIGH1 = np.uint64(0x7F7F7F7F7F7F7F7F), np.uint64(0x8080808080808080)
_DOTS = np.uint64(0x2E2E2E2E2E2E2E2E)
_ASCII0, _SIX = np.uint64(0x3030303030303030), np.uint64(0x0606060606060606)
_POWERS = 10.0 ** np.arange(16)
_TAIL = 48  # newlines after a block's bytes: a word's window, a value's last word fit before the end
_COLUMNS = np.arange(_TAIL)  # the window of bytes read from a line's start to find its first space


def _fast_shapes(longest: int) -> np.ndarray:
    """Which ``17 * length + fraction + 1`` the fast conversion takes: ``length`` bytes of digits and one
    dot (2 to ``longest``), ``fraction`` digits after the dot (0 to length - 1; -1 is no dot)."""
    shapes = np.zeros(17 * 17, dtype=bool)
    for length in range(2, longest + 1):
        shapes[17 * length + 1 : 17 * length + length + 1] = True
    return shapes


_FAST_SHORT, _FAST_SHAPE = _fast_shapes(8), _fast_shapes(15)
# the n last bytes of a little-endian word
_KEEP = np.array([(2**64 - 1) << (64 - 8 * n) & (2**64 - 1) for n in range(9)], dtype=np.uint64)


_HASH_BITS = 20  # a 1 MiB table: 24k wanted words mark 2% of it, so few other words are decoded
_MIX = np.random.default_rng(20261126).integers(1, 2**63, size=_TAIL // 8, dtype=np.uint64) * 2 + 1


def _hash_words(words: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row of ``words`` (uint8, n x 48): its 8-byte words times odd constants."""
    return (np.ascontiguousarray(words).view(np.uint64) * _MIX).sum(axis=1, dtype=np.uint64)


def _eight_digits(v: np.ndarray) -> np.ndarray:
    """The integer of 8 digit values (0-9), one a byte, the first in the lowest byte (SWAR)."""
    v = (v * np.uint64(10 * 256 + 1)) >> np.uint64(8)
    v &= np.uint64(0x00FF00FF00FF00FF)
    v = (v * np.uint64(100 * 65536 + 1)) >> np.uint64(16)
    v &= np.uint64(0x0000FFFF0000FFFF)
    return (v * np.uint64(10000 * 2**32 + 1)) >> np.uint64(32)


def _parse_values(text: bytes, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The values ``[-]digits.digits`` of ``text[starts:ends]`` as float64, and which were of that form.

    ``text`` has 16 bytes before every value. Returns ``(values, fast)``: where ``fast`` is False the
    value has another form (a sign +, an exponent, no dot, more than 14 digits, nan...) and ``values`` is
    meaningless. Where True, ``values`` equals ``float(text)``:

    * the 8 bytes that end with the value (16 if it is longer) are gathered as a little-endian word
      (two; :func:`_eight_bytes`), the bytes before the value and its sign are masked to 0, the dot is
      found (the byte equal to ``.``, SWAR) and masked too, and the low nibbles of the other bytes are its
      digits;
    * S = the integer of those digits with the dot as a 0, exact in float64 (< 10^15 < 2^53);
    * with f digits after the dot, I = ⌊S / 10^(f+1)⌋ is the part before it and M = S − 9·10^f·I is all
      the digits as one integer, exactly;
    * the value is M / 10^f: both exact, so one correctly rounded division, as ``float()`` gives.
    """
    negative = np.frombuffer(text, dtype=np.uint8)[starts] == 45  # "-"
    length = np.minimum(ends - starts - negative, 16)  # digits and dot
    eight = _eight_bytes(text)  # eight[i]: the 8 bytes from i
    whole, fraction, wrong = _word_digits(eight[ends - 8], np.minimum(length, 8))
    fast = _FAST_SHORT[17 * length + fraction + 1] & (wrong == 0)  # 8 bytes or fewer
    longer = np.flatnonzero(length > 8)  # a few: 9-15 bytes, the 8 before hold digits too
    if len(longer):
        high, high_fraction, high_wrong = _word_digits(eight[ends[longer] - 16], length[longer] - 8)
        whole[longer] += high * np.uint64(10**8)
        low_fraction = fraction[longer]
        fraction[longer] = np.where(low_fraction < 0, 8 + high_fraction, low_fraction)
        one_dot = (low_fraction < 0) != (high_fraction < 0)  # one word holds the dot
        fast[longer] = _FAST_SHAPE[17 * length[longer] + fraction[longer] + 1] & one_dot & (high_wrong == 0)
        fast[longer] &= wrong[longer] == 0
    whole = whole.astype(np.float64)
    power = _POWERS[fraction]  # fraction -1 reads 10^15: no matter, not fast
    before = np.floor(whole / (power * 10))
    values = whole - before * (power * 9)
    values /= power
    values.view(np.uint64)[...] |= negative.astype(np.uint64) << np.uint64(63)  # the sign, "-0.0" too
    return values, fast


def _eight_bytes(text: bytes) -> np.ndarray:
    """``text`` read as overlapping little-endian 64-bit words, one at every byte: element i holds bytes
    i to i + 7, byte i the lowest. A view (stride 1 byte, unaligned): gathering from it is one indexing
    where shifting two aligned words together took three times as long."""
    return np.ndarray((len(text) - 7,), dtype="<u8", buffer=text, strides=(1,))


def _dot_bytes(word: np.ndarray) -> np.ndarray:
    """0x80 in each byte of ``word`` that is ``.``, 0 elsewhere (exact zero-byte test of ``word ^ ....``)."""
    x = word ^ _DOTS
    return ~(((x & _LOW7) + _LOW7) | x) & _HIGH1


def _word_digits(word: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, ...]:
    """The digits in the ``count`` last bytes of each ``word``: ``(integer, fraction, wrong)``.

    ``integer`` reads them with a dot as 0, ``fraction`` counts the bytes after the dot (-1: no dot),
    ``wrong`` is not 0 if a byte is neither a digit nor a dot, or if there are two dots.
    """
    keep = _KEEP[count]
    word = word & keep
    dot = _dot_bytes(word)
    below = dot - np.uint64(1)
    fraction = (63 - np.bitwise_count(below).view(np.int8)) >> 3  # bits below the dot's (none: -1)
    keep ^= (dot >> np.uint64(7)) * np.uint64(0xFF)  # the digits: not the dots
    word &= keep
    digits = word & _LOW4
    wrong = (word ^ digits) ^ (keep & _ASCII0)  # a digit byte is not 0x30-0x3F
    wrong |= (digits + _SIX) & _HIGH4  # or its low nibble is above 9
    wrong |= dot & below  # or there is a second dot
    return _eight_digits(digits), fraction, wrong


def _parse_block(data: bytes, selection: _Selection) -> Parsed | None:
    """The fast parser's reading of a block of whole lines: ``(lines, words, rows)``, the number of
    lines, the words that ``selection`` may keep (wanted, lowercased if asked; repeats not yet dropped)
    and their vectors; or None when the block is not one it handles: then the reference parses it.

    When every word is read it only reads ``selection``, so several threads may run it at once
    (:func:`_parsed_ahead`; with wanted words, one thread runs it and :meth:`_Selection.may_keep` builds
    its table at the first block);
    :func:`_add_block` then keeps the words in the file's order. The bytes are split at spaces and
    newlines with numpy (:func:`_spans`); a line's first span is its word, the others its values, which
    :func:`_parse_values` converts. When only some words are wanted, the words are found first
    (:func:`_some_lines`) and only their lines are split and converted.
    """
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
        if b"\r" in data:
            return None  # a lone \r ends a line: the reference counts those
    if b"\t" in data:
        if b" " in data:
            return None  # tabs and spaces: the reference's rule decides per line
        data = data.replace(b"\t", b" ")  # a tab-separated block: the same as spaces
    if not data.endswith(b"\n"):
        data += b"\n"
    text = b"\n" * _PAD + data + b"\n" * _TAIL
    return (_every_line if selection.wanted is None else _some_lines)(text, selection)


def _add_block(parsed: Parsed, selection: _Selection, table: _Table) -> int | None:
    """Keep a block's words that ``selection`` keeps (not seen before) in ``table``; returns the number
    of lines, or None (and changes nothing) if the block's vectors are not of the table's size."""
    lines, words, rows = parsed
    if not words:
        return lines
    if table.dim and rows.shape[1] != table.dim:
        return None  # the reference says which line is wrong
    kept = selection.keep(words, lowered=True)
    if kept:
        table.dim = rows.shape[1]
        if len(kept) < len(words):
            words, rows = [words[i] for i in kept], rows[kept]
        table.add(words, rows)
    return lines


Parsed = tuple[int, list[str], np.ndarray]  # lines in the block, candidate words, their vectors


def _every_line(text: bytes, selection: _Selection) -> Parsed | None:
    """Every line's word is a candidate (no ``wanted``): split the whole block at once."""
    spans = _spans(text)
    if spans is None:
        return None
    starts, ends, value, firsts, counts = spans
    word_starts, word_ends = starts[firsts], ends[firsts]
    blank = (counts == 0) & (word_ends == word_starts)  # empty, or spaces only
    if ((counts == 0) & ~blank).any():
        return None  # a word without values: an error, or the reference's rstrip decides the word
    lines = ~blank
    valued = counts[lines]
    if not len(valued):
        return len(blank), [], np.zeros((0, 0), dtype=np.float32)  # blank lines only
    if (valued != valued[0]).any():
        return None  # lines with different numbers of values: the reference says which line is wrong
    names = _names(text, word_starts[lines], word_ends[lines])
    if names is None:
        return None  # not UTF-8: the reference names the line
    rows = _rows(text, starts, ends, value, len(valued))
    if rows is None:
        return None
    return len(blank), _words(names, selection), rows


def _some_lines(text: bytes, selection: _Selection) -> Parsed | None:
    """Only the wanted words: find each line's word first, then split and convert only their lines."""
    buf = np.frombuffer(text, dtype=np.uint8)
    # lines: [starts, stops) without the newline; the word ends at the first space (at stops if none)
    newlines = np.flatnonzero(buf[: len(text) - _TAIL] == 10)[_PAD - 1 :]
    starts, stops = newlines[:-1] + 1, newlines[1:]
    window = _first_bytes(buf, starts)  # the first bytes of each line
    length = np.argmax(window == 32, axis=1)
    first = np.minimum(starts + length, stops)
    blank = starts == stops
    far = np.flatnonzero((buf[first] != 32) & ~blank)  # no space in the window: a long word, or none
    for i in far.tolist():
        found = text.find(b" ", starts[i], stops[i])
        first[i] = found if found >= 0 else stops[i]
    # a line with a word must hold a value: its last byte (before one trailing space) is visible ASCII
    last = stops - 1 - (buf[stops - 1] == 32)
    valued = (last > first) & (buf[last] > 32) & (buf[last] < 128)
    for i in np.flatnonzero(~valued & ~blank).tolist():
        if text[starts[i] : stops[i]].strip(b" "):
            return None  # no value, or other trailing bytes: the reference's rstrip decides
        blank[i] = True  # spaces only
    # only the lines whose word may be wanted (a hash of its bytes says so) are decoded and looked up
    candidates = np.flatnonzero(selection.may_keep(window, first - starts) & ~blank)
    names = _names(text, starts[candidates], first[candidates])
    if names is None:
        return None  # not UTF-8: the reference names the line
    word_bytes = int((first - starts)[candidates].sum()) + max(len(candidates) - 1, 0)  # joined by newlines
    if np.count_nonzero(buf >= 128) != word_bytes - len(names.encode("ascii", "ignore")):
        return None  # non-ASCII bytes after a word, in lines not read here: the reference decodes them
    words = _words(names, selection) if len(candidates) else []
    chosen = list(itertools.compress(range(len(words)), map(selection.wanted.__contains__, words)))
    if not chosen:
        return len(starts), [], np.zeros((0, 0), dtype=np.float32)
    kept_words: list[str] = [words[i] for i in chosen]  # type: ignore[misc]
    # the kept lines' values, from the space after the word, in a smaller block
    lines = candidates[chosen]
    bounds = zip(first[lines].tolist(), (stops[lines] + 1).tolist(), strict=True)
    values_text = b"\n" * _PAD + b"".join([text[a:b] for a, b in bounds]) + b"\n" * _TAIL
    spans = _spans(values_text)
    if spans is not None:
        starts, ends, value, firsts, counts = spans
        if counts[0] and (counts == counts[0]).all():
            rows = _rows(values_text, starts, ends, value, len(lines))
            if rows is not None:
                return len(stops), kept_words, rows
    return None  # the reference says which line is wrong


def _first_bytes(buf: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The :data:`_TAIL` bytes from each of ``starts``, ``(n, 48)`` uint8: rows of a sliding window over
    ``buf``, gathered without an ``(n, 48)`` matrix of int64 positions (8 times their size: that gather
    took 1.6x as long for a 128 KiB block of GloVe, 5x for a 1 MiB one)."""
    return np.lib.stride_tricks.sliding_window_view(buf, _TAIL)[starts]


def _names(text: bytes, starts: np.ndarray, ends: np.ndarray) -> str | None:
    """The texts ``text[starts[i]:ends[i]]`` (words, shorter than 48 bytes but rarely) joined by newlines, or
    None if one is not UTF-8."""
    length = ends - starts
    try:
        if len(length) and length.max() < _TAIL:  # each word and a newline, from the lines' first bytes
            window = _first_bytes(np.frombuffer(text, dtype=np.uint8), starts)
            window[np.arange(len(window)), length] = 10
            return window[_COLUMNS <= length[:, None]].tobytes()[:-1].decode("utf-8")
        return b"\n".join([text[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]).decode()
    except UnicodeDecodeError:
        return None


def _words(names: str, selection: _Selection) -> list[str]:
    """The words of a block's lines (joined by newlines), lowercased if asked."""
    if selection.lowercase:
        names = names.lower()  # as word by word: a newline stops the context of a final sigma
    return names.split("\n")


def _spans(text: bytes) -> tuple[np.ndarray, ...] | None:
    """Split padded lines at spaces and newlines: ``(starts, ends, value, firsts, counts)``.

    Span i is ``text[starts[i]:ends[i]]``; ``value`` marks the values (spans after a space, not empty);
    ``firsts`` are the index of each line's first span (its word); ``counts`` its number of values. None
    if the text holds another control byte.
    """
    buf = np.frombuffer(text, dtype=np.uint8)
    places = np.flatnonzero(buf <= 32)
    kinds = buf[places]
    if not ((kinds == 32) | (kinds == 10)).all():
        return None
    inside = slice(_PAD - 1, len(places) - _TAIL)  # from the newline before the first line to the last's
    places, kinds = places[inside], kinds[inside]
    starts, ends = places[:-1] + 1, places[1:]
    value = (kinds[:-1] == 32) & (ends > starts)
    firsts = np.flatnonzero(kinds[:-1] == 10)
    nexts = np.empty_like(firsts)  # the next line's first span
    nexts[:-1], nexts[-1:] = firsts[1:], len(value)
    if value.sum() == len(value) - len(firsts):  # no empty span: each line is a word, then values
        counts = nexts - firsts - 1
    else:
        total = np.concatenate([[0], np.cumsum(value)])
        counts = total[nexts] - total[firsts]
    return starts, ends, value, firsts, counts


def _rows(
    text: bytes, starts: np.ndarray, ends: np.ndarray, value: np.ndarray, rows: int
) -> np.ndarray | None:
    """The values (spans marked ``value``) as float32 ``(rows, dim)``, or None if one is not a finite
    number (the reference then says which)."""
    values, fast = _parse_values(text, starts, ends)  # words too: dropped below
    with np.errstate(over="ignore"):
        result = values.astype(np.float32)
    slow = np.flatnonzero(value & ~fast)
    if len(slow):
        try:
            bounds = zip(starts[slow].tolist(), ends[slow].tolist(), strict=True)
            tokens = [text[a:b].decode("ascii") for a, b in bounds]
            with np.errstate(over="ignore"):
                result[slow] = np.array(tokens, dtype=np.float32)
        except (UnicodeDecodeError, ValueError):
            return None
    result = result[value].reshape(rows, -1)
    return result if np.isfinite(result).all() else None


# ---------------------------------------------------------------------------------------------------------
# word2vec binary


def _parse_binary(
    blocks: Iterable[bytes], path: Path, selection: _Selection, count: int, dim: int
) -> tuple[list[str], np.ndarray]:
    """Records ``word, space, dim float32 (little-endian), optional newline`` after a ``count dim`` header.

    Errors name the record (1 is the first word): a word that is not UTF-8, a file that ends inside a
    record, a count of records that is not the header's, a vector that holds inf or nan.
    """
    size = 4 * dim
    table = _Table()
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
    selection: _Selection,
    table: _Table,
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


# ---------------------------------------------------------------------------------------------------------
# the cache


class _CacheEntry:
    """The cached rows of one source file: ``NAME.HASH.SIZE.MTIME.v1.npy`` and ``... .words.txt``.

    HASH is of the source's absolute path; SIZE and MTIME (ns) are the source's: a changed source has
    another entry, and storing it removes the entries of the source's older states.
    """

    def __init__(self, folder: Path, prefix: str, stem: str):
        self.folder = folder
        self.prefix = prefix
        self.vectors = folder / f"{stem}.npy"
        self.words = folder / f"{stem}.words.txt"

    @classmethod
    def for_source(cls, path: Path, source: tuple[str, int, int]) -> _CacheEntry:
        absolute, size, mtime = source
        digest = hashlib.sha256(absolute.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        prefix = f"{path.name}.{digest}."
        return cls(cache_folder(), prefix, f"{prefix}{size}.{mtime}.{_CACHE_VERSION}")

    def load(self) -> tuple[str, np.ndarray] | None:
        """The cached words (their text, a word and a newline each) and matrix (memory-mapped, copy on
        write), or None if missing or not sound."""
        try:
            text = self.words.read_text(encoding="utf-8")
            matrix = np.load(self.vectors, mmap_mode="c", allow_pickle=False)
        except (OSError, ValueError, EOFError, UnicodeDecodeError):
            return None
        sound = (
            text.endswith("\n")
            and isinstance(matrix, np.ndarray)
            and matrix.dtype == np.float32
            and matrix.ndim == 2
            and matrix.shape[0] == text.count("\n")
            and matrix.shape[1] > 0
        )
        return (text, matrix) if sound else None

    def store(self, words: list[str], matrix: np.ndarray) -> None:
        """Write the entry (atomically, each file); a folder that cannot be written means no cache."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_open(self.vectors, "wb") as out:
                np.save(out, matrix, allow_pickle=False)
            with atomic_open(self.words) as out:
                out.write("".join(word + "\n" for word in words))
            for old in self.folder.glob(glob.escape(self.prefix) + "*"):
                if old not in (self.vectors, self.words):
                    old.unlink(missing_ok=True)  # the source's earlier states
        except OSError as err:
            warnings.warn(f"not caching word vectors in {self.folder}: {err.strerror or err}", stacklevel=3)
