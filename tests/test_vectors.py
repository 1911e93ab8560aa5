"""Tests of windowner.vectors: GloVe and word2vec text files, plain or gzipped."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import raises_at

from windowner.errors import WindownerError
from windowner.vectors import read_vectors

GLOVE_DIR = Path(__file__).resolve().parent.parent / "data" / "glove"

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
    words, vectors = read_vectors(GLOVE_DIR / "glove.6B.50d.wikigold.txt")
    assert vectors.shape == (lines, 50)
    assert vectors.dtype == np.float32
    assert len(set(words)) == len(words)
    assert all(word == word.lower() for word in words)
    assert np.isfinite(vectors).all()


def test_inf_or_nan_is_an_error_naming_its_line(write):
    path = write("v.txt", "good 1.0 2.0\nbad nan 1.0\nhuge 1e39 0\n")
    raises_at(path, 2, lambda: read_vectors(path), "'bad'", "nan")
    path = write("w.txt", "good 1.0 2.0\nhuge 1e39 0\n")  # beyond float32
    raises_at(path, 2, lambda: read_vectors(path), "'huge'")
