"""The first pass of a run with the ``document`` feature: its keys for tokenised documents.

A run with ``model.features.document`` tags in two passes: its first pass (its folds, the runs
``fold-even/`` and ``fold-odd/`` in its folder, or ``fold-1/`` ... ``fold-K/``: the same config without
the feature, each trained on a part of the documents) gives every token the mean of their marginals,
the keys follow from them (:mod:`windowner.data.documents`), and the run reads the keys as one more
feature table. An ensemble's first pass is the mean of all its members' folds' marginals
(:func:`document_keys`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..base.errors import WindownerError
from ..base.files import read_json
from ..data.conll import entity_type
from ..data.documents import OUTSIDE, key_types, keys_of
from ..network.confidence import posteriors
from ..network.decoding import allowed_transitions
from .checkpoint import fingerprint
from .folders import fold_names
from .run_files import FIRST_PASS_FILE


def fold_fingerprint(tagger: Any) -> str:
    """A run's weights as one SHA-256 (:func:`~windowner.tagging.checkpoint.fingerprint`): every
    parameter but the word vectors E, whose rows ``package`` and new text add to (its trained rows
    change only with the rest)."""
    return fingerprint({name: value for name, value in tagger.model.params.items() if name != "E"})


def changed_folds(run: Path, folds: Sequence[Any]) -> list[str]:
    """The names of the folds of ``run`` (``folds``: their taggers, in the order of
    :func:`~windowner.tagging.folders.fold_names`) whose weights are not those ``first_pass.json``
    recorded when the run began."""
    names = fold_names(len(folds))
    path = run / FIRST_PASS_FILE
    if not path.is_file():
        raise WindownerError(
            f"{path}: missing (a run with the document feature records its folds' weights there; a run of"
            " an earlier windowner, with first-pass/, must be trained again with --overwrite)"
        )
    recorded = read_json(path)
    if not isinstance(recorded, dict) or not all(isinstance(recorded.get(name), str) for name in names):
        raise WindownerError(
            f"{path}: expected the SHA-256 of each fold ({', '.join(names)}), as train writes it"
        )
    return [name for name, fold in zip(names, folds, strict=True) if recorded[name] != fold_fingerprint(fold)]


def reads_documents(tagger: Any) -> bool:
    """Whether a tagger (a run or an ensemble) has the document feature: it tags whole documents."""
    return bool(getattr(tagger, "first_passes", None))


def type_marginals(tagger: Any, sentences: Sequence[Sequence[str]], types: Sequence[str]) -> np.ndarray:
    """``(N, K)``: P(the token is of each of ``types``, O first) under the run ``tagger`` (a
    :class:`~windowner.tagging.tagger.Tagger`): its marginals over the IOB2-valid paths (forward-backward
    with its transitions, :func:`~windowner.network.confidence.posteriors`) summed over B- and I- of a
    type. A type the run does not know has probability 0."""
    tags = tagger.task.tags
    allowed, allowed_start = allowed_transitions(tags)
    scores = tagger.model.scores(tagger.windows(sentences))
    lengths = [len(tokens) for tokens in sentences]
    marginals = posteriors(scores, lengths, allowed, allowed_start, tagger.model.transitions()).marginals()
    index = {kind: k for k, kind in enumerate(types)}
    to_type = np.zeros((len(tags), len(types)))  # (C, K): class c is of type k
    for c, tag in enumerate(tags):
        k = index.get(entity_type(tag) or OUTSIDE)
        if k is not None:
            to_type[c, k] = 1.0
    return marginals @ to_type


def document_keys(
    first_passes: Sequence[Any],
    sentences: Sequence[Sequence[str]],
    documents: Sequence[int] | None,
    classes: Sequence[str],
) -> list[str]:
    """The key of every token of ``sentences`` (flat), from the mean type marginals of ``first_passes``
    (taggers); ``documents``, the document of each sentence (None: all one document); ``classes``, the
    run's classes of the feature (its types follow from them)."""
    types = key_types(classes)
    if documents is None:
        documents = [0] * len(sentences)
    if not len(sentences):
        return []
    q = type_marginals(first_passes[0], sentences, types)
    for tagger in first_passes[1:]:
        q = q + type_marginals(tagger, sentences, types)
    return keys_of(q / len(first_passes), sentences, documents, types)
