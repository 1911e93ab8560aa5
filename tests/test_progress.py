"""Tests of windowner.training.progress: a line every few seconds when stderr is a log, not a terminal."""

from __future__ import annotations

import numpy as np
import pytest

from windowner.network.losses import Batch
from windowner.training.progress import Progress, duration


def batches(count: int, size: int = 32):
    return [Batch(np.zeros((size, 1, 5), np.int32), np.zeros(size, np.int64)) for _ in range(count)]


def test_lines_every_few_seconds_with_speed_and_eta():
    now = [0.0]
    lines = []
    progress = Progress("lines", every=10.0, write=lines.append, clock=lambda: now[0])
    for _ in progress.track(batches(100), epoch=2, epochs=3, total=100):
        now[0] += 1.0  # a step takes a second
    assert len(lines) == 10  # at 10 s, 20 s, ... 100 s
    # after 10 batches (320 windows) in 10 s: 90 batches left in this epoch, 100 more in the last one
    assert lines[0] == "windowner: epoch 2/3: batch 10/100 (10%), 32 windows/s, ETA 1:30 (run 3:10)"
    assert lines[-1].startswith("windowner: epoch 2/3: batch 100/100 (100%)")


def test_lines_of_a_resumed_epoch_count_from_where_it_was():
    now = [0.0]
    lines = []
    progress = Progress("lines", every=5.0, write=lines.append, clock=lambda: now[0])
    for _ in progress.track(batches(10), epoch=1, epochs=1, total=1000, done=990):
        now[0] += 1.0
    assert lines == [
        "windowner: epoch 1/1: batch 995/1,000 (100%), 32 windows/s, ETA 0:05 (run 0:05)",
        "windowner: epoch 1/1: batch 1,000/1,000 (100%), 32 windows/s, ETA 0:00 (run 0:00)",
    ]


def test_a_log_that_showed_an_epoch_going_shows_its_end():
    """A line every 30 s: at 30, 60 and 90 batches, then one at the end (100 %), not a last word of 90 %;
    an epoch shorter than the interval writes nothing."""
    now = [0.0]
    lines = []
    progress = Progress("lines", every=30.0, write=lines.append, clock=lambda: now[0])
    for _ in progress.track(batches(100), epoch=1, epochs=2, total=100):
        now[0] += 1.0
    assert [line.split(": batch ")[1].split(" (")[0] for line in lines] == [
        "30/100",
        "60/100",
        "90/100",
        "100/100",
    ]
    assert lines[-1].endswith("(100%), 32 windows/s, ETA 0:00 (run 1:40)")
    lines.clear()
    for _ in progress.track(batches(20), epoch=2, epochs=2, total=20):
        now[0] += 1.0
    assert lines == []


def test_none_shows_nothing_and_passes_every_batch(capsys):
    given = batches(3)
    assert list(Progress("none").track(given, 1, 1, 3)) == given
    assert capsys.readouterr() == ("", "")
    with pytest.raises(ValueError, match="bar, lines, none"):
        Progress("loud")


def test_duration():
    assert [duration(s) for s in (0, 54.4, 61, 3723)] == ["0:00", "0:54", "1:01", "1:02:03"]
