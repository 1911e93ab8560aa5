"""Stochastic gradient descent, with optional (heavy-ball) momentum μ (``train.momentum``).

Dense rule, as PyTorch's ``SGD`` (no dampening)::

    μ = 0:   θ ← θ − lr·g
    μ > 0:   v ← μv + g,   θ ← θ − lr·v

**Rows not in the batch.** Without momentum a row with no gradient does not move: the sparse step
updates the batch's rows only, exactly the dense rule. With momentum the dense rule keeps moving an
untouched row on its velocity: over steps s+1 … t (lr_j the learning rate of step j) its velocity decays
to μ^(t−s)·v_s and it moves by v_s times

    S_t(s) = Σ_{j=s+1..t} lr_j·μ^(j−s)                      (how far a row idle since step s has gone
                                                             per unit of velocity, by step t)

That has a closed form, applied to the rows a batch reads before its forward pass (:meth:`SGD.prepare`;
the *catch-up*), so training sees every row where the dense rule has it, without touching the rows the
batch does not read (the step that follows writes the caught-up velocities once, and updates every
row the batch read: a row read without a gradient takes g = 0)::

    catch-up of row r, last updated at step s:   θ_r ← θ_r − S_t(s)·v_r,   v_r ← μ^(t−s)·v_r

Each row keeps the step s it was last brought up to date (``stamps``); the optimiser keeps S_t(s) for
every step s since the epoch began (``shifts``, float64). A step t adds its term lr_t·μ^(t−s) to the
entries of the last W steps, W the first count with μ^W < 10⁻¹⁸ (394 steps at μ = 0.9, 4,124 at 0.99):
older terms are below float64's resolution of the sum. No entry is ever a difference of running sums,
so nothing cancels. :meth:`SGD.flush` brings every row up to date (training calls it at the end of each
epoch, so the saved model is the dense rule's) and starts the shifts again; so does a step that fills
the shifts (:data:`HISTORY` steps without a flush).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..base.errors import WindownerError
from ..network.layers import SparseRows
from .base import Optimizer

HISTORY = 1 << 16  # steps of shifts kept between flushes (512 KiB); a step that fills them flushes
NEGLIGIBLE = 1e-18  # μ^W below this: a step's term in the shift of a row idle W steps is dropped


class SGD(Optimizer):
    def __init__(self, lr: float, momentum: float = 0.0):
        super().__init__(lr)
        self.momentum = momentum
        self.history = HISTORY
        # table: (the step count when its batch's rows were caught up, those rows, their values and
        # velocities caught up); the step that follows writes them
        self._ready: dict[str, tuple[int, np.ndarray, np.ndarray, np.ndarray]] = {}
        if momentum:
            width = math.ceil(math.log(NEGLIGIBLE) / math.log(momentum))
            self._powers = momentum ** np.arange(width, 0, -1, dtype=np.float64)  # μ^W … μ^1
            self._decays: dict[np.dtype, np.ndarray] = {}  # dtype: μ^0 … μ^history (see _decay)

    def dense(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        if not self.momentum:
            param -= self.lr * grad
            return
        velocity = self.slot(name, "v", param)
        velocity *= self.momentum
        velocity += grad
        param -= self.lr * velocity

    @property
    def moves_untouched(self) -> bool:
        return bool(self.momentum)

    def prepare(self, params: Mapping[str, np.ndarray], rows: Mapping[str, np.ndarray]) -> None:
        """The catch-up of the rows a batch reads (sorted, without repeats, every row of the next
        gradient among them: :meth:`Optimizer.prepare`): they take the moves of the steps they missed.
        The rows are written (the forward pass reads them); their velocities and stamps wait for the
        step, which writes them once (or :meth:`_settle`, if something else comes first)."""
        if not self.momentum:
            return
        for name, read in rows.items():
            if f"{name}.shifts" in self.state:  # else no step yet: nothing has moved
                self._settle(name)
                moved, speed = self._caught_up(name, params[name], read, self.t)
                params[name][read] = moved
                self._ready[name] = (self.t, read, moved, speed)

    def sparse(self, name: str, param: np.ndarray, grad: SparseRows) -> None:
        rows, values = grad.rows, grad.values
        if not self.momentum:
            param[rows] -= self.lr * values
            return
        velocity = self.slot(name, "v", param)
        stamps = self.slot(name, "stamps", lambda: np.full(len(param), self.t - 1, dtype=np.int64))
        shifts = self.slot(name, "shifts", lambda: np.zeros(self.history), None)  # S(base + i), i < history
        base = self.slot(name, "base", lambda: np.array(self.t - 1), None)  # the step shifts[0] stands for
        if name in self._ready and self._ready[name][0] == self.t - 1:  # caught up before the forward
            _, read, moved, speed = self._ready.pop(name)
        else:
            self._settle(name)
            read, (moved, speed) = rows, self._caught_up(name, param, rows, self.t - 1)
        # every row read takes this step (a row the batch read without a gradient: g = 0), so that
        # its velocity and stamp are written once, here
        speed *= self.momentum
        if len(read) == len(rows):  # the gradient's rows are among those read (sorted): the same rows
            speed += values  # v ← μv + g
        else:
            speed[np.searchsorted(read, rows)] += values
        moved -= self.lr * speed  # θ ← θ − lr·v
        param[read], velocity[read], stamps[read] = moved, speed, self.t
        now = self.t - int(base)  # this step's entry; the last W entries before it take its term
        recent = self._powers[max(len(self._powers) - now, 0) :]
        shifts[now - len(recent) : now] += self.lr * recent  # S(s) += lr_t·μ^(t−s)
        shifts[now] = 0.0
        if now + 1 == len(shifts):
            self._flush_one(name, param)

    def _caught_up(
        self, name: str, param: np.ndarray, rows: np.ndarray, now: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``rows`` of table ``name`` and of its velocity where the dense rule has them after step
        ``now`` (the last): copies, ``(R, d)`` each."""
        stamps, velocity = self.state[f"{name}.stamps"], self.state[f"{name}.v"]
        since = stamps.take(rows)
        shift = self.state[f"{name}.shifts"].take(since - int(self.state[f"{name}.base"]))
        speed, moved = velocity.take(rows, axis=0), param.take(rows, axis=0)
        moved -= speed * shift.astype(param.dtype)[:, None]  # θ ← θ − S(s)·v
        speed *= self._decay(param.dtype).take(now - since)[:, None]  # v ← μ^(t−s)·v
        return moved, speed

    def _decay(self, dtype: np.dtype) -> np.ndarray:
        """μ^k for k = 0 … ``history`` in ``dtype``, 0 below the smallest normal number of ``dtype``
        over its resolution (float32: 1e-31, μ^678 at μ = 0.9; float64: 1e-292). Products with such
        decays come out subnormal for small velocities (0.6 % of the caught-up values in a CoNLL epoch
        with the cut at the smallest normal number itself, 0.001 % with this one), and x86 takes a slow
        path for subnormal numbers; the part dropped, below 1e-31·|v|, would move θ by at most
        lr·|v|·1e-31/(1 − μ)."""
        if dtype not in self._decays or len(self._decays[dtype]) <= self.history:
            decay = (self.momentum ** np.arange(self.history + 1, dtype=np.float64)).astype(dtype)
            decay[decay < np.finfo(dtype).tiny / np.finfo(dtype).eps] = 0.0
            self._decays[dtype] = decay
        return self._decays[dtype]

    def _settle(self, name: str) -> None:
        """Write the velocities and stamps of rows :meth:`prepare` caught up for a step that has not
        come."""
        if name in self._ready:
            now, read, _, speed = self._ready.pop(name)
            self.state[f"{name}.v"][read], self.state[f"{name}.stamps"][read] = speed, now

    def _flush_one(self, name: str, param: np.ndarray) -> None:
        """Catch every row of ``name`` up to the current step and start the shifts again."""
        self._settle(name)
        if f"{name}.shifts" not in self.state:
            return
        moved, speed = self._caught_up(name, param, np.arange(len(param)), self.t)
        param[...], self.state[f"{name}.v"][...], self.state[f"{name}.stamps"][...] = moved, speed, self.t
        self.state[f"{name}.shifts"][:] = 0.0
        self.state[f"{name}.base"][...] = self.t

    def flush(self, params: Mapping[str, np.ndarray]) -> None:
        for name, param in params.items():
            self._flush_one(name, param)

    def state_dict(self) -> dict[str, np.ndarray]:
        for name in list(self._ready):
            self._settle(name)
        return super().state_dict()

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        self._ready.clear()
        if any(key.endswith(".clock") for key in state):  # the momentum clock of windowner before 2026-11-26
            raise WindownerError(
                "the checkpoint's SGD momentum state is from an older windowner (a clock, not shifts):"
                " it cannot go on; train again (or with the older version)"
            )
        super().load_state_dict(state)
