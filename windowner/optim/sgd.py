"""Stochastic gradient descent, with optional (heavy-ball) momentum μ (``train.momentum``).

Dense rule, as PyTorch's ``SGD`` (no dampening)::

    μ = 0:   θ ← θ − lr·g
    μ > 0:   v ← μv + g,   θ ← θ − lr·v

**Rows not in the batch.** Without momentum a row with no gradient does not move: the sparse step
updates the batch's rows only, exactly the dense rule. With momentum the dense rule keeps moving an
untouched row on its velocity: over steps s+1 … t (lr_j the learning rate of step j) its velocity decays
to μ^(t−s)·v_s and it moves by v_s·Σ_j lr_j·μ^(j−s). That has a closed form, applied to the rows a batch
reads before its forward pass (:meth:`SGD.prepare`; the *catch-up*), so training sees every row where
the dense rule has it, without touching the rows the batch does not read. A clock of two running numbers
per parameter makes the sum one subtraction::

    D_t = μ^t,   C_t = Σ_{j≤t} lr_j μ^j                      (per parameter, float64)
    catch-up of row r, last updated at step s:  θ_r ← θ_r − v_r·(C_{t−1} − C_s)/D_s,   v_r ← v_r·D_{t−1}/D_s

with (C_s, D_s) kept per row (``stamps``). C_{t−1} − C_s is a difference of running sums, so its rounding
grows as D_s shrinks: when D_t falls below 10⁻⁴ (after 88 steps at μ = 0.9, 917 at μ = 0.99) every row is
caught up and the clock starts again from (0, 1). That bounds the relative rounding of a catch-up near
10⁴·ε/(1 − μ) (about 2e-11 at μ = 0.9 in float64, far below float32's resolution) at the cost of one pass
over E every 88 steps. :meth:`SGD.flush` does the same at the end of each epoch, so the saved model is the
dense rule's.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..layers import SparseRows
from .base import Optimizer

REBASE = 1e-4  # restart the momentum clock when μ^t falls below this


class SGD(Optimizer):
    def __init__(self, lr: float, momentum: float = 0.0):
        super().__init__(lr)
        self.momentum = momentum
        self._prepared: dict[str, int] = {}  # table: the step count when its batch's rows were caught up

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
        """The catch-up of the rows a batch reads: they take the moves of the steps they missed."""
        if not self.momentum:
            return
        for name, read in rows.items():
            clock = self.state.get(f"{name}.clock")
            if clock is None:  # no step yet: nothing has moved
                continue
            param, velocity, stamps = params[name], self.state[f"{name}.v"], self.state[f"{name}.stamps"]
            speed = velocity[read]
            shift, decay = _catch_up(clock, stamps[read], param.dtype)
            param[read] -= speed * shift
            velocity[read] = speed * decay
            stamps[read] = clock
            self._prepared[name] = self.t

    def sparse(self, name: str, param: np.ndarray, grad: SparseRows) -> None:
        rows, values = grad.rows, grad.values
        if not self.momentum:
            param[rows] -= self.lr * values
            return
        velocity = self.slot(name, "v", param)
        clock = self.slot(name, "clock", lambda: np.array([0.0, 1.0]), None)  # (C, D) after the last step
        stamps = self.slot(name, "stamps", lambda: np.tile(clock, (len(param), 1)), None)  # rows' (C_s, D_s)
        speed = velocity[rows]
        if self._prepared.get(name) == self.t - 1:  # caught up before this step's forward pass
            speed *= self.momentum  # v ← μv
            speed += values  # v ← μv + g
            param[rows] -= self.lr * speed
        else:  # caught up here: the moves and the decay the rows missed, then the step
            moved = param[rows]
            shift, decay = _catch_up(clock, stamps[rows], param.dtype, self.momentum)
            moved -= speed * shift
            speed *= decay  # decayed over the steps missed, then v ← μv
            speed += values  # v ← μv + g
            moved -= self.lr * speed
            param[rows] = moved
        velocity[rows] = speed
        clock[1] *= self.momentum  # the clock of this step
        clock[0] += self.lr * clock[1]
        stamps[rows] = clock
        if clock[1] < REBASE:
            self._flush_one(name, param)

    def _flush_one(self, name: str, param: np.ndarray) -> None:
        """Catch every row of ``name`` up to the current step and restart the clock."""
        clock = self.state.get(f"{name}.clock")
        if clock is None:
            return
        velocity, stamps = self.state[f"{name}.v"], self.state[f"{name}.stamps"]
        shift, decay = _catch_up(clock, stamps, param.dtype)
        param -= velocity * shift
        velocity *= decay
        clock[:] = (0.0, 1.0)
        stamps[:] = clock

    def flush(self, params: Mapping[str, np.ndarray]) -> None:
        for name, param in params.items():
            self._flush_one(name, param)


def _catch_up(clock: np.ndarray, stamps: np.ndarray, dtype: np.dtype, scale: float = 1.0):
    """The catch-up of rows with clock stamps ``stamps`` ``(R, 2)`` at ``clock`` (C, D): the factor of v in
    their missed move, (C − C_s)/D_s, and of their velocity, scale·D/D_s; each ``(R, 1)`` in ``dtype``
    (the differences of the running sums are taken in float64; the division runs in ``dtype``)."""
    since_c, since_d = stamps[:, 0], stamps[:, 1]
    shift = np.divide(clock[0] - since_c, since_d, dtype=dtype)
    decay = np.divide(scale * clock[1], since_d, dtype=dtype)
    return shift[:, None], decay[:, None]
