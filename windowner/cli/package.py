"""``windowner package``: a copy of a run that carries the vectors its predictions need."""

from __future__ import annotations

import click

from ..tagging.package import MAX_WORDS, package_run
from .main import friendly, main, note, say


@main.command()
@click.argument("run", type=click.Path())
@click.argument("output", type=click.Path())
@click.option(
    "--vectors",
    "vectors_path",
    type=click.Path(dir_okay=False),
    help="The vectors file to carry words from. Default: the run's vectors.path.",
)
@click.option(
    "--max-words",
    default=MAX_WORDS,
    show_default=True,
    type=click.IntRange(0),
    help="Carry the vectors of this many of the file's first (most frequent) words; 0: the run's own only.",
)
@click.option("--overwrite", is_flag=True, help="Replace the run or package in OUTPUT.")
@friendly
def package(run: str, output: str, vectors_path: str | None, max_words: int, overwrite: bool) -> None:
    """Write a copy of RUN to OUTPUT that carries the vectors its predictions need.

    OUTPUT holds the best model with the run's vocabulary and the vectors of the most frequent words of the
    vectors file, and no training state: `predict` and `eval` on it read no vectors file, on any machine.
    """
    done = package_run(run, output, vectors_path, max_words, overwrite)
    for line in done.recovered:
        note(line)
    if done.source is None:
        carried = "all of them the run's (no vectors file read)"
    else:
        first = f"the first {max_words:,} words of {done.source}"
        carried = f"{done.from_run:,} from the run and {done.added:,} of {first}"
    say(
        f"wrote {done.folder} ({done.size / 1e6:.1f} MB): {done.rows:,} word vectors, {carried};"
        " predict and eval on it read no vectors file"
    )
