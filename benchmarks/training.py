"""Training and inference throughput of windowner against the PyTorch reference, side by side.

    python benchmarks/training.py [--glove PATH] [--modes frozen,sparse] [--hidden 100,300]
        [--batch 32,256,1024] [--threads 1,2] [--reps 3] [--max-windows N]

The model is the lecture's (5-word window of GloVe 6B 50d vectors, one hidden layer of H tanh units,
softmax over the 9 IOB2 tags of CoNLL-2003, no casing feature), trained with Adam (lr 1e-3) on
CoNLL-2003 train (203,621 windows): ``frozen`` keeps the word vectors fixed, ``sparse`` fine-tunes them
with SparseAdam (windowner's ``sparse_adam``; PyTorch's ``SparseAdam`` on a sparse embedding gradient,
Adam on the rest). windowner and the reference get the same windows, the same vectors and the same
thread count (threadpoolctl for numpy's BLAS, ``torch.set_num_threads`` for PyTorch).

Each measurement is the first ``--max-windows`` windows of an epoch (all of it if 0) from the shuffle
to the last optimiser step, after a warm-up of 20 steps; inference is the forward pass and argmax over
the training windows in batches of the same size. The two programs alternate, configuration by
configuration and repetition by repetition, so that a machine whose speed drifts (this one's does, by up
to 2× over minutes) slows both alike; the table gives the median windows/s of each and the median of the
ratios of the back-to-back pairs. The last column is a ceiling: the windows/s of windowner's matrix
products alone (:func:`products_alone`, the same shapes through numpy's BLAS with the same threads)
divided by PyTorch's windows/s. No step that computes those products with this library can beat PyTorch
by more, so a goal above the ceiling needs fewer or cheaper products, not less overhead.

The reference is ``../shared/bench/torch_window.py`` (imported, not copied); run this script with a
Python that has torch, e.g. the reference's own venv with windowner installed into it::

    ~/.venvs/torchref/bin/pip install -e . && ~/.venvs/torchref/bin/python benchmarks/training.py

Without torch only windowner's columns are filled.
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT.parent / "shared" / "bench"
CONLL = ROOT / "data" / "conll2003"
WARM_UP = 20


def load(glove: str, train: Path):
    """The CoNLL-2003 training windows (words only), their labels and E, read by windowner."""
    import windowner
    from windowner.training.corpus import examples, initialise

    overrides = [f"data.train={train}", "data.dev=null", "data.test=null", f"vectors.path={glove}"]
    overrides += ["task.name=entities", "output=unused"]
    config = windowner.load_config(None, overrides)
    tagger, corpus, _ = initialise(config)
    data = examples(tagger, corpus.train)
    return data, corpus.E, len(corpus.task.classes)


def windowner_epoch(data, E, classes, mode, hidden, batch, limit, seed):
    """Seconds of training and of inference, and windows trained, for windowner."""
    from windowner.network.model import WindowModel
    from windowner.network.shape import ModelConfig
    from windowner.optim import make_optimizer
    from windowner.training.loop import train_step

    rng = np.random.default_rng(seed)
    model = WindowModel.initialise({"E": E}, ModelConfig(hidden=hidden), classes, rng)
    fine_tune = mode == "sparse"
    optimizer = make_optimizer("sparse_adam" if fine_tune else "adam", 1e-3)
    trainables = model.trainables()

    def run(steps):
        seen = 0
        for count, chunk in enumerate(model.loss.batches(data, batch, rng), start=1):
            train_step(model, optimizer, trainables, chunk, fine_tune)
            seen += len(chunk.labels)
            if steps is not None and count >= steps:
                break
        return seen

    run(WARM_UP)
    started = time.perf_counter()
    seen = run(None if limit is None else math.ceil(limit / batch))
    trained = time.perf_counter() - started
    started = time.perf_counter()
    model.scores(data.windows[:limit], batch).argmax(axis=1)
    return trained, seen, time.perf_counter() - started


def products_alone(mode, hidden, batch, classes, width, seed):
    """Seconds a step and an inference batch spend in windowner's matrix products alone (numpy's BLAS,
    random float32 operands of the model's shapes): a floor under any step that multiplies these
    matrices with this library, so ``batch / seconds`` is a ceiling on its windows/s.

    Training: x Wᵀ and h Uᵀ forward; δ₂ᵀ h, δ₂ U and δ₁ᵀ x backward; δ₁ W too when fine-tuning (∂J/∂x).
    Inference: x Wᵀ and h Uᵀ.
    """
    rng = np.random.default_rng(seed)
    x, W, U = (
        rng.standard_normal(shape, dtype=np.float32)
        for shape in ((batch, width), (hidden, width), (classes, hidden))
    )
    h, d_hidden, d_scores = (
        rng.standard_normal(shape, dtype=np.float32)
        for shape in ((batch, hidden), (batch, hidden), (batch, classes))
    )

    def forward():
        return x @ W.T, h @ U.T

    def step():
        forward()
        d_scores.T @ h, d_scores @ U, d_hidden.T @ x
        if mode == "sparse":
            d_hidden @ W

    times = []
    for run in (forward, step):
        repeats = max(20, 20_000 // batch)
        run()
        started = time.perf_counter()
        for _ in range(repeats):
            run()
        times.append((time.perf_counter() - started) / repeats)
    return times[1], times[0]


def torch_epoch(reference, data, E, classes, mode, hidden, batch, limit, seed):
    """Seconds of training and of inference, and windows trained, for the PyTorch reference."""
    import torch

    torch.manual_seed(seed)
    words = torch.from_numpy(data.windows[:, 0].astype(np.int64))
    cases = torch.zeros_like(words)
    labels = torch.from_numpy(data.labels.astype(np.int64))
    model = reference.WindowNER(
        torch.from_numpy(E),
        words.shape[1],
        hidden,
        classes,
        "tanh",
        0,
        0.0,
        mode == "frozen",
        mode == "sparse",
    )
    optimizers = reference.make_optimizers(model, 1e-3, 0.0, mode == "sparse")
    generator = torch.Generator().manual_seed(seed)
    reference.train_epoch(model, optimizers, words, cases, labels, batch, generator, max_steps=WARM_UP)
    steps = None if limit is None else math.ceil(limit / batch)
    trained, seen, _ = reference.train_epoch(model, optimizers, words, cases, labels, batch, generator, steps)
    with torch.no_grad():
        model.eval()
        started = time.perf_counter()
        for start in range(0, min(len(words), limit or len(words)), batch):
            model(words[start : start + batch], cases[start : start + batch]).argmax(-1)
        inferred = time.perf_counter() - started
    return trained, seen, inferred


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--glove", default=str(Path.home() / ".cache/windowner-bench/glove.6B.50d.txt"))
    parser.add_argument("--train", default=str(CONLL / "train.txt"))
    parser.add_argument("--modes", default="frozen,sparse")
    parser.add_argument("--hidden", default="100,300")
    parser.add_argument("--batch", default="32,256,1024")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--max-windows", type=int, default=100_000, help="windows timed an epoch (0: all)")
    args = parser.parse_args(argv)
    try:
        import torch  # noqa: F401

        sys.path.insert(0, str(REFERENCE))
        import torch_window as reference
    except ImportError:
        reference = None
        print(
            "# torch (or ../shared/bench/torch_window.py) is not importable: windowner alone", file=sys.stderr
        )
    data, E, classes = load(args.glove, Path(args.train))
    limit = args.max_windows or None
    configs = list(
        itertools.product(
            args.modes.split(","),
            map(int, args.hidden.split(",")),
            map(int, args.batch.split(",")),
            map(int, args.threads.split(",")),
        )
    )
    results = {config: {"w": [], "t": [], "wi": [], "ti": [], "c": [], "ci": []} for config in configs}
    print(f"# {len(data):,} training windows, E {E.shape}, {len(configs)} configurations x {args.reps} reps")
    for rep in range(args.reps):
        for config in configs:
            mode, hidden, batch, threads = config
            order = ("w", "t") if rep % 2 == 0 else ("t", "w")  # alternate who goes first
            for who in order:
                if who == "t" and reference is None:
                    continue
                if who == "w":
                    with threadpool_limits(limits=threads, user_api="blas"):
                        trained, seen, inferred = windowner_epoch(
                            data, E, classes, *config[:3], args.max_windows, rep
                        )
                else:
                    import torch

                    torch.set_num_threads(threads)
                    trained, seen, inferred = torch_epoch(
                        reference, data, E, classes, *config[:3], limit, rep
                    )
                results[config][who].append(seen / trained)
                results[config][who + "i"].append(min(len(data), limit or len(data)) / inferred)
            with threadpool_limits(limits=threads, user_api="blas"):
                step, forward = products_alone(
                    mode, hidden, batch, classes, data.windows.shape[2] * E.shape[1], rep
                )
            results[config]["c"].append(batch / step)
            results[config]["ci"].append(batch / forward)
            line = " ".join(f"{k} {v[-1]:,.0f}" for k, v in results[config].items() if v)
            print(f"rep {rep} {mode:6} H={hidden:<3} batch {batch:<4} threads {threads}: {line}", flush=True)
    print()
    header = "| vectors | H | batch | threads | training windows/s: windowner / PyTorch = ratio"
    header += (
        " | inference: windowner / PyTorch = ratio | ceiling: products alone ÷ PyTorch, training; inference |"
    )
    print(header)
    print("|---|---|---|---|---|---|---|")
    for config in configs:
        found = results[config]
        r = {key: statistics.median(values) if values else float("nan") for key, values in found.items()}
        pairs = zip(found["w"], found["t"], strict=False)
        ratio = statistics.median(w / t for w, t in pairs) if found["t"] else float("nan")
        pairs = zip(found["wi"], found["ti"], strict=False)
        infer = statistics.median(w / t for w, t in pairs) if found["ti"] else float("nan")
        mode, hidden, batch, threads = config
        training = f"{r['w']:,.0f} / {r['t']:,.0f} = **{ratio:.2f}x**"
        inference = f"{r['wi']:,.0f} / {r['ti']:,.0f} = {infer:.2f}x"
        ceiling = f"{r['c'] / r['t']:.2f}x; {r['ci'] / r['ti']:.2f}x"
        print(f"| {mode} | {hidden} | {batch} | {threads} | {training} | {inference} | {ceiling} |")


if __name__ == "__main__":
    main()
