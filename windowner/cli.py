"""The command line: ``windowner train``, ``eval``, ``predict``, ``plot``, ``gradcheck``, ``package``.

A thin layer over the Python API. Every user error is a :class:`WindownerError`; it is printed as one
line on stderr and the command exits with status 1 (2 for click's own usage errors, 130 on Ctrl-C, 143
on SIGTERM); ``windowner --debug`` shows the traceback too.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import io
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click
import numpy as np

from . import metrics
from .config import Config, check_output, dump_config, load_config
from .conll import SCHEMES, entity_type
from .decoding import DECODERS
from .ensemble import COMBINE, Ensemble, load_runs
from .errors import Terminated, WindownerError, raise_terminated
from .files import refuse_to_replace, write_atomic
from .gradcheck import TOLERANCE, Check, all_cases, case_problem, check_case, check_gradients, random_problem
from .package import MAX_WORDS, missing_vectors, package_run
from .plot import plot_folder
from .predict import (
    BATCH_TOKENS,
    INPUT_FORMATS,
    OUTPUT_FORMATS,
    NewWords,
    html_end,
    html_start,
    keep_entities,
    open_input,
    open_output,
    predicted_types,
    read_records,
    tag_stream,
)
from .spans import DATA_FORMATS, read_data
from .tagger import CONFIG_FILE, RUN_FILES, Scored, Tagger, load_run, score
from .tasks import Task
from .threads import blas_threads
from .train import dry_run as dry_run_summary
from .train import examples as training_examples
from .train import initialise
from .train import resume as resume_training
from .train import train as run_training

EXIT_ERROR = 1  # a user error; click's usage errors exit with 2
MESSAGE_LIMIT = 1000  # characters of an error line: nothing a user gave is echoed back whole
CONFIG_ENTRIES = 200  # gradcheck --config: entries of each parameter checked by default (seconds)
COMBINE_HELP = (
    "With several runs: vote (each run decodes, each token takes the class most runs gave it), or mean"
    " (average their scores and a CRF's transitions, then decode once)."
)


def _friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors a user can cause into one line on stderr and a non-zero exit status.

    Status 1 for an error (:class:`WindownerError`, an operating-system error, out of memory, or a bug),
    128 + N for signal N: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP. A closed standard output (``|
    head``) ends the command quietly with 141, as SIGPIPE would, unless the command drops its output
    (``train`` does, see :func:`say`). With ``--debug`` (or WINDOWNER_DEBUG=1) the traceback comes first.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except WindownerError as err:
            fail(str(err))
        except click.ClickException:  # a usage error found by the command: click's line and status 2
            raise
        except BrokenPipeError:
            _drop_closed_output(sys.stdout)
            sys.exit(128 + signal.SIGPIPE)
        except MemoryError as err:
            fail(
                f"out of memory ({_first_line(err) or 'MemoryError'}):"
                " reduce model.hidden, model.window or train.batch_size, or use smaller files"
            )
        except OSError as err:
            where = f"{err.filename}: " if err.filename else ""
            fail(f"{where}{err.strerror or err}")
        except KeyboardInterrupt as err:
            interrupted(err)
        except Exception as err:  # a bug, not the user's doing: still one line, unless debugging
            fail(
                f"internal error: {type(err).__name__}: {_first_line(err)}"
                " (please report it; windowner --debug shows the traceback)",
                prefix="windowner: ",
            )

    return wrapper


def interrupted(err: BaseException) -> NoReturn:
    """The line of Ctrl-C or a signal: ``windowner: interrupted`` or ``windowner: terminated (SIGTERM)``,
    and what training saved (:attr:`Terminated.detail`); status 128 + signal."""
    signum = err.signum if isinstance(err, Terminated) else signal.SIGINT
    what = "interrupted" if signum == signal.SIGINT else f"terminated ({signal.Signals(signum).name})"
    detail = err.detail if isinstance(err, Terminated) else ""
    fail(what + (f" {detail}" if detail else ""), 128 + signum, prefix="windowner: ")


def fail(
    message: str, status: int = EXIT_ERROR, prefix: str = "windowner: error: ", trace: bool = True
) -> NoReturn:
    """Print ``message`` as one line on stderr (after the traceback with --debug) and exit with ``status``."""
    if trace and _debugging() and sys.exc_info()[0] is not None:
        _write_stderr(traceback.format_exc())
    _write_stderr(prefix + one_line(message) + "\n")
    sys.exit(status)


# Characters that would break the line or the terminal (a newline in a path): written as escapes.
_BREAKS = (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)
_CONTROL = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in _BREAKS if code != 9}
_CONTROL |= {10: "\\n", 13: "\\r"}


def one_line(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """``message`` on one line: control characters (a newline in a path) escaped, cut after ``limit``."""
    text = message.translate(_CONTROL)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters)"


def _first_line(err: BaseException) -> str:
    return (str(err).splitlines() or [""])[0]


def _debugging() -> bool:
    """``windowner --debug`` or the environment variable WINDOWNER_DEBUG (set, not empty or 0)."""
    context = click.get_current_context(silent=True)
    if context is not None and context.find_root().params.get("debug"):
        return True
    return os.environ.get("WINDOWNER_DEBUG", "") not in ("", "0")


def _write_stderr(text: str) -> None:
    """Write to stderr; a closed stderr is not worth a second error."""
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe, a terminal that hung up; ValueError: closed already
        _drop_closed_output(sys.stderr)


def _drop_closed_output(stream: Any) -> None:
    """Point a stream whose reader has gone (a closed pipe) at /dev/null, so later writes and the flush
    at exit succeed silently instead of raising BrokenPipeError again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, io.UnsupportedOperation):  # not a real file (a test's captured stream)
        pass


def say(line: str) -> None:
    """Print a line of a command's report on stdout; when stdout is a closed pipe (``train ... | head -1``)
    the line is dropped and the command goes on (a note on stderr says so once)."""
    try:
        click.echo(line)
    except BrokenPipeError:
        _drop_closed_output(sys.stdout)  # later lines go to /dev/null without an error
        note("standard output is closed: the rest of the report is not printed, the command goes on")


def handle_termination() -> None:
    """Make SIGTERM and SIGHUP end the program as Ctrl-C does: the temporary files are removed, one line
    on stderr, exit status 128 + signal. A signal that is ignored (``nohup`` ignores SIGHUP) stays ignored."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) == signal.SIG_DFL:
            signal.signal(signum, raise_terminated)


def run() -> None:
    """The console entry point: :func:`main`, with click's own usage errors on one line as well."""
    handle_termination()
    try:
        code = main.main(standalone_mode=False)
    except click.ClickException as err:
        fail(err.format_message(), err.exit_code, trace=False)
    except click.Abort as err:  # Ctrl-C or a signal outside a command (while click parses the arguments)
        interrupted(err.__cause__ or KeyboardInterrupt())
    sys.exit(code if isinstance(code, int) else 0)


def note(message: str) -> None:
    """A remark on stderr (stdout stays the report, e.g. for --json)."""
    _write_stderr(f"windowner: note: {one_line(message)}\n")


def warn(message: str) -> None:
    """A warning on stderr: the command did its work, but not as well as it could (a missing file)."""
    _write_stderr(f"windowner: warning: {one_line(message)}\n")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="windowner")
@click.option(
    "--debug", is_flag=True, help="Show the traceback of an error (as the variable WINDOWNER_DEBUG=1 does)."
)
def main(debug: bool) -> None:
    """Window-based named-entity classifiers with hand-derived gradients (CS224N lecture 4).

    An error is one line on stderr; the exit status is 1 for an error, 2 for a usage error, 130 for
    Ctrl-C and 143 for SIGTERM.
    """


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
@_friendly
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
    report: Callable[[str], Any] = (lambda line: _write_stderr(line + "\n")) if as_json else say
    progress = "none" if quiet else "bar" if sys.stderr.isatty() else "lines"
    if seeds_text is not None:
        options = dict(config_path=config_path, output=output, overrides=overrides, overwrite=overwrite)
        _train_seeds(seeds_text, resume_run, dry_run, as_json, quiet, report, progress, **options)
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
    click.echo(f"dry run: nothing written; the run would go to {summary['output']}: {summary['folder']}")


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
@click.option(
    "--min-score",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Leave out the predicted entities whose probability is below this (their tokens read O).",
)
@click.option("--confusion", is_flag=True, help="Add a confusion matrix of token tags (gold x predicted).")
@click.option(
    "--decode",
    type=click.Choice(DECODERS),
    help="argmax per token, or viterbi over valid IOB2 paths. Default: the run's model.decode.",
)
@click.option("--combine", type=click.Choice(COMBINE), default="vote", show_default=True, help=COMBINE_HELP)
@_friendly
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
            scored = [keep_entities(s, min_score) for s in tagger.predict_scored(tokens, decode)]
            predicted = [s.tags for s in scored]
        else:
            predicted = tagger.predict(tokens, decode)
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


def load_tagger(runs: Sequence[str], which: str, combine: str) -> Tagger | Ensemble:
    """The run of one folder, or the ensemble of several (:mod:`windowner.ensemble`)."""
    return load_run(runs[0], which) if len(runs) == 1 else load_runs(runs, which, combine)


def run_arguments(run: str, file: str | None, more: Sequence[str]) -> tuple[list[str], str]:
    """``predict``'s arguments ``RUN [RUN...] [FILE]``: the run folders and the input. Every argument is a
    run but the last, which is the input unless it is a run folder (a folder with a config.yaml); with no
    input, standard input."""
    given = [run, *([file] if file is not None else []), *more]
    if len(given) == 1 or (Path(given[-1]) / CONFIG_FILE).is_file():
        return given, "-"
    return given[:-1], given[-1]


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


def protected(run: str, inputs: dict[str, str]) -> dict[Path, str]:
    """What an output file of ``eval`` or ``predict`` must not replace: the files of the run folder and the
    command's ``inputs`` (each path with the words that name it; ``-``, standard input, is none)."""
    keep = {Path(path): name for path, name in inputs.items() if path != "-"}
    return {**keep, **{Path(run) / name: f"the run's {name}" for name in RUN_FILES}}


def predictions_text(
    tokens: Sequence[Sequence[str]],
    gold: Sequence[Sequence[str]],
    predicted: Sequence[Sequence[str]],
    scored: Sequence[Scored] | None = None,
) -> str:
    """The lines ``token gold predicted`` that conlleval.pl reads: a line a token, a blank line after each
    sentence, single spaces (a token never holds whitespace: the reader splits on it). conlleval.pl takes
    the last two columns as gold and guess; it would read a token spelt ``-X-`` as a sentence break.

    With ``scored`` (the sentences' :class:`~windowner.tagger.Scored`): ``token tag-score entity-score gold
    predicted``, the probability of the predicted tag and of the predicted entity the token is in (``-``
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
    :func:`~windowner.package.missing_vectors`).
    """
    if vectors_path == "none" or (vectors_path is None and tagger.package is not None):
        return None
    path = Path(vectors_path or tagger.config.vectors.path)
    if vectors_path is None and not path.is_file():
        return None
    return path


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


@main.command()
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="Check this run's model on its data."
)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key.")
@click.option(
    "--batch",
    default=8,
    show_default=True,
    type=click.IntRange(1),
    help="Windows in the batch (crf: whole sentences, until they hold this many).",
)
@click.option(
    "--max-entries",
    type=click.IntRange(0),
    help=f"Check at most this many entries of each parameter, drawn at random (0: every entry). Default:"
    f" every entry of the random problem; {CONFIG_ENTRIES} with --config (every entry of a real model"
    " takes minutes).",
)
@click.option(
    "--all",
    "every",
    is_flag=True,
    help="Every activation x loss x {frozen, fine-tuned} x {l2 = 0, l2 > 0} on small random models.",
)
@_friendly
def gradcheck(
    config_path: str | None, overrides: tuple[str, ...], batch: int, max_entries: int | None, every: bool
) -> None:
    """Compare every analytic gradient with central differences in float64.

    With --config, the model the config trains (same initialisation) on a batch of its training data
    (200 random entries of each parameter unless --max-entries says otherwise); without, the default
    model on a small random problem that needs no files; with --all, every combination of the toolbox on
    small random models. Each parameter's row is printed as soon as it is checked.
    """
    started = time.perf_counter()
    budget = CONFIG_ENTRIES if max_entries is None and config_path is not None else max_entries
    max_entries = budget or None  # 0: every entry
    if every:
        if config_path or overrides:
            raise WindownerError("--all checks random models: it takes no --config or --set")
        _check_all(max_entries)
        return
    rng = np.random.default_rng(0)
    seed = None
    if config_path is None and not overrides:
        model, examples = random_problem(rng, batch)
        l2 = l2_vectors = 1e-3
        click.echo(f"a random problem: {len(examples.labels)} windows, 40 words of dimension 8, l2 {l2}")
    else:
        if config_path is None:
            raise WindownerError("--set without --config: give the config the overrides apply to")
        config = load_config(config_path, overrides)
        tagger, corpus, _ = initialise(config)  # the model `train` would start from
        model = tagger.model
        data = training_examples(tagger, corpus.train, config.data.train)
        examples = next(model.loss.batches(data, batch, rng))
        l2 = config.train.l2 or 1e-3  # check the L2 terms even where the run does not use them
        l2_vectors = config.train.l2_vectors or 1e-3
        if config.model.dropout or config.model.input_dropout or config.model.word_dropout:
            seed = 0  # the same dropout masks at every evaluation
        count = 0 if examples.lengths is None else len(examples.lengths)
        sentences = f" ({count} sentence{'s' * (count > 1)})" if count else ""
        click.echo(
            f"{config_path}: {len(examples.labels)} training windows{sentences}, l2 {l2},"
            f" l2_vectors {l2_vectors}"
        )

    def show(check: Check) -> None:
        shape = "x".join(map(str, model.params[check.name].shape))
        verdict = "ok" if check.ok else "FAIL"
        error = check.max_relative_error
        skipped = f"  ({check.skipped} at a kink, left out)" if check.skipped else ""
        click.echo(f"{check.name:<10}{shape:>14}{check.entries:>10}{error:>20.2e}  {verdict}{skipped}")

    click.echo(f"{'parameter':<10}{'shape':>14}{'entries':>10}{'max relative error':>20}")
    checks = check_gradients(model, examples, l2, l2_vectors, True, max_entries, rng, seed=seed, report=show)
    failed = [check.name for check in checks if not check.ok]
    if failed:
        names = ", ".join(failed)
        click.echo(f"windowner: error: gradients of {names} exceed the tolerance {TOLERANCE:g}", err=True)
        sys.exit(1)
    entries = sum(check.entries for check in checks)
    sampled = f", {max_entries} a parameter at most" if max_entries is not None else ""
    click.echo(
        f"all gradients agree with central differences (tolerance {TOLERANCE:g};"
        f" entries below {checks[0].tiny:.1e} compared at that size, the smallest differences resolve):"
        f" {entries:,} entries{sampled} in {time.perf_counter() - started:.1f} s"
    )


def _check_all(max_entries: int | None) -> None:
    """``gradcheck --all``: a table of the largest relative error per case and parameter."""
    # a column for every parameter of some case, in the order of the forward pass
    orders = [case_problem(case)[0].parameter_names() for case in all_cases()]
    longest = max(orders, key=len)
    names = sorted({name for order in orders for name in order}, key=longest.index)
    widths = {name: max(9, len(name) + 1) for name in names}  # E_gazetteer is wider than a number
    click.echo(
        f"{'activation':<11}{'loss':<9}{'vectors':<11}{'l2':<6}" + "".join(f"{n:>{widths[n]}}" for n in names)
    )
    failed, skipped = [], 0
    for case in all_cases():
        checks = {check.name: check for check in check_case(case, max_entries)}
        skipped += sum(check.skipped for check in checks.values())
        cells = "".join(
            f"{checks[name].max_relative_error:>{widths[name]}.1e}"
            if name in checks
            else f"{'-':>{widths[name]}}"
            for name in names
        )
        vectors = "fine-tuned" if case.fine_tune else "frozen"
        bad = [name for name, check in checks.items() if not check.ok]
        click.echo(
            f"{case.activation:<11}{case.loss:<9}{vectors:<11}{case.l2:<6g}{cells}"
            + ("  FAIL" if bad else "")
        )
        failed += [f"{case.label}: {', '.join(bad)}" for _ in bad[:1]]
    if failed:
        click.echo(
            f"windowner: error: {len(failed)} cases exceed the tolerance {TOLERANCE:g}: {'; '.join(failed)}",
            err=True,
        )
        sys.exit(1)
    click.echo(
        f"all {len(list(all_cases()))} cases agree with central differences (tolerance {TOLERANCE:g});"
        f" {skipped} entries left out where a step crossed a kink"
    )


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
@click.option(
    "--min-score",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Leave out the entities whose probability is below this (their tokens are tagged O).",
)
@click.option("--combine", type=click.Choice(COMBINE), default="vote", show_default=True, help=COMBINE_HELP)
@_friendly
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
    sits whole in memory.
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


@main.command()
@click.argument("run", type=click.Path())
@click.option(
    "--output",
    "output_path",
    type=click.Path(dir_okay=False),
    help="The PNG file to write. Default: history.png in the run folder.",
)
@_friendly
def plot(run: str, output_path: str | None) -> None:
    """Draw a run's training loss and dev F1 (micro and per type) per epoch as a PNG; for a folder of
    runs (seeds, a comparison), the dev F1 curves of each group with their spread; for a sweep's folder,
    the metric against each swept key.

    Needs matplotlib: pip install 'windowner[plot]'.
    """
    say(f"wrote {plot_folder(run, output_path)}")


# Experiments (windowner.experiments): train --seeds, compare, sweep


def _train_seeds(
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
    from .experiments.seeds import SUMMARY_FILE, parse_seeds, seeds_command, train_seeds

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
@_friendly
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
    from .experiments.compare import compare, render

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
@_friendly
def sweep(sweep_file: str, workers: int, storage: str | None, quiet: bool) -> None:
    """Search the config keys of SWEEP_FILE's space (grid, random or TPE, on Optuna), each trial a seed
    group in the sweep folder. Run again, or on another machine with the same --storage, to go on.

    Needs Optuna: pip install 'windowner[sweep]'.
    """
    from .experiments.sweep import run_sweep

    run_sweep(sweep_file, workers, storage, say, note, quiet)


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
@_friendly
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


if __name__ == "__main__":  # pragma: no cover
    run()
