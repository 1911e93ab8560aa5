"""Checkpoints: where a training run stands, so that ``train --resume`` continues it exactly.

A run folder's ``checkpoint.npz`` is written (atomically) at the end of every epoch and when training
is interrupted (Ctrl-C, SIGTERM: after the batch in progress). It holds, without pickle:

* ``param.NAME``: every parameter as it is after the last finished batch (and ``threshold``, the
  decision threshold of a single-score model);
* ``optimizer.KEY``: the optimiser's state (:meth:`~windowner.optim.base.Optimizer.state_dict`: its step
  count and moments);
* ``state``: the UTF-8 bytes of a JSON document, :class:`Checkpoint`: the epoch and the batches of it
  done, the global step (the schedule's position), the random generator's state at the start of the epoch
  and after the last finished batch, the epoch's loss so far, the history, the best epoch and score, the
  divergence check's losses, a fingerprint of the model training started from, and the resolved config
  the run trains with (``train --resume`` refuses a config.yaml edited since: see
  :func:`windowner.training.loop.resume`).

Why two random states: the epoch's order (and, per batch, the margin loss's corruptions and dropout's
masks) come from one generator. Resuming in the middle of an epoch sets the generator to its state at the
epoch's start, lets the loss draw the epoch's batches again and skips those already done, then sets it
to its state after the last finished batch, so that every later draw is the one the uninterrupted run
made. Floats go through JSON exactly (Python writes the shortest text that reads back the same float).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..base.errors import WindownerError
from ..base.files import read_arrays, write_arrays

CHECKPOINT_FILE = "checkpoint.npz"
DAMAGED = "not a windowner checkpoint (or a damaged one)"
FORMAT = 1  # the version of the layout above


@dataclass
class Checkpoint:
    """The state of a training loop between two batches (see the module docstring)."""

    epoch: int = 1  # the epoch in progress (the next one when ``batch`` is 0)
    batch: int = 0  # its batches done
    step: int = 0  # optimiser steps over the whole run
    rng_epoch: dict[str, Any] | None = None  # the generator's state when ``epoch`` began
    rng: dict[str, Any] | None = None  # its state after the last finished batch
    total: float = 0.0  # Σ loss × windows over the epoch's finished batches
    seen: int = 0  # windows of the epoch's finished batches
    seconds: float = 0.0  # time spent on them
    history: list[dict[str, Any]] = field(default_factory=list)  # the records of the finished epochs
    best_score: float = -1.0
    best_epoch: int = 0
    losses: dict[str, Any] = field(default_factory=dict)  # the divergence check's (LossWatch.state)
    start: str = ""  # fingerprint of the model before training (:func:`fingerprint`)
    config: dict[str, Any] | None = None  # the resolved config the run trains with (None: not recorded)

    def where(self, batches: int | None = None) -> str:
        """``epoch 3, after batch 120 of 1,017`` (or ``after epoch 2`` between epochs)."""
        if self.batch == 0:
            return f"after epoch {self.epoch - 1}"
        of = f" of {batches:,}" if batches else ""
        return f"in epoch {self.epoch}, after batch {self.batch:,}{of}"


def fingerprint(params: dict[str, np.ndarray]) -> str:
    """A SHA-256 of the parameters' names, dtypes, shapes and values: tells whether ``initialise`` still
    builds the model a run started from (same config, data files and vectors)."""
    digest = hashlib.sha256()
    for name in sorted(params):
        value = np.ascontiguousarray(params[name])
        digest.update(f"{name} {value.dtype.str} {value.shape}\n".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def save_checkpoint(
    path: Path,
    checkpoint: Checkpoint,
    params: dict[str, np.ndarray],
    optimizer_state: dict[str, np.ndarray],
    threshold: float | None = None,
) -> None:
    """Write a checkpoint as an uncompressed ``.npz``, atomically (see the module docstring)."""
    state = {"format": FORMAT, **dataclasses.asdict(checkpoint)}
    arrays = {f"param.{name}": value for name, value in params.items()}
    arrays.update({f"optimizer.{key}": value for key, value in optimizer_state.items()})
    if threshold is not None:
        arrays["threshold"] = np.array(threshold, dtype=np.float64)
    arrays["state"] = np.frombuffer(json.dumps(state).encode("utf-8"), dtype=np.uint8)
    write_arrays(path, arrays)


@dataclass
class Saved:
    """A checkpoint as read: the loop state, the parameters, the optimiser state, the threshold."""

    checkpoint: Checkpoint
    params: dict[str, np.ndarray]
    optimizer: dict[str, np.ndarray]
    threshold: float | None


def load_checkpoint(path: Path) -> Saved:
    """Read ``checkpoint.npz`` (without pickle); errors name the file."""
    arrays = read_arrays(path, "no such checkpoint", DAMAGED)
    damaged = f"{path}: {DAMAGED}"
    try:
        state = json.loads(arrays.pop("state").tobytes().decode("utf-8"))
        if state.pop("format") != FORMAT:
            raise ValueError("format")
        checkpoint = Checkpoint(**state)
    except (KeyError, ValueError, TypeError, AttributeError):
        raise WindownerError(damaged) from None
    params = {name[6:]: value for name, value in arrays.items() if name.startswith("param.")}
    optimizer = {name[10:]: value for name, value in arrays.items() if name.startswith("optimizer.")}
    threshold = float(arrays["threshold"]) if "threshold" in arrays else None
    if "t" not in optimizer or not params:
        raise WindownerError(damaged)
    return Saved(checkpoint, params, optimizer, threshold)
