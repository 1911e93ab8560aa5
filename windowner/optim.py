"""Optimisers: how a gradient changes a parameter.

Every optimiser has one interface: ``step(params, grads)`` updates each parameter named in ``grads``
in place, from its gradient and the optimiser's per-parameter state (its moments). A gradient is a
dense array of the parameter's shape, or :class:`~windowner.layers.SparseRows` for the word vectors
(only the rows a batch touched). ``lr`` is an attribute so that a schedule can change it between steps.

* SGD:   θ ← θ − lr·g. A sparse gradient changes only its rows.
* Adam (Kingma & Ba 2015), with step t = 1, 2, …::

      m ← β₁m + (1 − β₁)g,   v ← β₂v + (1 − β₂)g²
      θ ← θ − lr · m̂ / (√v̂ + ε),   m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)

  This is Adam exactly as for a dense gradient: a sparse gradient counts as zero in the rows it does not
  name, so every row's moments decay and every row with momentum moves, as PyTorch's ``Adam`` does on a
  dense embedding gradient. (A lazy variant that updates only the touched rows is ``SparseAdam``.)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .layers import SparseRows

Gradient = np.ndarray | SparseRows


class SGD:
    """Plain stochastic gradient descent."""

    def __init__(self, lr: float):
        self.lr = lr

    def step(self, params: Mapping[str, np.ndarray], grads: Mapping[str, Gradient]) -> None:
        for name, grad in grads.items():
            param = params[name]
            if isinstance(grad, SparseRows):
                param[grad.rows] -= self.lr * grad.values
            else:
                param -= self.lr * grad


class Adam:
    """Adam with bias correction; the moments m, v are kept per parameter name."""

    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.lr = lr
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def step(self, params: Mapping[str, np.ndarray], grads: Mapping[str, Gradient]) -> None:
        self.t += 1
        correction1 = 1.0 - self.beta1**self.t  # m̂ = m / correction1
        correction2 = 1.0 - self.beta2**self.t  # v̂ = v / correction2
        for name, grad in grads.items():
            param = params[name]
            if isinstance(grad, SparseRows):
                grad = grad.to_dense(param.shape)
            m = self.m.setdefault(name, np.zeros_like(param))
            v = self.v.setdefault(name, np.zeros_like(param))
            m *= self.beta1
            m += (1.0 - self.beta1) * grad
            v *= self.beta2
            v += (1.0 - self.beta2) * grad * grad
            param -= (self.lr / correction1) * m / (np.sqrt(v / correction2) + self.eps)


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def make_optimizer(name: str, lr: float) -> SGD | Adam:
    return OPTIMIZERS[name](lr)
