"""The lecture's "vectorise!" slide, measured on windowner's own model.

    python benchmarks/vectorisation.py [--windows 500] [--hidden 100] [--repeats 20]

The slide compares a Python loop of matrix–vector products over 500 word vectors with one
matrix–matrix product (639 µs against 53.8 µs). Here the same comparison runs the whole forward and
backward pass of the window model (``WindowModel.loss_and_grads``): once on a batch of N windows, and
as a loop over the N windows one at a time (each a batch of one), summing the gradients. Both compute
the same numbers (checked); the table gives the median time of each and the ratio, with one BLAS thread.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

from windowner.network.layers import SparseRows
from windowner.network.losses import Batch
from windowner.network.model import WindowModel
from windowner.network.shape import ModelConfig


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--windows", type=int, default=500)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    E = rng.normal(0.0, 0.4, size=(20_000, 50)).astype(np.float32)
    model = WindowModel.initialise({"E": E}, ModelConfig(hidden=args.hidden), classes=9, rng=rng)
    windows = rng.integers(3, len(E), size=(args.windows, 1, 5))
    labels = rng.integers(0, 9, size=args.windows)
    batch = Batch(windows, labels)
    singles = [Batch(windows[i : i + 1], labels[i : i + 1]) for i in range(args.windows)]

    def batched():
        return model.loss_and_grads(batch)[1]

    def looped():
        total = {"E": np.zeros_like(E)}
        for one in singles:
            for name, grad in model.loss_and_grads(one)[1].items():
                if isinstance(grad, SparseRows):  # the rows of one window are distinct: += is right
                    total[name][grad.rows] += grad.values / args.windows
                else:
                    total[name] = total.get(name, 0) + grad / args.windows  # the batch's J is a mean
        return total

    with threadpool_limits(limits=1, user_api="blas"):
        together, apart = batched(), looped()
        for name in ("W", "b", "U", "c"):
            np.testing.assert_allclose(together[name], apart[name], rtol=1e-3, atol=1e-6)
        np.testing.assert_allclose(together["E"].to_dense(E.shape), apart["E"], rtol=1e-3, atol=1e-6)
        times = {"batched": [], "looped": []}
        for _ in range(args.repeats):
            for name, run in (("batched", batched), ("looped", looped)):
                started = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - started)
    batch_time, loop_time = (statistics.median(times[key]) * 1e6 for key in ("batched", "looped"))
    print(f"| forward + backward of {args.windows} windows (H={args.hidden}) | median of {args.repeats} |")
    print("|---|---|")
    print(f"| a loop over the windows, one at a time | {loop_time:,.0f} µs |")
    print(f"| one batch | {batch_time:,.0f} µs |")
    print(f"| ratio | {loop_time / batch_time:.0f}× |")


if __name__ == "__main__":
    main()
