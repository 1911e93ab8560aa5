"""The fast parser of a vectors text file: whole blocks of lines at once with numpy (the words by
their first bytes, the values by eight digits at a time), in two threads where there are two cores; a
block it refuses goes to the reference parser (:mod:`windowner.data.vectors.reference`), which it is
checked against.
"""

from __future__ import annotations

import collections
import itertools
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

import numpy as np

from ...base.threads import thread_count
from .table import COLUMNS, TAIL, Parsed, Selection, VectorTable


def line_blocks(file: BinaryIO, rest: bytes, size: int) -> Iterator[bytes]:
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


def parsed_ahead(
    blocks: Iterable[bytes], selection: Selection, workers: int
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


_PAD = 16  # newlines before a block's bytes: every value then has 16 bytes before its end


_LOW4, _HIGH4 = np.uint64(0x0F0F0F0F0F0F0F0F), np.uint64(0xF0F0F0F0F0F0F0F0)


_LOW7, _HIGH1 = np.uint64(0x7F7F7F7F7F7F7F7F), np.uint64(0x8080808080808080)


_DOTS = np.uint64(0x2E2E2E2E2E2E2E2E)


_ASCII0, _SIX = np.uint64(0x3030303030303030), np.uint64(0x0606060606060606)


_POWERS = 10.0 ** np.arange(16)


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


def _parse_block(data: bytes, selection: Selection) -> Parsed | None:
    """The fast parser's reading of a block of whole lines: ``(lines, words, rows)``, the number of
    lines, the words that ``selection`` may keep (wanted, lowercased if asked; repeats not yet dropped)
    and their vectors; or None when the block is not one it handles: then the reference parses it.

    When every word is read it only reads ``selection``, so several threads may run it at once
    (:func:`parsed_ahead`; with wanted words, one thread runs it and :meth:`Selection.may_keep` builds
    its table at the first block);
    :func:`add_block` then keeps the words in the file's order. The bytes are split at spaces and
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
    text = b"\n" * _PAD + data + b"\n" * TAIL
    return (_every_line if selection.wanted is None else _some_lines)(text, selection)


def add_block(parsed: Parsed, selection: Selection, table: VectorTable) -> int | None:
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


def _every_line(text: bytes, selection: Selection) -> Parsed | None:
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


def _some_lines(text: bytes, selection: Selection) -> Parsed | None:
    """Only the wanted words: find each line's word first, then split and convert only their lines."""
    buf = np.frombuffer(text, dtype=np.uint8)
    # lines: [starts, stops) without the newline; the word ends at the first space (at stops if none)
    newlines = np.flatnonzero(buf[: len(text) - TAIL] == 10)[_PAD - 1 :]
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
    values_text = b"\n" * _PAD + b"".join([text[a:b] for a, b in bounds]) + b"\n" * TAIL
    spans = _spans(values_text)
    if spans is not None:
        starts, ends, value, firsts, counts = spans
        if counts[0] and (counts == counts[0]).all():
            rows = _rows(values_text, starts, ends, value, len(lines))
            if rows is not None:
                return len(stops), kept_words, rows
    return None  # the reference says which line is wrong


def _first_bytes(buf: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The :data:`TAIL` bytes from each of ``starts``, ``(n, 48)`` uint8: rows of a sliding window over
    ``buf``, gathered without an ``(n, 48)`` matrix of int64 positions (8 times their size: that gather
    took 1.6x as long for a 128 KiB block of GloVe, 5x for a 1 MiB one)."""
    return np.lib.stride_tricks.sliding_window_view(buf, TAIL)[starts]


def _names(text: bytes, starts: np.ndarray, ends: np.ndarray) -> str | None:
    """The texts ``text[starts[i]:ends[i]]`` (words, shorter than 48 bytes but rarely) joined by newlines, or
    None if one is not UTF-8."""
    length = ends - starts
    try:
        if len(length) and length.max() < TAIL:  # each word and a newline, from the lines' first bytes
            window = _first_bytes(np.frombuffer(text, dtype=np.uint8), starts)
            window[np.arange(len(window)), length] = 10
            return window[COLUMNS <= length[:, None]].tobytes()[:-1].decode("utf-8")
        return b"\n".join([text[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]).decode()
    except UnicodeDecodeError:
        return None


def _words(names: str, selection: Selection) -> list[str]:
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
    inside = slice(_PAD - 1, len(places) - TAIL)  # from the newline before the first line to the last's
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
