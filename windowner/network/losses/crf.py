"""The sentence-level log-likelihood (Collobert et al. 2011): the window scores tied along a sentence.

The window network gives every token t of a sentence a score f_t[j] for each tag j (its output layer,
``(n, C)``). A learned tag-transition matrix A ``(C, C)`` (A[i, j]: tag i followed by tag j), a start
vector ``A_start`` and an end vector ``A_end`` ``(C,)`` score a whole tag path y_1 … y_n::

    score(y) = A_start[y_1] + Σ_t f_t[y_t] + Σ_{t≥2} A[y_{t−1}, y_t] + A_end[y_n]
    p(y) = exp(score(y)) / Z,   Z = Σ over all Cⁿ paths of exp(score(y'))

(a linear-chain CRF whose unary scores come from the windows). The loss of a batch of sentences is the
negative log-likelihood of the gold paths, divided by the number of tokens N of the batch::

    J = (1/N) Σ_sentences (log Z − score(y_gold))

so that with A, A_start, A_end = 0 it is exactly the window-level softmax cross-entropy (log Z then
factorises into one log-sum-exp a token). log Z is the forward algorithm in log space (α); its gradient
is the marginals, from the backward algorithm (β)::

    α_1[j] = A_start[j] + f_1[j]            α_t[j] = f_t[j] + logsumexp_i(α_{t−1}[i] + A[i, j])
    β_n[i] = A_end[i]                        β_t[i] = logsumexp_j(A[i, j] + f_{t+1}[j] + β_{t+1}[j])
    log Z = logsumexp_j(α_n[j] + A_end[j])

    ∂J/∂f_t[j]  = (P(y_t = j) − [y_t = j]) / N            P(y_t = j) = exp(α_t[j] + β_t[j] − log Z)
    ∂J/∂A[i, j] = Σ_t (P(y_t = i, y_{t+1} = j) − [gold]) / N
                  P(y_t = i, y_{t+1} = j) = exp(α_t[i] + A[i, j] + f_{t+1}[j] + β_{t+1}[j] − log Z)
    ∂J/∂A_start[j] = (P(y_1 = j) − [y_1 = j]) / N,   ∂J/∂A_end[j] = (P(y_n = j) − [y_n = j]) / N

(derived in ``docs/gradients.md`` §9). The sentences of a batch run through the recursions together:
sorted longest first, at position t only the first ``active[t]`` of them still have a token, so every
step works on a prefix of the rows and no padding is computed.
"""

from __future__ import annotations

import numpy as np

TRANSITIONS = ("A", "A_start", "A_end")


def logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    """log Σ exp(x) along ``axis``, computed as m + log Σ exp(x − m), m the maximum (no overflow)."""
    m = x.max(axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.exp(x - m).sum(axis=axis))


def by_length(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The layout of the recursions: sentences sorted longest first.

    Returns ``positions`` int ``(S, T)`` (the row of token t of the s-th longest sentence in the batch's
    token order, 0 past its end), ``valid`` bool ``(S, T)`` and ``active`` int ``(T,)`` (how many
    sentences have a token at t: they are the first ``active[t]`` rows).
    """
    lengths = np.asarray(lengths)
    order = np.argsort(-lengths, kind="stable")
    sorted_lengths = lengths[order]
    starts = (np.cumsum(lengths) - lengths)[order]
    steps = np.arange(sorted_lengths[0])
    valid = steps[None, :] < sorted_lengths[:, None]
    positions = np.where(valid, starts[:, None] + steps[None, :], 0)
    return positions, valid, valid.sum(axis=0)


def crf_loss(
    scores: np.ndarray, labels: np.ndarray, lengths: np.ndarray, params: dict[str, np.ndarray]
) -> tuple[float, np.ndarray, dict[str, np.ndarray]]:
    """J of the sentences of a batch, and its gradients.

    Args:
        scores: the window scores of every token, ``(N, C)``, sentence after sentence.
        labels: the gold tag of every token, int ``(N,)``.
        lengths: the sentence lengths, ``(S,)``, summing to N.
        params: holds the transitions ``A`` ``(C, C)``, ``A_start`` and ``A_end`` ``(C,)``.

    Returns:
        ``(J, ∂J/∂scores (N, C), {"A": …, "A_start": …, "A_end": …})``.
    """
    A, start, end = params["A"], params["A_start"], params["A_end"]
    tokens, classes = scores.shape
    positions, valid, active = by_length(lengths)
    sentences, steps = positions.shape
    last = valid.sum(axis=1) - 1  # (S,) position of each sentence's last token
    rows = np.arange(sentences)
    f = scores[positions]  # (S, T, C) the unary scores, padded
    gold = labels[positions]  # (S, T)

    alpha = np.zeros_like(f)
    alpha[:, 0] = start + f[:, 0]
    for t in range(1, steps):
        n = active[t]
        alpha[:n, t] = f[:n, t] + logsumexp(alpha[:n, t - 1, :, None] + A, axis=1)
    log_z = logsumexp(alpha[rows, last] + end, axis=1)  # (S,)

    gold_score = start[gold[:, 0]].sum() + end[gold[rows, last]].sum()
    gold_score += f[valid, gold[valid]].sum()
    gold_pairs = valid[:, 1:]  # a transition into position t ≥ 1
    gold_score += A[gold[:, :-1][gold_pairs], gold[:, 1:][gold_pairs]].sum()
    loss = float(log_z.sum() - gold_score) / tokens

    # β past a sentence's end (never read) is its log Z, so that the marginals there are exp(0) = 1: with
    # 0 they were exp(−log Z), which overflows (a warning, from a right result) for log Z below −709
    beta = np.empty_like(f)
    beta[...] = log_z[:, None, None]
    beta[rows, last] = end
    d_transitions = np.zeros_like(A)
    for t in range(steps - 2, -1, -1):
        n = active[t + 1]  # the sentences with a token at t + 1
        ahead = f[:n, t + 1] + beta[:n, t + 1]  # (n, C)
        beta[:n, t] = logsumexp(A + ahead[:, None, :], axis=2)
        pair = alpha[:n, t, :, None] + A + ahead[:, None, :] - log_z[:n, None, None]  # (n, C, C)
        d_transitions += np.exp(pair).sum(axis=0)
    np.subtract.at(d_transitions, (gold[:, :-1][gold_pairs], gold[:, 1:][gold_pairs]), 1.0)

    marginals = np.exp(alpha + beta - log_z[:, None, None])  # (S, T, C) P(y_t = j)
    marginals[valid, gold[valid]] -= 1.0
    d_scores = np.zeros_like(scores)
    d_scores[positions[valid]] = marginals[valid]
    d_start = marginals[:, 0].sum(axis=0)
    d_end = marginals[rows, last].sum(axis=0)
    grads = {"A": d_transitions / tokens, "A_start": d_start / tokens, "A_end": d_end / tokens}
    return loss, d_scores / tokens, grads
