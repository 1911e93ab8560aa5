"""What several commands share: tables of scores, loading a run or an ensemble, the vectors of words a
run did not keep, and the files a command may not write over.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ..tagging.ensemble import COMBINE, Ensemble, load_runs
from ..tagging.folders import FOLD_DATA, FOLDS
from ..tagging.run_files import RUN_FILES
from ..tagging.tagger import Tagger, load_run
from .main import note

COMBINE_HELP = (
    "With several runs: vote (each run decodes, each token takes the class most runs gave it), or mean"
    " (average their scores and a CRF's transitions, then decode once)."
)
combine_option = click.option(
    "--combine", type=click.Choice(COMBINE), default="vote", show_default=True, help=COMBINE_HELP
)
min_score_option = click.option(
    "--min-score",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Leave out the entities whose probability is below this (their tokens are tagged O).",
)


def load_tagger(runs: Sequence[str], which: str, combine: str) -> Tagger | Ensemble:
    """The run of one folder, or the ensemble of several (:mod:`windowner.tagging.ensemble`)."""
    return load_run(runs[0], which) if len(runs) == 1 else load_runs(runs, which, combine)


def protected(run: str, inputs: dict[str, str]) -> dict[Path, str]:
    """What an output file of ``eval`` or ``predict`` must not replace: the files of the run folder, of its
    stages (a run with the document feature: the folds and their parts of the training data) and the
    command's ``inputs`` (each path with the words that name it; ``-``, standard input, is none)."""
    keep = {Path(path): name for path, name in inputs.items() if path != "-"}
    files = [*RUN_FILES, *(f"{stage}/{name}" for stage in FOLDS for name in RUN_FILES)]
    files += [f"{fold}/{FOLD_DATA}" for fold in FOLDS]
    return {**keep, **{Path(run) / name: f"the run's {name}" for name in files}}


def add_vectors(tagger: Tagger, sentences: list[tuple[str, ...]], vectors_path: str | None) -> None:
    """Give the words of new text the vectors the run did not keep (see :meth:`Tagger.add_vectors`)."""
    path = vectors_file(tagger, vectors_path)
    if path is None:
        return
    added = tagger.add_vectors(path, sentences)
    if added:
        note(f"{added:,} words outside the run's vocabulary take their vectors from {path}")


def vectors_file(tagger: Tagger, vectors_path: str | None) -> Path | None:
    """The vectors of words the run did not keep: ``--vectors``, else the run's ``vectors.path``.

    None for ``--vectors none``, for a packaged run (it carries its vectors: ``windowner package``) given
    no ``--vectors``, and when the run's file is no longer there (the commands then warn with the cost:
    :func:`~windowner.tagging.package.missing_vectors`).
    """
    if vectors_path == "none" or (vectors_path is None and tagger.package is not None):
        return None
    path = Path(vectors_path or tagger.config.vectors.path)
    if vectors_path is None and not path.is_file():
        return None
    return path


def percent(fraction: float) -> str:
    return f"{100 * fraction:.2f}"


def score_cells(name: str, scores: dict[str, Any]) -> list[str]:
    """``name``, precision, recall and F1 in percent, and the support of one :meth:`Score.as_dict`.

    With no support (nothing to find) recall is 0/0, a dash rather than 0.00; so are precision and F1
    when nothing was predicted either (F1 = 2TP / (2TP + FP + FN)); a prediction there is a false
    positive, precision and F1 0.00.
    """
    support, predicted = scores["support"], scores.get("predicted", 0)
    empty = support == 0 and predicted == 0
    undefined = {"precision": empty, "recall": support == 0, "f1": empty}
    cells = ["-" if undefined[key] else percent(scores[key]) for key in ("precision", "recall", "f1")]
    return [name, *cells, str(support)]


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An aligned table: the first column left-aligned, the others right-aligned, two spaces apart.

    Each column is as wide as its widest cell, so long type names (``ORGANISATION-SUBSIDIARY``) and large
    counts keep it aligned. A row may be shorter than the header (the cells it lacks are blank); an empty
    row is a blank line.
    """
    widths = [max(len(row[i]) for row in [header, *rows] if i < len(row)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [cells[0].ljust(widths[0])] if cells else []
        padded += [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=False)]
        return "  ".join(padded).rstrip()

    return "\n".join(line(row) for row in [header, *rows])
