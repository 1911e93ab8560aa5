"""Tests of windowner.data.conll: the CoNLL reader and the IOB1 / IOBES → IOB2 conversions."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from helpers import raises_at

from windowner.base.errors import WindownerError
from windowner.data.conll import Sentence, entity_type, iob1_to_iob2, iobes_to_iob2, read_conll

WIKIGOLD = Path(__file__).resolve().parent.parent / "data" / "wikigold"

# CoNLL-2003's separator line, built from its parts: no line of CoNLL-2003 is written out here
DOCSTART_2003 = " ".join(["-DOCSTART-", "-X-", "-X-", "O"])


def tags_of(sentences: list[Sentence]) -> list[list[str]]:
    return [list(s.tags) for s in sentences]


def tokens_of(sentences: list[Sentence]) -> list[list[str]]:
    return [list(s.tokens) for s in sentences]


# ---------------------------------------------------------------------------------------------------------
# the conversions


def test_iob1_i_after_o_or_other_type_becomes_b():
    tags = ["I-PER", "I-PER", "O", "I-LOC", "I-ORG", "I-ORG", "O", "I-MISC"]
    assert iob1_to_iob2(tags) == ["B-PER", "I-PER", "O", "B-LOC", "B-ORG", "I-ORG", "O", "B-MISC"]


def test_iob1_b_separates_adjacent_entities_of_one_type():
    # IOB1: I-LOC I-LOC B-LOC I-LOC is two LOC entities, the second starting at the B-LOC.
    expected = ["B-LOC", "I-LOC", "B-LOC", "I-LOC", "O"]
    assert iob1_to_iob2(["I-LOC", "I-LOC", "B-LOC", "I-LOC", "O"]) == expected


def test_iob2_is_a_fixed_point_of_the_conversion():
    tags = ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG", "I-ORG", "O"]
    assert iob1_to_iob2(tags) == tags


def test_iobes_s_becomes_b_and_e_becomes_i():
    tags = ["S-LOC", "S-LOC", "B-PER", "I-PER", "E-PER", "O", "B-ORG", "E-ORG", "S-ORG"]
    expected = ["B-LOC", "B-LOC", "B-PER", "I-PER", "I-PER", "O", "B-ORG", "I-ORG", "B-ORG"]
    assert iobes_to_iob2(tags) == expected


def test_entity_type():
    assert entity_type("O") == ""
    assert entity_type("B-LOC") == "LOC"
    assert entity_type("I-MISC") == "MISC"


# ---------------------------------------------------------------------------------------------------------
# reading files


def test_read_iob1_file_converts_to_iob2(write):
    path = write(
        "iob1.conll",
        "John I-PER\nSmith I-PER\nvisited O\nNew I-LOC\nYork I-LOC\nParis B-LOC\n.\tO\n\n"
        "EU I-ORG\nbank I-ORG\n",
    )
    sentences = read_conll(path)
    assert tokens_of(sentences) == [["John", "Smith", "visited", "New", "York", "Paris", "."], ["EU", "bank"]]
    assert tags_of(sentences) == [
        ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "B-LOC", "O"],
        ["B-ORG", "I-ORG"],
    ]
    assert [len(s) for s in sentences] == [7, 2]


@pytest.mark.parametrize("scheme", ["auto", "iob1", "iob2"])
def test_read_iob2_file_unchanged(write, scheme):
    tags = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "O", "B-MISC"]
    path = write("iob2.conll", "".join(f"w{i} {tag}\n" for i, tag in enumerate(tags)))
    assert tags_of(read_conll(path, scheme)) == [tags]


@pytest.mark.parametrize("scheme", ["auto", "iobes"])
def test_read_iobes_file_converted(write, scheme):
    path = write("iobes.conll", "Paris S-LOC\nLondon S-LOC\nand O\nJohn B-PER\nvan I-PER\nDyke E-PER\n")
    assert tags_of(read_conll(path, scheme)) == [["B-LOC", "B-LOC", "O", "B-PER", "I-PER", "I-PER"]]


@pytest.mark.parametrize("scheme", ["auto", "iobes", "biluo"])
def test_read_biluo_file_as_iobes(write, scheme):
    """spaCy's BILUO tags (U- a one-token entity, L- the last token) are IOBES under other letters."""
    text = "Paris U-LOC\nLondon U-LOC\nand O\nJohn B-PER\nvan I-PER\nDyke L-PER\n\nNew B-LOC\nYork L-LOC\n"
    expected = [["B-LOC", "B-LOC", "O", "B-PER", "I-PER", "I-PER"], ["B-LOC", "I-LOC"]]
    assert tags_of(read_conll(write("biluo.conll", text), scheme)) == expected


@pytest.mark.parametrize("scheme", ["iob1", "iob2"])
def test_biluo_tags_in_a_file_read_as_iob_raise(write, scheme):
    path = write("biluo.conll", "a O\nParis U-LOC\n")
    raises_at(path, 2, lambda: read_conll(path, scheme), scheme, "U-LOC")


@pytest.mark.parametrize("scheme", ["iob1", "iob2"])
def test_iobes_tags_in_a_file_read_as_iob_raise(write, scheme):
    path = write("iobes.conll", "Paris S-LOC\nis O\n")
    raises_at(path, 1, lambda: read_conll(path, scheme), scheme)


def test_iobes_tag_error_names_the_line_of_the_tag(write):
    # The E- tag is on line 5 (second sentence starts on line 4): the message should point at line 5, the
    # line the user has to look at, not at the first line of the sentence that contains it.
    path = write("iobes.conll", "a O\nb O\n\nJohn B-PER\nSmith E-PER\n")
    raises_at(path, 5, lambda: read_conll(path, "iob2"))


def test_unknown_scheme_raises(write):
    path = write("a.conll", "a O\n")
    with pytest.raises(WindownerError, match="bio"):
        read_conll(path, "bio")


def test_tabs_multiple_spaces_and_middle_columns(write):
    path = write(
        "conll2003.conll",
        "Zorvania NNP B-NP B-ORG\napplauds\tVBZ\tB-VP\tO\nQuillish   JJ  B-NP   I-MISC\n"
        "blueprint NN I-NP O  \n  Ingrid NNP B-NP I-PER\n",
    )
    sentences = read_conll(path)
    assert tokens_of(sentences) == [["Zorvania", "applauds", "Quillish", "blueprint", "Ingrid"]]
    # B-ORG is already IOB2; I-MISC after O starts a MISC entity.
    assert tags_of(sentences) == [["B-ORG", "O", "B-MISC", "O", "B-PER"]]


def test_docstart_lines_are_skipped(write):
    path = write(
        "docs.conll",
        f"-DOCSTART- O\n\nParis I-LOC\nis O\n\n{DOCSTART_2003}\n\nBerlin I-LOC\n\n"
        "-DOCSTART- -X- O O\nRome I-LOC\n",
    )
    sentences = read_conll(path)
    assert tokens_of(sentences) == [["Paris", "is"], ["Berlin"], ["Rome"]]
    assert tags_of(sentences) == [["B-LOC", "O"], ["B-LOC"], ["B-LOC"]]


@pytest.mark.parametrize(
    ("text", "tokens", "tags"),
    [
        # several blank lines and whitespace-only lines
        ("\n\n\na O\nb I-LOC\n\n\n  \n\t\n\nc O\n\n\n\n", [["a", "b"], ["c"]], [["O", "B-LOC"], ["O"]]),
        # no trailing newline
        ("a O\n\nb O\nc I-PER", [["a"], ["b", "c"]], [["O"], ["O", "B-PER"]]),
        # CRLF line endings
        ("a O\r\nb I-LOC\r\n\r\nc O\r\n", [["a", "b"], ["c"]], [["O", "B-LOC"], ["O"]]),
        # a token that looks like a tag (Wikigold's "B-25 Mitchell bombers"), and a token "O"
        (
            "B-25 I-MISC\nMitchell I-MISC\nbombers O\nO O\n",
            [["B-25", "Mitchell", "bombers", "O"]],
            [["B-MISC", "I-MISC", "O", "O"]],
        ),
    ],
    ids=["blank-lines", "no-trailing-newline", "crlf", "token-like-a-tag"],
)
def test_line_layouts(write, text, tokens, tags):
    sentences = read_conll(write("layout.conll", text))
    assert tokens_of(sentences) == tokens
    assert tags_of(sentences) == tags


@pytest.mark.parametrize(
    "text", ["", "\n\n\n", "  \n\t\n", "-DOCSTART- O\n\n\n", f"{DOCSTART_2003}\n\n-DOCSTART- O\n"]
)
def test_a_file_without_sentences_raises_naming_it(write, text):
    # Scoring an empty file gave "accuracy 0.00" and exit 0; an empty dev file is as useless.
    path = write("empty.conll", text)
    with pytest.raises(WindownerError, match="no sentences") as info:
        read_conll(path)
    assert str(info.value).startswith(f"{path}: ")


def test_one_column_line_raises_naming_the_line(write):
    path = write("one.conll", "-DOCSTART- O\n\na O\nb I-LOC\n\nc O\nlonely\nd O\n")
    message = raises_at(path, 7, lambda: read_conll(path), "lonely")
    assert message.startswith(f"{path}:7:")


@pytest.mark.parametrize("bad", ["LOC", "X-LOC", "I-", "b-LOC", "PER-B"])
def test_bad_tag_raises_naming_the_line(write, bad):
    path = write("bad.conll", f"a O\n\nb O\nc {bad}\n")
    raises_at(path, 4, lambda: read_conll(path), repr(bad))


def test_missing_file_raises(tmp_path):
    path = tmp_path / "nowhere.conll"
    with pytest.raises(WindownerError, match="no such file") as info:
        read_conll(path)
    assert str(path) in str(info.value)


def test_directory_raises(tmp_path):
    with pytest.raises(WindownerError, match="directory"):
        read_conll(tmp_path)


def test_non_utf8_file_raises(write):
    path = write("latin1.conll", data="Z\u00fcrich I-LOC\n".encode("latin-1"))
    raises_at(path, 1, lambda: read_conll(path), "UTF-8", "0xfc")


def test_a_bad_byte_is_reported_with_its_line(write):
    # Before: "not UTF-8 text (invalid start byte at byte 4288)", the offset in a decoder's block.
    lines = [f"w{i} O\n".encode() for i in range(29_999)] + ["Z\u00fcrich I-LOC\n".encode("latin-1")]
    path = write("big.conll", data=b"".join(lines))
    message = raises_at(path, 30_000, lambda: read_conll(path), "0xfc", "byte 2 of the line")
    assert message.startswith(f"{path}:30000: not UTF-8 text")


def test_a_bad_byte_after_a_byte_order_mark_counts_the_mark(write):
    path = write("bom.conll", data=b"\xef\xbb\xbfa O\n\nb\xff I-LOC\n")
    raises_at(path, 3, lambda: read_conll(path), "0xff", "byte 2 of the line")
    path = write("bom1.conll", data=b"\xef\xbb\xbfa\xff O\n")
    raises_at(path, 1, lambda: read_conll(path), "0xff", "byte 5 of the line")


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG image"),
        (b"PK\x03\x04\x14\x00\x00\x00", "zip archive"),
        (b"\x1f\x8b\x08\x00", "gzip-compressed"),
        ("a O\n".encode("utf-16"), "UTF-16"),
        (b"a O\n\x00\x00\x00\x01b O\n", "binary file"),
    ],
    ids=["png", "npz", "gzip", "utf-16", "nul-bytes"],
)
def test_a_binary_file_raises_naming_it(write, data, kind):
    path = write("data.conll", data=data)
    with pytest.raises(WindownerError) as info:
        read_conll(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and kind in message and "CoNLL" in message, message


def test_a_real_npz_file_is_not_read_as_text(tmp_path):
    path = tmp_path / "model.npz"
    np.savez(path, E=np.zeros((3, 2), dtype=np.float32))
    with pytest.raises(WindownerError, match="zip archive"):
        read_conll(path)


@pytest.mark.parametrize(
    ("text", "line", "shown"),
    [
        ("a O\n" + "x" * 10_000_000 + "\n", 2, "(10,000,000 characters)"),  # a line of one column
        ("a O\nb " + "Q" * 5_000 + "\n", 2, "(5,000 characters)"),  # a tag
        ("a O\nb S-" + "L" * 5_000 + "\n", 2, "(5,002 characters)"),  # an IOBES tag read as IOB2
    ],
    ids=["one-column", "tag", "iobes-tag"],
)
def test_long_content_is_not_echoed_whole(write, text, line, shown):
    path = write("long.conll", text)
    message = raises_at(path, line, lambda: read_conll(path, "iob2"), shown, "…")
    assert len(message) < len(str(path)) + 200, message


# ---------------------------------------------------------------------------------------------------------
# the shipped Wikigold split, against the counts its README states


def readme_counts() -> dict[str, dict[str, int]]:
    """The README's table: ``{split: {column: number}}``."""
    text = (WIKIGOLD / "README.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    table = {}
    for line in rows[2:]:  # rows[1] is the |---| line
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        table[cells[0]] = {
            name: int(cell.replace(",", "")) for name, cell in zip(header[1:], cells[1:], strict=True)
        }
    return table


def test_readme_table_is_parsed():
    table = readme_counts()
    assert set(table) == {"train", "dev", "test", "total"}
    for column in table["total"]:
        assert table["total"][column] == sum(table[split][column] for split in ("train", "dev", "test"))


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_wikigold_counts_match_readme(split):
    expected = readme_counts()[split]
    path = WIKIGOLD / f"{split}.conll"
    sentences = read_conll(path)
    assert len(sentences) == expected["sentences"]
    assert sum(len(s) for s in sentences) == expected["tokens"]
    # After conversion to IOB2 every entity starts with exactly one B- tag.
    for kind in ("PER", "LOC", "ORG", "MISC"):
        assert sum(tag == f"B-{kind}" for s in sentences for tag in s.tags) == expected[kind], kind
    assert sum(tag.startswith("B-") for s in sentences for tag in s.tags) == expected["entities"]
    assert all(len(s.tokens) == len(s.tags) > 0 for s in sentences)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert sum(line.startswith("-DOCSTART-") for line in lines) == expected["articles"]


def test_wikigold_raw_b_tag_count_matches_readme():
    text = (WIKIGOLD / "README.md").read_text(encoding="utf-8")
    stated = int(re.search(r"the data has (\d+) `B-X` tags", text).group(1))
    raw = [
        line.split()[-1]
        for split in ("train", "dev", "test")
        for line in (WIKIGOLD / f"{split}.conll").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    assert sum(tag.startswith("B-") for tag in raw) == stated


def test_wikigold_b25_is_a_token():
    sentences = read_conll(WIKIGOLD / "train.conll")
    found = [
        (s.tags[i], s.tokens[i + 1]) for s in sentences for i, token in enumerate(s.tokens) if token == "B-25"
    ]
    assert found == [("B-MISC", "Mitchell")]
