"""Helpers of the tests: an independent numeric gradient (float64), and a check of one-line errors.

The numeric gradient:

Central differences D(h) = (f(x + h e_j) − f(x − h e_j)) / 2h, extrapolated as (4 D(h/2) − D(h)) / 3 to
cancel the O(h²) error term; with h = 1e-3 the remaining error (O(h⁴) and rounding ≈ 1e-16/h) is around
1e-13 absolute, small enough to compare tiny gradient entries relatively.
"""

import signal
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from windowner.base.errors import WindownerError

REPO = Path(__file__).resolve().parent.parent


def numeric_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-3) -> np.ndarray:
    """∂f/∂x for every entry of ``x`` (changed in place and restored)."""

    def central(j: tuple, step: float) -> float:
        original = x[j]
        x[j] = original + step
        plus = f()
        x[j] = original - step
        minus = f()
        x[j] = original
        return (plus - minus) / (2 * step)

    grad = np.zeros(x.shape, dtype=np.float64)
    for j in np.ndindex(x.shape):
        grad[j] = (4 * central(j, h / 2) - central(j, h)) / 3
    return grad


def max_relative_error(a: np.ndarray, b: np.ndarray, tiny: float = 1e-12) -> float:
    """max |a − b| / max(|a| + |b|, tiny): the measure of CS231n's gradient checks.

    ``tiny`` keeps an entry that is 0 in exact arithmetic (a dropped unit, the margin loss's c) from being
    measured against its rounding: :func:`numeric_gradient` of a J near 1 resolves about 1e-12 absolute
    (rounding ≈ 4ε·|J|/h), so with ``tiny`` = 1e-6 such an entry passes a 1e-6 tolerance only if it is
    within 1e-12 of the numeric value.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), tiny)))


def raises_at(path, line: int, call, *needles: str) -> str:
    """Run ``call``; it must raise WindownerError whose one-line message names ``path:line:``."""
    with pytest.raises(WindownerError) as info:
        call()
    message = str(info.value)
    assert f"{path}:{line}:" in message, message
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message
    return message


def head(source: Path, target: Path, sentences: int) -> Path:
    """The first ``sentences`` sentences of a CoNLL file, written to ``target``."""
    blocks = source.read_text(encoding="utf-8").split("\n\n")[:sentences]
    target.write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")
    return target


def read_pipe(fifo) -> tuple[threading.Thread, list[bytes]]:
    """A thread that reads the named pipe ``fifo`` to its end; the bytes land in the list."""
    got: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as stream:
            got.append(stream.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    return thread, got


def documents_config(folder: Path, *overrides: str):
    """A tiny config with the document feature: the default config on Wikigold's first 300 training
    sentences (15 -DOCSTART- documents) and 100 dev sentences, 2 epochs of a hidden layer of 20; its run
    (three trainings with two folds, about 3 s) goes to ``folder/run``."""
    from windowner.config import load_config

    wikigold = REPO / "data" / "wikigold"
    train = head(wikigold / "train.conll", folder / "train.conll", 300)
    dev = head(wikigold / "dev.conll", folder / "dev.conll", 100)
    settings = [f"data.train={train}", f"data.dev={dev}", "data.test=null", "train.epochs=2"]
    settings += ["model.hidden=20", "model.features.document=4", f"output={folder / 'run'}"]
    return load_config(REPO / "configs" / "default.yaml", [*settings, *overrides])


def stop_at(stage: str, line: str = "epoch   1"):
    """An ``echo`` that sends Ctrl-C when ``line`` begins, once ``stage`` ("stage 2 of 3") has begun."""
    said: list[str] = []

    def echo(text: str) -> None:
        said.append(text)
        if text.startswith(line) and any(s.startswith(stage) for s in said):
            signal.raise_signal(signal.SIGINT)

    return echo
