"""Tests of windowner.data.spans: texts with character spans (doccano, Prodigy, Label Studio exports) read as
IOB2 sentences for train, eval and predict, and their one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import raises_at
from test_cli import assert_ok, run

from windowner.base.errors import WindownerError
from windowner.data.conll import Sentence, read_conll
from windowner.data.spans import data_format, read_data, read_spans
from windowner.data.text import offsets, tokenize
from windowner.evaluation.metrics import chunks

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "configs" / "default.yaml"
WIKIGOLD = REPO / "data" / "wikigold"

TEXT = "Rain fell on New York and Paris-Plage, not on Lyon."
#       0         1         2         3         4         5
#       012345678901234567890123456789012345678901234567890
NEW_YORK, PARIS, LYON = (13, 21), (26, 37), (46, 50)
TAGS = ("O", "O", "O", "B-LOC", "I-LOC", "O", "B-LOC", "O", "O", "O", "B-LOC", "O")


def jsonl(*records) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def tags_of(sentences: list[Sentence]) -> list[tuple[str, ...]]:
    return [s.tags for s in sentences]


# ---------------------------------------------------------------------------------------------------------
# the exports read


def test_prodigy_spans(write):
    spans = [{"start": s, "end": e, "label": "LOC", "token_start": 0} for s, e in (NEW_YORK, PARIS, LYON)]
    sentences = read_spans(write("a.jsonl", jsonl({"text": TEXT, "spans": spans, "_input_hash": 1})))
    assert sentences[0].tokens == tuple(tokenize(TEXT)) and sentences[0].tokens[6] == "Paris-Plage"
    assert tags_of(sentences) == [TAGS]


def test_doccano_label_triples_and_entities(write):
    triples = [[*NEW_YORK, "LOC"], [*LYON, "LOC"], [*PARIS, "LOC"]]  # any order
    entities = [
        {"id": 7, "label": "LOC", "start_offset": s, "end_offset": e} for s, e in (NEW_YORK, PARIS, LYON)
    ]
    path = write(
        "d.jsonl", jsonl({"id": 1, "text": TEXT, "label": triples}, {"text": TEXT, "entities": entities})
    )
    assert tags_of(read_spans(path)) == [TAGS, TAGS]


def test_label_studio_json_min_array(write):
    spans = [{"start": s, "end": e, "text": TEXT[s:e], "labels": ["LOC"]} for s, e in (NEW_YORK, PARIS, LYON)]
    path = write("ls.json", json.dumps([{"text": TEXT, "id": 3, "label": spans}], indent=2))
    assert tags_of(read_spans(path)) == [TAGS]


def test_spans_of_several_types_whitespace_at_the_edges_and_texts_without_entities(write):
    text = "Ada Lovelace met Babbage in London ."
    spans = [[0, 13, "PER"], [17, 24, "PER"], [27, 34, "LOC"]]  # "Ada Lovelace " ends in a space
    path = write("t.jsonl", jsonl({"text": text, "label": spans}, {"text": "Nothing here .", "label": []}))
    assert tags_of(read_spans(path)) == [
        ("B-PER", "I-PER", "O", "B-PER", "O", "B-LOC", "O"),
        ("O", "O", "O"),
    ]


def test_blank_lines_rejected_answers_and_empty_texts_are_skipped(write):
    path = write(
        "p.jsonl",
        jsonl({"text": "Paris .", "spans": [{"start": 0, "end": 5, "label": "LOC"}], "answer": "accept"})
        + "\n   \n"
        + jsonl(
            {"text": "Lyon .", "spans": [{"start": 0, "end": 4, "label": "PER"}], "answer": "reject"},
            {"text": "Rome .", "spans": [], "answer": "ignore"},
            {"text": "   ", "spans": []},
        ),
    )
    assert [s.tokens for s in read_spans(path)] == [("Paris", ".")]


def test_data_format_by_name_or_as_given(write):
    assert [data_format(name) for name in ("a.jsonl", "a.JSON", "a.ndjson", "a.conll", "a.txt")] == [
        "jsonl",
        "jsonl",
        "jsonl",
        "conll",
        "conll",
    ]
    assert data_format("a.txt", "jsonl") == "jsonl" and data_format("a.jsonl", "conll") == "conll"
    path = write("spans.txt", jsonl({"text": "Paris .", "spans": [[0, 5, "LOC"]]}))
    assert tags_of(read_data(path, given="jsonl")) == [("B-LOC", "O")]
    raises_at(path, 1, lambda: read_data(path), "tag", "JSON? name it .jsonl or set data.format: jsonl")
    with pytest.raises(WindownerError, match="unknown data format 'xml'"):
        read_data(path, given="xml")


# ---------------------------------------------------------------------------------------------------------
# errors name the line


def test_a_span_that_cuts_a_token_names_the_line_the_tokens_and_how_many(write):
    path = write(
        "m.jsonl",
        jsonl(
            {"text": "Paris .", "spans": [[0, 5, "LOC"]]},
            {"text": TEXT, "spans": [[14, 21, "LOC"], [26, 31, "LOC"]]},  # "ew York", "Paris" of Paris-Plage
            {"text": "Oslo-bound .", "spans": [[0, 4, "LOC"]]},
        ),
    )
    message = raises_at(path, 2, lambda: read_spans(path), "span 14-21 'ew York' (LOC)", "'New' 13-16")
    assert "'York' 17-21" in message and "and 2 more such spans in the file" in message


@pytest.mark.parametrize(
    ("line", "needles"),
    [
        ("not json", ["not valid JSON"]),
        ('["a list"]', ["expected a JSON object"]),
        ('{"spans": []}', ["expected a 'text' string, found no 'text'"]),
        ('{"text": 5, "spans": []}', ["'text' 5"]),
        ('{"text": "Paris .", "spans": {"start": 0}}', ["should be a list of spans"]),
        ('{"text": "Paris .", "spans": [[0, 5]]}', ["[start, end, label]"]),
        ('{"text": "Paris .", "label": ["positive"]}', ["text classification"]),
        ('{"text": "Paris .", "spans": [[0, 50, "LOC"]]}', ["not within the text"]),
        ('{"text": "Paris .", "spans": [[3, 3, "LOC"]]}', ["not within the text"]),
        ('{"text": "Paris .", "spans": [["0", 5, "LOC"]]}', ["integers"]),
        ('{"text": "Paris .", "spans": [[0, 5, "NEW PLACE"]]}', ["one word"]),
        ('{"text": "Paris .", "spans": [[0, 5, "LOC"], [0, 7, "LOC"]]}', ["overlaps another span"]),
        ('{"text": "Paris  x", "spans": [[5, 7, "LOC"]]}', ["only whitespace"]),
        (
            '{"text": "😀 Paris is far",'  # Label Studio counts UTF-16 units: Paris at 3-8, not 2-7
            ' "label": [{"start": 3, "end": 8, "text": "Paris", "labels": ["LOC"]}]}',
            ["code points"],
        ),
    ],
)
def test_errors_name_the_file_and_line(write, line, needles):
    path = write("bad.jsonl", jsonl({"text": "Fine .", "spans": []}) + line + "\n")
    raises_at(path, 2, lambda: read_spans(path), *needles)


def test_an_array_names_the_record(write):
    path = write("bad.json", json.dumps([{"text": "a", "label": []}, {"text": "b", "label": [[0, 9, "X"]]}]))
    with pytest.raises(WindownerError, match=r"bad.json: record 2: span 0-9 is not within the text"):
        read_spans(path)


def test_a_file_whose_records_have_no_spans_at_all_is_an_error(write):
    path = write("typo.jsonl", jsonl({"text": "Paris .", "span": [[0, 5, "LOC"]]}))
    with pytest.raises(
        WindownerError, match=r"typo.jsonl: no record has entities: expected them under 'spans'"
    ):
        read_spans(path)
    with pytest.raises(WindownerError, match="no text to read"):
        read_spans(write("empty.jsonl", "\n\n"))


# ---------------------------------------------------------------------------------------------------------
# train, eval and predict on JSON lines


def as_spans(sentence: Sentence) -> dict:
    """A sentence as a doccano record: its tokens joined by spaces, its entities as character spans."""
    text = " ".join(sentence.tokens)
    bounds = offsets(text, sentence.tokens)
    return {
        "text": text,
        "label": [[bounds[i][0], bounds[j - 1][1], kind] for i, j, kind in chunks(sentence.tags)],
    }


def round_trip(sentences: list[Sentence]) -> list[Sentence]:
    """The sentences whose text the tokeniser cuts back into their own tokens (most of Wikigold's)."""
    return [s for s in sentences if tokenize(" ".join(s.tokens)) == list(s.tokens)]


def test_train_eval_and_predict_read_json_lines(tmp_path):
    train = round_trip(read_conll(WIKIGOLD / "train.conll"))[:300]
    test = round_trip(read_conll(WIKIGOLD / "test.conll"))
    (tmp_path / "train.jsonl").write_text(jsonl(*map(as_spans, train)), encoding="utf-8")
    (tmp_path / "test.jsonl").write_text(jsonl(*map(as_spans, test)), encoding="utf-8")
    (tmp_path / "test.conll").write_text(
        "".join("".join(f"{t} {g}\n" for t, g in zip(s.tokens, s.tags, strict=True)) + "\n" for s in test)
    )
    assert read_spans(tmp_path / "test.jsonl") == test  # the spans give back the tags, made IOB2
    output = tmp_path / "run"
    args = [
        "--set",
        f"data.train={tmp_path / 'train.jsonl'}",
        "--set",
        "data.dev=null",
        "--set",
        "data.test=null",
    ]
    assert_ok(
        run("train", "--config", DEFAULT, "--output", output, "--set", "train.epochs=1", "--quiet", *args)
    )
    from_spans = run("eval", output, "--data", tmp_path / "test.jsonl", "--json")
    assert_ok(from_spans)
    from_conll = run("eval", output, "--data", tmp_path / "test.conll", "--json")
    assert json.loads(from_spans.stdout) == json.loads(from_conll.stdout)
    assert json.loads(from_spans.stdout)["entities"]["LOC"]["support"] > 50

    lines = [json.dumps({"text": "  Rain fell on Paris.", "meta": 1}), "", json.dumps({"text": "Lyon!"})]
    (tmp_path / "new.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    tagged = run("predict", output, tmp_path / "new.jsonl", "--format", "jsonl", "--output-format", "jsonl")
    assert_ok(tagged)
    records = [json.loads(line) for line in tagged.stdout.splitlines()]
    assert [r["text"] for r in records] == ["  Rain fell on Paris.", "Lyon!"]
    assert records[0]["tokens"] == ["Rain", "fell", "on", "Paris", "."]
    for record in records:
        for entity in record["entities"]:
            assert record["text"][entity["start_char"] : entity["end_char"]] == entity["text"]
    # a .jsonl file given no --format is read as JSON lines, as data.format auto reads it
    guessed = run("predict", output, tmp_path / "new.jsonl", "--output-format", "jsonl")
    assert_ok(guessed)
    assert guessed.stdout == tagged.stdout

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "Paris ."}\n{"txt": "Lyon"}\n', encoding="utf-8")
    for result in (
        run("predict", output, bad, "--format", "jsonl"),
        run("eval", output, "--data", bad),
    ):
        assert result.exit_code == 1 and result.stderr.startswith(f"windowner: error: {bad}:2:"), (
            result.stderr
        )
