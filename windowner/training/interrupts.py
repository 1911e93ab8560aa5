"""Signals that wait for the end of a training step: Ctrl-C and SIGTERM while training.

Python raises KeyboardInterrupt wherever the program happens to be, possibly between the update of W and
the update of U. A checkpoint taken then would not be a state the run ever passed through. While
training, :func:`deferred` therefore only notes a signal; the loop looks at :attr:`Deferred.pending`
after each batch, saves a checkpoint and raises :class:`~windowner.base.errors.Terminated` itself. A second
signal does not wait: it raises at once (the checkpoint of the last epoch stays).

Only signals that would raise anyway are taken over: SIGINT with Python's own handler, and SIGTERM and
SIGHUP with the handler the command line installs (:func:`~windowner.base.errors.raise_terminated`). A
signal that is ignored (``nohup`` ignores SIGHUP) or left to its default action (SIGTERM in a program
that uses windowner as a library) keeps its behaviour; so does every signal outside the main thread.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..base.errors import Terminated, raise_terminated

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class Deferred:
    """``pending``: the signal that arrived and waits to be acted on, or None."""

    pending: int | None = None


@contextmanager
def deferred() -> Iterator[Deferred]:
    """Note SIGINT, SIGTERM and SIGHUP in the body instead of raising (see the module docstring).

    A signal still pending when the body ends raises :class:`Terminated` then (unless the body raised).
    """
    state = Deferred()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def note(signum: int, frame: Any) -> None:
        if state.pending is not None:  # asked twice: stop now
            raise Terminated(signum)
        state.pending = signum

    previous = {}
    for signum in SIGNALS:
        handler = signal.getsignal(signum)
        if handler is signal.default_int_handler or handler is raise_terminated:
            previous[signum] = handler
            signal.signal(signum, note)
    try:
        yield state
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if state.pending is not None:
        raise Terminated(state.pending)
