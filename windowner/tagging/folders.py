"""Run folders that never lose work: a lock a training run holds, the swap of ``--overwrite``, and the
mark that tells a run folder from a user's own folder.

* :func:`locked`: one training run at a time writes a run folder. The lock is an exclusive ``flock`` on
  ``.NAME.lock`` beside the folder ``NAME`` (beside it, not in it, so that it stays put while
  ``--overwrite`` swaps folders). It is taken on the folder itself (:func:`real_folder`: every symbolic
  link, ``..`` and ``~`` resolved), so two names of one folder share one lock. The kernel releases a
  ``flock`` when its process ends, however it ends (``kill -9`` too), so a lock left by a dead run never
  blocks: only a running process holds one. The lock file says who holds it (pid, host, start time), for
  the message a second run gets; it is removed when the run ends.
* :data:`MARKER`: the file ``.windowner`` in a folder windowner made (or trained into while it was
  empty); a folder without it (nor the files of an older windowner's run) is the user's, never written.
* :func:`fresh_sibling` and :func:`replace_folder`: ``--overwrite`` trains into a new hidden folder
  beside the old run (``.NAME.new-XXXXXXXX``) and puts it in the old run's place only once it has saved a
  model, so that the old run survives an interrupt, a divergence or an error before that.
* :func:`recover`: what a killed ``--overwrite`` left beside the folder is put back. It deletes only
  run files (the names it is given) and their temporary files; every other file goes back into the
  folder, so that a crash at any instant of the swap loses no file of the user's.

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

from ..base.errors import WindownerError
from ..base.files import is_temporary, write_atomic
from ..config import MAX_FOLDS

_ATTEMPTS = 10  # a lock file removed by the run that held it is opened afresh, at most this often


MARKER = ".windowner"  # in every folder windowner made: a run folder, not a user's


def fold_names(count: int) -> tuple[str, ...]:
    """The folders of the ``count`` folds of a run with the document feature, the runs inside it
    (``train.first_pass_folds``): two are ``fold-even`` and ``fold-odd``, named for the documents each
    trains on; more are ``fold-1``, ..., ``fold-K``, fold k trained on every document but those it keys."""
    return ("fold-even", "fold-odd") if count == 2 else tuple(f"fold-{k}" for k in range(1, count + 1))


FOLDS = tuple(dict.fromkeys(name for count in range(2, MAX_FOLDS + 1) for name in fold_names(count)))
"""Every name a fold may have: a run's are those of its count, :func:`fold_names`."""
FOLD_DATA = "train.txt"  # in a fold: its part of the training data
A_FOLD = "a fold"  # what the mark of a fold says (:func:`mark`)


def real_folder(folder: str | Path) -> Path:
    """The folder itself, however it is named: ``~`` expanded, every symbolic link and ``..`` resolved."""
    return Path(folder).expanduser().resolve()


def lock_path(folder: str | Path) -> Path:
    """The lock file of a run folder: ``.NAME.lock`` beside it (beside the folder itself: see
    :func:`real_folder`)."""
    folder = real_folder(folder)
    return folder.parent / lock_name(folder.name)


def lock_name(name: str) -> str:
    """The name of the lock file of the folder ``name``, beside it."""
    return f".{name}.lock"


@contextmanager
def locked(folder: str | Path) -> Iterator[None]:
    """Hold the lock of ``folder`` (creating its parent folders) for the body, or fail at once.

    The lock belongs to the folder itself, whatever its name: a link to it, ``a/../b``, a relative or an
    absolute path all take the same lock. Raises :class:`WindownerError` naming the process that holds it
    (pid, host, start time) when another process does. A lock file nobody holds (its run was killed) is
    taken over.
    """
    path = lock_path(folder)
    folder = Path(folder)
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


def mark(folder: Path, what: str = "a run folder") -> None:
    """Write :data:`MARKER` in ``folder``: windowner made it (or trained into it while it was empty);
    ``what`` it is: a run folder, or :data:`A_FOLD`."""
    if not (folder / MARKER).is_file():
        write_atomic(folder / MARKER, json.dumps({"made_by": "windowner", "what": what}) + "\n")


def is_marked(folder: Path) -> bool:
    """Whether ``folder`` holds :data:`MARKER`."""
    return (folder / MARKER).is_file()


def is_fold(folder: Path) -> bool:
    """Whether ``folder`` is a fold of the run it is in: a real folder (not a link) named as one of
    :data:`FOLDS` whose mark says :data:`A_FOLD`. A run of yours in a folder of that name is not one; a
    ``fold-even/`` or ``fold-odd/`` written before folds had a mark of their own is one if it is marked."""
    if folder.name not in FOLDS or folder.is_symlink() or not folder.is_dir():
        return False
    if folder.name in fold_names(2) and is_marked(folder):
        return True
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8")).get("what") == A_FOLD
    except (OSError, ValueError, AttributeError):
        return False


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
    ``run_files`` (a user's notes) go along into the new folder, the old run's files are removed.

    The steps, each a rename (atomic): (1) every entry of ``folder`` that is not a run file nor one of
    its folds (:func:`_folds_of`) moves into ``new`` (a fold's lock file along with its fold); (2)
    ``folder`` is renamed ``.NAME.old-XXXXXXXX``; (3) ``new`` takes its name; (4) the old run's files are
    deleted from ``.NAME.old-XXXXXXXX`` (anything else found there moves into the new folder) and it is
    removed. At any instant every file of the user's is in ``folder``, ``.NAME.new-XXXXXXXX`` or
    ``.NAME.old-XXXXXXXX``, never deleted; a failure undoes the swap and a process
    killed on the way leaves what :func:`recover` puts back.
    """
    old = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.old-"))
    try:
        folds = _folds_of(folder)
        for name in sorted(os.listdir(folder)):
            if name in run_files or name in folds or os.path.lexists(new / name):
                continue
            locking = next((fold for fold in FOLDS if name == lock_name(fold)), None)
            if locking is not None and os.path.lexists(new / locking):  # its fold cannot move: it stays
                continue
            os.rename(folder / name, new / name)
        os.rename(folder, old)  # replaces the empty directory mkdtemp made
        try:
            os.rename(new, folder)
        except BaseException:
            os.rename(old, folder)
            raise
    except BaseException:
        recover(folder, run_files)  # the user's entries back from the new folder, the empty old one gone
        raise
    _empty(old, folder, run_files)


def discard(new: Path, folder: Path, run_files: Collection[str]) -> bool:
    """Remove ``new``, a replacement of ``folder`` that never took its place: its run files are deleted,
    anything else moves back into ``folder``. False when something could not (it then stays in ``new``)."""
    return _empty(new, folder, run_files)


def leftovers(folder: Path) -> list[tuple[str, Path]]:
    """The hidden folders a stopped ``--overwrite`` of ``folder`` left beside it: ``(kind, path)``, kind
    ``new`` (a replacement) or ``old`` (a run it was replacing), sorted by path."""
    try:
        entries = sorted(folder.parent.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for entry in entries:
        match = _LEFTOVER.fullmatch(entry.name)
        if match and match["name"] == folder.name and entry.is_dir() and not entry.is_symlink():
            found.append((match["kind"], entry))
    return found


def stranded(folder: str | Path) -> Path | None:
    """The hidden folder that holds the run of ``folder`` while ``folder`` is missing (an ``--overwrite``
    was killed between two renames of its swap), or None."""
    folder = Path(folder)
    if os.path.lexists(folder):
        return None
    olds = [path for kind, path in leftovers(folder) if kind == "old"]
    return olds[0] if olds else None


def recover(folder: str | Path, run_files: Collection[str]) -> list[str]:
    """Put back what a killed ``--overwrite`` left beside ``folder``; call it only while holding its lock.

    An ``.NAME.old-XXXXXXXX`` is the old run itself when ``folder`` is missing (the process died between
    the renames of :func:`replace_folder`) and is renamed back. Then every leftover folder is emptied:
    its run files (``run_files``) and their temporary files are deleted, every other entry (a file of the
    user's, moved there by step 1 of the swap) moves back into ``folder``; a leftover folder that still
    holds something (a name taken in ``folder``) is left, and said. Returns what it did, a sentence a
    step.
    """
    folder = Path(folder)
    done = []
    put_back = stranded(folder)
    if put_back is None and not folder.is_dir():
        return done  # no run to put back, none to move files into: the leftovers stay as they are
    if put_back is not None:
        os.rename(put_back, folder)
        done.append(f"put back the run that a stopped --overwrite had left in {put_back}")
    for kind, leftover in leftovers(folder):
        if _empty(leftover, folder, run_files):
            what = "a replacement that never took its place" if kind == "new" else "a replaced run"
            done.append(f"removed {leftover}, {what} left by a stopped --overwrite")
        else:
            done.append(
                f"left {leftover} (from a stopped --overwrite): it holds files whose names {folder} has"
                " too; look inside and move them yourself"
            )
    return done


def _empty(leftover: Path, folder: Path, run_files: Collection[str]) -> bool:
    """Delete the run files (and their temporary files) of ``leftover``, move every other entry into
    ``folder`` where no entry has its name, and remove ``leftover`` if that emptied it.

    A fold of the run (:func:`_folds_of`) is emptied alike into ``folder``'s of its name, its
    :data:`FOLD_DATA` a run file too, and its lock file goes with it; what is left of it (the user's)
    moves into ``folder`` if ``folder`` has no fold of that name. The mark goes last, so that a folder
    left half-emptied by a killed process is still known as a run's."""
    folds = _folds_of(leftover)
    for name in sorted(os.listdir(leftover), key=lambda name: (name == MARKER, name)):
        path = leftover / name
        ours = name in run_files or is_temporary(name, run_files)
        if ours and (path.is_symlink() or not path.is_dir()):
            os.unlink(path)
            continue
        fold = folds.get(name)
        if fold is not None and fold != name:
            continue  # a fold's lock file: it goes with its fold
        if fold is not None:
            (leftover / lock_name(name)).unlink(missing_ok=True)  # no training holds it: first, so that
            if _empty(path, folder / name, (*run_files, FOLD_DATA)):  # a kill leaves no stale one behind
                continue
        if folder.is_dir() and not os.path.lexists(folder / name):
            os.rename(path, folder / name)
        elif not path.is_symlink() and path.is_dir() and _only_temporaries(path, run_files):
            shutil.rmtree(path)  # what a kill left of a fold: its name is taken, and it holds nothing
    try:
        os.rmdir(leftover)
    except OSError:
        return False
    return True


def _folds_of(folder: Path) -> dict[str, str]:
    """The entries of the run ``folder`` that belong to a fold of it, each mapped to its fold: the fold
    itself and its lock file. A fold is a run's (:func:`is_fold`) when no training holds it (a fold
    trained on its own meanwhile is left to it, as a folder of the user's is)."""
    found = {}
    for fold in FOLDS:
        if is_fold(folder / fold) and not _in_use(folder / lock_name(fold)):
            found.update({fold: fold, lock_name(fold): fold})
    return found


def _only_temporaries(folder: Path, run_files: Collection[str]) -> bool:
    """Whether ``folder`` holds nothing but temporary files of run files (a fold's mark half-written)."""
    names = (*run_files, FOLD_DATA)
    return all(is_temporary(name, names) for name in os.listdir(folder))


def check_folds(folder: Path) -> None:
    """Refuse to replace or empty the run ``folder`` while another process trains one of its folds."""
    for fold in FOLDS:
        holder = _holder_of(folder / lock_name(fold))
        if holder is not None:
            raise WindownerError(
                f"{folder / fold} is in use by another training run ({holder}): wait for it to end"
            )


def _holder_of(lock: Path) -> str | None:
    """Who holds the lock file ``lock`` (:func:`_holder`), or None when no process does."""
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder(fd)
    finally:
        os.close(fd)  # (which lets go of a lock it took)
    return None


def _in_use(lock: Path) -> bool:
    """Whether a training holds the lock file ``lock`` (see :func:`locked`)."""
    return _holder_of(lock) is not None
