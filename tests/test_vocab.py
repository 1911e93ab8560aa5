"""Tests of windowner.data.vocab: special rows, lookup (case, digits), the special rows' scale, save/load."""

from __future__ import annotations

import numpy as np
import pytest

from windowner.base.errors import WindownerError
from windowner.data.vocab import END, SPECIALS, START, UNK, Vocabulary, lookup_keys, with_specials

PRETRAINED = ["the", "paris", "0000", "1996", "00.0", "a0"]


def vocab(words=PRETRAINED, lowercase=True, normalize_digits=True) -> Vocabulary:
    return Vocabulary([*SPECIALS, *words], lowercase, normalize_digits)


def test_specials_are_rows_0_to_2():
    assert SPECIALS == ("<unk>", "<s>", "</s>")
    v = vocab()
    assert v.words[:3] == ["<unk>", "<s>", "</s>"]
    assert (v.row[UNK], v.row[START], v.row[END]) == (0, 1, 2)
    assert len(v) == 3 + len(PRETRAINED)
    assert v.row["the"] == 3


def test_vocabulary_must_start_with_the_specials():
    with pytest.raises(WindownerError):
        Vocabulary(["the", *SPECIALS])
    with pytest.raises(WindownerError):
        Vocabulary(["<unk>", "<s>"])


def test_vocabulary_rejects_a_repeated_word():
    with pytest.raises(WindownerError):
        Vocabulary([*SPECIALS, "the", "paris", "the"])


def test_lookup_is_lowercased():
    v = vocab()
    assert v.index("Paris") == v.index("PARIS") == v.index("paris") == v.row["paris"]
    assert v.index("The") == v.row["the"]


def test_lookup_as_written_then_lowercased_when_lowercase_is_off():
    v = Vocabulary([*SPECIALS, "Paris", "paris", "may"], lowercase=False)
    assert v.index("Paris") == v.row["Paris"]  # as written first
    assert v.index("paris") == v.row["paris"]
    assert v.index("PARIS") == v.row["paris"]  # then lowercased: the second look-up
    assert v.index("May") == v.row["may"] and v.index("Zebra") == 0


def test_unknown_is_row_0():
    v = vocab()
    assert v.index("zebra") == 0
    assert v.index("") == 0


def test_special_words_in_text_are_unknown_not_pads():
    # A token spelled "<s>" in the text is a word without a vector, not the sentence-start pad.
    v = vocab()
    assert v.index("<s>") == 0
    assert v.index("</s>") == 0
    assert v.index("<UNK>") == 0


def test_digit_fallback_only_when_the_word_is_missing():
    v = vocab()
    assert v.index("1996") == v.row["1996"]  # has its own vector
    assert v.index("2024") == v.row["0000"]  # falls back
    assert v.index("12.5") == v.row["00.0"]
    assert v.index("A7") == v.row["a0"]  # lowercased, then digits replaced
    assert v.index("12345") == 0  # "00000" has no vector either


def test_no_digit_fallback_when_normalize_digits_is_off():
    v = vocab(normalize_digits=False)
    assert v.index("2024") == 0
    assert v.index("1996") == v.row["1996"]
    assert v.index("0000") == v.row["0000"]


def test_keys():
    v = vocab()
    assert v.keys("Paris") == ["paris"]
    assert v.keys("May-2024") == ["may-2024", "may-0000"]
    # as written first, then lowercased (the second look-up), each then with digits normalised
    assert vocab(lowercase=False).keys("May-2024") == ["May-2024", "may-2024", "May-0000", "may-0000"]
    assert vocab(lowercase=False).keys("may") == ["may"]
    assert vocab(normalize_digits=False).keys("May-2024") == ["may-2024"]


def test_encode():
    v = vocab()
    rows = v.encode(["The", "zebra", "2024", "Paris"])
    assert rows.dtype == np.int64
    assert rows.tolist() == [v.row["the"], 0, v.row["0000"], v.row["paris"]]
    empty = v.encode([])
    assert empty.dtype == np.int64 and empty.shape == (0,)


@pytest.mark.parametrize(
    ("lowercase", "normalize_digits", "expected"),
    [
        (True, True, {"paris", "1996", "0000", "the", "x"}),
        (False, True, {"Paris", "paris", "1996", "0000", "The", "the", "X", "x"}),
        (True, False, {"paris", "1996", "the", "x"}),
    ],
)
def test_lookup_keys(lowercase, normalize_digits, expected):
    tokens = ["Paris", "paris", "1996", "The", "the", "X", "the"]
    assert lookup_keys(tokens, lowercase, normalize_digits) == expected


def test_save_load_roundtrip(tmp_path):
    v = vocab()
    path = tmp_path / "vocab.txt"
    v.save(path)
    assert path.read_text(encoding="utf-8") == "".join(f"{w}\n" for w in v.words)
    loaded = Vocabulary.load(path, lowercase=True, normalize_digits=False)
    assert loaded.words == v.words
    assert loaded.lowercase is True and loaded.normalize_digits is False
    assert loaded.index("Paris") == v.index("Paris")
    assert loaded.index("2024") == 0  # the flags given to load apply


def test_load_keeps_a_last_word_without_a_newline(write):
    path = write("vocab.txt", "<unk>\n<s>\n</s>\nparis")
    assert Vocabulary.load(path, True, True).words[-1] == "paris"


@pytest.mark.parametrize(
    ("text", "line"),
    [("<unk>\n<s>\n</s>\nparis\n\nlondon\n", 5), ("<unk>\n<s>\n</s>\nparis\n\n", 5)],
)
def test_load_refuses_an_empty_line(write, text, line):
    # A hand-edited vocab.txt with a blank line loaded, a row no token can read.
    path = write("vocab.txt", text)
    with pytest.raises(WindownerError, match="an empty line") as info:
        Vocabulary.load(path, True, True)
    assert str(info.value).startswith(f"{path}:{line}: ")


@pytest.mark.parametrize(
    ("data", "needle"), [(b"<unk>\n<s>\n</s>\n\xff\n", ":4: not UTF-8"), (b"PK\x03\x04", "zip archive")]
)
def test_load_refuses_bytes_that_are_not_text(write, data, needle):
    path = write("vocab.txt", data=data)
    with pytest.raises(WindownerError, match=needle):
        Vocabulary.load(path, True, True)


# ---------------------------------------------------------------------------------------------------------
# with_specials


def test_with_specials_shape_dtype_and_pretrained_rows_unchanged():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(5, 4)).astype(np.float32)
    words, E = with_specials(["a", "b", "c", "d", "e"], vectors, np.random.default_rng(0))
    assert words == [*SPECIALS, "a", "b", "c", "d", "e"]
    assert E.shape == (8, 4)
    assert E.dtype == np.float32
    np.testing.assert_array_equal(E[3:], vectors)
    assert not np.allclose(E[0], E[1]) and not np.allclose(E[1], E[2])


def test_with_specials_drops_the_files_own_special_words():
    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)
    words, E = with_specials(["a", "<unk>", "b", "</s>"], vectors, np.random.default_rng(0))
    assert words == [*SPECIALS, "a", "b"]
    np.testing.assert_array_equal(E[3:], vectors[[0, 2]])
    Vocabulary(words)  # a valid vocabulary: no word twice


@pytest.mark.parametrize("sigma", [0.05, 2.5])
def test_with_specials_draws_on_the_scale_of_the_vectors(sigma):
    vectors = np.random.default_rng(7).normal(0.0, sigma, size=(2000, 300)).astype(np.float32)
    _, E = with_specials([f"w{i}" for i in range(2000)], vectors, np.random.default_rng(3))
    specials = E[:3].astype(np.float64)  # 900 draws: their std is within a few % of sigma
    assert specials.std() == pytest.approx(sigma, rel=0.15)
    assert abs(specials.mean()) < 0.2 * sigma


def test_with_specials_is_reproducible_with_the_seed():
    vectors = np.random.default_rng(0).normal(size=(10, 6)).astype(np.float32)
    words = [f"w{i}" for i in range(10)]
    _, first = with_specials(words, vectors, np.random.default_rng(42))
    _, second = with_specials(words, vectors, np.random.default_rng(42))
    _, other = with_specials(words, vectors, np.random.default_rng(43))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first[:3], other[:3])


def test_extend_appends_rows_and_forgets_only_the_tokens_they_change():
    vocab = Vocabulary([*SPECIALS, "paris", "lyon"])
    assert vocab.encode(["Paris", "Geneva", "Lyon"]).tolist() == [3, 0, 4]  # Geneva: <unk>, memoised
    vocab.extend(["geneva", "bern"])
    assert vocab.words[-2:] == ["geneva", "bern"] and len(vocab) == 7
    assert vocab.encode(["Paris", "Geneva", "Bern", "Lyon"]).tolist() == [3, 5, 6, 4]  # as a new vocabulary
    assert vocab.encode(["Geneva"]).tolist() == Vocabulary(vocab.words).encode(["Geneva"]).tolist()
    with pytest.raises(WindownerError, match="twice"):
        vocab.extend(["paris"])


def test_extend_moves_a_memoised_token_found_under_a_later_key():
    vocab = Vocabulary([*SPECIALS, "apple", "0000"], lowercase=False)
    assert vocab.encode(["Apple", "1996", "Paris"]).tolist() == [3, 4, 0]  # Apple under apple, 1996 as 0000
    vocab.extend(["Apple", "1996"])  # their first keys now have rows of their own
    fresh = Vocabulary(vocab.words, lowercase=False)
    assert (
        vocab.encode(["Apple", "1996", "Paris"]).tolist() == fresh.encode(["Apple", "1996", "Paris"]).tolist()
    )
    assert vocab.encode(["Apple", "1996"]).tolist() == [5, 6]
