"""The statistics of :mod:`windowner.experiments.compare`: a group's mean, standard deviation and range, and
Student's t distribution for the paired test (A&S 26.7.3-4: exact sums for whole degrees of freedom), its
two-sided p-values and quantiles, in the standard library's floats (no SciPy)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def describe(values: Sequence[float]) -> dict[str, float]:
    """n, mean, standard deviation (n − 1; 0 for one value), min and max."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {"n": n, "mean": mean, "std": std, "min": min(values), "max": max(values)}


def t_within(t: float, df: int) -> float:
    """A(t | ν) = P(|T| ≤ t) for Student's T with ν = ``df`` ≥ 1 degrees of freedom, t ≥ 0.

    With θ = atan(t / √ν): for odd ν, A = (2/π)(θ + sin θ (cos θ + (2/3) cos³θ + … + (2·4⋯(ν−3)) /
    (3·5⋯(ν−2)) cos^(ν−2) θ)) (just 2θ/π for ν = 1); for even ν, A = sin θ (1 + (1/2) cos²θ + … +
    (1·3⋯(ν−3)) / (2·4⋯(ν−2)) cos^(ν−2) θ).
    """
    if math.isinf(t):
        return 1.0
    theta = math.atan(t / math.sqrt(df))
    s, c = math.sin(theta), math.cos(theta)
    if df % 2:
        total, term = 0.0, c
        for k in range(1, (df - 1) // 2 + 1):  # cos θ, (2/3) cos³θ, (2·4)/(3·5) cos⁵θ, …
            total += term
            term *= (2 * k) / (2 * k + 1) * c * c
        return (2 / math.pi) * (theta + s * total) if df > 1 else 2 * theta / math.pi
    total, term = 0.0, 1.0
    for k in range(1, df // 2 + 1):  # 1, (1/2) cos²θ, (1·3)/(2·4) cos⁴θ, …
        total += term
        term *= (2 * k - 1) / (2 * k) * c * c
    return s * total


def t_two_sided(t: float, df: int) -> float:
    """The two-sided p-value P(|T| ≥ |t|)."""
    return max(0.0, 1.0 - t_within(abs(t), df))


def t_quantile(p: float, df: int) -> float:
    """The t with P(T ≤ t) = ``p`` (0.5 < p < 1), by bisection on :func:`t_within`."""
    target, low, high = 2 * p - 1, 0.0, 1.0
    while t_within(high, df) < target:
        high *= 2
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if t_within(middle, df) < target else (low, middle)
    return (low + high) / 2
