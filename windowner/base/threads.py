"""How many threads the BLAS library (OpenBLAS, MKL) may use for windowner's matrix products.

A training step multiplies small matrices (32 windows × 250 inputs × 100 hidden units). Splitting
such a product over threads costs more in waking and synchronising them than it saves, and when the
machine is busy a thread that waits for a core stalls every step: on a 2-core machine with other jobs
running, the default training took 48.7 s with OpenBLAS's default (two threads) and 5.6 s with one. windowner
therefore sets the thread count itself, with threadpoolctl (which changes the loaded library's setting
at run time; environment variables such as ``OPENBLAS_NUM_THREADS`` only act before numpy is imported).

The count is, in order of precedence:

1. the environment variable ``WINDOWNER_THREADS`` (a positive integer);
2. the config key ``threads`` (``train.threads`` for training; eval and predict read the run's);
3. ``0``, automatic: :func:`automatic_threads` (one).

``WINDOWNER_THREADS`` also sets how many threads parse a word-vector text file
(:func:`windowner.data.vectors.fast.parse_workers`; two by default, which hand each other whole blocks).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

from .errors import WindownerError

ENVIRONMENT = "WINDOWNER_THREADS"


def automatic_threads() -> int:
    """The automatic choice: one thread, whatever the batch and the hidden size.

    Measured (``benchmarks/threads.py``, docs/benchmarks.md): on an idle 2-core machine a second thread pays
    only for large products (H = 300 at a batch of 256 and more: 13–26 % faster), and with one core busy
    elsewhere two threads run 3–4 times slower than one at every size. One thread is never slower than
    two on a busy machine and at most a quarter slower on an idle one; ``train.threads: 2`` is there for
    large models on a machine of one's own.
    """
    return 1


def thread_count(setting: int = 0) -> int:
    """The number of BLAS threads for a config value ``setting`` (0: automatic), after the environment."""
    text = os.environ.get(ENVIRONMENT, "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise WindownerError(f"{ENVIRONMENT}={text!r}: expected a positive number of threads")
        return int(text)
    return setting or automatic_threads()


@contextmanager
def blas_threads(setting: int = 0) -> Iterator[int]:
    """Run the body with the BLAS thread count :func:`thread_count` gives; yields that count."""
    count = thread_count(setting)
    with threadpool_limits(limits=count, user_api="blas"):
        yield count
