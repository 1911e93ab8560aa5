"""Inverted dropout: during training each unit is kept with probability 1 − p and scaled by 1/(1 − p).

Forward, for an input ``X`` of shape ``(B, N)``, a drop rate p and a random mask M of the same shape::

    M_ij = 1/(1 − p) with probability 1 − p, else 0        Y = X ⊙ M

Scaling the kept units by 1/(1 − p) keeps E[Y] = X, so at evaluation the gate is the identity (no
rescaling of the weights). Backward: Y depends on each X_ij through one product, so ∂J/∂X = ∂J/∂Y ⊙ M,
with the same mask: a dropped unit passes no gradient back. For a gradient check the mask must be the
same in every evaluation of J: the caller passes a generator seeded the same way each time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def dropout(
    X: np.ndarray, rate: float, rng: np.random.Generator
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """Y = X ⊙ M as above, shape ``(B, N) -> (B, N)``, and ``backward(dY, start=0) -> dX``.

    ``backward`` may be given the columns of ∂J/∂Y from ``start`` on only (``(B, N − start)``), when
    nobody needs the gradient of the columns before (frozen word vectors).
    """
    keep = 1.0 - rate
    mask = (rng.random(X.shape, dtype=X.dtype) < keep) * X.dtype.type(1.0 / keep)

    def backward(dY: np.ndarray, start: int = 0) -> np.ndarray:
        return dY * mask[:, start:]

    return X * mask, backward
