"""Tests of windowner.base.files: atomic writes, stale temporary files, text input with clear errors."""

from __future__ import annotations

import os
import signal
import stat
import tempfile
import threading
from pathlib import Path

import pytest
from helpers import read_pipe

from windowner.base.errors import Terminated, WindownerError
from windowner.base.files import (
    atomic_open,
    output_target,
    refuse_to_replace,
    remove_stale_temporaries,
    text_file,
    write_atomic,
)


def hidden(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ---------------------------------------------------------------------------------------------------------
# atomic writes


def test_write_atomic_replaces_the_file_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "scores.json"
    path.write_text("old", encoding="utf-8")
    write_atomic(path, "new")
    assert path.read_text(encoding="utf-8") == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["scores.json"]


@pytest.mark.parametrize(
    "error", [ValueError("a bug"), KeyboardInterrupt(), Terminated(signal.SIGTERM)], ids=repr
)
def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path, error):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old")
    with pytest.raises(type(error)), atomic_open(path, "wb") as out:
        out.write(b"half of a new")
        assert hidden(tmp_path) != []  # the temporary file exists while writing
        raise error
    assert path.read_bytes() == b"old"
    assert hidden(tmp_path) == []


# ---------------------------------------------------------------------------------------------------------
# targets that are not regular files: written as they are, never replaced


def test_a_named_pipe_is_written_into_not_replaced(tmp_path):
    """Promise: what an output file replaces. A FIFO given as the output stays a FIFO (a rename made it a
    regular file)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    thread, got = read_pipe(fifo)
    write_atomic(fifo, "tagged\n")
    thread.join(5)
    assert got == [b"tagged\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]  # no temporary file


def test_a_character_device_is_written_into_not_replaced(tmp_path):
    """/dev/null stays the null device; as root, a device node of a folder too (a rename made it a file).
    The node of our own comes first: code that replaces a device must never reach the system's /dev/null."""
    if os.geteuid() == 0:
        node = tmp_path / "null"
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # the null device
        with atomic_open(node, "wb") as out:
            out.write(b"nothing")
        assert stat.S_ISCHR(os.lstat(node).st_mode) and os.lstat(node).st_rdev == os.makedev(1, 3)
        assert [p.name for p in tmp_path.iterdir()] == ["null"]
    assert output_target(os.devnull) == (Path(os.devnull), None)
    write_atomic(os.devnull, "nothing\n")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_a_symbolic_link_to_a_file_replaces_the_file_and_keeps_the_link(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "out.txt"
    target.write_text("old")
    target.chmod(0o600)
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    write_atomic(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o600  # the file it replaced keeps its permissions
    dangling = tmp_path / "dangling.txt"
    dangling.symlink_to(tmp_path / "real" / "new.txt")
    write_atomic(dangling, "made")  # as a shell's `>` does: the link's target is made
    assert dangling.is_symlink() and (tmp_path / "real" / "new.txt").read_text() == "made"


def test_a_directory_is_an_error_and_stays_as_it_was(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "mine.txt").write_text("mine")
    with pytest.raises(WindownerError, match="folder: is a directory, expected a file name"):
        write_atomic(tmp_path / "folder", "text")
    assert (tmp_path / "folder" / "mine.txt").read_text() == "mine"


def test_the_descriptors_of_the_process_are_written_through_not_replaced(tmp_path, capfd):
    """/dev/stdout is the process's standard output (as a shell reads it), whatever it is: a file opened
    for appending keeps what it held (replacing the file it names lost it)."""
    log = tmp_path / "log.txt"
    log.write_text("before\n")
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    try:
        assert output_target(f"/dev/fd/{fd}")[1] == fd
        write_atomic(f"/dev/fd/{fd}", "after\n")
        write_atomic(f"/proc/self/fd/{fd}", "again\n")
    finally:
        os.close(fd)
    assert log.read_text() == "before\nafter\nagain\n"
    assert [p.name for p in tmp_path.iterdir()] == ["log.txt"]
    assert output_target("/dev/stdout") == (Path("/dev/stdout"), 1)  # before writing: never replace it
    write_atomic("/dev/stdout", "to stdout\n")
    assert capfd.readouterr().out == "to stdout\n"


def test_refuse_to_replace_allows_a_device_and_names_a_kept_file(tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("input")
    keep = {data: "the input file", Path(os.devnull): "not a file to keep"}
    refuse_to_replace(os.devnull, keep, "the output")  # nothing is replaced
    with pytest.raises(WindownerError, match=r"link: is the input file; the output would replace it"):
        (tmp_path / "link").symlink_to(data)
        refuse_to_replace(tmp_path / "link", keep, "the output")
    with pytest.raises(WindownerError, match="no folder"):
        refuse_to_replace(tmp_path / "absent" / "out.txt", keep, "the output")


# ---------------------------------------------------------------------------------------------------------
# stale temporary files


def test_remove_stale_temporaries_removes_what_a_killed_save_left(tmp_path):
    # What SIGKILL during a save leaves: the temporary file of atomic_open, made by the same call.
    left = []
    for name in ("model.npz", "last.npz", "history.jsonl"):
        fd, temporary = tempfile.mkstemp(dir=tmp_path, prefix=f".{name}.")
        os.close(fd)
        left.append(os.path.basename(temporary))
    keep = [
        "model.npz",  # the run's files themselves
        ".model.npz.backup",  # a user's own hidden files: not 8 random characters,
        ".model.npz.ORIGINAL",  # not the alphabet of mkstemp,
        ".notes.txt.abcd1234",  # not a run file,
        ".model.npz.abcd1234.x",  # more after the suffix
    ]
    for name in keep:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / ".last.npz.abcd1234").mkdir()  # a directory is never ours
    removed = remove_stale_temporaries(tmp_path, ["model.npz", "last.npz", "history.jsonl"])
    assert sorted(p.name for p in removed) == sorted(left)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*keep, ".last.npz.abcd1234"])


def test_remove_stale_temporaries_only_for_the_names_given(tmp_path):
    fd, temporary = tempfile.mkstemp(dir=tmp_path, prefix=".config.yaml.")
    os.close(fd)
    assert remove_stale_temporaries(tmp_path, ["model.npz"]) == []
    assert os.path.exists(temporary)


def test_remove_stale_temporaries_in_a_missing_folder(tmp_path):
    assert remove_stale_temporaries(tmp_path / "absent", ["model.npz"]) == []


# ---------------------------------------------------------------------------------------------------------
# reading text


def test_text_file_reads_utf8_and_skips_a_byte_order_mark(write):
    path = write("a.txt", data="\ufeffZürich\nline two\n".encode())
    with text_file(path, "a text file") as lines:
        assert list(lines) == ["Zürich\n", "line two\n"]


@pytest.mark.parametrize(
    ("name", "make", "needle"),
    [
        ("absent.txt", None, "no such file"),
        ("folder", "dir", "is a directory, expected a text file"),
    ],
)
def test_text_file_missing_or_a_directory(tmp_path, name, make, needle):
    path = tmp_path / name
    if make == "dir":
        path.mkdir()
    with pytest.raises(WindownerError) as info, text_file(path, "a text file"):
        pass
    assert str(info.value) == f"{path}: {needle}"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_text_file_unreadable(write):
    path = write("secret.txt", "x\n")
    path.chmod(0)
    with pytest.raises(WindownerError, match="permission denied"), text_file(path, "a text file"):
        pass


def test_text_file_bad_byte_names_the_line_when_the_body_reads(write):
    path = write("a.txt", data=b"ok\n" * 5000 + b"bad \xe9\n")
    with pytest.raises(WindownerError) as info, text_file(path, "a text file") as lines:
        for _ in lines:
            pass
    assert str(info.value).startswith(f"{path}:5001: not UTF-8 text (byte 0xe9 at byte 5 of the line)")


def write_to_pipe(fifo, data: bytes) -> threading.Thread:
    """A thread that writes ``data`` into the named pipe ``fifo`` once a reader opens it."""

    def writer() -> None:
        with open(fifo, "wb") as out:
            out.write(data)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    return thread


def test_text_file_reads_a_pipe(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    thread = write_to_pipe(fifo, b"a O\n")
    with text_file(fifo, "a text file") as lines:
        assert list(lines) == ["a O\n"]
    thread.join(5)


def test_text_file_bad_byte_in_a_pipe_names_the_file(tmp_path):
    # A pipe cannot be read twice to find the line: the message names the file only.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    thread = write_to_pipe(fifo, b"ok\nbad \xe9\n")
    with pytest.raises(WindownerError) as info, text_file(fifo, "a text file") as lines:
        list(lines)
    thread.join(5)
    assert str(info.value).startswith(f"{fifo}: not UTF-8 text")
