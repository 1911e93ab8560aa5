"""What the shipped vectors are worth on text from elsewhere: the Wikigold configs scored on CoNLL-2003.

    python benchmarks/unseen_entities.py --conll PATH/valid.txt --glove PATH/glove.6B.50d.txt
        [--seeds 0,1,2,3,4] [--configs default,entities] [--workdir DIR]

Trains each shipped Wikigold config (``configs/default.yaml``: locations; ``configs/entities.yaml``: every
type) once a seed, then scores it on a tagged file from outside Wikigold (CoNLL-2003 valid: Reuters news of
1996, the same four types) three times, differing only in the vectors the words the run did not keep can
take (``eval --vectors``):

* ``run only``: none, as with the vectors shipped before (the 7,239 words the Wikigold splits need: a run
  keeps all of them, so that file gives nothing more; ``eval --vectors none``), or a moved run folder;
* ``shipped``: ``data/glove/glove.6B.50d.20k.txt.gz`` (the 20,000 most frequent GloVe words and
  Wikigold's), as a run in the repository or its package (``windowner package``) reads them;
* ``full GloVe``: all 400,000 words of GloVe 6B 50d, the ceiling.

The runs train the same whichever file is shipped (``vectors.keep: data`` keeps the same rows). Scores:
entity F1 of the task's types (LOC for the location task, micro over the four for entities), over all
entities and over the *unseen* ones (an entity with a token that does not occur in the Wikigold training
split), and the share of the file's tokens with a vector. Mean (min–max) over the seeds. One BLAS thread.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "data" / "glove" / "glove.6B.50d.20k.txt.gz"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--conll", required=True, help="a tagged file from outside Wikigold (CoNLL-2003 valid)"
    )
    parser.add_argument("--glove", required=True, help="the full glove.6B.50d.txt")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--configs", default="default,entities")
    parser.add_argument("--workdir", default="runs/unseen-entities", help="where the runs go (kept, reused)")
    args = parser.parse_args(argv)
    os.environ.setdefault("WINDOWNER_THREADS", "1")
    import numpy as np

    import windowner
    from windowner.conll import read_conll
    from windowner.tagger import load_run

    sentences = read_conll(args.conll)
    tokens = [s.tokens for s in sentences]
    sources = {"run only": None, "shipped": SHIPPED, "full GloVe": Path(args.glove)}
    print("| config | vectors for the other words | tokens with a vector | entity F1 | unseen entities F1 |")
    print("|---|---|---|---|---|")
    for name in args.configs.split(","):
        results: dict[str, list[tuple[float, float, float]]] = {source: [] for source in sources}
        for seed in map(int, args.seeds.split(",")):
            folder = Path(args.workdir) / f"{name}-{seed}"
            if not (folder / "model.npz").is_file():
                overrides = [f"train.seed={seed}", f"output={folder}"]
                config = windowner.load_config(ROOT / "configs" / f"{name}.yaml", overrides)
                windowner.train(config, progress=False, echo=lambda line: None)
            for source, path in sources.items():
                tagger = load_run(folder)
                if path is not None:
                    tagger.add_vectors(path, tokens)
                report = tagger.evaluate(sentences)
                kind = tagger.task.location_label if tagger.task.name == "location" else "micro"
                unseen = report["groups"]["unseen"]["entities"][kind]
                covered = float(np.mean(np.concatenate([tagger.vocab.encode(t) for t in tokens]) != 0))
                results[source].append((covered, report["entities"][kind]["f1"], unseen["f1"]))
            print(
                f"# {name} seed {seed}: " + ", ".join(f"{s} {r[-1][1]:.4f}" for s, r in results.items()),
                file=sys.stderr,
                flush=True,
            )
        for source, rows in results.items():
            cells = [_spread([row[i] for row in rows]) for i in range(3)]
            print(f"| `configs/{name}.yaml` | {source} | " + " | ".join(cells) + " |", flush=True)


def _spread(values: list[float]) -> str:
    """Mean (min–max), in percent."""
    low, high = min(values), max(values)
    mean = statistics.fmean(values)
    return f"{100 * mean:.2f} ({100 * low:.2f}–{100 * high:.2f})" if len(values) > 1 else f"{100 * mean:.2f}"


if __name__ == "__main__":
    main()
