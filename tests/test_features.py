"""Word features: the keys of tokens, the classes a run keeps, and their windows."""

from collections import Counter

import numpy as np
import pytest

from windowner.data.features import (
    CASES,
    CHAR_SLOTS,
    FEATURES,
    MIN_COUNT,
    PAD,
    UNKNOWN,
    Encoder,
    casing,
    casing_by_characters,
    char_ngrams,
    feature_classes,
    shape,
)
from windowner.data.vocab import SPECIALS, Vocabulary
from windowner.data.windows import sentence_windows


@pytest.mark.parametrize(
    ("token", "case"),
    [
        (",", "other"),
        ("--", "other"),
        ("1996", "digits"),
        ("3-0", "digits"),
        ("the", "lower"),
        ("e-mail", "lower"),
        ("Paris", "title"),
        ("A", "title"),
        ("EU", "upper"),
        ("U.S.", "upper"),
        ("F16", "title"),
        ("F-16A", "upper"),
        ("McDonald", "mixed"),
        ("iPod", "mixed"),
        ("Ölkrise", "title"),
    ],
)
def test_casing(token, case):
    assert casing(token) == case and case in CASES


def test_casing_equals_the_character_rules():
    """Random tokens of printable ASCII (every casing class turns up thousands of times), where ``casing``
    takes its whole-string shortcut, and some that are not ASCII, where it takes the character rules."""
    rng = np.random.default_rng(0)
    alphabets = [[chr(c) for c in range(32, 127)], list("aZ9.-kQ")]
    tokens = [
        "".join(rng.choice(alphabet, size=rng.integers(1, 8))) for alphabet in alphabets for _ in range(20000)
    ]
    tokens += ["", "\x01a", "a B", "_", "ⅰ", "ǅa", "ß", "Straße", "ÖL", "İstanbul", "日本", "x²", "٣"]
    found = [casing(token) for token in tokens]
    assert found == [casing_by_characters(token) for token in tokens]
    assert set(found) == set(CASES) - {PAD}


@pytest.mark.parametrize(
    ("token", "expected"),
    [("Paris", "Xxx"), ("U.S.", "X.X."), ("2026-11-26", "dd-dd-dd"), ("McDonald", "XxXxx"), ("a", "x")],
)
def test_shape(token, expected):
    assert shape(token) == expected


def test_char_ngrams():
    assert char_ngrams("Paris") == ["<pa", "par", "ari", "ris", "is>", "<par", "pari", "aris", "ris>"]
    long = char_ngrams("Internationalisation")  # 20 letters: 20 trigrams, 19 fourgrams
    assert len(long) == CHAR_SLOTS and long[:2] == ["<in", "int"] and long[-1] == "ion>"


def test_char_windows_fill_their_slots():
    vocab = Vocabulary([*SPECIALS, "paris"])
    grams = FEATURES["chars"].classes_of([["Paris", "Paris", "is"]])
    windows = sentence_windows([["Paris", "is"]], vocab, 1, {"chars": grams})
    assert windows.shape == (2, 1 + CHAR_SLOTS, 3)
    paris = [grams.index(g) for g in char_ngrams("Paris")]
    assert windows[0, 1 : 1 + len(paris), 1].tolist() == paris and not windows[0, 1 + len(paris) :, 1].any()
    assert not windows[0, 1:, 0].any()  # <s>: no n-grams
    expected = [grams.index(g) if g in grams else 1 for g in char_ngrams("is")]  # seen once: <unk>
    assert windows[1, 1 : 1 + len(expected), 1].tolist() == expected and 1 in expected


def test_classes_from_the_training_data():
    sentences = [["Running", "and", "jumping"], ["Singing", "and", "RUNNING", "."]]
    classes = feature_classes(["suffix", "case", "headline"], sentences)
    assert classes["case"] == CASES and classes["headline"] == (PAD, "no", "yes")
    suffix = classes["suffix"]
    assert suffix[:2] == (PAD, UNKNOWN) and MIN_COUNT == 2
    assert suffix[2:] == ("ing", "and")  # ing 4 times, and twice; "." once: left out
    encoder = Encoder(FEATURES["suffix"], suffix)
    assert encoder.encode(["Dancing", "band", "x"]).tolist() == [2, 3, 1]  # an unseen key is <unk>


def test_each_distinct_token_computed_once_gives_every_token_its_own_keys():
    """The features of each token alone count and encode each distinct token's keys once: the classes
    and the encoding equal those of every token taken on its own, over two calls of one encoder that
    share tokens (the second reads the first's memo) and for a word whose n-grams repeat (``aaaaa``)."""
    rng = np.random.default_rng(1)
    tokens = ["".join(rng.choice(list("aaB.-1é"), size=rng.integers(1, 9))) for _ in range(3000)]
    sentences = [tokens[i : i + 7] for i in range(0, len(tokens), 7)]
    for name in ("chars", "suffix", "shape"):
        feature = FEATURES[name]
        several = feature.slots > 1
        keys = [feature.per_token(token) if several else [feature.per_token(token)] for token in tokens]
        counts = Counter(key for many in keys for key in many)
        kept = sorted((k for k, n in counts.items() if n >= MIN_COUNT), key=lambda k: (-counts[k], k))
        classes = feature.classes_of(sentences)
        assert classes == (PAD, UNKNOWN, *kept) and len(kept) > 10
        index = {key: i for i, key in enumerate(classes)}
        rows = [[index.get(key, 1) for key in many] for many in keys]
        expected = [row + [0] * (feature.slots - len(row)) for row in rows] if several else sum(rows, [])
        encoder = Encoder(feature, classes)
        for part in (slice(0, 2000), slice(1000, None)):
            assert encoder.encode(tokens[part]).tolist() == expected[part]


def test_headline_marks_all_caps_sentences():
    keys = FEATURES["headline"].keys
    assert keys(["SOCCER", "-", "JAPAN", "WIN", "1-0"]) == ["yes"] * 5
    assert keys(["Japan", "win", "."]) == ["no"] * 3


def test_feature_windows_pad_with_class_0():
    vocab = Vocabulary([*SPECIALS, "paris"])
    classes = {"case": CASES, "suffix": (PAD, UNKNOWN, "ris")}
    windows = sentence_windows([["Paris", "is"]], vocab, 1, classes)
    assert windows.shape == (2, 3, 3)
    assert windows[:, 2].tolist() == [[0, 2, 1], [2, 1, 0]]
    assert np.array_equal(windows[:, 1, 1], [CASES.index("title"), CASES.index("lower")])
