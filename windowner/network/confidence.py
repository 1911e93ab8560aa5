"""Confidence: how probable the model finds each predicted tag and each predicted entity.

A model's scores define a distribution over the tag paths y = y_1 … y_n of a sentence, the one its
decoder reads (``docs/gradients.md`` §9 and ``docs/confidence.md``)::

    p(y) ∝ exp(A_start[y_1] + Σ_t f_t[y_t] + Σ_{t≥2} A[y_{t−1}, y_t] + A_end[y_n])

over the paths the decoder can output: with ``model.decode: viterbi`` only the valid IOB2 paths (the
impossible transitions get A = −∞, as in :mod:`windowner.network.decoding`), with ``argmax`` every path. A,
A_start and A_end are a ``crf`` model's learned transitions and 0 for the other losses; then, without the IOB2
constraint, p is a product of one softmax a token and P(y_t = j) is the softmax of f_t (for ``logistic``
and ``margin``, of the scores (0, s − θ) that decoding reads: σ(s − θ) for the location).

* A **token's score** is the marginal P(y_t = c_t) of the class c_t the decoder chose (for a location task
  that learns other types, a token tagged ``O`` scores P(y_t is no location tag)).
* An **entity's score** is the probability that the entity, exactly, is one of the path's entities: its
  first token begins an entity of its type, every other token continues it, and the next token does not::

      P(s, e, X) = P(y_s = B-X, y_{s+1…e−1} = I-X, y_e ≠ I-X)
                 + P(y_{s−1} ∉ {B-X, I-X}, y_s = I-X, y_{s+1…e−1} = I-X, y_e ≠ I-X)

  (the second term: an ``I-X`` that starts an entity, as conlleval reads argmax output; it is 0 on the
  valid IOB2 paths; with the location task's classes O/LOC only the second term exists). It is not the
  mean or the minimum of its tokens' scores: those ignore the boundaries (a confident ``New`` ``York``
  followed by a likely ``City`` is an unlikely entity ``New York``).

**Scaled forward-backward.** The recursions of :mod:`windowner.network.losses.crf` in probability space with a
normaliser c_t a token (Rabiner's scaling), so that a step is a (n, C) @ (C, C) product and no exp or log
of (n, C, C) arrays. With φ_t[j] = exp(f_t[j] − max_k f_t[k]) and K = exp(A − max A) (0 where forbidden),
and similarly K_start, K_end::

    α̂_1 = K_start ⊙ φ_1 / c_1                 α̂_t = (α̂_{t−1} K) ⊙ φ_t / c_t      (c_t makes Σ_j α̂_t[j] = 1)
    β̂_n = K_end / (α̂_n · K_end)               β̂_t = K (φ_{t+1} ⊙ β̂_{t+1}) / c_{t+1}
    P(y_t = j) = α̂_t[j] β̂_t[j]

α̂_t[j] is exp(α_t[j]) divided by the same number for every j (Π_{u≤t} c_u and the maxima taken out),
β̂_t[j] is exp(β_t[j]) divided by Z over that number, so α̂_t[j] β̂_t[j] = exp(α_t[j] + β_t[j] − log Z).
A fixed run of tags τ_s … τ_{e−1} then has probability::

    P(y_{s−1} ∈ P, y_{s…e−1} = τ, y_e ∈ F) = head · Π_{t=s+1}^{e−1} K[τ_{t−1}, τ_t] φ_t[τ_t] / c_t · tail
    head = α̂_s[τ_s]  (every y_{s−1}, or s the first token)     = Σ_{i∈P} α̂_{s−1}[i] K[i, τ_s] φ_s[τ_s] / c_s
    tail = β̂_{e−1}[τ_{e−1}]  (every y_e, or e−1 the last token) = Σ_{j∈F} K[τ_{e−1}, j] φ_e[j] β̂_e[j] / c_e

Scores more than :data:`FLOOR` below a token's best (transitions more than :data:`FLOOR` below the best)
are read as :data:`FLOOR` below, so that no normaliser underflows to 0 (see its comment).

``tests/test_confidence.py`` checks the marginals and the entity probabilities against the sums over every
tag path of small random problems, in float64.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# a score more than FLOOR below the token's best (a transition more than FLOOR below the best transition)
# is read as FLOOR below: the recursions then never meet a sum that underflows to 0, and only paths whose
# probability is below e^−FLOOR relative to the others change
FLOOR = 200.0


@dataclass(frozen=True)
class Posteriors:
    """The scaled forward and backward quantities of a batch of sentences, token rows in the batch's order.

    ``alpha``, ``beta``, ``phi`` ``(N, C)``, ``norm`` (c_t) ``(N,)``, ``K`` ``(C, C)``; ``first`` and
    ``last``, the row of each token's sentence's first and last token ``(N,)``.
    """

    alpha: np.ndarray
    beta: np.ndarray
    phi: np.ndarray
    norm: np.ndarray
    K: np.ndarray
    first: np.ndarray
    last: np.ndarray

    def marginals(self) -> np.ndarray:
        """P(y_t = j) ``(N, C)``: every row sums to 1."""
        return self.alpha * self.beta

    def runs(
        self,
        starts: np.ndarray,
        ends: np.ndarray,
        begin: np.ndarray,
        inside: np.ndarray,
        before: np.ndarray,
        after: np.ndarray,
    ) -> np.ndarray:
        """P(y_{s−1} ∉ before, y_s = begin, y_{s+1…e−1} = inside, y_e ∉ after) of each of E runs.

        ``starts``, ``ends`` int ``(E,)``: token rows, ends exclusive, within one sentence; ``begin``,
        ``inside`` int ``(E,)``: classes; ``before``, ``after`` bool ``(E, C)``: the classes the token
        before (after) the run may not have (nothing is asked of it at a sentence's first (last) token).
        """
        alpha, beta, phi, norm, K = self.alpha, self.beta, self.phi, self.norm, self.K
        head = alpha[starts, begin]
        inner = (starts > self.first[starts]) & before.any(axis=1)  # a constraint on y_{s−1}
        if inner.any():
            rows, b = starts[inner], begin[inner]
            weights = alpha[rows - 1] * K[:, b].T  # (e, C): α̂_{s−1}[i] K[i, τ_s]
            weights[before[inner]] = 0.0
            head[inner] = weights.sum(axis=1) * phi[rows, b] / norm[rows]
        lengths = ends - starts
        tag = begin.copy()  # τ_{t−1}
        for k in range(1, int(lengths.max(initial=1))):
            going = lengths > k
            rows, i = starts[going] + k, inside[going]
            head[going] *= K[tag[going], i] * phi[rows, i] / norm[rows]
            tag[going] = i
        tail = beta[ends - 1, tag]
        inner = (ends - 1 < self.last[ends - 1]) & after.any(axis=1)  # a constraint on y_e
        if inner.any():
            rows, t = ends[inner], tag[inner]
            weights = K[t] * phi[rows] * beta[rows]  # (e, C): K[τ_{e−1}, j] φ_e[j] β̂_e[j]
            weights[after[inner]] = 0.0
            tail[inner] = weights.sum(axis=1) / norm[rows]
        return head * tail


def posteriors(
    scores: np.ndarray,
    lengths: Sequence[int],
    allowed: np.ndarray | None = None,
    allowed_start: np.ndarray | None = None,
    transitions: dict[str, np.ndarray] | None = None,
) -> Posteriors:
    """Scaled forward-backward over the sentences of a batch (see the module docstring).

    Args:
        scores: per-token class scores f ``(N, C)``, sentence after sentence.
        lengths: sentence lengths summing to N.
        allowed, allowed_start: the possible transitions
        (:func:`~windowner.network.decoding.allowed_transitions`),
            or None: every path.
        transitions: ``A`` ``(C, C)``, ``A_start``, ``A_end`` ``(C,)`` of a ``crf`` model, or None (zero).
    """
    f = np.asarray(scores, dtype=np.float64)
    tokens, classes = f.shape
    lengths = np.asarray(lengths, dtype=np.int64)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    first = np.repeat(starts, lengths)
    last = np.repeat(ends - 1, lengths)
    A = np.zeros((classes, classes)) if transitions is None else transitions["A"].astype(np.float64)
    start = np.zeros(classes) if transitions is None else transitions["A_start"].astype(np.float64)
    end = np.zeros(classes) if transitions is None else transitions["A_end"].astype(np.float64)
    if allowed is not None:
        A = np.where(allowed, A, -np.inf)
        start = np.where(allowed_start, start, -np.inf)
    K, K_start, K_end = (np.exp(np.maximum(x - x.max(), -FLOOR)) * np.isfinite(x) for x in (A, start, end))
    phi = np.exp(np.maximum(f - f.max(axis=1, keepdims=True), -FLOOR)) if tokens else f.copy()
    alpha = np.empty_like(phi)
    beta = np.empty_like(phi)
    norm = np.ones(tokens)
    order = np.argsort(-lengths, kind="stable")  # longest first: at step t the first active[t] of them
    order = order[lengths[order] > 0]
    if len(order):
        # as in decoding.viterbi: each step on the (n, C) arrays of the first n sentences, kept in lists
        # and put in token order at the end (no gather and scatter of (N, C) arrays at every step)
        heads = starts[order]
        active = np.searchsorted(-lengths[order], -np.arange(lengths[order[0]]))
        phis = [phi.take(heads[: active[t]] + t, axis=0) for t in range(len(active))]
        x = K_start * phis[0]
        norms = [x.sum(axis=1)]
        alphas = [x / norms[0][:, None]]
        for t in range(1, len(active)):
            x = alphas[-1][: active[t]] @ K
            x *= phis[t]
            c = x.sum(axis=1)
            x /= c[:, None]
            alphas.append(x)
            norms.append(c)
        betas = [alphas[0]] * len(active)
        for t in range(len(active) - 1, -1, -1):
            n, m = active[t], active[t + 1] if t + 1 < len(active) else 0  # m of them go on after t
            b = np.empty((n, classes))
            b[m:] = K_end / (alphas[t][m:] @ K_end)[:, None]
            if m:
                b[:m] = ((phis[t + 1] * betas[t + 1]) @ K.T) / norms[t + 1][:, None]
            betas[t] = b
        rows = np.concatenate([heads[: active[t]] + t for t in range(len(active))])
        alpha[rows] = np.concatenate(alphas)
        beta[rows] = np.concatenate(betas)
        norm[rows] = np.concatenate(norms)
    return Posteriors(alpha, beta, phi, norm, K, first, last)


def confidences(
    tags: Sequence[str],
    best: np.ndarray,
    post: Posteriors,
    lengths: Sequence[int],
    chunks: Sequence[Sequence[tuple[int, int, str]]],
    location: str | None = None,
) -> tuple[list[list[float]], list[list[float]], list[list[float]]]:
    """The score of every token and of every entity of a batch.

    Args:
        tags: the tag of each class (``Task.tags``).
        best: the class the decoder chose for each token, int ``(N,)``.
        post: :func:`posteriors` of the batch.
        lengths: the sentence lengths.
        chunks: the entities ``(start, end, type)`` of each sentence's output tags (token positions in
            the sentence, end exclusive).
        location: for a location task that learns other types, its type: an ``O`` token scores the
            probability of every class but the location's.

    Returns:
        ``(token scores, entity scores, outside scores)`` of each sentence; a token's outside score is the
        probability that it is in no entity the task outputs (P(y_t = O), or for a location task with
        other types, of no location tag).
    """
    marginals = post.marginals()
    token = marginals[np.arange(len(best)), best]
    if location is not None:
        kept = np.array([tag[2:] == location for tag in tags])
        outside = 1.0 - marginals[:, kept].sum(axis=1)
        token = np.where(
            kept[best], token, outside
        )  # (a token is tagged O unless its class is the location's)
    else:
        outside = marginals[:, list(tags).index("O")]
    entity = entity_probabilities(tags, post, np.cumsum(lengths) - np.asarray(lengths), chunks)
    token_scores, entity_scores, outside_scores, done = [], [], [], 0
    values, scores, out = token.tolist(), entity.tolist(), outside.tolist()
    for end, length, found in zip(np.cumsum(lengths).tolist(), lengths, chunks, strict=True):
        token_scores.append(values[end - length : end])
        outside_scores.append(out[end - length : end])
        entity_scores.append(scores[done : done + len(found)])
        done += len(found)
    return token_scores, entity_scores, outside_scores


def entity_probabilities(
    tags: Sequence[str],
    post: Posteriors,
    offsets: Sequence[int],
    chunks: Sequence[Sequence[tuple[int, int, str]]],
) -> np.ndarray:
    """P(s, e, X) (see the module docstring) of every entity of ``chunks``, in order, ``(E,)``.

    ``tags``: the tag of each class (``Task.tags``: IOB2 tags, or O and I-X for the location task);
    ``offsets``: the row of each sentence's first token; ``chunks``: the ``(start, end, type)`` of each
    sentence, positions in the sentence, end exclusive.
    """
    index = {tag: i for i, tag in enumerate(tags)}
    rows = [
        (int(o) + s, int(o) + e, kind)
        for o, found in zip(offsets, chunks, strict=True)
        for s, e, kind in found
    ]
    if not rows:
        return np.zeros(0)
    count, classes = len(rows), len(tags)
    starts = np.array([row[0] for row in rows], dtype=np.int64)
    ends = np.array([row[1] for row in rows], dtype=np.int64)
    inside = np.array([index.get("I-" + row[2], -1) for row in rows], dtype=np.int64)
    opening = np.array([index.get("B-" + row[2], -1) for row in rows], dtype=np.int64)
    entries = np.arange(count)
    kind = np.zeros((count, classes), dtype=bool)  # B-X and I-X
    after = np.zeros((count, classes), dtype=bool)  # I-X: it would continue the entity
    for column in (inside, opening):
        has = column >= 0
        kind[entries[has], column[has]] = True
    has_i, has_b = inside >= 0, opening >= 0
    after[entries[has_i], inside[has_i]] = True
    probability = np.zeros(count)
    if has_i.any():  # y_s = I-X after a token not of type X (or at the sentence's start)
        m = has_i
        probability[m] += post.runs(starts[m], ends[m], inside[m], inside[m], kind[m], after[m])
    m = has_b & (has_i | (ends - starts == 1))  # (a type without I-X has one-token entities only)
    if m.any():  # y_s = B-X, whatever comes before
        cont = np.where(has_i, inside, opening)[m]
        nothing = np.zeros((int(m.sum()), classes), dtype=bool)
        probability[m] += post.runs(starts[m], ends[m], opening[m], cont, nothing, after[m])
    return probability
