"""The data of a training run: the corpus read (train, dev and test sentences, the vectors), its
training windows, the model and tagger it starts from, and the remarks and checks on its settings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..base.errors import WindownerError, quote
from ..config import Config, check_inputs
from ..data.conll import Sentence, entity_type
from ..data.features import FEATURES, feature_classes
from ..data.gazetteer import Gazetteers
from ..data.spans import read_data
from ..data.vectors import read_vectors
from ..data.vocab import Vocabulary, lookup_keys, with_specials
from ..network.losses import Examples
from ..network.model import WindowModel, make_loss
from ..network.tasks import Task, make_task
from ..tagging.checkpoint import (
    fingerprint,
)
from ..tagging.tagger import (
    Tagger,
)


@dataclass
class Corpus:
    """The sentences of a run's files, its task, vocabulary and initial word vectors E ``(V, d)``;
    ``sigma`` is the standard deviation of the training words' pretrained vectors."""

    train: list[Sentence]
    dev: list[Sentence]
    test: list[Sentence]
    task: Task
    vocab: Vocabulary
    E: np.ndarray
    sigma: float

    def coverage(self, sentences: Sequence[Sentence]) -> float:
        """The fraction of tokens that have a pretrained vector (are not ``<unk>``)."""
        rows = [self.vocab.index(token) for s in sentences for token in s.tokens]
        return float(np.mean(np.array(rows) != 0)) if rows else 0.0


def load_corpus(config: Config, rng: np.random.Generator) -> Corpus:
    """Read the config's data files and the vectors of the words they use (``vectors.keep: data``)."""
    check_inputs(config)
    data = config.data
    train = read_data(data.train, data.scheme, data.format)
    if not train:
        raise WindownerError(f"{data.train}: no sentences")
    dev = read_data(data.dev, data.scheme, data.format) if data.dev else []
    test = read_data(data.test, data.scheme, data.format) if data.test else []
    task = make_task(config.task.name, train, config.task.location_label, config.task.other_types)
    vectors = config.vectors
    wanted = None
    if vectors.keep == "data":
        tokens = (token for split in (train, dev, test) for s in split for token in s.tokens)
        wanted = lookup_keys(tokens, vectors.lowercase, vectors.normalize_digits)
    words, pretrained = read_vectors(vectors.path, wanted, vectors.lowercase, cache=vectors.cache)
    in_train = lookup_keys((t for s in train for t in s.tokens), vectors.lowercase, vectors.normalize_digits)
    rows = [i for i, word in enumerate(words) if word in in_train]
    sigma = float(np.std(pretrained[rows])) if rows else float(np.std(pretrained))
    words, E = with_specials(words, pretrained, rng, sigma)
    vocab = Vocabulary(words, vectors.lowercase, vectors.normalize_digits)
    if vectors.new_words:  # training words without a vector, seen often enough, get rows of their own
        missing = Counter(vocab.key(t) for s in train for t in s.tokens if vocab.index(t) == 0)
        new = sorted(word for word, count in missing.items() if count >= vectors.new_words)
        rows = rng.normal(0.0, sigma, size=(len(new), E.shape[1])).astype(E.dtype)  # N(0, σ²) as <unk>
        vocab = Vocabulary([*words, *new], vectors.lowercase, vectors.normalize_digits)
        E = np.concatenate([E, rows])
    return Corpus(train, dev, test, task, vocab, E, sigma)


def examples(
    tagger: Tagger, sentences: Sequence[Sentence], source: str = "the data", keys: Sequence[str] | None = None
) -> Examples:
    """The windows, classes and sentence lengths of tagged sentences, as the losses batch them (``keys``:
    the document feature's key of every token, if the run has it)."""
    windows = tagger.windows([s.tokens for s in sentences], keys=keys)
    labels = tagger.task.targets(sentences, source)
    return Examples(windows, labels, np.array([len(s) for s in sentences], dtype=np.int64))


def initialise(config: Config) -> tuple[Tagger, Corpus, np.random.Generator]:
    """The corpus and a new, untrained tagger for ``config``, and the random stream that goes on to shuffle.

    Everything random (special rows of E, feature tables, weights, shuffling, dropout, corruptions) comes
    from one generator seeded with ``train.seed``, so the same seed gives the same numbers.
    """
    rng = np.random.default_rng(config.train.seed)
    corpus = load_corpus(config, rng)
    shape, settings = config.model, config.train
    if make_loss(settings.loss).binary and corpus.task.name != "location":
        raise WindownerError(
            f"train.loss {settings.loss!r} scores one class (the location task): set task.name: location"
        )
    if make_loss(settings.loss).binary and corpus.task.other_types:
        raise WindownerError(
            f"train.loss {settings.loss!r} scores one class: it cannot learn the other types"
            " (task.other_types: false, or train.loss softmax or crf)"
        )
    gazetteers = Gazetteers.read(shape.gazetteers) if shape.features.gazetteer else None
    types = sorted({entity_type(tag) for tag in corpus.task.tags} - {""})  # the document feature's
    features = feature_classes(shape.features.active(), [s.tokens for s in corpus.train], gazetteers, types)
    tables = {"E": corpus.E}
    for name, values in features.items():  # N(0, σ²), on the scale of the word vectors
        size = (len(values), getattr(shape.features, name))
        tables[FEATURES[name].table] = rng.normal(0.0, corpus.sigma, size=size).astype(corpus.E.dtype)
    classes = len(corpus.task.classes)
    labels = corpus.task.targets(corpus.train, config.data.train)
    loss = make_loss(settings.loss, settings.corruptions)
    model = WindowModel.initialise(tables, shape, classes, rng, loss, labels)
    train_words = frozenset(corpus.vocab.key(token) for s in corpus.train for token in s.tokens)
    tagger = Tagger(model, corpus.vocab, corpus.task, config, train_words, features, gazetteers=gazetteers)
    return tagger, corpus, rng


def start_fingerprint(model: WindowModel, data: Examples, corpus: Corpus) -> str:
    """What a resumed run must start from as the run did: the untrained model (its word vectors among
    it), the training examples and the dev sentences."""
    dev = "\n".join(" ".join(f"{t} {g}" for t, g in zip(s.tokens, s.tags, strict=True)) for s in corpus.dev)
    arrays = {"train.windows": data.windows, "train.labels": data.labels, "train.lengths": data.lengths}
    arrays["dev"] = np.frombuffer(dev.encode("utf-8"), dtype=np.uint8)
    return fingerprint({**{f"param.{name}": value for name, value in model.params.items()}, **arrays})


def check_settings(config: Config, corpus: Corpus) -> None:
    """Settings that need a dev file, and a ``train.select`` the dev data can score, before any training."""
    settings = config.train
    if not corpus.dev:
        for key, value, default in (("patience", settings.patience, 0), ("select", settings.select, "micro")):
            if value != default:
                raise WindownerError(
                    f"train.{key} {quote(value)} needs a dev file (data.dev) to tell a better epoch"
                )
        return
    types = sorted({entity_type(tag) for s in corpus.dev for tag in corpus.task.reference(s)} - {""})
    if settings.select not in ("micro", "tokens", *types):
        raise WindownerError(
            f"train.select {settings.select!r}: the dev data has no such entity type"
            f" (it has {', '.join(types) or 'none'}; or micro, or tokens)"
        )


COVERAGE_WARNING = 0.5  # a note when fewer training tokens than this have a word vector


def settings_remarks(config: Config, corpus: Corpus, model: WindowModel) -> list[str]:
    """Notes before training: what fine-tuning with dense Adam costs, a low vector coverage, a setting
    for a feature that is off."""
    remarks = []
    for key, what, default in (("first_pass_epochs", "epochs", 0), ("first_pass_folds", "number", 2)):
        if getattr(config.train, key) != default and not config.model.features.document:
            remarks.append(f"train.{key} sets the folds' {what} of model.features.document, which is off")
    if config.train.fine_tune and config.train.optimizer == "adam":
        remarks.append(
            f"adam fine-tunes E with the dense rule: every step updates all {model.params['E'].size:,}"
            " entries of E, not only the rows of the batch; train.optimizer: sparse_adam updates only those"
        )
    coverage = corpus.coverage(corpus.train)
    if coverage < COVERAGE_WARNING:
        remarks.append(
            f"only {100 * coverage:.1f}% of the training tokens have a vector in {config.vectors.path}:"
            " the others all read <unk> (check vectors.path and vectors.lowercase)"
        )
    return remarks
