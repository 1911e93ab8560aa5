"""Optimisers (config ``train.optimizer``): how a gradient changes a parameter.

One class a file, each with its update rule and what it does to the rows of a look-up table that a
batch does not touch: :mod:`.sgd` (with momentum), :mod:`.adagrad`, :mod:`.rmsprop`, :mod:`.adam` (Adam
and SparseAdam). The interface is :class:`.base.Optimizer`. Beside them, the learning-rate schedules
(:mod:`.schedules`: constant, step, exponential, cyclic) and the moving average of the weights
(:mod:`.averaging`).

May import: :mod:`windowner.base`, :mod:`windowner.network` (the gradients of the tables, ``SparseRows``).
"""

from __future__ import annotations

from .adagrad import Adagrad
from .adam import Adam, SparseAdam
from .base import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adam": Adam,
    "sparse_adam": SparseAdam,
}


def make_optimizer(name: str, lr: float, momentum: float = 0.0) -> Optimizer:
    """The optimiser ``name`` with learning rate ``lr`` (``momentum`` is SGD's μ)."""
    if name == "sgd":
        return SGD(lr, momentum)
    return OPTIMIZERS[name](lr)


__all__ = ["OPTIMIZERS", "SGD", "Adagrad", "Adam", "Optimizer", "RMSprop", "SparseAdam", "make_optimizer"]
