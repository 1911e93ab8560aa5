"""Adam (Kingma & Ba 2015), and SparseAdam, its lazy form for look-up tables.

With step t = 1, 2, …, β₁ = 0.9, β₂ = 0.999, ε = 1e-8::

    m ← β₁m + (1 − β₁)g,   v ← β₂v + (1 − β₂)g ⊙ g
    θ ← θ − lr · m̂ / (√v̂ + ε),   m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)

The state holds M = m / (1 − β₁) and V = v / (1 − β₂), the same rule with two passes fewer over θ a
step (at a batch of 32 the update is a third of the step)::

    M ← β₁M + g,   V ← β₂V + g ⊙ g,   θ ← θ − s · M / (√V + ε/a)
    a = √((1 − β₂)/(1 − β₂ᵗ)),   s = lr·(1 − β₁) / ((1 − β₁ᵗ)·a)          (√v̂ = a√V, m̂ = (1 − β₁)M/(1 − β₁ᵗ))

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

import math

import numpy as np

from ..network.layers import SparseRows
from .base import Optimizer


class Adam(Optimizer):
    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def _step_size(self) -> tuple[float, float]:
        """(s, ε/a) of the rule above, for the current step t: Python floats (a numpy float64 would make
        numpy 2 run the float32 updates through float64 loops, 1.8x slower)."""
        a = math.sqrt((1.0 - self.beta2) / (1.0 - self.beta2**self.t))
        return self.lr * (1.0 - self.beta1) / ((1.0 - self.beta1**self.t) * a), self.eps / a

    def dense(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        self._update(param, self.slot(name, "M", param), self.slot(name, "V", param), grad)

    def _update(self, param: np.ndarray, M: np.ndarray, V: np.ndarray, grad: np.ndarray) -> None:
        """The rule above on arrays of one shape, in place: ten passes over θ and one scratch array."""
        M *= self.beta1
        M += grad  # M ← β₁M + g
        work = np.multiply(grad, grad)
        V *= self.beta2
        V += work  # V ← β₂V + g²
        step, eps = self._step_size()
        np.sqrt(V, out=work)
        work += eps
        np.divide(M, work, out=work)
        work *= step
        param -= work  # θ ← θ − s·M / (√V + ε/a)

    def sparse(self, name: str, param: np.ndarray, grad: SparseRows) -> None:
        self.dense(name, param, grad.to_dense(param.shape))


class SparseAdam(Adam):
    def sparse(self, name: str, param: np.ndarray, grad: SparseRows) -> None:
        rows = grad.rows
        M, V = self.slot(name, "M", param), self.slot(name, "V", param)
        M_rows, V_rows, moved = (a.take(rows, axis=0) for a in (M, V, param))  # the touched rows
        self._update(moved, M_rows, V_rows, grad.values)
        M[rows], V[rows], param[rows] = M_rows, V_rows, moved
