"""What fine-tuning the word vectors costs, optimiser by optimiser: an epoch fine-tuned against frozen.

    python benchmarks/fine_tuning.py [--glove PATH] [--reps 3] [--max-windows N] [--optimizers A,B]

The lecture's model (H=100 tanh, softmax, batch 32) on CoNLL-2003 train, one BLAS thread. For each
optimiser, an epoch (or its first ``--max-windows`` windows) with frozen vectors and one fine-tuning
them, side by side: the two take turns, 100 steps each, so that both see the same machine. Medians of
``--reps``; the ratio is the median of the side-by-side ratios (their range in brackets), not the
quotient of the two medians beside it. A lazy rule (every optimiser but
``adam``) costs what the batch touches, so its fine-tuning epoch should cost at most about twice a
frozen one; ``adam`` updates every row of E at every step (the dense rule; ``train`` says so) and is
there for comparison.
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 100  # steps: the frozen and the fine-tuned epoch take turns, a chunk each (this machine's speed
# drifts by up to 2x over minutes; with a whole epoch each way the drift showed in the ratio)
OPTIMIZERS = {  # name: (optimiser, its learning rate, sgd's momentum)
    "sgd": ("sgd", 0.1, 0.0),
    "sgd (momentum 0.9)": ("sgd", 0.01, 0.9),
    "adagrad": ("adagrad", 0.05, 0.0),
    "rmsprop": ("rmsprop", 0.001, 0.0),
    "sparse_adam": ("sparse_adam", 0.001, 0.0),
    "adam (the dense rule)": ("adam", 0.001, 0.0),
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--glove", default=str(Path.home() / ".cache/windowner-bench/glove.6B.50d.txt"))
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--max-windows", type=int, default=0, help="windows timed an epoch (0: all)")
    parser.add_argument("--optimizers", default=",".join(OPTIMIZERS), help="a comma-separated subset")
    args = parser.parse_args(argv)
    import windowner
    from windowner.network.model import WindowModel
    from windowner.network.shape import ModelConfig
    from windowner.optim import make_optimizer
    from windowner.training.corpus import examples, initialise
    from windowner.training.loop import train_step

    conll = ROOT / "data" / "conll2003" / "train.txt"
    overrides = [f"data.train={conll}", "data.dev=null", f"vectors.path={args.glove}", "task.name=entities"]
    tagger, corpus, _ = initialise(windowner.load_config(None, [*overrides, "output=x"]))
    data = examples(tagger, corpus.train)
    steps = math.ceil(args.max_windows / 32) if args.max_windows else None

    def epoch(name: str, fine_tune: bool, seed: int):
        """One epoch in chunks of CHUNK steps: yields the seconds of each chunk (the flush in the last)."""
        rng = np.random.default_rng(seed)  # the same weights and windows frozen and fine-tuned
        optimizer_name, lr, momentum = OPTIMIZERS[name]
        model = WindowModel.initialise({"E": corpus.E}, ModelConfig(), len(corpus.task.classes), rng)
        optimizer, trainables = make_optimizer(optimizer_name, lr, momentum), model.trainables()
        started = time.perf_counter()
        for count, batch in enumerate(model.loss.batches(data, 32, rng), start=1):
            train_step(model, optimizer, trainables, batch, fine_tune)  # as `train` takes it
            if steps and count >= steps:
                break
            if count % CHUNK == 0:
                yield time.perf_counter() - started
                started = time.perf_counter()
        optimizer.flush(trainables)
        yield time.perf_counter() - started

    def side_by_side(name: str, seed: int) -> tuple[float, float]:
        """A frozen epoch and a fine-tuned one, their chunks alternating (each goes first every other
        turn): seconds of each."""
        runs = {fine_tune: epoch(name, fine_tune, seed) for fine_tune in (False, True)}
        totals = dict.fromkeys(runs, 0.0)
        for turn in itertools.count():
            if not runs:
                break
            for fine_tune in sorted(runs, reverse=bool(turn % 2)):
                try:
                    totals[fine_tune] += next(runs[fine_tune])
                except StopIteration:
                    del runs[fine_tune]
        return totals[False], totals[True]

    chosen = [name for name in OPTIMIZERS if name in args.optimizers.split(",")]
    times: dict = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for rep in range(args.reps):
            for name in chosen:
                for fine_tune, seconds in zip((False, True), side_by_side(name, rep), strict=True):
                    times.setdefault((name, fine_tune), []).append(seconds)
    rows, dim = corpus.E.shape
    print(
        f"| optimiser (E: {rows:,} × {dim}) | frozen epoch (s) | fine-tuned epoch (s) | fine-tuned / frozen |"
    )
    print("|---|---|---|---|")
    for name in chosen:
        frozen, tuned = (statistics.median(times[(name, f)]) for f in (False, True))
        ratios = [t / f for f, t in zip(times[(name, False)], times[(name, True)], strict=True)]
        spread = f" ({min(ratios):.2f}–{max(ratios):.2f})" if len(ratios) > 1 else ""
        print(f"| {name} | {frozen:.2f} | {tuned:.2f} | **{statistics.median(ratios):.2f}**{spread} |")


if __name__ == "__main__":
    main()
