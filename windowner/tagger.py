"""A trained tagger and its run folder: predict, evaluate, save and load.

A run folder holds everything ``eval`` needs, and nothing in a pickle:

* ``model.npz``: the best epoch's parameters E, W, b, U, c (read with ``allow_pickle=False``);
* ``last.npz``: the last epoch's parameters;
* ``vocab.txt``: the word of each row of E, one a line;
* ``labels.json``: the task, its class names and the location type;
* ``config.yaml``: the resolved config of the run;
* ``history.jsonl`` (a line an epoch) and ``scores.json`` (the best epoch's dev and test scores).

Every file is written to a temporary name and renamed into place, so that a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import metrics
from .config import Config, dump_config, load_saved_config
from .conll import Sentence
from .errors import WindownerError
from .model import PARAMETERS, WindowModel
from .tasks import TASKS, Task
from .vocab import Vocabulary
from .windows import sentence_windows

MODEL_FILE, LAST_FILE, VOCAB_FILE = "model.npz", "last.npz", "vocab.txt"
LABELS_FILE, CONFIG_FILE = "labels.json", "config.yaml"


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

    def targets(self, sentences: Sequence[Sentence]) -> np.ndarray:
        """The class of every token of tagged sentences, int64 ``(N,)``."""
        return self.task.targets(sentences)

    def predict(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """IOB2 tags for tokenised sentences (lists of strings)."""
        classes = self.model.predict(self.windows(sentences))
        return self.task.decode(classes, [len(tokens) for tokens in sentences])

    def evaluate(self, sentences: Sequence[Sentence]) -> dict[str, Any]:
        """Scores on tagged sentences, in the form ``windowner eval --json`` prints."""
        predicted = self.predict([s.tokens for s in sentences])
        return score(self.task, sentences, predicted)

    def save(self, folder: str | Path, params: dict[str, np.ndarray] | None = None) -> None:
        """Write the run folder (``params``: the parameters for ``model.npz``, default the model's own)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_params(folder / MODEL_FILE, params or self.model.params)
        task = self.task
        labels = {"task": task.name, "labels": list(task.labels), "location_label": task.location_label}
        write_atomic(folder / LABELS_FILE, json.dumps(labels, indent=2) + "\n")
        write_atomic(folder / VOCAB_FILE, "".join(word + "\n" for word in self.vocab.words))
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
        params = load_params(folder / (MODEL_FILE if which == "best" else LAST_FILE))
        model = WindowModel(params, config.model.window, config.model.activation)
        if params["E"].shape[0] != len(vocab) or model.classes != len(task.labels):
            raise WindownerError(f"{folder}: the model's shapes do not match vocab.txt and labels.json")
        return cls(model, vocab, task, config)


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
    with _atomic(path, "wb") as out:
        np.savez(out, **{name: params[name] for name in PARAMETERS})


def load_params(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            params = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise WindownerError(f"{path}: no such model file") from None
    except (OSError, ValueError, EOFError):
        raise WindownerError(f"{path}: not a windowner model (.npz of E, W, b, U, c)") from None
    missing = [name for name in PARAMETERS if name not in params]
    if missing:
        raise WindownerError(f"{path}: the model has no {', '.join(missing)}")
    return params


def write_atomic(path: Path, text: str) -> None:
    with _atomic(path, "w") as out:
        out.write(text)


class _atomic:
    """Open a temporary file beside ``path``; on success rename it to ``path``, on failure remove it."""

    def __init__(self, path: Path, mode: str):
        self.path, self.mode = Path(path), mode

    def __enter__(self):
        fd, self.temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        self.file = os.fdopen(fd, self.mode, **({} if "b" in self.mode else {"encoding": "utf-8"}))
        return self.file

    def __exit__(self, kind, value, traceback) -> None:
        self.file.close()
        if kind is None:
            os.chmod(self.temporary, 0o644)  # mkstemp makes it private; a run folder is for sharing
            os.replace(self.temporary, self.path)
        else:
            os.unlink(self.temporary)


def _read_task(path: Path) -> Task:
    """The task of ``labels.json``: ``{"task": ..., "labels": [...], "location_label": ...}``."""
    try:
        labels = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise WindownerError(f"{path}: not valid JSON ({err})") from None
    valid = (
        isinstance(labels, dict)
        and labels.get("task") in TASKS
        and isinstance(labels.get("labels"), list)
        and all(isinstance(label, str) for label in labels["labels"])
        and isinstance(labels.get("location_label"), str)
    )
    if not valid:
        raise WindownerError(f"{path}: expected task (location|entities), labels (a list) and location_label")
    return Task(labels["task"], tuple(labels["labels"]), labels["location_label"])
