"""Divergence: a training loss that is no longer finite, or has risen far above where it started.

With a learning rate far too high a run blows up: the loss becomes inf or nan, or, as often, the scores
grow until the loss is a large finite number (3.8e30, 2.1e3) and the model predicts nonsense. The check
reads the loss of every batch (before its step is taken). Training has diverged when

1. a batch's loss is not finite; or
2. the mean loss of the last n batches is more than ``FACTOR`` (10) times the *starting loss*: the mean
   loss of the untrained model on n batches (:func:`starting_loss`).

n = max(20, ⌈``WINDOWS`` / batch size⌉): the two means are taken over at least 640 windows, so that the
noise of small batches (one window a batch: a single location costs −log p(LOC) ≈ 3.3 at the start) does
not trip the rule. The starting loss is measured on the untrained model rather than read off the first
batches of training, because a run with a learning rate far too high has blown up by its second batch:
those batches would make the starting loss high and hide the blow-up.

A healthy run stays far below the bound: ``benchmarks/divergence.py`` trains every optimiser with every
loss at the default learning rate on the shipped data and prints the largest ratio each reached.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..network.losses import Examples

WINDOWS = 640  # training windows the starting loss and the running mean are each taken over, at least
FACTOR = 10.0  # diverged: the running mean above FACTOR × the starting loss


class Diverging(Exception):
    """A batch's loss says training has diverged (:meth:`LossWatch.problem`); the message says how."""


def span(batch_size: int) -> int:
    """n, the batches of the starting loss and of the running mean (see the module docstring)."""
    return max(20, -(-WINDOWS // batch_size))


def starting_loss(model, data: Examples, batch_size: int, l2: float = 0.0) -> float:
    """The mean loss J of the untrained ``model`` (a :class:`~windowner.network.model.WindowModel`) on
    :func:`span` batches of ``data``, as training computes it (with the penalty ``l2``; the word-vector
    penalty is 0 before training, E being where it started) but without dropout. The batches are drawn with a
    generator of their own: the run's random stream is left as it is, so checking changes no trained
    number."""
    batches = model.loss.batches(data, batch_size, np.random.default_rng(0))
    losses = [model.objective(batch, l2) for batch in itertools.islice(batches, span(batch_size))]
    return float(np.mean(losses))


@dataclass
class LossWatch:
    """The rules above for one run: its ``start``ing loss and the losses of its ``recent`` batches."""

    start: float
    span: int = 20
    recent: deque[float] = field(default_factory=deque)

    def problem(self, loss: float) -> str | None:
        """Record ``loss``, the next batch's; None if training is healthy, else what is wrong."""
        if not math.isfinite(loss):
            return f"loss {loss}"
        self.recent.append(loss)
        if len(self.recent) > self.span:
            self.recent.popleft()
        if len(self.recent) == self.span:
            running = sum(self.recent) / self.span
            if running > FACTOR * self.start:
                return (
                    f"mean loss of the last {self.span} batches {running:.3g}, more than {FACTOR:g} times"
                    f" the untrained model's {self.start:.3g}"
                )
        return None

    def state(self) -> dict[str, object]:
        """What a checkpoint keeps of it."""
        return {"start": self.start, "span": self.span, "recent": list(self.recent)}

    @classmethod
    def from_state(cls, state: dict[str, object]) -> LossWatch:
        return cls(state["start"], state["span"], deque(state["recent"]))  # type: ignore[arg-type]
