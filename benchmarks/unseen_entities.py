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

A first table says why 20,000: the share of the file's tokens, and of its entity tokens, that would have a
vector if the shipped file held the Wikigold words and the first N words of GloVe, for several N, and the
size of those N lines gzip-compressed (``gzip -9``).
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
    from windowner.data.conll import read_conll
    from windowner.tagging.tagger import load_run

    sentences = read_conll(args.conll)
    tokens = [s.tokens for s in sentences]
    _coverage(sentences, Path(args.glove))
    sources = {"run only": None, "shipped": SHIPPED, "full GloVe": Path(args.glove)}
    print(
        "| config | vectors for the other words | tokens with a vector | entity F1"
        " | unseen entities F1 (support) |"
    )
    print("|---|---|---|---|---|")
    for name in args.configs.split(","):
        results: dict[str, list[tuple[float, float, float, int]]] = {source: [] for source in sources}
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
                results[source].append(
                    (covered, report["entities"][kind]["f1"], unseen["f1"], unseen["support"])
                )
            print(
                f"# {name} seed {seed}: " + ", ".join(f"{s} {r[-1][1]:.4f}" for s, r in results.items()),
                file=sys.stderr,
                flush=True,
            )
        for source, rows in results.items():
            covered, support = f"{100 * rows[0][0]:.1f}%", rows[0][3]  # the same for every seed
            cells = [covered, *(_spread([row[i] for row in rows]) for i in (1, 2))]
            cells[-1] += f" ({support:,})"
            print(f"| `configs/{name}.yaml` | {source} | " + " | ".join(cells) + " |", flush=True)


def _coverage(sentences, glove: Path) -> None:
    """The table of the shares of tokens with a vector for several N (see the module's docstring)."""
    import gzip

    from windowner.data.conll import read_conll
    from windowner.data.vocab import Vocabulary

    probe = Vocabulary(["<unk>", "<s>", "</s>"])  # the lookup forms of the shipped configs
    wikigold = {
        key
        for name in ("train", "dev", "test")
        for s in read_conll(ROOT / "data" / "wikigold" / f"{name}.conll")
        for token in s.tokens
        for key in probe.keys(token)
    }
    line: dict[str, int] = {}
    sizes: dict[int, int] = {}
    tops = (0, 5_000, 10_000, 20_000, 30_000, 50_000, 100_000, 400_000)
    head: list[bytes] = []
    with open(glove, "rb") as file:
        for number, text in enumerate(file, start=1):
            line.setdefault(text.split(b" ", 1)[0].decode("utf-8"), number)
            if number <= 100_000:  # the sizes of larger heads: not worth the time
                head.append(text)
                if number in tops:
                    sizes[number] = len(gzip.compress(b"".join(head), compresslevel=9))

    def known(token: str, top: int) -> bool:
        keys = probe.keys(token)
        return any((key in wikigold and key in line) or line.get(key, top + 1) <= top for key in keys)

    pairs = [(token, tag) for s in sentences for token, tag in zip(s.tokens, s.tags, strict=True)]
    print("| first N words of GloVe (+ Wikigold's) | gzip -9 size | tokens with a vector | entity tokens |")
    print("|---|---|---|---|")
    for top in tops:
        hits = [known(token, top) for token, _ in pairs]
        entities = [hit for hit, (_, tag) in zip(hits, pairs, strict=True) if tag != "O"]
        size = f"{sizes[top] / 1e6:.1f} MB" if top in sizes else "–"
        share, entity_share = 100 * sum(hits) / len(hits), 100 * sum(entities) / len(entities)
        print(f"| {top:,} | {size} | {share:.1f}% | {entity_share:.1f}% |")
    print(flush=True)


def _spread(values: list[float]) -> str:
    """Mean (min–max), in percent."""
    low, high = min(values), max(values)
    mean = statistics.fmean(values)
    return f"{100 * mean:.2f} ({100 * low:.2f}–{100 * high:.2f})" if len(values) > 1 else f"{100 * mean:.2f}"


if __name__ == "__main__":
    main()
