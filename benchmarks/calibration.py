"""How well the confidence scores are calibrated, and what ``--min-score`` trades.

For each ``--case LABEL RUN DATA`` (a run folder and a tagged CoNLL file), tags the file as ``windowner eval``
does (words the run did not keep read the run's ``vectors.path``) with :meth:`Tagger.predict_scored`, then
prints:

1. calibration: for the predicted entities, their precision and mean score, and the expected calibration
   error (ECE: the predictions in ``--bins`` equal-width bins of score, Σ_b n_b/n · |accuracy_b − mean
   score_b|; an entity is right when a gold entity has its exact span and type) of three scores: the
   entity's probability (what windowner gives), and for comparison the mean and the minimum of its tokens'
   scores; and the ECE of the token scores (a token is right when its predicted tag is the gold one);
2. the precision, recall and F1 of the entities kept at each ``--min-score`` threshold.

With ``--figure PNG`` it draws the reliability diagrams (accuracy against mean score a bin, entity scores)
and the precision/recall curve over the threshold (needs matplotlib).

    OPENBLAS_NUM_THREADS=1 python benchmarks/calibration.py \\
        --case "CoNLL-2003 valid" RUN DATA/valid.txt --case "Wikigold test" RUN2 data/wikigold/test.conll \\
        --figure docs/calibration.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from windowner import load_run, read_conll
from windowner.base.threads import blas_threads
from windowner.cli.common import add_vectors
from windowner.evaluation.metrics import chunks

THRESHOLDS = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99)


def ece(scores: np.ndarray, right: np.ndarray, bins: int) -> float:
    """Expected calibration error over ``bins`` equal-width bins of [0, 1]."""
    which = np.minimum((scores * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        chosen = which == b
        if chosen.any():
            total += chosen.mean() * abs(right[chosen].mean() - scores[chosen].mean())
    return total


def reliability(scores: np.ndarray, right: np.ndarray, bins: int) -> list[tuple[float, float, int]]:
    """(mean score, accuracy, count) of each non-empty bin."""
    which = np.minimum((scores * bins).astype(int), bins - 1)
    return [
        (float(scores[which == b].mean()), float(right[which == b].mean()), int((which == b).sum()))
        for b in range(bins)
        if (which == b).any()
    ]


def measure(run: Path, data: Path) -> dict:
    """The scored predictions of ``run`` on ``data``: entity scores (three kinds), right or not, gold count,
    token scores and right or not."""
    tagger = load_run(run)
    sentences = read_conll(data)
    tokens = [s.tokens for s in sentences]
    add_vectors(tagger, tokens, None)
    with blas_threads(1):
        scored = tagger.predict_scored(tokens)
    gold = [tagger.task.reference(s) for s in sentences]
    entity, mean, low, right, token, token_right, gold_count = [], [], [], [], [], [], 0
    for s, g in zip(scored, gold, strict=True):
        truth = set(chunks(g))
        gold_count += len(truth)
        for start, end, kind, p in s.entities:
            entity.append(p)
            mean.append(float(np.mean(s.token_scores[start:end])))
            low.append(min(s.token_scores[start:end]))
            right.append((start, end, kind) in truth)
        token += s.token_scores
        token_right += [a == b for a, b in zip(s.tags, g, strict=True)]
    return {
        "entity": np.array(entity),
        "mean": np.array(mean),
        "min": np.array(low),
        "right": np.array(right, dtype=float),
        "gold": gold_count,
        "token": np.array(token),
        "token_right": np.array(token_right, dtype=float),
    }


def curve(m: dict) -> list[tuple[float, float, float, float, int]]:
    """(threshold, precision, recall, F1, entities kept) at each threshold of :data:`THRESHOLDS`."""
    rows = []
    for t in THRESHOLDS:
        kept = m["entity"] >= t
        correct = m["right"][kept].sum()
        p = correct / kept.sum() if kept.any() else 0.0
        r = correct / m["gold"] if m["gold"] else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        rows.append((t, p, r, f, int(kept.sum())))
    return rows


def draw(results: dict[str, dict], bins: int, path: Path) -> None:
    from matplotlib.figure import Figure

    columns = (len(results) + 2) // 2
    figure = Figure(figsize=(4 * columns, 8), layout="constrained")
    axes = list(figure.subplots(2, columns).flat)
    for ax in axes[len(results) + 1 :]:
        ax.set_axis_off()
    for ax, (label, m) in zip(axes, results.items(), strict=False):
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        for kind, style in (("entity", "o-"), ("min", "s--"), ("mean", "^:")):
            points = reliability(m[kind], m["right"], bins)
            name = {
                "entity": "entity probability",
                "min": "min of its tokens'",
                "mean": "mean of its tokens'",
            }
            ax.plot([p[0] for p in points], [p[1] for p in points], style, markersize=4,
                    label=f"{name[kind]} (ECE {ece(m[kind], m['right'], bins):.3f})")  # fmt: skip
        ax.set(title=label, xlabel="mean score in the bin", ylabel="share of entities right", xlim=(0, 1),
               ylim=(0, 1))  # fmt: skip
        ax.legend(fontsize=7, loc="upper left")
    ax = axes[len(results)]
    for label, m in results.items():
        rows = [row for row in curve(m) if row[4]]  # (no point where no entity is kept)
        ax.plot([r[2] for r in rows], [r[1] for r in rows], "o-", markersize=4, label=label)
        for t, p, r, _, _ in rows:
            ax.annotate(f"{t:g}", (r, p), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set(title="entities kept at --min-score t", xlabel="recall", ylabel="precision")
    ax.legend(fontsize=7)
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", nargs=3, action="append", metavar=("LABEL", "RUN", "DATA"), required=True)
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--figure", type=Path, help="write the reliability diagrams and the curve here")
    args = parser.parse_args()

    results = {label: measure(Path(run), Path(data)) for label, run, data in args.case}
    print(f"calibration ({args.bins} equal-width bins; ECE in points of probability)\n")
    header = ["case", "entities", "precision", "mean score", "ECE entity", "ECE min", "ECE mean", "tokens",
              "ECE token"]  # fmt: skip
    print("".join(f"{h:>12}" if i else f"{h:<22}" for i, h in enumerate(header)))
    for label, m in results.items():
        cells = [
            len(m["entity"]),
            f"{m['right'].mean():.3f}",
            f"{m['entity'].mean():.3f}",
            f"{ece(m['entity'], m['right'], args.bins):.4f}",
            f"{ece(m['min'], m['right'], args.bins):.4f}",
            f"{ece(m['mean'], m['right'], args.bins):.4f}",
            len(m["token"]),
            f"{ece(m['token'], m['token_right'], args.bins):.4f}",
        ]
        print(f"{label:<22}" + "".join(f"{c:>12}" for c in cells))
    for label, m in results.items():
        print(f"\n{label}: entities kept at --min-score t ({m['gold']} gold entities)")
        print(f"{'t':>6}{'precision':>11}{'recall':>9}{'F1':>8}{'kept':>8}")
        for t, p, r, f, kept in curve(m):
            print(f"{t:>6g}{100 * p:>11.2f}{100 * r:>9.2f}{100 * f:>8.2f}{kept:>8}")
    if args.figure:
        draw(results, args.bins, args.figure)
        print(f"\nwrote {args.figure}")


if __name__ == "__main__":
    main()
