"""The affine gate: z = Wx + b, for a batch of row vectors.

With the batch as rows, ``X`` of shape ``(B, D)``, ``W`` of shape ``(H, D)`` (the lecture's W, which
multiplies a column vector x) and ``b`` of shape ``(H,)``::

    forward:   Z = X Wᵀ + b                  Z: (B, H),  z_i = W x_i + b

    backward, given the error signal δ = ∂J/∂Z of shape (B, H):
               ∂J/∂W = δᵀ X = Σ_i δ_i x_iᵀ    (H, D)  the outer products, summed in one matrix product
               ∂J/∂b = Σ_i δ_i                (H,)
               ∂J/∂X = δ W                    (B, D)  row i is Wᵀ δ_i

The same gate is the output layer s = Uh + c.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

AffineBackward = Callable[..., tuple[np.ndarray | None, np.ndarray, np.ndarray]]


def affine(X: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, AffineBackward]:
    """Z = X Wᵀ + b, shapes ``(B, D), (H, D), (H,) -> (B, H)``.

    Returns Z and ``backward(delta, input_from=0) -> (dX, dW, db)``. ∂J/∂X is computed for the columns
    of X from ``input_from`` on, ``(B, D − input_from)``: the columns before it hold frozen word vectors,
    whose gradient nobody needs. ``input_from=None`` skips the product altogether (dX is None: the
    input is data, or every column of it is frozen).
    """
    Z = X @ W.T
    Z += b  # in place: the product is a new array already

    def backward(delta: np.ndarray, input_from: int | None = 0):
        dW = delta.T @ X
        db = delta.sum(axis=0)
        dX = None if input_from is None else delta @ W[:, input_from:]
        return dX, dW, db

    return Z, backward
