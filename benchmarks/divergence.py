"""How far a healthy run's loss rises above its start, and where a run with a learning rate too high is
stopped: the evidence for the bound of :mod:`windowner.training.divergence`.

Trains the shipped config (frozen vectors, H = 100) with every optimiser and loss, the output bias at
zero and at the class priors, for several seeds, at the default learning rate, taking the same steps as
``train`` (without evaluating or writing anything). For each run it prints the starting loss (the
untrained model's, :func:`~windowner.training.divergence.starting_loss`), the largest running mean over n
batches and the largest single batch loss, each as a multiple of the starting loss, and whether the check
would have stopped it (it must not: the bound is 10). Then runs whose learning rate is far too high, and
the batch where the check stops each.

    OPENBLAS_NUM_THREADS=1 python benchmarks/divergence.py [--epochs 10] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from windowner import load_config
from windowner.network.model import make_loss
from windowner.optim import make_optimizer
from windowner.optim.schedules import make_schedule
from windowner.training.corpus import examples, initialise
from windowner.training.divergence import FACTOR, Diverging, LossWatch, span, starting_loss
from windowner.training.loop import config_step

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "default.yaml"


def run(overrides: list[str]) -> dict:
    """Train as ``train`` does (steps only); the ratios of the run's losses to its starting loss."""
    config = load_config(CONFIG, [*overrides, "output=unused"])
    tagger, corpus, rng = initialise(config)
    model, settings = tagger.model, config.train
    data = examples(tagger, corpus.train)
    optimizer = make_optimizer(settings.optimizer, settings.lr, settings.momentum)
    schedule = make_schedule(settings.lr, settings.schedule)
    start = starting_loss(model, data, settings.batch_size, settings.l2)
    n = span(settings.batch_size)
    watch, recent = LossWatch(start, n), []
    take_step = config_step(config, model, optimizer, rng, watch=watch)
    most_running = most_single = 0.0
    stopped, step = None, 0
    for epoch in range(1, settings.epochs + 1):
        for number, batch in enumerate(model.loss.batches(data, settings.batch_size, rng), start=1):
            step += 1
            optimizer.lr = schedule(epoch, step)
            try:
                loss = take_step(batch)
            except Diverging as problem:
                stopped = f"epoch {epoch} batch {number}: {problem}"
                break
            recent = [*recent[-(n - 1) :], loss]
            most_single = max(most_single, loss / start)
            if len(recent) == n:
                most_running = max(most_running, sum(recent) / n / start)
        if stopped:
            break
        optimizer.flush(model.trainables())
    return {"start": start, "running": most_running, "single": most_single, "stopped": stopped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--seeds", type=int, nargs="*", default=[0, 1, 2], help="none: only the runs that blow up"
    )
    args = parser.parse_args()

    print(f"healthy runs ({args.epochs} epochs, default lr); ratios to the starting loss; bound {FACTOR:g}")
    header = f"{'optimizer':<12}{'loss':<10}{'bias':<7}{'seed':>5}{'start':>8}{'running':>9}{'batch':>7}"
    print(header + "  stopped")
    worst = 0.0
    optimizers = ("sgd", "adagrad", "rmsprop", "adam", "sparse_adam")
    losses = ("softmax", "logistic", "margin", "crf")
    for optimizer, loss, bias, seed in itertools.product(optimizers, losses, ("zero", "prior"), args.seeds):
        overrides = [f"train.optimizer={optimizer}", f"train.loss={loss}", f"model.output_bias={bias}"]
        if make_loss(loss).binary:  # one score a window: the location task's two classes
            overrides.append("task.other_types=false")
        result = run([*overrides, f"train.seed={seed}", f"train.epochs={args.epochs}"])
        worst = max(worst, result["running"])
        print(
            f"{optimizer:<12}{loss:<10}{bias:<7}{seed:>5}{result['start']:>8.3f}{result['running']:>9.2f}"
            f"{result['single']:>7.2f}  {result['stopped'] or 'no'}",
            flush=True,
        )
    if args.seeds:
        print(f"largest running mean of a healthy run: {worst:.2f} times its starting loss\n")

    print("learning rates far too high (2 epochs)")
    for overrides in (
        ["train.optimizer=sgd", "train.lr=10"],
        ["train.optimizer=sgd", "train.lr=100"],
        ["train.optimizer=sgd", "train.lr=1000"],
        ["train.optimizer=rmsprop", "train.lr=3"],
        ["train.optimizer=adam", "train.lr=3"],
        ["train.optimizer=sgd", "train.lr=1e38", "train.fine_tune=true"],
    ):
        result = run([*overrides, "train.epochs=2"])
        print(f"{' '.join(overrides):<50} stopped: {result['stopped'] or 'no'}")


if __name__ == "__main__":
    main()
