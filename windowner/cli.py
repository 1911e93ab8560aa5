"""The command line: ``windowner train``, ``windowner eval``, ``windowner gradcheck``.

A thin layer over the Python API. Every user error is a :class:`WindownerError`; it is printed as one
line on stderr and the command exits with status 1 (2 for click's own usage errors, 130 on Ctrl-C, 143
on SIGTERM); ``windowner --debug`` shows the traceback too.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click
import numpy as np

from .config import check_output, load_config
from .conll import SCHEMES, read_conll
from .errors import Terminated, WindownerError
from .gradcheck import TOLERANCE, check_gradients, random_problem
from .tagger import RUN_FILES, Tagger, load_run
from .train import initialise
from .train import train as run_training

EXIT_ERROR = 1  # a user error; click's usage errors exit with 2
MESSAGE_LIMIT = 1000  # characters of an error line: nothing a user gave is echoed back whole


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
            if isinstance(err, Terminated):
                fail(f"terminated ({err.name})", 128 + err.signum, prefix="windowner: ")
            fail("interrupted", 128 + signal.SIGINT, prefix="windowner: ")
        except Exception as err:  # a bug, not the user's doing: still one line, unless debugging
            fail(
                f"internal error: {type(err).__name__}: {_first_line(err)}"
                " (please report it; windowner --debug shows the traceback)",
                prefix="windowner: ",
            )

    return wrapper


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


def _raise_terminated(signum: int, frame: Any) -> None:
    """The handler of SIGTERM and SIGHUP: raise :class:`Terminated` (a KeyboardInterrupt) once; a second
    signal stops the program at once (the default action), should the clean-up hang."""
    signal.signal(signum, signal.SIG_DFL)
    raise Terminated(signum)


def handle_termination() -> None:
    """Make SIGTERM and SIGHUP end the program as Ctrl-C does: the temporary files are removed, one line
    on stderr, exit status 128 + signal. A signal that is ignored (``nohup`` ignores SIGHUP) stays ignored."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) == signal.SIG_DFL:
            signal.signal(signum, _raise_terminated)


def run() -> None:
    """The console entry point: :func:`main`, with click's own usage errors on one line as well."""
    handle_termination()
    try:
        code = main.main(standalone_mode=False)
    except click.ClickException as err:
        fail(err.format_message(), err.exit_code, trace=False)
    except click.Abort as err:  # Ctrl-C or a signal outside a command (while click parses the arguments)
        cause = err.__cause__
        if isinstance(cause, Terminated):
            fail(f"terminated ({cause.name})", 128 + cause.signum, prefix="windowner: ")
        fail("interrupted", 128 + signal.SIGINT, prefix="windowner: ")
    sys.exit(code if isinstance(code, int) else 0)


def note(message: str) -> None:
    """A remark on stderr (stdout stays the report, e.g. for --json)."""
    _write_stderr(f"windowner: note: {one_line(message)}\n")


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
    check_output(config, RUN_FILES, config_path)
    echo = (lambda line: None) if quiet else say
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
    if vectors_path == "none":
        return
    path = Path(vectors_path or tagger.config.vectors.path)
    if vectors_path is None and not path.is_file():
        note(f"{path} (the run's vectors.path) is not here: words the run did not keep read <unk>")
        return
    added = tagger.add_vectors(path, sentences)
    if added:
        note(f"{added:,} words outside the run's vocabulary take their vectors from {path}")


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


if __name__ == "__main__":  # pragma: no cover
    run()
