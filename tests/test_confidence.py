"""Confidence (windowner/network/confidence.py): the marginals and the entity probabilities of the
forward-backward recursions against sums over every tag path of small random problems, in float64."""

import itertools

import numpy as np
import pytest

from windowner.evaluation.metrics import chunks
from windowner.network.confidence import entity_probabilities, posteriors
from windowner.network.decoding import allowed_transitions

IOB2 = ("O", "B-LOC", "I-LOC", "B-PER", "I-PER")
LOCATION = ("O", "I-LOC")  # the location task's classes, read the IOB1 way
NO_INSIDE = ("O", "B-LOC", "I-LOC", "B-PER")  # a type whose entities were all one token long in training


def every_path(scores, allowed, allowed_start, transitions):
    """``{path: p(path)}`` of one sentence: exp(score) over every allowed path, normalised."""
    n, classes = scores.shape
    A = transitions["A"] if transitions else np.zeros((classes, classes))
    start = transitions["A_start"] if transitions else np.zeros(classes)
    end = transitions["A_end"] if transitions else np.zeros(classes)
    weights = {}
    for path in itertools.product(range(classes), repeat=n):
        if allowed is not None and (
            not allowed_start[path[0]] or not all(allowed[a, b] for a, b in itertools.pairwise(path))
        ):
            continue
        score = start[path[0]] + end[path[-1]] + sum(scores[t, path[t]] for t in range(n))
        score += sum(A[a, b] for a, b in itertools.pairwise(path))
        weights[path] = np.exp(score)
    total = sum(weights.values())
    return {path: weight / total for path, weight in weights.items()}


def brute_force(tags, scores, lengths, allowed, allowed_start, transitions):
    """Marginals ``(N, C)`` and ``{(sentence, start, end, type): P}`` of every entity some path has."""
    marginals = np.zeros_like(scores)
    found = {}
    offset = 0
    for sentence, n in enumerate(lengths):
        paths = every_path(scores[offset : offset + n], allowed, allowed_start, transitions)
        for path, p in paths.items():
            marginals[offset + np.arange(n), list(path)] += p
            for start, end, kind in chunks([tags[c] for c in path]):
                found[sentence, start, end, kind] = found.get((sentence, start, end, kind), 0.0) + p
        offset += n
    return marginals, found


def every_span(tags, lengths):
    """Every (sentence, start, end, type) a sentence of ``lengths`` could hold."""
    kinds = sorted({tag[2:] for tag in tags if tag != "O"})
    return [
        (sentence, start, end, kind)
        for sentence, n in enumerate(lengths)
        for start in range(n)
        for end in range(start + 1, n + 1)
        for kind in kinds
    ]


@pytest.mark.parametrize("tags", [IOB2, LOCATION, NO_INSIDE])
@pytest.mark.parametrize("constrained", [True, False])
@pytest.mark.parametrize("crf", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_marginals_and_entity_probabilities_against_every_path(tags, constrained, crf, seed):
    rng = np.random.default_rng(seed)
    lengths = [3, 1, 4, 2]
    classes = len(tags)
    scores = rng.normal(scale=2.0, size=(sum(lengths), classes))
    transitions = None
    if crf:
        shapes = {"A": (classes, classes), "A_start": (classes,), "A_end": (classes,)}
        transitions = {name: rng.normal(scale=2.0, size=shape) for name, shape in shapes.items()}
    allowed, allowed_start = allowed_transitions(tags) if constrained else (None, None)
    post = posteriors(scores, lengths, allowed, allowed_start, transitions)
    marginals, found = brute_force(tags, scores, lengths, allowed, allowed_start, transitions)
    np.testing.assert_allclose(post.marginals(), marginals, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(post.marginals().sum(axis=1), 1.0, rtol=1e-12)

    spans = every_span(tags, lengths)
    offsets = np.cumsum(lengths) - lengths
    per_sentence = [
        [(s, e, kind) for sentence_, s, e, kind in spans if sentence_ == i] for i in range(len(lengths))
    ]
    computed = entity_probabilities(tags, post, offsets, per_sentence)
    expected = [found.get(span, 0.0) for span in spans]
    assert max(expected) > 0.05  # the problem has likely entities, not only improbable ones
    np.testing.assert_allclose(computed, expected, rtol=1e-9, atol=1e-13)


def test_without_transitions_or_constraints_the_marginals_are_the_softmax():
    rng = np.random.default_rng(3)
    scores = rng.normal(scale=3.0, size=(7, 5))
    softmax = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(posteriors(scores, [4, 3]).marginals(), softmax, rtol=1e-12)


def test_large_scores_and_a_long_sentence_stay_finite():
    """Scaling keeps the recursions in range where exp(score) of a path would overflow."""
    rng = np.random.default_rng(4)
    scores = rng.normal(scale=300.0, size=(400, 5))
    transitions = {"A": rng.normal(scale=50.0, size=(5, 5)), "A_start": np.zeros(5), "A_end": np.zeros(5)}
    allowed, allowed_start = allowed_transitions(IOB2)
    post = posteriors(scores.astype(np.float32), [400], allowed, allowed_start, transitions)
    marginals = post.marginals()
    assert np.isfinite(marginals).all()
    np.testing.assert_allclose(marginals.sum(axis=1), 1.0, rtol=1e-9)


def test_empty_sentences_and_an_empty_batch():
    post = posteriors(np.zeros((0, 3)), [0, 0])
    assert post.marginals().shape == (0, 3)
    post = posteriors(np.ones((2, 3)), [0, 2, 0])
    np.testing.assert_allclose(post.marginals(), 1 / 3)
