"""RMSprop (Tieleman & Hinton 2012): Adagrad with a decaying average instead of a sum.

    v ← ρv + (1 − ρ) g ⊙ g,   θ ← θ − lr · g / (√v + ε)      ρ = 0.99, ε = 1e-8 (PyTorch's defaults)

**Rows not in the batch.** A row with no gradient does not move, but its v decays by ρ at every step.
That has a closed form: a row last updated at step s is brought up to date when it is next touched, at
step t, by v ← ρ^(t−1−s)·v before its own update, which equals the dense rule without touching
untouched rows; :meth:`RMSprop.flush` brings every row's v up to date at the end of an epoch.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..network.layers import SparseRows
from .base import Optimizer


class RMSprop(Optimizer):
    def __init__(self, lr: float, rho: float = 0.99, eps: float = 1e-8):
        super().__init__(lr)
        self.rho, self.eps = rho, eps

    def dense(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        mean_square = self.slot(name, "v", param)
        mean_square *= self.rho
        mean_square += (1.0 - self.rho) * grad * grad
        param -= self.lr * grad / (np.sqrt(mean_square) + self.eps)

    def sparse(self, name: str, param: np.ndarray, grad: SparseRows) -> None:
        rows, values = grad.rows, grad.values
        mean_square = self.slot(name, "v", param)
        last = self.slot(name, "row_t", lambda: np.zeros(len(param), dtype=np.int64))
        decay = np.power(self.rho, self.t - last.take(rows), dtype=param.dtype)  # ρ·ρ^(steps missed)
        current = mean_square.take(rows, axis=0)
        current *= decay[:, None]
        squares = values * values
        squares *= 1.0 - self.rho
        current += squares  # v ← ρv + (1 − ρ)g², v caught up first
        mean_square[rows], last[rows] = current, self.t
        step = np.sqrt(current)
        step += self.eps
        np.divide(values, step, out=step)
        step *= self.lr
        param[rows] -= step  # θ ← θ − lr·g/(√v + ε)

    def flush(self, params: Mapping[str, np.ndarray]) -> None:
        for name in params:
            last = self.state.get(f"{name}.row_t")
            if last is not None:
                mean_square = self.state[f"{name}.v"]
                mean_square *= (self.rho ** (self.t - last)).astype(mean_square.dtype)[:, None]
                last[:] = self.t
