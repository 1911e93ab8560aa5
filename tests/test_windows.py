"""Tests of windowner.data.windows against a naive per-token reference written here."""

from __future__ import annotations

import numpy as np
import pytest

from windowner.data.features import CASES
from windowner.data.vocab import SPECIALS, Vocabulary
from windowner.data.windows import make_windows, sentence_windows

START, END = 1, 2


def naive_windows(sentences, window: int, start: int, end: int) -> list[list[int]]:
    """One Python loop per token: the definition of a window."""
    out = []
    for sentence in sentences:
        words = [int(w) for w in sentence]
        for t in range(len(words)):
            row = []
            for k in range(-window, window + 1):
                j = t + k
                row.append(start if j < 0 else end if j >= len(words) else words[j])
            out.append(row)
    return out


def test_hand_made_window_2():
    sentences = [np.array([10]), np.array([20, 21]), np.array([30, 31, 32, 33, 34])]
    expected = [
        [START, START, 10, END, END],
        [START, START, 20, 21, END],
        [START, 20, 21, END, END],
        [START, START, 30, 31, 32],
        [START, 30, 31, 32, 33],
        [30, 31, 32, 33, 34],
        [31, 32, 33, 34, END],
        [32, 33, 34, END, END],
    ]
    windows = make_windows(sentences, 2, START, END)
    assert windows.dtype == np.int32
    assert windows.shape == (8, 5)
    assert windows.tolist() == expected
    assert windows.tolist() == naive_windows(sentences, 2, START, END)


def test_hand_made_window_0_is_the_words_themselves():
    sentences = [np.array([10]), np.array([20, 21]), np.array([30, 31, 32, 33, 34])]
    windows = make_windows(sentences, 0, START, END)
    assert windows.dtype == np.int32
    assert windows.shape == (8, 1)
    assert windows[:, 0].tolist() == [10, 20, 21, 30, 31, 32, 33, 34]


def test_window_wider_than_the_sentence_pads_start_left_and_end_right():
    windows = make_windows([np.array([7, 8])], 4, start=5, end=6)
    assert windows.tolist() == [[5, 5, 5, 5, 7, 8, 6, 6, 6], [5, 5, 5, 7, 8, 6, 6, 6, 6]]


def test_pads_never_leak_across_sentences():
    # Adjacent sentences in the flat corpus: a window must read pads, not the other sentence's words.
    windows = make_windows([np.array([10, 11]), np.array([20, 21])], 1, START, END)
    assert windows.tolist() == [[START, 10, 11], [10, 11, END], [START, 20, 21], [20, 21, END]]


@pytest.mark.parametrize("window", [0, 1, 2, 3, 5])
def test_random_sentences_match_the_naive_reference(window):
    rng = np.random.default_rng(window)
    lengths = [1, 1, *rng.integers(1, 9, size=60).tolist(), 1, 2, 1]
    sentences = [rng.integers(3, 1000, size=n) for n in lengths]
    windows = make_windows(sentences, window, START, END)
    assert windows.dtype == np.int32
    assert windows.shape == (sum(lengths), 2 * window + 1)
    assert windows.tolist() == naive_windows(sentences, window, START, END)
    # The centre column is the corpus itself, sentence after sentence.
    np.testing.assert_array_equal(windows[:, window], np.concatenate(sentences))


def test_int64_and_list_input_give_int32():
    as_int64 = [np.array([4, 5, 6], dtype=np.int64), np.array([7], dtype=np.int64)]
    windows = make_windows(as_int64, 1, START, END)
    assert windows.dtype == np.int32
    assert windows.tolist() == naive_windows(as_int64, 1, START, END)
    assert make_windows([[4, 5, 6], [7]], 1, START, END).tolist() == windows.tolist()


def test_empty_input():
    for sentences in ([], [np.array([], dtype=np.int64)], [np.zeros(0, dtype=np.int64)] * 3):
        windows = make_windows(sentences, 2, START, END)
        assert windows.shape == (0, 5)
        assert windows.dtype == np.int32


def test_empty_sentences_among_others_add_no_windows():
    empty = np.array([], dtype=np.int64)
    sentences = [empty, np.array([10, 11]), empty, np.array([12])]
    windows = make_windows(sentences, 1, START, END)
    assert windows.tolist() == [[START, 10, 11], [10, 11, END], [START, 12, END]]


def test_sentence_windows_looks_tokens_up():
    vocab = Vocabulary([*SPECIALS, "paris", "is", "0000"])
    windows = sentence_windows([["Paris", "is", "zebra"], ["1996"]], vocab, 1)
    paris, is_, year = vocab.row["paris"], vocab.row["is"], vocab.row["0000"]
    assert windows.dtype == np.int32
    assert windows.shape == (4, 1, 3)  # one table: the words
    assert windows[:, 0].tolist() == [[1, paris, is_], [paris, is_, 0], [is_, 0, 2], [1, year, 2]]


def test_sentence_windows_with_the_casing_feature():
    vocab = Vocabulary([*SPECIALS, "paris", "is"])
    windows = sentence_windows([["Paris", "is", "NICE", "1996", "."]], vocab, 1, {"case": CASES})
    assert windows.shape == (5, 2, 3)
    c = {name: CASES.index(name) for name in CASES}
    assert windows[:, 1].tolist() == [
        [0, c["title"], c["lower"]],
        [c["title"], c["lower"], c["upper"]],
        [c["lower"], c["upper"], c["digits"]],
        [c["upper"], c["digits"], c["other"]],
        [c["digits"], c["other"], 0],
    ]
