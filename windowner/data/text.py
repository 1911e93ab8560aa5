"""Raw text into tokens, in the spirit of CoNLL-2003's (Penn Treebank) tokens: :data:`TOKEN`,
:func:`tokenize` and :func:`offsets` (each token's character span in the text). Combining marks stay in
their word, invisible characters make no token, URLs, e-mail addresses and emoji stay whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .characters import INVISIBLE, MARKS

# The tokenisation rule of ``--format text``, in the spirit of CoNLL-2003 (Penn Treebank) tokens. At each
# place in the line the first alternative that matches is the next token; whitespace and invisible
# characters (:data:`~windowner.data.characters.INVISIBLE`: zero-width space, soft hyphen, ...) separate
# tokens and are never a token of their own; every other character is in exactly one token. A word is letters,
# digits and _ (``\w``) with their combining marks, so that a decomposed letter stays in its word; an
# invisible character between two of its characters is part of it (the look-up drops it: ``normal_form``).
# The classes of marks and invisible characters are long lists of ranges, slow to test a character
# against: a lookahead for a character above U+00AC (the first of them) tests most characters at once.
# Every alternative starts with a character it takes (no lookahead first), so that the regular expression
# engine skips whitespace without trying them one by one.
_RARE = r"(?=[^\x00-\xac])"


_MARK, _INVISIBLE = rf"{_RARE}[{MARKS}]", rf"{_RARE}[{INVISIBLE}]"


_WORD = rf"\w+(?:{_RARE}(?:[{MARKS}]+\w*|[{INVISIBLE}]+(?=\w|{_MARK})\w*))*"


_PART = rf"(?:\d+(?:[.,/]\d+)+|{_WORD})"  # a number with . , or / between digits (3.5, 1,000.25), or a word


_CLITIC = r"(?i:n['’]t|['’](?:s|d|m|re|ve|ll))\b"  # n't 's 'd 'm 're 've 'll (also with ’)


_URL_END = r"[^\s()<>\"“”‘’«».,;:!?'\-]"  # a URL does not end with punctuation (the sentence's)


_URL_PATH = rf"(?:\([^\s()]*\)|[^\s()<>\"“”‘’«»]*{_URL_END})+"  # (parentheses only in pairs)


_LABEL = r"[^\W_](?:[\w-]*[^\W_])?"  # a part of a domain name


# a character that is not a word's: a flag (two regional indicators) or any other, with its marks, skin
# tone (an emoji) or tag characters (a flag of a region)
_SYMBOL = rf"(?:[\U0001F1E6-\U0001F1FF]{{2}}|[^\s{INVISIBLE}])"


_GLYPH = rf"{_SYMBOL}(?:{_RARE}[{MARKS}\U0001F3FB-\U0001F3FF\U000E0020-\U000E007F])*"


_SUFFIX = r"(?i:com|org|net|edu|gov|int|mil|info|biz|io|(?:co|ac)(?=\.[a-z]{2}\b))(?:\.[a-z]{2})?\b"


TOKEN = re.compile(
    rf"""(?=\S)(?:                           # (a whitespace character fails here, not in every alternative:
                                             # the tokeniser is 1.5x faster)
      \w+(?![\w.,/'’@-]|://|{_RARE}[{MARKS}{INVISIBLE}])  # letters and digits followed by none
                                             # of . , / ' ’ @ - :// nor a mark or invisible character
                                             # (most words: first, for speed; the alternatives below
                                             # give them the same token)
    | [!"#$%&()*+,/:;<=>?@\[\\\]^`{{|}}~](?![^\x00-\xac])  # a symbol or punctuation mark but . - ' followed
                                             # by no mark: alone, ( ) , " $ % & ... (second, for speed;
                                             # the last alternative gives it the same token)
    | (?i:(?:https?|ftp)://|www\.){_URL_PATH}  # a URL: https://example.com/a_(b)?c=1 www.example.com
    | \w[\w.+-]*@{_LABEL}(?:\.{_LABEL})*\.[^\W\d_]{{2,}}  # an e-mail address: jane.doe+news@example.org
    | (?:{_LABEL}\.)+{_SUFFIX}(?:/{_URL_PATH})?  # a domain name with a common suffix: Amazon.com bbc.co.uk
    | (?:[^\W\d_]\.){{2,}}                   # letters with periods: U.S. e.g. a.m.
    | (?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|Gen|Gov|Sen|Rep|Rev|Inc|Ltd|Co|Corp|vs|etc)\.  # a few abbreviations
    | [A-Z]\.(?=\s+[A-Z])                    # an initial before a capitalised word: J. Smith
    | {_WORD}(?=[nN]['’][tT]\b)              # a word before n't: do|n't, ca|n't, is|n't
    | {_CLITIC}                              # a clitic after a word: John|'s, I|'m, do|n't
    | {_PART}(?:(?:-|['’](?!(?i:s|d|m|re|ve|ll|t)\b)){_PART})*
                                             # words and numbers joined by hyphens, or by apostrophes
                                             # that start no clitic: well-known 2026-11-26 O'Neill
    | \.{{2,}} | -{{2,}}                     # an ellipsis, a dash: ... --
    | {_GLYPH}(?:\u200d(?=[^\x00-\x7f]){_GLYPH})*  # any other character, alone,
                                             # with its marks; an emoji with its skin tone, emoji joined
                                             # by ZWJ: 👩‍🔬
    )""",
    re.VERBOSE,
)


def tokenize(line: str) -> list[str]:
    """The tokens of a line of raw text, by :data:`TOKEN`.

    >>> tokenize("Mr. O'Neill didn't pay $1,000.50 for the well-known U.S. firm's 3.5% stake...")
    ['Mr.', "O'Neill", 'did', "n't", 'pay', '$', '1,000.50', 'for', 'the', 'well-known', 'U.S.', 'firm', \
"'s", '3.5', '%', 'stake', '...']
    """
    return TOKEN.findall(line)


def offsets(text: str, tokens: Sequence[str]) -> list[tuple[int, int]]:
    """``(start, end)`` of each token in ``text``, which holds the tokens in order with whitespace between.

    A token holds no whitespace, so its first occurrence after the previous token's end is the token.
    """
    spans, end = [], 0
    for token in tokens:
        start = text.find(token, end)
        end = start + len(token)
        spans.append((start, end))
    return spans
