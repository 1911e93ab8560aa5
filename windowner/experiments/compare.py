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

The table is text, Markdown, CSV or JSON (:func:`render`). Nothing here needs Optuna: a sweep's folder
is a folder of runs (its ``sweep.json`` names the metric the table is sorted by, best first).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..base.errors import WindownerError, quote
from ..base.files import read_json
from ..config import flatten, read_yaml_mapping
from ..tagging.tagger import CONFIG_FILE, HISTORY_FILE, SCORES_FILE
from .plot import read_history

SWEEP_FILE = "sweep.json"  # in a sweep folder: the sweep as it was resolved (its metric, its space)
TRIAL_FILE = "trial.json"  # in a trial's folder: its number, state, parameters and value
IGNORED = ("output", "train.seed", "train.threads")  # keys that never make a setting
FORMATS = ("text", "markdown", "csv", "json")
SPLITS = ("dev", "test")


@dataclass
class Run:
    """A finished run: its folder, flattened config (``{"train.lr": 0.001, ...}``), ``scores.json``
    (or the scores on ``--data``) and history records."""

    folder: Path
    config: dict[str, Any]
    scores: dict[str, Any]
    history: list[dict[str, Any]]

    @property
    def seed(self) -> int:
        return int(self.config.get("train.seed", 0))

    @property
    def seconds(self) -> float:
        """The training time: the epochs' seconds added up (dev evaluation and saving are outside)."""
        return float(sum(record.get("seconds", 0.0) for record in self.history))


@dataclass
class Group:
    """Runs with the same settings (``{key: value}`` of the keys that differ between all the runs)."""

    settings: dict[str, Any]
    runs: list[Run] = field(default_factory=list)


def _natural(path: Path) -> list[Any]:
    """Sort key: ``seed-2`` before ``seed-10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def is_run(folder: Path) -> bool:
    return (folder / CONFIG_FILE).is_file() and (folder / HISTORY_FILE).is_file()


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
        config = flatten(read_yaml_mapping(folder / CONFIG_FILE))
        scores = read_json(folder / SCORES_FILE)
        if not isinstance(scores, dict) or "best_epoch" not in scores:
            raise WindownerError(f"{folder / SCORES_FILE}: not the scores of a windowner run")
        if sentences is not None:
            scores = {"best_epoch": scores["best_epoch"], "data": _rescore(folder, sentences)}
        runs.append(Run(folder, config, scores, read_history(folder / HISTORY_FILE)))
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


def describe(values: Sequence[float]) -> dict[str, float]:
    """n, mean, standard deviation (n − 1; 0 for one value), min and max."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {"n": n, "mean": mean, "std": std, "min": min(values), "max": max(values)}


def summarise(group: Group, split: str) -> dict[str, dict[str, float]]:
    """:func:`describe` of every score of :func:`metric_values` over the group's runs (a type missing
    from a run's scores, neither in its gold data nor predicted, counts as 0)."""
    per_run = [metric_values(run, split) for run in group.runs]
    names = list(dict.fromkeys(name for values in per_run for name in values))
    return {name: describe([values.get(name, 0.0) for values in per_run]) for name in names}


# Student's t distribution for the paired test (A&S 26.7.3-4: exact sums for integer degrees of freedom)


def t_within(t: float, df: int) -> float:
    """A(t | ν) = P(|T| ≤ t) for Student's T with ν = ``df`` ≥ 1 degrees of freedom, t ≥ 0.

    With θ = atan(t / √ν): for odd ν, A = (2/π)(θ + sin θ (cos θ + (2/3) cos³θ + … + (2·4⋯(ν−3)) /
    (3·5⋯(ν−2)) cos^(ν−2) θ)) (just 2θ/π for ν = 1); for even ν, A = sin θ (1 + (1/2) cos²θ + … +
    (1·3⋯(ν−3)) / (2·4⋯(ν−2)) cos^(ν−2) θ).
    """
    if math.isinf(t):
        return 1.0
    theta = math.atan(t / math.sqrt(df))
    s, c = math.sin(theta), math.cos(theta)
    if df % 2:
        total, term = 0.0, c
        for k in range(1, (df - 1) // 2 + 1):  # cos θ, (2/3) cos³θ, (2·4)/(3·5) cos⁵θ, …
            total += term
            term *= (2 * k) / (2 * k + 1) * c * c
        return (2 / math.pi) * (theta + s * total) if df > 1 else 2 * theta / math.pi
    total, term = 0.0, 1.0
    for k in range(1, df // 2 + 1):  # 1, (1/2) cos²θ, (1·3)/(2·4) cos⁴θ, …
        total += term
        term *= (2 * k - 1) / (2 * k) * c * c
    return s * total


def t_two_sided(t: float, df: int) -> float:
    """The two-sided p-value P(|T| ≥ |t|)."""
    return max(0.0, 1.0 - t_within(abs(t), df))


def t_quantile(p: float, df: int) -> float:
    """The t with P(T ≤ t) = ``p`` (0.5 < p < 1), by bisection on :func:`t_within`."""
    target, low, high = 2 * p - 1, 0.0, 1.0
    while t_within(high, df) < target:
        high *= 2
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if t_within(middle, df) < target else (low, middle)
    return (low + high) / 2


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


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (dict, list)) or value is None:
        return json.dumps(value)
    return str(value)


def _cell(name: str, stats: dict[str, float] | None) -> str:
    """``mean (min–max)``: scores with 2 decimals, the best epoch with 1, the time in whole seconds."""
    if stats is None:
        return "-"
    digits = 0 if name == "time (s)" else 1 if name == "best epoch" else 2
    mean = f"{stats['mean']:.{digits}f}"
    if stats["n"] == 1 or stats["min"] == stats["max"]:
        return mean
    return f"{mean} ({stats['min']:.{digits}f}–{stats['max']:.{digits}f})"


def rows(comparison: Comparison) -> tuple[list[str], list[list[str]]]:
    """The table as a header and rows of text cells."""
    settings = comparison.keys or ["settings"]
    header = [*settings, "n", *comparison.metrics]
    body = []
    for group, summary in zip(comparison.groups, comparison.summaries, strict=True):
        cells = [_value(group.settings[key]) for key in comparison.keys] or ["(all the same)"]
        cells.append(str(len(group.runs)))
        cells += [_cell(name, summary.get(name)) for name in comparison.metrics]
        body.append(cells)
    return header, body


def paired_lines(comparison: Comparison) -> list[str]:
    """Sentences of the paired comparison: the difference of the second group from the first."""
    both = comparison.paired
    if both is None:
        return []
    label = [", ".join(f"{k}={_value(v)}" for k, v in g.settings.items()) for g in comparison.groups[:2]]
    lines = [
        f"paired over seeds {', '.join(map(str, both['seeds']))} (n={both['n']}): [{label[1]}] minus"
        f" [{label[0]}], mean difference [95% confidence interval], {both['test']} p-value:"
    ]
    for name in comparison.metrics:
        if name in both["scores"]:
            s = both["scores"][name]
            lines.append(
                f"  {name}: {s['mean']:+.2f} [{s['low']:+.2f}, {s['high']:+.2f}]  p-value {_p(s['p'])}"
            )
    return lines


def _p(p: float | None) -> str:
    if p is None:
        return "- (the same difference for every seed)"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def paired_markdown(comparison: Comparison) -> list[str]:
    """The paired comparison as a Markdown table (after a blank line), or nothing."""
    lines = paired_lines(comparison)
    both = comparison.paired
    if both is None:
        return []
    table = ["", lines[0], "", "| score | mean difference | 95% CI | p-value |", "|---|---:|---:|---:|"]
    for name in comparison.metrics:
        if name in both["scores"]:
            s = both["scores"][name]
            table.append(
                f"| {name} | {s['mean']:+.2f} | {s['low']:+.2f} to {s['high']:+.2f} | {_p(s['p'])} |"
            )
    return table


def render(
    comparison: Comparison, form: str, table: Callable[[Sequence[str], Sequence[Sequence[str]]], str]
) -> str:
    """The comparison as ``text`` (``table`` aligns it), ``markdown``, ``csv`` or ``json``."""
    header, body = rows(comparison)
    if form == "json":
        return json.dumps(as_json(comparison), indent=2)
    if form == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["group", *comparison.keys, "n", "metric", "mean", "std", "min", "max"])
        for number, (group, summary) in enumerate(zip(comparison.groups, comparison.summaries, strict=True)):
            settings = [_value(group.settings[key]) for key in comparison.keys]
            for name in comparison.metrics:
                if name in summary:
                    s = summary[name]
                    writer.writerow(
                        [number + 1, *settings, s["n"], name, s["mean"], s["std"], s["min"], s["max"]]
                    )
        return out.getvalue().rstrip("\n")
    source = f"scores on {comparison.data}" if comparison.data else f"{comparison.split} scores"
    scores = f"{source}: F1 in %, mean (min–max) over the runs of each group"
    if form == "markdown":
        left = len(comparison.keys) or 1  # the settings are text, the rest numbers
        align = ["---"] * left + ["---:"] * (len(header) - left)
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in body]
        return "\n".join([*lines, "", scores, *paired_markdown(comparison)])
    return "\n".join([table(header, body), "", scores, *paired_lines(comparison)])


def as_json(comparison: Comparison) -> dict[str, Any]:
    groups = []
    for group, summary in zip(comparison.groups, comparison.summaries, strict=True):
        groups.append(
            {
                "settings": group.settings,
                "n": len(group.runs),
                "runs": [str(run.folder) for run in group.runs],
                "seeds": [run.seed for run in group.runs],
                "scores": {name: summary[name] for name in comparison.metrics if name in summary},
            }
        )
    return {
        "split": comparison.split,
        "data": comparison.data,
        "settings": comparison.keys,
        "groups": groups,
        "paired": comparison.paired,
    }
