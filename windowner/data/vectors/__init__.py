"""Word vectors from GloVe text, word2vec text or binary files (``.gz`` allowed): one entry point,
:func:`read_vectors` (``read``), over a fast numpy parser of text blocks (``fast``), the line-by-line
reference it is checked against (``reference``), word2vec's binary format (``word2vec``), the table they
fill (``table``) and the cache of parsed files (``cache``).

May import: :mod:`windowner.base`.
"""

from .cache import CACHE_ENV, cache_folder
from .fast import parse_workers
from .read import read_vectors

__all__ = ["CACHE_ENV", "cache_folder", "parse_workers", "read_vectors"]
