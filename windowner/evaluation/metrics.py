"""Evaluation metrics for tagged sentences: CoNLL entity-level scores, token-level scores and accuracy.

A sentence is a sequence of tag strings, one per token. A tag is either ``"O"`` (outside any entity) or
``"<P>-<TYPE>"`` where the prefix ``P`` is one of ``B`` (begin), ``I`` (inside), ``E`` (end), ``S`` (single)
and ``TYPE`` is the entity type, e.g. ``"B-LOC"`` or ``"I-PER"``.

The entity-level scores follow the CoNLL shared-task script ``conlleval.pl``: the tags are cut into chunks
(entity spans) and a predicted chunk is correct only if a gold chunk has the same start, the same end and
the same type. A chunk that overlaps a gold chunk only partly is wrong twice: once as a false positive (the
predicted span) and once as a false negative (the gold span it missed). On tags of ``O``, ``B-`` and ``I-``
(IOB1, IOB2, ill-formed sequences included) the counts are those of conlleval.pl (version 2004-01-26) and
of seqeval's default mode; ``E-`` and ``S-`` are read as seqeval reads them (conlleval.pl knows no ``S-``
and does not end a chunk between ``E-X`` and ``B-X``). ``tests/test_metrics.py`` checks the scores
against seqeval's.

Token-level scores count tokens instead of chunks (:func:`token_type_scores`, :func:`accuracy`);
:func:`confusion` counts gold against predicted tags; :func:`grouped_scores` splits every score by a group
given to each token (e.g. words seen in training or not).

All scores are fractions in [0, 1], not percentages.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

OUTSIDE = "O"
PREFIXES = ("B", "I", "E", "S")

Chunk = tuple[int, int, str]


def _split_tag(tag: str) -> tuple[str, str]:
    """Split one tag into ``(prefix, type)``.

    ``"O"`` gives ``("O", "")``; ``"B-LOC"`` gives ``("B", "LOC")``. The type is everything after the
    first hyphen, so a type may itself contain hyphens (``"I-MISC-X"`` gives ``("I", "MISC-X")``).
    Raises ValueError for a tag that is neither ``"O"`` nor ``"<P>-<TYPE>"`` with ``P`` in B, I, E, S.
    """
    if tag == OUTSIDE:
        return OUTSIDE, ""
    prefix, hyphen, entity_type = tag.partition("-")
    if not hyphen:
        raise ValueError(f"bad tag {tag!r}: expected 'O' or '<P>-<TYPE>' with P in B, I, E, S")
    if prefix not in PREFIXES or not entity_type:
        raise ValueError(f"bad tag {tag!r}: expected 'O' or '<P>-<TYPE>' with P in B, I, E, S")
    return prefix, entity_type


def _ends_chunk(prev_prefix: str, prev_type: str, prefix: str, entity_type: str) -> bool:
    """True if a chunk ending at the previous token ends there (conlleval.pl ``endOfChunk``)."""
    if prev_prefix in ("E", "S"):
        return True
    if prev_prefix in ("B", "I") and prefix in ("B", "S", OUTSIDE):
        return True
    return prev_prefix != OUTSIDE and prev_type != entity_type


def _starts_chunk(prev_prefix: str, prev_type: str, prefix: str, entity_type: str) -> bool:
    """True if a chunk starts at the current token (conlleval.pl ``startOfChunk``)."""
    if prefix in ("B", "S"):
        return True
    if prev_prefix in ("E", "S", OUTSIDE) and prefix in ("I", "E"):
        return True
    return prefix != OUTSIDE and prev_type != entity_type


def chunks(tags: Sequence[str]) -> list[Chunk]:
    """Cut one sentence's tags into entity chunks, with the rules of conlleval.pl (and seqeval for E-, S-).

    Input: the tags of one sentence in IOB1, IOB2 (BIO), IOBES or plain IO encoding.
    Output: the chunks as ``(start, end, type)`` with ``end`` exclusive, in sentence order.

    A chunk starts at ``B-X`` and ``S-X``; at ``I-X`` or ``E-X`` after ``O``, ``E-`` or ``S-``; and at any
    tag whose type differs from the previous tag's. A chunk ends after ``E-X`` and ``S-X``; before ``B-``,
    ``S-`` and ``O``; before a tag of another type; and at the end of the sentence.

    >>> chunks(["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC"])
    [(0, 2, 'PER'), (3, 5, 'LOC'), (5, 6, 'LOC')]
    """
    result: list[Chunk] = []
    start: int | None = None  # start of the chunk we are inside, None when outside any chunk
    prev_prefix, prev_type = OUTSIDE, ""
    # A trailing "O" closes a chunk that runs to the end of the sentence.
    for i, tag in enumerate([*tags, OUTSIDE]):
        if tag == OUTSIDE and start is None:  # most tokens: no chunk ends here, and none starts
            prev_prefix, prev_type = OUTSIDE, ""
            continue
        prefix, entity_type = _split_tag(tag)
        if start is not None and _ends_chunk(prev_prefix, prev_type, prefix, entity_type):
            result.append((start, i, prev_type))
            start = None
        if _starts_chunk(prev_prefix, prev_type, prefix, entity_type):
            start = i
        prev_prefix, prev_type = prefix, entity_type
    return result


@dataclass(frozen=True)
class Score:
    """Precision, recall and F1 of one class, with the counts they come from.

    ``support`` is the number of gold items (entities or tokens), ``predicted`` the number of predicted
    items and ``correct`` the number of predicted items that are right. A ratio whose denominator is 0
    is 0.0, so an empty prediction has precision 0.0 rather than raising ZeroDivisionError.
    """

    precision: float
    recall: float
    f1: float
    support: int
    predicted: int
    correct: int

    @classmethod
    def from_counts(cls, correct: int, predicted: int, support: int) -> "Score":
        """Build a Score from the counts of correct, predicted and gold items.

        Raises ValueError if a count is negative or ``correct`` exceeds ``predicted`` or ``support``.
        """
        if min(correct, predicted, support) < 0 or correct > predicted or correct > support:
            raise ValueError(
                f"inconsistent counts: correct={correct}, predicted={predicted}, support={support}"
            )
        precision = correct / predicted if predicted else 0.0
        recall = correct / support if support else 0.0
        total = precision + recall
        f1 = 2 * precision * recall / total if total else 0.0
        return cls(precision, recall, f1, int(support), int(predicted), int(correct))

    def as_dict(self) -> dict[str, float | int]:
        """Return ``{"precision", "recall", "f1", "support", "predicted"}`` as plain python numbers (for
        JSON); ``predicted`` tells a precision of 0.0 with nothing predicted (undefined) from a wrong one."""
        return {
            "precision": float(self.precision),
            "recall": float(self.recall),
            "f1": float(self.f1),
            "support": int(self.support),
            "predicted": int(self.predicted),
        }


def _check_aligned(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], name: str = "pred", items: str = "tags"
) -> None:
    """Raise ValueError unless gold and pred (called ``name``) have as many sentences of the same lengths."""
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} sentences but {name} has {len(pred)}")
    for i, (gold_tags, pred_tags) in enumerate(zip(gold, pred, strict=True)):
        if isinstance(gold_tags, str) or isinstance(pred_tags, str):
            raise ValueError(f"sentence {i} is a string; expected a list of sentences, each of {items}")
        if len(gold_tags) != len(pred_tags):
            raise ValueError(
                f"sentence {i}: gold has {len(gold_tags)} tags but {name} has {len(pred_tags)} {items}"
            )


class _Tally:
    """Counts of gold, predicted and correct items per entity type, turned into Scores."""

    def __init__(self) -> None:
        self.support: Counter[str] = Counter()
        self.predicted: Counter[str] = Counter()
        self.correct: Counter[str] = Counter()

    def scores(self) -> dict[str, Score]:
        """One Score per type counted (keys sorted), then ``"micro"``: the counts summed over the types."""
        scores = {
            entity_type: Score.from_counts(
                self.correct[entity_type], self.predicted[entity_type], self.support[entity_type]
            )
            for entity_type in sorted(self.support.keys() | self.predicted.keys())
        }
        scores["micro"] = Score.from_counts(
            sum(self.correct.values()), sum(self.predicted.values()), sum(self.support.values())
        )
        return scores


def entity_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, Score]:
    """CoNLL entity-level precision, recall and F1.

    Input: gold and predicted tags, one list of tags per sentence; both must have the same shape.
    Output: one Score per entity type seen in gold or pred (keys sorted), then ``"micro"``, the
    micro-average over all types (counts summed over types before dividing).

    A predicted chunk is correct only if a gold chunk in the same sentence has the same start, end and
    type. Each sentence is chunked separately, so a chunk never crosses a sentence boundary.
    Raises ValueError if the shapes differ or a tag is malformed.
    """
    _check_aligned(gold, pred)
    tally = _Tally()
    for gold_tags, pred_tags in zip(gold, pred, strict=True):
        gold_chunks = set(chunks(gold_tags))
        pred_chunks = set(chunks(pred_tags))
        tally.support.update(entity_type for _, _, entity_type in gold_chunks)
        tally.predicted.update(entity_type for _, _, entity_type in pred_chunks)
        tally.correct.update(entity_type for _, _, entity_type in gold_chunks & pred_chunks)
    return tally.scores()


def token_type_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, Score]:
    """Token-level precision, recall and F1 of every entity type, and their micro-average.

    Input: gold and predicted tags, one list per sentence, same shape.
    Output: one Score per entity type seen in gold or pred (keys sorted), then ``"micro"``. For a type X,
    ``support`` counts the tokens whose gold tag has type X, ``predicted`` those whose predicted tag has
    type X and ``correct`` those with both. The prefix is ignored: ``B-LOC``, ``I-LOC``, ``E-LOC`` and
    ``S-LOC`` are all LOC, so a ``B-LOC`` predicted as ``I-LOC`` is a correct LOC token (:func:`accuracy`
    compares whole tags). ``"micro"`` sums the counts over the types: its support is every token that
    is not ``O`` in gold. Raises ValueError if the shapes differ or a tag is malformed.
    """
    _check_aligned(gold, pred)
    tally = _Tally()
    for gold_tags, pred_tags in zip(gold, pred, strict=True):
        _count_tokens(tally, zip(gold_tags, pred_tags, strict=True))
    return tally.scores()


def _count_tokens(tally: _Tally, pairs: Iterable[tuple[str, str]]) -> None:
    """Add (gold tag, predicted tag) pairs to the token-level counts of :func:`token_type_scores`."""
    for gold_tag, pred_tag in pairs:
        if gold_tag == pred_tag == OUTSIDE:  # most tokens: nothing to count
            continue
        gold_type, pred_type = _split_tag(gold_tag)[1], _split_tag(pred_tag)[1]
        if gold_type:
            tally.support[gold_type] += 1
        if pred_type:
            tally.predicted[pred_type] += 1
        if gold_type and gold_type == pred_type:
            tally.correct[gold_type] += 1


def token_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], entity_type: str) -> Score:
    """Token-level precision, recall and F1 of one entity type (see :func:`token_type_scores`).

    Input: gold and predicted tags (one list per sentence, same shape) and an entity type such as "LOC".
    Output: the Score of the binary task "is this token of type entity_type?"; all zero if the type
    occurs nowhere. Raises ValueError if the shapes differ.
    """
    return token_type_scores(gold, pred).get(entity_type, Score.from_counts(0, 0, 0))


def accuracy(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    """Fraction of tokens whose predicted tag string equals the gold one (0.0 if there are no tokens).

    Input: gold and predicted tags, one list per sentence, same shape. Raises ValueError if shapes differ.
    """
    _check_aligned(gold, pred)
    equal = total = 0
    for gold_tags, pred_tags in zip(gold, pred, strict=True):
        equal += sum(g == p for g, p in zip(gold_tags, pred_tags, strict=True))
        total += len(gold_tags)
    return equal / total if total else 0.0


def tag_order(tag: str) -> tuple[bool, str, int]:
    """Sort key of tags: ``O`` first, then by entity type, and within a type B, I, E, S."""
    prefix, entity_type = _split_tag(tag)
    return tag != OUTSIDE, entity_type, PREFIXES.index(prefix) if entity_type else -1


@dataclass(frozen=True)
class Confusion:
    """A confusion matrix of token tags.

    ``matrix[i, j]`` (int64, shape ``(L, L)``) counts the tokens whose gold tag is ``labels[i]`` and whose
    predicted tag is ``labels[j]``: rows are gold, columns predicted, the diagonal the correct tags.
    """

    labels: tuple[str, ...]
    matrix: np.ndarray

    def as_dict(self) -> dict[str, list]:
        """``{"labels": [...], "matrix": [[...], ...]}`` as plain python values (for JSON)."""
        return {"labels": list(self.labels), "matrix": self.matrix.tolist()}


def confusion(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> Confusion:
    """Count every (gold tag, predicted tag) pair of tokens.

    Input: gold and predicted tags, one list per sentence, same shape.
    Output: a :class:`Confusion` over every tag that occurs in gold or pred (ordered by :func:`tag_order`).
    Its rows sum to the gold count of each tag, its columns to the predicted count, and its trace over the
    number of tokens is :func:`accuracy`. Raises ValueError if the shapes differ or a tag is malformed.
    """
    _check_aligned(gold, pred)
    pairs = Counter(
        pair
        for gold_tags, pred_tags in zip(gold, pred, strict=True)
        for pair in zip(gold_tags, pred_tags, strict=True)
    )
    labels = tuple(sorted({tag for pair in pairs for tag in pair}, key=tag_order))
    index = {tag: i for i, tag in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for (gold_tag, pred_tag), count in pairs.items():
        matrix[index[gold_tag], index[pred_tag]] = count
    return Confusion(labels, matrix)


SEEN, UNSEEN = "seen", "unseen"


@dataclass(frozen=True)
class GroupScores:
    """The scores of one group of tokens (see :func:`grouped_scores`).

    ``tokens`` is the number of tokens in the group, ``accuracy`` the fraction of them whose predicted tag
    equals the gold tag, ``token_types`` the token-level Scores of :func:`token_type_scores` over them and
    ``entities`` the entity-level Scores of the spans that belong to the group.
    """

    tokens: int
    accuracy: float
    token_types: dict[str, Score]
    entities: dict[str, Score]

    def as_dict(self) -> dict:
        """For JSON: ``{"tokens": n, "accuracy": a, "token_types": {...}, "entities": {...}}``.

        ``token_types`` and ``entities`` map each type and ``"micro"`` to a :meth:`Score.as_dict`.
        """
        return {
            "tokens": self.tokens,
            "accuracy": float(self.accuracy),
            "token_types": {name: s.as_dict() for name, s in self.token_types.items()},
            "entities": {name: s.as_dict() for name, s in self.entities.items()},
        }


def grouped_scores(
    gold: Sequence[Sequence[str]],
    pred: Sequence[Sequence[str]],
    groups: Sequence[Sequence[str]],
    order: Sequence[str] = (UNSEEN, SEEN),
) -> dict[str, GroupScores]:
    """Every score split by a group given to each token, e.g. whether its word occurs in the training data.

    Input: gold and predicted tags and the group of every token (``groups[s][i]`` is the group of token i
    of sentence s), all of the same shape; ``order`` lists every group, the one that wins a span first.
    Output: one :class:`GroupScores` per group of ``order``, in that order (a group without tokens has
    all its counts 0).

    * **Tokens** are scored in their own group: accuracy and :func:`token_type_scores` over the tokens
      whose group is g.
    * **Entities**: a chunk (gold or predicted) ``(start, end, type)`` belongs to the first group of
      ``order`` that any of its tokens ``start .. end − 1`` belongs to. With the default order
      ``("unseen", "seen")`` a span is "unseen" if ANY of its tokens is unseen, and "seen" only if all of
      them are. A gold and a predicted chunk with the same span always fall in the same group, so each
      group's support, predicted and correct counts are those of :func:`entity_scores` restricted to the
      group's chunks, and precision = correct / predicted, recall = correct / support are well defined.

    The groups partition the tokens and the chunks: summed over the groups, every count equals the count
    of :func:`entity_scores` and :func:`token_type_scores` on the whole data.
    Raises ValueError if the shapes differ, a tag is malformed or a token's group is not in ``order``.
    """
    _check_aligned(gold, pred)
    _check_aligned(gold, groups, "groups", "groups")
    rank = {group: i for i, group in enumerate(order)}
    if len(rank) != len(order):
        raise ValueError(f"order {list(order)} names a group twice")
    tokens = {group: _Tally() for group in order}
    entities = {group: _Tally() for group in order}
    sizes = dict.fromkeys(order, 0)
    equal = dict.fromkeys(order, 0)
    for i, (gold_tags, pred_tags, token_groups) in enumerate(zip(gold, pred, groups, strict=True)):
        unknown = [group for group in token_groups if group not in rank]
        if unknown:
            raise ValueError(f"sentence {i}: group {unknown[0]!r} is not in order {list(order)}")
        for gold_tag, pred_tag, group in zip(gold_tags, pred_tags, token_groups, strict=True):
            _count_tokens(tokens[group], [(gold_tag, pred_tag)])
            sizes[group] += 1
            equal[group] += gold_tag == pred_tag
        gold_chunks, pred_chunks = set(chunks(gold_tags)), set(chunks(pred_tags))
        for chunk in gold_chunks:
            entities[_chunk_group(chunk, token_groups, rank, order)].support[chunk[2]] += 1
        for chunk in pred_chunks:
            entities[_chunk_group(chunk, token_groups, rank, order)].predicted[chunk[2]] += 1
        for chunk in gold_chunks & pred_chunks:
            entities[_chunk_group(chunk, token_groups, rank, order)].correct[chunk[2]] += 1
    return {
        group: GroupScores(
            sizes[group],
            equal[group] / sizes[group] if sizes[group] else 0.0,
            tokens[group].scores(),
            entities[group].scores(),
        )
        for group in order
    }


def _chunk_group(
    chunk: Chunk, token_groups: Sequence[str], rank: dict[str, int], order: Sequence[str]
) -> str:
    """The group of a chunk: of its tokens' groups, the one that comes first in ``order``."""
    start, end, _ = chunk
    return order[min(rank[group] for group in token_groups[start:end])]
