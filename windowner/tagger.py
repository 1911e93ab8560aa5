"""A trained tagger and its run folder: predict, evaluate, save and load.

A run folder holds everything ``eval`` needs, and nothing in a pickle:

* ``model.npz``: the best epoch's parameters E, W, b, U, c (read with ``allow_pickle=False``);
* ``last.npz``: the last epoch's parameters;
* ``vocab.txt``: the word of each row of E, one a line;
* ``labels.json``: the task, its class names (``classes``) and the location type;
* ``config.yaml``: the resolved config of the run;
* ``history.jsonl`` (a line an epoch) and ``scores.json`` (the best epoch's dev and test scores).

Every file is written to a temporary name and renamed into place, so that a reader never sees half a file.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import metrics
from .config import Config, dump_config, load_saved_config
from .conll import Sentence
from .errors import WindownerError
from .files import atomic_open, write_atomic
from .model import PARAMETERS, WindowModel
from .tasks import TASKS, Task
from .vectors import read_vectors
from .vocab import Vocabulary, lookup_keys
from .windows import sentence_windows

MODEL_FILE, LAST_FILE, VOCAB_FILE = "model.npz", "last.npz", "vocab.txt"
LABELS_FILE, CONFIG_FILE = "labels.json", "config.yaml"
HISTORY_FILE, SCORES_FILE = "history.jsonl", "scores.json"
RUN_FILES = (MODEL_FILE, LAST_FILE, VOCAB_FILE, LABELS_FILE, CONFIG_FILE, HISTORY_FILE, SCORES_FILE)


@dataclass
class Tagger:
    """A model with what it needs to read text: vocabulary, task and config."""

    model: WindowModel
    vocab: Vocabulary
    task: Task
    config: Config

    def windows(self, sentences: Sequence[Sequence[str]]) -> np.ndarray:
        """Windows of tokenised sentences: int64 ``(N, 2·window + 1)``, rows of E."""
        return sentence_windows(sentences, self.vocab, self.model.window)

    def predict(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """IOB2 tags for tokenised sentences (lists of strings)."""
        scores = self.model.scores(self.windows(sentences))
        return self.task.decode(scores, [len(tokens) for tokens in sentences])

    def evaluate(self, sentences: Sequence[Sentence]) -> dict[str, Any]:
        """Scores on tagged sentences, in the form ``windowner eval --json`` prints."""
        predicted = self.predict([s.tokens for s in sentences])
        return score(self.task, sentences, predicted)

    def add_vectors(self, path: str | Path, sentences: Sequence[Sequence[str]]) -> int:
        """Add rows to E for the words of ``sentences`` that the vocabulary lacks and ``path`` has.

        A run keeps only the vectors its own data files needed (``vectors.keep: data``); text from
        elsewhere has other words. Their pretrained vectors are appended (the trained rows are left as they
        are), so they no longer read ``<unk>``. Returns the number of rows added.
        """
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
        self.vocab = Vocabulary(
            [*self.vocab.words, *words], self.vocab.lowercase, self.vocab.normalize_digits
        )
        self.model.params["E"] = np.concatenate([E, vectors.astype(E.dtype)])
        return len(words)

    def save(self, folder: str | Path) -> None:
        """Write the whole run folder: :meth:`save_metadata` and the model's parameters as ``model.npz``."""
        self.save_metadata(folder)
        save_params(Path(folder) / MODEL_FILE, self.model.params)

    def save_metadata(self, folder: str | Path) -> None:
        """Write what does not change while training: ``vocab.txt``, ``labels.json``, ``config.yaml``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.vocab.save(folder / VOCAB_FILE)
        task = self.task
        labels = {"task": task.name, "classes": list(task.classes), "location_label": task.location_label}
        write_atomic(folder / LABELS_FILE, json.dumps(labels, indent=2) + "\n")
        write_atomic(folder / CONFIG_FILE, dump_config(self.config))

    @classmethod
    def load(cls, folder: str | Path, which: str = "best") -> Tagger:
        """Read a run folder; ``which`` is ``best`` (model.npz) or ``last`` (last.npz)."""
        folder = Path(folder)
        if not folder.is_dir():
            raise WindownerError(f"{folder}: no such run folder")
        for name in (MODEL_FILE, VOCAB_FILE, LABELS_FILE, CONFIG_FILE):
            if not (folder / name).is_file():
                raise WindownerError(f"{folder}: not a windowner run folder ({name} is missing)")
        config = load_saved_config(folder / CONFIG_FILE)
        task = _read_task(folder / LABELS_FILE)
        vectors = config.vectors
        vocab = Vocabulary.load(folder / VOCAB_FILE, vectors.lowercase, vectors.normalize_digits)
        path = folder / (MODEL_FILE if which == "best" else LAST_FILE)
        params = load_params(path)
        _check_shapes(path, params, len(vocab), 2 * config.model.window + 1, len(task.classes))
        return cls(WindowModel(params, config.model.window, config.model.activation), vocab, task, config)


def load_run(folder: str | Path, which: str = "best") -> Tagger:
    """Load a trained tagger from its run folder (see :meth:`Tagger.load`)."""
    return Tagger.load(folder, which)


def score(task: Task, sentences: Sequence[Sentence], predicted: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Entity-level scores (CoNLL rule) per type and micro, token-level scores of the location type.

    ``{"entities": {TYPE: {...}, ..., "micro": {...}}, "tokens": {LOC: {...}, "accuracy": a}}``, each
    ``{...}`` being ``{"precision", "recall", "f1", "support"}`` as fractions in [0, 1].
    """
    gold = [task.reference(s) for s in sentences]
    entities = {name: s.as_dict() for name, s in metrics.entity_scores(gold, predicted).items()}
    location = metrics.token_scores(gold, predicted, task.location_label)
    tokens = {task.location_label: location.as_dict(), "accuracy": metrics.accuracy(gold, predicted)}
    return {"entities": entities, "tokens": tokens}


def save_params(path: Path, params: dict[str, np.ndarray]) -> None:
    """The parameters as an uncompressed ``.npz``, written atomically."""
    with atomic_open(path, "wb") as out:
        np.savez(out, **params)


def load_params(path: Path) -> dict[str, np.ndarray]:
    """The parameters of a ``.npz`` model file, read without pickle."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            params = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise WindownerError(f"{path}: no such model file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        raise WindownerError(f"{path}: not a windowner model (.npz of E, W, b, U, c)") from None
    missing = [name for name in PARAMETERS if name not in params]
    if missing:
        raise WindownerError(f"{path}: the model has no {', '.join(missing)}")
    return params


def _check_shapes(path: Path, params: dict[str, np.ndarray], words: int, width: int, classes: int) -> None:
    """The parameters must fit the vocabulary, the window and the classes: E (V, d), W (H, K·d), ..."""
    E, W = params["E"], params["W"]
    hidden = W.shape[0] if W.ndim == 2 else -1
    expected = {
        "E": (words, E.shape[-1]),
        "W": (hidden, width * E.shape[-1]),
        "b": (hidden,),
        "U": (classes, hidden),
        "c": (classes,),
    }
    for name, shape in expected.items():
        value = params[name]
        if value.shape != shape or not np.issubdtype(value.dtype, np.floating):
            raise WindownerError(
                f"{path}: {name} is {value.dtype} {value.shape}, expected floats of shape {shape}"
                " (from vocab.txt, labels.json and config.yaml)"
            )


def _read_task(path: Path) -> Task:
    """The task of ``labels.json``: ``{"task": ..., "labels": [...], "location_label": ...}``."""
    try:
        labels = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise WindownerError(f"{path}: not valid JSON ({err})") from None
    valid = (
        isinstance(labels, dict)
        and labels.get("task") in TASKS
        and isinstance(labels.get("classes"), list)
        and all(isinstance(label, str) for label in labels["classes"])
        and isinstance(labels.get("location_label"), str)
    )
    if not valid:
        raise WindownerError(
            f"{path}: expected task (location|entities), classes (a list) and location_label"
        )
    return Task(labels["task"], tuple(labels["classes"]), labels["location_label"])
