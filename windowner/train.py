"""Training: from a config to a run folder.

1. :func:`load_corpus` reads the tagged files, the task's classes and the word vectors the data needs.
2. :func:`train` builds the model (Xavier weights, zero biases), then for each epoch shuffles the
   training windows with the run's seed, takes one optimiser step a minibatch (one matrix product per
   layer per batch), evaluates on the dev file, and saves the best epoch's model (dev micro entity F1)
   as soon as it is found. At the end the best model is scored on the test file.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .config import Config
from .conll import Sentence, read_conll
from .errors import WindownerError
from .files import write_atomic
from .model import WindowModel
from .optim import make_optimizer
from .tagger import HISTORY_FILE, LAST_FILE, MODEL_FILE, RUN_FILES, SCORES_FILE, Tagger, save_params
from .tasks import Task, make_task
from .vectors import read_vectors
from .vocab import SPECIALS, Vocabulary, lookup_keys, with_specials


@dataclass
class Corpus:
    """The sentences of a run's files, its task, vocabulary and initial word vectors E ``(V, d)``."""

    train: list[Sentence]
    dev: list[Sentence]
    test: list[Sentence]
    task: Task
    vocab: Vocabulary
    E: np.ndarray

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
    words, pretrained = read_vectors(vectors.path, wanted, vectors.lowercase, cache=vectors.cache)
    in_train = lookup_keys((t for s in train for t in s.tokens), vectors.lowercase, vectors.normalize_digits)
    rows = [i for i, word in enumerate(words) if word in in_train]
    sigma = float(np.std(pretrained[rows])) if rows else None  # the scale of the training words' vectors
    words, E = with_specials(words, pretrained, rng, sigma)
    vocab = Vocabulary(words, vectors.lowercase, vectors.normalize_digits)
    return Corpus(train, dev, test, task, vocab, E)


def initialise(config: Config) -> tuple[Tagger, Corpus, np.random.Generator]:
    """The corpus and a new, untrained tagger for ``config``, and the random stream that goes on to shuffle.

    Everything random (special rows of E, Xavier weights, shuffling) comes from one generator seeded with
    ``train.seed``, so the same seed gives the same numbers.
    """
    rng = np.random.default_rng(config.train.seed)
    corpus = load_corpus(config, rng)
    shape = config.model
    classes = len(corpus.task.classes)
    model = WindowModel.initialise(corpus.E, shape.window, shape.hidden, classes, rng, shape.activation)
    return Tagger(model, corpus.vocab, corpus.task, config), corpus, rng


def train(
    config: Config, progress: bool = True, echo: Callable[[str], Any] = print, overwrite: bool = False
) -> dict[str, Any]:
    """Train a model as ``config`` says, write its run folder ``config.output``; returns the final scores.

    A folder that already holds a trained model is an error unless ``overwrite``, which first removes the
    old run's files (so that no run is lost by accident, and no folder mixes two runs).
    """
    settings = config.train
    output = Path(config.output)
    if (output / MODEL_FILE).exists() and not overwrite:
        raise WindownerError(
            f"{output} already holds a trained model: choose another output folder (--output),"
            " or replace it (--overwrite)"
        )
    tagger, corpus, rng = initialise(config)
    model = tagger.model
    windows = tagger.windows([s.tokens for s in corpus.train])
    targets = corpus.task.targets(corpus.train, config.data.train)
    optimizer = make_optimizer(settings.optimizer, settings.lr)
    l2, fine_tune = settings.l2, settings.fine_tune
    echo(
        f"{len(windows):,} training windows; {len(corpus.dev):,} dev, {len(corpus.test):,} test sentences; "
        f"{len(corpus.vocab) - len(SPECIALS):,} word vectors of dimension {corpus.E.shape[1]}, "
        f"{100 * corpus.coverage(corpus.train):.1f}% of training tokens covered; "
        f"classes: {', '.join(corpus.task.classes)}"
    )
    for name in RUN_FILES:
        (output / name).unlink(missing_ok=True)
    tagger.save_metadata(output)

    history: list[dict[str, Any]] = []
    best_f1, best_epoch = -1.0, 0
    for epoch in range(1, settings.epochs + 1):
        started = time.perf_counter()
        order = rng.permutation(len(windows))
        batches = range(0, len(windows), settings.batch_size)
        total = 0.0
        for start in tqdm(batches, desc=f"epoch {epoch}", unit="batch", leave=False, disable=not progress):
            batch = order[start : start + settings.batch_size]
            with np.errstate(over="ignore", invalid="ignore"):  # a diverging loss is reported just below
                loss, grads = model.loss_and_grads(windows[batch], targets[batch], l2, fine_tune)
            if not np.isfinite(loss):
                kept = f"; the best model so far (epoch {best_epoch}) is in {output}" if best_epoch else ""
                raise WindownerError(
                    f"training diverged in epoch {epoch} (loss {loss}): lower train.lr{kept}"
                )
            optimizer.step(model.params, grads)
            total += loss * len(batch)
        record: dict[str, Any] = {"epoch": epoch, "loss": total / len(windows)}
        record["seconds"] = round(time.perf_counter() - started, 3)
        if corpus.dev:
            record["dev"] = tagger.evaluate(corpus.dev)
        f1 = record["dev"]["entities"]["micro"]["f1"] if corpus.dev else None
        improved = f1 is None or f1 > best_f1  # without a dev file the last epoch is the best
        if improved:
            best_f1, best_epoch = f1 or 0.0, epoch
            save_params(output / MODEL_FILE, model.params)  # the best model so far, on disk at once
        save_params(output / LAST_FILE, model.params)
        history.append(record)
        write_atomic(output / HISTORY_FILE, "".join(json.dumps(r) + "\n" for r in history))
        echo(_epoch_line(record, corpus.task, improved))

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


def _epoch_line(record: dict[str, Any], task: Task, improved: bool) -> str:
    line = f"epoch {record['epoch']:>3}  loss {record['loss']:.4f}  {record['seconds']:.1f}s"
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
