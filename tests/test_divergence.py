"""Tests of windowner.training.divergence: the rule that stops a run whose loss blows up, and spares a noisy
one."""

from __future__ import annotations

import math

import numpy as np
import pytest

from windowner.training.divergence import FACTOR, LossWatch, span


def test_span_covers_at_least_640_windows_and_20_batches():
    assert span(32) == 20 and span(1) == 640 and span(64) == 20 and span(30) == 22


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_a_loss_that_is_not_finite_is_divergence_at_once(bad):
    assert LossWatch(0.7).problem(bad) == f"loss {bad}"


def test_a_noisy_healthy_run_never_trips():
    # Batch losses around a falling mean with large noise, single batches up to 8 times the start (more
    # than the 8.3 the benchmark saw on real runs): the mean of 20 stays far below 10 times the start.
    rng = np.random.default_rng(0)
    watch = LossWatch(0.7, 20)
    losses = 0.7 * np.exp(-np.arange(5000) / 1000) * rng.lognormal(0.0, 0.8, size=5000)
    assert losses.max() > 8 * 0.7
    assert all(watch.problem(float(loss)) is None for loss in losses)


def test_a_finite_blow_up_is_caught_when_the_running_mean_passes_the_bound():
    watch = LossWatch(1.0, 20)
    for _ in range(19):
        assert watch.problem(50.0) is None  # fewer than 20 batches: no running mean yet
    problem = watch.problem(50.0)
    assert problem == ("mean loss of the last 20 batches 50, more than 10 times the untrained model's 1")
    healthy = LossWatch(1.0, 20)
    for loss in [0.5] * 30 + [FACTOR * 0.99] * 20:  # just under the bound
        assert healthy.problem(loss) is None
    assert healthy.problem(FACTOR * 1.2) is not None  # and over it


def test_the_state_goes_on_where_it_was():
    watch = LossWatch(0.5, 3)
    for loss in (0.4, 0.3, 0.2, 0.1):
        watch.problem(loss)
    again = LossWatch.from_state(watch.state())
    assert again == watch and list(again.recent) == [0.3, 0.2, 0.1]
