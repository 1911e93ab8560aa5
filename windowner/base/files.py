"""Files: atomic writes (a temporary name, then an atomic rename), and text input with clear errors.

* :func:`atomic_open` / :func:`write_atomic`: a reader never sees half a file. The temporary file is
  ``.NAME.XXXXXXXX`` beside ``NAME`` (8 random characters); it is removed when the write fails or is
  interrupted (Ctrl-C, or SIGTERM once the CLI turns it into :class:`~windowner.base.errors.Terminated`).
  Only a regular file is replaced (see :func:`output_target`): a symbolic link's target file is, the link
  stays; a device or a named pipe (``/dev/null``, a FIFO) and the process's own descriptors
  (``/dev/stdout``, ``/dev/fd/N``) are written as they are, never replaced; a directory is an error.
* :func:`refuse_to_replace`: an output file must not be one of the files a command reads or keeps.
* :func:`remove_stale_temporaries`: removes the temporary files a killed process (SIGKILL) left.
* :func:`text_file`: opens UTF-8 text for reading; a missing file, a directory, a binary file or a bad
  byte is a :class:`~windowner.base.errors.WindownerError` naming the file (and, for a bad byte, the line).
"""

from __future__ import annotations

import codecs
import io
import json
import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Collection, Iterable, Iterator
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


_DESCRIPTOR = re.compile(r"/dev/(?:stdout|stderr|fd/(?P<fd>\d+))|/proc/self/fd/(?P<proc>\d+)")
_HOPS = 40  # symbolic links followed at most (the kernel's own limit)


def output_target(path: str | Path) -> tuple[Path, int | None]:
    """Where writing to ``path`` goes: ``(file, descriptor)``.

    ``descriptor`` is a file descriptor of this process when ``path`` names one (``/dev/stdout``,
    ``/dev/stderr``, ``/dev/fd/N``, ``/proc/self/fd/N``, or a link to one of them), as a shell reads
    them: written through a copy of that descriptor, so that ``> log`` and ``>> log`` keep what the
    shell gave. Otherwise ``file`` is the path with every symbolic link followed: a regular file there is
    replaced (the link stays a link), a character device or a named pipe is written as it is. Raises
    :class:`WindownerError` for a directory and for what cannot be written as a stream (a socket, a block
    device).
    """
    hop = os.path.abspath(path)
    for _ in range(_HOPS):
        own = _DESCRIPTOR.fullmatch(hop)
        if own:
            number = own["fd"] or own["proc"]
            return Path(hop), int(number) if number else (1 if hop.endswith("stdout") else 2)
        if not os.path.islink(hop):
            break
        hop = os.path.normpath(os.path.join(os.path.dirname(hop), os.readlink(hop)))
    target = Path(os.path.realpath(path))
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target, None
    except OSError:  # a loop of links, a folder we may not enter: the write names the problem
        return target, None
    if stat.S_ISDIR(mode):
        raise WindownerError(f"{path}: is a directory, expected a file name")
    if not (stat.S_ISREG(mode) or stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        kind = "a block device" if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a file"
        raise WindownerError(f"{path}: is {kind}: give a file, a character device or a named pipe")
    return target, None


def is_stream(path: str | Path) -> bool:
    """Whether writing to ``path`` writes into something as it is (a device, a pipe, a descriptor of this
    process) rather than replacing a regular file."""
    target, descriptor = output_target(path)
    if descriptor is not None:
        return True
    try:
        return not stat.S_ISREG(os.stat(target).st_mode)
    except OSError:
        return False


@contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success it replaces ``path``, on failure it is removed.

    ``path`` is resolved first (:func:`output_target`): a link's target file is replaced, not the link, and
    keeps its permissions; a device, a named pipe or a descriptor of this process is written directly
    (not atomically: it cannot be replaced).
    """
    encoding = {} if "b" in mode else {"encoding": "utf-8"}
    target, descriptor = output_target(path)
    if descriptor is not None:
        with os.fdopen(os.dup(descriptor), mode, **encoding) as stream:
            yield stream
        return
    try:
        kept = os.stat(target).st_mode
    except OSError:
        kept = None
    if kept is not None and not stat.S_ISREG(kept):
        with open(target, mode, **encoding) as stream:
            yield stream
        return
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, mode, **encoding) as file:
            yield file
        os.chmod(temporary, stat.S_IMODE(kept) if kept is not None else 0o644)  # mkstemp makes it private
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path) as file:
        file.write(text)


def refuse_to_replace(path: str | Path, keep: dict[Path, str], what: str) -> None:
    """Refuse, before any work, an output file ``path`` that cannot be written or would replace a file of
    ``keep`` (each with the words that name it: ``{data: "the --data file"}``). ``what`` is what the file
    would hold (``the predictions``). A device, a named pipe or a descriptor (``/dev/null``,
    ``/dev/stdout``) replaces nothing and is always allowed."""
    target, _ = output_target(path)
    if not target.parent.is_dir():
        raise WindownerError(f"{path}: no folder {Path(path).parent} to write {what} in")
    if is_stream(path) or not target.exists():
        return
    for other, name in keep.items():
        if other.exists() and target.samefile(other):
            raise WindownerError(f"{path}: is {name}; {what} would replace it")


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
        if is_temporary(entry.name, names) and entry.is_file() and not entry.is_symlink():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def is_temporary(name: str, names: Collection[str]) -> bool:
    """Whether ``name`` is that of a temporary file of :func:`atomic_open` for one of ``names``."""
    target, suffix = name[1:-9], name[-8:]
    ours = name.startswith(".") and name[-9:-8] == "." and target in names
    return ours and bool(_TEMPORARY_SUFFIX.fullmatch(suffix))


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
