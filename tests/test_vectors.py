"""Tests of windowner.data.vectors: GloVe and word2vec text files, plain or gzipped."""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from helpers import raises_at

from windowner.base.errors import WindownerError
from windowner.data.vectors import cache as vectors_cache
from windowner.data.vectors import fast as vectors_fast
from windowner.data.vectors import read as vectors_read
from windowner.data.vectors import read_vectors
from windowner.data.vectors import reference as vectors_reference
from windowner.data.vectors import table as vectors_table
from windowner.data.vectors import word2vec as vectors_word2vec

GLOVE_DIR = Path(__file__).resolve().parent.parent / "data" / "glove"
SHIPPED = GLOVE_DIR / "glove.6B.50d.20k.txt.gz"

WORDS = ["the", "paris", ",", "0000"]
MATRIX = np.array(
    [[0.5, -1.25, 3.0], [1e-3, 2.5e2, -0.0625], [7.0, 8.0, 9.0], [-1.5, 0.25, 1e-7]], dtype=np.float32
)


def glove_text(words=WORDS, matrix=MATRIX) -> str:
    return "".join(
        f"{w} {' '.join(repr(float(v)) for v in row)}\n" for w, row in zip(words, matrix, strict=True)
    )


def word2vec_text(words=WORDS, matrix=MATRIX) -> str:
    return f"{len(words)} {matrix.shape[1]}\n" + glove_text(words, matrix)


# ---------------------------------------------------------------------------------------------------------
# formats


def test_glove_format(write):
    words, vectors = read_vectors(write("v.txt", glove_text()))
    assert words == WORDS
    assert vectors.dtype == np.float32
    assert vectors.shape == (4, 3)
    np.testing.assert_array_equal(vectors, MATRIX)


def test_word2vec_format_gives_the_same_matrix(write):
    glove = read_vectors(write("glove.txt", glove_text()))
    word2vec = read_vectors(write("w2v.vec", word2vec_text()))
    assert word2vec[0] == glove[0] == WORDS
    assert word2vec[1].dtype == np.float32
    np.testing.assert_array_equal(word2vec[1], glove[1])


def test_glove_file_whose_first_word_is_a_number_is_not_a_header(write):
    # "2 ..." with three values is a GloVe line (the word "2"), not a word2vec header.
    words, vectors = read_vectors(write("v.txt", "2 1 2 3\nb 4 5 6\n"))
    assert words == ["2", "b"]
    np.testing.assert_array_equal(vectors, [[1, 2, 3], [4, 5, 6]])


@pytest.mark.parametrize("make", [glove_text, word2vec_text])
def test_gzipped_file(tmp_path, make):
    path = tmp_path / "v.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write(make())
    words, vectors = read_vectors(path)
    assert words == WORDS
    np.testing.assert_array_equal(vectors, MATRIX)


def test_crlf_line_endings(write):
    words, vectors = read_vectors(write("v.txt", glove_text().replace("\n", "\r\n")))
    assert words == WORDS
    np.testing.assert_array_equal(vectors, MATRIX)


# ---------------------------------------------------------------------------------------------------------
# filtering and case


@pytest.mark.parametrize("make", [glove_text, word2vec_text])
def test_wanted_keeps_only_those_words_in_file_order(write, make):
    words, vectors = read_vectors(write("v.txt", make()), wanted={"0000", "the", "absent"})
    assert words == ["the", "0000"]
    np.testing.assert_array_equal(vectors, MATRIX[[0, 3]])


def test_unwanted_lines_are_not_parsed(write):
    # Only the wanted rows are parsed: a broken line of a word nobody wants is no error.
    path = write("v.txt", "a 1 2\nbroken 1 2 3 4\nnan-word x y\nb 3 4\n")
    words, vectors = read_vectors(path, wanted={"a", "b"})
    assert words == ["a", "b"]
    np.testing.assert_array_equal(vectors, [[1, 2], [3, 4]])


def test_lowercase_keeps_the_first_occurrence(write):
    path = write("v.txt", "The 1 1\nthe 2 2\nApple 3 3\nTHE 4 4\napple 5 5\n")
    words, vectors = read_vectors(path, lowercase=True)
    assert words == ["the", "apple"]
    np.testing.assert_array_equal(vectors, [[1, 1], [3, 3]])

    words, vectors = read_vectors(path, wanted={"the"}, lowercase=True)
    assert words == ["the"]
    np.testing.assert_array_equal(vectors, [[1, 1]])


def test_without_lowercase_every_casing_is_its_own_word(write):
    path = write("v.txt", "The 1 1\nthe 2 2\nTHE 4 4\n")
    words, vectors = read_vectors(path, lowercase=False)
    assert words == ["The", "the", "THE"]
    np.testing.assert_array_equal(vectors[:, 0], [1, 2, 4])
    assert read_vectors(path, wanted={"the"}, lowercase=False)[0] == ["the"]


def test_a_repeated_word_keeps_its_first_vector(write):
    words, vectors = read_vectors(write("v.txt", "a 1 1\nb 2 2\na 3 3\n"))
    assert words == ["a", "b"]
    np.testing.assert_array_equal(vectors, [[1, 1], [2, 2]])


# ---------------------------------------------------------------------------------------------------------
# errors


def test_glove_wrong_number_of_values_names_the_line(write):
    path = write("v.txt", "a 1 2 3\nb 4 5 6\nc 7 8\nd 1 2 3\n")
    raises_at(path, 3, lambda: read_vectors(path), "'c'", "expected 3")
    path = write("w.txt", "a 1 2 3\nb 4 5 6\nc 7 8 9 10\n")
    raises_at(path, 3, lambda: read_vectors(path), "expected 3")


def test_word2vec_header_dim_is_the_reference_and_lines_count_the_header(write):
    # The first vector has 3 values but the header says 2: line 2 (the header is line 1) is wrong.
    path = write("v.vec", "2 2\na 1 2 3\nb 4 5\n")
    raises_at(path, 2, lambda: read_vectors(path), "'a'", "expected 2")
    path = write("w.vec", "3 2\na 1 2\nb 4 5\nc 6\n")
    raises_at(path, 4, lambda: read_vectors(path), "'c'", "expected 2")


def test_glove_non_number_names_the_line(write):
    path = write("v.txt", "a 1 2\nb 3 4\nc 5 oops\n")
    raises_at(path, 3, lambda: read_vectors(path), "'oops'")


def test_word2vec_non_number_names_the_line(write):
    path = write("v.vec", "3 2\na 1 2\nb x 4\nc 5 6\n")
    raises_at(path, 3, lambda: read_vectors(path), "'x'")


def test_non_number_error_with_wanted_names_the_file_line(write):
    # With filtering, the line number is still the line in the file, not the index of the kept row.
    path = write("v.txt", "a 1 2\nb 3 4\nc 5 6\nd 7 ?\n")
    raises_at(path, 4, lambda: read_vectors(path, wanted={"a", "d"}), "'?'")


def test_empty_file_raises(write):
    with pytest.raises(WindownerError):
        read_vectors(write("v.txt", ""))


def test_header_only_raises(write):
    with pytest.raises(WindownerError, match="no word vectors"):
        read_vectors(write("v.vec", "0 50\n"))


def test_none_of_the_wanted_words_raises(write):
    path = write("v.txt", glove_text())
    with pytest.raises(WindownerError, match="none of") as info:
        read_vectors(path, wanted={"zebra"})
    assert str(path) in str(info.value)


def test_missing_file_raises(tmp_path):
    with pytest.raises(WindownerError, match="no such file"):
        read_vectors(tmp_path / "absent.txt")


def test_non_utf8_raises(write):
    path = write("v.txt", data="caf\u00e9 1 2\n".encode("latin-1"))
    with pytest.raises(WindownerError, match="UTF-8"):
        read_vectors(path)


def test_gz_that_is_not_gzip_raises(write):
    path = write("v.txt.gz", glove_text())
    with pytest.raises(WindownerError) as info:
        read_vectors(path)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------------------------------------------------
# the shipped subset


def test_shipped_glove_subset():
    readme = (GLOVE_DIR / "README.md").read_text(encoding="utf-8")
    lines = int(re.search(r"lines in this file: ([\d,]+)", readme).group(1).replace(",", ""))
    words, vectors = read_vectors(SHIPPED, cache=False)
    assert vectors.shape == (lines, 50)
    assert {"lyon", "geneva", "paris"} <= set(words)  # the README's example, beyond Wikigold's words
    assert vectors.dtype == np.float32
    assert len(set(words)) == len(words)
    assert all(word == word.lower() for word in words)
    assert np.isfinite(vectors).all()


def test_inf_or_nan_is_an_error_naming_its_line(write):
    path = write("v.txt", "good 1.0 2.0\nbad nan 1.0\nhuge 1e39 0\n")
    raises_at(path, 2, lambda: read_vectors(path), "'bad'", "nan")
    path = write("w.txt", "good 1.0 2.0\nhuge 1e39 0\n")  # beyond float32
    raises_at(path, 2, lambda: read_vectors(path), "'huge'")


# ---------------------------------------------------------------------------------------------------------
# the fast parser gives what the reference parser gives


def plain(path, wanted=None, lowercase=False, required=True):
    """The reference parser alone, with read_vectors's selection rules (no cache)."""
    words, matrix = vectors_read._read(
        Path(path), vectors_table.Selection(wanted, lowercase, dedupe=True), fast=False
    )
    return vectors_read._result(Path(path), words, matrix, wanted, required)


def outcome(read):
    """``(words, float32 bits)`` or the error message of one read."""
    try:
        words, matrix = read()
    except WindownerError as err:
        return str(err)
    assert matrix.dtype == np.float32
    return words, matrix.shape, matrix.view(np.uint32).tobytes()


def assert_same_as_plain(path, wanted=None, lowercase=False):
    expected = outcome(lambda: plain(path, wanted, lowercase))
    assert outcome(lambda: read_vectors(path, wanted, lowercase, cache=False)) == expected
    assert outcome(lambda: read_vectors(path, wanted, lowercase, cache=True)) == expected  # builds the entry
    assert outcome(lambda: read_vectors(path, wanted, lowercase, cache=True)) == expected  # reads it
    return expected


TRICKY = {
    # words that look like values or syntax: only values are numbers
    "number-words": 'nan 1.5 -2.25\ninf 0.5 1.0\nnull -0.0 0.0\n" 3.0 4.0\n# 5.5 6.5\n1e5 7 8\n- 9 1\n',
    "trailing-space": "a 1.0 2.0 \nb 3.0 4.0 \nc 5.0 6.0 \n",  # the word2vec C tool writes this
    "some-trailing-spaces": "a 1.0 2.0  \nb 3.0  4.0\nc 5.0 6.0   \n",
    "bom": "\ufeffthe 1.0 2.0\nof 3.0 4.0\n",
    "crlf": "the 1.0 2.0\r\nof 3.0 4.0\r\n\r\nand 5.0 6.0\r\n",
    "lone-cr": "the 1.0 2.0\rof 3.0 4.0\rand 5.0 6.0\r",
    "word2vec-header": "3 2\nthe 1.0 2.0\nof 3.0 4.0\nand 5.0 6.0\n",
    "header-crlf-bom": "\ufeff2 2\r\nthe 1.0 2.0\r\nof 3.0 4.0\r\n",
    "blank-lines": "\nthe 1.0 2.0\n\n   \nof 3.0 4.0\n\n",
    "no-final-newline": "the 1.0 2.0\nof 3.0 4.0",
    "duplicates": "The 1.0 1.0\nthe 2.0 2.0\nTHE 3.0 3.0\nApple 4.0 4.0\napple 5.0 5.0\nthe 6.0 6.0\n",
    "nbsp-word": "new\u00a0york 1.0 2.0\nem\u2003space 3.0 4.0\nplain 5.0 6.0\n",
    "tab-in-word": "a\tb 1.0 2.0\nc 3.0 4.0\n",
    "tab-separated": "the\t1.0\t2.0\nof\t3.0\t4.0\n",
    "non-ascii-words": "café 1.0 2.0\n東京 3.0 4.0\nnaïve 5.0 6.0\nΟΔΟΣ 7.0 8.0\nΣ 9.0 1.0\nΑΣ' 2.0 3.0\n",
    "long-and-dotted-words": "a.b.c 1.0 2.0\n"
    + "x" * 40
    + " 3.0 4.0\n"
    + "y" * 47
    + " 5.0 6.0\n. 7.0 8.0\n"
    + "z" * 60
    + " 9.0 1.0\n",
    "value-forms": "a 1e-05 -9.4e-05 +1.5 .5\nb 5. -0.0 0.0 1E3\nc 17 -3 0.000123456 123456789.123\n",
    "many-digits": "a 0.12345678901234 1234567.8901234 12345678901234.5 0.123456789012345678\n"
    "b 3.4028235e38 1.1754944e-38 16777217.0 0.1\n",
    "leading-space": " 1.0 2.0\nthe 3.0 4.0\n",
    "vertical-tab-at-end": "the 1.0 2.0\x0b\nof 3.0 4.0\n",
    "nbsp-at-end": "the 1.0 2.0\u00a0\nof 3.0 4.0\n",
}


@pytest.mark.parametrize("name", sorted(TRICKY))
@pytest.mark.parametrize("lowercase", [False, True])
def test_fast_equals_plain_on_tricky_files(write, name, lowercase):
    path = write(f"{name}.txt", TRICKY[name])
    everything = assert_same_as_plain(path, None, lowercase)
    assert not isinstance(everything, str), everything  # these files are all readable
    words = everything[0]
    assert_same_as_plain(path, set(words[::2]) | {"absent"}, lowercase)


HANDED_TO_THE_REFERENCE = {"lone-cr", "tab-in-word", "vertical-tab-at-end", "nbsp-at-end"}


@pytest.mark.parametrize("name", sorted(TRICKY))
@pytest.mark.parametrize("some", [False, True])
def test_the_fast_parser_takes_the_usual_files_itself(write, monkeypatch, name, some):
    """Only blocks with a lone \\r, tabs and spaces, or control or non-ASCII bytes at a line's end (and,
    when only some words are wanted, two trailing spaces) go to the reference parser: the rest is parsed
    fast, so the tests above compare the two."""
    path = write(f"{name}.txt", TRICKY[name])
    words = read_vectors(path, cache=False)[0]
    handed = []
    reference = vectors_reference.parse_lines
    monkeypatch.setattr(vectors_read, "parse_lines", lambda *args: handed.append(1) or reference(*args))
    read_vectors(path, set(words) if some else None, cache=False)
    expected = HANDED_TO_THE_REFERENCE | ({"some-trailing-spaces"} if some else set())
    assert bool(handed) == (name in expected)


def test_tricky_files_read_as_intended(write):
    """A few of the rules, spelled out (the test above shows fast and plain agree on them)."""
    words, matrix = read_vectors(write("w.txt", TRICKY["number-words"]))
    assert words == ["nan", "inf", "null", '"', "#", "1e5", "-"]
    assert np.isfinite(matrix).all()
    assert read_vectors(write("n.txt", TRICKY["nbsp-word"]))[0] == ["new\u00a0york", "em\u2003space", "plain"]
    assert read_vectors(write("t.txt", TRICKY["tab-in-word"]))[0] == ["a\tb", "c"]
    assert read_vectors(write("s.txt", TRICKY["tab-separated"]))[0] == ["the", "of"]
    assert read_vectors(write("r.txt", TRICKY["lone-cr"]))[0] == ["the", "of", "and"]
    assert read_vectors(write("l.txt", TRICKY["leading-space"]))[0] == ["", "the"]
    words, matrix = read_vectors(write("d.txt", TRICKY["duplicates"]), lowercase=True)
    assert words == ["the", "apple"] and matrix[:, 0].tolist() == [1.0, 4.0]
    _, matrix = read_vectors(write("v.txt", TRICKY["value-forms"]))
    assert matrix[1, 1] == 0.0 and np.signbit(matrix[1, 1])  # -0.0 keeps its sign


BROKEN = {
    "wrong-count": "a 1.0 2.0\nb 3.0\nc 4.0 5.0\n",
    "not-a-number": "a 1.0 2.0\nb 3.0 x\n",
    "nan-value": "a 1.0 2.0\nb nan 1.0\n",
    "too-big": "a 1.0 2.0\nb 1e39 1.0\n",
    "no-values": "a 1.0 2.0\nb\nc 1.0 2.0\n",
    "first-without-values": "a\nb 1.0 2.0\n",
    "header-dim": "2 3\na 1.0 2.0\nb 1.0 2.0\n",
    "latin1": "a 1.0 2.0\nb 1.0 2.0\ncaf\xe9 1.0 2.0\n",
    "empty": "",
    "header-only": "0 50\n",
    "two-dots": "a 1.0 2.0\nb 1.2.3 4.0\n",
    "two-dots-long": "a 1.0 2.0\nb 1234567.89.1234 4.0\n",
    "sign-inside": "a 1.0 2.0\nb 1.0-2 4.0\n",
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_fast_and_plain_fail_alike(write, name):
    text = BROKEN[name]
    path = write(f"{name}.txt", data=text.encode("latin-1"))
    expected = assert_same_as_plain(path)
    assert isinstance(expected, str) and str(path) in expected and "\n" not in expected


def test_non_utf8_names_its_line(write):
    path = write("v.txt", data=b"a 1.0 2.0\r\nb 1.0 2.0\r\ncaf\xe9 1.0 2.0\n")
    raises_at(path, 3, lambda: read_vectors(path, cache=False), "UTF-8")
    path = write("w.txt", data=b"a 1.0 2.0\rb 1.0 2.0\rcaf\xe9 1.0 2.0\n")  # lone \r line ends
    raises_at(path, 3, lambda: read_vectors(path, cache=False), "UTF-8")


def test_a_line_not_in_utf8_is_an_error_even_if_its_word_is_not_wanted(write):
    """As the reference (and a text file) reads every line: a wanted subset does not hide bad bytes."""
    for broken in (b"b 1.\xff0 2.0\n", b"b 1.0 \xff\n", b"b\xff 1.0 2.0\n", b"b 1.0\xc3 2.0\n"):
        path = write("v.txt", data=b"a 1.0 2.0\n" + broken + b"c 3.0 4.0\n")
        for cache in (False, True):
            raises_at(path, 2, lambda path=path, cache=cache: read_vectors(path, {"a"}, cache=cache), "UTF-8")
    path = write("w.txt", data="a 1.0 2.0\nb 1.0\u00a0 2.0\nc 3.0 4.0\n".encode())  # UTF-8, not ASCII
    assert read_vectors(path, {"a", "c"}, cache=False)[0] == ["a", "c"]


def test_a_broken_line_of_an_unwanted_word_is_no_error(write):
    path = write("v.txt", "a 1.0 2.0\nb\nc x y z\nd 3.0 4.0\n")
    for cache in (False, True):
        words, matrix = read_vectors(path, {"a", "d"}, cache=cache)
        assert words == ["a", "d"]
        np.testing.assert_array_equal(matrix, [[1, 2], [3, 4]])


def random_file(rng: np.random.Generator, lines: int) -> bytes:
    """A GloVe-like file with some of every oddity, for fast == plain with many blocks."""
    pieces = []
    if rng.random() < 0.3:
        pieces.append("\ufeff")
    end = rng.choice(["\n", "\r\n"])
    forms = ["{:.5f}", "{:.6g}", "{:.3e}", "{:.10f}", "{}"]
    words = ["the", "The", "nan", "inf", "null", '"', "#", "café", "new\u00a0york", "x" * 40, "a.b", "1996"]
    for _ in range(lines):
        word = words[rng.integers(len(words))] if rng.random() < 0.3 else f"w{rng.integers(lines)}"
        values = rng.normal(0, 10.0 ** rng.integers(-6, 6), size=4).astype(np.float32)
        text = " ".join(forms[rng.integers(len(forms))].format(float(v)) for v in values)
        trailing = " " if rng.random() < 0.2 else ""
        pieces.append(f"{word} {text}{trailing}{end}")
        if rng.random() < 0.02:
            pieces.append(end)  # a blank line
    return "".join(pieces).encode("utf-8")


@pytest.mark.parametrize("threads", ["1", "3"])  # parsed in the main thread; by three threads at once
@pytest.mark.parametrize("seed", range(6))
def test_fast_equals_plain_on_random_files_in_small_blocks(write, monkeypatch, seed, threads):
    monkeypatch.setenv("WINDOWNER_THREADS", threads)
    rng = np.random.default_rng(seed)
    path = write("v.txt", data=random_file(rng, 300))
    monkeypatch.setattr(vectors_read, "CHUNK_BYTES", int(rng.integers(64, 2048)))  # many blocks, cut anywhere
    everything = assert_same_as_plain(path, None, bool(seed % 2))
    assert len(everything[0]) > 100
    assert_same_as_plain(path, {"the", "nan", "w1", "w2", "w3", "café", "1996"}, bool(seed % 2))


def test_fast_values_are_float_then_float32(write):
    """Exact: each value equals float(text) rounded to float32, on hard cases and random decimals."""
    rng = np.random.default_rng(0)
    texts = [
        "16777217.0", "16777219.0", "0.1", "0.30000000000000004", "9999999.9999999", "0.00000000000001",
        "1.00000005960464477", "-0.0000000001", "3.4028235", "2.5", "-2.5", "0.5000000298023224",
        "8388608.5", "1.0000000596046448", "33554431.0", "0.000030517578125",
    ]  # fmt: skip
    for _ in range(3000):
        digits = "".join(rng.choice(list("0123456789"), size=int(rng.integers(1, 15))))
        dot = int(rng.integers(0, len(digits) + 1))
        texts.append(("-" if rng.random() < 0.5 else "") + (digits[:dot] or "0") + "." + digits[dot:])
    rows = [texts[i : i + 4] for i in range(0, len(texts) - 3, 4)]
    path = write("v.txt", "".join(f"w{i} {' '.join(row)}\n" for i, row in enumerate(rows)))
    _, matrix = read_vectors(path, cache=False)
    expected = np.array([[np.float32(float(t)) for t in row] for row in rows], dtype=np.float32)
    np.testing.assert_array_equal(matrix.view(np.uint32), expected.view(np.uint32))


def test_fast_path_handles_the_shipped_subset(write):
    lines = gzip.decompress(SHIPPED.read_bytes()).splitlines(keepends=True)
    path = write("shipped.txt.gz", data=gzip.compress(b"".join(lines[::3])))  # a third: a faster test
    for lowercase in (False, True):
        assert_same_as_plain(path, None, lowercase)
        assert_same_as_plain(path, {"the", "paris", "london", "1996", "0000", "zzzz"}, lowercase)


# ---------------------------------------------------------------------------------------------------------
# word2vec binary


def word2vec_binary(words=WORDS, matrix=MATRIX, newline=True, header=None) -> bytes:
    header = header or f"{len(words)} {matrix.shape[1]}\n"
    records = b"".join(
        w.encode("utf-8") + b" " + row.astype("<f4").tobytes() + (b"\n" if newline else b"")
        for w, row in zip(words, matrix, strict=True)
    )
    return header.encode("ascii") + records


@pytest.mark.parametrize("newline", [True, False])
def test_word2vec_binary(write, newline):
    words, matrix = read_vectors(write("v.bin", data=word2vec_binary(newline=newline)))
    assert words == WORDS
    np.testing.assert_array_equal(matrix, MATRIX)
    words, matrix = read_vectors(write("w.bin", data=word2vec_binary(newline=newline)), {"0000", "the"})
    assert words == ["the", "0000"]


def test_word2vec_binary_gzipped_with_odd_bytes_and_case(tmp_path):
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(300, 7)).astype(np.float32)
    matrix[:, 0] = np.frombuffer(b"\n\n\n\n" * 300, dtype="<f4")[:300]  # newline and space bytes in floats
    matrix[:, 1] = np.frombuffer(b"    " * 300, dtype="<f4")[:300]
    words = [f"W{i % 250}" for i in range(300)]
    path = tmp_path / "v.bin.gz"
    path.write_bytes(gzip.compress(word2vec_binary(words, matrix)))
    got_words, got = read_vectors(path, lowercase=True, cache=False)
    assert got_words == [f"w{i}" for i in range(250)]
    np.testing.assert_array_equal(got, matrix[:250])
    assert outcome(lambda: read_vectors(path, lowercase=True)) == outcome(lambda: (got_words, got))


def test_word2vec_binary_errors(write):
    data = word2vec_binary()
    raises_at_file = [
        (data[:-5], "ends inside"),
        (word2vec_binary(header="5 3\n"), "header says 5"),
        (data.replace(b"paris", b"p\xe9ris"), "not UTF-8"),
        (word2vec_binary(matrix=MATRIX * np.float32(np.inf)), "inf or nan"),
    ]
    for i, (broken, message) in enumerate(raises_at_file):
        path = write(f"v{i}.bin", data=broken)
        with pytest.raises(WindownerError, match=message) as info:
            read_vectors(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_text_with_a_header_is_not_taken_for_binary(write):
    for text in (word2vec_text(), "2 3\na 1 2 3\nb 4 5 6\n", "1 2\nnan nan 1.0\n"):
        assert vectors_word2vec.is_binary(text.encode().partition(b"\n")[2], 3) is False
    assert vectors_word2vec.is_binary(word2vec_binary().partition(b"\n")[2], 3) is True


# ---------------------------------------------------------------------------------------------------------
# the cache


def cache_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_cache_is_written_once_and_then_read(write, vectors_cache, monkeypatch):
    path = write("v.txt", glove_text())
    first = outcome(lambda: read_vectors(path))
    names = cache_files(vectors_cache)
    assert len(names) == 2 and names[0].startswith("v.txt.") and names[0].endswith(".npy")
    assert (vectors_cache / names[1]).read_text(encoding="utf-8") == "".join(w + "\n" for w in WORDS)

    def no_parsing(*args, **kwargs):
        raise AssertionError("parsed the text although the cache holds it")

    monkeypatch.setattr(vectors_read, "_read", no_parsing)
    assert outcome(lambda: read_vectors(path)) == first
    assert outcome(lambda: read_vectors(path, {"paris", "0000"})) == outcome(
        lambda: (["paris", "0000"], MATRIX[[1, 3]])
    )
    words, matrix = read_vectors(path)
    matrix[0, 0] = 42.0  # copy-on-write: the entry is not changed
    assert read_vectors(path)[1][0, 0] == MATRIX[0, 0]


def test_cache_off_writes_nothing(write, vectors_cache):
    read_vectors(write("v.txt", glove_text()), cache=False)
    assert cache_files(vectors_cache) == []


def test_a_changed_source_is_parsed_again_and_its_old_entry_removed(write, vectors_cache):
    path = write("v.txt", glove_text())
    read_vectors(path)
    old = cache_files(vectors_cache)
    path.write_text(glove_text(matrix=MATRIX * 2), encoding="utf-8")
    os.utime(path, ns=(1, 1_000_000_000))  # another modification time, whatever the clock
    words, matrix = read_vectors(path)
    np.testing.assert_array_equal(matrix, MATRIX * 2)
    new = cache_files(vectors_cache)
    assert len(new) == 2 and not set(old) & set(new)


def damage_npy_truncated(npy: Path, words: Path) -> None:
    npy.write_bytes(npy.read_bytes()[:-7])


def damage_npy_garbage(npy: Path, words: Path) -> None:
    npy.write_bytes(b"not an npy file at all")


def damage_npy_float64(npy: Path, words: Path) -> None:
    np.save(npy, np.load(npy).astype(np.float64))


def damage_npy_pickled(npy: Path, words: Path) -> None:
    np.save(npy, np.array([{"a": 1}], dtype=object), allow_pickle=True)


def damage_npy_nan(npy: Path, words: Path) -> None:
    matrix = np.load(npy)
    matrix[1, 1] = np.nan
    np.save(npy, matrix)


def damage_words_count(npy: Path, words: Path) -> None:
    words.write_text("the\nparis\n", encoding="utf-8")


def damage_words_unterminated(npy: Path, words: Path) -> None:
    words.write_text(words.read_text(encoding="utf-8")[:-1], encoding="utf-8")


def damage_words_missing(npy: Path, words: Path) -> None:
    words.unlink()


def damage_npy_missing(npy: Path, words: Path) -> None:
    npy.unlink()


def damage_words_not_utf8(npy: Path, words: Path) -> None:
    words.write_bytes(b"\xff\xfe\n" * 4)


@pytest.mark.parametrize(
    "damage",
    [
        damage_npy_truncated,
        damage_npy_garbage,
        damage_npy_float64,
        damage_npy_pickled,
        damage_npy_nan,
        damage_words_count,
        damage_words_unterminated,
        damage_words_missing,
        damage_npy_missing,
        damage_words_not_utf8,
    ],
)
def test_a_damaged_entry_is_rebuilt_never_trusted(write, vectors_cache, damage):
    path = write("v.txt", glove_text())
    read_vectors(path)
    npy = next(vectors_cache.glob("*.npy"))
    damage(npy, npy.with_name(npy.name[: -len(".npy")] + ".words.txt"))
    words, matrix = read_vectors(path)
    assert words == WORDS
    np.testing.assert_array_equal(matrix, MATRIX)
    words, matrix = read_vectors(path)  # and the rebuilt entry is sound
    np.testing.assert_array_equal(matrix, MATRIX)


def test_an_unwritable_cache_folder_only_skips_the_cache(write, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("WINDOWNER_CACHE_DIR", str(blocker / "vectors"))  # cannot be made
    with pytest.warns(UserWarning, match="not caching"):
        words, matrix = read_vectors(write("v.txt", glove_text()))
    assert words == WORDS
    np.testing.assert_array_equal(matrix, MATRIX)


def test_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("WINDOWNER_CACHE_DIR", str(tmp_path / "mine"))
    assert vectors_cache.cache_folder() == tmp_path / "mine"
    monkeypatch.delenv("WINDOWNER_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert vectors_cache.cache_folder() == tmp_path / "xdg" / "windowner" / "vectors"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert vectors_cache.cache_folder() == tmp_path / "home" / ".cache" / "windowner" / "vectors"


def test_two_processes_building_the_same_entry(tmp_path, vectors_cache):
    path = tmp_path / "v.txt"
    path.write_bytes(random_file(np.random.default_rng(3), 3000).replace(b"\r\n", b"\n"))
    code = (
        "import sys, numpy as np; from windowner.data.vectors import read_vectors;"
        "w, m = read_vectors(sys.argv[1]); print(len(w), float(np.abs(m).sum()))"
    )
    command = [sys.executable, "-c", code, str(path)]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE) for _ in range(3)]
    printed = {run.communicate()[0] for run in runs}
    assert all(run.returncode == 0 for run in runs)
    assert len(printed) == 1
    assert len(cache_files(vectors_cache)) == 2  # one entry, no temporary left
    assert outcome(lambda: read_vectors(path)) == outcome(lambda: read_vectors(path, cache=False))


def test_the_config_switch_reaches_the_reader(tmp_path, vectors_cache):
    from windowner.config import load_config
    from windowner.training.corpus import load_corpus

    root = Path(__file__).resolve().parent.parent
    overrides = [f"vectors.path={SHIPPED}", "data.dev=null", "data.test=null"]
    overrides.append(f"data.train={root / 'data' / 'wikigold' / 'dev.conll'}")
    load_corpus(load_config(None, [*overrides, "vectors.cache=false"]), np.random.default_rng(0))
    assert cache_files(vectors_cache) == []
    load_corpus(load_config(None, overrides), np.random.default_rng(0))
    assert len(cache_files(vectors_cache)) == 2


def test_the_fast_conversion_takes_only_what_float_reads_alike():
    """Every value the fast conversion claims equals float(text); what float() rejects it never claims."""
    rng = np.random.default_rng(7)
    alphabet = list("0123456789" * 3 + "..--+eE")
    tokens = ["1.2.3", "..5", "1..", "-.", "-", "+.5", "5", ".", "-0.0", "0.", ".0", "1234567.89.1234"]
    tokens += [
        "12345678.1234567",
        "0.1234567",
        "1234567.8",
        "12345678.9",
        "-1234567.89012345",
        "1e5",
        "1.5e3",
    ]
    for _ in range(20000):
        tokens.append("".join(rng.choice(alphabet, size=int(rng.integers(1, 18)))))
    text = b"\n" * 16 + " ".join(tokens).encode() + b"\n" * 40
    buf = np.frombuffer(text, dtype=np.uint8)
    ends = np.flatnonzero(buf[16:] <= 32) + 16
    starts = np.concatenate([[16], ends[:-1] + 1])[: len(tokens)]
    ends = ends[: len(tokens)]
    values, fast = vectors_fast._parse_values(buf[: len(buf) // 8 * 8], starts, ends)
    claimed = 0
    for token, value, ok in zip(tokens, values.tolist(), fast.tolist(), strict=True):
        if not ok:
            continue
        claimed += 1
        assert value == float(token) and np.signbit(value) == np.signbit(float(token)), token
        assert "." in token and "e" not in token.lower() and "+" not in token
    assert claimed > 1000  # the random tokens hold many plain decimals (1,479 with this seed)


def test_a_folder_is_no_vectors_file(tmp_path):
    for cache in (False, True):
        with pytest.raises(WindownerError, match="is a directory") as info:
            read_vectors(tmp_path, cache=cache)
        assert str(tmp_path) in str(info.value)


def test_gzipped_crlf_text_with_a_bom_is_parsed_fast(tmp_path, monkeypatch):
    path = tmp_path / "v.txt.gz"
    path.write_bytes(gzip.compress(("\ufeff" + glove_text().replace("\n", "\r\n")).encode("utf-8")))
    monkeypatch.setattr(vectors_read, "parse_lines", None)  # the reference is not needed
    words, matrix = read_vectors(path, cache=False)
    assert words == WORDS
    np.testing.assert_array_equal(matrix, MATRIX)


def test_wanted_words_are_found_whatever_their_bytes(write):
    """Only lines whose word may be wanted are decoded (a hash of the word's bytes says): cases, non-ASCII
    words (the Kelvin sign lowercases to an ASCII k), words longer than the hashed window, empty words."""
    words = ["Apple", "apple", "ÄPFEL", "äpfel", "x" * 60, "X" * 60, "a\x00", "\u212a", "k", "İs", "i̇s"]
    text = "".join(f"{word} {i}.5 {i}.25\n" for i, word in enumerate(words)) + " 9.5 9.25\n"
    path = write("v.txt", text)
    for wanted in ({"apple"}, {"Apple"}, {"äpfel", "x" * 60}, {"k"}, {"", "a"}, {"i̇s", "İs"}, set(words)):
        for lowercase in (False, True):
            assert_same_as_plain(path, wanted, lowercase)
    assert read_vectors(path, {"k"}, lowercase=True)[1][:, 0].tolist() == [7.5]  # the Kelvin sign comes first


@pytest.mark.parametrize("threads", ["1", "3"])
@pytest.mark.parametrize("seed", range(4))
def test_a_broken_line_in_a_late_block_fails_alike(write, monkeypatch, seed, threads):
    """A block after many good ones goes to the reference, which names the line in the whole file."""
    monkeypatch.setenv("WINDOWNER_THREADS", threads)
    rng = np.random.default_rng(seed)
    lines = random_file(rng, 300).decode("utf-8").splitlines(keepends=True)
    broken = int(rng.integers(150, 290))
    lines[broken] = ["w 1.0 x 2.0 3.0\n", "w 1.0 2.0\n", "w\n", "w nan 1 2 3\n"][seed]
    path = write("v.txt", data="".join(lines).encode("utf-8"))
    monkeypatch.setattr(vectors_read, "CHUNK_BYTES", 256)
    expected = assert_same_as_plain(path)
    assert isinstance(expected, str) and f":{broken + 1}:" in expected
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("windowner-vectors")]


def test_threads_keep_first_occurrences_and_lowercase_like_the_reference(write, monkeypatch):
    """The main thread drops repeated words as the blocks come back, in file order (lowercased or not)."""
    monkeypatch.setenv("WINDOWNER_THREADS", "3")
    monkeypatch.setattr(vectors_read, "CHUNK_BYTES", 128)
    rng = np.random.default_rng(0)
    words = ["The", "the", "THE", "Paris", "paris", "x", "X", "café", "Café"]
    text = "".join(f"{words[rng.integers(len(words))]} {i}.5 {i}.25\n" for i in range(400))
    path = Path(write("v.txt", text))
    for lowercase in (False, True):
        selection = vectors_table.Selection(None, lowercase, dedupe=True)
        threaded = vectors_read._read(path, selection, workers=vectors_fast.parse_workers())
        plain_read = vectors_read._read(
            path, vectors_table.Selection(None, lowercase, dedupe=True), fast=False
        )
        assert threaded[0] == plain_read[0] and len(threaded[0]) == len(set(threaded[0]))
        np.testing.assert_array_equal(threaded[1], plain_read[1])


@pytest.mark.parametrize("threads", ["1", "3"])
def test_a_late_block_of_another_size_fails_alike(write, monkeypatch, threads):
    """A block whose vectors have another size, after blocks parsed ahead: the reference names its line."""
    monkeypatch.setenv("WINDOWNER_THREADS", threads)
    monkeypatch.setattr(vectors_read, "CHUNK_BYTES", 128)
    text = "".join(f"w{i} 1.5 2.5 3.5\n" for i in range(200)) + "".join(f"v{i} 1.5 2.5\n" for i in range(50))
    path = write("v.txt", text)
    expected = assert_same_as_plain(path)
    assert isinstance(expected, str) and ":201:" in expected


def test_a_bad_line_before_a_truncated_gzip_is_the_error(tmp_path, monkeypatch):
    """Blocks read ahead do not let a later read error (the gzip's end) hide an earlier line's error."""
    monkeypatch.setattr(vectors_read, "CHUNK_BYTES", 4096)
    lines = [f"w{i} 1.5 2.5 3.5\n" for i in range(2000)]
    lines[5] = "w5 1.5 2.5\n"
    data = gzip.compress("".join(lines).encode())
    path = tmp_path / "cut.txt.gz"
    path.write_bytes(data[: len(data) // 2])
    error = r"cut\.txt\.gz:6: 2 values for 'w5', expected 3"
    for workers in (1, 2, 3):
        with pytest.raises(WindownerError, match=error):
            vectors_read._read(path, vectors_table.Selection(None, False, dedupe=True), workers=workers)
        monkeypatch.setenv("WINDOWNER_THREADS", str(workers))
        with pytest.raises(WindownerError, match=error):
            read_vectors(path, cache=False)


def test_parsing_threads_are_shut_down_after_an_error(write, monkeypatch):
    shut = []

    class Pool(vectors_fast.ThreadPoolExecutor):
        def shutdown(self, *args, **kwargs):
            shut.append(kwargs)
            super().shutdown(*args, **kwargs)

    monkeypatch.setattr(vectors_fast, "ThreadPoolExecutor", Pool)
    monkeypatch.setenv("WINDOWNER_THREADS", "2")
    monkeypatch.setattr(vectors_read, "CHUNK_BYTES", 128)
    path = write("v.txt", "".join(f"w{i} 1.5 2.5\n" for i in range(100)) + "bad 1.5 x\n" + "w 1 2\n" * 100)
    with pytest.raises(WindownerError, match=":101:"):
        read_vectors(path, cache=False)
    assert shut == [{"cancel_futures": True}]


def test_parsing_threads_follow_the_environment(monkeypatch):
    monkeypatch.setenv("WINDOWNER_THREADS", "3")
    assert vectors_fast.parse_workers() == 3
    monkeypatch.delenv("WINDOWNER_THREADS")
    assert 1 <= vectors_fast.parse_workers() <= 2


def test_a_bad_thread_count_is_a_one_line_error(write, monkeypatch):
    path = write("v.txt", "a 1.0 2.0\n")
    monkeypatch.setenv("WINDOWNER_THREADS", "many")
    for wanted in (None, {"a"}):
        for cache in (False, True):
            with pytest.raises(WindownerError, match="WINDOWNER_THREADS='many'"):
                read_vectors(path, wanted, cache=cache)
