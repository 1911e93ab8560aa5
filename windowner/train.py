"""Training: from a config to a run folder.

1. :func:`load_corpus` reads the tagged files, the task's classes and the word vectors the data needs.
2. :func:`train` builds the model (Xavier weights, zero biases), then for each epoch shuffles the
   training windows with the run's seed, takes one optimiser step a minibatch (one matrix product per
   layer per batch), evaluates on the dev file, and saves the best epoch's model (dev micro entity F1)
   as soon as it is found. At the end the best model is scored on the test file.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .averaging import Average, swapped_in
from .config import Config
from .conll import Sentence, read_conll
from .errors import WindownerError
from .features import FEATURES, feature_classes
from .files import write_atomic
from .losses import Examples
from .model import WindowModel, make_loss
from .optim import make_optimizer
from .schedules import make_schedule
from .tagger import HISTORY_FILE, LAST_FILE, MODEL_FILE, RUN_FILES, SCORES_FILE, Tagger, save_model
from .tasks import Task, make_task
from .threads import blas_threads
from .vectors import read_vectors
from .vocab import SPECIALS, Vocabulary, lookup_keys, with_specials


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
    data = config.data
    train = read_conll(data.train, data.scheme)
    if not train:
        raise WindownerError(f"{data.train}: no sentences")
    dev = read_conll(data.dev, data.scheme) if data.dev else []
    test = read_conll(data.test, data.scheme) if data.test else []
    task = make_task(config.task.name, train, config.task.location_label)
    vectors = config.vectors
    wanted = None
    if vectors.keep == "data":
        tokens = (token for split in (train, dev, test) for s in split for token in s.tokens)
        wanted = lookup_keys(tokens, vectors.lowercase, vectors.normalize_digits)
    words, pretrained = read_vectors(vectors.path, wanted, vectors.lowercase)
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


def examples(tagger: Tagger, sentences: Sequence[Sentence], source: str = "the data") -> Examples:
    """The windows, classes and sentence lengths of tagged sentences, as the losses batch them."""
    windows = tagger.windows([s.tokens for s in sentences])
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
    features = feature_classes(shape.features.active(), [s.tokens for s in corpus.train])
    tables = {"E": corpus.E}
    for name, values in features.items():  # N(0, σ²), on the scale of the word vectors
        size = (len(values), getattr(shape.features, name))
        tables[FEATURES[name].table] = rng.normal(0.0, corpus.sigma, size=size).astype(corpus.E.dtype)
    classes = len(corpus.task.classes)
    labels = corpus.task.targets(corpus.train, config.data.train)
    loss = make_loss(settings.loss, settings.corruptions)
    model = WindowModel.initialise(tables, shape, classes, rng, loss, labels)
    train_words = frozenset(corpus.vocab.key(token) for s in corpus.train for token in s.tokens)
    return Tagger(model, corpus.vocab, corpus.task, config, train_words, features), corpus, rng


def train(
    config: Config,
    progress: bool = True,
    echo: Callable[[str], Any] = print,
    overwrite: bool = False,
    note: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    """Train a model as ``config`` says, write its run folder ``config.output``; returns the final scores.

    A folder that already holds a trained model is an error unless ``overwrite``, which first removes the
    old run's files (so that no run is lost by accident, and no folder mixes two runs). ``echo`` prints
    the report lines (stdout), ``note`` the remarks (stderr). The matrix products use the BLAS threads
    of :mod:`windowner.threads`.
    """
    with blas_threads(config.train.threads):
        return _train(config, progress, echo, overwrite, note)


def _train(
    config: Config,
    progress: bool,
    echo: Callable[[str], Any],
    overwrite: bool,
    note: Callable[[str], Any] | None,
) -> dict[str, Any]:
    note = note or (lambda message: print(f"windowner: note: {message}", file=sys.stderr))
    settings = config.train
    output = Path(config.output)
    if (output / MODEL_FILE).exists() and not overwrite:
        raise WindownerError(
            f"{output} already holds a trained model: choose another output folder (--output),"
            " or replace it (--overwrite)"
        )
    tagger, corpus, rng = initialise(config)
    model = tagger.model
    data = examples(tagger, corpus.train, config.data.train)
    optimizer = make_optimizer(settings.optimizer, settings.lr, settings.momentum)
    schedule = make_schedule(settings.lr, settings.schedule)
    fine_tune = settings.fine_tune
    dropout = config.model.dropout or config.model.input_dropout
    echo(
        f"{len(data):,} training windows; {len(corpus.dev):,} dev, {len(corpus.test):,} test sentences; "
        f"{len(corpus.vocab) - len(SPECIALS):,} word vectors of dimension {corpus.E.shape[1]}, "
        f"{100 * corpus.coverage(corpus.train):.1f}% of training tokens covered; "
        f"classes: {', '.join(corpus.task.classes)}"
    )
    if fine_tune and settings.optimizer == "adam":
        note(
            f"adam fine-tunes E with the dense rule: every step updates all {model.params['E'].size:,}"
            " entries of E, not only the rows of the batch; train.optimizer: sparse_adam updates only those"
        )
    for name in RUN_FILES:
        (output / name).unlink(missing_ok=True)
    tagger.save_metadata(output)

    seen_rows = np.unique(data.windows[:, 0, config.model.window])  # the rows of the training words
    trainables = model.trainables()
    average = Average(settings.average, trainables) if settings.average else None
    history: list[dict[str, Any]] = []
    best_score, best_epoch, step = -1.0, 0, 0
    for epoch in range(1, settings.epochs + 1):
        started = time.perf_counter()
        batches = model.loss.batches(data, settings.batch_size, rng)
        total = seen = 0.0
        steps = -(-len(data) // settings.batch_size)
        for batch in tqdm(
            batches, total=steps, desc=f"epoch {epoch}", unit="batch", leave=False, disable=not progress
        ):
            step += 1
            optimizer.lr = schedule(epoch, step)
            with np.errstate(over="ignore", invalid="ignore"):  # a diverging loss is reported just below
                loss, grads = model.loss_and_grads(
                    batch, settings.l2, settings.l2_vectors, fine_tune, rng if dropout else None
                )
            if not np.isfinite(loss):
                kept = f"; the best model so far (epoch {best_epoch}) is in {output}" if best_epoch else ""
                raise WindownerError(
                    f"training diverged in epoch {epoch} (loss {loss}): lower train.lr{kept}"
                )
            grads = model.packed(grads)
            if average:
                average.before_step(trainables, grads)
            optimizer.step(trainables, grads)
            if average:
                average.after_step(trainables, grads)
            total += loss * len(batch.labels)
            seen += len(batch.labels)
        optimizer.flush(trainables)
        seconds = time.perf_counter() - started
        record: dict[str, Any] = {"epoch": epoch, "loss": total / max(seen, 1), "lr": optimizer.lr}
        record.update(seconds=round(seconds, 3), windows_per_second=round(seen / seconds))
        with swapped_in(trainables, average.current(trainables) if average else None):  # θ̄, if averaging
            if fine_tune:
                record["moved"] = movement(model, seen_rows)
            if model.loss.name == "margin":
                model.threshold = choose_threshold(tagger, corpus.dev or corpus.train)
                record["threshold"] = model.threshold
            if corpus.dev:
                record["dev"] = tagger.evaluate(corpus.dev)
            score = _selected(record["dev"], settings.select) if corpus.dev else None
            improved = score is None or score > best_score  # without a dev file the last epoch is the best
            if improved:
                best_score, best_epoch = score or 0.0, epoch
                save_model(output / MODEL_FILE, model)  # the best model so far, on disk at once
            save_model(output / LAST_FILE, model)
        history.append(record)
        write_atomic(output / HISTORY_FILE, "".join(json.dumps(r) + "\n" for r in history))
        echo(_epoch_line(record, corpus.task, improved))
        if settings.patience and epoch - best_epoch >= settings.patience:
            echo(f"no better dev {settings.select} F1 for {settings.patience} epochs: stopping early")
            break

    best = Tagger.load(output)
    scores: dict[str, Any] = {"best_epoch": best_epoch}
    if corpus.dev:
        scores["dev"] = history[best_epoch - 1]["dev"]
    if corpus.test:
        scores["test"] = best.evaluate(corpus.test)
        echo(f"test (epoch {best_epoch} model): {_summary(scores['test'], corpus.task)}")
    write_atomic(output / SCORES_FILE, json.dumps(scores, indent=2) + "\n")
    echo(f"saved the best model (epoch {best_epoch}) in {output}")
    return scores


def movement(model: WindowModel, seen: np.ndarray) -> dict[str, float]:
    """How far fine-tuning has moved the word vectors: the mean and largest ‖E[v] − E₀[v]‖ over the rows
    of words seen in training (``seen``), and the largest over every other word's row (0: the lecture's
    "television", a word seen only at test time, never moves). The special rows are left out."""
    distance = np.linalg.norm((model.params["E"] - model.pretrained).astype(np.float64), axis=1)
    seen = seen[seen >= len(SPECIALS)]
    others = np.ones(len(distance), dtype=bool)
    others[seen] = False
    others[: len(SPECIALS)] = False
    unseen = float(distance[others].max()) if others.any() else 0.0
    seen_mean = float(distance[seen].mean()) if len(seen) else 0.0
    seen_max = float(distance[seen].max()) if len(seen) else 0.0
    return {"seen_mean": seen_mean, "seen_max": seen_max, "unseen_max": unseen}


def _selected(report: dict[str, Any], select: str) -> float:
    """The dev score that picks the best epoch: entity F1, micro or of one type (``train.select``)."""
    entities = report["entities"]
    if select not in entities:
        types = ", ".join(name for name in entities if name != "micro")
        raise WindownerError(
            f"train.select {select!r}: the dev data has no such entity type (it has {types})"
        )
    return entities[select]["f1"]


def choose_threshold(tagger: Tagger, sentences: Sequence[Sentence]) -> float:
    """The decision threshold θ of a single-score model that maximises the location token F1 on
    ``sentences``: with the scores sorted from the highest, predicting the top k as locations has
    F1 = 2·TP_k / (k + P); θ is taken halfway between the k-th and the (k+1)-th score of the best k."""
    model = tagger.model
    model.threshold = 0.0
    scores = model.scores(tagger.windows([s.tokens for s in sentences]))[:, 1]  # s − 0
    truth = tagger.task.targets(sentences) == 1
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], np.cumsum(truth[order])
    cut = np.flatnonzero(np.diff(ranked) < 0)  # cut after position k only between distinct scores
    if not len(cut) or not truth.any():
        return 0.0
    f1 = 2.0 * hits[cut] / (cut + 1 + truth.sum())
    k = cut[int(np.argmax(f1))]
    return float((ranked[k] + ranked[k + 1]) / 2.0)


def _epoch_line(record: dict[str, Any], task: Task, improved: bool) -> str:
    line = f"epoch {record['epoch']:>3}  loss {record['loss']:.4f}  lr {record['lr']:.3g}"
    line += f"  {record['seconds']:.1f}s"
    if "dev" in record:
        line += f"  dev {_summary(record['dev'], task)}"
    return line + ("  *" if improved else "")


def _summary(report: dict[str, Any], task: Task) -> str:
    micro = report["entities"]["micro"]
    location = report["tokens"][task.location_label]
    return (
        f"entity P/R/F1 {100 * micro['precision']:.2f}/{100 * micro['recall']:.2f}/{100 * micro['f1']:.2f}"
        f"  {task.location_label} token F1 {100 * location['f1']:.2f}"
    )
