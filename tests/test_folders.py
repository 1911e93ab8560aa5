"""Tests of windowner.folders: the run folder's lock, the swap of --overwrite, what a killed run left."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from windowner.errors import WindownerError
from windowner.folders import fresh_sibling, lock_path, locked, remove_leftovers, replace_folder

REPO = Path(__file__).resolve().parent.parent


def test_a_second_lock_fails_at_once_naming_the_holder(tmp_path):
    folder = tmp_path / "runs" / "a"
    with locked(folder):
        assert lock_path(folder) == tmp_path / "runs" / ".a.lock"  # beside the folder, not in it
        holder = json.loads(lock_path(folder).read_text(encoding="utf-8"))
        assert holder["pid"] == os.getpid()
        with pytest.raises(WindownerError) as info:
            with locked(folder):
                pass
        message = str(info.value)
        assert message.startswith(f"{folder} is in use by another training run (pid {os.getpid()} on ")
        assert socket.gethostname() in message and holder["started"] in message
        assert "--output" in message
    assert not lock_path(folder).exists()  # removed when the run ends
    with locked(folder):  # and free again
        pass


def test_a_lock_file_nobody_holds_is_taken_over(tmp_path):
    folder = tmp_path / "a"
    lock_path(folder).write_text('{"pid": 99999999, "host": "gone", "started": "yesterday"}\n')
    with locked(folder):
        assert json.loads(lock_path(folder).read_text())["pid"] == os.getpid()


def test_the_lock_of_a_killed_process_never_blocks(tmp_path):
    # A process that holds the lock and is killed with SIGKILL (no clean-up at all): the kernel releases
    # its flock; the lock file it left names a process that is gone and is taken over.
    folder = tmp_path / "a"
    program = (
        "import sys, time; from windowner.folders import locked\n"
        f"with locked({str(folder)!r}):\n    print('locked', flush=True); time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout.readline() == "locked\n"
        with pytest.raises(WindownerError, match=f"pid {child.pid} on"):
            with locked(folder):
                pass
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert lock_path(folder).exists()  # left behind by the killed process
    with locked(folder):
        pass


def test_replace_folder_swaps_in_the_new_run_and_keeps_the_users_files(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "model.npz").write_text("old model")
    (folder / "scores.json").write_text("old scores")  # a run file the new run has not written yet
    (folder / "notes.txt").write_text("mine")
    new = fresh_sibling(folder)
    assert new.parent == tmp_path and new.name.startswith(".run.new-")
    (new / "model.npz").write_text("new model")
    replace_folder(new, folder, ["model.npz", "scores.json"])
    assert sorted(p.name for p in folder.iterdir()) == ["model.npz", "notes.txt"]
    assert (folder / "model.npz").read_text() == "new model"
    assert (folder / "notes.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # neither the new nor the old folder is left


def test_remove_leftovers_of_a_killed_overwrite(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    for name in (".run.new-abcd1234", ".run.old-efgh5678", ".other.new-abcd1234", ".run.new-short"):
        (tmp_path / name).mkdir()
    (tmp_path / ".run.new-ijkl9012").write_text("a file, not ours")
    removed = remove_leftovers(folder)
    assert sorted(p.name for p in removed) == [".run.new-abcd1234", ".run.old-efgh5678"]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [".other.new-abcd1234", ".run.new-ijkl9012", ".run.new-short", "run"]


def test_remove_leftovers_puts_back_an_old_run_whose_replacement_never_arrived(tmp_path):
    # Killed between the two renames of replace_folder: the old run is only under its hidden name.
    old = tmp_path / ".run.old-abcd1234"
    old.mkdir()
    (old / "model.npz").write_text("old model")
    assert remove_leftovers(tmp_path / "run") == []
    assert (tmp_path / "run" / "model.npz").read_text() == "old model"
    assert not old.exists()
