"""The cache of parsed vectors files (``WINDOWNER_CACHE_DIR``, else ``~/.cache/windowner/vectors``): a
file read once is kept as its words and a float32 matrix, found again by its path, size and time.
"""

from __future__ import annotations

import glob
import hashlib
import os
import warnings
from pathlib import Path

import numpy as np

from ...base.files import atomic_open

CACHE_ENV = "WINDOWNER_CACHE_DIR"


_CACHE_VERSION = "v1"


def cache_folder() -> Path:
    """Where the vectors cache lives: ``$WINDOWNER_CACHE_DIR``, else ``$XDG_CACHE_HOME/windowner/vectors``,
    else ``~/.cache/windowner/vectors``."""
    folder = os.environ.get(CACHE_ENV)
    if folder:
        return Path(folder).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "windowner" / "vectors"


class CacheEntry:
    """The cached rows of one source file: ``NAME.HASH.SIZE.MTIME.v1.npy`` and ``... .words.txt``.

    HASH is of the source's absolute path; SIZE and MTIME (ns) are the source's: a changed source has
    another entry, and storing it removes the entries of the source's older states.
    """

    def __init__(self, folder: Path, prefix: str, stem: str):
        self.folder = folder
        self.prefix = prefix
        self.vectors = folder / f"{stem}.npy"
        self.words = folder / f"{stem}.words.txt"

    @classmethod
    def for_source(cls, path: Path, source: tuple[str, int, int]) -> CacheEntry:
        absolute, size, mtime = source
        digest = hashlib.sha256(absolute.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        prefix = f"{path.name}.{digest}."
        return cls(cache_folder(), prefix, f"{prefix}{size}.{mtime}.{_CACHE_VERSION}")

    def load(self) -> tuple[str, np.ndarray] | None:
        """The cached words (their text, a word and a newline each) and matrix (memory-mapped, copy on
        write), or None if missing or not sound."""
        try:
            text = self.words.read_text(encoding="utf-8")
            matrix = np.load(self.vectors, mmap_mode="c", allow_pickle=False)
        except (OSError, ValueError, EOFError, UnicodeDecodeError):
            return None
        sound = (
            text.endswith("\n")
            and isinstance(matrix, np.ndarray)
            and matrix.dtype == np.float32
            and matrix.ndim == 2
            and matrix.shape[0] == text.count("\n")
            and matrix.shape[1] > 0
        )
        return (text, matrix) if sound else None

    def store(self, words: list[str], matrix: np.ndarray) -> None:
        """Write the entry (atomically, each file); a folder that cannot be written means no cache."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_open(self.vectors, "wb") as out:
                np.save(out, matrix, allow_pickle=False)
            with atomic_open(self.words) as out:
                out.write("".join(word + "\n" for word in words))
            for old in self.folder.glob(glob.escape(self.prefix) + "*"):
                if old not in (self.vectors, self.words):
                    old.unlink(missing_ok=True)  # the source's earlier states
        except OSError as err:
            warnings.warn(f"not caching word vectors in {self.folder}: {err.strerror or err}", stacklevel=3)
