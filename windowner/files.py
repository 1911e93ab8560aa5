"""Files: atomic writes (a temporary name, then an atomic rename), and text input with clear errors.

* :func:`atomic_open` / :func:`write_atomic`: a reader never sees half a file. The temporary file is
  ``.NAME.XXXXXXXX`` beside ``NAME`` (8 random characters); it is removed when the write fails or is
  interrupted (Ctrl-C, or SIGTERM once the CLI turns it into :class:`~windowner.errors.Terminated`).
* :func:`remove_stale_temporaries`: removes the temporary files a killed process (SIGKILL) left.
* :func:`text_file`: opens UTF-8 text for reading; a missing file, a directory, a binary file or a bad
  byte is a :class:`~windowner.errors.WindownerError` naming the file (and, for a bad byte, the line).
"""

from __future__ import annotations

import codecs
import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from .errors import WindownerError

_TEMPORARY_SUFFIX = re.compile(r"[a-z0-9_]{8}")  # the random part of a name from tempfile.mkstemp
_SNIFF = 8192  # bytes looked at to tell a binary file from text
_SIGNATURES = (  # (first bytes, what the file is): binary formats a user may pass by mistake
    (b"\x1f\x8b", "gzip-compressed"),
    (b"PK\x03\x04", "a zip archive (a .npz model?)"),
    (b"\x89PNG", "a PNG image"),
    (b"%PDF", "a PDF document"),
    (b"\xff\xfe", "UTF-16 text"),
    (b"\xfe\xff", "UTF-16 text"),
)


@contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success it replaces ``path``, on failure it is removed."""
    path = Path(path)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as file:
            yield file
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a run folder is for sharing
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path) as file:
        file.write(text)


def remove_stale_temporaries(folder: str | Path, names: Iterable[str]) -> list[Path]:
    """Remove the temporary files :func:`atomic_open` left in ``folder`` for the files ``names``.

    A process killed while saving (SIGKILL cannot be caught) leaves ``.NAME.XXXXXXXX`` behind: NAME one of
    ``names`` (e.g. the run files), XXXXXXXX the 8 characters of :func:`tempfile.mkstemp`. Only regular
    files of exactly that form are removed, so a user's own ``.model.npz.backup`` stays. Call it only while
    no other process writes to ``folder`` (a temporary file is stale only when its writer is gone). Returns
    the removed paths, sorted; a folder that does not exist has none.
    """
    folder, names = Path(folder), set(names)
    try:
        entries = sorted(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    removed = []
    for entry in entries:
        target, suffix = entry.name[1:-9], entry.name[-8:]
        ours = entry.name.startswith(".") and entry.name[-9:-8] == "." and target in names
        if ours and _TEMPORARY_SUFFIX.fullmatch(suffix) and entry.is_file() and not entry.is_symlink():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


@contextmanager
def text_file(path: str | Path, what: str, newline: str | None = None) -> Iterator[IO[str]]:
    """Open ``path`` as UTF-8 text (a byte-order mark is skipped) for reading; ``newline`` as :func:`open`'s.

    ``what`` says what the file should be ("a CoNLL file"). Raises :class:`WindownerError` naming the file
    when it is missing, a directory, unreadable or binary (it holds NUL bytes, or starts as gzip, zip, PNG,
    PDF or UTF-16 do), and naming the line when a byte is not UTF-8, also when that happens while the body
    of the ``with`` reads. Works on pipes too (the check for binary data only peeks).
    """
    path = Path(path)
    try:
        raw = open(path, "rb")  # closed by the TextIOWrapper below
    except FileNotFoundError:
        raise WindownerError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise WindownerError(f"{path}: is a directory, expected {what}") from None
    except PermissionError:
        raise WindownerError(f"{path}: permission denied") from None
    try:
        kind = _binary_kind(raw.peek(_SNIFF)[:_SNIFF])
    except IsADirectoryError:  # some systems open a directory and fail on the first read
        raw.close()
        raise WindownerError(f"{path}: is a directory, expected {what}") from None
    if kind:
        raw.close()
        raise WindownerError(f"{path}: {kind}, not text: expected {what}")
    with io.TextIOWrapper(raw, encoding="utf-8-sig", newline=newline) as text:
        try:
            yield text
        except UnicodeDecodeError as err:
            raise WindownerError(_decode_error(path, err)) from None


def read_json(path: str | Path) -> Any:
    """The value of a JSON file; :class:`WindownerError` naming the file (and the line) when it is not
    text (see :func:`text_file`) or not valid JSON."""
    with text_file(path, "a JSON file") as file:
        text = file.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise WindownerError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None
    except RecursionError:
        raise WindownerError(f"{path}: not valid JSON (nested too deeply)") from None


def _binary_kind(head: bytes) -> str | None:
    """What a file that starts with ``head`` is, when it is not UTF-8 text; ``None`` if it may be text."""
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    return "a binary file (it holds NUL bytes)" if b"\0" in head else None


def _decode_error(path: Path, err: UnicodeDecodeError) -> str:
    """``PATH:LINE: ...`` for the first byte that is not UTF-8 (found by reading the file again).

    A decoder reports the position within the block it was decoding, not in the file; the line is found by
    decoding line by line (no UTF-8 character holds a newline byte, so the first bad line is the same).
    """
    if path.is_file():  # a pipe cannot be read again
        with open(path, "rb") as lines:
            for number, line in enumerate(lines, start=1):
                skip = len(codecs.BOM_UTF8) if number == 1 and line.startswith(codecs.BOM_UTF8) else 0
                try:
                    line[skip:].decode("utf-8")
                except UnicodeDecodeError as bad:
                    column = skip + bad.start + 1
                    return (
                        f"{path}:{number}: not UTF-8 text (byte 0x{line[column - 1]:02x} at byte {column}"
                        " of the line): save the file as UTF-8"
                    )
    return f"{path}: not UTF-8 text ({err.reason}): save the file as UTF-8"


def write_arrays(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Named arrays as an uncompressed ``.npz``, written atomically (a model file, a checkpoint)."""
    with atomic_open(path, "wb") as out:
        np.savez(out, **arrays)


def read_arrays(path: str | Path, missing: str, damaged: str) -> dict[str, np.ndarray]:
    """The arrays of a ``.npz`` file, read without pickle; ``{path}: {missing}`` when it is not there,
    ``{path}: {damaged}`` when it is not an ``.npz`` of plain arrays."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise WindownerError(f"{path}: {missing}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        raise WindownerError(f"{path}: {damaged}") from None
