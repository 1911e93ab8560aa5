"""Tagging new text (``windowner predict``): read it, cut it into tokens, tag it a batch at a time, write.

**Input** (``--format``), read as records, one per sentence:

* ``text``: raw text, one sentence or paragraph a line, cut into tokens by :data:`TOKEN` (below);
* ``tokens``: tokens separated by whitespace, one sentence a line;
* ``conll``: the token in the first column, any other columns (tags among them) ignored, a blank line
  between sentences, ``-DOCSTART-`` lines skipped.
* ``jsonl``: JSON lines, each object's ``"text"`` cut into tokens as ``text`` is (blank lines skipped;
  spans and other keys ignored): what annotation tools export (:mod:`windowner.spans`).

With ``text`` and ``tokens`` every input line is one record, an empty line an empty record (no tokens),
so that output record i always belongs to input line i.

**Output** (``--output-format``):

* ``conll``: ``token TAG`` a line and a blank line after each record (an empty record is the blank line
  alone: the n-th blank line ends the n-th input line). For CoNLL input, each input line (trailing
  whitespace removed) with the predicted tag appended as its last column, after a tab if the line has
  one, else after a space; ``-DOCSTART-`` lines and extra blank lines are not copied.
* ``jsonl``: a JSON object a record, ``{"text", "tokens", "tags", "entities"}``; each entity is
  ``{"text", "type", "start_token", "end_token", "start_char", "end_char"}``, ends exclusive.
* ``html``: one self-contained page (styles inline, no script, nothing fetched) showing each record's
  text with its entities highlighted, a colour a type, the type (and an entity's ``score``, when it has
  one) as a small label; a legend of the types the model predicts, the records numbered.
  :func:`html_start`, :func:`format_html` a record, :func:`html_end`.

``text`` is the input line (without its line break) for ``text`` input and the tokens joined by single
spaces for ``tokens`` and ``conll`` input; character offsets are Python ``str`` indices (code points) into
it, so ``text[start_char:end_char]`` is the entity's text. Tags are IOB2; entities are their chunks
(:func:`windowner.metrics.chunks`).

**Streaming.** Records are read and tagged in batches of about :data:`BATCH_TOKENS` tokens, and each batch
is written before the next is read: memory holds one batch, whatever the size of the input. Words the run
did not keep get their pretrained vectors a batch at a time (:class:`NewWords`).

**Errors** name the input and the line: bytes that are not UTF-8, a NUL byte (a binary file), a line of
more than :data:`MAX_LINE_BYTES` bytes, a CoNLL sentence of more than :data:`MAX_SENTENCE_TOKENS` tokens.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from html import escape
from pathlib import Path
from typing import IO, NamedTuple

from .conll import entity_type, sentence_lines
from .errors import WindownerError
from .files import atomic_open
from .metrics import chunks
from .spans import json_lines, record_text
from .tagger import Tagger

INPUT_FORMATS = ("text", "tokens", "conll", "jsonl")
OUTPUT_FORMATS = ("conll", "jsonl", "html")
BATCH_TOKENS = 100_000  # tokens tagged at a time: about 45 MB of strings, windows and scores
MAX_LINE_BYTES = 1_000_000  # longer lines are an error: text without line breaks is rarely meant
MAX_SENTENCE_TOKENS = 100_000  # the same guard for a CoNLL file without blank lines

# The tokenisation rule of ``--format text``, in the spirit of CoNLL-2003 (Penn Treebank) tokens. At each
# place in the line the first alternative that matches is the next token; whitespace separates tokens and
# is never part of one; every other character is in exactly one token.
_PART = r"(?:\d+(?:[.,/]\d+)+|\w+)"  # a number with . , or / between digits (3.5, 1,000.25, 1/2), or a word
_CLITIC = r"(?i:n['’]t|['’](?:s|d|m|re|ve|ll))\b"  # n't 's 'd 'm 're 've 'll (also with ’)
TOKEN = re.compile(
    rf"""
      \w+(?![\w.,/'’-])                      # a word followed by none of . , / ' ’ - (most words: first,
                                             # for speed; the alternatives below give it the same token)
    | (?:[^\W\d_]\.){{2,}}                   # letters with periods: U.S. e.g. a.m.
    | (?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|Gen|Gov|Sen|Rep|Rev|Inc|Ltd|Co|Corp|vs|etc)\.  # a few abbreviations
    | [A-Z]\.(?=\s+[A-Z])                    # an initial before a capitalised word: J. Smith
    | \w+(?=[nN]['’][tT]\b)                  # a word before n't: do|n't, ca|n't, is|n't
    | {_CLITIC}                              # a clitic after a word: John|'s, I|'m, do|n't
    | {_PART}(?:(?:-|['’](?!(?i:s|d|m|re|ve|ll|t)\b)){_PART})*
                                             # words and numbers joined by hyphens, or by apostrophes
                                             # that start no clitic: well-known 2026-11-26 O'Neill
    | \.{{2,}} | -{{2,}}                     # an ellipsis, a dash: ... --
    | \S                                     # any other character, alone: ( ) , . " $ % & ...
    """,
    re.VERBOSE,
)


def tokenize(line: str) -> list[str]:
    """The tokens of a line of raw text, by :data:`TOKEN`.

    >>> tokenize("Mr. O'Neill didn't pay $1,000.50 for the well-known U.S. firm's 3.5% stake...")
    ['Mr.', "O'Neill", 'did', "n't", 'pay', '$', '1,000.50', 'for', 'the', 'well-known', 'U.S.', 'firm', \
"'s", '3.5', '%', 'stake', '...']
    """
    return TOKEN.findall(line)


def offsets(text: str, tokens: Sequence[str]) -> list[tuple[int, int]]:
    """``(start, end)`` of each token in ``text``, which holds the tokens in order with whitespace between.

    A token holds no whitespace, so its first occurrence after the previous token's end is the token.
    """
    spans, end = [], 0
    for token in tokens:
        start = text.find(token, end)
        end = start + len(token)
        spans.append((start, end))
    return spans


class Record(NamedTuple):
    """One sentence of the input: its text, its tokens and, for CoNLL input, the input line of each token.

    ``text`` is the input line for raw text, the tokens joined by single spaces otherwise.
    """

    text: str
    tokens: list[str]
    lines: list[str] | None = None


# ---------------------------------------------------------------------------------------------------------
# reading


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


def read_records(stream: IO[bytes], name: str, input_format: str) -> Iterator[Record]:
    """The records of an input in ``input_format`` (one of :data:`INPUT_FORMATS`), read lazily."""
    lines = read_lines(stream, name)
    if input_format == "text":
        return (Record(line, TOKEN.findall(line)) for _, line in lines)
    if input_format == "tokens":
        return (Record(" ".join(tokens), tokens) for tokens in (line.split() for _, line in lines))
    if input_format == "conll":
        return _conll_records(lines, name)
    if input_format == "jsonl":
        return _jsonl_records(lines, name)
    raise WindownerError(f"unknown input format {input_format!r}: expected one of {', '.join(INPUT_FORMATS)}")


def _conll_records(lines: Iterable[tuple[int, str]], name: str) -> Iterator[Record]:
    """Sentences of a CoNLL file (:func:`~windowner.conll.sentence_lines`): the first column of each line."""
    for sentence in sentence_lines(lines, name, MAX_SENTENCE_TOKENS):
        tokens = [token for _, _, token in sentence]
        yield Record(" ".join(tokens), tokens, [line.rstrip() for _, line, _ in sentence])


def _jsonl_records(lines: Iterable[tuple[int, str]], name: str) -> Iterator[Record]:
    """JSON lines (:func:`~windowner.spans.json_lines`): each object's ``text``, cut into tokens."""
    for where, record in json_lines(lines, name):
        text = record_text(record, where)
        yield Record(text, tokenize(text))


def batches(records: Iterable[Record], batch_tokens: int) -> Iterator[list[Record]]:
    """Consecutive records in lists of at least ``batch_tokens`` tokens (the last one may have fewer)."""
    batch: list[Record] = []
    size = 0
    for record in records:
        batch.append(record)
        size += len(record.tokens)
        if size >= batch_tokens:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


# ---------------------------------------------------------------------------------------------------------
# writing


def entities(record: Record, tags: Sequence[str]) -> list[dict[str, str | int]]:
    """The entities of a tagged record: the chunks of its IOB2 tags, with their text and offsets."""
    if tags.count("O") == len(tags):
        return []
    spans = offsets(record.text, record.tokens)
    found = []
    for start, end, kind in chunks(tags):
        start_char, end_char = spans[start][0], spans[end - 1][1]
        found.append(
            {
                "text": record.text[start_char:end_char],
                "type": kind,
                "start_token": start,
                "end_token": end,
                "start_char": start_char,
                "end_char": end_char,
            }
        )
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


def format_jsonl(record: Record, tags: Sequence[str]) -> str:
    """The record as one line of JSON: text, tokens, tags and entities."""
    value = {"text": record.text, "tokens": record.tokens, "tags": tags, "entities": entities(record, tags)}
    line = _JSON.encode(value)
    if not line.isascii():  # characters that str.splitlines() takes for line breaks, written as escapes
        line = line.replace("\x85", "\\u0085").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return line + "\n"


_JSON = json.JSONEncoder(ensure_ascii=False)  # one encoder: json.dumps with options builds one a call


# html: displaCy's colours for the usual types (CoNLL, OntoNotes), then a palette for the others
TYPE_COLOURS = {
    **dict.fromkeys(("LOC", "LOCATION"), "#ff9561"),
    "GPE": "#feca74",
    **dict.fromkeys(("PER", "PERSON"), "#aa9cfc"),
    **dict.fromkeys(("ORG", "ORGANIZATION", "ORGANISATION"), "#7aecec"),
    "MISC": "#f0d0ff",
}
PALETTE = ("#bfeeb7", "#ffeb80", "#c887fb", "#9cc9cc", "#ff8197", "#bfe1d9", "#e4e7d2", "#feca74", "#7aecec")

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  max-width: 60rem; margin: 2rem auto; padding: 0 1.5rem; color: #1f2328; background: #fff;
  counter-reset: record; }
header { border-bottom: 1px solid #d8dee4; margin-bottom: 1.5rem; padding-bottom: .75rem; }
h1 { font-size: 1.25rem; font-weight: 600; margin: 0 0 .25rem; overflow-wrap: anywhere; }
.about { color: #59636e; font-size: .85rem; margin: 0 0 .75rem; overflow-wrap: anywhere; }
.legend { display: flex; flex-wrap: wrap; gap: .4rem; margin: 0; padding: 0; list-style: none; }
.legend li { font-size: .75rem; font-weight: 700; letter-spacing: .03em; padding: .2rem .55rem;
  border-radius: .3rem; color: #1f2328; }
.record { position: relative; margin: 0 0 .9rem; padding-left: 3rem; line-height: 2.3;
  white-space: pre-wrap; overflow-wrap: anywhere; counter-increment: record; }
.record::before { content: counter(record); position: absolute; left: 0; width: 2.2rem; text-align: right;
  color: #8c959f; font-size: .75rem; line-height: 3.07; font-variant-numeric: tabular-nums; }
.record.empty { margin: 0; line-height: 0; }
.record.empty::before { content: none; }
mark { color: inherit; padding: .2em .35em; margin: 0 .1em; border-radius: .35em; line-height: 1;
  -webkit-box-decoration-break: clone; box-decoration-break: clone; }
mark .type { font-size: .62em; font-weight: 700; letter-spacing: .03em; margin-left: .45em;
  vertical-align: middle; }
mark .score { font-size: .62em; font-variant-numeric: tabular-nums; margin-left: .3em; opacity: .7;
  vertical-align: middle; }
footer { color: #59636e; font-size: .8rem; border-top: 1px solid #d8dee4; margin-top: 2rem;
  padding-top: .75rem; }
"""


_POLICY = "default-src 'none'; style-src 'unsafe-inline'"  # the page may load nothing, run nothing


def type_colour(kind: str) -> str:
    """The background of an entity type: :data:`TYPE_COLOURS`, else a :data:`PALETTE` colour by the
    name's CRC-32 (the same type always gets the same colour, on every page)."""
    return TYPE_COLOURS.get(kind.upper()) or PALETTE[zlib.crc32(kind.encode("utf-8")) % len(PALETTE)]


def html_start(title: str, types: Sequence[str], about: str = "") -> str:
    """The page up to its first record: the title, a line ``about`` the tagging, a legend of ``types``."""
    legend = "".join(f'<li style="background: {type_colour(kind)}">{escape(kind)}</li>' for kind in types)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<header>\n<h1>{escape(title)}</h1>\n"
        + (f'<p class="about">{escape(about)}</p>\n' if about else "")
        + f'<ul class="legend" aria-label="entity types">{legend}</ul>\n</header>\n<main>\n'
    )


def html_end(records: int, tokens: int) -> str:
    """The end of the page: how much was tagged."""
    return (
        f"</main>\n<footer>{records:,} record{'s' * (records != 1)}, {tokens:,} token{'s' * (tokens != 1)};"
        " tagged by windowner</footer>\n</body>\n</html>\n"
    )


def html_record(text: str, found: Sequence[dict]) -> str:
    """A record as a paragraph: ``text`` (escaped) with each entity of ``found`` (dicts of
    :func:`entities`, in order, not overlapping) marked, its type and, if it has one, its ``score``."""
    if not text.strip():
        return '<p class="record empty"></p>\n'
    parts, done = ['<p class="record">'], 0
    for entity in found:
        start, end, kind = entity["start_char"], entity["end_char"], escape(str(entity["type"]))
        score = entity.get("score")
        label = f'<span class="type">{kind}</span>'
        title = kind
        if score is not None:
            label += f'<span class="score">{float(score):.2f}</span>'
            title += f", score {float(score):.3f}"
        parts.append(escape(text[done:start]))
        parts.append(
            f'<mark class="entity" data-type="{kind}" title="{title}"'
            f' style="background: {type_colour(str(entity["type"]))}">{escape(text[start:end])}{label}</mark>'
        )
        done = end
    parts.append(escape(text[done:]) + "</p>\n")
    return "".join(parts)


def format_html(record: Record, tags: Sequence[str]) -> str:
    """The record as a paragraph of the page (:func:`html_record` of its :func:`entities`)."""
    return html_record(record.text, entities(record, tags))


FORMATTERS: dict[str, Callable[[Record, Sequence[str]], str]] = {
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


# ---------------------------------------------------------------------------------------------------------
# tagging


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
) -> tuple[int, int]:
    """Tag ``records`` a batch at a time and write each batch to ``out`` (UTF-8) in ``output_format``.

    ``new_words`` (a :class:`NewWords`) is called with each batch's token lists before it is tagged.
    Returns the number of records and of tokens tagged.
    """
    write = FORMATTERS[output_format]
    count = tokens = 0
    for batch in batches(records, batch_tokens):
        sentences = [record.tokens for record in batch]
        if new_words is not None:
            new_words(sentences)
        tags = tagger.predict(sentences)
        out.write("".join([write(record, t) for record, t in zip(batch, tags, strict=True)]).encode("utf-8"))
        out.flush()  # a batch is out before the next is read: a reader of a pipe sees progress
        count += len(batch)
        tokens += sum(map(len, sentences))
    return count, tokens
