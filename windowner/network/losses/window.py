"""The window-level losses: each window is scored on its own.

Every function takes the output layer's scores of a batch and returns ``(J, ∂J/∂scores)``; the
derivations are in ``docs/gradients.md`` §2.

* :func:`softmax_cross_entropy`, C scores a window (one per class)::

      p_i = softmax(s_i),   J = −(1/B) Σ_i log p_i[y_i],   ∂J/∂s_i = (p_i − onehot(y_i)) / B      (B, C)

* :func:`logistic`, the lecture's single score s_i = uᵀh_i + c of "the centre word is a location",
  read as a log-odds: p_i = σ(s_i) and the binary cross-entropy::

      J = −(1/B) Σ_i [y_i log p_i + (1 − y_i) log(1 − p_i)],   ∂J/∂s_i = (σ(s_i) − y_i) / B       (B, 1)

* :func:`margin`, the max-margin objective of the window classifier that precedes the lecture: a true
  window (its centre word is a location) should score at least 1 above each corrupted copy of it
  (the centre word replaced by a random word)::

      m_ij = 1 − s_i + s_ij,   J = (1/(nP)) Σ_i Σ_j max(0, m_ij),      P true windows, n copies each
      ∂J/∂s_ij = [m_ij > 0] / (nP),   ∂J/∂s_i = −Σ_j [m_ij > 0] / (nP)

  At the kink m_ij = 0 the derivative used is 0 (the left one).
"""

from __future__ import annotations

import numpy as np


def softmax_cross_entropy(scores: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of ``scores`` (B, C) against int ``labels`` (B,); returns (J, ∂J/∂scores).

    The softmax is computed on s_i − max(s_i), which changes nothing mathematically and keeps exp()
    from overflowing. The work runs on the scores transposed, (C, B): numpy's reductions over a short
    last axis (C = 9 classes) cost far more per element than over rows, 3× the whole at B = 1024. The
    gradient comes back as a (B, C) view of that array.
    """
    batch = scores.shape[0]
    s = np.ascontiguousarray(scores.T)  # (C, B), s[:, i] the scores of window i
    s -= s.max(axis=0)  # s_i − max(s_i)
    correct = np.asarray(labels, dtype=np.intp) * batch + np.arange(batch)  # s[y_i, i] in s.ravel()
    flat = s.reshape(-1)  # a view
    picked = flat.take(correct)  # the shifted score of each correct class
    np.exp(s, out=s)
    norm = s.sum(axis=0)  # (B,) Σ_c exp
    loss = float(np.sum(np.log(norm) - picked)) / batch  # −log p_i[y_i] = log Σ exp − s_i[y_i]
    s /= norm  # p_i
    flat[correct] -= 1.0  # p_i − onehot(y_i)
    s *= 1.0 / batch
    return loss, s.T


def logistic(scores: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean binary cross-entropy of one score a window, ``scores`` (B, 1), against 0/1 ``labels`` (B,).

    −log σ(s) = softplus(−s) and −log(1 − σ(s)) = softplus(s), so J = mean(softplus(s) − y·s), with
    softplus(s) = max(s, 0) + log(1 + e^−|s|), which never overflows.
    """
    s = scores[:, 0]
    y = labels.astype(scores.dtype)
    softplus = np.maximum(s, 0.0) + np.log1p(np.exp(-np.abs(s)))
    loss = float(np.mean(softplus - y * s))
    p = 0.5 * (1.0 + np.tanh(0.5 * s))  # σ(s), without overflow
    return loss, ((p - y) / len(s))[:, None]


def margin(scores: np.ndarray, positives: int) -> tuple[float, np.ndarray]:
    """The max-margin objective of one score a window, ``scores`` (P + nP, 1).

    The first ``positives`` (P) rows are the true windows, then n blocks of P corrupted copies, block j
    row i a copy of true window i. Returns (J, ∂J/∂scores).
    """
    s = scores[:, 0]
    true = s[:positives]  # (P,)
    corrupted = s[positives:].reshape(-1, positives)  # (n, P)
    pairs = corrupted.size
    hinge = 1.0 - true + corrupted  # (n, P) m_ij
    active = (hinge > 0.0).astype(scores.dtype)
    loss = float(np.sum(hinge * active) / pairs)
    d_corrupted = active / pairs
    d_true = -d_corrupted.sum(axis=0)
    return loss, np.concatenate([d_true, d_corrupted.ravel()])[:, None]


def margin_pieces(scores: np.ndarray, positives: int) -> np.ndarray:
    """Which side of its kink each hinge is on (True: m_ij > 0): what a gradient check compares."""
    s = scores[:, 0]
    return (1.0 - s[:positives] + s[positives:].reshape(-1, positives)) > 0.0
