"""``windowner train --seeds 0,1,2``: one run per seed, ``OUTPUT/seed-N``, and a summary over them.

Each seed's run is an ordinary run folder (``train.seed`` N, ``output`` ``OUTPUT/seed-N``), trained by
:func:`windowner.training.loop.train`, resumable alone (``windowner train --resume OUTPUT/seed-N``). Running
the same command again goes on where it stopped: a seed whose run has finished (``scores.json``) is kept, one
that was interrupted (a checkpoint, no scores) is resumed, the others are trained. A seed folder that
holds a run of another config is an error (``--overwrite`` replaces every seed's run).

Once every seed has finished, ``OUTPUT/summary.json`` holds the mean, standard deviation (n − 1), min and
max of every score of the runs (dev and test: F1, precision and recall per entity type and micro, the
location token scores, the accuracy), of the best epoch and of the training time, computed by
:func:`windowner.experiments.significance.describe`; ``windowner compare OUTPUT`` prints them as a table.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..base.errors import Terminated, WindownerError, quote
from ..base.files import write_atomic
from ..base.yaml_file import read_yaml_mapping
from ..config import Config, check_output, config_from_dict, flatten
from ..tagging.checkpoint import CHECKPOINT_FILE
from ..tagging.run_files import CONFIG_FILE, RUN_FILES, SCORES_FILE
from ..training.loop import resume, train
from .compare import load_runs
from .significance import describe

SUMMARY_FILE = "summary.json"
MAX_SEEDS = 1000  # a range longer than this is a typo (0-10000)


def parse_seeds(text: str) -> list[int]:
    """``0,1,2``, ``0-4`` or a mix (``0-2,7``): the seeds in the order given, each once."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not match:
            raise WindownerError(
                f"--seeds {quote(text)}: expected seeds such as 0,1,2 or 0-4, got {quote(part)}"
            )
        first = int(match[1])
        last = int(match[2]) if match[2] is not None else first
        if last < first:
            raise WindownerError(f"--seeds {quote(text)}: the range {part} runs backwards")
        seeds += [seed for seed in range(first, last + 1) if seed not in seeds]
        if len(seeds) > MAX_SEEDS:
            raise WindownerError(f"--seeds {quote(text)}: more than {MAX_SEEDS} seeds")
    return seeds


def seed_folder(output: str | Path, seed: int) -> Path:
    return Path(output) / f"seed-{seed}"


def seed_config(config: Config, seed: int) -> Config:
    """The config of one seed's run: ``train.seed`` and ``output`` set."""
    train_settings = dataclasses.replace(config.train, seed=seed)
    return dataclasses.replace(config, train=train_settings, output=str(seed_folder(config.output, seed)))


def _same_run(saved: Path, config: Config) -> bool:
    """Whether the ``config.yaml`` at ``saved`` is ``config`` (its ``output`` aside)."""
    try:
        old = config_from_dict(read_yaml_mapping(saved)).to_dict()
    except WindownerError:
        return False
    new = config.to_dict()
    old.pop("output"), new.pop("output")
    return old == new


def train_seeds(
    config: Config,
    seeds: Sequence[int],
    progress: bool | str = True,
    echo: Callable[[str], Any] = print,
    overwrite: bool = False,
    note: Callable[[str], Any] | None = None,
    quiet: bool = False,
    on_epoch: Callable[[int, dict[str, Any]], Any] | None = None,
    command: str | None = None,
) -> dict[str, Any]:
    """Train (or go on with) a run of ``config`` per seed in ``config.output``/seed-N; returns the summary
    (also written to ``summary.json``). ``on_epoch(seed, record)`` is called after each epoch of each
    run; ``command`` is the one that goes on after an interrupt (said in the message)."""
    if not seeds:
        raise WindownerError("--seeds: no seed given")
    check_output(config, (SUMMARY_FILE,))
    if (Path(config.output) / CONFIG_FILE).is_file():
        raise WindownerError(
            f"{config.output} holds a single run: give the seeds' runs a folder of their own (--output)"
        )
    for seed in seeds:  # every folder is checked before the first run starts
        check_output(seed_config(config, seed), RUN_FILES)
        folder = seed_folder(config.output, seed)
        saved = folder / CONFIG_FILE
        if not overwrite and saved.is_file() and not _same_run(saved, seed_config(config, seed)):
            raise WindownerError(
                f"{folder} holds a run of another config: replace every seed's run (--overwrite)"
                " or train into another folder (--output)"
            )
    for number, seed in enumerate(seeds, start=1):
        folder = seed_folder(config.output, seed)
        hook = None if on_epoch is None else (lambda record, seed=seed: on_epoch(seed, record))
        finished = (folder / SCORES_FILE).is_file()
        if finished and not overwrite:
            echo(f"seed {seed} ({number} of {len(seeds)}): {folder} has finished, kept")
            continue
        echo(f"seed {seed} ({number} of {len(seeds)}): {folder}")
        try:
            if (folder / CHECKPOINT_FILE).is_file() and not finished and not overwrite:
                resume(folder, (), progress, echo, note, quiet, on_epoch=hook)
            else:
                train(seed_config(config, seed), progress, echo, overwrite, note, quiet, on_epoch=hook)
        except Terminated as stop:
            again = command or "the same command"
            raise Terminated(
                stop.signum, f"seed {seed}: {stop.detail or 'stopped'}; {again} goes on with the seeds left"
            ) from None
    summary = summarise_seeds(config.output, seeds)
    write_atomic(Path(config.output) / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
    return summary


def summarise_seeds(output: str | Path, seeds: Sequence[int]) -> dict[str, Any]:
    """The summary of the finished runs of ``seeds`` in ``output``: ``{"seeds", "runs", "scores"}``, the
    scores flattened (``dev.entities.LOC.f1``, ``test.tokens.accuracy``, ``best_epoch``, ``seconds``)
    with their n, mean, std, min and max."""
    runs = load_runs([seed_folder(output, seed) for seed in seeds])
    values: dict[str, list[float]] = {}
    for run in runs:
        flat = {
            key: value
            for key, value in flatten({k: v for k, v in run.scores.items() if k != "best_epoch"}).items()
            if isinstance(value, (int, float)) and not key.endswith(".support")
        }
        flat["best_epoch"] = run.scores["best_epoch"]
        flat["seconds"] = run.seconds
        for key, value in flat.items():
            values.setdefault(key, []).append(float(value))
    return {
        "seeds": list(seeds),
        "runs": [str(run.folder) for run in runs],
        "scores": {key: describe(column) for key, column in values.items() if len(column) == len(runs)},
    }


def seeds_command(config_path: str | None, seeds: str, options: Sequence[str]) -> str:
    """The command line that goes on with the seeds left."""
    parts = ["windowner", "train", "--config", config_path or "CONFIG", "--seeds", seeds, *options]
    return " ".join(shlex.quote(part) for part in parts)
