"""``windowner train --dry-run``: what a run would train on, without writing anything."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ..base.errors import WindownerError
from ..config import Config, check_output
from ..data.conll import entity_type
from ..data.vocab import SPECIALS
from ..tagging.folders import real_folder, stranded
from ..tagging.run_files import RUN_FILES
from .corpus import check_settings, initialise, settings_remarks
from .documents import folds_of, stages
from .folder import check_free, check_ours, holds_any_work


def dry_run(config: Config, overwrite: bool = False) -> dict[str, Any]:
    """What :func:`~windowner.training.loop.train` would train on, without writing anything (``train
    --dry-run``).

    Makes the checks a run makes before its first step (the output folder, the data and vectors files,
    settings that cannot work together) and returns a summary: the resolved ``config``, for each data
    file its ``sentences``, ``tokens``, ``tags`` (the count of each IOB2 tag) and ``coverage`` (the
    share of tokens with a word vector); the ``vectors`` kept, the ``task`` and its ``classes``, the
    training ``windows``, the ``output`` folder and what would happen to it (``folder``; ``refused``, the
    error ``train`` would stop with there, or None: a dry run shows the rest all the same), the
    ``remarks`` training would note, and the ``stages`` it would train (a line each; none without the
    document feature).
    """
    output = Path(config.output)
    check_output(config, RUN_FILES)
    try:
        check_ours(output)
        check_free(output, overwrite)
        refused = None
    except WindownerError as err:
        refused = str(err)
    tagger, corpus, _ = initialise(config)
    check_settings(config, corpus)
    if config.model.features.document:
        folds_of(config, corpus.train)
    data = {}
    for name, sentences in (("train", corpus.train), ("dev", corpus.dev), ("test", corpus.test)):
        path = getattr(config.data, name)
        if path is None:
            continue
        counts = Counter(tag for s in sentences for tag in s.tags)
        order = sorted(counts, key=lambda tag: (tag != "O", entity_type(tag), tag))
        data[name] = {
            "file": path,
            "sentences": len(sentences),
            "tokens": sum(counts.values()),
            "tags": {tag: counts[tag] for tag in order},
            "coverage": corpus.coverage(sentences),
        }
    hidden = stranded(real_folder(output))
    if hidden is not None:
        folder = f"its run is in {hidden} (a stopped --overwrite): train puts it back first"
    elif refused:
        folder = "train would refuse it (see the note)"
    elif holds_any_work(output):
        folder = "the run there is replaced once the new one has saved a model (--overwrite)"
    else:
        folder = "a folder that holds no model" if output.exists() else "a new folder"
    return {
        "config": config.to_dict(),
        "data": data,
        "vectors": {"words": len(corpus.vocab) - len(SPECIALS), "dimension": int(corpus.E.shape[1])},
        "task": corpus.task.name,
        "classes": list(corpus.task.classes),
        "windows": data["train"]["tokens"],  # a window a token
        "output": str(output),
        "folder": folder,
        "refused": refused,
        "remarks": settings_remarks(config, corpus, tagger.model),
        "stages": stages(config) if config.model.features.document else [],
    }
