"""Ensembles: several runs of one config (its seeds, say) tag as one model.

Two ways to combine M runs, for tokens whose class scores from run m are f⁽ᵐ⁾ ``(N, C)``:

* ``mean``: average the scores the decoder reads, f̄ = (1/M) Σ_m f⁽ᵐ⁾, and for a ``crf`` model the
  transitions too, Ā = (1/M) Σ_m A⁽ᵐ⁾ (and A_start, A_end); then decode once, as one run does
  (``model.decode``: argmax, or Viterbi with Ā). For a ``crf`` run f is the emission score, so f̄ and Ā
  score a path by the mean of the runs' path scores, and Viterbi finds the path of the largest geometric
  mean of the runs' path probabilities (each run's log-partition is the same for every path); for a
  ``softmax`` run f is the logits, and their mean is the normalised geometric mean of the runs'
  probabilities (softmax(f̄) ∝ Π_m p⁽ᵐ⁾^(1/M)).
* ``vote`` (the default): every run decodes on its own; each token takes the class most runs gave it (a
  tie goes to the class of the first-listed run among the tied ones); then the votes are decoded as
  scores, with no transitions: argmax keeps the majority class of each token, Viterbi the valid IOB2 path
  with the most votes.

``vote`` is the default because it scored higher than ``mean`` on Wikigold's dev split in 7 of 8
comparisons (five seeds of the default config and of three gazetteer variants; the ensemble of all five
and the five ensembles of three; ``docs/accuracy.md``).

Confidence (:meth:`Ensemble.predict_scored`): the probabilities of the ensemble's mean model (f̄ and
Ā), for the tags and entities that ``combine`` chose.

Runs with the document feature (:mod:`windowner.tagging.documents`) read the keys of one first pass,
the mean of their first passes' marginals, as ``benchmarks/document_feature.py`` measured it.

An ensemble of one run is that run: the mean of one array is the array, and its votes decode to its tags.
Runs must have the same task (classes) and loss; runs whose windows are the same (the same vocabulary,
window and feature classes: the seeds of one config) share one computation of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..base.errors import WindownerError
from ..data.conll import Sentence
from .documents import document_keys
from .report import score
from .tagger import Scored, Tagger, load_run, scored_tags

COMBINE = ("mean", "vote")


class Ensemble:
    """Runs that tag together: the same ``predict``, ``evaluate``, ``groups`` and ``add_vectors`` as a
    :class:`~windowner.tagging.tagger.Tagger`; ``config``, ``task``, ``vocab`` and ``train_words`` are the
    first run's. ``names`` name the runs in errors (their folders)."""

    def __init__(self, taggers: Sequence[Tagger], combine: str = "vote", names: Sequence[str] | None = None):
        if not taggers:
            raise WindownerError("an ensemble needs at least one run")
        if combine not in COMBINE:
            raise WindownerError(
                f"unknown way to combine runs {combine!r}: expected one of {', '.join(COMBINE)}"
            )
        self.taggers = list(taggers)
        self.combine = combine
        self.names = list(names) if names is not None else [f"run {i + 1}" for i in range(len(taggers))]
        first = self.taggers[0]
        for name, tagger in zip(self.names[1:], self.taggers[1:], strict=True):
            if tagger.task != first.task:
                raise WindownerError(
                    f"{name}: its task ({tagger.task.name}, classes {', '.join(tagger.task.classes)}) is not"
                    f" that of {self.names[0]} ({first.task.name}, classes {', '.join(first.task.classes)}):"
                    " an ensemble combines runs of one task"
                )
            if tagger.config.train.loss != first.config.train.loss:
                raise WindownerError(
                    f"{name}: trained with train.loss {tagger.config.train.loss}, {self.names[0]} with"
                    f" {first.config.train.loss}: their scores are not on one scale to combine"
                )
        documents = [(name, t) for name, t in zip(self.names, self.taggers, strict=True) if t.first_passes]
        for name, tagger in documents[1:]:
            if tagger.features["document"] != documents[0][1].features["document"]:
                raise WindownerError(
                    f"{name}: its document feature's classes are not those of {documents[0][0]}: an ensemble"
                    " reads one first pass"
                )
        self.first_passes = [first for _, tagger in documents for first in tagger.first_passes]
        self._share()

    def _share(self) -> None:
        """Which runs read the same windows: ``self._source[m]`` is the first run with run m's."""
        self._source = []
        for m, tagger in enumerate(self.taggers):
            same = next((k for k in range(m) if _same_windows(self.taggers[k], tagger)), m)
            self._source.append(same)

    @property
    def config(self) -> Any:
        return self.taggers[0].config

    @property
    def task(self) -> Any:
        return self.taggers[0].task

    @property
    def vocab(self) -> Any:
        return self.taggers[0].vocab

    @property
    def package(self) -> dict[str, Any] | None:
        """The first run's ``meta.json`` if every run is a package (they carry their vectors), else None."""
        packages = [tagger.package for tagger in self.taggers]
        return packages[0] if all(package is not None for package in packages) else None

    @property
    def train_words(self) -> frozenset[str] | None:
        return self.taggers[0].train_words

    def groups(self, sentences: Sequence[Sequence[str]]) -> list[list[str]] | None:
        """Seen and unseen words, as the first run splits them (:meth:`Tagger.groups`)."""
        return self.taggers[0].groups(sentences)

    def member_scores(
        self, sentences: Sequence[Sequence[str]], documents: Sequence[int] | None = None
    ) -> list[np.ndarray]:
        """The class scores ``(N, C)`` of every run (``documents``: the document of each sentence, for
        runs with the document feature, whose keys come from the mean of their first passes)."""
        windows: dict[int, np.ndarray] = {}
        keys = None
        if self.first_passes:
            classes = next(t.features["document"] for t in self.taggers if t.first_passes)
            keys = document_keys(self.first_passes, sentences, documents, classes)
        out = []
        for m, tagger in enumerate(self.taggers):
            source = self._source[m]
            if source not in windows:
                windows[source] = tagger.windows(sentences, keys=keys if tagger.first_passes else None)
            out.append(tagger.model.scores(windows[source]))
        return out

    def transitions(self) -> dict[str, np.ndarray] | None:
        """The mean transitions of ``crf`` runs (None for other losses)."""
        each = [tagger.model.transitions() for tagger in self.taggers]
        if each[0] is None:
            return None
        return {name: _mean([t[name] for t in each]) for name in each[0]}

    def scores(
        self, sentences: Sequence[Sequence[str]], documents: Sequence[int] | None = None
    ) -> np.ndarray:
        """The mean of the runs' class scores, ``(N, C)``."""
        return _mean(self.member_scores(sentences, documents))

    def votes(
        self,
        sentences: Sequence[Sequence[str]],
        decode: str | None = None,
        documents: Sequence[int] | None = None,
    ) -> np.ndarray:
        """How many runs gave each token each class, ``(N, C)``, plus the tie-break: run m's vote weighs
        1 + 2^-(m+1)·1e-3, so among classes of equal count the one of the first-listed run wins."""
        lengths = [len(tokens) for tokens in sentences]
        return self._votes(self.member_scores(sentences, documents), lengths, decode)

    def _votes(self, members: Sequence[np.ndarray], lengths: Sequence[int], decode: str | None) -> np.ndarray:
        """:meth:`votes` of the runs' scores ``members``."""
        classes = len(self.task.classes)
        votes = None
        for m, (tagger, scores) in enumerate(zip(self.taggers, members, strict=True)):
            method = decode or tagger.config.model.decode
            best = self.task.best(scores, lengths, method, tagger.model.transitions())
            if votes is None:
                votes = np.zeros((len(best), classes), dtype=np.float64)
            votes[np.arange(len(best)), best] += 1.0 + 2.0 ** -(m + 1) * 1e-3
        return votes

    def predict(
        self,
        sentences: Sequence[Sequence[str]],
        decode: str | None = None,
        documents: Sequence[int] | None = None,
    ) -> list[list[str]]:
        """IOB2 tags for tokenised sentences; ``decode`` overrides the runs' ``model.decode``; ``documents``
        as in :meth:`member_scores`."""
        if not len(sentences):
            return []
        lengths = [len(tokens) for tokens in sentences]
        method = decode or self.config.model.decode
        if self.combine == "vote":
            return self.task.decode(self.votes(sentences, decode, documents), lengths, method)
        return self.task.decode(self.scores(sentences, documents), lengths, method, self.transitions())

    def predict_scored(
        self,
        sentences: Sequence[Sequence[str]],
        decode: str | None = None,
        documents: Sequence[int] | None = None,
    ) -> list[Scored]:
        """:meth:`predict` with confidence (:meth:`Tagger.predict_scored`): the tags of ``combine``, scored
        by the ensemble's mean model, the mean scores and transitions (with ``vote``, the probability of the
        voted tags and entities under that model)."""
        if not len(sentences):
            return []
        lengths = [len(tokens) for tokens in sentences]
        method = decode or self.config.model.decode
        members = self.member_scores(sentences, documents)
        scores, transitions = _mean(members), self.transitions()
        best = None
        if self.combine == "vote":
            best = self.task.best(self._votes(members, lengths, decode), lengths, method)
        return scored_tags(self.task, scores, lengths, method, transitions, best)

    def evaluate(self, sentences: Sequence[Sentence], decode: str | None = None) -> dict[str, Any]:
        """Scores on tagged sentences, as :meth:`Tagger.evaluate` gives them."""
        tokens = [s.tokens for s in sentences]
        predicted = self.predict(tokens, decode, [s.document for s in sentences])
        return score(self.task, sentences, predicted, self.groups(tokens))

    def add_vectors(self, path: str | Path, sentences: Sequence[Sequence[str]]) -> int:
        """:meth:`Tagger.add_vectors` for every run; returns the rows the first run added."""
        added = [tagger.add_vectors(path, sentences) for tagger in self.taggers]
        self._share()  # runs that read the same windows still do if they added the same words
        return added[0]


def _mean(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """(1/M) Σ_m a_m, the runs' arrays summed in order: one array comes back unchanged."""
    if len(arrays) == 1:
        return arrays[0]
    total = np.array(arrays[0], dtype=np.result_type(*arrays), copy=True)
    for array in arrays[1:]:
        total += array
    return total / len(arrays)


def _same_windows(a: Tagger, b: Tagger) -> bool:
    """Whether two runs turn every text into the same windows."""
    return (
        a.config.model.window == b.config.model.window
        and a.features == b.features
        and a.vocab.lowercase == b.vocab.lowercase
        and a.vocab.normalize_digits == b.vocab.normalize_digits
        and a.vocab.words == b.vocab.words
        and _lists(a) == _lists(b)
    )


def _lists(tagger: Tagger) -> dict[str, str] | None:
    """The text of each list of a run's gazetteer feature, by label (None: no such feature)."""
    if tagger.gazetteers is None:
        return None
    return {label: gazetteer.text for label, gazetteer in tagger.gazetteers.lists.items()}


def load_runs(folders: Sequence[str | Path], which: str = "best", combine: str = "vote") -> Ensemble:
    """The runs of ``folders`` as one :class:`Ensemble` (``which``: ``best`` or ``last`` of each)."""
    if not folders:
        raise WindownerError("an ensemble needs at least one run folder")
    taggers = [load_run(folder, which) for folder in folders]
    return Ensemble(taggers, combine, [str(folder) for folder in folders])
