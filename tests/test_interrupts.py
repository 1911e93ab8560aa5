"""Tests of windowner.training.interrupts: Ctrl-C and SIGTERM wait for the end of a training step."""

from __future__ import annotations

import signal
import threading

import pytest

from windowner.base.errors import Terminated, raise_terminated
from windowner.training.interrupts import deferred


@pytest.fixture
def handlers():
    """Python's own SIGINT handler and the command line's SIGTERM handler, restored afterwards."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, raise_terminated)
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_a_signal_is_noted_not_raised_and_raised_at_the_end(handlers):
    with pytest.raises(Terminated) as info:
        with deferred() as signals:
            signal.raise_signal(signal.SIGTERM)
            assert signals.pending == signal.SIGTERM  # the step goes on
    assert info.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is raise_terminated  # restored
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_body_acts_on_it_itself(handlers):
    with pytest.raises(Terminated) as info:
        with deferred() as signals:
            signal.raise_signal(signal.SIGINT)
            raise Terminated(signals.pending, "in epoch 1, after batch 3; saved a checkpoint")
    assert info.value.signum == signal.SIGINT and str(info.value).endswith("saved a checkpoint")


def test_a_second_signal_does_not_wait(handlers):
    with pytest.raises(Terminated), deferred():
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)
        pytest.fail("the second signal should have raised")


def test_ignored_and_default_signals_keep_their_behaviour(handlers):
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a library user's program
    with deferred() as signals:
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        signal.raise_signal(signal.SIGHUP)
    assert signals.pending is None


def test_outside_the_main_thread_nothing_changes(handlers):
    seen = {}

    def body():
        with deferred() as signals:
            seen["handler"] = signal.getsignal(signal.SIGINT)
            seen["pending"] = signals.pending

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == {"handler": signal.default_int_handler, "pending": None}
