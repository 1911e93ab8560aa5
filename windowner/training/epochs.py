"""What an epoch of training reports and keeps: its batches (as a resumed run had them), the dev score that
picks the best epoch, how far the word vectors moved, a single-score model's threshold, the lines it
prints and the run's final scores."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..base.files import write_atomic
from ..data.conll import Sentence
from ..data.vocab import SPECIALS
from ..network.losses import Epoch, Examples
from ..network.model import WindowModel
from ..network.tasks import Task
from ..tagging.checkpoint import Checkpoint
from ..tagging.run_files import SCORES_FILE
from ..tagging.tagger import Tagger
from .corpus import Corpus


def finish_run(corpus: Corpus, state: Checkpoint, output: Path, echo: Callable[[str], Any]) -> dict[str, Any]:
    """The best epoch's dev scores and its model's test scores: ``scores.json``, the final lines."""
    best_epoch = state.best_epoch
    scores: dict[str, Any] = {"best_epoch": best_epoch}
    if corpus.dev:
        scores["dev"] = state.history[best_epoch - 1]["dev"]
        echo(f"dev (epoch {best_epoch} model): {summary_line(scores['dev'], corpus.task)}")
    if corpus.test:
        scores["test"] = Tagger.load(output).evaluate(corpus.test)
        echo(f"test (epoch {best_epoch} model): {summary_line(scores['test'], corpus.task)}")
    write_atomic(output / SCORES_FILE, json.dumps(scores, indent=2) + "\n")
    echo(f"saved the best model (epoch {best_epoch}) in {output}")
    return scores


def epoch_batches(
    model: WindowModel, data: Examples, batch_size: int, rng: np.random.Generator, state: Checkpoint
) -> Epoch:
    """The batches of the epoch ``state.epoch`` still to do, with ``rng`` where the run had it.

    At the start of an epoch the loss draws its order from ``rng`` as it stands (noted in the state).
    After ``state.batch`` batches of it (a resumed run), the generator is set back to the epoch's start,
    the loss draws the same order again and the batches done are skipped, and the generator is set to its
    state after the last of them (dropout and corruptions drew from it in between).
    """
    if state.batch == 0:
        state.rng_epoch = rng.bit_generator.state
        return model.loss.batches(data, batch_size, rng)
    rng.bit_generator.state = state.rng_epoch
    batches = model.loss.batches(data, batch_size, rng)
    for _ in range(state.batch):
        next(batches)
    rng.bit_generator.state = state.rng
    return batches


def selection(report: dict[str, Any], select: str, task: Task) -> float:
    """The dev F1 that ``train.select`` names (checked before the first step): the micro entity F1, an
    entity type's, or (``tokens``) the token F1 of the location type, as the lecture scores its task."""
    if select == "tokens":
        return report["tokens"][task.location_label]["f1"]
    return report["entities"][select]["f1"]


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


def choose_threshold(
    tagger: Tagger, sentences: Sequence[Sentence], windows: np.ndarray | None = None
) -> float:
    """The decision threshold θ of a single-score model that maximises the location token F1 on
    ``sentences``: with the scores sorted from the highest, predicting the top k as locations has
    F1 = 2·TP_k / (k + P); θ is taken halfway between the k-th and the (k+1)-th score of the best k.
    ``windows``: the sentences' windows, if the caller has them already."""
    model = tagger.model
    model.threshold = 0.0
    if windows is None:
        windows = tagger.windows([s.tokens for s in sentences], [s.document for s in sentences])
    scores = model.scores(windows)[:, 1]  # s − 0
    truth = tagger.task.targets(sentences) == 1
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], np.cumsum(truth[order])
    cut = np.flatnonzero(np.diff(ranked) < 0)  # cut after position k only between distinct scores
    if not len(cut) or not truth.any():
        return 0.0
    f1 = 2.0 * hits[cut] / (cut + 1 + truth.sum())
    k = cut[int(np.argmax(f1))]
    return float((ranked[k] + ranked[k + 1]) / 2.0)


def epoch_line(record: dict[str, Any], task: Task, improved: bool) -> str:
    line = f"epoch {record['epoch']:>3}  loss {record['loss']:.4f}  lr {record['lr']:.3g}"
    line += f"  {record['seconds']:.1f}s"
    if "dev" in record:
        line += f"  dev {summary_line(record['dev'], task)}"
    return line + ("  *" if improved else "")


def summary_line(report: dict[str, Any], task: Task) -> str:
    """Micro entity P/R/F1, then the F1 of the location type's entities and of its tokens."""
    micro, label = report["entities"]["micro"], task.location_label
    location = report["entities"].get(label, {"f1": 0.0})  # neither in the gold data nor predicted: 0
    tokens = report["tokens"][label]
    return (
        f"entity P/R/F1 {100 * micro['precision']:.2f}/{100 * micro['recall']:.2f}/{100 * micro['f1']:.2f}"
        f"  {label} entity F1 {100 * location['f1']:.2f}  {label} token F1 {100 * tokens['f1']:.2f}"
    )
