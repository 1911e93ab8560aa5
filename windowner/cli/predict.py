"""``windowner predict``: tag text with a run (or an ensemble), a batch at a time."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from ..base.files import refuse_to_replace
from ..base.threads import blas_threads
from ..tagging.html import html_end, html_start
from ..tagging.package import missing_vectors
from ..tagging.predict import (
    BATCH_TOKENS,
    INPUT_FORMATS,
    OUTPUT_FORMATS,
    NewWords,
    open_input,
    open_output,
    predicted_types,
    read_records,
    tag_stream,
)
from ..tagging.run_files import CONFIG_FILE
from .common import combine_option, load_tagger, min_score_option, protected, vectors_file
from .main import friendly, main, note, warn


def run_arguments(run: str, file: str | None, more: Sequence[str]) -> tuple[list[str], str]:
    """``predict``'s arguments ``RUN [RUN...] [FILE]``: the run folders and the input. Every argument is a
    run but the last, which is the input unless it is a run folder (a folder with a config.yaml); with no
    input, standard input."""
    given = [run, *([file] if file is not None else []), *more]
    if len(given) == 1 or (Path(given[-1]) / CONFIG_FILE).is_file():
        return given, "-"
    return given[:-1], given[-1]


@main.command()
@click.argument("run", type=click.Path())
@click.argument("file", required=False)
@click.argument("more", nargs=-1)
@click.option(
    "--format",
    "input_format",
    type=click.Choice(INPUT_FORMATS),
    default=None,
    help="text: raw text, a sentence or paragraph a line; tokens: whitespace-separated tokens, a sentence"
    " a line; conll: the token in the first column, a blank line between sentences; jsonl: a JSON object"
    " a line, its 'text' tagged (annotation tools' exports). Default: jsonl for a .jsonl, .json or .ndjson"
    " file, else text, or conll (with a note) when the first lines are a token and its tags each.",
)
@click.option(
    "--output-format",
    type=click.Choice(OUTPUT_FORMATS),
    default="conll",
    show_default=True,
    help="conll: token and tag a line; jsonl: a JSON object a sentence, with its entities; html: a page"
    " that highlights the entities (self-contained: open it in a browser).",
)
@click.option("--output", "output_path", help="Write to this file (whole or not at all), not to stdout.")
@click.option("--model", "which", type=click.Choice(["best", "last"]), default="best", show_default=True)
@click.option(
    "--vectors",
    "vectors_path",
    help="Vectors for words the run did not keep: a file, or 'none'. Default: the run's vectors.path.",
)
@click.option(
    "--scores/--no-scores",
    default=True,
    show_default=True,
    help="jsonl and html: the probability of each entity (jsonl: of each tag too); --no-scores: without.",
)
@min_score_option
@combine_option
@friendly
def predict(
    run: str,
    file: str | None,
    more: tuple[str, ...],
    input_format: str | None,
    output_format: str,
    output_path: str | None,
    which: str,
    vectors_path: str | None,
    scores: bool,
    min_score: float,
    combine: str,
) -> None:
    """Tag FILE (or standard input: '-' or nothing) with the model of a run folder.

    RUN [RUN...] [FILE]: with several run folders (the seeds of a config), their ensemble; the last
    argument is FILE unless it is a run folder. Reads and writes a batch at a time, so a large file never
    sits whole in memory; a run with the document feature, a document at a time (a CoNLL file's
    -DOCSTART- documents; any other input is one document, read whole).
    """
    runs, file = run_arguments(run, file, more)
    if output_path is not None and output_path != "-":
        inputs = {file: "the input file"}
        keep = {path: name for folder in runs for path, name in protected(folder, inputs).items()}
        refuse_to_replace(output_path, keep, "the tagged text")
    tagger = load_tagger(runs, which, combine)
    source = vectors_file(tagger, vectors_path)
    missing = missing_vectors(tagger, vectors_path)
    new_words = NewWords(tagger, source) if source is not None else missing
    stdout = sys.stdout.buffer
    gc.freeze()  # the run's objects (a vocabulary: tens of thousands) are not scanned again by every
    # collection of what tagging makes: 18-23 -> 14-15 ms of collections in tagging 200,000 tokens
    try:
        with open_input(file, sys.stdin.buffer) as (stream, name):
            batch = 1 if stream.isatty() else BATCH_TOKENS  # typed lines are tagged as they come
            with open_output(output_path, stdout) as out:
                records = read_records(stream, name, input_format, note)
                if output_format == "html":
                    about = f"tagged by the {which} model of {run}"
                    out.write(html_start(f"{name}: entities", predicted_types(tagger), about).encode())
                with blas_threads(tagger.config.train.threads):
                    count, tokens = tag_stream(
                        tagger, records, out, output_format, batch, new_words, scores, min_score
                    )
                if output_format == "html":
                    out.write(html_end(count, tokens).encode())
    except BrokenPipeError:  # the reader of stdout has gone (`| head`): stop quietly, as Unix filters do
        os.dup2(os.open(os.devnull, os.O_WRONLY), stdout.fileno())
        sys.exit(141)
    if count == 0:
        note(f"{name} holds no sentence: nothing to tag")
    if isinstance(new_words, NewWords) and new_words.added:
        note(f"{new_words.added:,} words outside the run's vocabulary take their vectors from {source}")
    if missing is not None and count:
        warn(missing.message(run))
