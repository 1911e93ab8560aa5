"""Document context at decoding time: what the rest of a document says about a word, as a prior.

    python benchmarks/document_context.py --data CONLL-2003/valid.txt runs/s0 runs/s1 runs/s2 \\
        [--combine single|mean|vote] [--weights 0,0.25,0.5,0.75,1]

CoNLL-2003 is documents of sentences (``-DOCSTART-`` lines); a word is often the same entity throughout
its document (``Clinton``, ``Petofi``), and a window of 5 words sees one sentence only. This decodes a
trained run (or an ensemble of runs) with a document prior, no training involved:

1. the run's class scores f ``(N, C)`` and its CRF's transitions give each token's marginals P(y_t = c)
   (forward-backward, :func:`windowner.network.confidence.posteriors`), summed into types: q_t(k) for k in O,
   LOC, MISC, ORG, PER (B-k and I-k together);
2. for a capitalised token t of document d, Q_t(k) is the mean of q over the *other* capitalised
   occurrences of the same word (casefolded, so ``JAPAN`` in a headline meets ``Japan``) in d; a token
   with no such occurrence, or not capitalised, is left alone;
3. the scores become f_t(c) + λ · log(0.01 + Q_t(type(c))), then Viterbi as before (λ = 0: the run's own
   tags, exactly).

``--combine mean`` applies it to the ensemble's mean scores and transitions, ``vote`` to every run before
it votes (as ``windowner eval RUN... --combine`` combines runs). The table has a row per λ and a row where
λ is chosen on half of the documents (the even ones by position in the file, then the odd ones) by micro
F1 and scored on the other half, the two halves' tags then scored together: λ chosen without seeing the
documents it is scored on. Entity F1 (CoNLL rule) per type and micro, and the location type's token F1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from windowner.data.conll import entity_type, read_conll
from windowner.data.documents import Occurrences
from windowner.network.confidence import posteriors
from windowner.network.decoding import allowed_transitions
from windowner.tagging.ensemble import load_runs
from windowner.tagging.report import score

FLOOR = 0.01  # log(FLOOR + Q): a type the rest of the document never gives costs at most log(0.01)
TYPES = ("LOC", "MISC", "ORG", "PER")


def document_of_sentences(path: str | Path) -> list[int]:
    """The document number of every sentence of a CoNLL file, in the order :func:`read_conll` reads them
    (a ``-DOCSTART-`` line starts a new document)."""
    document, out, inside = -1, [], False
    with open(path, encoding="utf-8") as file:
        for line in file:
            first = line.split(maxsplit=1)[:1]
            if not first:
                if inside:
                    out.append(document)
                inside = False
            elif first[0] == "-DOCSTART-":
                document += 1
            else:
                inside = True
    if inside:
        out.append(document)
    return out


def with_prior(task, scores, lengths, transitions, occurrences: Occurrences, weight: float) -> np.ndarray:
    """f + λ · log(FLOOR + Q) (the module docstring), ``(N, C)``."""
    if weight == 0:
        return scores
    tags = task.tags
    allowed, allowed_start = allowed_transitions(tags)
    marginals = posteriors(scores, lengths, allowed, allowed_start, transitions).marginals()  # (N, C)
    kinds = ["", *TYPES]
    to_type = np.zeros((len(tags), len(kinds)))  # (C, K): class c is of type k
    to_type[np.arange(len(tags)), [kinds.index(entity_type(tag)) for tag in tags]] = 1.0
    Q = occurrences.others_mean(marginals @ to_type)  # (N, K)
    return scores + weight * np.nan_to_num(np.log(FLOOR + Q) @ to_type.T, nan=0.0)


def decoded(ensemble, combine, member_scores, tokens, lengths, occurrences, weight) -> np.ndarray:
    """The class of every token, ``(N,)``, for one λ."""
    task = ensemble.task
    if combine == "mean":
        scores, transitions = ensemble.scores(tokens), ensemble.transitions()
        prior = with_prior(task, scores, lengths, transitions, occurrences, weight)
        return task.best(prior, lengths, "viterbi", transitions)
    votes = np.zeros((sum(lengths), len(task.classes)))  # as Ensemble.votes, first run winning ties
    for m, (tagger, scores) in enumerate(zip(ensemble.taggers, member_scores, strict=True)):
        transitions = tagger.model.transitions()
        prior = with_prior(task, scores, lengths, transitions, occurrences, weight)
        best = task.best(prior, lengths, "viterbi", transitions)
        votes[np.arange(len(best)), best] += 1.0 + 2.0 ** -(m + 1) * 1e-3
    return task.best(votes, lengths, "viterbi")


def f1s(report) -> list[float]:
    entities = report["entities"]
    loc = report["tokens"]["LOC"]["f1"] if "LOC" in report["tokens"] else float("nan")
    return [100 * entities[k]["f1"] if k in entities else float("nan") for k in ("micro", *TYPES)] + [
        100 * loc
    ]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", nargs="+", help="run folders (crf, Viterbi)")
    parser.add_argument("--data", required=True, help="a CoNLL file with -DOCSTART- lines (valid)")
    parser.add_argument("--combine", default="single", choices=("single", "mean", "vote"))
    parser.add_argument("--weights", default="0,0.25,0.5,0.75,1", help="the values of λ, comma-separated")
    args = parser.parse_args(argv)
    sentences = read_conll(args.data)
    tokens = [s.tokens for s in sentences]
    lengths = [len(t) for t in tokens]
    documents = document_of_sentences(args.data)
    if len(documents) != len(sentences):
        raise SystemExit(f"{args.data}: {len(documents)} sentences by documents, {len(sentences)} read")
    occurrences = Occurrences(tokens, documents)
    weights = [float(w) for w in args.weights.split(",")]
    units = [[run] for run in args.runs] if args.combine == "single" else [args.runs]
    halves = [np.flatnonzero(np.asarray(documents) % 2 == h) for h in (0, 1)]
    print(f"| runs | λ | micro | {' | '.join(TYPES)} | LOC tokens |")
    print("| --- | --- |" + " ---: |" * (len(TYPES) + 2))
    for unit in units:
        ensemble = load_runs(unit, combine="mean" if args.combine != "vote" else "vote")
        combine = "vote" if args.combine == "vote" else "mean"  # one run: its mean is itself
        members = ensemble.member_scores(tokens) if combine == "vote" else None
        tagged = {}
        for w in weights:
            best = decoded(ensemble, combine, members, tokens, lengths, occurrences, w)
            tagged[w] = ensemble.task.tags_of(best, lengths)
        name = " ".join(Path(run).name for run in unit) + (
            "" if args.combine == "single" else f" ({combine})"
        )
        for w in weights:
            cells = " | ".join(f"{x:.2f}" for x in f1s(score(ensemble.task, sentences, tagged[w])))
            print(f"| {name} | {w:g} | {cells} |")
        chosen, crossed = [], [None] * len(sentences)
        for h in (0, 1):
            pick, other = halves[h], halves[1 - h]
            part = [sentences[i] for i in pick]
            micro = [
                score(ensemble.task, part, [tagged[w][i] for i in pick])["entities"]["micro"]["f1"]
                for w in weights
            ]
            w = weights[int(np.argmax(micro))]  # the first best
            chosen.append(w)
            for i in other:
                crossed[i] = tagged[w][i]
        cells = " | ".join(f"{x:.2f}" for x in f1s(score(ensemble.task, sentences, crossed)))
        how = f"chosen on the other half ({chosen[0]:g} on the even, {chosen[1]:g} on the odd)"
        print(f"| {name} | {how} | {cells} |")


if __name__ == "__main__":
    main()
