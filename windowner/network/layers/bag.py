"""The bag gate: each window word is the mean of several rows of a table (its character n-grams).

A word w has up to L keys (for the ``chars`` feature its character 3- and 4-grams, see
:mod:`windowner.data.features`), given as ``ids`` of shape ``(B, L, K)``: ``ids[i, l, k]`` is the row of the
l-th key of the k-th word of window i, 0 where the word has fewer than L keys (row 0 of the table is
kept at zero and never trained). With n_ik the number of keys of word k of window i::

    forward:   x_ik = (1/n_ik) Σ_l E[ids[i, l, k]]                 x: (B, K·d), the K means side by side

    backward:  ∂J/∂E[v] = Σ_{(i,l,k): ids[i,l,k] = v ≠ 0} (1/n_ik) ∂J/∂x_ik

Like the embedding gate (:mod:`.embedding`), a row gets the sum of the slices where it was used, here
each scaled by 1/n_ik; the result is kept sparse, the touched rows only (row 0 left out).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .embedding import SparseRows, sum_rows


def bag(E: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], SparseRows]]:
    """x = the mean of each word's rows of E, shapes ``(V, d), (B, L, K) -> (B, K·d)``, and
    ``backward(dx) -> SparseRows`` of ∂J/∂E, ``dx`` of shape ``(B, K·d)``."""
    batch, _, width = ids.shape
    dim = E.shape[1]
    used = ids != 0
    counts = np.maximum(used.sum(axis=1), 1).astype(E.dtype)  # (B, K) n_ik (a word with no key: 0 rows)
    x = np.take(E, ids, axis=0).sum(axis=1) / counts[:, :, None]  # (B, K, d); row 0 is zero

    def backward(dx: np.ndarray) -> SparseRows:
        share = dx.reshape(batch, width, dim) / counts[:, :, None]  # (B, K, d) ∂J/∂x_ik / n_ik
        slices = np.broadcast_to(share[:, None], (*ids.shape, dim))[used]  # (keys used, d)
        return sum_rows(ids[used], slices)

    return x.reshape(batch, width * dim), backward
