"""Tests of windowner.base.errors: how user input is quoted in messages, and the exception of SIGTERM."""

from __future__ import annotations

import signal

import pytest

from windowner.base.errors import QUOTE_LIMIT, Terminated, quote, raise_terminated


def test_quote_short_text_is_its_repr():
    assert quote("Paris") == "'Paris'"
    assert quote("a\nb") == "'a\\nb'"  # a newline in a token never breaks the message's line
    assert quote("x" * QUOTE_LIMIT) == repr("x" * QUOTE_LIMIT)


def test_quote_cuts_long_text_and_says_how_long_it_was():
    text = "x" * 10_000_000
    quoted = quote(text)
    assert quoted == repr("x" * QUOTE_LIMIT) + "… (10,000,000 characters)"
    assert quote("abcdef", limit=3) == "'abc'… (6 characters)"


def test_quote_other_values_by_their_repr_cut():
    assert quote(3) == "3"
    assert quote([1, 2]) == "[1, 2]"
    long = quote(list(range(100_000)))
    assert long.startswith("[0, 1, 2") and long.endswith("…") and len(long) == QUOTE_LIMIT + 1


def test_terminated_is_a_keyboard_interrupt_with_its_signal():
    # Whatever cleans up after Ctrl-C (except KeyboardInterrupt) cleans up after SIGTERM too.
    error = Terminated(signal.SIGTERM)
    assert isinstance(error, KeyboardInterrupt)
    assert error.signum == 15 and error.name == "SIGTERM"
    assert Terminated(signal.SIGHUP).name == "SIGHUP"


def test_terminated_carries_what_was_saved():
    # Training raises it with SIGINT too, once it has saved a checkpoint; the CLI prints the detail.
    error = Terminated(signal.SIGINT, "after epoch 2; saved a checkpoint")
    assert error.name == "SIGINT" and str(error) == "after epoch 2; saved a checkpoint"
    assert str(Terminated(signal.SIGTERM)) == "SIGTERM"


def test_raise_terminated_raises_once_then_leaves_the_signal_to_its_default(monkeypatch):
    previous = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, raise_terminated)
        with pytest.raises(Terminated) as info:
            signal.raise_signal(signal.SIGTERM)
        assert info.value.signum == signal.SIGTERM
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # a second SIGTERM ends it at once
    finally:
        signal.signal(signal.SIGTERM, previous)
