"""The files of a run folder, and the checks of what a folder holds.

A run folder holds everything ``eval`` needs, and nothing in a pickle:

* ``model.npz``: the best epoch's parameters E, W, b, U, c (and those of the options: ``E_case``, ``a``,
  ``A``, …; a single-score model's decision ``threshold``), read with ``allow_pickle=False``;
* ``last.npz``: the last epoch's parameters;
* ``vocab.txt``: the word of each row of E, one a line;
* ``features.json``: the classes of each feature of the model (``{"case": ["<pad>", …], …}``);
* ``gazetteers.json``: a copy of each list of names the ``gazetteer`` feature matches, ``{label: text}``
  (:mod:`windowner.data.gazetteer`), which ``config.yaml`` names relative to the folder;
* ``train_words.txt``: the words of the training data (as the vocabulary looks them up), one a line:
  what splits scores into seen and unseen words;
* ``labels.json``: the task, its class names (``classes``) and the location type;
* ``config.yaml``: the resolved config of the run;
* ``history.jsonl`` (a line an epoch) and ``scores.json`` (the best epoch's dev and test scores);
* ``checkpoint.npz``: where training stands, for ``train --resume`` (:mod:`windowner.tagging.checkpoint`);
* ``.windowner``: the mark of a folder windowner made (:data:`~windowner.tagging.folders.MARKER`);
* ``fold-even/`` and ``fold-odd/`` (or ``fold-1/`` ... ``fold-K/``, ``train.first_pass_folds``): only in
  a run with the ``document`` feature: the run folders of its first pass, the folds, whose mean marginals
  give the feature's keys (:mod:`windowner.tagging.documents`), and ``first_pass.json``, the
  :func:`~windowner.tagging.documents.fold_fingerprint` of each, checked at load;
* ``meta.json``: only in a folder ``windowner package`` wrote (:mod:`windowner.tagging.package`): the run
  carries the vectors its predictions need, and never reads a vectors file it is not given.

Every file is written to a temporary name and renamed into place, so that a reader never sees half a file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..base.errors import WindownerError, quote
from ..base.files import read_json, write_arrays
from ..data.features import FEATURES
from ..data.gazetteer import RUN_FILE as GAZETTEERS_FILE
from ..network.layers import ACTIVATIONS
from ..network.losses import Loss
from ..network.model import WindowModel
from ..network.shape import ModelConfig
from ..network.tasks import TASKS, Task
from .checkpoint import CHECKPOINT_FILE
from .folders import MARKER, real_folder, stranded

MODEL_FILE, LAST_FILE, VOCAB_FILE = "model.npz", "last.npz", "vocab.txt"
LABELS_FILE, CONFIG_FILE = "labels.json", "config.yaml"
HISTORY_FILE, SCORES_FILE, TRAIN_WORDS_FILE = "history.jsonl", "scores.json", "train_words.txt"
FEATURES_FILE = "features.json"
META_FILE = "meta.json"  # written by `windowner package`: the run carries its vectors
FIRST_PASS_FILE = "first_pass.json"  # a run with the document feature: each fold's fingerprint
PLOT_FILE = "history.png"  # written by `windowner plot`, not by training
_IOB2_TAG = re.compile(r"[BI]-\S+")  # a class of the entities task other than O
RUN_FILES = (MODEL_FILE, LAST_FILE, VOCAB_FILE, LABELS_FILE, CONFIG_FILE, HISTORY_FILE, SCORES_FILE)
RUN_FILES += (TRAIN_WORDS_FILE, FEATURES_FILE, CHECKPOINT_FILE, MARKER, META_FILE, GAZETTEERS_FILE)
RUN_FILES += (FIRST_PASS_FILE,)


def check_run_folder(folder: Path, names: Sequence[str]) -> None:
    """``folder`` must be a folder that holds the files ``names``; errors say what it is instead."""
    if folder.exists() and not folder.is_dir():
        hint = f" (did you mean {folder.parent}?)" if folder.name in RUN_FILES else ""
        raise WindownerError(f"{folder}: is a file, not a run folder{hint}")
    if not folder.is_dir():
        hidden = stranded(real_folder(folder))  # the folder itself, also through a link
        if hidden is not None:
            raise WindownerError(
                f"{folder}: no such run folder, but its run is in {hidden}: an --overwrite was stopped while"
                f" it swapped folders; the next windowner train --output {folder} (or --resume) puts it back,"
                " or rename the folder yourself"
            )
        raise WindownerError(f"{folder}: no such run folder")
    for name in names:
        if not (folder / name).is_file():
            problem = "is not a file" if (folder / name).exists() else "is missing"
            raise WindownerError(f"{folder}: not a windowner run folder ({name} {problem})")


def save_model(path: Path, model: WindowModel) -> None:
    """The model's parameters (and a single-score model's threshold) as an uncompressed ``.npz``,
    written atomically."""
    arrays = dict(model.params)
    if model.loss.binary:
        arrays["threshold"] = np.array(model.threshold, dtype=np.float64)
    write_arrays(path, arrays)


def expected_shapes(
    shape: ModelConfig,
    loss: Loss,
    words: int,
    classes: int,
    E: np.ndarray | None = None,
    features: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, tuple[int, ...]]:
    """The shape every parameter must have for the vocabulary, the classes, the features' classes and
    the config (the dimension of the word vectors is read off ``E``)."""
    dim = E.shape[-1] if E is not None and E.ndim == 2 else -1
    hidden, outputs = shape.hidden, loss.outputs(classes)
    expected = {"E": (words, dim)}
    for name, values in (features or {}).items():
        expected[FEATURES[name].table] = (len(values), getattr(shape.features, name))
    widths = sum(columns for _, columns in expected.values())
    expected.update({"W": (hidden, (2 * shape.window + 1) * widths), "b": (hidden,)})
    expected.update({name: (hidden,) for name in ACTIVATIONS[shape.activation].params})
    expected.update({"U": (outputs, hidden), "c": (outputs,)})
    if loss.transitions:
        expected.update({"A": (classes, classes), "A_start": (classes,), "A_end": (classes,)})
    return expected


def check_shapes(path: Path, params: dict[str, np.ndarray], expected: dict[str, tuple[int, ...]]) -> None:
    """Every parameter must be there, finite floats, of the shape the vocabulary, labels and config call
    for, and nothing else may be (a parameter of another model)."""
    for name, shape in expected.items():
        value = params.get(name)
        if value is None:
            raise WindownerError(f"{path}: the model has no {name} (config.yaml calls for it)")
        check_parameter(path, name, value, shape)
    extra = sorted(set(params) - set(expected))
    if extra:
        raise WindownerError(
            f"{path}: holds {', '.join(extra)}, which the model of config.yaml does not have"
            " (the weights of another run?)"
        )


def check_parameter(
    path: Path, name: str, value: np.ndarray, shape: tuple[int, ...], dtype: np.dtype | None = None
) -> None:
    """The parameter ``name`` read from ``path`` must be floats (of ``dtype`` if given) of ``shape``,
    every one finite (NaN or inf: the weights of a run that diverged, or a damaged file)."""
    right_type = np.issubdtype(value.dtype, np.floating) if dtype is None else value.dtype == dtype
    if value.shape != shape or not right_type:
        kind = "floats" if dtype is None else str(dtype)
        raise WindownerError(
            f"{path}: {name} is {value.dtype} {value.shape}, expected {kind} of shape {shape}"
            " (from vocab.txt, labels.json and config.yaml)"
        )
    finite = np.isfinite(value)
    if not finite.all():
        bad = value[~finite]
        what = "NaN" if np.isnan(bad).all() else "inf" if np.isinf(bad).all() else "NaN and inf"
        raise WindownerError(
            f"{path}: {name} holds {bad.size:,} {what} values of {value.size:,}"
            " (the weights of a run that diverged, or a damaged file)"
        )


def read_features(path: Path, active: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The classes of each feature of ``features.json``; a run without the file has the fixed ones."""
    if not path.is_file():
        fixed = {name: FEATURES[name].fixed for name in active}
        if any(classes is None for classes in fixed.values()):
            raise WindownerError(f"{path}: missing (the config names features whose classes it holds)")
        return fixed
    features = read_json(path)
    valid = isinstance(features, dict) and all(
        isinstance(classes, list) and all(isinstance(c, str) for c in classes)
        for classes in features.values()
    )
    if not valid or sorted(features) != sorted(active):
        raise WindownerError(f"{path}: expected the classes of the features {', '.join(active) or '(none)'}")
    return {name: tuple(features[name]) for name in active}


def read_task(path: Path) -> Task:
    """The task of ``labels.json``: ``{"task": ..., "classes": [...], "location_label": ...}`` (and
    ``"other_types": true`` for a location task that learns every type).

    As :func:`~windowner.network.tasks.make_task` writes it: ``classes`` are ``O`` and the location type for
    the ``location`` task, ``O`` and distinct IOB2 tags for ``entities`` (and for a location task with other
    types, the location type's among them); anything else (a hand edit) is an
    error naming the file, not a model that reads its scores under the wrong names.
    """
    labels = read_json(path)
    valid = (
        isinstance(labels, dict)
        and labels.get("task") in TASKS
        and isinstance(labels.get("classes"), list)
        and all(isinstance(label, str) for label in labels["classes"])
        and isinstance(labels.get("location_label"), str)
        and isinstance(labels.get("other_types", False), bool)
    )
    if not valid:
        raise WindownerError(
            f"{path}: expected task (location|entities), classes (a list), location_label"
            " (and other_types, true or false)"
        )
    name, classes, location = labels["task"], tuple(labels["classes"]), labels["location_label"]
    other_types = name == "location" and labels.get("other_types", False)
    tagged = name == "entities" or other_types  # the classes are O and IOB2 tags
    if location.split() != [location]:
        raise WindownerError(
            f"{path}: location_label {quote(location)} is not an entity type (LOC, GPE, ...)"
        )
    problem = None
    if not tagged and classes != ("O", location):
        problem = f"the location task's classes are ['O', {quote(location)}], not {quote(list(classes))}"
    elif classes[:1] != ("O",):
        problem = f"the {name} task's classes must start with 'O': {quote(list(classes))}"
    elif len(set(classes)) != len(classes):
        problem = f"the {name} task lists a class twice"
    elif tagged:
        bad = [tag for tag in classes[1:] if not _IOB2_TAG.fullmatch(tag)]
        problem = f"class {quote(bad[0])} of the {name} task is not a B-X or I-X tag" if bad else None
        if other_types and not problem and "B-" + location not in classes:
            problem = f"the location task with other types has no class {quote('B-' + location)}"
    if problem:
        raise WindownerError(f"{path}: {problem}")
    return Task(name, classes, location, other_types)
