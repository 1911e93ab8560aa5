"""Features of a word beside its vector: a small learned look-up table per feature, concatenated to x.

GloVe 6B is lowercase, so "Paris" and "paris" read the same row of E; whether a word is capitalised
has to travel separately. A feature maps every token to one of a few classes; the model looks the class
of each window word up in its own table ``E_<name>`` (``(classes, dim)``, ``model.features.<name>``
the dim, 0 = off) and concatenates the K rows to x after the word vectors: the same embedding gate as
E, with its own gradient (checked by ``windowner gradcheck``). Class 0 is the padding ``<s>``/``</s>``.

``case``, the casing of the token (the first rule that applies):

| class | rule | examples |
|---|---|---|
| ``other`` | no letter and no digit | ``,`` ``(`` ``--`` |
| ``digits`` | no letter, a digit | ``1996`` ``3-0`` ``12.5`` |
| ``lower`` | no uppercase letter | ``the`` ``e-mail`` |
| ``title`` | the first character is uppercase, no other is | ``Paris`` ``A`` ``U.n.`` |
| ``upper`` | no lowercase letter | ``EU`` ``U.S.`` ``F16`` |
| ``mixed`` | anything else | ``McDonald`` ``iPod`` |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

CASES = ("<pad>", "other", "digits", "lower", "title", "upper", "mixed")


def casing(token: str) -> int:
    """The class of ``token`` in :data:`CASES` (never 0, the padding)."""
    if not any(ch.isalpha() for ch in token):
        return CASES.index("digits") if any(ch.isdigit() for ch in token) else CASES.index("other")
    if not any(ch.isupper() for ch in token):
        return CASES.index("lower")
    if token[0].isupper() and not any(ch.isupper() for ch in token[1:]):
        return CASES.index("title")
    if not any(ch.islower() for ch in token):
        return CASES.index("upper")
    return CASES.index("mixed")


@dataclass(frozen=True)
class Feature:
    """A feature: its table's name ``E_<name>``, its class names (0: padding) and the classifier."""

    name: str
    classes: tuple[str, ...]
    classify: Callable[[str], int]

    @property
    def table(self) -> str:
        return f"E_{self.name}"

    def encode(self, tokens) -> list[int]:
        return [self.classify(token) for token in tokens]


FEATURES: dict[str, Feature] = {"case": Feature("case", CASES, casing)}
