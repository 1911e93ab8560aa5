"""How fast ``windowner predict`` tags a large text file, end to end and stage by stage.

The input is CoNLL-2003 train's tokens written as raw text at run time (a sentence a line, tokens joined by
spaces; the corpus is never stored in the repository), ``--repeat`` times over. Prints two tables:

1. end to end: ``windowner predict RUN FILE --output OUT`` as a subprocess (the best of ``--reps`` runs,
   interpreter start-up and loading the run included), for each output format, jsonl with and without
   the scores (confidence); tokens/s counts the tokens the tokeniser found. Python caches the modules'
   bytecode as it does by default (an environment that sets PYTHONDONTWRITEBYTECODE, as this sandbox
   does, recompiles windowner at every start: ~0.1 s). The CPU seconds (user + system, the best of the
   runs) are what the process itself used: on a shared machine, the steadier measure;
2. the stages of the same work timed one by one in this process, a batch of ``BATCH_TOKENS`` at a time
   (each stage's best of ``--reps`` runs): reading, tokenising, new words' vectors, look-ups and
   windows, scoring, decoding, confidence (jsonl with scores), formatting, writing.

    OPENBLAS_NUM_THREADS=1 python benchmarks/predict_speed.py [--run RUN] [--vectors PATH] [--repeat N]

Without ``--run`` it first trains ``configs/default.yaml`` into a temporary folder (a few seconds).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from windowner import load_run, read_conll
from windowner.data.text import tokenize
from windowner.evaluation.metrics import chunks
from windowner.network.confidence import confidences, posteriors
from windowner.network.decoding import allowed_transitions
from windowner.tagging.predict import (
    BATCH_TOKENS,
    FORMATTERS,
    NewWords,
    Record,
    format_jsonl,
    read_lines,
    rounded,
)
from windowner.tagging.tagger import Scored

ROOT = Path(__file__).resolve().parent.parent
CONLL = ROOT.parent / "shared" / "data" / "conll2003" / "train.txt"


def end_to_end(
    run: Path, text: Path, output_format: str, vectors: str | None, reps: int, out: Path, *options: str
) -> tuple[float, float]:
    """The best wall time and the best CPU time (user + system) of ``windowner predict`` over ``reps`` runs:
    on a machine others share, the CPU time counts only this process's work."""
    command = [shutil.which("windowner") or "windowner", "predict", str(run), str(text)]
    command += ["--output-format", output_format, "--output", str(out), *options]
    if vectors:
        command += ["--vectors", vectors]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    best, cpu = float("inf"), float("inf")
    for _ in range(reps):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, check=True, stderr=subprocess.DEVNULL, env=env)
        best = min(best, time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = min(cpu, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return best, cpu


def stages(
    run: Path, text: Path, output_format: str, vectors: str | None, out: Path, scores: bool = False
) -> dict[str, float]:
    """Seconds spent in each stage of tagging ``text``, the stages timed one after the other (``scores``:
    with the confidence of each tag and entity, as jsonl output has by default)."""
    seconds = dict.fromkeys(
        ["load run", "read lines", "tokenise", "new words", "look-ups and windows", "scoring", "decoding"],
        0.0,
    )
    if scores:
        seconds["confidence"] = 0.0
    seconds |= {"format": 0.0, "write": 0.0}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] += now - clock
        clock = now

    tagger = load_run(run)
    path = Path(vectors or tagger.config.vectors.path)
    new_words = NewWords(tagger, path) if vectors != "none" and path.is_file() else None
    model, task = tagger.model, tagger.task
    write = FORMATTERS[output_format]
    confidence = scores and output_format == "jsonl"
    with open(text, "rb") as stream, open(out, "wb") as sink:
        lap("load run")
        lines = read_lines(stream, str(text))
        while True:  # the batches of tag_stream, each stage timed on its own
            batch: list[Record] = []
            size = 0
            while size < BATCH_TOKENS:
                item = next(lines, None)
                lap("read lines")
                if item is None:
                    break
                batch.append(Record(item[1], tokenize(item[1])))
                size += len(batch[-1].tokens)
                lap("tokenise")
            if not batch:
                break
            sentences = [record.tokens for record in batch]
            if new_words is not None:
                new_words(sentences)
            lap("new words")
            windows = tagger.windows(sentences)  # the vocabulary and feature look-ups, then the windows
            lap("look-ups and windows")
            scores = model.scores(windows)
            lap("scoring")
            lengths = [len(tokens) for tokens in sentences]
            method, transitions = tagger.config.model.decode, model.transitions()
            if not confidence:
                tags = task.decode(scores, lengths, method, transitions)
                lap("decoding")
                data = "".join([write(record, t) for record, t in zip(batch, tags, strict=True)]).encode()
                lap("format")
                sink.write(data)
                lap("write")
                continue
            # Tagger.predict_scored, stage by stage
            best = task.best(scores, lengths, method, transitions)
            tags = task.tags_of(best, lengths)
            lap("decoding")
            allowed = allowed_transitions(task.tags) if method == "viterbi" else (None, None)
            post = posteriors(scores, lengths, *allowed, transitions)
            found = [chunks(t) if t.count("O") != len(t) else [] for t in tags]
            location = task.location_label if task.other_types else None
            token_scores, entity_scores, outside = confidences(
                task.tags, best, post, lengths, found, location
            )
            scored = [
                Scored(t, s, [(*chunk, p) for chunk, p in zip(f, e, strict=True)], o)
                for t, s, f, e, o in zip(tags, token_scores, found, entity_scores, outside, strict=True)
            ]
            lap("confidence")
            scored = rounded(scored)
            data = "".join([format_jsonl(r, s.tags, s) for r, s in zip(batch, scored, strict=True)]).encode()
            lap("format")
            sink.write(data)
            lap("write")
    return seconds


def count_tokens(text: Path) -> tuple[int, int]:
    lines = text.read_text(encoding="utf-8").splitlines()
    return len(lines), sum(len(tokenize(line)) for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, help="a run folder (default: train configs/default.yaml)")
    parser.add_argument("--conll", type=Path, default=CONLL, help="the CoNLL file whose tokens are tagged")
    parser.add_argument("--vectors", help="passed to predict --vectors (default: the run's vectors.path)")
    parser.add_argument("--repeat", type=int, default=1, help="the text this many times over")
    parser.add_argument("--reps", type=int, default=5, help="runs of each measurement, the best counts")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run = args.run
        if run is None:
            run = work / "run"
            config = ROOT / "configs" / "default.yaml"
            subprocess.run(
                ["windowner", "train", "--config", str(config), "--output", str(run), "--quiet"], check=True
            )
        sentences = [list(sentence.tokens) for sentence in read_conll(args.conll)]
        text = work / "text.txt"
        text.write_text(
            "".join(" ".join(tokens) + "\n" for tokens in sentences) * args.repeat, encoding="utf-8"
        )
        lines, tokens = count_tokens(text)
        print(f"input: {args.conll} as text x{args.repeat}: {lines:,} lines, {tokens:,} tokens")
        same = sum(tokenize(" ".join(tokens)) == tokens for tokens in sentences)
        conll_tokens = sum(map(len, sentences))
        print(
            f"the tokeniser cuts {same:,} of its {len(sentences):,} sentences as the file does"
            f" ({conll_tokens:,} tokens in the file, {tokens // args.repeat:,} by the tokeniser)"
        )
        print(f"run: {run}; vectors for new words: {args.vectors or 'the run vectors.path'}")
        python = sys.version.split()[0]
        print(f"numpy {np.__version__}, Python {python}, batches of {BATCH_TOKENS:,} tokens\n")

        empty = work / "empty.txt"
        empty.write_text("", encoding="utf-8")
        startup, startup_cpu = end_to_end(run, empty, "conll", args.vectors, args.reps, work / "out")
        header = (
            f"{'windowner predict (end to end)':<34}{'seconds':>10}{'tokens/s':>12}{'after start-up':>16}"
        )
        print(f"{header}{'CPU seconds':>13}{'tokens/CPU s':>14}")
        print(f"{'empty input (start-up, load run)':<34}{startup:>10.3f}{'':>28}{startup_cpu:>13.3f}")
        variants = [(name, []) for name in FORMATTERS if name != "jsonl"]
        variants += [("jsonl", ["--no-scores"]), ("jsonl", [])]  # jsonl without and with confidence
        for output_format, options in variants:
            wall, cpu = end_to_end(run, text, output_format, args.vectors, args.reps, work / "out", *options)
            name = " ".join([f"--output-format {output_format}", *options])
            print(
                f"{name:<34}{wall:>10.3f}{tokens / wall:>12,.0f}{tokens / (wall - startup):>16,.0f}"
                f"{cpu:>13.3f}{tokens / cpu:>14,.0f}"
            )

        for output_format, options in variants:
            scores = output_format == "jsonl" and not options
            runs = [
                stages(run, text, output_format, args.vectors, work / "out", scores) for _ in range(args.reps)
            ]
            seconds = {stage: min(r[stage] for r in runs) for stage in runs[0]}  # each stage's best
            total = sum(seconds.values())
            title = f"stage ({output_format} output{', scores' if scores else ''})"
            print(f"\n{title:<34}{'seconds':>10}{'share':>8}{'tokens/s':>14}")
            for stage, spent in seconds.items():
                rate = f"{tokens / spent:>14,.0f}" if spent else ""
                print(f"{stage:<34}{spent:>10.3f}{spent / total:>8.1%}{rate}")
            print(f"{'total':<34}{total:>10.3f}{1:>8.0%}{tokens / total:>14,.0f}")


if __name__ == "__main__":
    main()
