"""``windowner plot``: the training curves of a run."""

from __future__ import annotations

import click

from ..experiments.plot import plot_folder
from .main import friendly, main, say


@main.command()
@click.argument("run", type=click.Path())
@click.option(
    "--output",
    "output_path",
    type=click.Path(dir_okay=False),
    help="The PNG file to write. Default: history.png in the run folder.",
)
@friendly
def plot(run: str, output_path: str | None) -> None:
    """Draw a run's training loss and dev F1 (micro and per type) per epoch as a PNG; for a folder of
    runs (seeds, a comparison), the dev F1 curves of each group with their spread; for a sweep's folder,
    the metric against each swept key.

    Needs matplotlib: pip install 'windowner[plot]'.
    """
    say(f"wrote {plot_folder(run, output_path)}")
