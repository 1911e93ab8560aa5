"""Learning-rate schedules (config ``train.schedule``): the learning rate of every step.

A schedule is a function ``lr(epoch, step) -> float`` of the epoch (1, 2, …) and the optimiser step
counted over the whole run (1, 2, …), with lr₀ = ``train.lr``:

* ``constant``: lr₀.
* ``step``: lr₀ · factor^⌊(epoch − 1) / every⌋, multiplied by ``factor`` (0.5: halved) every ``every``
  epochs.
* ``exponential``: lr₀ · e^(−rate·(epoch − 1)), t = epoch − 1 epochs done.
* ``cyclic`` (Smith 2017, triangular): from lr₀ up to ``max_lr`` in ``half_cycle`` steps, back down in as
  many, and again::

      position = (step − 1) / half_cycle,   lr = lr₀ + (max_lr − lr₀) · (1 − |position mod 2 − 1|)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

SCHEDULES = ("constant", "step", "exponential", "cyclic")

Schedule = Callable[[int, int], float]


def make_schedule(lr: float, settings: Any) -> Schedule:
    """The schedule ``settings.name`` (a :class:`~windowner.config.ScheduleConfig`) starting at ``lr``."""
    name = settings.name
    if name == "step":
        return lambda epoch, step: lr * settings.factor ** ((epoch - 1) // settings.every)
    if name == "exponential":
        return lambda epoch, step: lr * math.exp(-settings.rate * (epoch - 1))
    if name == "cyclic":

        def cyclic(epoch: int, step: int) -> float:
            position = (step - 1) / settings.half_cycle
            return lr + (settings.max_lr - lr) * (1.0 - abs(position % 2.0 - 1.0))

        return cyclic
    return lambda epoch, step: lr
