"""Gazetteers: lists of names (places, ...) and the feature that says where a sentence matches them.

A list is a UTF-8 text file, one entry a line (``New York``, ``Holy City of Jerusalem``); blank lines
and lines that start with ``#`` are skipped. Entries are cut into tokens by the rule of
``windowner predict --format text`` (:func:`windowner.data.text.tokenize`), so ``St. Louis`` is
``St.`` ``Louis`` and ``Guinea-Bissau`` one token, as in CoNLL-style data.

**Matching.** Case-insensitive: a token and an entry's token match when their ``str.casefold()`` are
equal (``PARIS``, ``Paris`` and ``paris`` all match ``Paris``); nothing else is normalised (no accents
dropped, no plural). Left to right over a sentence's tokens, the *longest* entry that starts at the
current token wins; its tokens are marked ``B`` (the first) and ``I`` (the others) and matching goes on
after it; a token where no entry starts is ``O``. So with the entries ``New York`` and ``York``,
``New York City`` reads ``B I O``; with ``New York City`` too, ``B I I``. Each list is matched on its
own.

**The feature** (``model.features.gazetteer``, ``model.gazetteers: {LABEL: path, ...}``): a token's
key is its status in every list together, ``LOC:B`` with one list, ``CITY:O|LOC:B`` with two (labels in
sorted order), and every key is a class of the look-up table ``E_gazetteer`` (class 0 the padding):
3^L + 1 classes for L lists, so a few lists, not dozens. The table is read like every feature table
(:mod:`windowner.data.features`): the same embedding gate and gradient.

**Speed.** Entries are indexed by their first token (casefolded): a dictionary from it to the lengths
of the entries that start with it, longest first, a set of their first two tokens and a set of the
entries. A token that starts no entry (most) costs one dictionary look-up a list; one followed by a token
that no entry has second (``the`` before most words) one more.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..base.errors import WindownerError, quote
from ..base.files import read_json, text_file, write_atomic
from .features import PAD, Feature

STATUS = ("O", "B", "I")  # outside, begins, continues a match
LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # a list's label: a word that is also a file name
RUN_FILE = "gazetteers.json"  # a run folder's copy of its lists: {label: the list's text}


def check_label(label: str, key: str = "model.gazetteers") -> str:
    """``label`` must be a word of letters, digits, ``_`` and ``-`` (it names a file of the run)."""
    if not isinstance(label, str) or not LABEL.fullmatch(label):
        raise WindownerError(
            f"config key {key!r}: the label {quote(label)} must be letters, digits, _ or -"
            " (it names the list's copy in the run folder)"
        )
    return label


def read_text(path: str | Path) -> str:
    """The text of a list file (errors name the file, and the line of a byte that is not UTF-8)."""
    with text_file(path, "a gazetteer (a text file, one entry a line)") as file:
        return file.read()


def entries_of(text: str) -> list[tuple[str, ...]]:
    """The entries of a list's text, each as its casefolded tokens (blank and ``#`` lines skipped)."""
    from .text import tokenize

    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            tokens = tuple(token.casefold() for token in tokenize(line))
            if tokens:
                out.append(tokens)
    return out


class Gazetteer:
    """One list: its label, its text (as read, what a run folder copies) and the index of its entries."""

    def __init__(self, label: str, text: str, source: str = "the list"):
        self.label = label
        self.text = text
        entries = set(entries_of(text))
        if not entries:
            raise WindownerError(f"{source}: the gazetteer {label} has no entry (one a line)")
        self.entries = frozenset(entries)
        lengths: dict[str, set[int]] = {}
        for entry in entries:
            lengths.setdefault(entry[0], set()).add(len(entry))
        self.starts = {first: sorted(n, reverse=True) for first, n in lengths.items()}
        self.pairs = {entry[:2] for entry in entries if len(entry) > 1}  # the first two tokens of each

    @classmethod
    def read(cls, label: str, path: str | Path) -> Gazetteer:
        """The list of ``label`` in ``path``: a text file, or a run's ``gazetteers.json`` (which holds
        the text of every list of the run by label)."""
        path = Path(path)
        if path.name != RUN_FILE:
            return cls(label, read_text(path), str(path))
        lists = read_json(path)
        if not isinstance(lists, dict) or not all(isinstance(text, str) for text in lists.values()):
            raise WindownerError(f"{path}: expected {{LABEL: the text of a list, ...}}")
        if label not in lists:
            raise WindownerError(f"{path}: holds no list {label} (it has {', '.join(lists) or 'none'})")
        return cls(label, lists[label], str(path))

    def __len__(self) -> int:
        return len(self.entries)

    def match(self, tokens: Sequence[str]) -> list[int]:
        """The status of every token, 0 (``O``), 1 (``B``) or 2 (``I``, see :data:`STATUS`): the longest
        matches, left to right (module docstring)."""
        folded = [token.casefold() for token in tokens]
        out = [0] * len(folded)
        starts, entries, pairs, n = self.starts, self.entries, self.pairs, len(folded)
        done = 0  # the first token after the last match
        for i in [i for i, token in enumerate(folded) if token in starts]:  # where some entry starts
            if i < done:
                continue  # inside the last match
            lengths = starts[folded[i]]
            if lengths[0] > 1 and tuple(folded[i : i + 2]) not in pairs:  # no longer entry can match here
                lengths = lengths[-1:] if lengths[-1] == 1 else ()
            for length in lengths:  # longest first
                if i + length <= n and (length == 1 or tuple(folded[i : i + length]) in entries):
                    out[i] = 1
                    out[i + 1 : i + length] = [2] * (length - 1)
                    done = i + length
                    break
        return out


class Gazetteers:
    """The lists of a run, by label: the key of every token (its status in each list) and the classes.

    ``feature`` is the :class:`~windowner.data.features.Feature` that encodes sentences with these lists.
    """

    def __init__(self, lists: Mapping[str, Gazetteer]):
        if not lists:
            raise WindownerError(
                "config key 'model.gazetteers' names no list, and model.features.gazetteer is on:"
                " give {LABEL: path, ...} (data/gazetteers/ has lists of places)"
            )
        self.lists = {label: lists[label] for label in sorted(lists)}
        labels = list(self.lists)
        keys = itertools.product(*([f"{label}:{s}" for s in STATUS] for label in labels))
        self.classes: tuple[str, ...] = (PAD, *("|".join(key) for key in keys))
        self.feature = Feature("gazetteer", per_sentence=self.keys, fixed=self.classes)

    @classmethod
    def read(cls, paths: Mapping[str, str | Path], base: str | Path | None = None) -> Gazetteers:
        """The lists ``{label: path}`` (a relative path is relative to ``base``, if given)."""
        lists = {}
        for label, path in paths.items():
            check_label(label)
            path = Path(base) / path if base is not None else Path(path)
            try:
                lists[label] = Gazetteer.read(label, path)
            except WindownerError as err:  # which list of the config
                raise WindownerError(f"model.gazetteers.{label}: {err}") from None
        return cls(lists)

    def keys(self, tokens: Sequence[str]) -> list[str]:
        """The key of every token of a sentence: ``LABEL:STATUS`` of each list, joined by ``|``."""
        names = self.classes
        lists = iter(self.lists.values())
        code = next(lists).match(tokens)  # the class of every token - 1: its statuses as base-3 digits,
        for gazetteer in lists:  # the first list's the most significant (the order of the classes)
            code = [3 * c + s for c, s in zip(code, gazetteer.match(tokens), strict=True)]
        return [names[c + 1] for c in code]

    def save(self, folder: str | Path) -> dict[str, str]:
        """Copy every list into ``folder/gazetteers.json`` (``{label: text}``, one regular file of the run
        folder, written atomically); returns ``{label: "gazetteers.json"}``, what the run's config.yaml
        records (relative to the run folder, so that the folder can move)."""
        texts = {label: gazetteer.text for label, gazetteer in self.lists.items()}
        write_atomic(Path(folder) / RUN_FILE, json.dumps(texts, ensure_ascii=False, indent=1) + "\n")
        return {label: RUN_FILE for label in texts}
