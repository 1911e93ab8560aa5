"""BLAS threads: training speed with 1 and 2 threads and with windowner's automatic choice, on an idle
machine and beside a busy neighbour.

    python benchmarks/threads.py [--glove PATH] [--hidden 100,300] [--batch 32,256,1024] [--steps 300]

For each configuration (frozen vectors, Adam; H, batch) it trains ``--steps`` steps of the lecture's
model on CoNLL-2003 train with the BLAS thread count 1, 2 and ``auto`` (:func:`windowner.base.threads.
automatic_threads`), once with the machine otherwise idle and once while
another process keeps one core busy (a Python loop), repetitions interleaved; the table gives the median
windows/s. The automatic choice must never be slower than the faster of 1 and 2 threads by more than
the noise, and must not collapse when the machine is busy.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import statistics
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent


def spin(stop) -> None:  # the busy neighbour
    while not stop.is_set():
        sum(range(10_000))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--glove", default=str(Path.home() / ".cache/windowner-bench/glove.6B.50d.txt"))
    parser.add_argument("--hidden", default="100,300")
    parser.add_argument("--batch", default="32,256,1024")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    import windowner
    from windowner.base.threads import automatic_threads
    from windowner.network.model import WindowModel
    from windowner.network.shape import ModelConfig
    from windowner.optim import make_optimizer
    from windowner.training.corpus import examples, initialise
    from windowner.training.loop import train_step

    conll = ROOT / "data" / "conll2003" / "train.txt"
    overrides = [f"data.train={conll}", "data.dev=null", f"vectors.path={args.glove}"]
    tagger, corpus, rng = initialise(
        windowner.load_config(None, [*overrides, "task.name=entities", "output=x"])
    )
    data = examples(tagger, corpus.train)
    classes = len(corpus.task.classes)

    def speed(hidden: int, batch: int, threads: int) -> float:
        model = WindowModel.initialise({"E": corpus.E}, ModelConfig(hidden=hidden), classes, rng)
        optimizer, trainables = make_optimizer("adam", 1e-3), model.trainables()
        batches = model.loss.batches(data, batch, rng)
        with threadpool_limits(limits=threads, user_api="blas"):
            for count, chunk in enumerate(batches):
                if count == 20:  # after a warm-up
                    started, seen = time.perf_counter(), 0
                train_step(model, optimizer, trainables, chunk, fine_tune=False)
                if count >= 20:
                    seen += len(chunk.labels)
                if count >= 20 + args.steps:
                    break
        return seen / (time.perf_counter() - started)

    configs = list(itertools.product(map(int, args.hidden.split(",")), map(int, args.batch.split(","))))
    results: dict = {}
    for busy in (False, True):
        stop = multiprocessing.Event()
        neighbour = multiprocessing.Process(target=spin, args=(stop,)) if busy else None
        if neighbour:
            neighbour.start()
        try:
            for _ in range(args.reps):
                for hidden, batch in configs:
                    auto = automatic_threads()
                    for label, threads in (("1", 1), ("2", 2), ("auto", auto)):
                        key = (busy, hidden, batch, label)
                        results.setdefault(key, []).append(speed(hidden, batch, threads))
        finally:
            if neighbour:
                stop.set()
                neighbour.join()
    print("| machine | H | batch | 1 thread | 2 threads | auto (threads) |")
    print("|---|---|---|---|---|---|")
    for busy in (False, True):
        for hidden, batch in configs:
            median = {
                label: statistics.median(results[(busy, hidden, batch, label)])
                for label in ("1", "2", "auto")
            }
            auto = automatic_threads()
            state = "one core busy" if busy else "idle"
            print(
                f"| {state} | {hidden} | {batch} | {median['1']:,.0f} | {median['2']:,.0f}"
                f" | {median['auto']:,.0f} ({auto}) |"
            )


if __name__ == "__main__":
    main()
