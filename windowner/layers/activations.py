"""The elementwise nonlinearities h = f(z), each with its derivative.

An activation is a function ``forward(z) -> (h, backward)`` with ``backward(dh) -> dz``; since f acts
on each entry alone, its Jacobian is diagonal and the backward pass is an elementwise product
``dz = dh ⊙ f'(z)``. ``ACTIVATIONS`` maps the config names (``model.activation``) to them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Backward = Callable[[np.ndarray], np.ndarray]
Activation = Callable[[np.ndarray], tuple[np.ndarray, Backward]]


def tanh(z: np.ndarray) -> tuple[np.ndarray, Backward]:
    """h = tanh(z); f'(z) = 1 − tanh²(z) = 1 − h², computed from the output (no second tanh)."""
    h = np.tanh(z)

    def backward(dh: np.ndarray) -> np.ndarray:
        return dh * (1.0 - h * h)

    return h, backward


ACTIVATIONS: dict[str, Activation] = {"tanh": tanh}
