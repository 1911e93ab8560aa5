"""The console command ``windowner``: the signal handlers first, then the rest.

Importing the command line (numpy, click, every module of windowner) takes about half a second. A Ctrl-C
in that time raised KeyboardInterrupt in the middle of an import and Python printed its traceback; a
SIGTERM ended the process without a word. This module imports nothing but ``signal`` and ``sys``, and
lives outside the package because importing any module of ``windowner`` runs ``windowner/__init__.py``,
which imports numpy. :func:`run` makes SIGTERM and SIGHUP raise (Ctrl-C raises already), imports the
command line, and ends a signal that came during the imports as one that comes later ends: one line on
stderr (``windowner: interrupted``, ``windowner: terminated (SIGTERM)``) and exit status 128 + the
signal's number (130, 143, 129). A signal that is ignored (``nohup`` ignores SIGHUP) stays ignored.
"""

from __future__ import annotations

import signal
import sys

_TAKEN = (signal.SIGTERM, signal.SIGHUP)  # the command line's own handler raises for these too


class _Stopped(KeyboardInterrupt):
    """A signal during the imports (``signum``)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, frame: object) -> None:
    signal.signal(signum, signal.SIG_DFL)  # a second one ends the process at once
    raise _Stopped(signum)


def run() -> None:
    """The console entry point: :func:`windowner.cli.run`, with the signals handled from the start."""
    taken = [signum for signum in _TAKEN if signal.getsignal(signum) == signal.SIG_DFL]
    try:
        for signum in taken:
            signal.signal(signum, _stop)
        from windowner import cli  # numpy and the rest
        from windowner.base.errors import raise_terminated

        for signum in taken:  # the command line's handler from here on (it leaves one in place)
            if signal.getsignal(signum) is _stop:
                signal.signal(signum, raise_terminated)
    except KeyboardInterrupt as err:  # Ctrl-C, or a signal taken above: what windowner.cli says later
        signum = getattr(err, "signum", signal.SIGINT)
        what = "interrupted" if signum == signal.SIGINT else f"terminated ({signal.Signals(signum).name})"
        try:
            sys.stderr.write(f"windowner: {what}\n")
            sys.stderr.flush()
        except (OSError, ValueError):  # a closed stderr
            pass
        sys.exit(128 + signum)
    cli.run()


if __name__ == "__main__":  # pragma: no cover
    run()
