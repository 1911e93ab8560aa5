"""The command group and its edge: every user error as one line on stderr and an exit status (1; 2 for
usage, 128 + N for signal N), ``--debug`` for the traceback.
"""

from __future__ import annotations

import functools
import io
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

import click

from ..base.errors import Terminated, WindownerError, raise_terminated

EXIT_ERROR = 1  # a user error; click's usage errors exit with 2


MESSAGE_LIMIT = 1000  # characters of an error line: nothing a user gave is echoed back whole


def friendly(command: Callable[..., Any]) -> Callable[..., Any]:
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
        write_stderr(traceback.format_exc())
    write_stderr(prefix + one_line(message) + "\n")
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


def write_stderr(text: str) -> None:
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
    write_stderr(f"windowner: note: {one_line(message)}\n")


def warn(message: str) -> None:
    """A warning on stderr: the command did its work, but not as well as it could (a missing file)."""
    write_stderr(f"windowner: warning: {one_line(message)}\n")


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


if __name__ == "__main__":  # pragma: no cover
    run()
