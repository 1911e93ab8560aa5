"""Run folders that never lose work: a lock a training run holds, and the swap of ``--overwrite``.

* :func:`locked`: one training run at a time writes a run folder. The lock is an exclusive ``flock`` on
  ``.NAME.lock`` beside the folder ``NAME`` (beside it, not in it, so that it stays put while
  ``--overwrite`` swaps folders). The kernel releases a ``flock`` when its process ends, however it
  ends (``kill -9`` too), so a lock left by a dead run never blocks: only a running process holds one.
  The lock file says who holds it (pid, host, start time), for the message a second run gets; it is
  removed when the run ends.
* :func:`fresh_sibling` and :func:`replace_folder`: ``--overwrite`` trains into a new hidden folder
  beside the old run (``.NAME.new-XXXXXXXX``) and puts it in the old run's place only once it has saved a
  model, so that the old run survives an interrupt, a divergence or an error before that.
* :func:`remove_leftovers`: what a killed ``--overwrite`` left beside the folder.

``flock`` is advisory and local: it keeps windowner runs apart on one machine (a network file system may
not pass it on to other hosts).
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import WindownerError

_ATTEMPTS = 10  # a lock file removed by the run that held it is opened afresh, at most this often


def lock_path(folder: str | Path) -> Path:
    """The lock file of a run folder: ``.NAME.lock`` beside it."""
    folder = Path(folder)
    return folder.parent / f".{folder.name}.lock"


@contextmanager
def locked(folder: str | Path) -> Iterator[None]:
    """Hold the lock of ``folder`` (creating its parent folders) for the body, or fail at once.

    Raises :class:`WindownerError` naming the process that holds it (pid, host, start time) when another
    process does. A lock file nobody holds (its run was killed) is taken over.
    """
    folder = Path(folder)
    path = lock_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(_ATTEMPTS):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise WindownerError(
                f"{folder} is in use by another training run ({holder}): wait for it to end,"
                " or train into another folder (--output)"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        # The run that held the lock removes its file before it lets go: a lock on a file no longer at
        # `path` protects nothing, so open the one that is there now.
        try:
            current = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        os.close(fd)
    else:  # pragma: no cover - ten runs starting and ending in a few microseconds
        raise WindownerError(f"{folder}: could not lock {path}: other runs keep replacing it")
    try:
        started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": started}
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(holder) + "\n").encode("utf-8"))
        yield
    finally:
        try:
            os.unlink(path)  # before letting go, so that no one takes a lock on a file about to go
        except FileNotFoundError:  # pragma: no cover - removed by hand
            pass
        os.close(fd)


def _holder(fd: int) -> str:
    """Who holds a lock, from its file: ``pid 1234 on HOST, started TIME``."""
    try:
        holder = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        return f"pid {holder['pid']} on {holder['host']}, started {holder['started']}"
    except (OSError, ValueError, KeyError, TypeError):  # being written this very moment
        return "another windowner process"


_LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?P<kind>new|old)-[a-z0-9_]{8}")


def fresh_sibling(folder: str | Path) -> Path:
    """A new, empty hidden folder beside ``folder`` (``.NAME.new-XXXXXXXX``), to train a replacement in."""
    folder = Path(folder)
    return Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.new-"))


def replace_folder(new: Path, folder: Path, run_files: Collection[str]) -> None:
    """Put the folder ``new`` in the place of ``folder``; the entries of ``folder`` that are not among
    ``run_files`` (a user's notes) move along into the new folder, then the old run is removed.

    The old folder is first renamed to ``.NAME.old-XXXXXXXX``; should the second rename fail, it is
    renamed back. Only a process killed between the two renames leaves the old run under that name
    (:func:`remove_leftovers` puts it back).
    """
    old = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.old-"))
    os.rename(folder, old)  # replaces the empty directory mkdtemp made
    try:
        os.rename(new, folder)
    except BaseException:
        os.rename(old, folder)
        raise
    for entry in old.iterdir():
        if entry.name not in run_files and not (folder / entry.name).exists():
            os.rename(entry, folder / entry.name)
    shutil.rmtree(old, ignore_errors=True)


def remove_leftovers(folder: str | Path) -> list[Path]:
    """Tidy what a killed ``--overwrite`` left beside ``folder``; call it only while holding its lock.

    ``.NAME.new-XXXXXXXX``, a replacement that never took the old run's place, is removed; an
    ``.NAME.old-XXXXXXXX`` is the old run itself when ``folder`` is missing (the process died between the
    two renames of :func:`replace_folder`) and is renamed back, else it is a replaced run and is removed.
    Returns what was removed.
    """
    folder = Path(folder)
    try:
        entries = sorted(folder.parent.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    removed = []
    for entry in entries:
        match = _LEFTOVER.fullmatch(entry.name)
        if not match or match["name"] != folder.name or not entry.is_dir() or entry.is_symlink():
            continue
        if match["kind"] == "old" and not folder.exists():
            os.rename(entry, folder)
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed
