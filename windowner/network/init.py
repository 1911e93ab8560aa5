"""How the weight matrices W and U start (config ``model.init``); biases start at zero.

For a matrix of shape ``(fan_out, fan_in)`` (W: (H, K·d), U: (C, H)):

* ``xavier_uniform`` (Glorot & Bengio 2010): entries from U(−a, a), a = √(6 / (fan_in + fan_out));
* ``xavier_normal``: entries from N(0, σ²), σ = √(2 / (fan_in + fan_out)), the same variance;
* ``uniform``: entries from U(−r, r), r = ``model.init_range``.

Xavier's variance 2 / (fan_in + fan_out) keeps the variance of the activations (forward) and of the
gradients (backward) roughly the same from layer to layer, so that neither vanishes nor explodes.

The output bias c may start at the log class priors instead (``model.output_bias: prior``): with U h ≈ 0
at the start, softmax(c) is then the class frequencies of the training data (about 83 % ``O`` in NER),
and training does not spend its first steps learning them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Initialiser = Callable[[int, int, np.random.Generator, float], np.ndarray]


def xavier_uniform(fan_out: int, fan_in: int, rng: np.random.Generator, r: float = 0.0) -> np.ndarray:
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=(fan_out, fan_in))


def xavier_normal(fan_out: int, fan_in: int, rng: np.random.Generator, r: float = 0.0) -> np.ndarray:
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=(fan_out, fan_in))


def uniform(fan_out: int, fan_in: int, rng: np.random.Generator, r: float = 0.1) -> np.ndarray:
    return rng.uniform(-r, r, size=(fan_out, fan_in))


INITIALISERS: dict[str, Initialiser] = {
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "uniform": uniform,
}


def log_priors(labels: np.ndarray, outputs: int) -> np.ndarray:
    """The output bias that makes the starting prediction the class frequencies of ``labels``.

    ``outputs`` = C: c_k = log p_k (the softmax of c is then p); ``outputs`` = 1 (a single score read as
    a log-odds): c = log(p / (1 − p)), p the frequency of class 1. Frequencies are smoothed by one count
    per class, so that no class has log 0.
    """
    counts = np.bincount(labels, minlength=max(outputs, 2)).astype(np.float64) + 1.0
    priors = counts / counts.sum()
    if outputs == 1:
        return np.array([np.log(priors[1] / priors[0])])
    return np.log(priors)
