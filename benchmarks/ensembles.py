"""The runs of one config (its seeds) alone and as ensembles: LOC entity F1 on dev and test.

    python benchmarks/ensembles.py --dev data/wikigold/dev.conll --test data/wikigold/test.conll \\
        runs/s0 runs/s1 runs/s2 runs/s3 runs/s4

Prints a markdown table: every run alone; the mean (min–max) over the runs; the ensemble of every run,
its scores averaged (``mean``, with a CRF's transitions) or its runs voting (``vote``); and the ensembles
of every ``--size`` consecutive runs (cyclically: with 5 runs and size 3, runs 0-2, 1-3, 2-4, 3-0, 4-1),
mean (min–max) over those ensembles, so that the ensembles' numbers are over several draws too. Each
run's best epoch (model.npz) is used, decoded as its config says.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from windowner.data.conll import read_conll
from windowner.tagging.ensemble import Ensemble
from windowner.tagging.tagger import load_run


def f1(tagger, sentences, label: str) -> float:
    return 100 * tagger.evaluate(sentences)["entities"][label]["f1"]


def spread(values: list[float]) -> str:
    return f"{statistics.mean(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", nargs="+", help="run folders of one config")
    parser.add_argument("--dev", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--size", type=int, default=3, help="runs in each smaller ensemble")
    args = parser.parse_args(argv)
    taggers = [load_run(run) for run in args.runs]
    label = taggers[0].task.location_label if taggers[0].task.name == "location" else "micro"
    data = {"dev": read_conll(args.dev), "test": read_conll(args.test)}
    print(f"| model | dev {label} entity F1 | test {label} entity F1 |")
    print("| --- | ---: | ---: |")
    alone = {split: [f1(t, s, label) for t in taggers] for split, s in data.items()}
    for run, dev, test in zip(args.runs, alone["dev"], alone["test"], strict=True):
        print(f"| {Path(run).name} | {dev:.2f} | {test:.2f} |")
    cells = f"{spread(alone['dev'])} | {spread(alone['test'])}"
    print(f"| each run alone, mean (min–max) of {len(taggers)} | {cells} |")
    n = len(taggers)
    for combine in ("mean", "vote"):
        whole = Ensemble(taggers, combine)
        cells = [f"{f1(whole, s, label):.2f}" for s in data.values()]
        print(f"| ensemble of all {n}, {combine} | {cells[0]} | {cells[1]} |")
        if 1 < args.size < n:
            groups = [[taggers[(i + k) % n] for k in range(args.size)] for i in range(n)]
            scores = {
                split: [f1(Ensemble(g, combine), s, label) for g in groups] for split, s in data.items()
            }
            print(
                f"| ensembles of {args.size} consecutive runs ({n} of them), {combine}, mean (min–max)"
                f" | {spread(scores['dev'])} | {spread(scores['test'])} |"
            )


if __name__ == "__main__":
    main()
