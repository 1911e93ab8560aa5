"""The one exception type of windowner, and how user input is quoted in its messages.

Everything a user can get wrong (a malformed file, a bad config key, a missing run directory) raises
:class:`WindownerError` with a one-line message that names the file, the line or the config key. The CLI
turns it into that line on stderr and a non-zero exit code; library users can catch it.

:class:`Terminated` is the exception a termination signal (SIGTERM, SIGHUP) raises once the CLI has
installed its handler (:func:`raise_terminated`): a :class:`KeyboardInterrupt`, so that whatever cleans up
after Ctrl-C (the temporary file of :func:`windowner.base.files.atomic_open`) cleans up after ``kill`` too.
"""

from __future__ import annotations

import signal
from typing import Any

QUOTE_LIMIT = 60  # characters of a token, tag, line or value shown in a message


class WindownerError(Exception):
    """A user-facing error: bad input, a bad config value, a missing file."""


class Terminated(KeyboardInterrupt):
    """A signal (``signum``) asked the program to stop; exit status 128 + signum. ``detail`` says what
    was saved and how to go on (training raises it with SIGINT too, once it has saved a checkpoint)."""

    def __init__(self, signum: int, detail: str = "") -> None:
        super().__init__(signum)
        self.signum = signum
        self.detail = detail

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    def __str__(self) -> str:
        return self.detail or self.name


def raise_terminated(signum: int, frame: Any) -> None:
    """The handler the command line installs for SIGTERM and SIGHUP: raise :class:`Terminated` once; a
    second signal stops the program at once (the default action), should the clean-up hang."""
    signal.signal(signum, signal.SIG_DFL)
    raise Terminated(signum)


def quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` cut to about ``limit`` characters, so that a 10 MB line is never echoed whole.

    >>> quote("Paris")
    "'Paris'"
    >>> quote("x" * 100, limit=5)
    "'xxxxx'… (100 characters)"
    """
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}… ({len(value):,} characters)"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
