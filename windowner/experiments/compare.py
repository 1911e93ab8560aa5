"""``windowner compare``: runs grouped by the settings that tell them apart, mean (min–max) of their scores.

1. :func:`find_runs` reads run folders: a folder given is a run (it holds ``config.yaml`` and
   ``history.jsonl``) or is searched for runs (a seed group ``OUTPUT/seed-N``, a sweep's trials, any
   folder of runs). A run counts once it has finished (``scores.json``); unfinished ones are named and
   left out.
2. :func:`group_runs` compares the runs' resolved configs (``config.yaml``, every key): the keys whose
   values differ between runs, ``output``, ``train.seed`` and ``train.threads`` aside, are the settings;
   runs with the same values form a group. No naming scheme is needed.
3. :func:`summarise` gives each group's n, mean, standard deviation (n − 1 in the denominator), min and
   max of each score: the dev (or test) F1 micro and per entity type, the location type's token F1, the
   best epoch and the training time; or the scores of each run's best model re-scored on another file.
4. :func:`paired` compares two groups whose runs share seeds: the differences d_i = b_i − a_i of the
   runs of one seed, their mean d̄, its 95 % confidence interval d̄ ± t_{0.975, n−1} · s_d / √n and the
   two-sided p-value of the paired t-test, t = d̄ / (s_d / √n) with n − 1 degrees of freedom
   (:func:`t_two_sided`). Seeds vary the initialisation and the order of the batches; pairing removes
   what a seed does to both settings alike.

The table is text, Markdown, CSV or JSON (:func:`windowner.experiments.table.render`); the statistics are
in :mod:`windowner.experiments.significance`. Nothing here needs Optuna: a sweep's folder
is a folder of runs (its ``sweep.json`` names the metric the table is sorted by, best first).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..base.errors import WindownerError, quote
from ..base.files import read_json
from ..base.yaml_file import read_yaml_mapping
from ..config import MAX_FOLDS, config_from_dict, flatten
from ..tagging.folders import fold_names, is_fold
from ..tagging.run_files import CONFIG_FILE, HISTORY_FILE, SCORES_FILE
from .plot import read_history
from .significance import describe, t_quantile, t_two_sided

SWEEP_FILE = "sweep.json"  # in a sweep folder: the sweep as it was resolved (its metric, its space)
TRIAL_FILE = "trial.json"  # in a trial's folder: its number, state, parameters and value
IGNORED = ("output", "train.seed", "train.threads")  # keys that never make a setting
FORMATS = ("text", "markdown", "csv", "json")
SPLITS = ("dev", "test")
DOCUMENT = "model.features.document"  # a run with this key > 0 trained its folds first


@dataclass
class Run:
    """A finished run: its folder, flattened config (``{"train.lr": 0.001, ...}``), ``scores.json``
    (or the scores on ``--data``) and history records."""

    folder: Path
    config: dict[str, Any]
    scores: dict[str, Any]
    history: list[dict[str, Any]]
    stage_seconds: float = 0.0  # a run with the document feature: its folds' training time

    @property
    def seed(self) -> int:
        return int(self.config.get("train.seed", 0))

    @property
    def seconds(self) -> float:
        """The training time: the epochs' seconds added up (dev evaluation and saving are outside), a
        run with the document feature's folds included."""
        return epoch_seconds(self.history) + self.stage_seconds


@dataclass
class Group:
    """Runs with the same settings (``{key: value}`` of the keys that differ between all the runs)."""

    settings: dict[str, Any]
    runs: list[Run] = field(default_factory=list)


def epoch_seconds(history: Sequence[dict[str, Any]]) -> float:
    """A run's training time from its ``history.jsonl`` records: the epochs' seconds added up."""
    return float(sum(record.get("seconds", 0.0) for record in history))


def _natural(path: Path) -> list[Any]:
    """Sort key: ``seed-2`` before ``seed-10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def is_run(folder: Path) -> bool:
    """A run folder: its config and history, or (a run with the document feature still training its
    folds) its config and a fold, whose folder is a stage of the run, never a run of its own here."""
    if not (folder / CONFIG_FILE).is_file():
        return False
    if (folder / HISTORY_FILE).is_file():
        return True
    try:
        config = flatten(read_yaml_mapping(folder / CONFIG_FILE))
    except WindownerError:
        return False
    return any(is_fold(folder / name) for name in run_folds(config))


def saved_config(folder: Path) -> dict[str, Any]:
    """The flattened ``config.yaml`` of a run, every key the run's windowner did not write at its default
    (a run saved before a key existed trained as its default says), so that such runs group with the
    runs that wrote it; as written if it is not a config this windowner reads."""
    raw = read_yaml_mapping(folder / CONFIG_FILE)
    try:
        return flatten(config_from_dict(raw).to_dict())
    except WindownerError:
        return flatten(raw)


def run_folds(config: dict[str, Any]) -> tuple[str, ...]:
    """The names of the folds of a run whose flattened config is ``config`` (none without the document
    feature)."""
    if not config.get(DOCUMENT):
        return ()
    count = config.get("train.first_pass_folds")
    return fold_names(count if isinstance(count, int) and 2 <= count <= MAX_FOLDS else 2)


def find_runs(paths: Sequence[str | Path], note: Callable[[str], Any] | None = None) -> list[Path]:
    """The finished run folders in ``paths`` (each a run or a folder searched for runs), in the order
    given, subfolders in natural order. Unfinished runs (no ``scores.json``: interrupted, pruned) are
    left out, with a ``note``; a path with no run, or no finished run at all, is an error."""
    found: list[Path] = []
    unfinished: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            raise WindownerError(f"{path}: no such folder" if not path.exists() else f"{path}: not a folder")
        runs = [path] if is_run(path) else _search(path)
        if not runs:
            raise WindownerError(f"{path}: holds no windowner run (a folder with {CONFIG_FILE})")
        for run in runs:
            finished = (run / SCORES_FILE).is_file()
            if run not in found and run not in unfinished:
                (found if finished else unfinished).append(run)
    if not found:
        where = ", ".join(map(str, paths))
        raise WindownerError(f"{where}: no finished run (no {SCORES_FILE}) among the {len(unfinished)} runs")
    if unfinished and note is not None:
        names = ", ".join(str(run) for run in unfinished[:5]) + ("…" * (len(unfinished) > 5))
        note(f"{len(unfinished)} unfinished run(s) (no {SCORES_FILE}) left out: {names}")
    return found


def _search(folder: Path) -> list[Path]:
    runs = []
    for entry in sorted(folder.iterdir(), key=_natural):
        if entry.name.startswith(".") or not entry.is_dir() or entry.is_symlink():
            continue  # hidden: the replaced or half-made folders of --overwrite
        runs += [entry] if is_run(entry) else _search(entry)
    return runs


def load_runs(folders: Iterable[Path], data: str | None = None, scheme: str = "auto") -> list[Run]:
    """Read each run's config, scores and history; with ``data`` (a tagged file) the scores are those of
    the run's best model on it, as ``windowner eval`` gives them (under the split name ``data``)."""
    runs = []
    sentences = None
    if data is not None:
        from ..data.conll import read_conll

        sentences = read_conll(data, scheme)
    for folder in folders:
        config = saved_config(folder)
        scores = read_json(folder / SCORES_FILE)
        if not isinstance(scores, dict) or "best_epoch" not in scores:
            raise WindownerError(f"{folder / SCORES_FILE}: not the scores of a windowner run")
        if sentences is not None:
            scores = {"best_epoch": scores["best_epoch"], "data": _rescore(folder, sentences)}
        stages = sum(  # a package of such a run carries the folds' models, not their histories
            epoch_seconds(read_history(folder / name / HISTORY_FILE))
            for name in run_folds(config)
            if (folder / name / HISTORY_FILE).is_file()
        )
        runs.append(Run(folder, config, scores, read_history(folder / HISTORY_FILE), stages))
    return runs


def _rescore(folder: Path, sentences: Sequence[Any]) -> dict[str, Any]:
    """The scores of the run's best model on ``sentences``, words outside its vocabulary taking their
    vectors from the run's vectors file when it is there (as ``windowner eval`` does by default)."""
    from ..base.threads import blas_threads
    from ..tagging.tagger import load_run

    tagger = load_run(folder)
    tokens = [s.tokens for s in sentences]
    if Path(tagger.config.vectors.path).is_file():
        tagger.add_vectors(tagger.config.vectors.path, tokens)
    with blas_threads(tagger.config.train.threads):
        return tagger.evaluate(sentences)


def group_runs(runs: Sequence[Run]) -> tuple[list[str], list[Group]]:
    """The keys whose values differ between ``runs`` (in config order, :data:`IGNORED` aside), and the
    groups of runs with the same values of them, in the order their first runs come."""
    keys = list(dict.fromkeys(key for run in runs for key in run.config))
    differing = [
        key
        for key in keys
        if key not in IGNORED and len({json.dumps(run.config.get(key)) for run in runs}) > 1
    ]
    groups: dict[str, Group] = {}
    for run in runs:
        settings = {key: run.config.get(key) for key in differing}
        groups.setdefault(json.dumps(settings), Group(settings)).runs.append(run)
    return differing, list(groups.values())


def metric_values(run: Run, split: str) -> dict[str, float]:
    """The scores of one run, by column name: ``micro`` and each entity type's F1, ``LABEL tokens`` (the
    location type's token F1), in percent; ``best epoch``; ``time (s)``."""
    report = run.scores.get(split)
    if report is None:
        raise WindownerError(
            f"{run.folder / SCORES_FILE}: has no {split} scores (the run had no {split} file)"
        )
    values = {"micro": 100 * report["entities"]["micro"]["f1"]}
    for name, score in sorted(report["entities"].items()):
        if name != "micro":
            values[name] = 100 * score["f1"]
    label = run.config.get("task.location_label", "LOC")
    values[f"{label} tokens"] = 100 * report["tokens"][label]["f1"]
    values["best epoch"] = float(run.scores["best_epoch"])
    values["time (s)"] = run.seconds
    return values


def summarise(group: Group, split: str) -> dict[str, dict[str, float]]:
    """:func:`describe` of every score of :func:`metric_values` over the group's runs (a type missing
    from a run's scores, neither in its gold data nor predicted, counts as 0)."""
    per_run = [metric_values(run, split) for run in group.runs]
    names = list(dict.fromkeys(name for values in per_run for name in values))
    return {name: describe([values.get(name, 0.0) for values in per_run]) for name in names}


def paired(a: Group, b: Group, split: str) -> dict[str, Any] | None:
    """The paired comparison of ``b`` against ``a`` over the seeds both have (at least 2, each once per
    group); None when they do not pair. Per score: the mean difference b − a, its 95 % confidence interval
    and the paired t-test's two-sided p-value (see the module's docstring)."""
    seeds_a, seeds_b = [run.seed for run in a.runs], [run.seed for run in b.runs]
    if len(set(seeds_a)) != len(seeds_a) or len(set(seeds_b)) != len(seeds_b):
        return None
    common = sorted(set(seeds_a) & set(seeds_b))
    if len(common) < 2:
        return None
    by_seed_a = {run.seed: metric_values(run, split) for run in a.runs}
    by_seed_b = {run.seed: metric_values(run, split) for run in b.runs}
    n, df = len(common), len(common) - 1
    quantile = t_quantile(0.975, df)
    scores = {}
    for name in by_seed_a[common[0]]:
        differences = [by_seed_b[s].get(name, 0.0) - by_seed_a[s].get(name, 0.0) for s in common]
        stats = describe(differences)
        error = stats["std"] / math.sqrt(n)
        # every seed moved by exactly the same amount: no spread to test against (p is None)
        p = t_two_sided(stats["mean"] / error, df) if error > 0 else None
        half = quantile * error
        scores[name] = {
            "mean": stats["mean"],
            "low": stats["mean"] - half,
            "high": stats["mean"] + half,
            "p": p,
            "differences": differences,
        }
    return {"test": "paired t-test over seeds (two-sided)", "seeds": common, "n": n, "scores": scores}


# The table


@dataclass
class Comparison:
    """What :func:`render` prints: the settings, the groups with their summaries, the paired figures."""

    split: str
    keys: list[str]
    groups: list[Group]
    summaries: list[dict[str, dict[str, float]]]
    metrics: list[str]
    paired: dict[str, Any] | None
    data: str | None = None  # the file the runs were scored on (--data), if any


def compare(
    paths: Sequence[str | Path],
    split: str = "dev",
    data: str | None = None,
    scheme: str = "auto",
    metrics: Sequence[str] = (),
    sort: str | None = None,
    note: Callable[[str], Any] | None = None,
) -> Comparison:
    """Read, group and summarise the runs in ``paths`` (see the module's docstring). ``metrics``: the
    score columns to show (default all); ``sort``: a score to order the groups by, best (highest; the
    lowest for time) first. A single sweep folder is sorted by its metric unless ``sort`` says otherwise."""
    runs = load_runs(find_runs(paths, note), data, scheme)
    split = "data" if data is not None else split
    keys, groups = group_runs(runs)
    summaries = [summarise(group, split) for group in groups]
    available = list(dict.fromkeys(name for summary in summaries for name in summary))
    for name in metrics:
        if name not in available:
            raise WindownerError(f"no score {quote(name)} to show (there are: {', '.join(available)})")
    if sort is None and len(paths) == 1 and (Path(paths[0]) / SWEEP_FILE).is_file():
        sort = _sweep_column(Path(paths[0]) / SWEEP_FILE)
    if sort is not None:
        if sort not in available:
            raise WindownerError(f"--sort {quote(sort)}: no such score (there are: {', '.join(available)})")
        sign = 1.0 if sort == "time (s)" else -1.0
        order = sorted(
            range(len(groups)), key=lambda i: sign * summaries[i].get(sort, {"mean": -math.inf})["mean"]
        )
        groups, summaries = [groups[i] for i in order], [summaries[i] for i in order]
    both = paired(groups[0], groups[1], split) if len(groups) == 2 else None
    return Comparison(split, keys, groups, summaries, list(metrics) or available, both, data)


def _sweep_column(path: Path) -> str | None:
    """The column of a sweep's metric (``micro``, a type, or ``tokens``: the location token F1)."""
    sweep = read_json(path)
    metric = sweep.get("metric", "micro") if isinstance(sweep, dict) else "micro"
    if metric == "tokens":
        return f"{sweep.get('location_label', 'LOC')} tokens"
    return metric
