"""Part of windowner.predict."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from itertools import chain
from pathlib import Path
from typing import IO, NamedTuple

import numpy as np

from ..base.errors import WindownerError, quote
from ..base.files import atomic_open
from ..data.conll import entity_type, is_tag, sentence_lines
from ..data.spans import JSON_SUFFIXES, json_lines, record_text
from ..data.text import TOKEN, offsets, tokenize
from ..evaluation.metrics import chunks
from .documents import reads_documents
from .html import html_record
from .tagger import Scored, Tagger

INPUT_FORMATS = ("text", "tokens", "conll", "jsonl")


OUTPUT_FORMATS = ("conll", "jsonl", "html")


BATCH_TOKENS = 100_000  # tokens tagged at a time: about 45 MB of strings, windows and scores


MAX_LINE_BYTES = 1_000_000  # longer lines are an error: text without line breaks is rarely meant


MAX_SENTENCE_TOKENS = 100_000  # the same guard for a CoNLL file without blank lines


GUESS_LINES = 20  # the lines guess_format looks at


SCORE_DIGITS = 4  # decimals of the scores in jsonl output


class Record(NamedTuple):
    """One sentence of the input: its text, its tokens and, for CoNLL input, the input line of each token
    and the number of its document (a ``-DOCSTART-`` line starts one; any other input is one document).

    ``text`` is the input line for raw text, the tokens joined by single spaces otherwise.
    """

    text: str
    tokens: list[str]
    lines: list[str] | None = None
    document: int = 0


@contextmanager
def open_input(path: str, stdin: IO[bytes]) -> Iterator[tuple[IO[bytes], str]]:
    """The input as a binary stream and the name errors give it: ``path``, or ``stdin`` for ``-``."""
    if path == "-":
        yield stdin, "<stdin>"
        return
    try:
        stream = open(path, "rb")
    except FileNotFoundError:
        raise WindownerError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise WindownerError(f"{path}: is a directory, expected a text file") from None
    with stream:
        yield stream, path


def read_lines(stream: IO[bytes], name: str) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a UTF-8 stream, without line breaks (``\\n`` or ``\\r\\n``).

    A byte-order mark at the start is dropped. Bytes that are not UTF-8, a NUL byte and a line of more
    than :data:`MAX_LINE_BYTES` bytes raise :class:`WindownerError` naming the line.
    """
    read = partial(stream.readline, MAX_LINE_BYTES + 1)  # never more than one long line in memory
    for number, raw in enumerate(iter(read, b""), start=1):
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            raise WindownerError(
                f"{name}:{number}: a line of more than {MAX_LINE_BYTES:,} bytes"
                " (one sentence or paragraph a line is expected)"
            )
        if b"\0" in raw:
            raise WindownerError(f"{name}:{number}: a NUL byte: a binary file, not text")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise WindownerError(
                f"{name}:{number}: not UTF-8 text ({err.reason} at byte {err.start + 1} of the line)"
            ) from None
        if number == 1 and line.startswith("\ufeff"):
            line = line[1:]
        yield number, line.rstrip("\r\n")


def read_records(
    stream: IO[bytes], name: str, input_format: str | None, note: Callable[[str], object] | None = None
) -> Iterator[Record]:
    """The records of an input in ``input_format`` (one of :data:`INPUT_FORMATS`), read lazily.

    ``None``: ``jsonl`` for a file named ``*.jsonl``, ``*.json`` or ``*.ndjson`` (as ``data.format: auto``
    reads it), else ``text``, or ``conll`` when the input looks like it (:func:`guess_format`; ``note`` is
    told so). Typed lines (a terminal) are never looked at ahead: they are text.
    """
    lines = read_lines(stream, name)
    if input_format is None and name.lower().endswith(JSON_SUFFIXES):
        input_format = "jsonl"
    if input_format is None:
        input_format, lines, example = guess_format(lines) if not stream.isatty() else ("text", lines, None)
        if example is not None and note is not None:
            number, line = example
            note(
                f"{name} looks like CoNLL columns, a token and its tags a line (line {number}:"
                f" {quote(line)}): tagging the first column of each line, as --format conll does"
                " (--format text tags whole lines as text)"
            )
    if input_format == "text":
        return (Record(line, TOKEN.findall(line)) for _, line in lines)
    if input_format == "tokens":
        return (Record(" ".join(tokens), tokens) for tokens in (line.split() for _, line in lines))
    if input_format == "conll":
        return _conll_records(lines, name)
    if input_format == "jsonl":
        return _jsonl_records(lines, name)
    raise WindownerError(f"unknown input format {input_format!r}: expected one of {', '.join(INPUT_FORMATS)}")


def guess_format(
    lines: Iterator[tuple[int, str]],
) -> tuple[str, Iterator[tuple[int, str]], tuple[int, str] | None]:
    """``("conll", lines, (number, line))`` when the first :data:`GUESS_LINES` lines of an input look like
    CoNLL columns, else ``("text", lines, None)``; ``lines`` are all the input's lines again (those read
    ahead first), and ``(number, line)`` the first token line.

    CoNLL columns: at least two lines besides blank and ``-DOCSTART-`` ones, and every such line two to
    ten fields whose last is a tag (``O``, ``B-X``, ...). A line of text rarely ends in a tag, two lines
    never by chance.
    """
    ahead = list(itertools.islice(lines, GUESS_LINES))
    rows = [(number, line, line.split()) for number, line in ahead]
    rows = [row for row in rows if row[2] and row[2][0] != "-DOCSTART-"]
    conll = len(rows) >= 2 and all(2 <= len(fields) <= 10 and is_tag(fields[-1]) for _, _, fields in rows)
    example = (rows[0][0], rows[0][1]) if conll else None
    return ("conll" if conll else "text"), itertools.chain(ahead, lines), example


def _conll_records(lines: Iterable[tuple[int, str]], name: str) -> Iterator[Record]:
    """Sentences of a CoNLL file (:func:`~windowner.data.conll.sentence_lines`): the first column of each
    line."""
    documents: list[int] = []
    for sentence in sentence_lines(lines, name, MAX_SENTENCE_TOKENS, documents):
        tokens = [token for _, _, token in sentence]
        yield Record(" ".join(tokens), tokens, [line.rstrip() for _, line, _ in sentence], documents[-1])


def _jsonl_records(lines: Iterable[tuple[int, str]], name: str) -> Iterator[Record]:
    """JSON lines (:func:`~windowner.data.spans.json_lines`): each object's ``text``, cut into tokens."""
    for where, record in json_lines(lines, name):
        text = record_text(record, where)
        yield Record(text, tokenize(text))


def batches(records: Iterable[Record], batch_tokens: int, documents: bool = False) -> Iterator[list[Record]]:
    """Consecutive records in lists of at least ``batch_tokens`` tokens (the last one may have fewer);
    with ``documents``, of whole documents (a batch ends where a document does)."""
    batch: list[Record] = []
    size = 0
    if documents:
        for record in records:
            if size >= batch_tokens and record.document != batch[-1].document:
                yield batch
                batch, size = [], 0
            batch.append(record)
            size += len(record.tokens)
        if batch:
            yield batch
        return
    for record in records:
        batch.append(record)
        size += len(record.tokens)
        if size >= batch_tokens:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def entities(record: Record, tags: Sequence[str], scored: Scored | None = None) -> list[dict[str, str | int]]:
    """The entities of a tagged record: the chunks of its IOB2 tags, with their text and offsets (and,
    given the record's :class:`~windowner.tagging.tagger.Scored`, their score)."""
    if tags.count("O") == len(tags):
        return []
    spans = offsets(record.text, record.tokens)
    found = []
    chunked = chunks(tags) if scored is None else [entity[:3] for entity in scored.entities]
    for i, (start, end, kind) in enumerate(chunked):
        start_char, end_char = spans[start][0], spans[end - 1][1]
        entity = {
            "text": record.text[start_char:end_char],
            "type": kind,
            "start_token": start,
            "end_token": end,
            "start_char": start_char,
            "end_char": end_char,
        }
        if scored is not None:
            entity["score"] = scored.entities[i][3]
        found.append(entity)
    return found


def format_conll(record: Record, tags: Sequence[str]) -> str:
    """The record's lines, token (or input line, for CoNLL input) and tag, then a blank line."""
    if record.lines is None:
        rows = [f"{token} {tag}\n" for token, tag in zip(record.tokens, tags, strict=True)]
    else:  # a tab-separated line gets its tag after a tab
        rows = [
            line + ("\t" if "\t" in line else " ") + tag + "\n"
            for line, tag in zip(record.lines, tags, strict=True)
        ]
    return "".join(rows) + "\n"


def format_jsonl(record: Record, tags: Sequence[str], scored: Scored | None = None) -> str:
    """The record as one line of JSON: text, tokens, tags and entities (with the scores of ``scored``, the
    record's :class:`~windowner.tagging.tagger.Scored`: of each tag and each entity, as they are:
    ``tag_stream`` rounds them first, :func:`rounded`)."""
    value: dict = {"text": record.text, "tokens": record.tokens, "tags": tags}
    if scored is not None:
        value["scores"] = scored.token_scores
    value["entities"] = entities(record, tags, scored)
    line = _JSON.encode(value)
    if not line.isascii():  # characters that str.splitlines() takes for line breaks, written as escapes
        line = line.replace("\x85", "\\u0085").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return line + "\n"


_JSON = json.JSONEncoder(ensure_ascii=False)  # one encoder: json.dumps with options builds one a call


def format_html(record: Record, tags: Sequence[str], scored: Scored | None = None) -> str:
    """The record as a paragraph of the page (:func:`html_record` of its :func:`entities`, with their
    scores given the record's :class:`~windowner.tagging.tagger.Scored`)."""
    return html_record(record.text, entities(record, tags, scored))


SCORED_FORMATS = ("jsonl", "html")  # the output formats that show the scores (unless told not to)


FORMATTERS: dict[str, Callable[..., str]] = {
    "conll": format_conll,
    "jsonl": format_jsonl,
    "html": format_html,
}


def predicted_types(tagger: Tagger) -> list[str]:
    """The entity types a tagger's predictions hold: the location type's alone for the location task."""
    task = tagger.task
    if task.name == "location":
        return [task.location_label]
    return sorted({entity_type(tag) for tag in task.tags} - {""})


@contextmanager
def open_output(path: str | None, stdout: IO[bytes]) -> Iterator[IO[bytes]]:
    """``stdout`` (``path`` None or ``-``), or the file ``path`` written atomically: it appears, whole, only
    if tagging succeeds."""
    if path is None or path == "-":
        yield stdout
        return
    target = Path(path)
    if target.is_dir():
        raise WindownerError(f"{path}: is a directory, expected a file name for the output")
    if not target.parent.is_dir():
        raise WindownerError(f"{path}: no such folder {target.parent}")
    with atomic_open(target, "wb") as out:
        yield out


class NewWords:
    """Gives words the run did not keep their pretrained vectors from ``path``, one batch at a time.

    Each batch's new words go through :meth:`Tagger.add_vectors`, as ``eval`` does for a whole file. The
    vectors file is read again only for a batch with a word whose lookup forms have not been tried
    before, so a word missing from the file costs one reading, not one a batch; and never when the run
    kept every vector of that file (``vectors.keep: all``).
    """

    def __init__(self, tagger: Tagger, path: Path):
        self.tagger = tagger
        self.path = path
        vectors = tagger.config.vectors
        self.nothing_new = vectors.keep == "all" and Path(vectors.path).resolve() == Path(path).resolve()
        self.seen: set[str] = set()  # tokens of earlier batches
        self.tried: set[str] = set()  # lookup forms already searched for in the file
        self.added = 0  # rows added to E

    def __call__(self, sentences: Sequence[Sequence[str]]) -> None:
        if self.nothing_new:
            return
        vocab, tried = self.tagger.vocab, self.tried
        new = {token for tokens in sentences for token in tokens} - self.seen
        self.seen |= new
        fresh, forms = [], set()  # tokens with a form never searched for, and those forms
        for token in new:
            untried = [key for key in vocab.keys(token) if key not in vocab.row and key not in tried]
            if untried:
                fresh.append(token)
                forms.update(untried)
        if fresh:
            self.added += self.tagger.add_vectors(self.path, [fresh])
            tried |= forms


def tag_stream(
    tagger: Tagger,
    records: Iterable[Record],
    out: IO[bytes],
    output_format: str = "conll",
    batch_tokens: int = BATCH_TOKENS,
    new_words: Callable[[Sequence[Sequence[str]]], None] | None = None,
    scores: bool = True,
    min_score: float = 0.0,
) -> tuple[int, int]:
    """Tag ``records`` a batch at a time and write each batch to ``out`` (UTF-8) in ``output_format``.

    ``new_words`` (a :class:`NewWords`) is called with each batch's token lists before it is tagged.
    ``scores``: the jsonl and html outputs have the score of each entity (and jsonl of each tag too:
    :mod:`windowner.network.confidence`);
    ``min_score``: entities that score less are left out (their tokens tagged ``O``), in every format.
    Returns the number of records and of tokens tagged.
    """
    write = FORMATTERS[output_format]
    scored_output = scores and output_format in SCORED_FORMATS
    count = tokens = 0
    whole = reads_documents(tagger)  # the document feature: batches of whole documents
    for batch in batches(records, batch_tokens, whole):
        sentences = [record.tokens for record in batch]
        by_document = {"documents": [record.document for record in batch]} if whole else {}
        if new_words is not None:
            new_words(sentences)
        if scored_output or min_score > 0:
            found = tagger.predict_scored(sentences, **by_document)
            scored = [keep_entities(s, min_score) for s in found]
            if scored_output:
                scored = rounded(scored)
                text = "".join([write(r, s.tags, s) for r, s in zip(batch, scored, strict=True)])
            else:
                text = "".join([write(r, s.tags) for r, s in zip(batch, scored, strict=True)])
        else:
            tags = tagger.predict(sentences, **by_document)
            text = "".join([write(record, t) for record, t in zip(batch, tags, strict=True)])
        out.write(text.encode("utf-8"))
        out.flush()  # a batch is out before the next is read: a reader of a pipe sees progress
        count += len(batch)
        tokens += sum(map(len, sentences))
    return count, tokens


def keep_entities(scored: Scored, min_score: float) -> Scored:
    """``scored`` without its entities that score less than ``min_score``: their tokens are tagged ``O``
    and score the probability of being outside every entity (``Scored.outside``)."""
    if min_score <= 0 or all(entity[3] >= min_score for entity in scored.entities):
        return scored
    tags, token_scores = list(scored.tags), list(scored.token_scores)
    for start, end, _, score in scored.entities:
        if score < min_score:
            tags[start:end] = ["O"] * (end - start)
            token_scores[start:end] = scored.outside[start:end]
    kept = [entity for entity in scored.entities if entity[3] >= min_score]
    return scored._replace(tags=tags, token_scores=token_scores, entities=kept)


def rounded(batch: Sequence[Scored]) -> list[Scored]:
    """The scores of ``batch`` rounded to :data:`SCORE_DIGITS` decimals, all at once (``round`` on every
    float costs more than tagging)."""
    lengths = [len(s.token_scores) for s in batch]
    counts = [len(s.entities) for s in batch]
    tokens = np.round(np.fromiter(chain.from_iterable(s.token_scores for s in batch), float), SCORE_DIGITS)
    found = (entity[3] for s in batch for entity in s.entities)
    entities = np.round(np.fromiter(found, float, sum(counts)), SCORE_DIGITS).tolist()
    flat = tokens.tolist()
    out, t, e = [], 0, 0
    for s, length, count in zip(batch, lengths, counts, strict=True):
        kept = [(*entity[:3], p) for entity, p in zip(s.entities, entities[e : e + count], strict=True)]
        out.append(s._replace(token_scores=flat[t : t + length], entities=kept))
        t, e = t + length, e + count
    return out
