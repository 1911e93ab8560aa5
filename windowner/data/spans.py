"""Reading entities given as character spans: the JSON that annotation tools export.

Annotation tools (doccano, Prodigy, Label Studio) write each text with its entities as character offsets
rather than a tag a token. windowner reads them as it reads CoNLL files, into :class:`~.conll.Sentence`
with IOB2 tags, for ``train``, ``eval`` and ``predict``:

* a **JSON lines** file: one JSON object a line (blank lines skipped), each a text and its entities;
* or a **JSON array** of such objects (Label Studio's JSON-min export is one).

Each object has its text under ``"text"`` and its entities under the first of these keys it has:

* ``"spans"``: ``[{"start": 0, "end": 5, "label": "LOC"}, ...]`` (Prodigy; spaCy's own examples);
* ``"entities"``: the same, or doccano's ``[{"start_offset": 0, "end_offset": 5, "label": "LOC"}, ...]``;
* ``"label"`` or ``"labels"``: doccano's ``[[0, 5, "LOC"], ...]``, or Label Studio JSON-min's
  ``[{"start": 0, "end": 5, "text": "Paris", "labels": ["LOC"]}, ...]``.

An object with none of these keys has no entities, but a file where no object has one is an error (a
misspelt key would otherwise train on text without entities). Prodigy's rejected and ignored answers
(``"answer": "reject"`` or ``"ignore"``) are skipped. Offsets are Python string indices (code points),
``end`` exclusive; a span whose own ``"text"`` is given must match the text at its offsets (Label Studio
counts UTF-16 units, which differ after a character outside the Basic Multilingual Plane, an emoji).

The text is cut into tokens by ``predict``'s tokeniser (:func:`windowner.data.text.tokenize`), the rule
new text is tagged with. Whitespace at a span's edges is dropped; a span must then start at a token's
first character and end at a token's last: one that cuts a token (``"ew York"``, or ``"Paris"`` in a
text that holds ``"Paris-based"``, one token) is an error naming the line, the span and the tokens there
(and how many such spans the file holds). Spans may not overlap; a text without tokens is skipped.

Which reader a data file gets (``data.format``, ``eval --format``) is :func:`data_format`: ``conll`` or
``jsonl`` as given, or ``auto``: ``jsonl`` for a name ending in ``.jsonl``, ``.json`` or ``.ndjson``,
``conll`` otherwise.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..base.errors import WindownerError, quote
from ..base.files import text_file
from .conll import Sentence, read_conll

DATA_FORMATS = ("auto", "conll", "jsonl")
JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")  # data.format auto: these names are read as JSON
SPAN_KEYS = ("spans", "entities", "label", "labels")  # where the entities are, in this order
SKIPPED_ANSWERS = ("reject", "ignore")  # Prodigy's answers that are not annotations


def data_format(path: str | Path, given: str = "auto") -> str:
    """``conll`` or ``jsonl``: ``given``, or for ``auto`` by the name's ending (:data:`JSON_SUFFIXES`)."""
    if given not in DATA_FORMATS:
        raise WindownerError(f"unknown data format {quote(given)}: expected one of {', '.join(DATA_FORMATS)}")
    if given != "auto":
        return given
    return "jsonl" if Path(path).suffix.lower() in JSON_SUFFIXES else "conll"


def read_data(path: str | Path, scheme: str = "auto", given: str = "auto") -> list[Sentence]:
    """The tagged sentences of a data file: CoNLL (:func:`~.conll.read_conll`, tags in ``scheme``) or
    JSON with character spans (:func:`read_spans`), as :func:`data_format` tells."""
    if data_format(path, given) == "jsonl":
        return read_spans(path)
    return read_conll(path, scheme)


def read_spans(path: str | Path) -> list[Sentence]:
    """The sentences of a JSON lines (or JSON array) file of texts and character spans, with IOB2 tags.

    Raises :class:`WindownerError` naming the file and line (the record, in an array) for a line that is
    not a JSON object, a text or span that is not what the module docstring says, overlapping spans, and
    spans that cut a token (the first of them, and how many); naming the file when it holds no text or no
    object has entities.
    """
    from .text import offsets, tokenize

    path = Path(path)
    sentences: list[Sentence] = []
    misaligned: list[str] = []
    keyed = False
    for where, record in json_records(path):
        text = record_text(record, where)
        if record.get("answer") in SKIPPED_ANSWERS:
            continue
        key = next((key for key in SPAN_KEYS if key in record), None)
        keyed = keyed or key is not None
        spans = record_spans(record[key], key, text, where) if key is not None else []
        tokens = tokenize(text)
        if not tokens:
            continue
        tags = span_tags(text, tokens, offsets(text, tokens), spans, where, misaligned)
        sentences.append(Sentence(tuple(tokens), tuple(tags)))
    if misaligned:
        more = f" (and {len(misaligned) - 1:,} more such spans in the file)" if len(misaligned) > 1 else ""
        raise WindownerError(misaligned[0] + more)
    if not sentences:
        raise WindownerError(f"{path}: no text to read (expected JSON objects with a 'text' and its spans)")
    if not keyed:
        raise WindownerError(
            f"{path}: no record has entities: expected them under 'spans' (Prodigy), 'entities' or 'label'"
            " (doccano, Label Studio); see docs/usage.md"
        )
    return sentences


def json_records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, object)`` for each record of a JSON lines file or a JSON array; ``where`` is
    ``path:line`` (``path: record n`` in an array), what errors about the record start with."""
    with text_file(path, "JSON lines (a JSON object a line, with a 'text')") as file:
        head = file.read(1)
        while head.isspace():
            head = file.read(1)
        if head == "[":  # a JSON array (Label Studio's JSON-min export)
            text = head + file.read()
            try:
                records = json.loads(text)
            except json.JSONDecodeError as err:
                raise WindownerError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None
            for number, record in enumerate(records, start=1):
                where = f"{path}: record {number}"
                yield where, _checked(record, where)
            return
        lines = itertools.chain([head + file.readline()], file)  # the first line, whole again
        yield from json_lines(enumerate(lines, start=1), str(path))


def json_lines(lines: Iterable[tuple[int, str]], name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, object)`` of numbered JSON lines (blank lines skipped); ``where`` is ``name:line``."""
    for number, line in lines:
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise WindownerError(f"{where}: not valid JSON ({err.msg} at character {err.pos + 1})") from None
        yield where, _checked(record, where)


def _checked(record: Any, where: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise WindownerError(f"{where}: expected a JSON object with a 'text', found {type(record).__name__}")
    return record


def record_text(record: dict[str, Any], where: str) -> str:
    """The record's ``"text"``: a string, or an error naming the record."""
    text = record.get("text")
    if not isinstance(text, str):
        found = "no 'text'" if "text" not in record else f"'text' {quote(text)}"
        raise WindownerError(f"{where}: expected a 'text' string, found {found}")
    return text


def record_spans(value: Any, key: str, text: str, where: str) -> list[tuple[int, int, str]]:
    """The ``(start, end, label)`` of the spans under ``key``, checked against ``text``."""
    if not isinstance(value, list):
        raise WindownerError(f"{where}: '{key}' should be a list of spans, found {quote(value)}")
    spans = []
    for item in value:
        if isinstance(item, list | tuple) and len(item) == 3:  # doccano: [start, end, label]
            start, end, label, shown = item[0], item[1], item[2], None
        elif isinstance(item, dict):
            start = item.get("start", item.get("start_offset"))
            end = item.get("end", item.get("end_offset"))
            label = item.get("label", item.get("labels"))
            if isinstance(label, list) and len(label) == 1:  # Label Studio: "labels": ["LOC"]
                label = label[0]
            shown = item.get("text")
        elif isinstance(item, str):
            raise WindownerError(
                f"{where}: '{key}' holds {quote(item)}, a label of the whole text (text classification),"
                " not a span: expected [start, end, label] or {'start', 'end', 'label'}"
            )
        else:
            raise WindownerError(
                f"{where}: a span should be [start, end, label] or {{'start', 'end', 'label'}}, found"
                f" {quote(item)}"
            )
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (start, end)):
            raise WindownerError(f"{where}: a span's start and end should be integers, found {quote(item)}")
        if not 0 <= start < end <= len(text):
            raise WindownerError(
                f"{where}: span {start}-{end} is not within the text ({len(text):,} characters), or empty"
            )
        if not isinstance(label, str) or label.split() != [label]:
            raise WindownerError(
                f"{where}: span {start}-{end}: the label should be one word, found {quote(label)}"
            )
        if isinstance(shown, str) and text[start:end] != shown:
            raise WindownerError(
                f"{where}: span {start}-{end} says its text is {quote(shown)} but the text there is"
                f" {quote(text[start:end])} (offsets must count characters, code points)"
            )
        spans.append((start, end, label))
    return spans


def span_tags(
    text: str,
    tokens: list[str],
    bounds: list[tuple[int, int]],
    spans: list[tuple[int, int, str]],
    where: str,
    misaligned: list[str],
) -> list[str]:
    """The IOB2 tags of ``tokens`` (at ``bounds`` in ``text``) for character ``spans``.

    A span that cuts a token adds its message to ``misaligned`` (the caller raises once it has them all,
    the first named with the count); overlapping spans raise at once.
    """
    tags = ["O"] * len(tokens)
    first = {start: i for i, (start, _) in enumerate(bounds)}
    last = {end: i for i, (_, end) in enumerate(bounds)}
    for start, end, label in sorted(spans):
        while start < end and text[start].isspace():  # whitespace is never part of a token
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start == end:
            raise WindownerError(f"{where}: a span of {label} covers only whitespace")
        i, j = first.get(start), last.get(end)
        if i is None or j is None:
            there = [
                f"{quote(t)} {s}-{e}"
                for t, (s, e) in zip(tokens, bounds, strict=True)
                if s < end and e > start
            ]
            misaligned.append(
                f"{where}: span {start}-{end} {quote(text[start:end])} ({label}) does not fall on token"
                f" bounds: the tokens there are {', '.join(there)} (fix the span, or the text)"
            )
            continue
        if any(tag != "O" for tag in tags[i : j + 1]):
            raise WindownerError(
                f"{where}: span {start}-{end} {quote(text[start:end])} ({label}) overlaps another span"
                " (one tag a token: spans may not nest or overlap)"
            )
        tags[i] = f"B-{label}"
        tags[i + 1 : j + 1] = [f"I-{label}"] * (j - i)
    return tags
