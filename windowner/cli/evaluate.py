"""``windowner eval``: score a run (or an ensemble) on a tagged file, with its predictions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ..base.errors import WindownerError
from ..base.files import refuse_to_replace, write_atomic
from ..base.threads import blas_threads
from ..data.conll import SCHEMES, entity_type
from ..data.spans import DATA_FORMATS, read_data
from ..evaluation import metrics
from ..network.decoding import DECODERS
from ..network.tasks import Task
from ..tagging.package import missing_vectors
from ..tagging.predict import (
    keep_entities,
)
from ..tagging.report import score
from ..tagging.tagger import Scored
from .common import (
    add_vectors,
    combine_option,
    load_tagger,
    min_score_option,
    percent,
    protected,
    score_cells,
    table,
)
from .main import friendly, main, note, warn


@main.command(name="eval")
@click.argument("run", type=click.Path())
@click.argument("more_runs", nargs=-1, type=click.Path())
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Tagged file: CoNLL, or JSON lines of texts and character spans (see --format).",
)
@click.option(
    "--format",
    "data_format",
    type=click.Choice(DATA_FORMATS),
    default="auto",
    show_default=True,
    help="conll, or jsonl (text and spans); auto: jsonl for a name ending .jsonl, .json or .ndjson.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the scores as one JSON object.")
@click.option("--model", "which", type=click.Choice(["best", "last"]), default="best", show_default=True)
@click.option("--scheme", type=click.Choice(SCHEMES), default="auto", show_default=True, help="Tag encoding.")
@click.option(
    "--vectors",
    "vectors_path",
    help="Vectors for words the run did not keep: a file, or 'none'. Default: the run's vectors.path.",
)
@click.option(
    "--predictions",
    "predictions_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write `token gold predicted` lines (conlleval's input) here; '-': stdout (the report: stderr).",
)
@click.option(
    "--scores",
    is_flag=True,
    help="--predictions: two more columns before gold, each tag's probability and its entity's ('-': none).",
)
@min_score_option
@click.option("--confusion", is_flag=True, help="Add a confusion matrix of token tags (gold x predicted).")
@click.option(
    "--decode",
    type=click.Choice(DECODERS),
    help="argmax per token, or viterbi over valid IOB2 paths. Default: the run's model.decode.",
)
@combine_option
@friendly
def evaluate(
    run: str,
    more_runs: tuple[str, ...],
    data_path: str,
    data_format: str,
    as_json: bool,
    which: str,
    scheme: str,
    vectors_path: str | None,
    predictions_path: str | None,
    scores: bool,
    min_score: float,
    confusion: bool,
    decode: str | None,
    combine: str,
) -> None:
    """Score the model of a run folder on a tagged file; of several (the seeds of a config), their
    ensemble."""
    runs = [run, *more_runs]
    if predictions_path is not None:
        inputs = {data_path: "the --data file"}
        keep = {path: name for folder in runs for path, name in protected(folder, inputs).items()}
        check_predictions_output(predictions_path, as_json, keep)
    tagger = load_tagger(runs, which, combine)
    sentences = read_data(data_path, scheme, data_format)
    tokens = [s.tokens for s in sentences]
    add_vectors(tagger, tokens, vectors_path)
    missing = missing_vectors(tagger, vectors_path)
    if missing is not None:
        missing(tokens)
        warn(missing.message(run))
    scored = None
    with blas_threads(tagger.config.train.threads):
        if (scores and predictions_path is not None) or min_score > 0:
            documents = [s.document for s in sentences]  # (only the document feature reads them)
            found = tagger.predict_scored(tokens, decode, documents=documents)
            scored = [keep_entities(s, min_score) for s in found]
            predicted = [s.tags for s in scored]
        else:
            predicted = tagger.predict(tokens, decode, documents=[s.document for s in sentences])
    report = score(tagger.task, sentences, predicted, tagger.groups(tokens))
    gold = [tagger.task.reference(s) for s in sentences]
    if confusion:
        report["confusion"] = metrics.confusion(gold, predicted).as_dict()
    unknown = unknown_types(tagger.task, gold)
    if unknown:
        note(
            f"{data_path} has entity types the model never saw in training ({', '.join(unknown)}):"
            " they are scored, and every one of them counts as a miss"
        )
    if report["entities"]["micro"]["support"] == 0:
        kind = tagger.task.location_label if tagger.task.name == "location" else "named"
        note(f"{data_path} has no {kind} entities: recall and F1 are 0 by definition")
    scored = scored if scores else None
    if predictions_path == "-":
        click.echo(predictions_text(tokens, gold, predicted, scored), nl=False)
    elif predictions_path is not None:
        write_atomic(predictions_path, predictions_text(tokens, gold, predicted, scored))
    text = json.dumps(report, indent=2) if as_json else format_report(report)
    click.echo(text, err=predictions_path == "-")


def unknown_types(task: Task, gold: Sequence[Sequence[str]]) -> list[str]:
    """The entity types of the gold tags that the task cannot predict (a type unseen in training)."""
    known = {entity_type(tag) for tag in task.tags}
    return sorted({entity_type(tag) for tags in gold for tag in tags} - known - {""})


def check_predictions_output(path: str, as_json: bool, keep: dict[Path, str]) -> None:
    """Refuse, before any work, a predictions file that cannot be written or would replace a file of ``keep``
    (the data, the run's files; each with the words that name it)."""
    if path == "-":
        if as_json:
            raise WindownerError("--json and --predictions - both write to stdout: give --predictions a file")
        return
    refuse_to_replace(path, keep, "the predictions")


def predictions_text(
    tokens: Sequence[Sequence[str]],
    gold: Sequence[Sequence[str]],
    predicted: Sequence[Sequence[str]],
    scored: Sequence[Scored] | None = None,
) -> str:
    """The lines ``token gold predicted`` that conlleval.pl reads: a line a token, a blank line after each
    sentence, single spaces (a token never holds whitespace: the reader splits on it). conlleval.pl takes
    the last two columns as gold and guess; it would read a token spelt ``-X-`` as a sentence break.

    With ``scored`` (the sentences' :class:`~windowner.tagging.tagger.Scored`): ``token tag-score entity-score
    gold predicted``, the probability of the predicted tag and of the predicted entity the token is in (``-``
    outside entities), with 4 decimals.
    """
    lines = []
    for i, (sentence, gold_tags, predicted_tags) in enumerate(zip(tokens, gold, predicted, strict=True)):
        if scored is None:
            rows = zip(sentence, gold_tags, predicted_tags, strict=True)
            lines.extend(f"{t} {g} {p}\n" for t, g, p in rows)
        else:
            entity = ["-"] * len(sentence)
            for start, end, _, probability in scored[i].entities:
                entity[start:end] = [f"{probability:.4f}"] * (end - start)
            rows = zip(sentence, scored[i].token_scores, entity, gold_tags, predicted_tags, strict=True)
            lines.extend(f"{t} {s:.4f} {e} {g} {p}\n" for t, s, e, g, p in rows)
        lines.append("\n")
    return "".join(lines)


def format_report(report: dict[str, Any]) -> str:
    """The report of ``eval`` as text, scores in percent.

    A table of the entity scores (every type of gold or prediction, micro last) and of the token scores,
    then the sections of the keys the report has: ``confusion`` (:func:`format_confusion`) and
    ``groups`` (:func:`format_groups`, e.g. ``{"unseen": ..., "seen": ...}`` of
    :meth:`metrics.GroupScores.as_dict`). Every column is as wide as its widest cell.
    """
    rows: list[list[str]] = [score_cells(name, scores) for name, scores in report["entities"].items()]
    rows.append([])
    tokens = report["tokens"]
    rows += [score_cells(f"{name} tokens", s) for name, s in tokens.items() if name != "accuracy"]
    rows.append(["accuracy", percent(tokens["accuracy"])])
    sections = [table(["entities", "precision", "recall", "f1", "support"], rows)]
    if "confusion" in report:
        sections.append(format_confusion(report["confusion"]))
    if "groups" in report:
        sections.append(format_groups(report["groups"]))
    return "\n\n".join(sections)


def format_confusion(confusion: dict[str, Any]) -> str:
    """A confusion matrix of :meth:`metrics.Confusion.as_dict`: gold tags as rows, predicted as columns."""
    labels = confusion["labels"]
    rows = [[gold, *map(str, counts)] for gold, counts in zip(labels, confusion["matrix"], strict=True)]
    return table(["gold \\ predicted", *labels], rows)


def format_groups(groups: dict[str, dict[str, Any]]) -> str:
    """Scores by group of tokens (:func:`metrics.grouped_scores`): per group a row of its entities (micro
    P/R/F1 and support) and a row of its tokens (micro token P/R/F1 and support, number, accuracy)."""
    rows: list[list[str]] = []
    for name, group in groups.items():
        rows.append(score_cells(f"{name} entities", group["entities"]["micro"]))
        tokens = score_cells(f"{name} tokens", group["token_types"]["micro"])
        rows.append([*tokens, str(group["tokens"]), percent(group["accuracy"])])
    return table(["groups", "precision", "recall", "f1", "support", "tokens", "accuracy"], rows)
