"""Tests of windowner.files: atomic writes, stale temporary files, text input with clear errors."""

from __future__ import annotations

import os
import signal
import tempfile
import threading

import pytest

from windowner.errors import Terminated, WindownerError
from windowner.files import atomic_open, remove_stale_temporaries, text_file, write_atomic


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
