"""Tasks: what the classifier predicts for the centre word of a window.

* ``location`` (the lecture's): two classes, ``O`` and the location type (``task.location_label``,
  ``LOC`` by default: data sets spell it ``LOC``, ``location``, ``GPE``...). Predicted runs of
  location tokens are read back as entities the IOB1 way: consecutive location tokens form one entity.
  It is scored against the gold location entities only. With ``task.other_types`` the model learns
  every entity type instead, one class per IOB2 tag as for ``entities`` (knowing an organisation from a
  location is what most location errors lack), and its predictions keep the location type's tags only:
  the other types read ``O``. The task and its scores are the same; only the training signal is finer.
* ``entities``: one class per IOB2 tag of the training data (``O``, ``B-LOC``, ``I-LOC``, ...), scored on
  every entity type. A predicted ``I-X`` that starts an entity is read as ``B-X``, as conlleval reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..base.errors import WindownerError
from ..data.conll import Sentence, entity_type
from .decoding import allowed_transitions, viterbi

TASKS = ("location", "entities")


@dataclass(frozen=True)
class Task:
    """A task: its name, its class names (class i is ``classes[i]``), the location type, and whether a
    location task learns the other entity types too (its classes are then IOB2 tags)."""

    name: str
    classes: tuple[str, ...]
    location_label: str = "LOC"
    other_types: bool = False

    def targets(self, sentences: Sequence[Sentence], source: str = "the data") -> np.ndarray:
        """The class of every token of ``sentences``, int64 ``(N,)``, sentence after sentence."""
        tags = [tag for sentence in sentences for tag in sentence.tags]
        if self.name == "location" and not self.other_types:
            return np.fromiter((entity_type(t) == self.location_label for t in tags), np.int64, len(tags))
        index = {name: i for i, name in enumerate(self.classes)}
        unknown = sorted({tag for tag in tags if tag not in index})
        if unknown:
            raise WindownerError(f"{source}: tags {', '.join(unknown)} are not among the model's classes")
        return np.fromiter((index[t] for t in tags), np.int64, len(tags))

    @property
    def tags(self) -> tuple[str, ...]:
        """The tag of each class: the entities task's classes are tags (as are those of a location task
        with other types); the location task's are read the IOB1 way (consecutive location tokens form
        one entity)."""
        if self.name == "entities" or self.other_types:
            return self.classes
        return ("O", "I-" + self.location_label)

    def decode(
        self,
        scores: np.ndarray,
        lengths: Sequence[int],
        method: str = "argmax",
        transitions: dict[str, np.ndarray] | None = None,
    ) -> list[list[str]]:
        """Scores of every token ``(N, C)`` to valid IOB2 tags, split into sentences of ``lengths``.

        ``argmax``: each token takes its best-scoring class on its own; ``viterbi``: the best path without
        impossible IOB2 transitions, with a ``crf`` model's ``transitions`` (see
        :mod:`windowner.network.decoding`). A location task with other types keeps the location type's tags
        and reads the others as ``O``.
        """
        return self.tags_of(self.best(scores, lengths, method, transitions), lengths)

    def best(
        self,
        scores: np.ndarray,
        lengths: Sequence[int],
        method: str = "argmax",
        transitions: dict[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        """The class of every token, int ``(N,)``, that :meth:`decode` reads as tags."""
        if method == "viterbi":
            allowed, allowed_start = allowed_transitions(self.tags)
            return viterbi(scores, lengths, allowed, allowed_start, transitions)
        return scores.argmax(axis=1)

    def tags_of(self, best: np.ndarray, lengths: Sequence[int]) -> list[list[str]]:
        """The IOB2 tags of the classes ``best`` ``(N,)``, split into sentences of ``lengths``."""
        names = self.tags
        # IOB1 to IOB2 for every token at once: an I-X whose previous token in its sentence is not of
        # type X starts an entity, and reads B-X (as conll.iob1_to_iob2 does, sentence by sentence)
        kinds = {kind: i for i, kind in enumerate(dict.fromkeys(map(entity_type, names)))}
        kind = np.array([kinds[entity_type(name)] for name in names])[best]
        previous = np.roll(kind, 1)
        ends = np.cumsum(lengths, dtype=np.int64)
        firsts = ends - lengths
        previous[firsts[firsts < len(kind)]] = -1  # a sentence's first token has none
        inside = np.array([name.startswith("I-") for name in names])[best]
        starts = inside & (previous != kind)
        labels = [*names, *("B-" + name[2:] if name.startswith("I-") else name for name in names)]
        if self.name == "location":  # with other types: only the location type's tags are kept
            labels = [tag if entity_type(tag) == self.location_label else "O" for tag in labels]
        tags = [labels[i] for i in (best + len(names) * starts).tolist()]
        return [tags[end - length : end] for end, length in zip(ends.tolist(), lengths, strict=True)]

    def reference(self, sentence: Sentence) -> list[str]:
        """The gold tags the task is scored against: for ``location``, other entity types become ``O``."""
        if self.name == "entities":
            return list(sentence.tags)
        return [tag if entity_type(tag) == self.location_label else "O" for tag in sentence.tags]


def make_task(
    name: str, train: Sequence[Sentence], location_label: str = "LOC", other_types: bool = False
) -> Task:
    """The task ``name`` with the classes the training sentences call for (``other_types``: a location
    task that learns every entity type)."""
    if name == "location" and not any(entity_type(tag) == location_label for s in train for tag in s.tags):
        raise WindownerError(
            f"task.location_label {location_label!r}: no such entity type in the training data"
            f" (it has {', '.join(entity_types(train)) or 'none'})"
        )
    if name == "location" and not other_types:
        return Task(name, ("O", location_label), location_label)
    tags = {tag for sentence in train for tag in sentence.tags} - {"O"}
    classes = ("O", *sorted(tags, key=lambda tag: (entity_type(tag), tag)))
    return Task(name, classes, location_label, other_types and name == "location")


def entity_types(sentences: Sequence[Sentence]) -> list[str]:
    return sorted({entity_type(tag) for s in sentences for tag in s.tags} - {""})
