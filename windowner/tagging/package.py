"""Portable run folders: ``windowner package RUN OUT``, and the warning of a run whose vectors are gone.

A run keeps the vectors of the words its own data files use (``vectors.keep: data``); ``predict`` and
``eval`` give the other words of new text their vectors from the run's ``vectors.path``. Moved to a
machine without that file, the run reads every such word as ``<unk>`` and tags worse (Wikigold test LOC F1
78.8 → 67.4 for the default config, see ``docs/shipping.md``); :class:`MissingVectors` counts what that
costs on the input at hand, for the warning the commands give.

:func:`package_run` writes a run folder that carries its vectors, as one folder a user can copy anywhere:

* ``model.npz`` (the run's best model) whose E holds the run's rows (trained, if fine-tuned), then the
  pretrained vectors of the first ``max_words`` words of the vectors file that the run lacks (word-vector
  files list words by decreasing frequency: the most frequent words), with ``vocab.txt`` to match, as
  :meth:`~windowner.tagging.tagger.Tagger.add_vectors` adds rows for ``predict``;
* the run's ``labels.json``, ``features.json``, ``config.yaml``, ``train_words.txt`` and ``scores.json``;
* for a run with the document feature, its first pass (its folds: ``fold-even/`` and ``fold-odd/``, or
  ``fold-1/`` ... ``fold-K/``) packaged the same way, with the same words (not the folds' parts of the
  training data), and ``first_pass.json``;
* ``meta.json``: what the folder is (the windowner version, the task and the entity types it predicts,
  where its vectors came from and how many rows each part gave). Its presence tells ``predict`` and
  ``eval`` that the run reads no vectors file unless one is given (``--vectors``).

No training state (``last.npz``, ``checkpoint.npz``, ``history.jsonl``) goes along: a package is for
tagging. On text whose words are all in the run's vocabulary or among the first ``max_words`` of the
vectors file, the package tags exactly as the run does with its vectors file (every window reads the same
rows of E, so the same scores, bit for bit); a rarer word reads ``<unk>`` in the package. The folder is
built beside ``OUT`` and renamed into place, under ``OUT``'s lock (:func:`windowner.tagging.folders.locked`):
an error or Ctrl-C leaves no half-written package.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ..base.errors import WindownerError
from ..base.files import write_atomic
from ..data.vectors import read_vectors
from ..data.vocab import SPECIALS
from .folders import (
    A_FOLD,
    discard,
    fold_names,
    fresh_sibling,
    is_fold,
    is_marked,
    locked,
    mark,
    recover,
    replace_folder,
)
from .run_files import CONFIG_FILE, LABELS_FILE, META_FILE, MODEL_FILE, RUN_FILES, SCORES_FILE
from .tagger import Tagger, load_run

MAX_WORDS = 100_000  # the most frequent words of the vectors file a package carries by default


@dataclass
class Packaged:
    """What :func:`package_run` wrote: ``rows`` of E in all, ``from_run`` of them the run's own (the
    specials included), ``added`` from ``source`` (None: no vectors file was read), ``size`` in bytes."""

    folder: Path
    rows: int
    from_run: int
    added: int
    source: Path | None
    size: int
    recovered: list[str]  # what a stopped --overwrite of OUT had left, put back first (a sentence a step)


def package_run(
    run: str | Path,
    output: str | Path,
    vectors: str | Path | None = None,
    max_words: int = MAX_WORDS,
    overwrite: bool = False,
) -> Packaged:
    """Write ``output``: the run in ``run`` with the vectors its predictions need (see the module's
    docstring). ``vectors``: the file to take them from (default: the run's ``vectors.path``; a packaged
    run already carries its own); ``max_words``: how many of its first words (0: none). ``output`` must
    be new, empty, or (with ``overwrite``) a windowner run folder; never ``run`` itself."""
    run, output = Path(run), Path(output)
    if max_words < 0:
        raise WindownerError(f"--max-words must be 0 or more, got {max_words}")
    tagger = load_run(run)
    firsts = tagger.first_passes  # the document feature's first pass: packaged with the run
    folds = fold_names(len(firsts)) if firsts else ()
    check_package_output(run, output, overwrite, folds)
    from_run, firsts_from_run = len(tagger.vocab), [len(first.vocab) for first in firsts]
    source = _vectors_source(tagger, run, vectors, max_words)
    added = 0
    if source is not None:
        words, _ = read_vectors(source, None, tagger.vocab.lowercase, cache=tagger.config.vectors.cache)
        added = tagger.add_vectors(source, [words[:max_words]])  # (and to the first pass)
    meta = _meta(tagger, source, max_words, from_run, added)
    with locked(output):
        recovered = recover(output, RUN_FILES)
        check_package_output(run, output, overwrite, folds)  # again: no other windowner writes now
        new, swapping = fresh_sibling(output), False
        try:
            os.chmod(new, 0o755)  # mkdtemp makes it private; a package is for sharing
            mark(new)
            tagger.save(new)
            if (run / SCORES_FILE).is_file():
                write_atomic(new / SCORES_FILE, (run / SCORES_FILE).read_text(encoding="utf-8"))
            write_atomic(new / META_FILE, json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
            for name, first, first_from_run in zip(folds, firsts, firsts_from_run, strict=True):
                inner = new / name
                inner.mkdir()
                mark(inner, A_FOLD)
                first.save(inner)
                more = len(first.vocab) - first_from_run
                inner_meta = _meta(first, source, max_words, first_from_run, more)
                write_atomic(inner / META_FILE, json.dumps(inner_meta, indent=2, ensure_ascii=False) + "\n")
            size = sum(entry.stat().st_size for entry in new.rglob("*") if entry.is_file())
            swapping = output.is_dir() and any(output.iterdir())
            if swapping:
                replace_folder(new, output, RUN_FILES)  # a windowner folder, with --overwrite (its folds too)
            else:
                os.replace(new, output)  # a new name, or an empty folder
        except BaseException:
            if not swapping:
                shutil.rmtree(new, ignore_errors=True)
            elif new.exists():  # the swap began: your files may be in it, on their way
                discard(new, output, RUN_FILES)
            raise
    return Packaged(output, len(tagger.vocab), from_run, added, source, size, recovered)


def check_package_output(run: Path, output: Path, overwrite: bool, folds: Sequence[str] = ()) -> None:
    """Refuse an output folder that is the run, holds it or is inside it (its ``fold-even/``, say), is a
    file, holds files windowner did not write, or holds a run or package (unless ``overwrite``); with
    ``folds`` (the names of the run's, which the package has), one that holds a file, a link or a folder
    of yours where a fold goes."""
    if output.exists() and not output.is_dir():
        raise WindownerError(f"{output}: is a file; give the package a folder of its own")
    target, source = output.resolve(), run.resolve()
    if target == source:
        what = "the run folder itself"
    elif target in source.parents:
        what = "a folder that holds the run"
    elif source in target.parents:
        what = "inside the run folder"
    else:
        what = None
    if what is not None:
        raise WindownerError(f"{output} is {what}: give the package a folder of its own")
    if not output.is_dir() or not any(output.iterdir()):
        return
    earlier = (output / CONFIG_FILE).is_file() and (output / LABELS_FILE).is_file()  # before the mark
    if not is_marked(output) and not earlier:
        raise WindownerError(
            f"{output} holds files windowner did not write: give the package a new or empty folder"
        )
    if not overwrite:
        kind = "package" if (output / META_FILE).is_file() else "run"
        raise WindownerError(
            f"{output} already holds a windowner {kind}: choose another folder, or --overwrite"
        )
    for name in folds:
        entry = output / name
        if os.path.lexists(entry) and not is_fold(entry):
            raise WindownerError(
                f"{entry}: yours, where the package puts a fold of the run: move it away, or give the"
                " package another folder"
            )


def _vectors_source(tagger: Tagger, run: Path, vectors: str | Path | None, max_words: int) -> Path | None:
    """The vectors file to take the frequent words from, or None (``max_words`` 0, or a package given no
    file: it carries its vectors already)."""
    if max_words == 0 or (vectors is None and tagger.package is not None):
        return None
    if vectors is not None:
        path = Path(vectors)
        if not path.is_file():
            raise WindownerError(f"{path}: no such vectors file")
        return path
    path = Path(tagger.config.vectors.path)
    if not path.is_file():
        raise WindownerError(
            f"{path} (the vectors.path of {run}) is not here: give the vectors file (--vectors FILE), or"
            f" carry only the run's own {len(tagger.vocab) - len(SPECIALS):,} words (--max-words 0)"
        )
    return path


def _meta(tagger: Tagger, source: Path | None, max_words: int, from_run: int, added: int) -> dict[str, Any]:
    """The contents of ``meta.json``."""
    try:
        windowner = version("windowner")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree that is not installed
        windowner = "unknown"
    task = tagger.task
    if task.name == "location":
        predicts = [task.location_label]
    else:
        predicts = sorted({tag[2:] for tag in task.tags if tag != "O"})
    if source is None and tagger.package is not None:  # packaged again: keep what the first said
        return {**tagger.package, "windowner": windowner, "model": MODEL_FILE}
    return {
        "windowner": windowner,
        "task": task.name,
        "predicts": predicts,
        "model": MODEL_FILE,
        "vectors": {
            "source": None if source is None else source.name,
            "max_words": max_words if source is not None else 0,
            "rows": from_run + added,
            "from_run": from_run,
            "added": added,
            "dimension": int(tagger.model.params["E"].shape[1]),
        },
    }


class MissingVectors:
    """Counts the words of the input that a run without its vectors file reads as ``<unk>``.

    Called with each batch of token lists (as :class:`~windowner.tagging.predict.NewWords` is), it counts the
    distinct words (as the vocabulary looks them up) and the tokens that are not in the run's vocabulary:
    those that would have taken a vector from the missing file, if it holds them. Training words are not
    counted (the run looked them up in the file when it was trained: those it lacks).
    """

    def __init__(self, tagger: Tagger, path: Path):
        self.vocab = tagger.vocab
        self.looked_up = tagger.train_words or frozenset()
        self.path = path
        self.words: set[str] = set()  # every distinct word of the input
        self.unknown: set[str] = set()  # those that read <unk>
        self.tokens = 0
        self.unknown_tokens = 0

    def __call__(self, sentences: Sequence[Sequence[str]]) -> None:
        tokens = [token for sentence in sentences for token in sentence]
        rows = self.vocab.encode(tokens)
        key = self.vocab.key
        self.words.update(map(key, set(tokens)))
        unknown = [
            token
            for token, row in zip(tokens, rows.tolist(), strict=True)
            if row == 0 and key(token) not in self.looked_up
        ]
        self.unknown.update(map(key, unknown))
        self.tokens += len(tokens)
        self.unknown_tokens += len(unknown)

    def message(self, run: str) -> str:
        """The warning: the missing file, what it cost on this input, and the fixes."""
        fix = (
            "give the file (--vectors FILE), or where it is, make the run carry its vectors:"
            f" windowner package {run} OUT"
        )
        if not self.unknown:
            return (
                f"{self.path} (the run's vectors.path) is not here; every word of the input is in the run's"
                f" vocabulary, so it costs nothing this time ({fix})"
            )
        return (
            f"{self.path} (the run's vectors.path) is not here: {len(self.unknown):,} of the"
            f" {len(self.words):,} distinct words of the input ({self.unknown_tokens:,} of {self.tokens:,}"
            f" tokens) are not in the run's vocabulary and read <unk>, where that file would have given a"
            f" vector to those it holds: {fix}"
        )


def missing_vectors(tagger: Tagger, vectors_path: str | None) -> MissingVectors | None:
    """A counter for the warning when the run expects its ``vectors.path`` and it is not there (no
    ``--vectors``, not a package); else None."""
    if vectors_path is not None or tagger.package is not None:
        return None
    path = Path(tagger.config.vectors.path)
    return None if path.is_file() else MissingVectors(tagger, path)
