"""Training a run: ``train``, ``resume`` and the loop of epochs and steps (``train_folder``,
``train_step``; what an epoch reports is :mod:`windowner.training.epochs`, ``train --dry-run``
:mod:`windowner.training.dry_run`)."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..base.errors import Terminated
from ..base.files import remove_stale_temporaries, write_atomic
from ..base.threads import blas_threads
from ..config import Config, check_output
from ..data.vocab import SPECIALS
from ..network.losses import Batch
from ..network.model import WindowModel
from ..optim import Optimizer, make_optimizer
from ..optim.averaging import Average, swapped_in
from ..optim.schedules import make_schedule
from ..tagging.checkpoint import (
    Checkpoint,
)
from ..tagging.folders import (
    check_folds,
    fresh_sibling,
    is_marked,
    locked,
    mark,
    real_folder,
    replace_folder,
    stranded,
)
from ..tagging.run_files import (
    CONFIG_FILE,
    HISTORY_FILE,
    LAST_FILE,
    MODEL_FILE,
    RUN_FILES,
    check_run_folder,
    save_model,
)
from ..tagging.tagger import Tagger
from .corpus import Corpus, check_settings, examples, initialise, settings_remarks, start_fingerprint
from .divergence import Diverging, LossWatch, span, starting_loss
from .documents import train_two_pass
from .epochs import choose_threshold, epoch_batches, epoch_line, finish_run, movement, selection
from .folder import (
    SWAPPED,
    Swap,
    check_free,
    check_ours,
    check_same_config,
    cleared_message,
    diverged_error,
    holds_any_work,
    holds_folder,
    holds_work,
    interrupted_error,
    kept_or_removed,
    note_stderr,
    old_run_kept,
    put_back_stranded,
    read_run_checkpoint,
    remove_run_files,
    restore_checkpoint,
    resume_command,
    resume_config,
    save_run_checkpoint,
    stopped_early,
)
from .interrupts import deferred
from .progress import Progress


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

    The folder is locked while training (:func:`windowner.tagging.folders.locked`: a second run into it fails
    at once). A folder that already holds a trained model or a checkpoint is an error unless ``overwrite``:
    the new run then trains in a fresh folder beside it and takes the old run's place only once it has
    saved a model, so that an interrupt, a divergence or an error before that leaves the old run as it
    was. A folder windowner did not make (it holds no :data:`~windowner.tagging.folders.MARKER`) and that is
    not empty is the user's: refused, every file in it left as it was. ``echo`` prints the report lines (with
    ``quiet`` only the final results; None: ``print`` them to stdout when ``progress`` shows anything, and
    print nothing with ``progress=False``, so that a library call is quiet unless asked), ``note`` the
    remarks (stderr); ``progress`` is a mode of :class:`~windowner.training.progress.Progress` (True: ``bar``,
    False: ``none``). The matrix products use the BLAS threads of :mod:`windowner.base.threads`.

    Ctrl-C and SIGTERM (see :mod:`windowner.training.interrupts`) end the batch in progress, save a checkpoint
    and raise :class:`~windowner.base.errors.Terminated`, whose message says how to go on (:func:`resume`).

    ``on_epoch`` is called with each epoch's history record once the epoch is saved (its checkpoint
    too); an exception it raises stops the run there, resumable (a sweep prunes a trial this way).
    """
    check_output(config, RUN_FILES)
    note = note or note_stderr
    with (
        blas_threads(config.train.threads),
        locked(config.output),
    ):
        check_folds(Path(config.output))  # no other training in one of its folds
        put_back_stranded(Path(config.output), note)
        how = two_pass_training(config) or train_folder
        return how(
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
    note = note or note_stderr
    if stranded(real_folder(folder)) is None:
        check_run_folder(Path(folder), (CONFIG_FILE,))  # before the lock, which makes missing parent folders
    with locked(folder):
        check_folds(Path(folder))  # no other training in one of its folds
        put_back_stranded(Path(folder), note)
        config = resume_config(folder, overrides)
        check_output(config, RUN_FILES)
        with blas_threads(config.train.threads):
            how = two_pass_training(config) or train_folder
            return how(config, _progress(progress), _echo(echo, progress), False, note, quiet, True, on_epoch)


def two_pass_training(config: Config) -> Callable[..., dict[str, Any]] | None:
    """The stages of a run with the document feature (:mod:`windowner.training.documents`), or None."""
    return train_two_pass if config.model.features.document else None


def _echo(echo: Callable[[str], Any] | None, progress: bool | str) -> Callable[[str], Any]:
    """The report lines' printer: ``echo``, or by default ``print`` unless ``progress`` shows nothing."""
    if echo is not None:
        return echo
    return (lambda line: None) if progress in (False, "none") else print


def _progress(progress: bool | str) -> Progress:
    return Progress({True: "bar", False: "none"}.get(progress, progress))  # type: ignore[arg-type]


def train_folder(
    config: Config,
    progress: Progress,
    echo: Callable[[str], Any],
    overwrite: bool,
    note: Callable[[str], Any] | None,
    quiet: bool,
    resuming: bool,
    on_epoch: Callable[[dict[str, Any]], Any] | None = None,
    prepare: Callable[[Tagger, Corpus], Sequence[str]] | None = None,
    cleared: str | None = None,
    swap: Swap | None = None,
    resumed_by: Path | None = None,
) -> dict[str, Any]:
    """Train (or go on training, ``resuming``) into ``config.output``, which the caller has locked;
    ``prepare(tagger, corpus)`` readies the new tagger and returns the document feature's training keys;
    ``cleared``: what a run that saves nothing says it left (default: :func:`cleared_message`, for a
    folder that holds nothing else of the run's); ``swap``: the replacement this training is a stage of
    (an ``--overwrite`` of a document run: the fresh folder the run trains in until it takes the old
    run's place, or the old run a fold's failure leaves as it was; None: this training's own);
    ``resumed_by``: the folder whose ``train --resume`` goes on with this training (a document run's, for
    its folds; None: ``config.output``)."""
    note = note or note_stderr
    say = (lambda line: None) if quiet else echo  # the lines before the final results
    settings = config.train
    output = Path(config.output)
    check_ours(output)
    remove_stale_temporaries(output, SWAPPED)  # what a killed run left: nobody else writes here now
    saved = read_run_checkpoint(output) if resuming else None
    if saved is not None:
        check_same_config(saved.checkpoint.config, config, output)
    own_folds = prepare is not None  # a document run's last stage: the folds in its folder are its own
    if not resuming:
        check_free(output, overwrite, folds=not own_folds)
    tagger, corpus, rng = initialise(config)
    check_settings(config, corpus)
    model = tagger.model
    keys = prepare(tagger, corpus) if prepare is not None else None
    data = examples(tagger, corpus.train, config.data.train, keys)
    optimizer = make_optimizer(settings.optimizer, settings.lr, settings.momentum)
    schedule = make_schedule(settings.lr, settings.schedule)
    trainables = model.trainables()  # θ and the tables: what the optimiser updates
    average = Average(settings.average, trainables) if settings.average else None
    state = Checkpoint(start=start_fingerprint(model, data, corpus))  # where training stands, as it goes
    if saved is not None:
        state = restore_checkpoint(saved, output, tagger, optimizer, average, rng, state.start)
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
    dev = ([s.tokens for s in corpus.dev], [s.document for s in corpus.dev])
    dev_windows = tagger.windows(*dev) if corpus.dev else None  # once, not an epoch
    if state.losses:
        watch = LossWatch.from_state(state.losses)
    else:  # the loss of the untrained model: what a diverging loss is measured against
        start = starting_loss(model, data, settings.batch_size, settings.l2)
        watch = LossWatch(start, span(settings.batch_size))
    take_step = config_step(config, model, optimizer, rng, average, watch)
    for remark in settings_remarks(config, corpus, model):
        note(remark)
    folder = output  # where the files go; with --overwrite, first a fresh folder beside it
    existed, marked = output.is_dir(), is_marked(output)
    if saved is not None:
        say(f"resuming {output} {state.where()} (step {state.step:,})")
    elif swap is not None:  # a stage of a replacement: in a folder of its own, new
        folder = swap.fresh or output
    elif (holds_work if own_folds else holds_any_work)(output):  # --overwrite: the old run stays
        folder = fresh_sibling(real_folder(output))
    else:  # a folder of ours (or an empty one): what a run that saved no model left goes
        remove_run_files(output, keep_mark=True)
    swap = swap or Swap(folder if folder != output else None)
    cleared = cleared or cleared_message(output, existed)
    go_on = resume_command(resumed_by or output)
    with deferred() as signals, kept_or_removed(swap, output, existed, marked, cleared, go_on):
        folder.mkdir(parents=True, exist_ok=True)
        mark(folder)  # first: a folder that holds a run file holds the mark
        tagger.save_metadata(folder)
        for epoch in range(state.epoch, settings.epochs + 1):
            started = time.perf_counter() - state.seconds
            batches = epoch_batches(model, data, settings.batch_size, rng, state)
            steps = len(batches)
            for batch in progress.track(batches, epoch, settings.epochs, steps, state.batch):
                step = state.step + 1
                optimizer.lr = schedule(epoch, step)
                try:
                    loss = take_step(batch)
                except Diverging as problem:  # raised before the batch's update: none of it is applied
                    where = f"batch {state.batch + 1:,} of {steps:,} ({problem})"
                    raise diverged_error(
                        epoch, where, settings.lr, state, folder, output, cleared, swap
                    ) from None
                state.step, state.batch = step, state.batch + 1
                state.total += loss * len(batch.labels)
                state.seen += len(batch.labels)
                if signals.pending:  # Ctrl-C or SIGTERM: stop here, where the run can go on from
                    state.seconds, state.losses = time.perf_counter() - started, watch.state()
                    save_run_checkpoint(folder, state, model, optimizer, average, rng)
                    raise interrupted_error(signals.pending, state.where(steps), folder, output, swap, go_on)
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
                raise diverged_error(epoch, where, settings.lr, state, folder, output, cleared, swap)
            with swapped_in(trainables, average.current(trainables) if average else None):  # θ̄ if averaging
                if fine_tune:
                    record["moved"] = movement(model, seen_rows)
                if model.loss.name == "margin":
                    scored = (corpus.dev, dev_windows) if corpus.dev else (corpus.train, data.windows)
                    model.threshold = choose_threshold(tagger, *scored)
                    record["threshold"] = model.threshold
                if corpus.dev:
                    record["dev"] = tagger.evaluate(corpus.dev, windows=dev_windows)
                score = selection(record["dev"], settings.select, corpus.task) if corpus.dev else None
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
            save_run_checkpoint(folder, state, model, optimizer, average, rng)
            if folder != output:  # the new run has a model: it takes the old run's place
                new = folder.stat().st_ino
                try:
                    replace_folder(folder, real_folder(output), SWAPPED)  # the old run's plot goes too
                finally:  # it has the place once it has the name, whatever stopped the rest of the swap
                    swap.done = holds_folder(output, new)
                folder = output
            say(epoch_line(record, corpus.task, improved))
            if on_epoch is not None:
                on_epoch(record)
            if stopped_early(settings, state):
                say(f"no better dev {settings.select} F1 for {settings.patience} epochs: stopping early")
                break
            if signals.pending and epoch < settings.epochs:
                raise interrupted_error(signals.pending, state.where(), folder, output, swap, go_on)
        scores = finish_run(corpus, state, output, echo)
        if signals.pending:  # after the last epoch: the run is complete
            if swap.replacing is not None:
                done = old_run_kept(swap.replacing)
            elif resumed_by is not None:  # a stage of a run: the run goes on
                done = f"{output} has finished: continue with {go_on}"
            else:
                done = f"{output} holds the complete run"
            raise Terminated(signals.pending, f"after the last epoch; {done}")
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
    3. With a ``watch``, a diverging loss raises :class:`~windowner.training.divergence.Diverging` before the
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
