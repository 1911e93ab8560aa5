"""A trained tagger: predict, evaluate, save and load its run folder (:mod:`windowner.tagging.run_files`
says what the folder holds)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..base.errors import WindownerError
from ..base.files import read_arrays, read_json, write_atomic
from ..config import Config, dump_config, load_saved_config
from ..data.conll import Sentence
from ..data.features import FEATURES
from ..data.gazetteer import Gazetteers
from ..data.vectors import read_vectors
from ..data.vocab import Vocabulary, lookup_keys
from ..data.windows import sentence_windows
from ..evaluation import metrics
from ..network.confidence import confidences, posteriors
from ..network.decoding import allowed_transitions
from ..network.model import WindowModel, make_loss
from ..network.tasks import Task
from .documents import changed_folds, document_keys, fold_fingerprint
from .folders import fold_names
from .report import score
from .run_files import (
    CONFIG_FILE,
    FEATURES_FILE,
    FIRST_PASS_FILE,
    LABELS_FILE,
    LAST_FILE,
    META_FILE,
    MODEL_FILE,
    TRAIN_WORDS_FILE,
    VOCAB_FILE,
    check_parameter,
    check_run_folder,
    check_shapes,
    expected_shapes,
    read_features,
    read_task,
    save_model,
)


class Entity(NamedTuple):
    """An entity of raw text (:meth:`Tagger.tag_text`): ``text == source[start:end]``, its ``label`` (type)
    and ``score``, the probability of exactly this entity (:mod:`windowner.network.confidence`)."""

    text: str
    label: str
    start: int
    end: int
    score: float


class Scored(NamedTuple):
    """A tagged sentence with confidence (:meth:`Tagger.predict_scored`): its IOB2 ``tags``, the score of
    each tag (``token_scores``), its ``entities`` as ``(start, end, type, score)`` (token positions, end
    exclusive) and, for each token, the probability that it is outside every entity (``outside``)."""

    tags: list[str]
    token_scores: list[float]
    entities: list[tuple[int, int, str, float]]
    outside: list[float]


def _check_tokenised(sentences: Any, name: str) -> None:
    """A str (raw text) or a list of str (one sentence's tokens) is not a list of tokenised sentences."""
    if isinstance(sentences, str):
        raise TypeError(
            f"{name} takes tokenised sentences (a list of lists of str), not a str: for raw text,"
            " use tag_text(text)"
        )
    if len(sentences) and isinstance(sentences[0], str):
        raise TypeError(
            f"{name} takes a list of sentences, each a list of tokens: got a list of str (one"
            " sentence? wrap it in a list; raw text? use tag_text)"
        )


@dataclass
class Tagger:
    """A model with what it needs to read text: vocabulary, task and config; ``features``, the classes
    of each feature the model reads (:mod:`windowner.data.features`); ``train_words``, the words of its
    training data (lowercased as the vocabulary looks them up), splits scores into seen and unseen;
    ``package``, the ``meta.json`` of a packaged run (None otherwise): its vocabulary holds the vectors
    its predictions need, so no vectors file is read unless one is given."""

    model: WindowModel
    vocab: Vocabulary
    task: Task
    config: Config
    train_words: frozenset[str] | None = None
    features: dict[str, tuple[str, ...]] = field(default_factory=dict)
    package: dict[str, Any] | None = None
    gazetteers: Gazetteers | None = None  # the lists of the gazetteer feature, if it is on
    first_passes: tuple[Tagger, ...] = ()  # the runs whose marginals give the document feature's keys

    def groups(self, sentences: Sequence[Sequence[str]]) -> list[list[str]] | None:
        """For every token, ``seen`` if its word occurs in the training data, else ``unseen`` (None when
        the run did not record its training words)."""
        if self.train_words is None:
            return None
        known, key = self.train_words, self.vocab.key
        return [[metrics.SEEN if key(token) in known else metrics.UNSEEN for token in s] for s in sentences]

    def windows(
        self,
        sentences: Sequence[Sequence[str]],
        documents: Sequence[int] | None = None,
        keys: Sequence[str] | None = None,
    ) -> np.ndarray:
        """Windows of tokenised sentences: int32 ``(N, T, 2·window + 1)``, rows of E (and of the feature
        tables, see :func:`~windowner.data.windows.sentence_windows`). With the ``document`` feature, its
        ``keys`` (None: the first pass's, :meth:`document_keys`, ``documents`` the document of each
        sentence, None: one document)."""
        if keys is None and "document" in self.features:
            keys = self.document_keys(sentences, documents)
        return sentence_windows(
            sentences, self.vocab, self.config.model.window, self.features, self.gazetteers, keys
        )

    def document_keys(
        self, sentences: Sequence[Sequence[str]], documents: Sequence[int] | None = None
    ) -> list[str]:
        """The ``document`` feature's key of every token, from :attr:`first_passes`' mean marginals."""
        if not self.first_passes:
            folds = ", ".join(fold_names(self.config.train.first_pass_folds))
            raise WindownerError(f"a run with the document feature needs its first pass ({folds})")
        return document_keys(self.first_passes, sentences, documents, self.features["document"])

    def predict(
        self,
        sentences: Sequence[Sequence[str]],
        decode: str | None = None,
        windows: np.ndarray | None = None,
        documents: Sequence[int] | None = None,
    ) -> list[list[str]]:
        """IOB2 tags for tokenised sentences (lists of strings); ``decode`` overrides ``model.decode``;
        ``windows``, the sentences' :meth:`windows` if the caller has them already; ``documents``, the
        document of each sentence (None: they are one; only the ``document`` feature reads them). For raw
        text: :meth:`tag_text`."""
        _check_tokenised(sentences, "predict")
        if not len(sentences):
            return []
        scores = self.model.scores(self.windows(sentences, documents) if windows is None else windows)
        method = decode or self.config.model.decode
        lengths = [len(tokens) for tokens in sentences]
        return self.task.decode(scores, lengths, method, self.model.transitions())

    def predict_scored(
        self,
        sentences: Sequence[Sequence[str]],
        decode: str | None = None,
        windows: np.ndarray | None = None,
        documents: Sequence[int] | None = None,
    ) -> list[Scored]:
        """:meth:`predict` with confidence: for every sentence its tags, the score of each tag and its
        entities with their scores (see :mod:`windowner.network.confidence`)."""
        _check_tokenised(sentences, "predict_scored")
        if not len(sentences):
            return []
        scores = self.model.scores(self.windows(sentences, documents) if windows is None else windows)
        lengths = [len(tokens) for tokens in sentences]
        return scored_tags(
            self.task, scores, lengths, decode or self.config.model.decode, self.model.transitions()
        )

    def tag_text(self, text: str, vectors: str | Path | None = None) -> list[Entity]:
        """The entities of raw text, with character offsets into it and a score (:meth:`tag_texts`)."""
        return self.tag_texts([text], vectors=vectors)[0]

    def tag_texts(
        self, texts: Iterable[str], batch_tokens: int = 100_000, vectors: str | Path | None = None
    ) -> list[list[Entity]]:
        """The entities of each raw text: ``Entity(text, label, start, end, score)``, ``text[start:end]``
        being the entity's text, ``score`` the probability of the entity
        (:mod:`windowner.network.confidence`).

        Each line of a text is a sentence, cut into tokens as ``windowner predict`` cuts them
        (:data:`windowner.data.text.TOKEN`); they are tagged ``batch_tokens`` tokens at a time. ``vectors``:
        a vectors file (``"run"``: the run's ``vectors.path``) from which words the run did not keep get
        their vectors first, as ``windowner predict`` does (without it they read ``<unk>``).
        """
        from ..data.text import TOKEN
        from .predict import NewWords

        new_words = None
        if vectors is not None:
            new_words = NewWords(self, Path(self.config.vectors.path if vectors == "run" else vectors))

        texts = list(texts) if not isinstance(texts, str) else texts
        if isinstance(texts, str) or not all(isinstance(text, str) for text in texts):
            raise TypeError("tag_texts takes a list of str (tag_text takes one str)")
        lines = []  # (text number, offset of the line in it, token spans in the line, tokens)
        for number, text in enumerate(texts):
            offset = 0
            for line in text.splitlines(keepends=True):
                matches = list(TOKEN.finditer(line))
                if matches:
                    lines.append((number, offset, [m.span() for m in matches], [m.group() for m in matches]))
                offset += len(line)
        found: list[list[Entity]] = [[] for _ in texts]
        cuts = np.cumsum([len(line[3]) for line in lines]) // max(batch_tokens, 1)
        documents = None
        if self.first_passes:  # the document feature: each text one document, in one batch
            documents = np.array([line[0] for line in lines], dtype=np.int64)
            first = np.searchsorted(documents, documents)  # the first line of each line's text
            cuts = cuts[first] if lines else cuts
        for batch in np.split(np.arange(len(lines)), np.flatnonzero(np.diff(cuts)) + 1) if lines else []:
            chosen = [lines[i] for i in batch.tolist()]
            if new_words is not None:
                new_words([line[3] for line in chosen])
            numbers = documents[batch].tolist() if documents is not None else None
            for (number, offset, spans, _), scored in zip(
                chosen, self.predict_scored([line[3] for line in chosen], documents=numbers), strict=True
            ):
                text = texts[number]
                for s, e, kind, p in scored.entities:
                    start, end = offset + spans[s][0], offset + spans[e - 1][1]
                    found[number].append(Entity(text[start:end], kind, start, end, p))
        return found

    def evaluate(
        self, sentences: Sequence[Sentence], decode: str | None = None, windows: np.ndarray | None = None
    ) -> dict[str, Any]:
        """Scores on tagged sentences, in the form ``windowner eval --json`` prints (``windows`` as in
        :meth:`predict`; each sentence's :attr:`~windowner.data.conll.Sentence.document` its document)."""
        tokens = [s.tokens for s in sentences]
        documents = [s.document for s in sentences]
        return score(
            self.task, sentences, self.predict(tokens, decode, windows, documents), self.groups(tokens)
        )

    def add_vectors(self, path: str | Path, sentences: Sequence[Sequence[str]]) -> int:
        """Add rows to E for the words of ``sentences`` that the vocabulary lacks and ``path`` has.

        A run keeps only the vectors its own data files needed (``vectors.keep: data``); text from
        elsewhere has other words. Their pretrained vectors are appended (the trained rows are left as they
        are), so they no longer read ``<unk>`` (in the first pass of the document feature too). Returns
        the number of rows added.
        """
        for first in self.first_passes:
            first.add_vectors(path, sentences)
        tokens = (token for sentence in sentences for token in sentence)
        keys = lookup_keys(tokens, self.vocab.lowercase, self.vocab.normalize_digits) - self.vocab.row.keys()
        if not keys:
            return 0
        cache = self.config.vectors.cache
        words, vectors = read_vectors(path, keys, self.vocab.lowercase, required=False, cache=cache)
        if not words:
            return 0
        E = self.model.params["E"]
        if vectors.shape[1] != E.shape[1]:
            raise WindownerError(
                f"{path}: vectors of dimension {vectors.shape[1]}, the model's have {E.shape[1]}"
            )
        self.vocab.extend(words)  # the rows of the tokens encoded so far stay, and so does their memo
        self.model.params["E"] = np.concatenate([E, vectors.astype(E.dtype)])
        return len(words)

    def save(self, folder: str | Path) -> None:
        """Write the whole run folder: :meth:`save_metadata` and the model's parameters as ``model.npz``."""
        self.save_metadata(folder)
        save_model(Path(folder) / MODEL_FILE, self.model)

    def save_metadata(self, folder: str | Path) -> None:
        """Write what does not change while training: ``vocab.txt``, ``labels.json``, ``config.yaml``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.vocab.save(folder / VOCAB_FILE)
        if self.train_words is not None:
            write_atomic(folder / TRAIN_WORDS_FILE, "".join(word + "\n" for word in sorted(self.train_words)))
        task = self.task
        labels = {"task": task.name, "classes": list(task.classes), "location_label": task.location_label}
        if task.other_types:
            labels["other_types"] = True
        write_atomic(folder / LABELS_FILE, json.dumps(labels, indent=2) + "\n")
        features = {name: list(classes) for name, classes in self.features.items()}
        write_atomic(folder / FEATURES_FILE, json.dumps(features, ensure_ascii=False) + "\n")
        if self.first_passes:  # which folds the run was trained with: a fold trained again is an error
            pairs = zip(fold_names(len(self.first_passes)), self.first_passes, strict=True)
            folds = {name: fold_fingerprint(first) for name, first in pairs}
            write_atomic(folder / FIRST_PASS_FILE, json.dumps(folds, indent=2) + "\n")
        config = self.config
        if config.model.gazetteers:  # copies of the lists in the folder, named relative to it (or none)
            saved = self.gazetteers.save(folder) if self.gazetteers is not None else {}
            config = dataclasses.replace(config, model=dataclasses.replace(config.model, gazetteers=saved))
        write_atomic(folder / CONFIG_FILE, dump_config(config))

    @classmethod
    def load(cls, folder: str | Path, which: str = "best") -> Tagger:
        """Read a run folder; ``which`` is ``best`` (model.npz) or ``last`` (last.npz)."""
        folder = Path(folder)
        check_run_folder(folder, (MODEL_FILE, VOCAB_FILE, LABELS_FILE, CONFIG_FILE))
        config = load_saved_config(folder / CONFIG_FILE)
        task = read_task(folder / LABELS_FILE)
        vectors = config.vectors
        vocab = Vocabulary.load(folder / VOCAB_FILE, vectors.lowercase, vectors.normalize_digits)
        path = folder / (MODEL_FILE if which == "best" else LAST_FILE)
        params = read_arrays(path, "no such model file", "not a windowner model (.npz of E, W, b, U, c, ...)")
        threshold = params.pop("threshold", np.array(0.0))
        check_parameter(path, "threshold", threshold, ())
        loss = make_loss(config.train.loss, config.train.corruptions)
        features = read_features(folder / FEATURES_FILE, config.model.features.active())
        gazetteers = None
        if "gazetteer" in features:
            gazetteers = Gazetteers.read(config.model.gazetteers, base=folder)  # relative to the run
            if features["gazetteer"] != gazetteers.classes:
                raise WindownerError(
                    f"{folder / FEATURES_FILE}: the gazetteer classes are not those of the lists of"
                    f" config.yaml ({', '.join(gazetteers.lists)})"
                )
        tables = ("E", *(FEATURES[name].table for name in features))
        expected = expected_shapes(
            config.model, loss, len(vocab), len(task.classes), params.get("E"), features
        )
        check_shapes(path, params, expected)
        model = WindowModel(params, config.model, loss, tables, float(threshold))
        train_words = None
        if (folder / TRAIN_WORDS_FILE).is_file():
            train_words = frozenset(Vocabulary.read_words(folder / TRAIN_WORDS_FILE))
        package = None
        if (folder / META_FILE).is_file():
            package = read_json(folder / META_FILE)
            if not isinstance(package, dict) or not isinstance(package.get("vectors"), dict):
                raise WindownerError(
                    f"{folder / META_FILE}: expected the JSON object windowner package writes"
                )
        first_passes = tuple(_first_passes(folder, config) if "document" in features else ())
        return cls(model, vocab, task, config, train_words, features, package, gazetteers, first_passes)


def _first_passes(folder: Path, config: Config) -> list[Tagger]:
    """The folds of a run with the document feature (``config`` the run's), each the one the run was
    trained with."""
    first_passes = []
    for name in fold_names(config.train.first_pass_folds):
        if not (folder / name).is_dir():
            raise WindownerError(
                f"{folder / name}: missing (the run has the document feature, whose keys its first"
                " pass gives: train writes it there and package copies it)"
            )
        first_passes.append(Tagger.load(folder / name))
    changed = changed_folds(folder, first_passes)
    if changed:
        raise WindownerError(
            f"{folder / changed[0]}: not the first pass the run was trained with (its weights are not those"
            f" {FIRST_PASS_FILE} records: was it trained again?); train the whole run again (--overwrite)"
        )
    return first_passes


def scored_tags(
    task: Task,
    scores: np.ndarray,
    lengths: Sequence[int],
    method: str,
    transitions: dict[str, np.ndarray] | None,
    best: np.ndarray | None = None,
) -> list[Scored]:
    """Tags with confidence from class scores ``(N, C)`` (:meth:`Tagger.predict_scored`): the classes
    ``best`` ``(N,)`` (None: ``method``'s decoding of ``scores``), the score of each tag and each entity
    under the distribution of ``scores`` and ``transitions`` that ``method`` decodes."""
    if best is None:
        best = task.best(scores, lengths, method, transitions)
    tags = task.tags_of(best, lengths)
    allowed, allowed_start = allowed_transitions(task.tags) if method == "viterbi" else (None, None)
    post = posteriors(scores, lengths, allowed, allowed_start, transitions)
    found = [metrics.chunks(t) if t.count("O") != len(t) else [] for t in tags]
    location = task.location_label if task.other_types else None
    token_scores, entity_scores, outside = confidences(task.tags, best, post, lengths, found, location)
    return [
        Scored(t, s, [(*chunk, p) for chunk, p in zip(f, e, strict=True)], o)
        for t, s, f, e, o in zip(tags, token_scores, found, entity_scores, outside, strict=True)
    ]


def load_run(folder: str | Path, which: str = "best") -> Tagger:
    """Load a trained tagger from its run folder (see :meth:`Tagger.load`)."""
    return Tagger.load(folder, which)
