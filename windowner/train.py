"""Training: from a config to a run folder.

1. :func:`load_corpus` reads the tagged files, the task's classes and the word vectors the data needs.
2. :func:`train` locks the run folder (:mod:`windowner.folders`), builds the model (Xavier weights, zero
   biases), then for each epoch shuffles the training windows with the run's seed, takes one optimiser
   step a minibatch (one matrix product per layer per batch), evaluates on the dev file, saves the best
   epoch's model (dev micro entity F1) as soon as it is found, and a checkpoint
   (:mod:`windowner.checkpoint`). At the end the best model is scored on the test file.
3. :func:`resume` goes on from a run's checkpoint and ends with the weights an uninterrupted run has.

A loss that diverges (:mod:`windowner.divergence`) stops training with an error; Ctrl-C and SIGTERM end
the batch in progress and save a checkpoint first (:mod:`windowner.interrupts`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shlex
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .averaging import Average, swapped_in
from .checkpoint import CHECKPOINT_FILE, Checkpoint, Saved, fingerprint, load_checkpoint, save_checkpoint
from .config import Config, check_inputs, check_output, load_saved_config
from .conll import Sentence, entity_type
from .divergence import Diverging, LossWatch, span, starting_loss
from .errors import Terminated, WindownerError, quote
from .features import FEATURES, feature_classes
from .files import is_temporary, remove_stale_temporaries, write_atomic
from .folders import (
    MARKER,
    discard,
    fresh_sibling,
    is_marked,
    locked,
    mark,
    real_folder,
    recover,
    replace_folder,
    stranded,
)
from .gazetteer import Gazetteers
from .interrupts import deferred
from .losses import Batch, Epoch, Examples
from .model import WindowModel, make_loss
from .optim import Optimizer, make_optimizer
from .progress import Progress
from .schedules import make_schedule
from .spans import read_data
from .tagger import (
    CONFIG_FILE,
    HISTORY_FILE,
    LABELS_FILE,
    LAST_FILE,
    MODEL_FILE,
    PLOT_FILE,
    RUN_FILES,
    SCORES_FILE,
    VOCAB_FILE,
    Tagger,
    check_parameter,
    check_run_folder,
    save_model,
)
from .tasks import Task, make_task
from .threads import blas_threads
from .vectors import read_vectors
from .vocab import SPECIALS, Vocabulary, lookup_keys, with_specials


@dataclass
class Corpus:
    """The sentences of a run's files, its task, vocabulary and initial word vectors E ``(V, d)``;
    ``sigma`` is the standard deviation of the training words' pretrained vectors."""

    train: list[Sentence]
    dev: list[Sentence]
    test: list[Sentence]
    task: Task
    vocab: Vocabulary
    E: np.ndarray
    sigma: float

    def coverage(self, sentences: Sequence[Sentence]) -> float:
        """The fraction of tokens that have a pretrained vector (are not ``<unk>``)."""
        rows = [self.vocab.index(token) for s in sentences for token in s.tokens]
        return float(np.mean(np.array(rows) != 0)) if rows else 0.0


def load_corpus(config: Config, rng: np.random.Generator) -> Corpus:
    """Read the config's data files and the vectors of the words they use (``vectors.keep: data``)."""
    check_inputs(config)
    data = config.data
    train = read_data(data.train, data.scheme, data.format)
    if not train:
        raise WindownerError(f"{data.train}: no sentences")
    dev = read_data(data.dev, data.scheme, data.format) if data.dev else []
    test = read_data(data.test, data.scheme, data.format) if data.test else []
    task = make_task(config.task.name, train, config.task.location_label, config.task.other_types)
    vectors = config.vectors
    wanted = None
    if vectors.keep == "data":
        tokens = (token for split in (train, dev, test) for s in split for token in s.tokens)
        wanted = lookup_keys(tokens, vectors.lowercase, vectors.normalize_digits)
    words, pretrained = read_vectors(vectors.path, wanted, vectors.lowercase, cache=vectors.cache)
    in_train = lookup_keys((t for s in train for t in s.tokens), vectors.lowercase, vectors.normalize_digits)
    rows = [i for i, word in enumerate(words) if word in in_train]
    sigma = float(np.std(pretrained[rows])) if rows else float(np.std(pretrained))
    words, E = with_specials(words, pretrained, rng, sigma)
    vocab = Vocabulary(words, vectors.lowercase, vectors.normalize_digits)
    if vectors.new_words:  # training words without a vector, seen often enough, get rows of their own
        missing = Counter(vocab.key(t) for s in train for t in s.tokens if vocab.index(t) == 0)
        new = sorted(word for word, count in missing.items() if count >= vectors.new_words)
        rows = rng.normal(0.0, sigma, size=(len(new), E.shape[1])).astype(E.dtype)  # N(0, σ²) as <unk>
        vocab = Vocabulary([*words, *new], vectors.lowercase, vectors.normalize_digits)
        E = np.concatenate([E, rows])
    return Corpus(train, dev, test, task, vocab, E, sigma)


def examples(tagger: Tagger, sentences: Sequence[Sentence], source: str = "the data") -> Examples:
    """The windows, classes and sentence lengths of tagged sentences, as the losses batch them."""
    windows = tagger.windows([s.tokens for s in sentences])
    labels = tagger.task.targets(sentences, source)
    return Examples(windows, labels, np.array([len(s) for s in sentences], dtype=np.int64))


def initialise(config: Config) -> tuple[Tagger, Corpus, np.random.Generator]:
    """The corpus and a new, untrained tagger for ``config``, and the random stream that goes on to shuffle.

    Everything random (special rows of E, feature tables, weights, shuffling, dropout, corruptions) comes
    from one generator seeded with ``train.seed``, so the same seed gives the same numbers.
    """
    rng = np.random.default_rng(config.train.seed)
    corpus = load_corpus(config, rng)
    shape, settings = config.model, config.train
    if make_loss(settings.loss).binary and corpus.task.name != "location":
        raise WindownerError(
            f"train.loss {settings.loss!r} scores one class (the location task): set task.name: location"
        )
    if make_loss(settings.loss).binary and corpus.task.other_types:
        raise WindownerError(
            f"train.loss {settings.loss!r} scores one class: it cannot learn the other types"
            " (task.other_types: false, or train.loss softmax or crf)"
        )
    gazetteers = Gazetteers.read(shape.gazetteers) if shape.features.gazetteer else None
    features = feature_classes(shape.features.active(), [s.tokens for s in corpus.train], gazetteers)
    tables = {"E": corpus.E}
    for name, values in features.items():  # N(0, σ²), on the scale of the word vectors
        size = (len(values), getattr(shape.features, name))
        tables[FEATURES[name].table] = rng.normal(0.0, corpus.sigma, size=size).astype(corpus.E.dtype)
    classes = len(corpus.task.classes)
    labels = corpus.task.targets(corpus.train, config.data.train)
    loss = make_loss(settings.loss, settings.corruptions)
    model = WindowModel.initialise(tables, shape, classes, rng, loss, labels)
    train_words = frozenset(corpus.vocab.key(token) for s in corpus.train for token in s.tokens)
    tagger = Tagger(model, corpus.vocab, corpus.task, config, train_words, features, gazetteers=gazetteers)
    return tagger, corpus, rng


def train(
    config: Config,
    progress: bool | str = True,
    echo: Callable[[str], Any] | None = None,
    overwrite: bool = False,
    note: Callable[[str], Any] | None = None,
    quiet: bool = False,
    on_epoch: Callable[[dict[str, Any]], Any] | None = None,
) -> dict[str, Any]:
    """Train a model as ``config`` says, write its run folder ``config.output``; returns the final scores.

    The folder is locked while training (:func:`windowner.folders.locked`: a second run into it fails at
    once). A folder that already holds a trained model or a checkpoint is an error unless ``overwrite``:
    the new run then trains in a fresh folder beside it and takes the old run's place only once it has
    saved a model, so that an interrupt, a divergence or an error before that leaves the old run as it
    was. A folder windowner did not make (it holds no :data:`~windowner.folders.MARKER`) and that is not
    empty is the user's: refused, every file in it left as it was. ``echo`` prints the report lines (with
    ``quiet`` only the final results; None: ``print`` them to stdout when ``progress`` shows anything, and
    print nothing with ``progress=False``, so that a library call is quiet unless asked), ``note`` the
    remarks (stderr); ``progress`` is a mode of :class:`~windowner.progress.Progress` (True: ``bar``,
    False: ``none``). The matrix products use the BLAS threads of :mod:`windowner.threads`.

    Ctrl-C and SIGTERM (see :mod:`windowner.interrupts`) end the batch in progress, save a checkpoint and
    raise :class:`~windowner.errors.Terminated`, whose message says how to go on (:func:`resume`).

    ``on_epoch`` is called with each epoch's history record once the epoch is saved (its checkpoint
    too); an exception it raises stops the run there, resumable (a sweep prunes a trial this way).
    """
    check_output(config, RUN_FILES)
    note = note or _note
    with (
        blas_threads(config.train.threads),
        locked(config.output),
    ):
        _put_back(Path(config.output), note)
        return _train(
            config, _progress(progress), _echo(echo, progress), overwrite, note, quiet, False, on_epoch
        )


def resume(
    folder: str | Path,
    overrides: Sequence[str] = (),
    progress: bool | str = True,
    echo: Callable[[str], Any] | None = None,
    note: Callable[[str], Any] | None = None,
    quiet: bool = False,
    on_epoch: Callable[[dict[str, Any]], Any] | None = None,
) -> dict[str, Any]:
    """Continue the run in ``folder`` from its checkpoint, as its ``config.yaml`` says; returns the final
    scores. It ends with the same weights, bit for bit, as a run never interrupted. ``progress``, ``echo``,
    ``note`` and ``quiet`` are those of :func:`train`.

    ``overrides`` may change only ``train.epochs`` (to train a run on, or further than it was to go) and
    ``train.patience`` (:data:`RESUMABLE`); any other change would not continue the same run. Nor may
    ``config.yaml`` change: the checkpoint holds the resolved config the run trained with, and a setting
    edited since (``train.lr``, the optimiser, the loss, the schedule, dropout, the features, ...) is an error
    naming it with both values. Not compared: :data:`RESUMABLE`, ``output`` (the folder resumed, which
    may have moved), the data and vectors paths (a file may move: what the run reads from them is
    compared, by the fingerprint of the training windows, the dev sentences and the starting weights)
    ``vectors.cache`` (how the vectors file is read, not what) and the paths of
    ``model.gazetteers`` (the run reads its own copy of the lists; what they say is in the windows).
    ``on_epoch`` as in :func:`train`.
    """
    note = note or _note
    if stranded(real_folder(folder)) is None:
        check_run_folder(Path(folder), (CONFIG_FILE,))  # before the lock, which makes missing parent folders
    with locked(folder):
        _put_back(Path(folder), note)
        config = resume_config(folder, overrides)
        check_output(config, RUN_FILES)
        with blas_threads(config.train.threads):
            return _train(
                config, _progress(progress), _echo(echo, progress), False, note, quiet, True, on_epoch
            )


SWAPPED = (*RUN_FILES, PLOT_FILE)  # the files of a run folder that --overwrite replaces (the old plot too)


def _note(message: str) -> None:
    print(f"windowner: note: {message}", file=sys.stderr)


def _put_back(output: Path, note: Callable[[str], Any]) -> None:
    """Put back what a killed ``--overwrite`` left beside ``output`` (its lock held), and say so."""
    for line in recover(real_folder(output), SWAPPED):
        note(line)


def dry_run(config: Config, overwrite: bool = False) -> dict[str, Any]:
    """What :func:`train` would train on, without writing anything (``train --dry-run``).

    Makes the checks a run makes before its first step (the output folder, the data and vectors files,
    settings that cannot work together) and returns a summary: the resolved ``config``, for each data
    file its ``sentences``, ``tokens``, ``tags`` (the count of each IOB2 tag) and ``coverage`` (the
    share of tokens with a word vector); the ``vectors`` kept, the ``task`` and its ``classes``, the
    training ``windows``, the ``output`` folder and what would happen to it (``folder``; ``refused``, the
    error ``train`` would stop with there, or None: a dry run shows the rest all the same), and the
    ``remarks`` training would note.
    """
    output = Path(config.output)
    check_output(config, RUN_FILES)
    try:
        _check_ours(output)
        _check_free(output, overwrite)
        refused = None
    except WindownerError as err:
        refused = str(err)
    tagger, corpus, _ = initialise(config)
    _check_settings(config, corpus)
    data = {}
    for name, sentences in (("train", corpus.train), ("dev", corpus.dev), ("test", corpus.test)):
        path = getattr(config.data, name)
        if path is None:
            continue
        counts = Counter(tag for s in sentences for tag in s.tags)
        order = sorted(counts, key=lambda tag: (tag != "O", entity_type(tag), tag))
        data[name] = {
            "file": path,
            "sentences": len(sentences),
            "tokens": sum(counts.values()),
            "tags": {tag: counts[tag] for tag in order},
            "coverage": corpus.coverage(sentences),
        }
    hidden = stranded(real_folder(output))
    if hidden is not None:
        folder = f"its run is in {hidden} (a stopped --overwrite): train puts it back first"
    elif refused:
        folder = "train would refuse it (see the note)"
    elif _holds_work(output):
        folder = "the run there is replaced once the new one has saved a model (--overwrite)"
    else:
        folder = "a folder that holds no model" if output.exists() else "a new folder"
    return {
        "config": config.to_dict(),
        "data": data,
        "vectors": {"words": len(corpus.vocab) - len(SPECIALS), "dimension": int(corpus.E.shape[1])},
        "task": corpus.task.name,
        "classes": list(corpus.task.classes),
        "windows": data["train"]["tokens"],  # a window a token
        "output": str(output),
        "folder": folder,
        "refused": refused,
        "remarks": _remarks(config, corpus, tagger.model),
    }


RESUMABLE = ("train.epochs", "train.patience")  # the keys `resume` may change
# the keys `resume` does not compare with the checkpoint's config, beside RESUMABLE (see `resume`)
NOT_COMPARED = ("output", "data.train", "data.dev", "data.test", "vectors.path", "vectors.cache")
# nor the paths of the gazetteer lists (the run reads its own copy; what the lists say is in the windows,
# which the fingerprint compares)
NOT_COMPARED_UNDER = ("model.gazetteers.",)


def resume_config(folder: str | Path, overrides: Sequence[str] = ()) -> Config:
    """The config of the run in ``folder`` (its ``config.yaml``), with ``overrides`` of :data:`RESUMABLE`
    keys, writing to ``folder``."""
    folder = Path(folder)
    check_run_folder(folder, (CONFIG_FILE,))
    for item in overrides:
        key = item.partition("=")[0].strip()
        if key not in RESUMABLE:
            raise WindownerError(
                f"--resume continues a run as its config.yaml says: --set may change only"
                f" {' and '.join(RESUMABLE)}, not {quote(key)}"
            )
    config = load_saved_config(folder / CONFIG_FILE, overrides)
    lists = {label: str(folder / path) for label, path in config.model.gazetteers.items()}  # the run's copies
    model = dataclasses.replace(config.model, gazetteers=lists)
    return dataclasses.replace(config, output=str(folder), model=model)


def _echo(echo: Callable[[str], Any] | None, progress: bool | str) -> Callable[[str], Any]:
    """The report lines' printer: ``echo``, or by default ``print`` unless ``progress`` shows nothing."""
    if echo is not None:
        return echo
    return (lambda line: None) if progress in (False, "none") else print


def _progress(progress: bool | str) -> Progress:
    return Progress({True: "bar", False: "none"}.get(progress, progress))  # type: ignore[arg-type]


def _train(
    config: Config,
    progress: Progress,
    echo: Callable[[str], Any],
    overwrite: bool,
    note: Callable[[str], Any] | None,
    quiet: bool,
    resuming: bool,
    on_epoch: Callable[[dict[str, Any]], Any] | None = None,
) -> dict[str, Any]:
    """Train (or go on training, ``resuming``) into ``config.output``, which the caller has locked."""
    note = note or _note
    say = (lambda line: None) if quiet else echo  # the lines before the final results
    settings = config.train
    output = Path(config.output)
    _check_ours(output)
    remove_stale_temporaries(output, SWAPPED)  # what a killed run left: nobody else writes here now
    saved = _read_checkpoint(output) if resuming else None
    if saved is not None:
        _check_same_config(saved.checkpoint.config, config, output)
    if not resuming:
        _check_free(output, overwrite)
    tagger, corpus, rng = initialise(config)
    _check_settings(config, corpus)
    model = tagger.model
    data = examples(tagger, corpus.train, config.data.train)
    optimizer = make_optimizer(settings.optimizer, settings.lr, settings.momentum)
    schedule = make_schedule(settings.lr, settings.schedule)
    trainables = model.trainables()  # θ and the tables: what the optimiser updates
    average = Average(settings.average, trainables) if settings.average else None
    state = Checkpoint(start=_fingerprint(model, data, corpus))  # where training stands, as it goes
    if saved is not None:
        state = _restore(saved, output, tagger, optimizer, average, rng, state.start)
    state.config = config.to_dict()  # a resumed run's new train.epochs or train.patience too
    fine_tune = settings.fine_tune
    say(
        f"{len(data):,} training windows; {len(corpus.dev):,} dev, {len(corpus.test):,} test sentences; "
        f"{len(corpus.vocab) - len(SPECIALS):,} word vectors of dimension {corpus.E.shape[1]}, "
        f"{100 * corpus.coverage(corpus.train):.1f}% of training tokens covered; "
        f"classes: {', '.join(corpus.task.classes)}"
        + (f" (predicting {corpus.task.location_label} only)" if corpus.task.other_types else "")
    )
    seen_rows = np.unique(data.windows[:, 0, config.model.window])  # the rows of the training words
    dev_windows = tagger.windows([s.tokens for s in corpus.dev]) if corpus.dev else None  # once, not an epoch
    if state.losses:
        watch = LossWatch.from_state(state.losses)
    else:  # the loss of the untrained model: what a diverging loss is measured against
        start = starting_loss(model, data, settings.batch_size, settings.l2)
        watch = LossWatch(start, span(settings.batch_size))
    take_step = config_step(config, model, optimizer, rng, average, watch)
    for remark in _remarks(config, corpus, model):
        note(remark)
    folder = output  # where the files go; with --overwrite, first a fresh folder beside it
    existed, marked = output.is_dir(), is_marked(output)
    if saved is not None:
        say(f"resuming {output} {state.where()} (step {state.step:,})")
    elif _holds_work(output):  # --overwrite: the old run stays until the new one has a model
        folder = fresh_sibling(real_folder(output))
    else:  # a folder of ours (or an empty one): what a run that saved no model left goes
        for name in SWAPPED:
            if name != MARKER:
                (output / name).unlink(missing_ok=True)
    swap = _Swap(folder if folder != output else None)
    cleared = _cleared(output, existed)
    with deferred() as signals, _kept_or_removed(swap, output, existed, marked):
        folder.mkdir(parents=True, exist_ok=True)
        mark(folder)  # first: a folder that holds a run file holds the mark
        tagger.save_metadata(folder)
        for epoch in range(state.epoch, settings.epochs + 1):
            started = time.perf_counter() - state.seconds
            batches = _epoch_batches(model, data, settings.batch_size, rng, state)
            steps = len(batches)
            for batch in progress.track(batches, epoch, settings.epochs, steps, state.batch):
                step = state.step + 1
                optimizer.lr = schedule(epoch, step)
                try:
                    loss = take_step(batch)
                except Diverging as problem:  # raised before the batch's update: none of it is applied
                    where = f"batch {state.batch + 1:,} of {steps:,} ({problem})"
                    raise _diverged(epoch, where, settings.lr, state, folder, output, cleared) from None
                state.step, state.batch = step, state.batch + 1
                state.total += loss * len(batch.labels)
                state.seen += len(batch.labels)
                if signals.pending:  # Ctrl-C or SIGTERM: stop here, where the run can go on from
                    state.seconds, state.losses = time.perf_counter() - started, watch.state()
                    _save_checkpoint(folder, state, model, optimizer, average, rng)
                    raise _interrupted(signals.pending, state.where(steps), folder, output)
            optimizer.flush(trainables)
            seconds = time.perf_counter() - started
            mean = state.total / max(state.seen, 1)
            record: dict[str, Any] = {
                "epoch": epoch,
                "loss": mean,
                "lr": optimizer.lr,
                "batches": state.batch,
            }
            record.update(seconds=round(seconds, 3), windows_per_second=round(state.seen / seconds))
            broken = [name for name, value in model.params.items() if not np.isfinite(value).all()]
            if broken:
                where = f"at its end ({broken[0]} is not finite)"
                raise _diverged(epoch, where, settings.lr, state, folder, output, cleared)
            with swapped_in(trainables, average.current(trainables) if average else None):  # θ̄ if averaging
                if fine_tune:
                    record["moved"] = movement(model, seen_rows)
                if model.loss.name == "margin":
                    scored = (corpus.dev, dev_windows) if corpus.dev else (corpus.train, data.windows)
                    model.threshold = choose_threshold(tagger, *scored)
                    record["threshold"] = model.threshold
                if corpus.dev:
                    record["dev"] = tagger.evaluate(corpus.dev, windows=dev_windows)
                score = _selection(record["dev"], settings.select, corpus.task) if corpus.dev else None
                # without a dev file the last epoch is the best
                improved = score is None or score > state.best_score
                if improved:
                    state.best_score, state.best_epoch = score or 0.0, epoch
                    save_model(folder / MODEL_FILE, model)  # the best model so far, on disk at once
                save_model(folder / LAST_FILE, model)
            state.history.append(record)
            write_atomic(folder / HISTORY_FILE, "".join(json.dumps(r) + "\n" for r in state.history))
            state.epoch, state.batch, state.total, state.seen, state.seconds = epoch + 1, 0, 0.0, 0, 0.0
            state.losses = watch.state()
            _save_checkpoint(folder, state, model, optimizer, average, rng)
            if folder != output:  # the new run has a model: it takes the old run's place
                replace_folder(folder, real_folder(output), SWAPPED)  # the old run's plot goes too
                folder, swap.done = output, True
            say(_epoch_line(record, corpus.task, improved))
            if on_epoch is not None:
                on_epoch(record)
            if _stopped_early(settings, state):
                say(f"no better dev {settings.select} F1 for {settings.patience} epochs: stopping early")
                break
            if signals.pending and epoch < settings.epochs:
                raise _interrupted(signals.pending, state.where(), folder, output)
        scores = _finish(corpus, state, output, echo)
        if signals.pending:  # after the last epoch: the run is complete
            raise Terminated(signals.pending, f"after the last epoch; {output} holds the complete run")
        return scores


def train_step(
    model: WindowModel,
    optimizer: Optimizer,
    trainables: dict[str, np.ndarray],
    batch: Batch,
    fine_tune: bool = True,
    l2: float = 0.0,
    l2_vectors: float = 0.0,
    rng: np.random.Generator | None = None,
    average: Average | None = None,
    watch: LossWatch | None = None,
) -> float:
    """One training step on ``batch``, as ``train`` takes it (the benchmarks take it too); returns the
    batch's mean loss. ``trainables`` is ``model.trainables()``.

    1. A lazy rule that moves untouched rows (SGD with momentum) first brings the rows the batch reads
       where the dense rule has them (:meth:`~windowner.optim.Optimizer.prepare`).
    2. The loss and gradients (``rng`` draws the dropout masks of the model's nonzero rates; None: no
       dropout).
    3. With a ``watch``, a diverging loss raises :class:`~windowner.divergence.Diverging` before the
       update (the catch-up of step 1 is done: it moves rows only where the dense rule has them).
    4. The optimiser's update, with the moving average of the weights (``average``) kept around it.
    """
    if optimizer.moves_untouched:
        optimizer.prepare(trainables, model.rows_read(batch.windows, fine_tune))
    # A diverging run is for ``watch`` to catch, not for numpy's warnings: an overflowing loss, or an
    # update that overflows (Adam's g² at lr 1e6), which makes the next batch's loss inf or nan.
    with np.errstate(over="ignore", invalid="ignore"):
        loss, grads = model.loss_and_grads(batch, l2, l2_vectors, fine_tune, rng)
        if watch is not None:
            problem = watch.problem(loss)
            if problem:
                raise Diverging(problem)
        grads = model.packed(grads)
        if average:
            average.before_step(trainables, grads)
        optimizer.step(trainables, grads)
        if average:
            average.after_step(trainables, grads)
    return loss


def config_step(
    config: Config,
    model: WindowModel,
    optimizer: Optimizer,
    rng: np.random.Generator,
    average: Average | None = None,
    watch: LossWatch | None = None,
) -> Callable[[Batch], float]:
    """:func:`train_step` with what ``config`` sets bound (fine-tuning, the penalties; ``rng`` draws
    the dropout masks the model's rates call for): the step of a run, a function of the batch."""
    settings = config.train
    return functools.partial(
        train_step,
        model,
        optimizer,
        model.trainables(),
        fine_tune=settings.fine_tune,
        l2=settings.l2,
        l2_vectors=settings.l2_vectors,
        rng=rng,
        average=average,
        watch=watch,
    )


@dataclass
class _Swap:
    """The fresh folder of ``--overwrite`` (None: training goes into the output folder itself), and
    whether it has taken the old run's place."""

    fresh: Path | None
    done: bool = False


@contextmanager
def _kept_or_removed(swap: _Swap, output: Path, existed: bool, marked: bool) -> Iterator[None]:
    """What a run that fails (an error, a divergence, a signal) leaves.

    The fresh folder of ``--overwrite`` is discarded if it never took the old run's place (the old run
    stays as it was; files of the user's that were on their way go back). A run that saved neither a
    model nor a checkpoint leaves nothing: its files are removed, and its folder if the run made it (an
    empty folder it was given stays, empty). A second signal, which stops at once, gets the sentence
    that says what was kept.
    """
    try:
        yield
    except BaseException as err:
        if swap.fresh is not None and not swap.done:
            if swap.fresh.exists():
                discard(swap.fresh, real_folder(output), SWAPPED)
            kept = f"before the new run had a model; {output} still holds the old run"
        elif (output / CHECKPOINT_FILE).exists():
            command = f"windowner train --resume {shlex.quote(str(output))}"
            kept = f"its last checkpoint stays: continue with {command}"
        elif (output / MODEL_FILE).exists():
            kept = f"the best model so far is in {output}"
        else:
            for name in SWAPPED:
                if name != MARKER or not marked:
                    (output / name).unlink(missing_ok=True)
            remove_stale_temporaries(output, SWAPPED)
            if not existed:
                try:
                    output.rmdir()
                except OSError:  # something else was written there meanwhile: it stays
                    pass
            kept = _cleared(output, existed)
        if isinstance(err, Terminated) and not err.detail:
            err.detail = f"at once (a second signal); {kept}"
        raise


def _cleared(output: Path, existed: bool) -> str:
    """What a run that saved neither a model nor a checkpoint says it left."""
    where = f"its files were removed from {output}" if existed else f"{output} was removed"
    return f"no model and no checkpoint had been saved: nothing was kept ({where})"


def _finish(corpus: Corpus, state: Checkpoint, output: Path, echo: Callable[[str], Any]) -> dict[str, Any]:
    """The best epoch's dev scores and its model's test scores: ``scores.json``, the final lines."""
    best_epoch = state.best_epoch
    scores: dict[str, Any] = {"best_epoch": best_epoch}
    if corpus.dev:
        scores["dev"] = state.history[best_epoch - 1]["dev"]
        echo(f"dev (epoch {best_epoch} model): {_summary(scores['dev'], corpus.task)}")
    if corpus.test:
        scores["test"] = Tagger.load(output).evaluate(corpus.test)
        echo(f"test (epoch {best_epoch} model): {_summary(scores['test'], corpus.task)}")
    write_atomic(output / SCORES_FILE, json.dumps(scores, indent=2) + "\n")
    echo(f"saved the best model (epoch {best_epoch}) in {output}")
    return scores


def _read_checkpoint(output: Path) -> Saved:
    if not (output / CHECKPOINT_FILE).is_file():
        raise WindownerError(
            f"{output} has no {CHECKPOINT_FILE} to resume from (a run of a windowner that did not save"
            " checkpoints, or one stopped before its first batch)"
        )
    return load_checkpoint(output / CHECKPOINT_FILE)


def _epoch_batches(
    model: WindowModel, data: Examples, batch_size: int, rng: np.random.Generator, state: Checkpoint
) -> Epoch:
    """The batches of the epoch ``state.epoch`` still to do, with ``rng`` where the run had it.

    At the start of an epoch the loss draws its order from ``rng`` as it stands (noted in the state).
    After ``state.batch`` batches of it (a resumed run), the generator is set back to the epoch's start,
    the loss draws the same order again and the batches done are skipped, and the generator is set to its
    state after the last of them (dropout and corruptions drew from it in between).
    """
    if state.batch == 0:
        state.rng_epoch = rng.bit_generator.state
        return model.loss.batches(data, batch_size, rng)
    rng.bit_generator.state = state.rng_epoch
    batches = model.loss.batches(data, batch_size, rng)
    for _ in range(state.batch):
        next(batches)
    rng.bit_generator.state = state.rng
    return batches


def _save_checkpoint(
    folder: Path,
    state: Checkpoint,
    model: WindowModel,
    optimizer: Optimizer,
    average: Average | None,
    rng: np.random.Generator,
) -> None:
    """The checkpoint: the loop state, the weights θ (not θ̄), the optimiser's state and the average's."""
    state.rng = rng.bit_generator.state
    threshold = model.threshold if model.loss.binary else None
    training = {**optimizer.state_dict(), **(average.state_dict() if average else {})}
    save_checkpoint(folder / CHECKPOINT_FILE, state, model.params, training, threshold)


def _restore(
    saved: Saved,
    output: Path,
    tagger: Tagger,
    optimizer: Optimizer,
    average: Average | None,
    rng: np.random.Generator,
    start: str,
) -> Checkpoint:
    """Put the model, the optimiser and the generator where the checkpoint has them; returns its state."""
    path, state, model = output / CHECKPOINT_FILE, saved.checkpoint, tagger.model
    if state.start != start:
        raise WindownerError(
            f"{output}: the training data, the dev data or the word vectors differ from those the run"
            " started with (a file has changed?): it cannot be resumed exactly"
        )
    settings = tagger.config.train
    if state.batch == 0 and state.epoch > settings.epochs:
        done = state.epoch - 1
        raise WindownerError(
            f"{output} has finished its {done} epochs: to train it on, add --set train.epochs=N (N > {done})"
        )
    if state.batch == 0 and _stopped_early(settings, state):
        raise WindownerError(
            f"{output} stopped early after epoch {state.epoch - 1} (train.patience {settings.patience}):"
            " to train it on, add --set train.patience=N (more, or 0 for never)"
        )
    if set(saved.params) != set(model.params):
        raise WindownerError(
            f"{path}: holds the parameters {', '.join(sorted(saved.params))}, not those of the run's model"
        )
    for name, value in model.params.items():
        check_parameter(path, name, saved.params[name], value.shape, value.dtype)
        np.copyto(value, saved.params[name])
    if saved.threshold is not None:
        model.threshold = saved.threshold
    averaged = {key: value for key, value in saved.optimizer.items() if key.startswith("average")}
    if bool(averaged) != bool(average):
        raise WindownerError(f"{path}: train.average differs from the run's: it cannot be resumed exactly")
    optimizer.load_state_dict({key: v for key, v in saved.optimizer.items() if key not in averaged})
    if average:
        average.load_state_dict(averaged)
    rng.bit_generator.state = state.rng
    return state


def _check_same_config(saved: dict[str, Any] | None, config: Config, output: Path) -> None:
    """Refuse to resume when a setting of ``config`` (the run's config.yaml as it is now) differs from
    the one the checkpoint recorded (``saved``; None: a checkpoint of a windowner that did not record
    it). A key one of them lacks (a setting of another version of windowner) is not compared."""
    if saved is None:
        return
    before, now = _flat(saved), _flat(config.to_dict())
    skip = {*RESUMABLE, *NOT_COMPARED}
    changed = [
        key
        for key in now
        if key in before
        and key not in skip
        and not key.startswith(NOT_COMPARED_UNDER)
        and before[key] != now[key]
    ]
    if not changed:
        return
    changes = ", ".join(f"{key} {quote(before[key])} -> {quote(now[key])}" for key in changed)
    raise WindownerError(
        f"{output / CONFIG_FILE} differs from the config the run was trained with ({changes}):"
        f" --resume continues a run only as it began (it may change {' and '.join(RESUMABLE)});"
        f" put the old value{'s' if len(changed) > 1 else ''} back to resume it, or train a new run with the"
        f" new (windowner train --config {shlex.quote(str(output / CONFIG_FILE))} --output NEW_FOLDER)"
    )


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 0.1}}`` as ``{"train.lr": 0.1}``."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def _fingerprint(model: WindowModel, data: Examples, corpus: Corpus) -> str:
    """What a resumed run must start from as the run did: the untrained model (its word vectors among
    it), the training examples and the dev sentences."""
    dev = "\n".join(" ".join(f"{t} {g}" for t, g in zip(s.tokens, s.tags, strict=True)) for s in corpus.dev)
    arrays = {"train.windows": data.windows, "train.labels": data.labels, "train.lengths": data.lengths}
    arrays["dev"] = np.frombuffer(dev.encode("utf-8"), dtype=np.uint8)
    return fingerprint({**{f"param.{name}": value for name, value in model.params.items()}, **arrays})


def _stopped_early(settings: Any, state: Checkpoint) -> bool:
    """Whether ``train.patience`` ends the run after the last finished epoch."""
    return bool(settings.patience) and state.epoch - 1 - state.best_epoch >= settings.patience


def _holds_work(output: Path) -> bool:
    return (output / MODEL_FILE).exists() or (output / CHECKPOINT_FILE).exists()


def _check_ours(output: Path) -> None:
    """A folder windowner did not make is the user's: a run goes only into a new folder, an empty one or a
    run folder (one that holds :data:`~windowner.folders.MARKER`, or the run of a windowner from before
    the mark: config.yaml, vocab.txt, labels.json and a model or a checkpoint)."""
    if not output.is_dir() or is_marked(output):
        return
    earlier = all((output / name).is_file() for name in (CONFIG_FILE, VOCAB_FILE, LABELS_FILE))
    if earlier and _holds_work(output):
        return
    names = sorted(name for name in os.listdir(output) if not is_temporary(name, SWAPPED))
    if names:  # (the temporary files of a run that was killed are no one's)
        shown = ", ".join(quote(name) for name in names[:3])
        shown += f" and {len(names) - 3:,} more" if len(names) > 3 else ""
        raise WindownerError(
            f"{output} is a folder of yours, not a run folder (windowner did not make it; it holds {shown}):"
            " give the run a new or an empty folder (--output), or move those files away"
        )


def _check_free(output: Path, overwrite: bool) -> None:
    """A folder that holds a model or a checkpoint is trained into only with ``overwrite``."""
    if overwrite or not _holds_work(output):
        return
    if not (output / MODEL_FILE).exists():
        raise WindownerError(
            f"{output} holds an interrupted run: continue it (windowner train --resume {output}),"
            " replace it (--overwrite) or choose another output folder (--output)"
        )
    go_on = (
        f", or continue it if it was stopped (--resume {output})"
        if (output / CHECKPOINT_FILE).exists()
        else ""
    )
    raise WindownerError(
        f"{output} already holds a trained model: choose another output folder (--output),"
        f" or replace it (--overwrite){go_on}"
    )


def _check_settings(config: Config, corpus: Corpus) -> None:
    """Settings that need a dev file, and a ``train.select`` the dev data can score, before any training."""
    settings = config.train
    if not corpus.dev:
        for key, value, default in (("patience", settings.patience, 0), ("select", settings.select, "micro")):
            if value != default:
                raise WindownerError(
                    f"train.{key} {quote(value)} needs a dev file (data.dev) to tell a better epoch"
                )
        return
    types = sorted({entity_type(tag) for s in corpus.dev for tag in corpus.task.reference(s)} - {""})
    if settings.select not in ("micro", "tokens", *types):
        raise WindownerError(
            f"train.select {settings.select!r}: the dev data has no such entity type"
            f" (it has {', '.join(types) or 'none'}; or micro, or tokens)"
        )


def _selection(report: dict[str, Any], select: str, task: Task) -> float:
    """The dev F1 that ``train.select`` names (checked before the first step): the micro entity F1, an
    entity type's, or (``tokens``) the token F1 of the location type, as the lecture scores its task."""
    if select == "tokens":
        return report["tokens"][task.location_label]["f1"]
    return report["entities"][select]["f1"]


COVERAGE_WARNING = 0.5  # a note when fewer training tokens than this have a word vector


def _remarks(config: Config, corpus: Corpus, model: WindowModel) -> list[str]:
    """Notes before training: what fine-tuning with dense Adam costs, a low vector coverage."""
    remarks = []
    if config.train.fine_tune and config.train.optimizer == "adam":
        remarks.append(
            f"adam fine-tunes E with the dense rule: every step updates all {model.params['E'].size:,}"
            " entries of E, not only the rows of the batch; train.optimizer: sparse_adam updates only those"
        )
    coverage = corpus.coverage(corpus.train)
    if coverage < COVERAGE_WARNING:
        remarks.append(
            f"only {100 * coverage:.1f}% of the training tokens have a vector in {config.vectors.path}:"
            " the others all read <unk> (check vectors.path and vectors.lowercase)"
        )
    return remarks


def _diverged(
    epoch: int, where: str, lr: float, state: Checkpoint, folder: Path, output: Path, cleared: str
) -> WindownerError:
    """The error of a run that diverged ``where`` in ``epoch`` (a batch and what was wrong): what to do,
    what is kept (``cleared``: what a run that saved nothing says, see :func:`_kept_or_removed`)."""
    if folder != output:
        kept = f"; {output} still holds the run it was to replace"
    elif state.best_epoch:
        kept = f"; the best model so far (epoch {state.best_epoch}) is in {output}"
    elif (output / CHECKPOINT_FILE).exists():
        kept = f"; {output} keeps the checkpoint it was resumed from"
    else:
        kept = f"; {cleared}"
    return WindownerError(f"training diverged in epoch {epoch}, {where}: lower train.lr (now {lr:g}){kept}")


def _interrupted(signum: int, where: str, folder: Path, output: Path) -> Terminated:
    """What Ctrl-C or SIGTERM raises once the checkpoint is saved: where and how to go on."""
    if folder != output:
        return Terminated(
            signum, f"{where}, before the new run had a model; {output} still holds the old run"
        )
    command = f"windowner train --resume {shlex.quote(str(output))}"
    return Terminated(signum, f"{where}; saved a checkpoint: continue with {command}")


def movement(model: WindowModel, seen: np.ndarray) -> dict[str, float]:
    """How far fine-tuning has moved the word vectors: the mean and largest ‖E[v] − E₀[v]‖ over the rows
    of words seen in training (``seen``), and the largest over every other word's row (0: the lecture's
    "television", a word seen only at test time, never moves). The special rows are left out."""
    distance = np.linalg.norm((model.params["E"] - model.pretrained).astype(np.float64), axis=1)
    seen = seen[seen >= len(SPECIALS)]
    others = np.ones(len(distance), dtype=bool)
    others[seen] = False
    others[: len(SPECIALS)] = False
    unseen = float(distance[others].max()) if others.any() else 0.0
    seen_mean = float(distance[seen].mean()) if len(seen) else 0.0
    seen_max = float(distance[seen].max()) if len(seen) else 0.0
    return {"seen_mean": seen_mean, "seen_max": seen_max, "unseen_max": unseen}


def choose_threshold(
    tagger: Tagger, sentences: Sequence[Sentence], windows: np.ndarray | None = None
) -> float:
    """The decision threshold θ of a single-score model that maximises the location token F1 on
    ``sentences``: with the scores sorted from the highest, predicting the top k as locations has
    F1 = 2·TP_k / (k + P); θ is taken halfway between the k-th and the (k+1)-th score of the best k.
    ``windows``: the sentences' windows, if the caller has them already."""
    model = tagger.model
    model.threshold = 0.0
    if windows is None:
        windows = tagger.windows([s.tokens for s in sentences])
    scores = model.scores(windows)[:, 1]  # s − 0
    truth = tagger.task.targets(sentences) == 1
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], np.cumsum(truth[order])
    cut = np.flatnonzero(np.diff(ranked) < 0)  # cut after position k only between distinct scores
    if not len(cut) or not truth.any():
        return 0.0
    f1 = 2.0 * hits[cut] / (cut + 1 + truth.sum())
    k = cut[int(np.argmax(f1))]
    return float((ranked[k] + ranked[k + 1]) / 2.0)


def _epoch_line(record: dict[str, Any], task: Task, improved: bool) -> str:
    line = f"epoch {record['epoch']:>3}  loss {record['loss']:.4f}  lr {record['lr']:.3g}"
    line += f"  {record['seconds']:.1f}s"
    if "dev" in record:
        line += f"  dev {_summary(record['dev'], task)}"
    return line + ("  *" if improved else "")


def _summary(report: dict[str, Any], task: Task) -> str:
    """Micro entity P/R/F1, then the F1 of the location type's entities and of its tokens."""
    micro, label = report["entities"]["micro"], task.location_label
    location = report["entities"].get(label, {"f1": 0.0})  # neither in the gold data nor predicted: 0
    tokens = report["tokens"][label]
    return (
        f"entity P/R/F1 {100 * micro['precision']:.2f}/{100 * micro['recall']:.2f}/{100 * micro['f1']:.2f}"
        f"  {label} entity F1 {100 * location['f1']:.2f}  {label} token F1 {100 * tokens['f1']:.2f}"
    )
