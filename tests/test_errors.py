"""Tests of windowner.errors: how user input is quoted in messages, and the exception of SIGTERM."""

from __future__ import annotations

import signal

from windowner.errors import QUOTE_LIMIT, Terminated, quote


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
