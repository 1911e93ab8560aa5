"""Evaluation metrics for tagged sentences: CoNLL entity-level scores, token-level scores and accuracy.

A sentence is a sequence of tag strings, one per token. A tag is either ``"O"`` (outside any entity) or
``"<P>-<TYPE>"`` where the prefix ``P`` is one of ``B`` (begin), ``I`` (inside), ``E`` (end), ``S`` (single)
and ``TYPE`` is the entity type, e.g. ``"B-LOC"`` or ``"I-PER"``.

The entity-level scores follow the CoNLL shared-task script ``conlleval.pl``: the tags are cut into chunks
(entity spans) and a predicted chunk is correct only if a gold chunk has the same start, the same end and
the same type. A chunk that overlaps a gold chunk only partly is wrong twice: once as a false positive (the
predicted span) and once as a false negative (the gold span it missed).

All scores are fractions in [0, 1], not percentages.
"""

from collections.abc import Sequence
from dataclasses import dataclass

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
    """Cut one sentence's tags into entity chunks, with the rules of conlleval.pl.

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
        """Return ``{"precision", "recall", "f1", "support"}`` as plain python numbers (for JSON)."""
        return {
            "precision": float(self.precision),
            "recall": float(self.recall),
            "f1": float(self.f1),
            "support": int(self.support),
        }


def _check_aligned(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> None:
    """Raise ValueError unless gold and pred have the same number of sentences of the same lengths."""
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} sentences but pred has {len(pred)}")
    for i, (gold_tags, pred_tags) in enumerate(zip(gold, pred, strict=True)):
        if isinstance(gold_tags, str) or isinstance(pred_tags, str):
            raise ValueError(f"sentence {i} is a string; expected a list of sentences, each a list of tags")
        if len(gold_tags) != len(pred_tags):
            raise ValueError(f"sentence {i}: gold has {len(gold_tags)} tags but pred has {len(pred_tags)}")


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
    correct: dict[str, int] = {}
    predicted: dict[str, int] = {}
    support: dict[str, int] = {}
    for gold_tags, pred_tags in zip(gold, pred, strict=True):
        gold_chunks = set(chunks(gold_tags))
        pred_chunks = set(chunks(pred_tags))
        for _, _, entity_type in gold_chunks:
            support[entity_type] = support.get(entity_type, 0) + 1
        for _, _, entity_type in pred_chunks:
            predicted[entity_type] = predicted.get(entity_type, 0) + 1
        for _, _, entity_type in gold_chunks & pred_chunks:
            correct[entity_type] = correct.get(entity_type, 0) + 1

    scores = {
        entity_type: Score.from_counts(
            correct.get(entity_type, 0), predicted.get(entity_type, 0), support.get(entity_type, 0)
        )
        for entity_type in sorted(support.keys() | predicted.keys())
    }
    scores["micro"] = Score.from_counts(sum(correct.values()), sum(predicted.values()), sum(support.values()))
    return scores


def token_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], entity_type: str) -> Score:
    """Token-level precision, recall and F1 of one entity type.

    Input: gold and predicted tags (one list per sentence, same shape) and an entity type such as "LOC".
    Output: the Score of the binary task "is this token of type entity_type?". The prefix is ignored, so
    ``B-LOC``, ``I-LOC``, ``E-LOC`` and ``S-LOC`` all count as LOC. Raises ValueError if the shapes differ.
    """
    _check_aligned(gold, pred)
    correct = predicted = support = 0
    for gold_tags, pred_tags in zip(gold, pred, strict=True):
        for gold_tag, pred_tag in zip(gold_tags, pred_tags, strict=True):
            is_gold = _split_tag(gold_tag)[1] == entity_type
            is_pred = _split_tag(pred_tag)[1] == entity_type
            support += is_gold
            predicted += is_pred
            correct += is_gold and is_pred
    return Score.from_counts(correct, predicted, support)


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
