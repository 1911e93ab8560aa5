"""Tests of windowner.tagging.predict and ``windowner predict``: the tokeniser, the readers, the output
formats, streaming in batches, standard input, atomic output files and one-line errors, on a real one-epoch
run."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import raises_at
from hypothesis import given, settings
from hypothesis import strategies as st
from test_cli import assert_ok, assert_one_line_error

import windowner.cli.predict
import windowner.tagging.predict
from windowner.base.errors import WindownerError
from windowner.cli.main import main
from windowner.data.characters import INVISIBLE
from windowner.data.conll import read_conll
from windowner.data.text import TOKEN, offsets, tokenize
from windowner.evaluation.metrics import chunks
from windowner.tagging.predict import (
    NewWords,
    Record,
    entities,
    format_conll,
    format_jsonl,
    read_lines,
    read_records,
    tag_stream,
)
from windowner.tagging.tagger import load_run

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "configs" / "default.yaml"
WIKIGOLD = REPO / "data" / "wikigold"

# invented sentences: punctuation, clitics, numbers, an empty line, leading spaces
TEXT = (
    "Rain fell on Paris and Lyon yesterday.\n"
    "\n"
    "  The U.S. envoy didn't fly to New York, he went to Zanzibar...\n"
    "Mr. O'Neill's well-known firm paid $1,000.50 (3.5%) in Berlin on 2026-11-26.\n"
)


def invoke(*args, input: bytes | str | None = None):
    """``windowner predict ARGS``, through click's test runner."""
    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        runner = CliRunner()  # click >= 8.2 keeps stderr apart by itself
    return runner.invoke(main, ["predict", *map(str, args)], input=input)


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    """A real run of the default config, one epoch (frozen vectors: about a second)."""
    output = tmp_path_factory.mktemp("predict") / "run"
    result = CliRunner().invoke(
        main,
        ["train", "--config", str(DEFAULT), "--output", str(output), "--set", "train.epochs=1", "--quiet"],
    )
    assert_ok(result)
    return output


@pytest.fixture(scope="module")
def tagger(run_folder):
    return load_run(run_folder)


def wikigold_lines() -> list[str]:
    """The shipped Wikigold sentences as raw text lines (tokens joined by spaces)."""
    return [
        " ".join(s.tokens)
        for name in ("train", "dev", "test")
        for s in read_conll(WIKIGOLD / f"{name}.conll")
    ]


def conll_blocks(text: str) -> list[list[list[str]]]:
    """CoNLL output cut at blank lines, keeping empty blocks: one block (rows of columns) per record."""
    assert text.endswith("\n\n") or text == "\n" * len(text)
    blocks: list[list[list[str]]] = [[]]
    for line in text.split("\n")[:-1]:
        if line:
            blocks[-1].append(line.split())
        else:
            blocks.append([])
    return blocks[:-1]


# ---------------------------------------------------------------------------------------------------------
# the tokeniser


@pytest.mark.parametrize(
    ("line", "tokens"),
    [
        ("UN inspectors left Basra.", ["UN", "inspectors", "left", "Basra", "."]),
        ('He said: "No (never)!"', ["He", "said", ":", '"', "No", "(", "never", ")", "!", '"']),
        (
            "Wait... then -- go; a/b & c?",
            ["Wait", "...", "then", "--", "go", ";", "a", "/", "b", "&", "c", "?"],
        ),
        ("don't can't won't isn't", ["do", "n't", "ca", "n't", "wo", "n't", "is", "n't"]),
        (
            "John's, they're, I'm, we've, she'll, he'd",
            [
                "John",
                "'s",
                ",",
                "they",
                "'re",
                ",",
                "I",
                "'m",
                ",",
                "we",
                "'ve",
                ",",
                "she",
                "'ll",
                ",",
                "he",
                "'d",
            ],
        ),
        ("DON'T They’re it’s", ["DO", "N'T", "They", "’re", "it", "’s"]),
        ("dogs' toys, 'quoted'", ["dogs", "'", "toys", ",", "'", "quoted", "'"]),
        ("O'Neill rock'n'roll D'Alema", ["O'Neill", "rock'n'roll", "D'Alema"]),
        ("O'Neill's", ["O'Neill", "'s"]),
        ("3.5 1,000 1,000.50 1/2 -2 3-2", ["3.5", "1,000", "1,000.50", "1/2", "-", "2", "3-2"]),
        ("in 1996. And 1996, then", ["in", "1996", ".", "And", "1996", ",", "then"]),
        ("$5 50% 1990s 10:30", ["$", "5", "50", "%", "1990s", "10", ":", "30"]),
        (
            "well-known Schleswig-Holstein 2026-11-26 U.S.-led",
            ["well-known", "Schleswig-Holstein", "2026-11-26", "U.S.", "-", "led"],
        ),
        ("the U.S. and U.K., e.g. at 5 a.m.", ["the", "U.S.", "and", "U.K.", ",", "e.g.", "at", "5", "a.m."]),
        (
            "Mr. Smith, Dr. No and Acme Inc. vs. Co.",
            ["Mr.", "Smith", ",", "Dr.", "No", "and", "Acme", "Inc.", "vs.", "Co."],
        ),
        ("J. R. Smith met a. b", ["J.", "R.", "Smith", "met", "a", ".", "b"]),
        ("Zürich, São Paulo, Москва.", ["Zürich", ",", "São", "Paulo", ",", "Москва", "."]),
        ("tabs\tand\u00a0no-break  spaces ", ["tabs", "and", "no-break", "spaces"]),
        ("“curly” ‘quotes’ — dash", ["“", "curly", "”", "‘", "quotes", "’", "—", "dash"]),
        ("", []),
        ("   \t ", []),
        # decomposed letters (macOS, PDF text) keep their marks; zero-width characters make no token
        ("Sa\u0303o Paulo, Zu\u0308rich", ["Sa\u0303o", "Paulo", ",", "Zu\u0308rich"]),
        ("a\u200b \u200b b\u200b. \ufeffc", ["a", "b", ".", "c"]),
        ("Pa\u200bris inter\u00adnational", ["Pa\u200bris", "inter\u00adnational"]),
        ("\u0301 x", ["\u0301", "x"]),  # a mark without its letter is a token of its own
        # emoji: a flag, a skin tone, a variation selector, a ZWJ sequence, each one token
        ("Go 🇫🇷🇩🇪! 👍🏽 ❤️ 👩\u200d🔬", ["Go", "🇫🇷", "🇩🇪", "!", "👍🏽", "❤️", "👩\u200d🔬"]),
        # URLs and e-mail addresses stay whole, without the sentence's punctuation after them
        (
            "See https://en.wikipedia.org/wiki/Paris_(France). Or (http://x.com/a?b=1&c=2), www.bbc.co.uk!",
            [
                "See",
                "https://en.wikipedia.org/wiki/Paris_(France)",
                ".",
                "Or",
                "(",
                "http://x.com/a?b=1&c=2",
                ")",
                ",",
                "www.bbc.co.uk",
                "!",
            ],
        ),
        ("Mail jane.doe+news@mail.example.org.", ["Mail", "jane.doe+news@mail.example.org", "."]),
        ("Amazon.com's bbc.co.uk/news", ["Amazon.com", "'s", "bbc.co.uk/news"]),
        ("the end.It was 1.5", ["the", "end", ".", "It", "was", "1.5"]),
    ],
)
def test_tokenize(line, tokens):
    assert tokenize(line) == tokens


def test_the_first_alternative_only_makes_the_tokeniser_faster():
    """Without its first alternative (plain words, for speed) the rule cuts every line the same way."""
    first, rest = TOKEN.pattern.split("\n    | ", 1)
    assert first.strip().startswith("(?=\\S)(?:") and first.split("\n", 2)[2].strip().startswith("\\w+")
    slower = re.compile("(?=\\S)(?:" + rest, re.VERBOSE)
    lines = wikigold_lines() + [TEXT, "don't O'Neill's U.S. 1,000. J. Smith a.b.c. --- .... '' 'd", *TRICKY]
    assert [slower.findall(line) for line in lines] == [tokenize(line) for line in lines]


def invisible(text: str) -> bool:
    """Whether ``text`` is whitespace and invisible characters only."""
    return not re.sub(f"[{INVISIBLE}]", "", text).strip()


def assert_offsets_round_trip(text: str, tokens: list[str]) -> None:
    spans = offsets(text, tokens)
    assert [text[start:end] for start, end in spans] == tokens
    assert [match.span() for match in TOKEN.finditer(text)] == spans
    covered = set()
    previous_end = 0
    for start, end in spans:
        assert start >= previous_end  # in order, no overlap
        assert invisible(text[previous_end:start])  # only whitespace and invisible characters between
        assert not invisible(text[start:end])  # a token is never only invisible characters
        covered.update(range(start, end))
        previous_end = end
    assert invisible(text[previous_end:])
    assert all(i in covered for i, char in enumerate(text) if not invisible(char))


# text of many kinds of characters: decomposed letters, zero-width ones, emoji, URLs
TRICKY = [
    "Sa\u0303o Paulo\u200b. Zu\u0308rich \u200b\u200d x\u00ad \u0301\u0301a \ufeff",
    "🇫🇷🇩🇪🇮 👍🏽👍 ❤️‍🔥 👩\u200d🔬!\u200d? 🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
    "https://x.com/a_(b)_c). www.X.org, ftp://y.z/ a@b.co. Amazon.com. e.g. U.S.-led http:// @x",
]


def test_offsets_round_trip_on_real_and_tricky_text():
    lines = wikigold_lines() + TEXT.splitlines() + TRICKY
    lines += ["a  b\t\tc\u00a0d", "x.x.x ...... ---- ''''", "''s 's'"]
    for line in lines:
        assert_offsets_round_trip(line, tokenize(line))


# pieces of text for the property tests: words, place names, punctuation, decomposed letters, invisible
# characters, emoji parts, URL and e-mail parts, whitespace of several kinds
PIECES = [
    "Paris", "New York", "Sa\u0303o Paulo", "Zu\u0308rich", "Berlin", "the", "I", "live", "in", "don't",
    "O'Neill", "U.S.", "Mr.", "3.5", "1,000", "well-known", "-", "--", ".", "...", ",", "'", "'s", "(", ")",
    "\u0301", "\u0303", "\u200b", "\u200d", "\u00ad", "\ufeff", "\u2060", "🇫", "🇷", "👍", "🏽", "\ufe0f",
    "https://", "www.", "ftp://", "@", ".com", ".co.uk", "/", "?", "=", "_",
    " ", " ", "  ", "\t", "\u00a0", "\u3000",
]  # fmt: skip
texts = st.lists(st.sampled_from(PIECES) | st.characters(blacklist_categories=("Cs",)), max_size=30).map(
    "".join
)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_every_token_is_the_text_at_its_offsets(text):
    """Whatever the text: each token is ``text[start:end]``, in order, covering every visible character."""
    assert_offsets_round_trip(text, tokenize(text))


@settings(max_examples=200, deadline=None)
@given(texts.filter(lambda text: "\n" not in text and "\r" not in text), st.randoms(use_true_random=False))
def test_every_entity_is_the_text_at_its_offsets(text, random):
    """For any IOB2 tags, each entity of the jsonl output is ``text[start_char:end_char]``, and its
    tokens are those between its start and end token."""
    record = Record(text, tokenize(text))
    tags = [random.choice(["O", "B-LOC", "I-LOC", "B-PER"]) for _ in record.tokens]
    tags = [tag if tag != "I-LOC" or (i and tags[i - 1] != "O") else "B-LOC" for i, tag in enumerate(tags)]
    value = json.loads(format_jsonl(record, tags))
    assert value["text"] == text and value["tokens"] == record.tokens
    for entity in value["entities"]:
        assert entity["text"] == text[entity["start_char"] : entity["end_char"]]
        first, last = record.tokens[entity["start_token"]], record.tokens[entity["end_token"] - 1]
        assert entity["text"].startswith(first) and entity["text"].endswith(last)


def test_offsets_of_tokens_joined_by_spaces():
    tokens = ["New", "York", "'s", "mayor"]
    assert offsets(" ".join(tokens), tokens) == [(0, 3), (4, 8), (9, 11), (12, 17)]


# ---------------------------------------------------------------------------------------------------------
# reading


def lines_of(data: bytes, name: str = "in.txt") -> list[tuple[int, str]]:
    return list(read_lines(io.BytesIO(data), name))


def test_read_lines_strips_line_breaks_and_a_byte_order_mark():
    data = "\ufeffone\r\ntwo\n\nthree\rstill three\nlast".encode()
    assert lines_of(data) == [(1, "one"), (2, "two"), (3, ""), (4, "three\rstill three"), (5, "last")]
    assert lines_of(b"") == []


def test_read_lines_names_the_line_of_a_bad_byte():
    data = b"fine\nalso fine\nbad \xff here\n"
    raises_at("in.txt", 3, lambda: lines_of(data), "not UTF-8", "byte 5 of the line")


def test_read_lines_refuses_binary_input():
    raises_at("in.txt", 2, lambda: lines_of(b"text\nPK\x03\x04\x00\x00\n"), "NUL byte", "binary")


def test_read_lines_refuses_a_line_longer_than_the_limit(monkeypatch):
    monkeypatch.setattr(windowner.tagging.predict, "MAX_LINE_BYTES", 10)
    assert lines_of(b"123456789\n") == [(1, "123456789")]
    message = raises_at("in.txt", 2, lambda: lines_of(b"ok\n" + b"x" * 50 + b"\n"), "more than 10 bytes")
    assert "xxxxxxxxxxx" not in message  # the line is not echoed back


def records(data: str, input_format: str) -> list[Record]:
    return list(read_records(io.BytesIO(data.encode()), "in", input_format))


def test_text_records_keep_the_line_and_every_line_is_one():
    got = records("Rain in  Paris.\n\n   \nend", "text")
    assert got == [
        Record("Rain in  Paris.", ["Rain", "in", "Paris", "."]),
        Record("", []),
        Record("   ", []),
        Record("end", ["end"]),
    ]


def test_tokens_records_split_at_whitespace_and_join_with_single_spaces():
    got = records("New  York's\tmayor .\n\nU.S.", "tokens")
    assert got == [
        Record("New York's mayor .", ["New", "York's", "mayor", "."]),
        Record("", []),
        Record("U.S.", ["U.S."]),
    ]


def test_conll_records_take_the_first_column_and_ignore_the_rest():
    data = (
        " ".join(["-DOCSTART-", "-X-", "-X-", "O"])  # CoNLL-2003's separator (built: no line of it here)
        + "\n\nParis NNP I-LOC\nis VBZ O\n\n\n\nLyon\tB-LOC\nX\n"  # mixed, tags optional
        "-DOCSTART- O\nnice\n"  # a -DOCSTART- inside a sentence is skipped, as read_conll does
    )
    got = records(data, "conll")
    assert got == [
        Record("Paris is", ["Paris", "is"], ["Paris NNP I-LOC", "is VBZ O"]),
        Record("Lyon X nice", ["Lyon", "X", "nice"], ["Lyon\tB-LOC", "X", "nice"]),
    ]


def test_conll_records_refuse_a_sentence_without_end(monkeypatch):
    monkeypatch.setattr(windowner.tagging.predict, "MAX_SENTENCE_TOKENS", 3)
    data = "a\nb\nc\n\nd\ne\nf\ng\nh\n"
    raises_at("in", 8, lambda: records(data, "conll"), "more than 3 tokens", "from line 5")


def test_without_a_format_columns_of_tokens_and_tags_are_read_as_conll():
    notes = []
    data = "-DOCSTART- -X- O\n\nAcme NNP B-ORG\nsells VBZ O\n\nPeter\tB-PER\n"
    got = list(read_records(io.BytesIO(data.encode()), "in", None, notes.append))
    assert got == records(data, "conll")
    assert notes == [
        "in looks like CoNLL columns, a token and its tags a line (line 3: 'Acme NNP B-ORG'): tagging the"
        " first column of each line, as --format conll does (--format text tags whole lines as text)"
    ]


@pytest.mark.parametrize(
    "data",
    [
        TEXT,
        "Go to B-52\n",  # one line ending in a tag-like word: text
        "Paris O\nLyon\n",  # a line without a tag
        "a b c d e f g h i j O\nx O\n",  # eleven fields: a sentence, not columns
        "-DOCSTART- O\n\nParis B-LOC\n",  # one token line only
        "",
    ],
)
def test_without_a_format_anything_else_is_text(data):
    notes = []
    assert list(read_records(io.BytesIO(data.encode()), "in", None, notes.append)) == records(data, "text")
    assert notes == []


def test_predict_without_a_format_tags_a_conll_file_as_conll(run_folder, tmp_path):
    # Before: tagged as text, silently: "EU NNP B-ORG" became the tokens EU, NNP, B, -, ORG, each tagged.
    data = (WIKIGOLD / "test.conll").read_text(encoding="utf-8")
    guessed, told = (
        invoke(run_folder, "-", input=data),
        invoke(run_folder, "-", "--format", "conll", input=data),
    )
    assert_ok(guessed)
    assert guessed.stdout == told.stdout
    assert guessed.stderr.startswith("windowner: note: <stdin> looks like CoNLL columns"), guessed.stderr
    assert guessed.stderr.count("\n") == 1
    as_text = invoke(run_folder, "-", "--format", "text", input=data)
    assert as_text.stdout != told.stdout and "looks like CoNLL" not in as_text.stderr


def test_unknown_input_format():
    with pytest.raises(WindownerError, match="unknown input format"):
        records("x", "xml")


# ---------------------------------------------------------------------------------------------------------
# output formats


def test_entities_have_text_types_and_offsets_into_the_line():
    record = Record("  New  York, then Lyon", ["New", "York", ",", "then", "Lyon"])
    tags = ["B-LOC", "I-LOC", "O", "O", "B-PER"]
    assert entities(record, tags) == [
        {
            "text": "New  York",
            "type": "LOC",
            "start_token": 0,
            "end_token": 2,
            "start_char": 2,
            "end_char": 11,
        },
        {"text": "Lyon", "type": "PER", "start_token": 4, "end_token": 5, "start_char": 18, "end_char": 22},
    ]
    assert entities(record, ["O"] * 5) == []


def test_jsonl_record():
    record = Record("Über Berlin", ["Über", "Berlin"])
    line = format_jsonl(record, ["O", "B-LOC"])
    assert line.endswith("\n") and line.count("\n") == 1
    assert "Über" in line  # UTF-8, not \u escapes
    value = json.loads(line)
    assert list(value) == ["text", "tokens", "tags", "entities"]
    assert value["entities"] == [
        {"text": "Berlin", "type": "LOC", "start_token": 1, "end_token": 2, "start_char": 5, "end_char": 11}
    ]
    assert json.loads(format_jsonl(Record("", []), [])) == {
        "text": "",
        "tokens": [],
        "tags": [],
        "entities": [],
    }


def test_jsonl_records_stay_one_line_for_every_line_splitter():
    text = "a\x85b\u2028c\u2029d\x0be\x1cf\rg"  # all whitespace to the tokeniser, line breaks to splitlines
    line = format_jsonl(Record(text, tokenize(text)), ["O"] * 7)
    assert len(line.splitlines()) == 1
    assert json.loads(line)["text"] == text


def test_conll_output_appends_the_tag():
    assert format_conll(Record("a b", ["a", "b"]), ["O", "B-LOC"]) == "a O\nb B-LOC\n\n"
    assert format_conll(Record("", []), []) == "\n"
    record = Record("x y", ["x", "y"], ["x NN O", "y\tI-LOC"])
    assert format_conll(record, ["O", "B-LOC"]) == "x NN O O\ny\tI-LOC\tB-LOC\n\n"


# ---------------------------------------------------------------------------------------------------------
# streaming


def tag_bytes(tagger, data: bytes, input_format: str, output_format: str, batch_tokens: int, new_words=None):
    out = io.BytesIO()
    counts = tag_stream(
        tagger,
        read_records(io.BytesIO(data), "in", input_format),
        out,
        output_format,
        batch_tokens,
        new_words,
    )
    return out.getvalue(), counts


@pytest.mark.parametrize("output_format", ["conll", "jsonl"])
def test_batches_give_the_output_of_one_pass(tagger, output_format, monkeypatch):
    data = "\n".join(wikigold_lines()[:300] + ["", "Paris and Lyon ."] * 3).encode()
    whole, counts = tag_bytes(tagger, data, "text", output_format, 10**9)
    calls = []
    predict = tagger.predict
    monkeypatch.setattr(
        tagger, "predict", lambda sentences: calls.append(len(sentences)) or predict(sentences)
    )
    batched, batched_counts = tag_bytes(tagger, data, "text", output_format, 500)
    if output_format == "jsonl":  # with scores: Tagger.predict_scored
        calls.clear()
        scored = tagger.predict_scored
        monkeypatch.setattr(
            tagger, "predict_scored", lambda sentences: calls.append(len(sentences)) or scored(sentences)
        )
        batched, batched_counts = tag_bytes(tagger, data, "text", output_format, 500)
    assert batched == whole and batched_counts == counts
    assert len(calls) > 10 and sum(calls) == counts[0] == 306  # many batches, every line once
    if output_format == "jsonl":
        assert len(whole.decode().splitlines()) == 306


def test_stream_writes_each_batch_before_reading_the_next(tagger):
    out = io.BytesIO()
    data = b"Paris is nice .\n" * 20 + b"bad \xff\n"
    with pytest.raises(WindownerError, match="in:21:"):
        tag_stream(tagger, read_records(io.BytesIO(data), "in", "text"), out, "conll", 8)
    assert out.getvalue().count(b"\n\n") == 20  # the batches before the bad line were written


def test_tagging_agrees_with_the_python_api(tagger):
    lines = wikigold_lines()[:50]
    output, _ = tag_bytes(tagger, "\n".join(lines).encode(), "text", "conll", 100)
    blocks = conll_blocks(output.decode())
    expected = tagger.predict([tokenize(line) for line in lines])
    assert [[row[1] for row in block] for block in blocks] == expected
    assert [[row[0] for row in block] for block in blocks] == [tokenize(line) for line in lines]


def vectors_file(tmp_path: Path, words: dict[str, float]) -> Path:
    path = tmp_path / "vectors.txt"
    path.write_text("".join(f"{w} {' '.join([str(v)] * 50)}\n" for w, v in words.items()), encoding="utf-8")
    return path


def test_new_words_read_the_vectors_file_once_a_new_word(run_folder, tmp_path, monkeypatch):
    path = vectors_file(tmp_path, {"zanzibar": 0.5, "qwxzt": -0.5})
    tagger = load_run(run_folder)
    reads = []
    add = tagger.add_vectors
    monkeypatch.setattr(tagger, "add_vectors", lambda p, s: reads.append(sorted(s[0])) or add(p, s))
    new_words = NewWords(tagger, path)
    rows = len(tagger.vocab)
    new_words([["Zanzibar", "is", "the", "Blorf"]])
    new_words([["ZANZIBAR", "Blorf", "is"], ["zanzibar"]])  # nothing untried: the file is not read
    new_words([["Qwxzt", "Blorf"]])
    assert reads == [["Blorf", "Zanzibar"], ["Qwxzt"]]
    assert new_words.added == 2 and len(tagger.vocab) == rows + 2
    assert tagger.vocab.index("Zanzibar") == rows and tagger.vocab.index("ZANZIBAR") == rows


def test_new_words_never_read_a_file_whose_every_vector_the_run_kept(run_folder, monkeypatch):
    tagger = load_run(run_folder)
    vectors = tagger.config.vectors
    reads = []
    monkeypatch.setattr(tagger, "add_vectors", lambda path, sentences: reads.append(path) or 0)
    NewWords(tagger, Path(vectors.path))([["Blorf"]])  # keep: data (the default): the file is read
    assert reads == [Path(vectors.path)]
    tagger.config = dataclasses.replace(tagger.config, vectors=dataclasses.replace(vectors, keep="all"))
    NewWords(tagger, Path(vectors.path))([["Blorf"]])
    assert len(reads) == 1


def test_new_words_a_batch_at_a_time_tag_as_one_pass(run_folder, tmp_path):
    """Words added batch by batch give the tags of adding them all at once, as eval does."""
    path = vectors_file(tmp_path, {"zanzibar": 2.0, "nairobi": -1.0, "kyoto": 1.0})
    lines = ["Rain in Zanzibar .", "", "Nairobi and Kyoto ."] * 5
    whole = load_run(run_folder)
    whole.add_vectors(path, [tokenize(line) for line in lines])
    expected = whole.predict([tokenize(line) for line in lines])
    batched = load_run(run_folder)
    output, _ = tag_bytes(batched, "\n".join(lines).encode(), "text", "conll", 3, NewWords(batched, path))
    assert [[row[1] for row in block] for block in conll_blocks(output.decode())] == expected


# ---------------------------------------------------------------------------------------------------------
# the command


def test_predict_text_to_conll(run_folder, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text(TEXT, encoding="utf-8")
    result = invoke(run_folder, path)
    assert_ok(result)
    blocks = conll_blocks(result.stdout)
    lines = TEXT.splitlines()
    assert len(blocks) == len(lines) == 4 and blocks[1] == []  # the empty line: an empty record
    assert [[row[0] for row in block] for block in blocks] == [tokenize(line) for line in lines]
    sentences = [tokenize(line) for line in lines]
    whole = load_run(run_folder)  # as predict does: the words the run lacks from its vectors file
    added = whole.add_vectors(whole.config.vectors.path, sentences)
    assert added > 0  # the shipped vectors know Lyon, Zanzibar, ...: more than Wikigold's words
    assert [[row[1] for row in block] for block in blocks] == whole.predict(sentences)
    source = whole.config.vectors.path
    assert (
        result.stderr
        == f"windowner: note: {added} words outside the run's vocabulary take their vectors from {source}\n"
    )


def test_predict_text_to_jsonl_offsets_index_the_input_line(run_folder, tmp_path):
    # Wikigold's test sentences (the one-epoch model finds places there), with uneven spacing
    spaced = ["\t" + "  ".join(s.tokens) + " " for s in read_conll(WIKIGOLD / "test.conll")[:40]]
    lines = TEXT.splitlines() + spaced
    path = tmp_path / "in.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = invoke(run_folder, path, "--output-format", "jsonl")
    assert_ok(result)
    values = [json.loads(line) for line in result.stdout.splitlines()]
    assert [value["text"] for value in values] == lines
    found = 0
    for value in values:
        assert len(value["tokens"]) == len(value["tags"])
        for entity in value["entities"]:
            found += 1
            assert value["text"][entity["start_char"] : entity["end_char"]] == entity["text"]
            span = value["tokens"][entity["start_token"] : entity["end_token"]]
            assert "".join(entity["text"].split()) == "".join(span)  # the tokens, whitespace between
            assert entity["type"] == "LOC"
    assert found > 0  # the one-epoch model finds some of these places


def test_predict_reads_standard_input(run_folder, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text(TEXT, encoding="utf-8")
    from_file = invoke(run_folder, path)
    for args in ([run_folder], [run_folder, "-"]):
        result = invoke(*args, input=TEXT.encode())
        assert_ok(result)
        assert result.stdout == from_file.stdout


def test_predict_tokens_input(run_folder):
    result = invoke(
        run_folder, "--format", "tokens", "--output-format", "jsonl", input="New  York's mayor\n\n"
    )
    assert_ok(result)
    first, second = [json.loads(line) for line in result.stdout.splitlines()]
    assert first["text"] == "New York's mayor" and first["tokens"] == ["New", "York's", "mayor"]
    for entity in first["entities"]:
        assert first["text"][entity["start_char"] : entity["end_char"]] == entity["text"]
    assert second == {"text": "", "tokens": [], "tags": [], "scores": [], "entities": []}


def test_predict_conll_input_keeps_its_columns(run_folder, tagger, tmp_path):
    data = (WIKIGOLD / "test.conll").read_text(encoding="utf-8")
    result = invoke(run_folder, "-", "--format", "conll", input=data)
    assert_ok(result)
    sentences = read_conll(WIKIGOLD / "test.conll")
    blocks = conll_blocks(result.stdout)
    assert len(blocks) == len(sentences)
    expected = tagger.predict([s.tokens for s in sentences])
    for block, sentence, tags in zip(blocks, sentences, expected, strict=True):
        assert [row[0] for row in block] == list(sentence.tokens)
        assert [row[-1] for row in block] == tags
        assert all(len(row) == 3 for row in block)  # token, gold tag (IOB1, as in the file), prediction
    # the output is a tagged CoNLL file again, whose last column (the one eval reads) is the prediction
    path = tmp_path / "tagged.conll"
    path.write_text(result.stdout, encoding="utf-8")
    assert [list(s.tags) for s in read_conll(path)] == expected
    as_json = invoke(run_folder, "-", "--format", "conll", "--output-format", "jsonl", input=data)
    values = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [value["tags"] for value in values] == expected
    assert [value["text"] for value in values] == [" ".join(s.tokens) for s in sentences]


def test_predict_conll_input_without_tags(run_folder):
    result = invoke(run_folder, "--format", "conll", input="-DOCSTART-\n\nParis\nis\n\nnice\n")
    assert_ok(result)
    blocks = conll_blocks(result.stdout)
    assert [[row[0] for row in block] for block in blocks] == [["Paris", "is"], ["nice"]]


def test_predict_writes_an_output_file(run_folder, tmp_path):
    out = tmp_path / "tags.jsonl"
    result = invoke(run_folder, "--output", out, "--output-format", "jsonl", input=TEXT)
    assert_ok(result)
    assert result.stdout == ""
    assert (
        out.read_text(encoding="utf-8") == invoke(run_folder, "--output-format", "jsonl", input=TEXT).stdout
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tags.jsonl"]
    dash = invoke(run_folder, "--output", "-", "--output-format", "jsonl", input=TEXT)  # - is stdout
    assert dash.stdout == out.read_text(encoding="utf-8")


def test_an_error_half_way_leaves_no_output_file(run_folder, tmp_path, monkeypatch):
    monkeypatch.setattr(windowner.cli.predict, "BATCH_TOKENS", 5)  # many batches are written before the error
    data = b"Paris is nice .\n" * 50 + b"caf\xe9\n"
    out = tmp_path / "tags.conll"
    assert_one_line_error(invoke(run_folder, "--output", out, input=data), "<stdin>:51:", "not UTF-8")
    assert list(tmp_path.iterdir()) == []  # no file, no temporary file
    out.write_text("an older result\n", encoding="utf-8")
    assert_one_line_error(invoke(run_folder, "--output", out, input=data), "<stdin>:51:")
    assert out.read_text(encoding="utf-8") == "an older result\n"
    assert list(tmp_path.iterdir()) == [out]


def test_predict_notes_new_words_and_empty_input(run_folder, tmp_path):
    path = vectors_file(tmp_path, {"zanzibar": 0.5})
    result = invoke(run_folder, "--vectors", path, input="Rain in Zanzibar .\n")
    assert_ok(result)
    assert (
        result.stderr
        == f"windowner: note: 1 words outside the run's vocabulary take their vectors from {path}\n"
    )
    empty = invoke(run_folder, input="")
    assert_ok(empty)
    assert empty.stdout == "" and "<stdin> holds no sentence" in empty.stderr


@pytest.mark.parametrize(
    ("args", "data", "needles"),
    [
        (["{absent}"], None, ["absent.txt", "no such file"]),
        (["{tmp}"], None, ["is a directory"]),
        ([], b"fine\n\xff\xfe\n", ["<stdin>:2:", "not UTF-8"]),
        ([], b"text\n\x00\x00\x00\rIHDR\x00\n", ["<stdin>:2:", "NUL byte"]),
        ([], b"\x89PNG\r\n\x1a\n\x00\x00", ["<stdin>:1:", "not UTF-8"]),
        (["--format", "conll"], b"a\n" * 20, ["<stdin>:11:", "more than 10 tokens"]),
        ([], b"short\n" + b"x" * 100, ["<stdin>:2:", "more than 50 bytes"]),
        (["--output", "{tmp}/no/such/folder/out.txt"], b"x\n", ["no folder"]),
        (["--output", "{tmp}"], b"x\n", ["is a directory"]),
        (["--vectors", "{absent}"], b"x\n", ["absent.txt"]),
    ],
    ids=["missing", "directory", "not-utf8", "nul", "png", "endless-sentence", "long-line", "no-folder"]
    + ["out-dir", "missing-vectors"],
)
def test_predict_errors_are_one_line(run_folder, tmp_path, monkeypatch, args, data, needles):
    monkeypatch.setattr(windowner.tagging.predict, "MAX_LINE_BYTES", 50)
    monkeypatch.setattr(windowner.tagging.predict, "MAX_SENTENCE_TOKENS", 10)
    args = [a.format(absent=tmp_path / "absent.txt", tmp=tmp_path) for a in args]
    assert_one_line_error(invoke(run_folder, *args, input=data), *needles)


def test_predict_on_a_missing_run(tmp_path):
    assert_one_line_error(invoke(tmp_path / "absent", input="x\n"), "absent", "no such run folder")


def test_predict_unknown_format_is_a_usage_error(run_folder):
    result = invoke(run_folder, "--format", "xml", input="x\n")
    assert result.exit_code == 2
    assert "xml" in result.stderr


def command(*args) -> list[str]:
    return [sys.executable, "-m", "windowner.cli", "predict", *map(str, args)]


BUFFERED = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}


def test_a_closed_pipe_stops_predict_quietly(run_folder, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("Paris is nice .\n" * 40_000, encoding="utf-8")  # two batches, more than a pipe holds
    with subprocess.Popen(
        command(run_folder, path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=BUFFERED
    ) as process:
        assert process.stdout.readline().startswith(b"Paris ")
        process.stdout.close()  # as `| head -1` does
        stderr = process.stderr.read()
        assert process.wait(timeout=60) == 141
    assert stderr == b""


def read_lines_within(stream, count: int, seconds: float) -> list[bytes]:
    """Up to ``count`` lines of a pipe, waiting at most ``seconds`` in all."""
    deadline = time.monotonic() + seconds
    data = b""
    while data.count(b"\n") < count and time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(stream.fileno(), 4096)
        if not chunk:
            break
        data += chunk
    return data.splitlines(keepends=True)[:count]


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_lines_typed_at_a_terminal_are_tagged_at_once(run_folder):
    controller, terminal = os.openpty()
    with subprocess.Popen(
        command(run_folder), stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=BUFFERED
    ) as process:
        os.close(terminal)
        try:
            os.write(controller, b"Paris is nice .\n")
            got = read_lines_within(process.stdout, 5, seconds=60)  # while the input is still open
            os.write(controller, b"\x04")  # Ctrl-D: the end of the input
            assert process.wait(timeout=60) == 0
        finally:
            process.kill()
            os.close(controller)
    assert [line.split()[0] for line in got[:4]] == [b"Paris", b"is", b"nice", b"."] and got[4:] == [b"\n"]


# ---------------------------------------------------------------------------------------------------------
# raw text from Python, confidence


def test_predict_refuses_raw_text_and_a_lone_sentence(tagger):
    with pytest.raises(TypeError, match="tag_text"):
        tagger.predict("I live in Paris")
    with pytest.raises(TypeError, match="wrap it in a list"):
        tagger.predict(["I", "live", "in", "Paris"])
    with pytest.raises(TypeError, match="tag_text"):
        tagger.predict_scored("I live in Paris")
    with pytest.raises(TypeError, match="a list of str"):
        tagger.tag_texts("I live in Paris")
    assert tagger.predict([]) == [] and tagger.predict([[]]) == [[]]  # (no sentence was an IndexError)
    assert tagger.predict_scored([]) == [] and tagger.predict_scored([[]]) == [([], [], [], [])]


@pytest.mark.parametrize("decode", ["viterbi", "argmax"])
def test_scored_tags_are_the_tags_of_predict(tagger, decode):
    sentences = [line.split() for line in wikigold_lines()[:200]] + [[]]
    scored = tagger.predict_scored(sentences, decode)
    assert [s.tags for s in scored] == tagger.predict(sentences, decode)
    entities = 0
    for s in scored:
        assert len(s.token_scores) == len(s.tags) == len(s.outside)
        assert all(0.0 <= p <= 1.0 + 1e-12 for p in s.token_scores + s.outside)
        assert [entity[:3] for entity in s.entities] == chunks(s.tags)
        for start, end, _, p in s.entities:
            assert 0.0 <= p <= 1.0 + 1e-12
            if decode == "viterbi":  # the entity's exact tags are no likelier than any one of them
                assert p <= min(s.token_scores[start:end]) + 1e-9
        entities += len(s.entities)
    assert entities > 20


def test_tag_text_finds_entities_with_offsets_into_the_text(tagger):
    text = "\n  Rain fell on Paris and Lyon yesterday .\r\n\nThey flew from Berlin to\u00a0Zu\u0308rich .\n"
    found = tagger.tag_text(text)
    assert {entity.text for entity in found} >= {"Paris", "Berlin"}
    for entity in found:
        assert text[entity.start : entity.end] == entity.text and entity.label == "LOC"
        assert 0.0 < entity.score <= 1.0
    # the batch form: one list a text, the same entities as one call a text, however it is batched
    texts = [text, "", "Paris", *wikigold_lines()[:50]]
    expected = [tagger.tag_text(t) for t in texts]

    def same(found):  # the scores of float32 models differ in the last digits with the batch's make-up
        assert [[e[:4] for e in f] for f in found] == [[e[:4] for e in f] for f in expected]
        got = [e.score for f in found for e in f]
        assert got == pytest.approx([e.score for f in expected for e in f], abs=1e-5)

    same(tagger.tag_texts(texts))
    same(tagger.tag_texts(iter(texts), batch_tokens=7))


def test_tag_text_scores_are_those_of_predict_scored(tagger):
    text = "Rain fell on Paris and Lyon yesterday ."
    (scored,) = tagger.predict_scored([text.split()])
    found = tagger.tag_text(text)
    assert [(e.label, e.score) for e in found] == [(kind, p) for _, _, kind, p in scored.entities]


def test_jsonl_has_the_score_of_every_tag_and_entity(run_folder, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("\n".join(wikigold_lines()[:100]) + "\n", encoding="utf-8")
    with_scores = invoke(run_folder, path, "--output-format", "jsonl")
    without = invoke(run_folder, path, "--output-format", "jsonl", "--no-scores")
    assert_ok(with_scores)
    assert_ok(without)
    scored = [json.loads(line) for line in with_scores.stdout.splitlines()]
    plain = [json.loads(line) for line in without.stdout.splitlines()]
    entities = 0
    for value, bare in zip(scored, plain, strict=True):
        assert len(value["scores"]) == len(value["tags"]) and "scores" not in bare
        assert all(0.0 <= p <= 1.0 for p in value["scores"])
        assert [{k: v for k, v in e.items() if k != "score"} for e in value["entities"]] == bare["entities"]
        assert all(0.0 <= e["score"] <= 1.0 for e in value["entities"])
        entities += len(value["entities"])
        assert {k: v for k, v in value.items() if k != "scores"} | {"entities": bare["entities"]} == bare
    assert entities > 10


def test_min_score_leaves_out_the_less_likely_entities(run_folder, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("\n".join(wikigold_lines()[:100]) + "\n", encoding="utf-8")

    def entities(*options):
        result = invoke(run_folder, path, "--output-format", "jsonl", *options)
        assert_ok(result)
        return [json.loads(line) for line in result.stdout.splitlines()]

    every = entities()
    scores = sorted(e["score"] for value in every for e in value["entities"])
    threshold = scores[len(scores) // 2]  # the median: about half stay
    kept = entities("--min-score", str(threshold))
    for before, after in zip(every, kept, strict=True):
        assert after["entities"] == [e for e in before["entities"] if e["score"] >= threshold]
        for e in before["entities"]:
            if e["score"] < threshold:
                assert after["tags"][e["start_token"] : e["end_token"]] == ["O"] * (
                    e["end_token"] - e["start_token"]
                )
    assert 0 < sum(len(value["entities"]) for value in kept) < len(scores)
    # conll output: the same tags
    result = invoke(run_folder, path, "--min-score", str(threshold))
    assert_ok(result)
    tags = [[row[1] for row in block] for block in conll_blocks(result.stdout)]
    assert tags == [value["tags"] for value in kept]
    refused = invoke(run_folder, path, "--min-score", "1.5")
    assert refused.exit_code == 2 and "--min-score" in refused.stderr


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        texts.map(lambda text: text.lstrip("\ufeff").replace("\0", "")).filter(
            lambda text: not any(c in text for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
        ),
        min_size=1,
        max_size=5,
    )
)
def test_predict_jsonl_entities_are_the_text_at_their_offsets(run_folder, lines):
    """windowner predict's jsonl output, on any text: every token and entity is the line at its offsets."""
    result = invoke(run_folder, "-", "--output-format", "jsonl", input="\n".join(lines) + "\n")
    assert_ok(result)
    values = [json.loads(line) for line in result.stdout.splitlines()]
    assert [value["text"] for value in values] == lines
    for value in values:
        text = value["text"]
        assert_offsets_round_trip(text, value["tokens"])
        for entity in value["entities"]:
            assert entity["text"] == text[entity["start_char"] : entity["end_char"]]


def test_tag_text_gives_new_words_their_vectors_as_predict_does(run_folder, tmp_path):
    path = vectors_file(tmp_path, {"zanzibarx": 0.5})
    tagger = load_run(run_folder)  # (not the shared fixture: its vocabulary grows)
    rows = len(tagger.vocab)
    assert tagger.tag_text("Zanzibarx is far", vectors=path) == tagger.tag_text("Zanzibarx is far")
    assert len(tagger.vocab) == rows + 1 and tagger.vocab.index("Zanzibarx") == rows
    with pytest.raises(WindownerError, match="no-such-file"):
        load_run(run_folder).tag_text("Zanzibary", vectors=tmp_path / "no-such-file.txt")
