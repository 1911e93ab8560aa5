"""``windowner train --seeds``, ``windowner compare`` and ``windowner sweep``: experiments over runs
(:mod:`windowner.experiments`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..config import check_output, load_config
from ..data.conll import SCHEMES
from ..tagging.run_files import RUN_FILES
from .common import table
from .main import friendly, main, note, say


def train_seed_group(
    seeds_text: str,
    resume_run: str | None,
    dry_run: bool,
    as_json: bool,
    quiet: bool,
    report: Callable[[str], Any],
    progress: str,
    config_path: str | None,
    output: str | None,
    overrides: tuple[str, ...],
    overwrite: bool,
) -> None:
    """``train --seeds``: :func:`windowner.experiments.seeds.train_seeds`, then the summary's main lines."""
    from ..experiments.seeds import SUMMARY_FILE, parse_seeds, seeds_command, train_seeds

    if resume_run is not None or dry_run:
        raise click.UsageError("--seeds goes on where it stopped when run again: drop --resume and --dry-run")
    if config_path is None:
        raise click.UsageError("give a config (--config PATH) to train with --seeds")
    if any(item.partition("=")[0].strip() == "train.seed" for item in overrides):
        raise click.UsageError("--seeds sets each run's train.seed: drop --set train.seed=...")
    seeds = parse_seeds(seeds_text)
    config = load_config(config_path, overrides)
    if output is not None:
        config = dataclasses.replace(config, output=output)
    check_output(config, RUN_FILES, config_path)
    again = [*(["--output", output] if output else []), *(f"--set={item}" for item in overrides)]
    command = seeds_command(config_path, seeds_text, again)
    summary = train_seeds(config, seeds, progress, report, overwrite, note, quiet, command=command)
    if as_json:
        click.echo(json.dumps({"output": config.output, **summary}, indent=2))
        return
    scores = summary["scores"]
    for key in ("dev.entities.micro.f1", "test.entities.micro.f1"):
        if key in scores:
            s = scores[key]
            report(
                f"{key.split('.')[0]} micro F1 over {s['n']} seeds: mean {100 * s['mean']:.2f}"
                f" (min {100 * s['min']:.2f}, max {100 * s['max']:.2f}, std {100 * s['std']:.2f})"
            )
    report(f"wrote {Path(config.output) / SUMMARY_FILE}; windowner compare {config.output} shows every score")


@main.command(name="compare")
@click.argument("runs", nargs=-1, required=True, type=click.Path())
@click.option(
    "--format",
    "form",
    type=click.Choice(["text", "markdown", "csv", "json"]),
    default="text",
    show_default=True,
)
@click.option(
    "--split", type=click.Choice(["dev", "test"]), default="dev", show_default=True, help="The scores read."
)
@click.option(
    "--data",
    "data_path",
    type=click.Path(dir_okay=False),
    help="Score every run's best model on this tagged file instead of reading scores.json.",
)
@click.option(
    "--scheme", type=click.Choice(SCHEMES), default="auto", show_default=True, help="--data's tags."
)
@click.option(
    "--metric",
    "metrics_shown",
    multiple=True,
    help="A score column to show (repeat it): micro, a type (LOC), 'LOC tokens', 'best epoch', 'time (s)'.",
)
@click.option("--sort", help="Order the groups by this score, best first (a sweep: by its metric).")
@friendly
def compare_command(
    runs: tuple[str, ...],
    form: str,
    split: str,
    data_path: str | None,
    scheme: str,
    metrics_shown: tuple[str, ...],
    sort: str | None,
) -> None:
    """Group the runs in RUNS (run folders, seed groups, sweeps) by the settings that differ between
    them and print each group's n and mean (min–max) of its scores; with two groups whose seeds pair,
    the paired difference and a paired t-test."""
    from ..experiments.compare import compare
    from ..experiments.table import render

    comparison = compare(runs, split, data_path, scheme, metrics_shown, sort, note)
    click.echo(render(comparison, form, table))


@main.command()
@click.argument("sweep_file", type=click.Path(dir_okay=False))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1), help="Worker processes.")
@click.option(
    "--storage",
    help="The study's database URL (postgresql://..., mysql://...) shared by the workers of many machines."
    " Default: a journal file in the sweep folder.",
)
@click.option("--quiet", is_flag=True, help="No per-epoch lines: a line a trial.")
@friendly
def sweep(sweep_file: str, workers: int, storage: str | None, quiet: bool) -> None:
    """Search the config keys of SWEEP_FILE's space (grid, random or TPE, on Optuna), each trial a seed
    group in the sweep folder. Run again, or on another machine with the same --storage, to go on.

    Needs Optuna: pip install 'windowner[sweep]'.
    """
    from ..experiments.sweep import run_sweep

    run_sweep(sweep_file, workers, storage, say, note, quiet)
