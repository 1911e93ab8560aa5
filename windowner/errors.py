"""The one exception type of windowner, and how user input is quoted in its messages.

Everything a user can get wrong (a malformed file, a bad config key, a missing run directory) raises
:class:`WindownerError` with a one-line message that names the file, the line or the config key. The CLI
turns it into that line on stderr and a non-zero exit code; library users can catch it.

:class:`Terminated` is the exception a termination signal (SIGTERM, SIGHUP) raises once the CLI has
installed its handler: a :class:`KeyboardInterrupt`, so that whatever cleans up after Ctrl-C (the
temporary file of :func:`windowner.files.atomic_open`, a checkpoint) cleans up after ``kill`` too.
"""

from __future__ import annotations

import signal
from typing import Any

QUOTE_LIMIT = 60  # characters of a token, tag, line or value shown in a message


class WindownerError(Exception):
    """A user-facing error: bad input, a bad config value, a missing file."""


class Terminated(KeyboardInterrupt):
    """A termination signal (``signum``) asked the program to stop; exit status 128 + signum."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


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
