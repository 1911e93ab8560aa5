"""The elementwise nonlinearities h = f(z), each with its derivative.

Every activation is a gate ``forward(z, *params) -> (h, backward)`` with ``backward(dh) -> (dz, *dparams)``:
the parameters are the ones :class:`Activation` names (only PReLU has one, its slope ``a``). f acts on
each entry alone, so its Jacobian ∂h/∂z is diagonal and the backward pass is an elementwise product
``dz = dh ⊙ f'(z)``: the H×H Jacobian is never built. Shapes: ``z``, ``h``, ``dh``, ``dz`` are ``(B, H)``.

Piecewise-linear activations are not differentiable at their kinks (ReLU at 0, hard tanh at ±1). The
code then uses one of the one-sided derivatives, said in each docstring (the same choice as PyTorch). A
gradient check whose ±h step moves a z across a kink compares a derivative with a difference quotient
over two pieces; :attr:`Activation.kinks` lets ``gradcheck`` find those entries and leave them out.

``ACTIVATIONS`` maps the config names (``model.activation``) to them; the derivations are in
``docs/gradients.md`` §4.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Backward = Callable[[np.ndarray], tuple[np.ndarray, ...]]


def sigmoid(z: np.ndarray) -> tuple[np.ndarray, Backward]:
    """h = σ(z) = 1 / (1 + e⁻ᶻ); f'(z) = σ(z)(1 − σ(z)) = h(1 − h).

    Computed as (1 + tanh(z/2)) / 2, the same function, which never overflows (e⁻ᶻ does for z < −88
    in float32).
    """
    h = 0.5 * (1.0 + np.tanh(0.5 * z))

    def backward(dh: np.ndarray) -> tuple[np.ndarray]:
        return (dh * h * (1.0 - h),)

    return h, backward


def tanh(z: np.ndarray) -> tuple[np.ndarray, Backward]:
    """h = tanh(z); f'(z) = 1 − tanh²(z) = 1 − h², computed from the output (no second tanh).

    The backward pass works in one new array (dh ⊙ (1 − h·h) as written makes three and took 1.6–1.7
    times as long at a batch of 256 or more, 2026-11-27).
    """
    h = np.tanh(z)

    def backward(dh: np.ndarray) -> tuple[np.ndarray]:
        dz = np.square(h)
        np.subtract(1.0, dz, out=dz)  # f'(z) = 1 − h²
        dz *= dh  # ∂J/∂z = ∂J/∂h ⊙ f'(z)
        return (dz,)

    return h, backward


def hardtanh(z: np.ndarray) -> tuple[np.ndarray, Backward]:
    """h = max(−1, min(1, z)); f'(z) = 1 for −1 < z < 1, else 0.

    At the kinks z = ±1 the derivative used is 0, the one-sided derivative from outside [−1, 1].
    """
    h = np.clip(z, -1.0, 1.0)

    def backward(dh: np.ndarray) -> tuple[np.ndarray]:
        return (dh * (np.abs(z) < 1.0),)

    return h, backward


def relu(z: np.ndarray) -> tuple[np.ndarray, Backward]:
    """h = max(0, z); f'(z) = 1 for z > 0, else 0.

    At the kink z = 0 the derivative used is 0, the left one.
    """
    h = np.maximum(z, 0.0)

    def backward(dh: np.ndarray) -> tuple[np.ndarray]:
        return (dh * (z > 0.0),)

    return h, backward


def leaky_relu(z: np.ndarray, slope: float = 0.01) -> tuple[np.ndarray, Backward]:
    """h = z for z > 0, else slope·z (a fixed small slope, ``model.slope``); f'(z) = 1 or slope.

    At the kink z = 0 the derivative used is ``slope``, the left one.
    """
    gain = np.where(z > 0.0, 1.0, slope).astype(z.dtype)  # f'(z), and h = f'(z)·z

    def backward(dh: np.ndarray) -> tuple[np.ndarray]:
        return (dh * gain,)

    return gain * z, backward


def prelu(z: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, Backward]:
    """Parametric ReLU (He et al. 2015): h_j = z_j for z_j > 0, else a_j·z_j, a learned slope per unit.

    ``a`` has shape ``(H,)``. The backward pass returns two gradients::

        ∂J/∂z = ∂J/∂h ⊙ f'(z),  f'(z_j) = 1 for z_j > 0, else a_j      (B, H)
        ∂J/∂a_j = Σ_i ∂J/∂h_ij · (z_ij if z_ij ≤ 0 else 0)              (H,)  a_j is shared by the batch

    At the kink z = 0 the derivative used is a_j, the left one (and ∂h/∂a_j = z = 0 there).
    """
    negative = z <= 0.0
    gain = np.where(negative, a, 1.0).astype(z.dtype)

    def backward(dh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return dh * gain, (dh * z * negative).sum(axis=0)

    return gain * z, backward


@dataclass(frozen=True)
class Activation:
    """A nonlinearity: its gate, the model parameters it takes (by name, each of shape ``(H,)``), their
    starting value, and the points where it has a kink (none for the smooth ones)."""

    forward: Callable[..., tuple[np.ndarray, Backward]]
    params: tuple[str, ...] = ()
    init: float = 0.0
    kinks: tuple[float, ...] = ()


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(sigmoid),
    "tanh": Activation(tanh),
    "hardtanh": Activation(hardtanh, kinks=(-1.0, 1.0)),
    "relu": Activation(relu, kinks=(0.0,)),
    "leaky_relu": Activation(leaky_relu, kinks=(0.0,)),
    "prelu": Activation(prelu, params=("a",), init=0.25, kinks=(0.0,)),  # a = 0.25 as He et al. start it
}
