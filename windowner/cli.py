"""The command line: ``windowner train``, ``eval``, ``predict``, ``gradcheck``.

A thin layer over the Python API. Every user error is a :class:`WindownerError`; it is printed as one
line on stderr and the command exits with status 1 (2 for click's own usage errors, 130 on Ctrl-C).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np

from .config import load_config
from .conll import SCHEMES, read_conll
from .errors import WindownerError
from .gradcheck import TOLERANCE, check_gradients, random_problem
from .predict import (
    BATCH_TOKENS,
    INPUT_FORMATS,
    OUTPUT_FORMATS,
    NewWords,
    open_input,
    open_output,
    read_records,
    tag_stream,
)
from .tagger import Tagger, load_run
from .train import initialise
from .train import train as run_training


def _friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors a user can cause into one line on stderr and a non-zero exit status."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except WindownerError as err:
            click.echo(f"windowner: error: {err}", err=True)
            sys.exit(1)
        except OSError as err:
            where = f"{err.filename}: " if err.filename else ""
            click.echo(f"windowner: error: {where}{err.strerror or err}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("windowner: interrupted", err=True)
            sys.exit(130)
        except Exception as err:  # a bug, not the user's doing: still one line, unless debugging
            if os.environ.get("WINDOWNER_DEBUG"):
                raise
            first = (str(err).splitlines() or [""])[0]
            click.echo(
                f"windowner: internal error: {type(err).__name__}: {first}"
                " (please report it; WINDOWNER_DEBUG=1 shows the traceback)",
                err=True,
            )
            sys.exit(1)

    return wrapper


def run() -> None:
    """The console entry point: :func:`main`, with click's own usage errors on one line as well."""
    try:
        code = main.main(standalone_mode=False)
    except click.ClickException as err:
        click.echo(f"windowner: error: {err.format_message()}", err=True)
        sys.exit(err.exit_code)
    except click.Abort:
        click.echo("windowner: interrupted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def note(message: str) -> None:
    """A remark on stderr (stdout stays the report, e.g. for --json)."""
    click.echo(f"windowner: note: {message}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="windowner")
def main() -> None:
    """Window-based named-entity classifiers with hand-derived gradients (CS224N lecture 4)."""


@main.command()
@click.option(
    "--config", "config_path", required=True, type=click.Path(dir_okay=False), help="YAML config file."
)
@click.option(
    "--output", type=click.Path(file_okay=False), help="Run folder (overrides the config's `output`)."
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config key, e.g. train.lr=0.01.",
)
@click.option("--overwrite", is_flag=True, help="Replace the model in a run folder that already has one.")
@click.option("--quiet", is_flag=True, help="No progress bar, no per-epoch lines.")
@_friendly
def train(
    config_path: str, output: str | None, overrides: tuple[str, ...], overwrite: bool, quiet: bool
) -> None:
    """Train a model as the config says and write its run folder."""
    config = load_config(config_path, overrides)
    if output is not None:
        config = dataclasses.replace(config, output=output)  # a folder name as typed, not YAML
    echo = (lambda line: None) if quiet else click.echo
    progress = not quiet and sys.stderr.isatty()
    run_training(config, progress=progress, echo=echo, overwrite=overwrite)


@main.command(name="eval")
@click.argument("run", type=click.Path())
@click.option(
    "--data", "data_path", required=True, type=click.Path(dir_okay=False), help="Tagged CoNLL file."
)
@click.option("--json", "as_json", is_flag=True, help="Print the scores as one JSON object.")
@click.option("--model", "which", type=click.Choice(["best", "last"]), default="best", show_default=True)
@click.option("--scheme", type=click.Choice(SCHEMES), default="auto", show_default=True, help="Tag encoding.")
@click.option(
    "--vectors",
    "vectors_path",
    help="Vectors for words the run did not keep: a file, or 'none'. Default: the run's vectors.path.",
)
@_friendly
def evaluate(
    run: str, data_path: str, as_json: bool, which: str, scheme: str, vectors_path: str | None
) -> None:
    """Score the model of a run folder on a tagged file."""
    tagger = load_run(run, which)
    sentences = read_conll(data_path, scheme)
    add_vectors(tagger, [s.tokens for s in sentences], vectors_path)
    report = tagger.evaluate(sentences)
    if report["entities"]["micro"]["support"] == 0:
        kind = tagger.task.location_label if tagger.task.name == "location" else "named"
        note(f"{data_path} has no {kind} entities: recall and F1 are 0 by definition")
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(format_report(report, tagger.task.location_label))


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

    None for ``--vectors none``, and (with a note) when the run's file is no longer there.
    """
    if vectors_path == "none":
        return None
    path = Path(vectors_path or tagger.config.vectors.path)
    if vectors_path is None and not path.is_file():
        note(f"{path} (the run's vectors.path) is not here: words the run did not keep read <unk>")
        return None
    return path


def format_report(report: dict[str, Any], location_label: str) -> str:
    """The scores as a table, in percent."""
    lines = [f"{'entities':<12}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]

    def row(name: str, s: dict[str, Any]) -> str:
        p, r, f = (100 * s[k] for k in ("precision", "recall", "f1"))
        return f"{name:<12}{p:>10.2f}{r:>10.2f}{f:>10.2f}{s['support']:>10}"

    for name, scores in report["entities"].items():
        lines.append(row(name, scores))
    lines.append("")
    lines.append(row(f"{location_label} tokens", report["tokens"][location_label]))
    lines.append(f"{'accuracy':<12}{100 * report['tokens']['accuracy']:>10.2f}")
    return "\n".join(lines)


@main.command()
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="Check this run's model on its data."
)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key.")
@click.option("--batch", default=8, show_default=True, type=click.IntRange(1), help="Windows in the batch.")
@click.option(
    "--max-entries", type=click.IntRange(1), help="Check at most this many entries of each parameter."
)
@_friendly
def gradcheck(
    config_path: str | None, overrides: tuple[str, ...], batch: int, max_entries: int | None
) -> None:
    """Compare every analytic gradient with central differences in float64.

    With --config, the model the config trains (same initialisation) on a batch of its training data;
    without, the default model on a small random problem that needs no files.
    """
    rng = np.random.default_rng(0)
    if config_path is None and not overrides:
        model, windows, labels = random_problem(rng, batch)
        l2 = 1e-3
        click.echo(f"a random problem: {batch} windows, 40 words of dimension 8, l2 {l2}")
    else:
        if config_path is None:
            raise WindownerError("--set without --config: give the config the overrides apply to")
        config = load_config(config_path, overrides)
        tagger, corpus, _ = initialise(config)  # the model `train` would start from
        model = tagger.model
        every = tagger.windows([s.tokens for s in corpus.train])
        chosen = rng.choice(len(every), size=min(batch, len(every)), replace=False)
        windows, labels = every[chosen], corpus.task.targets(corpus.train)[chosen]
        l2 = config.train.l2 or 1e-3  # check the L2 term even where the run does not use it
        click.echo(f"{config_path}: {len(windows)} training windows, l2 {l2}")

    checks = check_gradients(model, windows, labels, l2=l2, max_entries=max_entries, rng=rng)
    click.echo(f"{'parameter':<10}{'shape':>14}{'entries':>10}{'max relative error':>20}")
    for check in checks:
        shape = "x".join(map(str, model.params[check.name].shape))
        verdict = "ok" if check.ok else "FAIL"
        error = check.max_relative_error
        click.echo(f"{check.name:<10}{shape:>14}{check.entries:>10}{error:>20.2e}  {verdict}")
    failed = [check.name for check in checks if not check.ok]
    if failed:
        names = ", ".join(failed)
        click.echo(f"windowner: error: gradients of {names} exceed the tolerance {TOLERANCE:g}", err=True)
        sys.exit(1)
    click.echo(
        f"all gradients agree with central differences (tolerance {TOLERANCE:g};"
        f" entries below {checks[0].tiny:.1e} compared at that size, the smallest differences resolve)"
    )


@main.command()
@click.argument("run", type=click.Path())
@click.argument("file", default="-")
@click.option(
    "--format",
    "input_format",
    type=click.Choice(INPUT_FORMATS),
    default="text",
    show_default=True,
    help="text: raw text, a sentence or paragraph a line; tokens: whitespace-separated tokens, a sentence"
    " a line; conll: the token in the first column, a blank line between sentences.",
)
@click.option(
    "--output-format",
    type=click.Choice(OUTPUT_FORMATS),
    default="conll",
    show_default=True,
    help="conll: token and tag a line; jsonl: a JSON object a sentence, with its entities.",
)
@click.option("--output", "output_path", help="Write to this file (whole or not at all), not to stdout.")
@click.option("--model", "which", type=click.Choice(["best", "last"]), default="best", show_default=True)
@click.option(
    "--vectors",
    "vectors_path",
    help="Vectors for words the run did not keep: a file, or 'none'. Default: the run's vectors.path.",
)
@_friendly
def predict(
    run: str,
    file: str,
    input_format: str,
    output_format: str,
    output_path: str | None,
    which: str,
    vectors_path: str | None,
) -> None:
    """Tag FILE (or standard input: '-' or nothing) with the model of a run folder.

    Reads and writes a batch at a time, so a large file never sits whole in memory.
    """
    tagger = load_run(run, which)
    source = vectors_file(tagger, vectors_path)
    new_words = NewWords(tagger, source) if source is not None else None
    stdout = sys.stdout.buffer
    try:
        with open_input(file, sys.stdin.buffer) as (stream, name):
            batch = 1 if stream.isatty() else BATCH_TOKENS  # typed lines are tagged as they come
            with open_output(output_path, stdout) as out:
                records = read_records(stream, name, input_format)
                count, _ = tag_stream(tagger, records, out, output_format, batch, new_words)
    except BrokenPipeError:  # the reader of stdout has gone (`| head`): stop quietly, as Unix filters do
        os.dup2(os.open(os.devnull, os.O_WRONLY), stdout.fileno())
        sys.exit(141)
    if count == 0:
        note(f"{name} holds no sentence: nothing to tag")
    if new_words is not None and new_words.added:
        note(f"{new_words.added:,} words outside the run's vocabulary take their vectors from {source}")


if __name__ == "__main__":  # pragma: no cover
    run()
