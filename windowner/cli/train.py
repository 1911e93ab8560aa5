"""``windowner train``: train a config into a run folder, resume one, or show what it would do."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from ..config import Config, check_output, dump_config, load_config
from ..tagging.run_files import RUN_FILES
from ..training.dry_run import dry_run as dry_run_summary
from ..training.loop import resume as resume_training
from ..training.loop import train as run_training
from .common import table
from .experiments import train_seed_group
from .main import friendly, main, note, say, write_stderr


@main.command()
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="YAML config file (not with --resume)."
)
@click.option(
    "--output", type=click.Path(file_okay=False), help="Run folder (overrides the config's `output`)."
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config key, e.g. train.lr=0.01 (with --resume: train.epochs, train.patience).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace the run in the output folder (once the new run has saved a model).",
)
@click.option(
    "--resume",
    "resume_run",
    metavar="RUN",
    type=click.Path(file_okay=False),
    help="Continue the run in RUN from its checkpoint, as its config.yaml says.",
)
@click.option(
    "--dry-run", is_flag=True, help="Show the resolved config and the data, then stop: writes nothing."
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="The final scores and run folder as JSON on stdout (the rest on stderr).",
)
@click.option("--quiet", is_flag=True, help="No progress and no per-epoch lines: only the final results.")
@click.option(
    "--seeds",
    "seeds_text",
    metavar="SEEDS",
    help="A run per seed (0,1,2 or 0-4) in OUTPUT/seed-N, and their summary; rerun to go on after a stop.",
)
@friendly
def train(
    config_path: str | None,
    output: str | None,
    overrides: tuple[str, ...],
    overwrite: bool,
    resume_run: str | None,
    dry_run: bool,
    as_json: bool,
    quiet: bool,
    seeds_text: str | None = None,
) -> None:
    """Train a model as the config says and write its run folder (or continue one: --resume RUN)."""
    report: Callable[[str], Any] = (lambda line: write_stderr(line + "\n")) if as_json else say
    progress = "none" if quiet else "bar" if sys.stderr.isatty() else "lines"
    if seeds_text is not None:
        options = dict(config_path=config_path, output=output, overrides=overrides, overwrite=overwrite)
        train_seed_group(seeds_text, resume_run, dry_run, as_json, quiet, report, progress, **options)
        return
    if resume_run is not None:
        given = [
            flag for flag, value in (("--config", config_path), ("--output", output)) if value is not None
        ]
        given += [flag for flag, value in (("--overwrite", overwrite), ("--dry-run", dry_run)) if value]
        if given:
            raise click.UsageError(
                f"--resume continues a run in its folder as its config.yaml says: drop {', '.join(given)}"
            )
        folder = resume_run
        scores = resume_training(resume_run, overrides, progress, report, note, quiet)
    else:
        if config_path is None:
            raise click.UsageError("give a config (--config PATH), or a run to continue (--resume RUN)")
        config = load_config(config_path, overrides)
        if output is not None:
            config = dataclasses.replace(config, output=output)  # a folder name as typed, not YAML
        check_output(config, RUN_FILES, config_path)
        if dry_run:
            show_dry_run(config, dry_run_summary(config, overwrite), as_json)
            return
        folder = config.output
        scores = run_training(config, progress, report, overwrite, note, quiet)
    if as_json:
        click.echo(json.dumps({"run": folder, **scores}, indent=2))


def show_dry_run(config: Config, summary: dict[str, Any], as_json: bool) -> None:
    """What ``train --dry-run`` prints: the resolved config (YAML), the data files (sentences, tokens, the
    share with a word vector), the tag counts of each, the vectors and the task; or all that as JSON. An
    output folder that ``train`` would refuse (it holds a model, it is a folder of the user's) is a note
    on stderr: the dry run shows the rest all the same."""
    for remark in summary["remarks"]:
        note(remark)
    if summary["refused"]:
        note(f"train would stop at the output folder: {summary['refused']}")
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    data = summary["data"]
    files = [
        [name, f"{split['sentences']:,}", f"{split['tokens']:,}", f"{100 * split['coverage']:.1f}%"]
        for name, split in data.items()
    ]
    tags = list(dict.fromkeys(tag for split in data.values() for tag in split["tags"]))
    counts = [[tag, *(f"{split['tags'].get(tag, 0):,}" for split in data.values())] for tag in tags]
    vectors = summary["vectors"]
    click.echo(f"# the resolved config (saved as config.yaml)\n{dump_config(config)}")
    click.echo(table(["data", "sentences", "tokens", "with a vector"], files) + "\n")
    click.echo(table(["tag", *data], counts) + "\n")
    click.echo(
        f"{vectors['words']:,} word vectors of dimension {vectors['dimension']}; task {summary['task']},"
        f" classes {', '.join(summary['classes'])}; {summary['windows']:,} training windows"
    )
    if summary["stages"]:
        click.echo(
            "the document feature: three trainings, one after the other\n" + "\n".join(summary["stages"])
        )
    click.echo(f"dry run: nothing written; the run would go to {summary['output']}: {summary['folder']}")
