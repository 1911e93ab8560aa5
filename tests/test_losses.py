"""Each loss: its value against a direct computation, its gradient against central differences (float64),
and the batches it draws."""

import itertools
import warnings

import numpy as np
import pytest
from helpers import max_relative_error, numeric_gradient

from windowner.network import losses
from windowner.network.gradcheck import TOLERANCE
from windowner.network.losses import LOSSES, Examples, crf_loss, softmax_cross_entropy
from windowner.network.losses.window import logistic, margin

TOL = TOLERANCE


@pytest.fixture
def rng():
    return np.random.default_rng(99)


def test_softmax_cross_entropy_gradient_and_value(rng):
    scores = rng.normal(size=(6, 4)) * 3
    labels = rng.integers(0, 4, size=6)
    loss, d_scores = softmax_cross_entropy(scores, labels)
    probabilities = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(probabilities[np.arange(6), labels])))
    assert (
        max_relative_error(
            d_scores, numeric_gradient(lambda: softmax_cross_entropy(scores, labels)[0], scores)
        )
        < TOL
    )


def test_softmax_cross_entropy_does_not_overflow():
    scores = np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 999.0]])
    loss, d_scores = softmax_cross_entropy(scores, np.array([0, 2]))
    assert np.isfinite(loss) and np.all(np.isfinite(d_scores))
    assert loss == pytest.approx(0.5 * (0.0 + np.log1p(np.exp(-1.0)) + 1.0))


def test_softmax_cross_entropy_takes_any_integer_labels(rng):
    """The correct classes are found by a flat index label·B + i: no overflow in a small label dtype."""
    scores = rng.normal(size=(300, 9)).astype(np.float32)
    labels = rng.integers(0, 9, size=300)
    expected = softmax_cross_entropy(scores, labels)
    small = [labels.astype(kind) for kind in (np.uint8, np.int8, np.int16, np.int32)]
    for given in (*small, labels.tolist()):
        loss, d_scores = softmax_cross_entropy(scores, given)
        assert loss == expected[0]
        np.testing.assert_array_equal(d_scores, expected[1])


def test_logistic_gradient_and_value(rng):
    scores = rng.normal(size=(7, 1)) * 3
    labels = rng.integers(0, 2, size=7)
    loss, d_scores = logistic(scores, labels)
    p = 1 / (1 + np.exp(-scores[:, 0]))
    assert loss == pytest.approx(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))
    assert d_scores.shape == (7, 1)
    assert max_relative_error(d_scores, numeric_gradient(lambda: logistic(scores, labels)[0], scores)) < TOL


def test_logistic_is_the_two_class_softmax_with_scores_0_and_s(rng):
    scores = rng.normal(size=(5, 1)) * 4
    labels = rng.integers(0, 2, size=5)
    two = LOSSES["logistic"]().class_scores(scores)
    assert logistic(scores, labels)[0] == pytest.approx(softmax_cross_entropy(two, labels)[0])


def test_logistic_does_not_overflow():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, d = logistic(np.array([[800.0], [-800.0]]), np.array([1, 0]))
    assert loss == 0.0 and np.all(d == 0)


def test_margin_value_and_gradient(rng):
    positives, copies = 4, 3
    scores = rng.normal(size=(positives * (1 + copies), 1))
    loss, d_scores = margin(scores, positives)
    s = scores[:, 0]
    expected = np.mean(
        [
            max(0.0, 1 - s[i] + s[positives + j * positives + i])
            for i in range(positives)
            for j in range(copies)
        ]
    )
    assert loss == pytest.approx(expected)
    hinge = 1 - s[:positives] + s[positives:].reshape(copies, positives)
    assert np.all(np.abs(hinge) > 1e-2)  # no kink within the steps of the numeric gradient
    assert max_relative_error(d_scores, numeric_gradient(lambda: margin(scores, positives)[0], scores)) < TOL


def test_margin_is_zero_when_every_true_window_wins_by_one():
    scores = np.array([[3.0], [2.5], [1.9], [1.0]])  # true windows 3, 2.5; copies 1.9, 1.0
    loss, d = margin(scores, 2)
    assert loss == 0.0 and not d.any()


def brute_force_crf(scores, labels, A, start, end):
    """−log p(gold) of one sentence, summing exp(score) over all Cⁿ paths."""
    n, C = scores.shape

    def path_score(path):
        total = start[path[0]] + end[path[-1]] + sum(scores[t, path[t]] for t in range(n))
        return total + sum(A[path[t - 1], path[t]] for t in range(1, n))

    log_z = np.logaddexp.reduce([path_score(p) for p in itertools.product(range(C), repeat=n)])
    return log_z - path_score(labels)


def crf_problem(rng, lengths=(3, 1, 4, 2), classes=3):
    scores = rng.normal(size=(sum(lengths), classes))
    labels = rng.integers(0, classes, size=sum(lengths))
    params = {
        "A": rng.normal(size=(classes, classes)),
        "A_start": rng.normal(size=classes),
        "A_end": rng.normal(size=classes),
    }
    return scores, labels, np.array(lengths), params


def test_crf_value_against_every_path(rng):
    scores, labels, lengths, params = crf_problem(rng)
    loss, _, _ = crf_loss(scores, labels, lengths, params)
    total, start = 0.0, 0
    for n in lengths:
        part = slice(start, start + n)
        total += brute_force_crf(scores[part], labels[part], params["A"], params["A_start"], params["A_end"])
        start += n
    assert loss == pytest.approx(total / lengths.sum(), rel=1e-12)


def test_crf_gradients_against_central_differences(rng):
    scores, labels, lengths, params = crf_problem(rng)
    _, d_scores, grads = crf_loss(scores, labels, lengths, params)

    def f():
        return crf_loss(scores, labels, lengths, params)[0]

    assert max_relative_error(d_scores, numeric_gradient(f, scores)) < TOL
    for name in ("A", "A_start", "A_end"):
        assert grads[name].shape == params[name].shape
        assert max_relative_error(grads[name], numeric_gradient(f, params[name])) < TOL, name


def test_crf_without_transitions_is_the_window_softmax(rng):
    scores, labels, lengths, params = crf_problem(rng)
    zero = {name: np.zeros_like(value) for name, value in params.items()}
    loss, d_scores, _ = crf_loss(scores, labels, lengths, zero)
    expected, d_expected = softmax_cross_entropy(scores, labels)
    assert loss == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(d_scores, d_expected, atol=1e-15)


def test_crf_order_of_sentences_does_not_matter(rng):
    scores, labels, lengths, params = crf_problem(rng, lengths=(2, 5, 1))
    loss, d, grads = crf_loss(scores, labels, lengths, params)
    order = [2, 0, 1]  # the same sentences, shuffled
    pieces = np.split(np.arange(8), np.cumsum(lengths)[:-1])
    index = np.concatenate([pieces[i] for i in order])
    loss2, d2, grads2 = crf_loss(scores[index], labels[index], lengths[order], params)
    assert loss2 == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(d2, d[index], atol=1e-15)
    np.testing.assert_allclose(grads2["A"], grads["A"], atol=1e-15)


def test_crf_a_very_unlikely_short_sentence_beside_a_long_one_warns_nothing(rng):
    # Before: "overflow encountered in exp" from the padding past the short sentence's end (log Z < −709
    # there), though every value was right. Each sentence's gradient is the one it has alone.
    scores, labels, lengths, params = crf_problem(rng, lengths=(4, 1, 3))
    scores[4] -= 1000.0  # the one-token sentence: log Z about −1000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, d_scores, grads = crf_loss(scores, labels, lengths, params)
    assert np.isfinite(loss) and np.isfinite(d_scores).all()
    assert all(np.isfinite(value).all() for value in grads.values())
    total, expected, starts = 0.0, {name: 0.0 for name in grads}, np.cumsum(lengths) - lengths
    for start, n in zip(starts, lengths, strict=True):
        part = slice(start, start + n)
        alone, d_alone, grads_alone = crf_loss(scores[part], labels[part], np.array([n]), params)
        total += alone * n
        np.testing.assert_allclose(d_scores[part] * lengths.sum(), d_alone * n, rtol=1e-12, atol=1e-15)
        expected = {name: expected[name] + grads_alone[name] * n for name in grads}
    assert loss == pytest.approx(total / lengths.sum(), rel=1e-12)
    for name in grads:
        np.testing.assert_allclose(grads[name] * lengths.sum(), expected[name], rtol=1e-12, atol=1e-12)


def examples(rng, sentences=40, classes=3):
    lengths = rng.integers(1, 9, size=sentences)
    n = int(lengths.sum())
    return Examples(rng.integers(0, 50, size=(n, 2, 5)), rng.integers(0, classes, size=n), lengths)


@pytest.mark.parametrize("prefetch", [40, 8192])
def test_window_batches_cover_every_window_once(rng, monkeypatch, prefetch):
    monkeypatch.setattr(losses, "PREFETCH", prefetch)  # 40: gathered 32 windows at a time, cut in two
    data = examples(rng)
    epoch = LOSSES["softmax"]().batches(data, 16, rng)
    batches = list(epoch)
    assert len(epoch) == len(batches)
    assert all(len(b.labels) == 16 for b in batches[:-1])
    seen = np.concatenate([b.windows for b in batches])
    assert sorted(map(bytes, seen)) == sorted(map(bytes, data.windows))


def test_crf_batches_are_whole_sentences_of_about_the_batch_size(rng):
    data = examples(rng)
    epoch = LOSSES["crf"]().batches(data, 20, rng)
    batches = list(epoch)
    assert len(epoch) == len(batches)  # as many as it says: what progress and messages count
    assert sum(len(b.lengths) for b in batches) == len(data.lengths)
    assert all(b.lengths.sum() == len(b.labels) for b in batches)
    assert all(b.lengths.sum() >= 20 for b in batches[:-1]) and all(b.lengths.sum() < 20 + 9 for b in batches)
    starts = np.cumsum(data.lengths) - data.lengths
    sentences = {bytes(data.windows[s : s + n]) for s, n in zip(starts, data.lengths, strict=True)}
    drawn = set()
    for b in batches:
        for piece in np.split(b.windows, np.cumsum(b.lengths)[:-1]):
            drawn.add(bytes(piece))
    assert drawn == sentences  # each sentence whole, none missing


def test_margin_batches_hold_true_windows_and_corrupted_copies(rng):
    data = examples(rng, classes=2)
    loss = LOSSES["margin"](corruptions=3)
    epoch = loss.batches(data, 8, rng)
    batches = list(epoch)
    assert len(epoch) == len(batches)
    assert sum(b.positives for b in batches) == int((data.labels == 1).sum())
    for b in batches:
        P = b.positives
        assert len(b.windows) == 4 * P and b.labels[:P].all() and not b.labels[P:].any()
        copies = b.windows[P:].reshape(3, P, 2, 5)
        for j in range(3):
            changed = copies[j] != b.windows[:P]
            assert not changed[:, 0, [0, 1, 3, 4]].any() and not changed[:, 1].any()  # only the centre word
            assert np.all(copies[j][:, 0, 2] >= 3)  # never a special row ...
            assert np.isin(copies[j][:, 0, 2], data.windows[:, 0, 2]).all()  # ... always a training word
