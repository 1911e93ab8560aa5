"""``windowner plot``: a run's history as a PNG: the training loss and the dev F1 of every epoch.

The left panel is the mean training loss of each epoch; the right one (when the run had a dev file) the
dev entity F1 in percent, micro-averaged (thick) and of each entity type, with the location tokens' F1
dashed. A dotted line marks the best epoch, the one ``model.npz`` holds. Drawn with matplotlib, an
optional dependency (``pip install 'windowner[plot]'``), without pyplot's global state, and written
atomically.

For a folder of runs (a seed group, runs to compare) :func:`plot_group` draws the dev F1 (micro) of every
run per epoch, each group of settings in a colour with its mean and its min–max band; for a sweep's folder
:func:`plot_sweep` draws the sweep's metric against each swept key. :func:`plot_folder` picks one.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from ..base.errors import WindownerError, quote
from ..base.files import atomic_open, text_file
from ..config import load_saved_config
from ..tagging.run_files import CONFIG_FILE, HISTORY_FILE, PLOT_FILE, check_run_folder

COLORS = (
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:olive",
    "tab:cyan",
)
MISSING = "windowner plot needs matplotlib, which is not installed: pip install 'windowner[plot]'"


def read_history(path: Path) -> list[dict[str, Any]]:
    """The records of ``history.jsonl``, one an epoch; errors name the file and the line."""
    records = []
    with text_file(path, "a history.jsonl file") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise WindownerError(f"{path}:{number}: not valid JSON ({err.msg})") from None
            if (
                not isinstance(record, dict)
                or not isinstance(record.get("epoch"), int)
                or "loss" not in record
            ):
                raise WindownerError(
                    f"{path}:{number}: expected an epoch's record, got {quote(line.strip())}"
                )
            records.append(record)
    if not records:
        raise WindownerError(f"{path}: no epoch has finished yet")
    return records


def best_epoch(history: list[dict[str, Any]], select: str = "micro") -> int:
    """The epoch training kept as the best: the first of the highest dev ``select`` F1 (the last epoch
    without a dev file)."""
    scored = [r for r in history if "dev" in r]
    if not scored:
        return history[-1]["epoch"]
    f1 = [r["dev"]["entities"].get(select, {}).get("f1", 0.0) for r in scored]
    return scored[f1.index(max(f1))]["epoch"]


def plot_run(folder: str | Path, output: str | Path | None = None) -> Path:
    """Draw the history of the run in ``folder`` into ``output`` (default ``folder/history.png``)."""
    folder = Path(folder)
    check_run_folder(folder, (HISTORY_FILE, CONFIG_FILE))
    history = read_history(folder / HISTORY_FILE)
    config = load_saved_config(folder / CONFIG_FILE)
    path = Path(output) if output is not None else folder / PLOT_FILE
    if path.suffix.lower() != ".png":
        raise WindownerError(f"{path}: the plot is a PNG image: give a name that ends in .png")
    if not path.parent.is_dir():
        raise WindownerError(f"{path}: no folder {path.parent} to write the plot in")
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise WindownerError(MISSING) from None

    epochs = [r["epoch"] for r in history]
    best = best_epoch(history, config.train.select)
    dev = [r for r in history if "dev" in r]
    figure = Figure(figsize=(12 if dev else 5.5, 4.2), layout="constrained")
    axes = figure.subplots(1, 2 if dev else 1, squeeze=False)[0]
    loss = axes[0]
    loss.plot(epochs, [r["loss"] for r in history], marker="o", color="tab:blue")
    loss.set(title="training loss", xlabel="epoch", ylabel=f"mean {config.train.loss} loss")
    if dev:
        f1 = axes[1]
        at = [r["epoch"] for r in dev]
        types = sorted({name for r in dev for name in r["dev"]["entities"]} - {"micro"})
        label = config.task.location_label
        alone = types in ([], [label])  # the location task: micro is the location type's F1
        micro = [100 * r["dev"]["entities"]["micro"]["f1"] for r in dev]
        name = f"{label} entities" if alone else "entities, micro"
        f1.plot(at, micro, marker="o", lw=2.5, color="black", label=name)
        if not alone:
            for name, color in zip(types, itertools.cycle(COLORS)):
                scores = [100 * r["dev"]["entities"].get(name, {}).get("f1", 0.0) for r in dev]
                f1.plot(at, scores, marker=".", lw=1.2, color=color, label=name)
        tokens = [100 * r["dev"]["tokens"][label]["f1"] for r in dev]
        f1.plot(at, tokens, ls="--", lw=1.2, color="gray", label=f"{label} tokens")
        f1.set(title="dev F1", xlabel="epoch", ylabel="F1 (%)", ylim=(0, 100))
        f1.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small")
    for ax in axes:
        ax.axvline(best, ls=":", color="tab:red")
        ax.annotate(
            f"best epoch {best}",
            (best, 1),
            xycoords=("data", "axes fraction"),
            xytext=(3, -12),
            textcoords="offset points",
            color="tab:red",
            fontsize="small",
        )
        if len(epochs) <= 15:
            ax.set_xticks(epochs)
        else:
            ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
    count = f"{len(history)} epoch" + ("s" if len(history) > 1 else "")
    figure.suptitle(f"{folder.resolve().name}: {config.task.name} task, {count}")
    with atomic_open(path, "wb") as out:
        FigureCanvasAgg(figure).print_png(out)
    return path


def plot_folder(folder: str | Path, output: str | Path | None = None) -> Path:
    """A run's history (:func:`plot_run`), a sweep's trials (:func:`plot_sweep`, a folder that holds
    ``sweep.json``) or the curves of the runs a folder holds (:func:`plot_group`)."""
    from .compare import SWEEP_FILE, is_run

    folder = Path(folder)
    if is_run(folder) or not folder.is_dir():
        return plot_run(folder, output)
    if (folder / SWEEP_FILE).is_file():
        return plot_sweep(folder, output)
    return plot_group(folder, output)


def _output(folder: Path, output: str | Path | None, name: str) -> Path:
    path = Path(output) if output is not None else folder / name
    if path.suffix.lower() != ".png":
        raise WindownerError(f"{path}: the plot is a PNG image: give a name that ends in .png")
    if not path.parent.is_dir():
        raise WindownerError(f"{path}: no folder {path.parent} to write the plot in")
    return path


def _figure(width: float, height: float, panels: int = 1) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise WindownerError(MISSING) from None
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.subplots(1, panels, squeeze=False)[0]


def _save(figure: Any, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with atomic_open(path, "wb") as out:
        FigureCanvasAgg(figure).print_png(out)
    return path


def _label(settings: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in settings.items()) or "runs"


def plot_group(folder: str | Path, output: str | Path | None = None) -> Path:
    """The dev micro F1 per epoch of every finished run under ``folder`` (``output``, default
    ``folder/curves.png``): a thin line a run, the mean of each group of settings thick, its min–max
    shaded (over the epochs every run of the group has)."""
    from .compare import find_runs, group_runs, load_runs

    folder = Path(folder)
    path = _output(folder, output, "curves.png")
    runs = [run for run in load_runs(find_runs([folder])) if any("dev" in r for r in run.history)]
    if not runs:
        raise WindownerError(f"{folder}: its runs had no dev file: there are no dev curves to draw")
    _, groups = group_runs(runs)
    figure, (axes,) = _figure(9, 4.8)
    for group, color in zip(groups, itertools.cycle(COLORS)):
        curves = [
            {r["epoch"]: 100 * r["dev"]["entities"]["micro"]["f1"] for r in run.history if "dev" in r}
            for run in group.runs
        ]
        for curve in curves:
            axes.plot(list(curve), list(curve.values()), lw=0.7, alpha=0.5, color=color)
        common = sorted(set.intersection(*(set(curve) for curve in curves)))
        values = [[curve[epoch] for curve in curves] for epoch in common]
        mean = [sum(v) / len(v) for v in values]
        label = f"{_label(group.settings)} (n={len(group.runs)})"
        axes.plot(common, mean, lw=2.2, marker="o", color=color, label=label)
        axes.fill_between(common, [min(v) for v in values], [max(v) for v in values], color=color, alpha=0.15)
    axes.set(title="dev F1 (entities, micro): mean and min–max", xlabel="epoch", ylabel="F1 (%)")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize="small")
    figure.suptitle(f"{folder.resolve().name}: {len(runs)} runs, {len(groups)} group(s)")
    return _save(figure, path)


def plot_sweep(folder: str | Path, output: str | Path | None = None) -> Path:
    """The sweep's metric (dev, mean over each trial's seeds) against each swept key, a panel a key
    (``output``, default ``folder/sweep.png``); log axes for keys searched on a log scale."""
    from ..base.files import read_json
    from .compare import SWEEP_FILE, find_runs, group_runs, load_runs, metric_values

    folder = Path(folder)
    path = _output(folder, output, "sweep.png")
    sweep = read_json(folder / SWEEP_FILE)
    space = sweep.get("space", {}) if isinstance(sweep, dict) else {}
    metric = sweep.get("metric", "micro") if isinstance(sweep, dict) else "micro"
    column = f"{sweep.get('location_label', 'LOC')} tokens" if metric == "tokens" else metric
    runs = load_runs(find_runs([folder]))
    _, groups = group_runs(runs)
    keys = list(space) or ["trial"]
    figure, panels = _figure(4.2 * len(keys), 4.0, len(keys))
    for key, axes in zip(keys, panels, strict=True):
        xs, ys = [], []
        for group in groups:
            scores = [metric_values(run, "dev").get(column, 0.0) for run in group.runs]
            xs.append(group.runs[0].config.get(key, "?"))
            ys.append(sum(scores) / len(scores))
        if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs):
            axes.scatter(xs, ys, color="tab:blue")
            if isinstance(space.get(key), dict) and space[key].get("log"):
                axes.set_xscale("log")
        else:
            names = sorted({str(x) for x in xs})
            axes.scatter([names.index(str(x)) for x in xs], ys, color="tab:blue")
            axes.set_xticks(range(len(names)), names)
        best = ys.index(max(ys))
        axes.scatter([axes.collections[0].get_offsets()[best][0]], [ys[best]], color="tab:red", zorder=3)
        axes.set(xlabel=key, ylabel=f"dev {column} F1 (%), mean over seeds")
        axes.grid(alpha=0.3)
    figure.suptitle(f"{folder.resolve().name}: {len(groups)} trials (best in red)")
    return _save(figure, path)
