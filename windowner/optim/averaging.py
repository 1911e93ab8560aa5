"""Parameter averaging (``train.average``): evaluate and save an exponential moving average of the weights.

After every optimiser step t, with decay d (e.g. 0.999)::

    θ̄ ← d·θ̄ + (1 − d)·θ                    θ̄ starts as θ before the first step

The average of the last ~1/(1 − d) steps smooths out the noise of the last updates (Polyak & Juditsky
1992; the "EMA" of many trainers); training itself goes on with θ, and the dev scores, the saved models
and predictions use θ̄.

**Tables.** Averaging every row of E at every step would cost V×d a step, what the lazy optimisers
avoid. A row that a step does not touch keeps its value (with every optimiser but ``adam`` and ``sgd``
with momentum), so over the k steps it missed its average followed the closed form
θ̄ ← d^k·θ̄ + (1 − d^k)·θ: it is applied when the row is next touched, before the optimiser moves it, and
to every row by :meth:`Average.current`. With ``adam`` and momentum an untouched row does drift; its
average then treats it as standing still between the steps that touch it (a small difference, stated
in docs/gradients.md §11).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np

from ..network.layers import SparseRows


class Average:
    """The running average θ̄ of the arrays an optimiser updates (``model.trainables()``)."""

    def __init__(self, decay: float, trainables: Mapping[str, np.ndarray]):
        self.decay = decay
        self.t = 0
        self.values = {name: array.copy() for name, array in trainables.items()}
        # the step each table row's average was last brought up to date (dense arrays are every step)
        self.last = {name: np.zeros(len(a), dtype=np.int64) for name, a in trainables.items() if a.ndim == 2}

    def before_step(self, trainables: Mapping[str, np.ndarray], grads: Mapping[str, object]) -> None:
        """Catch the rows a step is about to move up to now, with the value they kept while untouched."""
        for name, grad in grads.items():
            if isinstance(grad, SparseRows):
                self._catch_up(name, trainables[name], grad.rows)

    def after_step(self, trainables: Mapping[str, np.ndarray], grads: Mapping[str, object]) -> None:
        """θ̄ ← d·θ̄ + (1 − d)·θ for the dense arrays and the rows the step moved."""
        self.t += 1
        d = self.decay
        for name, array in trainables.items():
            grad = grads.get(name)
            average = self.values[name]
            if isinstance(grad, SparseRows):
                rows = grad.rows
                average[rows] += (1.0 - d) * (array[rows] - average[rows])
                self.last[name][rows] = self.t
            elif grad is not None:
                average += (1.0 - d) * (array - average)  # = d·θ̄ + (1 − d)·θ, exact where θ̄ = θ

    def _gain(self, name: str, rows: np.ndarray | slice, dtype: np.dtype) -> np.ndarray:
        """1 − d^k for rows that missed k steps: θ̄ ← θ̄ + (1 − d^k)(θ − θ̄), ``(R, 1)``."""
        return (1.0 - self.decay ** (self.t - self.last[name][rows])).astype(dtype)[:, None]

    def _catch_up(self, name: str, array: np.ndarray, rows: np.ndarray) -> None:
        average = self.values[name]
        average[rows] += self._gain(name, rows, array.dtype) * (array[rows] - average[rows])
        self.last[name][rows] = self.t

    def current(self, trainables: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """θ̄ now, every row up to date (a copy per array, the running state unchanged)."""
        out = {}
        for name, array in trainables.items():
            average = self.values[name]
            if name in self.last and self.last[name].any():
                out[name] = average + self._gain(name, slice(None), array.dtype) * (array - average)
            else:
                out[name] = average.copy()
        return out

    def state_dict(self) -> dict[str, np.ndarray]:
        state = {"average.t": np.array(self.t, dtype=np.int64)}
        state.update({f"average.{name}": value for name, value in self.values.items()})
        state.update({f"average_last.{name}": value for name, value in self.last.items()})
        return state

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        self.t = int(state["average.t"])
        for name in self.values:
            self.values[name] = np.array(state[f"average.{name}"])
        for name in self.last:
            self.last[name] = np.array(state[f"average_last.{name}"])


@contextmanager
def swapped_in(
    trainables: Mapping[str, np.ndarray], values: Mapping[str, np.ndarray] | None
) -> Iterator[None]:
    """Run the body with ``values`` written into the arrays ``trainables`` (in place, so every view of them,
    the model's parameters, sees them), and the arrays' own values back afterwards. None: no change."""
    if values is None:
        yield
        return
    kept = {name: array.copy() for name, array in trainables.items()}
    try:
        for name, array in trainables.items():
            np.copyto(array, values[name])
        yield
    finally:
        for name, array in trainables.items():
            np.copyto(array, kept[name])
