"""Adam (Kingma & Ba 2015), and SparseAdam, its lazy form for look-up tables.

With step t = 1, 2, …, β₁ = 0.9, β₂ = 0.999, ε = 1e-8::

    m ← β₁m + (1 − β₁)g,   v ← β₂v + (1 − β₂)g ⊙ g
    θ ← θ − lr · m̂ / (√v̂ + ε),   m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)

**Rows not in the batch.**

* :class:`Adam` applies this rule exactly as for a dense gradient: a sparse gradient counts as zero in
  the rows it does not name, so in every row the moments decay and a row with momentum keeps moving, as
  PyTorch's ``Adam`` does on a dense embedding gradient. That has no closed form to catch up on, so every
  step touches all V×d entries of E (``train`` says what it costs when it fine-tunes with it).
* :class:`SparseAdam` is the lazy rule of PyTorch's ``SparseAdam``: a row with no gradient keeps its m
  and v and does not move; a touched row takes the update above with its own m and v and the global t in
  the bias corrections. It differs from Adam only in the rows a step does not touch (a test shows they
  agree when every row is touched). Dense parameters (W, b, U, c, …) take the Adam rule in both.
"""

from __future__ import annotations

import numpy as np

from ..layers import SparseRows
from .base import Optimizer


class Adam(Optimizer):
    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def _step_size(self) -> tuple[float, float]:
        """(lr / (1 − β₁ᵗ), 1 − β₂ᵗ): θ ← θ − step·m / (√(v / correction) + ε)."""
        return self.lr / (1.0 - self.beta1**self.t), 1.0 - self.beta2**self.t

    def dense(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        m, v = self.slot(name, "m", param), self.slot(name, "v", param)
        m *= self.beta1
        m += (1.0 - self.beta1) * grad
        v *= self.beta2
        v += (1.0 - self.beta2) * grad * grad
        step, correction = self._step_size()
        param -= step * m / (np.sqrt(v / correction) + self.eps)

    def sparse(self, name: str, param: np.ndarray, grad: SparseRows) -> None:
        self.dense(name, param, grad.to_dense(param.shape))


class SparseAdam(Adam):
    def sparse(self, name: str, param: np.ndarray, grad: SparseRows) -> None:
        rows, values = grad.rows, grad.values
        m, v = self.slot(name, "m", param), self.slot(name, "v", param)
        m_rows = self.beta1 * m[rows] + (1.0 - self.beta1) * values
        v_rows = self.beta2 * v[rows] + (1.0 - self.beta2) * values * values
        m[rows], v[rows] = m_rows, v_rows
        step, correction = self._step_size()
        param[rows] -= step * m_rows / (np.sqrt(v_rows / correction) + self.eps)
