"""The scores of a tagger's predictions on tagged sentences, in the form ``windowner eval --json`` prints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..data.conll import Sentence
from ..evaluation import metrics
from ..network.tasks import Task


def score(
    task: Task,
    sentences: Sequence[Sentence],
    predicted: Sequence[Sequence[str]],
    groups: Sequence[Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Entity-level scores (CoNLL rule) per type and micro, token-level scores of the location type.

    ``{"entities": {TYPE: {...}, ..., "micro": {...}}, "tokens": {LOC: {...}, "accuracy": a}}``, each
    ``{...}`` being ``{"precision", "recall", "f1", "support"}`` as fractions in [0, 1]. With ``groups``
    (seen/unseen for every token, :meth:`Tagger.groups`) also ``"groups": {"unseen": …, "seen": …}``
    (:func:`~windowner.evaluation.metrics.grouped_scores`).
    """
    gold = [task.reference(s) for s in sentences]
    entities = {name: s.as_dict() for name, s in metrics.entity_scores(gold, predicted).items()}
    location = metrics.token_scores(gold, predicted, task.location_label)
    tokens = {task.location_label: location.as_dict(), "accuracy": metrics.accuracy(gold, predicted)}
    report: dict[str, Any] = {"entities": entities, "tokens": tokens}
    if groups is not None:
        split = metrics.grouped_scores(gold, predicted, groups)
        report["groups"] = {name: group.as_dict() for name, group in split.items()}
    return report
