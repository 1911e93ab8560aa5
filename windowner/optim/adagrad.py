"""Adagrad (Duchi et al. 2011): a learning rate per entry that shrinks with the gradients it has seen.

    G ← G + g ⊙ g,   θ ← θ − lr · g / (√G + ε)            ε = 1e-10 (PyTorch's default), G starts at 0

**Rows not in the batch.** A row with no gradient adds nothing to G and does not move, so updating the
batch's rows alone *is* the dense rule, exactly.
"""

from __future__ import annotations

import numpy as np

from ..network.layers import SparseRows
from .base import Optimizer


class Adagrad(Optimizer):
    def __init__(self, lr: float, eps: float = 1e-10):
        super().__init__(lr)
        self.eps = eps

    def dense(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        total = self.slot(name, "G", param)
        total += grad * grad
        param -= self.lr * grad / (np.sqrt(total) + self.eps)

    def sparse(self, name: str, param: np.ndarray, grad: SparseRows) -> None:
        rows, values = grad.rows, grad.values
        total = self.slot(name, "G", param)
        seen = total.take(rows, axis=0)
        seen += values * values
        total[rows] = seen
        step = np.sqrt(seen)
        step += self.eps
        np.divide(values, step, out=step)
        step *= self.lr
        param[rows] -= step
