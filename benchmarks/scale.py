"""Memory and scale: what grows with the corpus, and what does not grow with the vectors file.

    python benchmarks/scale.py [--glove PATH] [--multiples 1,4,16] [--steps 2000]

Three tables, one BLAS thread:

1. **Corpus size.** One epoch of the lecture's model (H=100 tanh, frozen vectors, Adam, batch 32) on
   CoNLL-2003 train repeated 1, 4 and 16 times: seconds, and microseconds per window, which stay flat
   when training time is linear in the corpus.
2. **Vocabulary size.** The same fine-tuning step (SparseAdam, batch 32, ``--steps`` steps) with E holding
   the corpus's 20k words (``vectors.keep: data``) and all 400k of GloVe (``vectors.keep: all``): a lazy
   step costs what the batch touches, not V×d.
3. **Peak memory** (RSS) of a whole ``windowner train`` of CoNLL-2003 (1 epoch, in a fresh process), with
   ``vectors.keep: data`` and ``all`` (printed first).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
CONLL = ROOT / "data" / "conll2003"


def setup(glove: str, keep: str):
    import windowner
    from windowner.training.corpus import examples, initialise

    overrides = [f"data.train={CONLL / 'train.txt'}", "data.dev=null", f"vectors.path={glove}"]
    overrides += ["task.name=entities", f"vectors.keep={keep}", "output=unused", "model.hidden=100"]
    tagger, corpus, rng = initialise(windowner.load_config(None, overrides))
    return tagger.model, examples(tagger, corpus.train), rng


def epoch_seconds(
    model, data, rng, optimizer, fine_tune: bool, steps: int | None = None
) -> tuple[float, int]:
    from windowner.optim import make_optimizer
    from windowner.training.loop import train_step

    opt = make_optimizer(optimizer, 1e-3)
    trainables, seen, started = model.trainables(), 0, time.perf_counter()
    for count, batch in enumerate(model.loss.batches(data, 32, rng), start=1):
        train_step(model, opt, trainables, batch, fine_tune)
        seen += len(batch.labels)
        if steps is not None and count >= steps:
            break
    return time.perf_counter() - started, seen


CHILD = """
import resource, sys
from windowner.cli import main
try:
    main.main(sys.argv[1:], standalone_mode=False)
finally:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def peak_rss(glove: str, keep: str) -> float:
    """MiB of the largest resident set of a one-epoch ``windowner train`` in a fresh process."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-c", CHILD, "train", "--config", str(ROOT / "configs/conll2003.yaml")]
        command += ["--output", f"{folder}/run", "--quiet", "--set", "train.epochs=1"]
        command += ["--set", f"vectors.path={glove}", "--set", f"vectors.keep={keep}"]
        done = subprocess.run(
            command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
    return int(done.stderr.strip().splitlines()[-1]) / 1024  # ru_maxrss is in KiB on Linux


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--glove", default=str(Path.home() / ".cache/windowner-bench/glove.6B.50d.txt"))
    parser.add_argument("--multiples", default="1,4,16")
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args(argv)
    from windowner.network.losses import Examples

    # first, while this process is small: a forked child's peak RSS starts from its parent's (Linux keeps
    # ru_maxrss across exec), so measured after the tables below it would count their arrays
    print("| one epoch of `windowner train --config configs/conll2003.yaml` | peak RSS |")
    print("|---|---|")
    for keep in ("data", "all"):
        print(f"| vectors.keep: {keep} | {peak_rss(args.glove, keep):,.0f} MiB |", flush=True)
    print()
    with threadpool_limits(limits=1, user_api="blas"):
        model, data, rng = setup(args.glove, "data")
        print("| CoNLL-2003 train × | windows | epoch seconds | µs a window |")
        print("|---|---|---|---|")
        for multiple in map(int, args.multiples.split(",")):
            big = Examples(
                np.tile(data.windows, (multiple, 1, 1)),
                np.tile(data.labels, multiple),
                np.tile(data.lengths, multiple),
            )
            seconds, seen = epoch_seconds(model, big, rng, "adam", fine_tune=False)
            print(f"| {multiple} | {seen:,} | {seconds:.1f} | {1e6 * seconds / seen:.2f} |", flush=True)
        print()
        print(
            f"| E (vectors.keep) | rows | µs a fine-tuning step (sparse_adam, batch 32, {args.steps} steps) |"
        )
        print("|---|---|---|")
        for keep in ("data", "all"):
            model, data, rng = setup(args.glove, keep)
            epoch_seconds(model, data, rng, "sparse_adam", True, 200)  # warm-up
            seconds, _ = epoch_seconds(model, data, rng, "sparse_adam", True, args.steps)
            rows = len(model.params["E"])
            print(f"| {keep} | {rows:,} | {1e6 * seconds / args.steps:.0f} |", flush=True)


if __name__ == "__main__":
    main()
