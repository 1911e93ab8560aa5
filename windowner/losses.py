"""Losses: from the output layer's scores s to a number J and the error signal ∂J/∂s.

Softmax cross-entropy, averaged over a batch of B windows with correct classes y_i::

    p_i = softmax(s_i),   J = −(1/B) Σ_i log p_i[y_i]
    ∂J/∂s_i = (p_i − onehot(y_i)) / B                        (B, C)

(the derivation is in docs/gradients.md). The softmax is computed on s_i − max(s_i), which changes
nothing mathematically and keeps exp() from overflowing.
"""

from __future__ import annotations

import numpy as np


def softmax_cross_entropy(scores: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of ``scores`` (B, C) against int ``labels`` (B,); returns (J, ∂J/∂scores)."""
    batch = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_probs = shifted - log_norm  # (B, C) log p_i
    loss = -float(log_probs[np.arange(batch), labels].mean())
    delta = np.exp(log_probs)
    delta[np.arange(batch), labels] -= 1.0
    return loss, delta / batch
