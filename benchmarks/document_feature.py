"""Document context as a trained feature: what a first-pass model said about the same word elsewhere in
its document. The measurement harness that made the numbers of docs/accuracy.md before the feature was a
config key; windowner now trains and tags it itself (``model.features.document``, docs/usage.md).

    G=PATH/glove.6B.50d.txt; D=CONLL-2003; W=WORK (a folder of yours, outside the repository)
    # 1. the first pass on train, two-fold over documents: a model trained on the even documents tags the
    #    odd ones and back, so that no training token's key comes from a model that saw its tags
    python benchmarks/document_feature.py split $D/train.txt $W
    windowner train --config configs/conll2003.yaml --set data.train=$W/train-even.txt ... \\
        --output $W/first-even
    windowner train --config configs/conll2003.yaml --set data.train=$W/train-odd.txt ... \\
        --output $W/first-odd
    python benchmarks/document_feature.py keys $W/keys-train.json --data $D/train.txt \\
        --run $W/first-even --documents odd --run $W/first-odd --documents even
    # 2. the first pass on valid: a model trained on all of train (several runs: their mean marginals)
    python benchmarks/document_feature.py keys $W/keys-valid.json --data $D/valid.txt --run $W/first-all
    # 3. the second pass: the config plus the feature, trained and scored with the keys of both files
    python benchmarks/document_feature.py train $W/keys-valid.json $W/keys-train.json -- \\
        --config configs/conll2003.yaml --set model.features.prefix=4 ... --output $W/second
    python benchmarks/document_feature.py eval $W/keys-valid.json -- $W/second --data $D/valid.txt

**The key of a token.** For a capitalised token t of document d (a ``-DOCSTART-`` line starts one), the
other capitalised occurrences of the same casefolded word in d; the first pass's marginals (forward-backward,
:func:`windowner.network.confidence.posteriors`) summed into types (O, LOC, MISC, ORG, PER, B- and I-
together) and averaged over those occurrences; the key is the type with the largest mean, with ``?`` after
it when that mean is below 0.75: ``LOC``, ``ORG?``, ... Every other token (lowercase, or its word alone in
its document) reads ``none``. 12 classes with the padding.

**How it rides.** The feature takes the table of the ``prefix`` feature (which the CoNLL-2003 configs do
not use): ``model.features.prefix=DIM`` turns it on, with this module's classes and keys in place of the
first three letters, its rows learned as every feature table's. The keys are looked up by sentence: each
sentence read from a keys file's data file (in the reader's order) gets its keys; a sentence read from any
other file reads ``none``. A run trained so is scored only through this module (``eval``), which puts the
feature back the same way.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from document_context import Occurrences, document_of_sentences  # noqa: E402

TYPES = ("", "LOC", "MISC", "ORG", "PER")  # "" is O
CLASSES = ("<pad>", "none", *[f"{kind or 'O'}{doubt}" for kind in TYPES for doubt in ("", "?")])
SURE = 0.75  # a key without "?": the mean probability of its type is at least this


def split(path: str, folder: str) -> None:
    """``folder/train-even.txt`` and ``train-odd.txt``: the even and odd documents of a CoNLL file."""
    documents: list[list[str]] = []
    with open(path, encoding="utf-8") as file:
        for line in file:
            if line.startswith("-DOCSTART-") or not documents:
                documents.append([])
            documents[-1].append(line)
    for parity, name in ((0, "even"), (1, "odd")):
        with open(Path(folder) / f"train-{name}.txt", "w", encoding="utf-8") as out:
            for document in documents[parity::2]:
                out.writelines(document)
    print(f"{len(documents)} documents: {folder}/train-even.txt, {folder}/train-odd.txt")


def type_marginals(tagger, tokens) -> np.ndarray:
    """``(N, 5)``: P(the token is of each type of :data:`TYPES`) under the run ``tagger``."""
    from windowner.data.conll import entity_type
    from windowner.network.confidence import posteriors
    from windowner.network.decoding import allowed_transitions

    tags = tagger.task.tags
    allowed, allowed_start = allowed_transitions(tags)
    scores = tagger.model.scores(tagger.windows(tokens))
    lengths = [len(t) for t in tokens]
    marginals = posteriors(scores, lengths, allowed, allowed_start, tagger.model.transitions()).marginals()
    to_type = np.zeros((len(tags), len(TYPES)))
    to_type[np.arange(len(tags)), [TYPES.index(entity_type(tag)) for tag in tags]] = 1.0
    return marginals @ to_type


def keys(out: str, data: str, runs: list[str], parities: list[int | None]) -> None:
    """Write every token's key (module docstring) for the sentences of ``data``: run i tags the documents
    of parity ``parities[i]`` (None: all); runs that tag the same documents are averaged."""
    from windowner import load_run, read_conll

    sentences = read_conll(data)
    tokens = [s.tokens for s in sentences]
    documents = np.asarray(document_of_sentences(data))
    lengths = np.array([len(t) for t in tokens])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    q, weight = np.zeros((int(lengths.sum()), len(TYPES))), np.zeros(int(lengths.sum()))
    for run, parity in zip(runs, parities, strict=True):
        chosen = np.flatnonzero(documents % 2 == parity) if parity is not None else np.arange(len(tokens))
        rows = np.concatenate([np.arange(starts[i], starts[i] + lengths[i]) for i in chosen])
        q[rows] += type_marginals(load_run(run), [tokens[i] for i in chosen])
        weight[rows] += 1
    if not weight.all():
        raise SystemExit(f"{data}: the runs do not tag every document")
    others = Occurrences(tokens, list(documents)).others_mean(q / weight[:, None])
    flat = []
    for row in others:
        if np.isnan(row[0]):
            flat.append("none")
        else:
            k = int(row.argmax())
            flat.append(f"{TYPES[k] or 'O'}{'' if row[k] >= SURE else '?'}")
    per_sentence = [flat[s : s + n] for s, n in zip(starts.tolist(), lengths.tolist(), strict=True)]
    with open(out, "w", encoding="utf-8") as file:
        json.dump({"data": str(Path(data).resolve()), "keys": per_sentence}, file)
    print(out, Counter(flat).most_common())


def install(paths: list[str]) -> None:
    """The feature in the ``prefix`` slot, each sentence read from a keys file's data file with its keys."""
    import windowner.data.features as features
    import windowner.data.spans as spans

    by_file = {}
    for path in paths:
        with open(path, encoding="utf-8") as file:
            saved = json.load(file)
        by_file[saved["data"]] = saved["keys"]
    by_sentence: dict[int, list[str]] = {}  # id of a sentence's tokens tuple: its keys
    reader = spans.read_conll

    def read_conll(path, *args, **kwargs):
        sentences = reader(path, *args, **kwargs)
        found = by_file.get(str(Path(path).resolve()))
        if found is not None:
            if [len(k) for k in found] != [len(s) for s in sentences]:
                raise SystemExit(f"{path}: not the sentences its keys were made for")
            for sentence, k in zip(sentences, found, strict=True):
                by_sentence[id(sentence.tokens)] = k
        return sentences

    def document_keys(tokens):
        found = by_sentence.get(id(tokens))
        return found if found is not None and len(found) == len(tokens) else ["none"] * len(tokens)

    spans.read_conll = read_conll
    features.FEATURES["prefix"] = features.Feature("prefix", per_sentence=document_keys, fixed=CLASSES)


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["split"] and len(args) == 3:
        split(args[1], args[2])
    elif args[:1] == ["keys"] and len(args) >= 4:
        runs = [args[i + 1] for i, a in enumerate(args) if a == "--run"]
        parity = {"even": 0, "odd": 1, "all": None}
        parities = [parity[args[i + 1]] for i, a in enumerate(args) if a == "--documents"]
        keys(args[1], args[args.index("--data") + 1], runs, parities or [None] * len(runs))
    elif args[:1] in (["train"], ["eval"]) and "--" in args:
        cut = args.index("--")
        install(args[1:cut])
        from windowner.cli import run

        sys.argv = ["windowner", args[0], *args[cut + 1 :]]
        run()
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
