"""The embedding gate: look the window's words up in E and concatenate them into x.

Forward, for a batch of ``B`` windows of ``K = 2·window + 1`` words, ``E`` of shape ``(V, d)``::

    x_i = [E[w_i1]; E[w_i2]; …; E[w_iK]]            x: (B, K·d)

Backward: x_i is a copy of K rows of E, so ∂J/∂E[v] is the sum of the slices of ∂J/∂x_i (each of
length d) at every place word v stands in the batch; rows of words not in the batch get 0. The result
is kept sparse: only the rows the batch touched, each once, with its summed gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SparseRows:
    """A gradient that is zero except in some rows: ``dense[rows] = values``.

    ``rows`` is a sorted int array without repeats, shape ``(R,)``; ``values`` has shape ``(R, d)``.
    """

    rows: np.ndarray
    values: np.ndarray

    def to_dense(self, shape: tuple[int, ...]) -> np.ndarray:
        dense = np.zeros(shape, dtype=self.values.dtype)
        dense[self.rows] = self.values
        return dense


def embedding(E: np.ndarray, windows: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], SparseRows]]:
    """x = E[windows] with the words of each window side by side.

    Args:
        E: word vectors, ``(V, d)``.
        windows: rows of E, int array ``(B, K)``.

    Returns:
        x of shape ``(B, K·d)`` and ``backward(dx) -> SparseRows`` of ∂J/∂E, ``dx`` of shape ``(B, K·d)``.
    """
    batch, width = windows.shape
    dim = E.shape[1]
    x = E[windows].reshape(batch, width * dim)

    def backward(dx: np.ndarray) -> SparseRows:
        rows, where = np.unique(windows.ravel(), return_inverse=True)  # where: (B·K,) index into rows
        values = np.zeros((len(rows), dim), dtype=dx.dtype)
        np.add.at(values, where, dx.reshape(batch * width, dim))  # a word used n times gets n slices
        return SparseRows(rows, values)

    return x, backward
