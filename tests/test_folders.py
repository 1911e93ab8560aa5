"""Tests of windowner.tagging.folders: the run folder's lock, the swap of --overwrite, what a killed run
left."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from windowner.base.errors import WindownerError
from windowner.tagging.folders import fresh_sibling, lock_path, locked, recover, replace_folder, stranded

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
        "import sys, time; from windowner.tagging.folders import locked\n"
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


def test_recover_removes_the_run_files_a_killed_overwrite_left_and_nothing_else(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    for name in (".run.new-abcd1234", ".run.old-efgh5678", ".other.new-abcd1234", ".run.new-short"):
        (tmp_path / name).mkdir()
    (tmp_path / ".run.new-abcd1234" / "model.npz").write_text("new model")
    (tmp_path / ".run.old-efgh5678" / "model.npz").write_text("replaced model")
    (tmp_path / ".run.new-ijkl9012").write_text("a file, not ours")
    done = recover(folder, ["model.npz"])
    assert [line.split(",")[0] for line in done] == [
        f"removed {tmp_path / '.run.new-abcd1234'}",
        f"removed {tmp_path / '.run.old-efgh5678'}",
    ]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [".other.new-abcd1234", ".run.new-ijkl9012", ".run.new-short", "run"]


def test_recover_puts_back_an_old_run_whose_replacement_never_arrived(tmp_path):
    # Killed between the two renames of replace_folder: the old run is only under its hidden name.
    old = tmp_path / ".run.old-abcd1234"
    old.mkdir()
    (old / "model.npz").write_text("old model")
    assert stranded(tmp_path / "run") == old
    assert recover(tmp_path / "run", ["model.npz"]) == [
        f"put back the run that a stopped --overwrite had left in {old}"
    ]
    assert (tmp_path / "run" / "model.npz").read_text() == "old model"
    assert not old.exists() and stranded(tmp_path / "run") is None


def test_recover_never_deletes_a_file_it_did_not_write(tmp_path):
    """Promise: what any crash leaves. The next command puts the user's files back; it deletes run files
    only."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "model.npz").write_text("the new run's model")
    new, old = tmp_path / ".run.new-abcd1234", tmp_path / ".run.old-efgh5678"
    new.mkdir()
    old.mkdir()
    (new / "notes.txt").write_text("mine, on its way")  # step 1 of the swap had moved it
    (new / "model.npz").write_text("a replacement that never arrived")
    (old / "data").mkdir()  # a folder of the user's, left behind by a kill in step 4
    (old / "data" / "1.txt").write_text("mine too")
    (old / "model.npz").write_text("the replaced run's model")
    (old / "scores.json").write_text("taken")
    (folder / "scores.json").write_text("the new run's scores")
    (old / "plan.txt").write_text("mine, and the folder has a plan.txt of its own")
    (folder / "plan.txt").write_text("the other plan")
    done = recover(folder, ["model.npz", "scores.json"])
    assert (folder / "notes.txt").read_text() == "mine, on its way"
    assert (folder / "data" / "1.txt").read_text() == "mine too"
    assert (folder / "model.npz").read_text() == "the new run's model"
    assert (old / "plan.txt").read_text() == "mine, and the folder has a plan.txt of its own"  # never lost
    assert not new.exists() and sorted(p.name for p in old.iterdir()) == ["plan.txt"]
    assert done[-1].startswith(f"left {old} (from a stopped --overwrite): it holds files whose names")


def test_the_lock_holds_for_the_folder_however_it_is_named(tmp_path, monkeypatch):
    """Promise: what the lock covers. One lock for one folder, whatever names it: a symbolic link,
    ``a/../b``, a relative and an absolute path (two trains through two names both ran)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "b")
    monkeypatch.chdir(tmp_path)
    names = [tmp_path / "b", tmp_path / "link", tmp_path / "a" / ".." / "b", Path("b"), Path("./link/")]
    for holder in names:
        with locked(holder):
            for other in names:
                with pytest.raises(WindownerError, match="is in use by another training run"):
                    with locked(other):
                        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "link"]  # every lock file removed


def names_and_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


class Killed(BaseException):
    """What the process 'dies' of in the simulation: nothing runs after it (every later call fails too)."""


def kill_at(monkeypatch, k: int) -> dict[str, int]:
    """From the k-th call on (1-based), every rename, unlink and rmdir raises Killed: the process is dead
    and its clean-up code cannot act either."""
    calls = {"count": 0}
    for name in ("rename", "replace", "unlink", "rmdir"):
        real = getattr(os, name)

        def dying(*args, _real=real, **kwargs):
            calls["count"] += 1
            if calls["count"] >= k:
                raise Killed()
            return _real(*args, **kwargs)

        monkeypatch.setattr(os, name, dying)
    return calls


@pytest.mark.parametrize("k", range(1, 14))
def test_a_kill_at_any_step_of_the_swap_loses_no_file(tmp_path, monkeypatch, k):
    """Promise: what --overwrite keeps. A process killed at the k-th rename or removal of the swap: the next
    command (recover) leaves every user file in the folder, and a whole run (the old or the new) there."""
    folder = tmp_path / "run"
    folder.mkdir()
    old_run = {"model.npz": b"old model", "config.yaml": b"old config"}
    users = {"notes.txt": b"mine", "more.txt": b"mine too", "sub/deep.txt": b"deep"}
    for name, data in {**old_run, **users}.items():
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_bytes(data)
    new = fresh_sibling(folder)
    new_run = {"model.npz": b"new model", "config.yaml": b"new config"}
    for name, data in new_run.items():
        (new / name).write_bytes(data)
    with monkeypatch.context() as patch:
        calls = kill_at(patch, k)
        try:
            replace_folder(new, folder, ["model.npz", "config.yaml"])
        except Killed:
            pass
    recover(folder, ["model.npz", "config.yaml"])
    left = names_and_bytes(folder)
    assert {name: left[name] for name in users} == users
    run = {name: left[name] for name in old_run}
    assert run in (old_run, new_run)  # one run's files, never a mix
    assert set(left) == {*users, *old_run}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    if k > calls["count"]:
        assert run == new_run  # not killed: the swap finished
