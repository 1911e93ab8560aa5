"""Decoding: Viterbi against every path, and never an impossible IOB2 sequence."""

import itertools

import numpy as np
import pytest

from windowner.data.conll import iob1_to_iob2
from windowner.evaluation.metrics import chunks
from windowner.network.decoding import allowed_transitions, viterbi
from windowner.network.tasks import Task

CLASSES = ("O", "B-LOC", "I-LOC", "B-PER", "I-PER")


def valid_iob2(tags):
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and (previous == "O" or previous[2:] != tag[2:]):
            return False
        previous = tag
    return True


def test_allowed_transitions_of_iob2():
    allowed, start = allowed_transitions(CLASSES)
    for i, a in enumerate(CLASSES):
        for j, b in enumerate(CLASSES):
            first = "B-" + a[2:] if a.startswith("I-") else a  # a itself may follow a B- of its type
            assert allowed[i, j] == valid_iob2([first, b]), (a, b)
    assert start.tolist() == [True, True, False, True, False]


def test_location_task_allows_everything():
    allowed, start = allowed_transitions(("O", "I-LOC"))
    assert allowed.all() and start.all()


def brute_force(scores, allowed, start, transitions):
    n, C = scores.shape
    best, best_path = -np.inf, None
    for path in itertools.product(range(C), repeat=n):
        if not start[path[0]] or any(not allowed[path[t - 1], path[t]] for t in range(1, n)):
            continue
        total = sum(scores[t, path[t]] for t in range(n))
        if transitions:
            total += transitions["A_start"][path[0]] + transitions["A_end"][path[-1]]
            total += sum(transitions["A"][path[t - 1], path[t]] for t in range(1, n))
        if total > best:
            best, best_path = total, path
    return list(best_path)


@pytest.mark.parametrize("with_transitions", [False, True])
def test_viterbi_finds_the_best_allowed_path(with_transitions):
    rng = np.random.default_rng(3)
    lengths = [4, 1, 5, 3]
    scores = rng.normal(size=(sum(lengths), 5)) * 2
    allowed, start = allowed_transitions(CLASSES)
    transitions = None
    if with_transitions:
        transitions = {
            "A": rng.normal(size=(5, 5)),
            "A_start": rng.normal(size=5),
            "A_end": rng.normal(size=5),
        }
    best = viterbi(scores, lengths, allowed, start, transitions)
    offset = 0
    for n in lengths:
        assert best[offset : offset + n].tolist() == brute_force(
            scores[offset : offset + n], allowed, start, transitions
        )
        offset += n


def test_viterbi_without_constraints_or_transitions_is_argmax():
    rng = np.random.default_rng(4)
    scores = rng.normal(size=(30, 3))
    everything = np.ones((3, 3), bool), np.ones(3, bool)
    np.testing.assert_array_equal(viterbi(scores, [10, 15, 5], *everything), scores.argmax(axis=1))


def test_decoding_never_gives_an_impossible_sequence():
    rng = np.random.default_rng(5)
    task = Task("entities", CLASSES)
    lengths = rng.integers(1, 12, size=200).tolist()
    scores = rng.normal(size=(sum(lengths), 5)) * 3
    scores[:, 2] += 2  # I-LOC likely, often where it is impossible
    for sentence in task.decode(scores, lengths, "viterbi"):
        assert valid_iob2(sentence)
    argmax = task.decode(scores, lengths, "argmax")
    assert all(valid_iob2(s) for s in argmax)  # repaired the conlleval way ...
    raw = [CLASSES[i] for i in scores.argmax(axis=1)]
    assert not valid_iob2(raw)  # ... from sequences that were not valid
    assert sum(len(chunks(s)) for s in argmax) > 0


@pytest.mark.parametrize(("name", "classes"), [("entities", CLASSES), ("location", ("O", "LOC"))])
def test_argmax_tags_are_read_as_conll_iob1_to_iob2_reads_them(name, classes):
    """The decoder repairs every sentence at once; conll.iob1_to_iob2 does it one sentence at a time."""
    rng = np.random.default_rng(6)
    task = Task(name, classes)
    lengths = [0, *rng.integers(0, 9, size=300).tolist(), 0]  # empty sentences too
    scores = rng.normal(size=(sum(lengths), len(classes)))
    flat = [task.tags[i] for i in scores.argmax(axis=1)]
    ends = np.cumsum(lengths)
    expected = [iob1_to_iob2(flat[end - n : end]) for end, n in zip(ends, lengths, strict=True)]
    assert task.decode(scores, lengths, "argmax") == expected
    assert any(tag.startswith("B-") for s in expected for tag in s)


def test_viterbi_handles_empty_sentences():
    scores = np.zeros((2, 5))
    allowed, start = allowed_transitions(CLASSES)
    assert viterbi(scores, [0, 2, 0], allowed, start).tolist() == [0, 0]
    assert viterbi(np.zeros((0, 5)), [], allowed, start).tolist() == []


def test_viterbi_breaks_ties_towards_the_first_class():
    """Equal path scores: each step and the last token take the lowest class index among the best (the
    rule of numpy's argmax), so a sentence of equal scores decodes to all O, whatever its length."""
    allowed, start = allowed_transitions(CLASSES)
    lengths = [1, 4, 9, 2]
    tags = viterbi(np.zeros((sum(lengths), len(CLASSES)), dtype=np.float32), lengths, allowed, start)
    assert tags.tolist() == [0] * sum(lengths)
    scores = np.zeros((3, len(CLASSES)))
    scores[:, 1] = scores[:, 3] = 1.0  # two best classes a token: the first of them wins
    assert viterbi(scores, [3], np.ones_like(allowed), np.ones_like(start)).tolist() == [1, 1, 1]
