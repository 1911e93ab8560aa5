"""Reading tagged text: CoNLL-style files.

The format, as the CoNLL-2003 shared task and most NER corpora write it:

* one token a line; the token is the first column and its tag the last, columns separated by spaces or
  tabs (any number of columns in between: POS, chunk, ... are ignored);
* a blank line ends a sentence;
* ``-DOCSTART-`` lines (document separators) start a document: each sentence keeps the number of its
  document (:attr:`Sentence.document`, 0 for the sentences of a file without any).

Tags may come in any of the three common encodings; they are converted on reading to **IOB2** (also
called BIO), the one scheme used everywhere inside windowner:

* IOB1 (CoNLL-2003's original release, Wikigold): ``I-X`` everywhere, ``B-X`` only where an entity
  directly follows another of the same type.
* IOB2 / BIO: every entity starts with ``B-X``, continues with ``I-X``.
* IOBES: ``S-X`` for a one-token entity, ``E-X`` for the last token of a longer one.
* BILUO (spaCy's name for IOBES): ``U-X`` (unit) is ``S-X``, ``L-X`` (last) is ``E-X``; read as IOBES.

IOB1 and IOB2 need no telling apart: rewriting every ``I-X`` that starts an entity (it follows ``O`` or
a tag of another type) as ``B-X`` turns IOB1 into IOB2 and leaves IOB2 as it is. IOBES is recognised by
its ``E-``/``S-`` tags (BILUO by its ``L-``/``U-`` tags). Tags without a prefix other than ``O``
(``LOC``, ``PER``) are an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..base.errors import WindownerError, quote
from ..base.files import text_file

SCHEMES = ("auto", "iob1", "iob2", "iobes", "biluo")  # biluo: IOBES under spaCy's letters, read as iobes
_TAG = re.compile(r"^(O|[BIESLU]-\S+)$")


@dataclass(frozen=True)
class Sentence:
    """One sentence: its tokens and their IOB2 tags (``tags`` is empty for untagged text); ``document``,
    the number of its document in its file (0, 1, ...: a ``-DOCSTART-`` line starts one), which neither
    equality nor ``repr`` looks at."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]
    document: int = field(default=0, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.tokens)


def read_conll(path: str | Path, scheme: str = "auto") -> list[Sentence]:
    """Read a CoNLL-style file into sentences with IOB2 tags.

    ``scheme`` is ``auto`` (IOBES if the file has an ``E-``/``S-`` tag or BILUO's ``L-``/``U-``, else
    IOB1/IOB2), or one of ``iob1``, ``iob2``, ``iobes`` to insist on one (``biluo`` is ``iobes``: the
    letters of both are read in either). Raises :class:`WindownerError` naming the file for a
    file that is missing, binary, not UTF-8 (with the line) or holds no sentence (empty, or only blank and
    ``-DOCSTART-`` lines), and naming the line for a line with a single column or a tag that is not
    ``O`` / ``B-X`` / ``I-X`` / ``E-X`` / ``S-X`` / ``L-X`` / ``U-X``.
    """
    path = Path(path)
    if scheme not in SCHEMES:
        raise WindownerError(f"unknown tag scheme {quote(scheme)}: expected one of {', '.join(SCHEMES)}")
    documents: list[int] = []
    with text_file(path, "a CoNLL file (a token and a tag a line)") as lines:
        raw = list(_read_sentences(enumerate(lines, start=1), path, scheme, documents))
    if not raw:
        raise WindownerError(
            f"{path}: no sentences (the file is empty or has only blank and -DOCSTART- lines)"
        )

    if scheme == "auto":
        scheme = "iobes" if any(tag[0] in "ESLU" for _, tags in raw for tag in tags) else "iob1"
    convert = iobes_to_iob2 if scheme in ("iobes", "biluo") else iob1_to_iob2
    return [
        Sentence(tokens, tuple(convert(tags)), document)
        for (tokens, tags), document in zip(raw, documents, strict=True)
    ]


def sentence_lines(
    lines: Iterable[tuple[int, str]],
    name: str = "",
    limit: int | None = None,
    documents: list[int] | None = None,
) -> Iterator[list[tuple[int, str, str]]]:
    """The lines of each sentence of a CoNLL-style file, ``(number, line, token)`` with the token its first
    column: a blank line ends a sentence, ``-DOCSTART-`` lines are skipped. ``lines`` are ``(number,
    line)``. A sentence of more than ``limit`` lines is a :class:`WindownerError` naming ``name``, the
    line and where the sentence began (a file without blank lines would otherwise be held whole).

    ``documents``, if given, gets the document number of each sentence as it is yielded: the
    ``-DOCSTART-`` lines before it, less one if the file's first sentence follows one (a file that starts
    with ``-DOCSTART-``, as CoNLL-2003's, numbers its documents from 0; sentences before the first such
    line are document 0 and the first ``-DOCSTART-`` starts document 1)."""
    sentence: list[tuple[int, str, str]] = []
    starts, offset = 0, None  # -DOCSTART- lines so far; what to subtract, set at the first sentence
    for number, line in lines:
        first = line.split(maxsplit=1)
        if not first:
            if sentence:
                yield sentence
                sentence = []
            continue
        if first[0] == "-DOCSTART-":
            starts += 1
            continue
        if documents is not None and not sentence:
            offset = min(starts, 1) if offset is None else offset
            documents.append(starts - offset)
        if limit is not None and len(sentence) == limit:
            raise WindownerError(
                f"{name}:{number}: a sentence of more than {limit:,} tokens, from line {sentence[0][0]} on"
                " (a blank line ends a sentence)"
            )
        sentence.append((number, line, first[0]))
    if sentence:
        yield sentence


def _read_sentences(
    lines: Iterable[tuple[int, str]], path: Path, scheme: str, documents: list[int] | None = None
) -> Iterator[tuple[tuple[str, ...], list[str]]]:
    """Yield (tokens, raw tags) for each sentence (and its document into ``documents``, as
    :func:`sentence_lines`); ``E-``/``S-`` (``L-``/``U-``) tags are an error in IOB1/IOB2."""
    for sentence in sentence_lines(lines, documents=documents):
        tags = []
        for number, line, _ in sentence:
            columns = line.rsplit(maxsplit=1)  # the tag is the last column
            if len(columns) < 2:
                found = quote(line.strip())
                raise WindownerError(f"{path}:{number}: expected a token and a tag, found one column {found}")
            tag = columns[-1]
            if not _TAG.match(tag):
                hint = (
                    line.lstrip().startswith(("{", "["))
                    and " (JSON? name it .jsonl or set data.format: jsonl)"
                )
                raise WindownerError(
                    f"{path}:{number}: tag {quote(tag)} is not O, B-X, I-X, E-X or S-X (L-X, U-X: BILUO)"
                    + (hint or "")
                )
            if tag[0] in "ESLU" and scheme in ("iob1", "iob2"):
                raise WindownerError(
                    f"{path}:{number}: tag {quote(tag)} in a file read as {scheme} (data.scheme, or --scheme)"
                )
            tags.append(tag)
        yield tuple(token for _, _, token in sentence), tags


def iob1_to_iob2(tags: Iterable[str]) -> list[str]:
    """IOB1 (or IOB2) to IOB2: an ``I-X`` that starts an entity becomes ``B-X``.

    >>> iob1_to_iob2(["I-LOC", "I-LOC", "B-LOC", "O", "I-PER"])
    ['B-LOC', 'I-LOC', 'B-LOC', 'O', 'B-PER']
    """
    out: list[str] = []
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and (previous == "O" or previous[2:] != tag[2:]):
            tag = "B-" + tag[2:]
        out.append(tag)
        previous = tag
    return out


def iobes_to_iob2(tags: Iterable[str]) -> list[str]:
    """IOBES (or BILUO) to IOB2: ``S-X`` (``U-X``) becomes ``B-X``, ``E-X`` (``L-X``) becomes ``I-X``
    (then as :func:`iob1_to_iob2`).

    >>> iobes_to_iob2(["S-LOC", "B-PER", "E-PER", "O", "U-ORG", "B-LOC", "L-LOC"])
    ['B-LOC', 'B-PER', 'I-PER', 'O', 'B-ORG', 'B-LOC', 'I-LOC']
    """
    renamed = ("B-" + t[2:] if t[0] in "SU" else "I-" + t[2:] if t[0] in "EL" else t for t in tags)
    return iob1_to_iob2(renamed)


def is_tag(text: str) -> bool:
    """Whether ``text`` is a tag this reader takes: ``O``, ``B-X``, ``I-X``, ``E-X`` or ``S-X``."""
    return _TAG.match(text) is not None


def entity_type(tag: str) -> str:
    """The type of an IOB tag, ``""`` for ``O``: ``entity_type("B-LOC") == "LOC"``."""
    return "" if tag == "O" else tag[2:]
