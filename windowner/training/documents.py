"""Training a run with the document feature (``model.features.document``): its folds, then the run, in
one folder.

The feature's key of a token comes from a first pass (:mod:`windowner.data.documents`). The keys of the
training data must come from a model that did not see their tags, else they would be nearly always
right in training and not at test. So ``windowner train`` of such a config trains, in the run folder
RUN, one stage after the other (K = ``train.first_pass_folds``; documents are numbered from 0 in the
order of ``data.train``, a ``-DOCSTART-`` line starting each, and document d is in part d mod K):

1. the folds, the config without the feature: fold k is trained on every part but one and gives the keys
   of that part's documents. With K = 2, ``RUN/fold-even/`` trains on the even documents (part 0) and
   keys the odd ones, ``RUN/fold-odd/`` the other way round; with K > 2, ``RUN/fold-k/`` keys part
   k − 1 (:func:`~windowner.tagging.folders.fold_names`);
2. RUN itself: the config with the feature, trained with those keys. The folds together are its first
   pass: the mean of their marginals gives the keys of the dev and test data while training, and of
   every text the run tags after (the same models on the same kind of data: none saw the tags).

Each stage is an ordinary run folder (a fold holds its part of the training data as ``train.txt``, in
IOB2 CoNLL lines). A stage that has finished (it holds ``scores.json``) is not trained again by
``train --resume RUN``; one that was stopped goes on from its checkpoint, as the config of RUN says.
``--overwrite`` trains every stage again, in a fresh folder beside RUN that takes its place once the
last stage has saved a model: until then RUN stays as it was, whatever stops the training.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..base.errors import Terminated, WindownerError
from ..base.files import write_atomic
from ..base.yaml_file import read_yaml_mapping
from ..config import Config, dump_config, dump_mapping, load_saved_config
from ..data.conll import Sentence
from ..data.spans import read_data
from ..tagging.checkpoint import CHECKPOINT_FILE
from ..tagging.documents import changed_folds, document_keys
from ..tagging.folders import (
    A_FOLD,
    FOLD_DATA,
    FOLDS,
    discard,
    fold_names,
    fresh_sibling,
    is_fold,
    is_marked,
    locked,
    mark,
    real_folder,
)
from ..tagging.run_files import CONFIG_FILE, SCORES_FILE
from ..tagging.tagger import Tagger
from .corpus import Corpus
from .folder import (
    SWAPPED,
    Swap,
    check_free,
    check_ours,
    cleared_message,
    holds_any_work,
    holds_work,
    old_run_kept,
    put_back_stranded,
    resume_command,
)
from .progress import Progress


def stages(config: Config) -> list[str]:
    """What ``train`` of ``config`` (with the document feature) does, a line a stage (``--dry-run``)."""
    run, names = Path(config.output), fold_names(config.train.first_pass_folds)
    return [
        *(
            f"{k}. {run / name}: {_what(len(names), k - 1)}, in {config.data.train} (the config"
            " without the document feature)"
            for k, name in enumerate(names, start=1)
        ),
        f"{len(names) + 1}. {run}: the config with the document feature, trained with those keys (the"
        f" {len(names)} folds' mean gives those of dev, test and new text)",
    ]


def without_feature(config: Config, folder: Path, train: str | None = None) -> Config:
    """The config of a stage: ``config`` without the document feature, into ``folder`` (trained on
    ``train``, an IOB2 CoNLL file, if given), for ``train.first_pass_epochs`` epochs (0: as many as the
    run; its own ``train.first_pass_folds`` is the default: it has no folds). The dev and test files are
    read as the config says; a fold's IOB2 lines read the same under ``auto``, ``iob1`` and ``iob2``, so
    only an IOBES or BILUO config reads its files with the scheme told from each file (``auto``)."""
    features = dataclasses.replace(config.model.features, document=0)
    model = dataclasses.replace(config.model, features=features)
    epochs = config.train.first_pass_epochs or config.train.epochs
    settings = dataclasses.replace(config.train, epochs=epochs, first_pass_epochs=0, first_pass_folds=2)
    data = config.data
    if train is not None:
        scheme = data.scheme if data.scheme in ("auto", "iob1", "iob2") else "auto"
        data = dataclasses.replace(data, train=train, scheme=scheme)
    return dataclasses.replace(config, model=model, data=data, train=settings, output=str(folder))


def keyed_part(count: int, fold: int) -> int:
    """The part of the documents (document d is in part d mod ``count``) whose keys fold number ``fold``
    of :func:`~windowner.tagging.folders.fold_names` gives, the one it does not train on: ``fold-even``
    keys the odd documents, ``fold-odd`` the even ones, ``fold-k`` part k − 1."""
    return (1, 0)[fold] if count == 2 else fold


def fold_sentences(sentences: Sequence[Sentence], count: int) -> list[list[Sentence]]:
    """The training sentences of each of ``count`` folds: those of every document outside its part."""
    return [[s for s in sentences if s.document % count != keyed_part(count, k)] for k in range(count)]


def folds_of(config: Config, train: Sequence[Sentence]) -> list[list[Sentence]]:
    """:func:`fold_sentences` of the training data ``train`` of ``config``; an error if a part has no
    sentence."""
    count = config.train.first_pass_folds
    documents = {s.document for s in train}
    parts = {document % count for document in documents}
    if len(parts) < count:
        has = "one document" if len(documents) == 1 else f"{len(documents)} documents"
        if len(documents) >= count:  # numbered with gaps: a -DOCSTART- with no sentence is a document
            has += f", in {len(parts)} of the parts (document d, from 0, is in part d mod {count})"
        raise WindownerError(
            f"{config.data.train}: model.features.document trains its first pass on {count} parts of the"
            f" documents of the training data (train.first_pass_folds), and it has {has}: start each"
            " document with one -DOCSTART- line"
        )
    return fold_sentences(train, count)


def conll_text(sentences: Sequence[Sentence]) -> str:
    """Sentences as IOB2 CoNLL lines, a ``-DOCSTART-`` line before each document."""
    lines, document = [], None
    for sentence in sentences:
        if sentence.document != document:
            lines.append("-DOCSTART- O\n\n")
            document = sentence.document
        lines += [f"{token} {tag}\n" for token, tag in zip(sentence.tokens, sentence.tags, strict=True)]
        lines.append("\n")
    return "".join(lines)


def training_keys(
    train: Sequence[Sentence], folds: Sequence[Tagger], vectors: str | None = None
) -> list[str]:
    """The key of every token of ``train`` (flat), each document's from the fold that did not train on
    it (:func:`keyed_part`; ``folds`` in the order of :func:`~windowner.tagging.folders.fold_names`). A
    fold kept the vectors of its own part's words only: it first reads the others' from ``vectors`` (the
    config's ``vectors.path``), as the first pass does for new text, so that they do not read ``<unk>``."""
    tokens = [s.tokens for s in train]
    documents = np.array([s.document for s in train], dtype=np.int64)
    lengths = np.array([len(t) for t in tokens], dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    flat = np.empty(int(lengths.sum()), dtype=object)
    for k, fold in enumerate(folds):
        chosen = np.flatnonzero(documents % len(folds) == keyed_part(len(folds), k))
        if not len(chosen):
            continue
        classes = fold_classes(fold)
        other = [tokens[i] for i in chosen]
        if vectors is not None:
            fold.add_vectors(vectors, other)
        keys = document_keys([fold], other, documents[chosen].tolist(), classes)
        rows = np.concatenate([np.arange(starts[i], starts[i] + lengths[i]) for i in chosen])
        flat[rows] = keys
    return flat.tolist()


def fold_classes(tagger: Tagger) -> tuple[str, ...]:
    """The document feature's classes for the types of a first-pass run's task."""
    from ..data.conll import entity_type
    from ..data.documents import document_classes

    return document_classes(sorted({entity_type(tag) for tag in tagger.task.tags} - {""}))


def train_two_pass(
    config: Config,
    progress: Progress,
    echo: Callable[[str], Any],
    overwrite: bool,
    note: Callable[[str], Any],
    quiet: bool,
    resuming: bool,
    on_epoch: Callable[[dict[str, Any]], Any] | None = None,
) -> dict[str, Any]:
    """Train the stages of the module docstring into ``config.output``, whose lock the caller holds
    (the arguments are those of :func:`~windowner.training.loop.train_folder`); returns the run's scores."""
    from .loop import train_folder

    say = (lambda line: None) if quiet else echo
    run, names = Path(config.output), fold_names(config.train.first_pass_folds)
    last = len(names) + 1  # the stages: the folds, then the run
    for folder in (run, *(run / name for name in names)):
        check_ours(folder)  # a folder of the user's gets no stage, the run's nor a stage's own
        if folder != run and os.path.lexists(folder) and (folder.is_symlink() or not folder.is_dir()):
            raise WindownerError(
                f"{folder}: a file of yours where the run trains a stage: move it away, or give the run"
                " another folder (--output)"
            )
        if folder != run and is_marked(folder) and not is_fold(folder):
            raise WindownerError(
                f"{folder}: a run of yours where the run trains a fold: move it away, or give the run"
                " another folder (--output)"
            )
    existed, marked = run.exists(), is_marked(run)
    parts = folds_of(config, read_data(config.data.train, config.data.scheme, config.data.format))
    if not resuming:
        check_free(run, overwrite)
    else:  # a config.yaml edited to another number of folds: the run's folds are not these
        others = (name for name in FOLDS if name not in names and holds_work(run / name))
        other = next((name for name in others if is_fold(run / name)), None)
        if other is not None:
            raise WindownerError(
                f"{run / other}: a fold of this run, which train.first_pass_folds"
                f" ({config.train.first_pass_folds}) in its config.yaml does not have: put the number"
                f" back, or train the run again with --overwrite"
            )
    run.mkdir(parents=True, exist_ok=True)
    mark(run)
    replacing = overwrite and holds_any_work(run)
    # --overwrite of a run: every stage trains in a fresh folder beside it, which takes the old run's
    # place once the last stage has a model (as a run without the feature does once it has one)
    base = fresh_sibling(real_folder(run)) if replacing else run
    if replacing:
        say(
            f"replacing {run}: the {last} trainings go into {base}, which takes its place once the run"
            " has a model"
        )
    if not (base / CONFIG_FILE).exists():  # what --resume reads until the last stage writes its own
        write_atomic(base / CONFIG_FILE, dump_config(config))
    try:
        for number, (name, part) in enumerate(zip(names, parts, strict=True), start=1):
            folder = base / name
            if (folder / SCORES_FILE).is_file():
                say(f"stage {number} of {last}: {folder} has finished: not trained again")
                continue
            folder.mkdir(parents=True, exist_ok=True)
            mark(folder, A_FOLD)
            write_atomic(folder / FOLD_DATA, conll_text(part))
            stage = without_feature(config, folder, str(folder / FOLD_DATA))
            going_on = (folder / CHECKPOINT_FILE).is_file()
            if going_on:  # a fold trains the epochs it began with, whatever --set train.epochs says now
                began = load_saved_config(folder / CONFIG_FILE).train.epochs
                stage = dataclasses.replace(stage, train=dataclasses.replace(stage.train, epochs=began))
            what = _what(len(names), number - 1)
            say(f"stage {number} of {last}: {'resuming ' if going_on else ''}{folder} ({what})")
            if replacing:  # what a failure leaves is the old run, whatever the stage saved
                swap, cleared = Swap(None, replacing=run), None
            else:
                alone = not holds_work(run) and not any(
                    holds_work(run / other) for other in names if other != name
                )
                swap, cleared = None, cleared_message(run, existed) if alone else None  # then the run goes
            with locked(folder):
                put_back_stranded(folder, note)
                train_folder(
                    stage,
                    progress,
                    echo,
                    False,
                    note,
                    quiet,
                    going_on,
                    cleared=cleared,
                    swap=swap,
                    resumed_by=run,
                )
            if replacing:
                name_final_folder(folder, run / name)
        folds = [Tagger.load(base / name) for name in names]

        def prepare(tagger: Tagger, corpus: Corpus) -> list[str]:
            tagger.first_passes = tuple(folds)
            return training_keys(corpus.train, folds, config.vectors.path)

        going_on = resuming and (run / CHECKPOINT_FILE).is_file()
        if going_on and changed_folds(run, folds):  # not the folds the run began with
            raise WindownerError(
                f"{run}: its folds were trained again after it began (on their own?): train the whole run"
                " again with --overwrite"
            )
        doing = f"{'resuming ' if going_on else ''}{run} (the config with the document feature)"
        say(f"stage {last} of {last}: {doing}")
        cleared = f"the run saved nothing; {', '.join(names)} kept: {resume_command(run)} trains it from them"
        swap = Swap(base) if replacing else None
        return train_folder(
            config, progress, echo, overwrite, note, quiet, going_on, on_epoch, prepare, cleared, swap
        )
    except BaseException as err:
        if replacing and base.exists():  # the new run never took the old one's place: it goes
            discard(base, real_folder(run), SWAPPED)
            if isinstance(err, KeyboardInterrupt) and not getattr(err, "detail", ""):
                signum = err.signum if isinstance(err, Terminated) else signal.SIGINT
                raise Terminated(signum, old_run_kept(run)) from None
            raise
        if not any(holds_work(run / name) for name in FOLDS) and not holds_work(run):
            _remove_ours(run, names, existed, marked)
            raise
        if not (run / CONFIG_FILE).exists():  # the run saved nothing and took it along: --resume reads it
            write_atomic(run / CONFIG_FILE, dump_config(config))
        if isinstance(err, KeyboardInterrupt) and not getattr(err, "detail", ""):
            # Ctrl-C or a signal outside a stage's epochs (between stages, or while one loads its data)
            finished = [name for name in names if (run / name / SCORES_FILE).is_file()]
            what = f"{', '.join(finished)} finished and kept" if finished else "the checkpoints are kept"
            if (run / CHECKPOINT_FILE).is_file():  # a resumed last stage, stopped while it loaded its data
                when, what = f"before stage {last} went on", f"{what}, and the run's checkpoint"
            else:
                when = f"before stage {last} had trained"
            signum = err.signum if isinstance(err, Terminated) else signal.SIGINT
            detail = f"{when}; {what}: continue with {resume_command(run)}"
            raise Terminated(signum, detail) from None
        raise


def name_final_folder(fold: Path, final: Path) -> None:
    """Make the ``config.yaml`` of the fold trained in ``fold`` name the folder it will be in, ``final``
    (its ``output`` and its half of the data); every other key stays as the fold saved it (its own copies
    of the lists, say)."""
    saved = read_yaml_mapping(fold / CONFIG_FILE)
    saved["output"] = str(final)
    saved["data"]["train"] = str(final / FOLD_DATA)
    write_atomic(fold / CONFIG_FILE, dump_mapping(saved))


def _what(count: int, fold: int) -> str:
    """The documents fold number ``fold`` of ``count`` trains on and keys."""
    if count == 2:
        return (
            "the first pass on the even documents, which keys the odd ones",
            "the first pass on the odd documents, which keys the even ones",
        )[fold]
    part = keyed_part(count, fold)
    numbers = f"{part}, {part + count}, {part + 2 * count}, ..."
    return f"the first pass on every document but numbers {numbers}, which it keys"


def _remove_ours(run: Path, names: Sequence[str], existed: bool, marked: bool) -> None:
    """What a two-pass run (its folds ``names``) that saved no model and no checkpoint leaves: nothing of
    its own (a folder that was there stays, without the mark it did not have)."""
    from ..tagging.folders import MARKER

    for name in names:
        for file in (FOLD_DATA, MARKER):
            (run / name / file).unlink(missing_ok=True)
        try:
            (run / name).rmdir()
        except OSError:
            pass
    (run / CONFIG_FILE).unlink(missing_ok=True)
    if not marked:
        (run / MARKER).unlink(missing_ok=True)
    if not existed:
        try:
            run.rmdir()
        except OSError:
            pass
