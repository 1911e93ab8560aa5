"""The character tables of the tokeniser and the look-up (windowner/data/characters.py)."""

import re
import sys
import unicodedata

import pytest

from windowner.data.characters import INVISIBLE, MARKS, UNICODE_VERSION, normal_form


def members(character_class: str) -> set[int]:
    """The code points of a character class's contents (single characters and ranges a-b)."""
    points, i = set(), 0
    while i < len(character_class):
        if i + 2 < len(character_class) and character_class[i + 1] == "-":
            points.update(range(ord(character_class[i]), ord(character_class[i + 2]) + 1))
            i += 3
        else:
            points.add(ord(character_class[i]))
            i += 1
    return points


def test_every_mark_of_the_table_is_a_mark():
    """Unicode never takes a character out of the marks: this holds for every Python."""
    assert all(unicodedata.category(chr(point))[0] == "M" for point in members(MARKS))


@pytest.mark.skipif(
    unicodedata.unidata_version != UNICODE_VERSION,
    reason=f"the table is Unicode {UNICODE_VERSION}'s, this Python has {unicodedata.unidata_version}",
)
def test_the_table_holds_every_mark_of_its_unicode_version():
    marks = {point for point in range(sys.maxunicode + 1) if unicodedata.category(chr(point))[0] == "M"}
    assert members(MARKS) == marks


def test_invisible_characters_are_neither_word_characters_nor_marks():
    """The tokeniser's classes must not overlap (a character in two of them makes its pattern slow)."""
    for point in members(INVISIBLE):
        char = chr(point)
        assert not re.match(r"\w", char) and unicodedata.category(char)[0] != "M", hex(point)
        assert not char.isspace(), hex(point)


def test_normal_form():
    assert normal_form("Sa\u0303o") == "São"
    assert normal_form("Pa\u200bris\u00ad\ufeff") == "Paris"
    assert normal_form("plain") == "plain"
