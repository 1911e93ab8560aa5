"""The run folder's bookkeeping while a run trains: which folders may be trained into (a new, an empty
or a windowner folder), what ``--overwrite`` swaps, checkpoints written and read back, what ``--resume``
checks (the same config, the same data), and what a stop (an error, a divergence, an interrupt) leaves.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..base.errors import Terminated, WindownerError, quote
from ..base.files import is_temporary, remove_stale_temporaries
from ..config import Config, flatten, load_saved_config
from ..network.model import WindowModel
from ..optim import Optimizer
from ..optim.averaging import Average
from ..tagging.checkpoint import (
    CHECKPOINT_FILE,
    Checkpoint,
    Saved,
    load_checkpoint,
    save_checkpoint,
)
from ..tagging.folders import (
    FOLDS,
    MARKER,
    discard,
    is_marked,
    real_folder,
    recover,
)
from ..tagging.run_files import (
    CONFIG_FILE,
    LABELS_FILE,
    MODEL_FILE,
    PLOT_FILE,
    RUN_FILES,
    VOCAB_FILE,
    check_parameter,
    check_run_folder,
)
from ..tagging.tagger import Tagger

SWAPPED = (*RUN_FILES, PLOT_FILE)  # the files of a run folder that --overwrite replaces (the old plot too)


def note_stderr(message: str) -> None:
    print(f"windowner: note: {message}", file=sys.stderr)


def put_back_stranded(output: Path, note: Callable[[str], Any]) -> None:
    """Put back what a killed ``--overwrite`` left beside ``output`` (its lock held), and say so."""
    for line in recover(real_folder(output), SWAPPED):
        note(line)


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


@dataclass
class Swap:
    """The fresh folder of ``--overwrite`` (None: training goes into the output folder itself), and
    whether it has taken the old run's place. ``replacing``: the run that a training is one stage of the
    replacement of (a fold of a document run's ``--overwrite``, trained in the run's fresh folder): a
    failure leaves that run as it was, and the caller removes the fresh folder."""

    fresh: Path | None
    done: bool = False
    replacing: Path | None = None


def remove_run_files(output: Path, keep_mark: bool) -> None:
    """Delete the run files of ``output`` (a folder of such a name is not one), the mark too unless
    ``keep_mark``, and the temporary files a killed run left."""
    for name in SWAPPED:
        path = output / name
        if (name != MARKER or not keep_mark) and (path.is_symlink() or not path.is_dir()):
            path.unlink(missing_ok=True)
    remove_stale_temporaries(output, SWAPPED)


@contextmanager
def kept_or_removed(
    swap: Swap, output: Path, existed: bool, marked: bool, cleared: str, go_on: str
) -> Iterator[None]:
    """What a run that fails (an error, a divergence, a signal) leaves (``go_on``: the command that
    continues it, :func:`resume_command`).

    The fresh folder of ``--overwrite`` is discarded if it never took the old run's place (the old run
    stays as it was; files of the user's that were on their way go back). A run that saved neither a
    model nor a checkpoint leaves nothing: its files are removed, and its folder if the run made it (an
    empty folder it was given stays, empty), and says so with ``cleared``. A second signal, which stops at
    once, gets the sentence that says what was kept.
    """
    try:
        yield
    except BaseException as err:
        if swap.replacing is not None:
            kept = old_run_kept(swap.replacing)
        elif swap.fresh is not None and not swap.done:
            if swap.fresh.exists():
                discard(swap.fresh, real_folder(output), SWAPPED)
            kept = old_run_kept(output)
        elif (output / CHECKPOINT_FILE).exists():
            kept = f"its last checkpoint stays: continue with {go_on}"
        elif (output / MODEL_FILE).exists():
            kept = f"the best model so far is in {output}"
        else:
            remove_run_files(output, keep_mark=marked)
            if not existed:
                try:
                    output.rmdir()
                except OSError:  # something else was written there meanwhile: it stays
                    pass
            kept = cleared
        if isinstance(err, Terminated) and not err.detail:
            err.detail = f"at once (a second signal); {kept}"
        raise


def holds_folder(path: Path, inode: int) -> bool:
    """Whether ``path`` names the folder whose inode is ``inode`` (a fresh folder that took its place)."""
    try:
        return path.stat().st_ino == inode
    except OSError:
        return False


def old_run_kept(old: Path) -> str:
    """What a replacement (``--overwrite``) stopped before it took the old run's place says it left."""
    return f"before the new run had a model; {old} still holds the old run"


def cleared_message(output: Path, existed: bool) -> str:
    """What a run that saved neither a model nor a checkpoint says it left."""
    where = f"its files were removed from {output}" if existed else f"{output} was removed"
    return f"no model and no checkpoint had been saved: nothing was kept ({where})"


def read_run_checkpoint(output: Path) -> Saved:
    if not (output / CHECKPOINT_FILE).is_file():
        raise WindownerError(
            f"{output} has no {CHECKPOINT_FILE} to resume from (a run of a windowner that did not save"
            " checkpoints, or one stopped before its first batch)"
        )
    return load_checkpoint(output / CHECKPOINT_FILE)


def save_run_checkpoint(
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


def restore_checkpoint(
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
    if state.batch == 0 and stopped_early(settings, state):
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


def check_same_config(saved: dict[str, Any] | None, config: Config, output: Path) -> None:
    """Refuse to resume when a setting of ``config`` (the run's config.yaml as it is now) differs from
    the one the checkpoint recorded (``saved``; None: a checkpoint of a windowner that did not record
    it). A key one of them lacks (a setting of another version of windowner) is not compared."""
    if saved is None:
        return
    before, now = flatten(saved), flatten(config.to_dict())
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


def stopped_early(settings: Any, state: Checkpoint) -> bool:
    """Whether ``train.patience`` ends the run after the last finished epoch."""
    return bool(settings.patience) and state.epoch - 1 - state.best_epoch >= settings.patience


def holds_work(output: Path) -> bool:
    return (output / MODEL_FILE).exists() or (output / CHECKPOINT_FILE).exists()


def check_ours(output: Path) -> None:
    """A folder windowner did not make is the user's: a run goes only into a new folder, an empty one or a
    run folder (one that holds :data:`~windowner.tagging.folders.MARKER`, or the run of a windowner from
    before the mark: config.yaml, vocab.txt, labels.json and a model or a checkpoint)."""
    if not output.is_dir() or is_marked(output):
        return
    earlier = all((output / name).is_file() for name in (CONFIG_FILE, VOCAB_FILE, LABELS_FILE))
    if earlier and holds_work(output):
        return
    names = sorted(name for name in os.listdir(output) if not is_temporary(name, SWAPPED))
    if names:  # (the temporary files of a run that was killed are no one's)
        shown = ", ".join(quote(name) for name in names[:3])
        shown += f" and {len(names) - 3:,} more" if len(names) > 3 else ""
        raise WindownerError(
            f"{output} is a folder of yours, not a run folder (windowner did not make it; it holds {shown}):"
            " give the run a new or an empty folder (--output), or move those files away"
        )


def holds_any_work(output: Path) -> bool:
    """Whether ``output`` or one of its folds (a document run's first stages) holds a model or a
    checkpoint: what ``--overwrite`` replaces."""
    return holds_work(output) or any(holds_work(output / name) for name in FOLDS)


def check_free(output: Path, overwrite: bool, folds: bool = True) -> None:
    """A folder that holds a model or a checkpoint, itself or (``folds``: they are not the training's
    own) in a fold, is trained into only with ``overwrite``."""
    if overwrite or not (holds_any_work if folds else holds_work)(output):
        return
    if not (output / MODEL_FILE).exists():
        busy = [name for name in FOLDS if holds_work(output / name)]
        begun = f" ({', '.join(busy)} begun)" if busy and not holds_work(output) else ""
        raise WindownerError(
            f"{output} holds an interrupted run{begun}: continue it (windowner train --resume {output}),"
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


def diverged_error(
    epoch: int, where: str, lr: float, state: Checkpoint, folder: Path, output: Path, cleared: str, swap: Swap
) -> WindownerError:
    """The error of a run that diverged ``where`` in ``epoch`` (a batch and what was wrong): what to do,
    what is kept (``cleared``: what a run that saved nothing says, see :func:`kept_or_removed`)."""
    old = swap.replacing or (output if folder != output else None)
    if old is not None:
        kept = f"; {old} still holds the run it was to replace"
    elif state.best_epoch:
        kept = f"; the best model so far (epoch {state.best_epoch}) is in {output}"
    elif (output / CHECKPOINT_FILE).exists():
        kept = f"; {output} keeps the checkpoint it was resumed from"
    else:
        kept = f"; {cleared}"
    return WindownerError(f"training diverged in epoch {epoch}, {where}: lower train.lr (now {lr:g}){kept}")


def interrupted_error(
    signum: int, where: str, folder: Path, output: Path, swap: Swap, go_on: str
) -> Terminated:
    """What Ctrl-C or SIGTERM raises once the checkpoint is saved: where and how to go on (``go_on``)."""
    old = swap.replacing or (output if folder != output else None)
    if old is not None:
        return Terminated(signum, f"{where}, {old_run_kept(old)}")
    return Terminated(signum, f"{where}; saved a checkpoint: continue with {go_on}")


def resume_command(folder: Path) -> str:
    """The command that continues the training of ``folder``."""
    return f"windowner train --resume {shlex.quote(str(folder))}"
