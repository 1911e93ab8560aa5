"""Property-based tests (Hypothesis) of the places where a user's files enter: the CoNLL reader, the
word-vector reader and the config loader.

Each property: whatever the bytes, the reader gives a clean :class:`WindownerError` (one line, naming the
file, and the line when it names one that the file has) or a result that is right: a generated file reads
back as what was generated, a parse round-trips, the fast vector parser agrees with the line-by-line
reference. The ``ci`` profile (tests/conftest.py) runs a few dozen examples each; ``HYPOTHESIS_PROFILE=long``
runs thousands.
"""

from __future__ import annotations

import gzip
import os
import re
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from windowner.base.errors import WindownerError
from windowner.config import Config, load_config
from windowner.data.conll import Sentence, iob1_to_iob2, read_conll
from windowner.data.vectors import read, read_vectors, table

# one temporary folder a test, files written into it example after example (function-scoped fixtures
# are not reset between the examples of a Hypothesis test)
EXAMPLES = settings(suppress_health_check=[HealthCheck.too_slow])


def write_file(folder: str, name: str, data: bytes) -> Path:
    path = Path(folder) / name
    path.write_bytes(data)
    return path


def clean_error(err: WindownerError, path: Path, lines: int | None = None) -> None:
    """One line that starts with the file's name; a line number it gives is one of the file's lines."""
    message = str(err)
    assert "\n" not in message, message
    assert message.startswith(str(path)), message
    line = re.match(re.escape(str(path)) + r":(\d+):", message)
    if line and lines is not None:
        assert 1 <= int(line.group(1)) <= lines, (message, lines)


def line_count(data: bytes) -> int:
    """The lines a text reader sees: \\n, \\r\\n and a lone \\r end one (the last may have no end)."""
    return len(data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"))


# ---------------------------------------------------------------------------------------------------------
# CoNLL files

TOKEN = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=6
).filter(lambda token: token.split() == [token] and token != "-DOCSTART-")
TAG = st.sampled_from(["O", "O", "B-LOC", "I-LOC", "B-PER", "I-PER", "I-MISC-2"])
SENTENCES = st.lists(st.lists(st.tuples(TOKEN, TAG), min_size=1, max_size=6), min_size=1, max_size=5)


@st.composite
def conll_files(draw) -> tuple[bytes, list[Sentence]]:
    """A CoNLL file of random sentences, columns, separators, blank lines, -DOCSTART- lines and line ends,
    and the sentences it holds (IOB2)."""
    sentences = draw(SENTENCES)
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    extra = draw(st.integers(0, 2))  # columns between the token and the tag (POS, chunk)
    separator = draw(st.sampled_from([" ", "\t", "  ", " \t"]))
    lines = ["-DOCSTART- -X- O", ""]  # a document header (skipped) if draw(st.booleans()) else []
    for sentence in sentences:
        for token, tag in sentence:
            middle = [draw(TOKEN) for _ in range(extra)]
            lines.append(separator.join([token, *middle, tag]) + draw(st.sampled_from(["", " ", "\t"])))
        lines.extend(draw(st.lists(st.sampled_from(["", " ", "\t"]), min_size=1, max_size=3)))
    text = newline.join(lines) + (newline if draw(st.booleans()) else "")
    bom = "\ufeff" if draw(st.booleans()) else ""
    expected = [
        Sentence(tuple(t for t, _ in s), tuple(iob1_to_iob2([tag for _, tag in s]))) for s in sentences
    ]
    return (bom + text).encode("utf-8"), expected


def conll_text(sentences: list[Sentence]) -> str:
    return "".join(
        "".join(f"{t} {g}\n" for t, g in zip(s.tokens, s.tags, strict=True)) + "\n" for s in sentences
    )


@EXAMPLES
@given(conll_files())
def test_a_conll_file_reads_as_the_sentences_it_holds(file):
    data, expected = file
    with tempfile.TemporaryDirectory() as folder:
        assert read_conll(write_file(folder, "data.conll", data)) == expected


@st.composite
def damaged(draw, files) -> bytes:
    """A file with random damage: bytes inserted, lines cut, replaced or duplicated, the end cut off."""
    data = bytearray(draw(files))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["insert", "cut", "truncate", "line"]))
        at = draw(st.integers(0, len(data)))
        if kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=6))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 8))]
        elif kind == "truncate":
            del data[at:]
        else:
            data[at:at] = draw(st.text(max_size=12)).encode("utf-8") + b"\n"
    return bytes(data)


ENCODINGS = st.sampled_from(["utf-8", "latin-1", "cp1252", "utf-16"])


@st.composite
def damaged_conll(draw) -> bytes:
    data, _ = draw(conll_files())
    encoding = draw(ENCODINGS)
    data = data.decode("utf-8").encode(encoding, errors="replace")
    return draw(damaged(st.just(data))) if draw(st.booleans()) else data


@EXAMPLES
@given(damaged_conll())
def test_any_conll_bytes_give_a_clean_error_or_a_parse_that_round_trips(data):
    with tempfile.TemporaryDirectory() as folder:
        path = write_file(folder, "data.conll", data)
        try:
            sentences = read_conll(path)
        except WindownerError as err:
            clean_error(err, path, line_count(data))
            return
        assert sentences and all(len(s.tokens) == len(s.tags) > 0 for s in sentences)
        again = write_file(folder, "again.conll", conll_text(sentences).encode("utf-8"))
        assert read_conll(again, scheme="iob2") == sentences


# ---------------------------------------------------------------------------------------------------------
# word vectors

WORD = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=8
).filter(lambda word: word.split() == [word])
FLOAT32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@st.composite
def vector_tables(draw) -> tuple[list[str], np.ndarray]:
    words = draw(st.lists(WORD, min_size=1, max_size=8, unique=True))
    dim = draw(st.integers(2, 5))
    values = draw(st.lists(FLOAT32, min_size=len(words) * dim, max_size=len(words) * dim))
    return words, np.array(values, dtype=np.float32).reshape(len(words), dim)


FLOAT32_MAX = float(np.finfo(np.float32).max)
VALUE_FORMS = ["{!r}", "{:.3e}", "{:g}", "{:+.9g}", "{:.12f}", "{:E}"]  # how files write a value


@st.composite
def vector_texts(draw, words: list[str], matrix: np.ndarray) -> str:
    """The lines of a text file, each value in one of several forms, with the spacing and line ends that
    files have (several spaces, tabs, trailing spaces, CRLF, a byte-order mark, blank lines). The matrix
    is set to the values as written (float() of the text, then float32)."""
    end = draw(st.sampled_from(["\n", "\r\n"]))
    lines = []
    for word, row in zip(words, matrix, strict=True):
        values = [draw(st.sampled_from(VALUE_FORMS)).format(float(v)) for v in row]
        # a value rounded beyond float32's largest (3.403e+38) is inf, which the reader rightly refuses
        values = [
            t if abs(float(t)) <= FLOAT32_MAX else repr(float(v)) for t, v in zip(values, row, strict=True)
        ]
        row[:] = np.array([float(value) for value in values]).astype(np.float32)
        gap = draw(st.sampled_from([" ", " ", "  ", "\t"]))
        lines.append(word + " " + gap.join(values) + draw(st.sampled_from(["", "", " ", "\t"])))
        if draw(st.integers(0, 9)) == 0:
            lines.append("")
    return ("\ufeff" if draw(st.booleans()) else "") + end.join(lines) + end


def vector_file(words: list[str], matrix: np.ndarray, kind: str, text: str | None = None) -> bytes:
    """GloVe text, word2vec text or word2vec binary (``text``: the lines of a text file, if not the
    plain ones)."""
    header = f"{len(words)} {matrix.shape[1]}\n".encode()
    if text is not None and kind != "binary":
        bom = "\ufeff" if text.startswith("\ufeff") else ""  # the file's first bytes, before a header
        return bom.encode() + (header if kind == "word2vec" else b"") + text.removeprefix(bom).encode("utf-8")
    if kind == "binary":
        rows = (
            w.encode("utf-8") + b" " + row.astype("<f4").tobytes() + b"\n"
            for w, row in zip(words, matrix, strict=True)
        )
        return header + b"".join(rows)
    text = "".join(
        f"{w} {' '.join(repr(float(v)) for v in row)}\n" for w, row in zip(words, matrix, strict=True)
    )
    return (header if kind == "word2vec" else b"") + text.encode("utf-8")


KINDS = st.sampled_from(["glove", "word2vec", "binary"])


def plain(path: Path) -> tuple[list[str], np.ndarray]:
    """The reference parser alone (one line at a time), with read_vectors's rules."""
    words, matrix = read._read(path, table.Selection(None, False, dedupe=True), fast=False)
    return read._result(path, words, matrix, None, True)


def outcome(path: Path, read) -> tuple | str:
    """``(words, shape, float32 bits)`` or the error's message (checked to be clean)."""
    try:
        words, matrix = read()
    except WindownerError as err:
        clean_error(err, path)
        return str(err)
    assert matrix.dtype == np.float32 and matrix.shape == (len(words), matrix.shape[1])
    return words, matrix.shape, matrix.view(np.uint32).tobytes()


@EXAMPLES
@given(vector_tables(), KINDS, st.booleans(), st.data())
def test_a_vectors_file_reads_as_the_vectors_it_holds(table, kind, zipped, data):
    words, matrix = table
    text = data.draw(vector_texts(words, matrix)) if kind != "binary" and data.draw(st.booleans()) else None
    data = vector_file(words, matrix, kind, text)
    with tempfile.TemporaryDirectory() as folder:
        path = write_file(folder, "v.txt.gz" if zipped else "v.txt", gzip.compress(data) if zipped else data)
        got_words, got = read_vectors(path, cache=False)
    assert got_words == words
    assert got.view(np.uint32).tobytes() == matrix.view(np.uint32).tobytes()  # -0.0 and all, bit for bit


VECTOR_PIECES = st.sampled_from(
    [b" ", b"  ", b"\t", b"\n", b"\r", b"\r\n", b"\x0b", b"\xc2\xa0", b"\xef\xbb\xbf", b"\x00", b"\xff", b"a",
     b"The", b"caf\xc3\xa9", b"0", b"1", b"-", b"+", b".", b"5", b"e", b"E", b"1e5", b"-0.5", b"nan", b"inf",
     b"1_0", b"2 3\n", b"1 2\n", b"0x1"]
)  # fmt: skip


@st.composite
def damaged_vectors(draw) -> tuple[bytes, bool]:
    words, matrix = draw(vector_tables())
    data = vector_file(words, matrix, draw(KINDS), draw(vector_texts(words, matrix)))
    choice = draw(st.integers(0, 2))
    if choice == 1:
        data = draw(damaged(st.just(data)))
    elif choice == 2:  # the bytes that parsers decide on, in any order
        data = b"".join(draw(st.lists(VECTOR_PIECES, max_size=40)))
    zipped = draw(st.booleans())
    if zipped:
        packed = gzip.compress(data)
        data = packed[: draw(st.integers(0, len(packed)))]  # possibly cut short
    return data, zipped


@EXAMPLES
@given(damaged_vectors(), st.sampled_from([read.CHUNK_BYTES, 64, 200]), st.sampled_from(["1", "2"]))
def test_any_vectors_bytes_give_a_clean_error_or_the_reference_parse(file, block, threads):
    """Also in small blocks (a file cut into many, anywhere) and parsed by two threads."""
    data, zipped = file
    with (
        tempfile.TemporaryDirectory() as folder,
        mock.patch.object(read, "CHUNK_BYTES", block),
        mock.patch.dict(os.environ, {"WINDOWNER_THREADS": threads}),
    ):
        path = write_file(folder, "v.txt.gz" if zipped else "v.txt", data)
        fast = outcome(path, lambda: read_vectors(path, cache=False))
        assert fast == outcome(path, lambda: plain(path))  # the same words and bits, or the same error


# ---------------------------------------------------------------------------------------------------------
# config files

KEYS = {  # sections and keys of the schema, with a few that are not
    "data": ["train", "dev", "test", "scheme", "trian"],
    "vectors": ["path", "lowercase", "keep", "cache"],
    "model": ["window", "hidden", "activation", "dropout", "features"],
    "train": ["epochs", "lr", "optimizer", "loss", "schedule", "patience", "l2"],
    "task": ["name", "other_types"],
    "output": [],
    "extra": ["x"],
}
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["adam", "sgd", "crf", "softmax", "tanh", "relu", "entities", "1e-3", "a.conll"]),
)
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def config_texts(draw) -> str:
    """YAML text: a mapping of the schema's sections and keys (and some that are not) to random values,
    dumped by PyYAML, then sometimes damaged; or random text."""
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return draw(st.text(max_size=80))
    if choice == 1:  # YAML's own syntax: tags, anchors, aliases, merges, flow collections, nesting
        pieces = st.sampled_from(
            ["data:", "train:", "  lr: ", "&a ", "*a", "<<: *a", "!!binary aGk=", "!!set {a, b}", "!!float",
             "!!python/object:os.system", "[", "]", "{", "}", ": ", "- ", "? ", "\n", "  ", "'", '"', "1e5",
             "2001-12-14", "~", "yes", "0x1F", ".inf", "---", "...", "%YAML 1.1", "#"]
        )  # fmt: skip
        return "".join(draw(st.lists(pieces, max_size=30)))
    raw = {}
    for section in draw(st.lists(st.sampled_from(sorted(KEYS)), max_size=5, unique=True)):
        keys = KEYS[section]
        if not keys:
            raw[section] = draw(SCALAR)
            continue
        raw[section] = {
            key: draw(VALUE) for key in draw(st.lists(st.sampled_from(keys), max_size=4, unique=True))
        }
    if draw(st.booleans()):
        raw.setdefault("data", {})["train"] = "a.conll"
        raw.setdefault("vectors", {})["path"] = "v.txt"
    text = yaml.safe_dump(raw, sort_keys=False)
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=6)) + text[at + draw(st.integers(0, 4)) :]
    return text


@EXAMPLES
@given(config_texts())
def test_any_config_text_gives_a_clean_error_or_a_config(text):
    with tempfile.TemporaryDirectory() as folder:
        path = write_file(folder, "run.yaml", text.encode("utf-8", errors="surrogatepass"))
        try:
            config = load_config(path)
        except WindownerError as err:
            message = str(err)
            assert "\n" not in message and len(message) < 2000, message
            return
        assert isinstance(config, Config)
        assert Path(config.data.train).is_absolute() and Path(config.vectors.path).is_absolute()
