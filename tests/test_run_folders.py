"""The promises of docs/usage.md about run folders and output files, through the command line: no command
destroys a file it did not make, a crash leaves every file recoverable, the lock holds for the folder.

Each test names the promise it checks (``Promise: ...``); :func:`test_every_promise_has_a_test` checks that
every promise of docs/usage.md is named by a test.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import read_pipe
from test_cli import DEFAULT, TEST_DATA, assert_ok, assert_one_line_error, describe, run

from windowner import load_run
from windowner.tagging.folders import locked

REPO = Path(__file__).resolve().parent.parent
MARKER = ".windowner"  # the mark of a folder windowner made (docs/usage.md)
ONE_EPOCH = ("--set", "train.epochs=1", "--set", "model.hidden=10", "--quiet")


def train(output, *more):
    return run("train", "--config", DEFAULT, "--output", output, *ONE_EPOCH, *more)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished one-epoch run (copied by the tests that change it)."""
    output = tmp_path_factory.mktemp("runs") / "run"
    assert_ok(train(output))
    return output


def contents(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name: bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def copy_of(run_folder: Path, tmp_path: Path, name: str = "run") -> Path:
    folder = tmp_path / name
    shutil.copytree(run_folder, folder)
    return folder


# ---------------------------------------------------------------------------------------------------------
# output files: predict --output, eval --predictions, plot --output


@pytest.mark.parametrize("name", ["model.npz", "config.yaml", "vocab.txt", "checkpoint.npz", MARKER])
def test_predict_output_never_replaces_a_file_of_the_run(finished, tmp_path, name):
    """Promise: what an output file replaces. ``predict --output RUN/model.npz`` (config.yaml, vocab.txt,
    checkpoint.npz) replaced the run's file with tagged text, exit 0, and the run no longer loaded."""
    folder = copy_of(finished, tmp_path)
    text = tmp_path / "text.txt"
    text.write_text("Paris is nice .\n", encoding="utf-8")
    before = contents(folder)
    result = run("predict", folder, text, "--output", folder / name)
    assert_one_line_error(result, f"{folder / name}: is the run's {name}; the tagged text would replace it")
    assert contents(folder) == before
    load_run(folder)


def test_predict_output_never_replaces_its_input(finished, tmp_path, monkeypatch):
    """Promise: what an output file replaces. ``predict RUN same.txt --output same.txt`` replaced its input,
    also when the two names differ (a link, ``..``)."""
    monkeypatch.chdir(tmp_path)
    same = tmp_path / "same.txt"
    same.write_text("Paris is nice .\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "alias.txt").symlink_to(same)
    for output in ("same.txt", tmp_path / "sub" / ".." / "same.txt", "alias.txt"):
        result = run("predict", finished, "same.txt", "--output", output)
        assert_one_line_error(result, "is the input file; the tagged text would replace it")
        assert same.read_text(encoding="utf-8") == "Paris is nice .\n"
    assert_ok(run("predict", finished, "same.txt", "--output", "other.txt"))


def test_every_writer_writes_into_a_named_pipe_and_never_replaces_it(finished, tmp_path):
    """Promise: what an output file replaces. A FIFO given to predict --output, eval --predictions or plot
    --output is written into and stays a FIFO (a rename turned it into a regular file)."""
    text = tmp_path / "text.txt"
    text.write_text("Paris is nice .\n", encoding="utf-8")
    expected = run("predict", finished, text).stdout.encode("utf-8")
    commands = {
        "tags": ("predict", finished, text, "--output"),
        "predictions": ("eval", finished, "--data", TEST_DATA, "--predictions"),
        "plot.png": ("plot", finished, "--output"),
    }
    for name, command in commands.items():
        fifo = tmp_path / name
        os.mkfifo(fifo)
        thread, got = read_pipe(fifo)
        result = run(*command, fifo)
        thread.join(10)
        assert_ok(result)
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode), name
        assert got and got[0], name
        if name == "tags":
            assert got[0] == expected
        if name == "plot.png":
            assert got[0].startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot.png", "predictions", "tags", "text.txt"]


def test_output_to_a_device_writes_into_it(finished, tmp_path):
    """Promise: what an output file replaces. ``--output /dev/null`` works; as root, a device node stays a
    device (predict --output turned it into a regular file)."""
    text = tmp_path / "text.txt"
    text.write_text("Paris is nice .\n", encoding="utf-8")
    if os.geteuid() == 0:  # first a node of our own: code that replaces a device must never reach /dev/null
        node = tmp_path / "null"
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        assert_ok(run("predict", finished, text, "--output", node))
        assert stat.S_ISCHR(os.lstat(node).st_mode)
        assert_ok(run("eval", finished, "--data", TEST_DATA, "--predictions", node))
        assert stat.S_ISCHR(os.lstat(node).st_mode)
    assert_ok(run("predict", finished, text, "--output", os.devnull))
    assert_ok(run("eval", finished, "--data", TEST_DATA, "--predictions", os.devnull))
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_output_through_a_link_replaces_the_file_and_a_directory_is_an_error(finished, tmp_path):
    """Promise: what an output file replaces. A link to a file: the file is replaced, the link stays."""
    text = tmp_path / "text.txt"
    text.write_text("Paris is nice .\n", encoding="utf-8")
    target = tmp_path / "tags.txt"
    target.write_text("old tags", encoding="utf-8")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    assert_ok(run("predict", finished, text, "--output", link))
    assert link.is_symlink() and target.read_text(encoding="utf-8").startswith("Paris")
    (tmp_path / "folder").mkdir()
    assert_one_line_error(run("predict", finished, text, "--output", tmp_path / "folder"), "is a directory")


# ---------------------------------------------------------------------------------------------------------
# the lock


def test_two_trains_through_two_names_of_one_folder(tmp_path, monkeypatch):
    """Promise: what the lock covers. A train through a link (or a relative path) while another holds the
    folder by its real name fails at once (both ran: one folder, one run's config, the other's model)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "b").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "b")
    with locked(tmp_path / "b"):
        for name in ("link", "b", "./link/../b", tmp_path / "link"):
            assert_one_line_error(train(name), "is in use by another training run (pid")
    assert list((tmp_path / "b").iterdir()) == []


# ---------------------------------------------------------------------------------------------------------
# a folder of the user's


def test_train_leaves_a_folder_of_the_users_as_it_was(tmp_path):
    """Promise: what a folder of yours gets. A folder windowner did not make, with no model: its
    config.yaml and scores.json were deleted, exit 0. Refused, also with --overwrite, every file kept."""
    folder = tmp_path / "mine"
    folder.mkdir()
    for name, text in (("config.yaml", "my: config\n"), ("scores.json", "{}\n"), ("notes.txt", "notes\n")):
        (folder / name).write_text(text, encoding="utf-8")
    before = contents(folder)
    for more in ((), ("--overwrite",)):
        line = assert_one_line_error(train(folder, *more), "is a folder of yours", "--output")
        assert "'config.yaml', 'notes.txt', 'scores.json'" in line
        assert contents(folder) == before
    result = run("train", "--config", DEFAULT, "--output", folder, "--dry-run")
    assert_ok(result)
    assert "is a folder of yours" in result.stderr and contents(folder) == before


def test_an_empty_folder_is_fine_and_becomes_a_run_folder(tmp_path):
    """Promise: what a folder of yours gets. An empty folder is trained into; the run marks it as its own,
    so that a later --overwrite can tell it from a folder of the user's."""
    folder = tmp_path / "empty"
    folder.mkdir()
    assert_ok(train(folder))
    assert (folder / MARKER).is_file()
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    assert_ok(train(folder, "--overwrite", "--set", "train.seed=3"))
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "mine"
    load_run(folder)


def test_a_run_of_an_earlier_windowner_is_still_a_run_folder(finished, tmp_path):
    """A run folder from before the mark (config.yaml, vocab.txt, labels.json and a model) is still one."""
    folder = copy_of(finished, tmp_path)
    (folder / MARKER).unlink()
    before = contents(folder)
    assert_one_line_error(train(folder), "already holds a trained model", "--overwrite")
    result = run("train", "--config", DEFAULT, "--output", folder, "--dry-run", "--overwrite")
    assert_ok(result)
    assert result.stdout.endswith("replaced once the new one has saved a model (--overwrite)\n")
    assert contents(folder) == before


# ---------------------------------------------------------------------------------------------------------
# a crash during --overwrite's swap


def test_the_run_in_the_hidden_folder_is_named_then_put_back(finished, tmp_path):
    """Promise: what any crash leaves. Killed between the renames of the swap, the run sits in
    .NAME.old-XXXXXXXX: eval, predict, plot and --resume say where it is; the next command puts it back."""
    folder = copy_of(finished, tmp_path)
    before = contents(folder)
    hidden = tmp_path / ".run.old-abcd1234"
    folder.rename(hidden)
    text = tmp_path / "text.txt"
    text.write_text("Paris is nice .\n", encoding="utf-8")
    for command in (
        ("eval", folder, "--data", TEST_DATA),
        ("predict", folder, text),
        ("plot", folder),
    ):
        assert_one_line_error(run(*command), f"{folder}: no such run folder, but its run is in {hidden}")
    (tmp_path / "link").symlink_to(folder)  # through a link to the folder, too
    link = run("eval", tmp_path / "link", "--data", TEST_DATA)
    assert_one_line_error(link, f"{tmp_path / 'link'}: no such run folder, but its run is in {hidden}")
    result = run("train", "--resume", folder, "--set", "train.epochs=2", "--quiet")
    assert_ok(result)
    assert f"put back the run that a stopped --overwrite had left in {hidden}" in result.stderr
    assert not hidden.exists() and load_run(folder).config.train.epochs == 2
    assert contents(folder)["vocab.txt"] == before["vocab.txt"]
    after = contents(folder)
    folder.rename(hidden)  # the same, with a train that must not replace the run it puts back
    result = train(folder)
    assert result.exit_code == 1, describe(result)
    assert result.stderr.splitlines() == [
        f"windowner: note: put back the run that a stopped --overwrite had left in {hidden}",
        f"windowner: error: {folder} already holds a trained model: choose another output folder (--output),"
        f" or replace it (--overwrite), or continue it if it was stopped (--resume {folder})",
    ]
    assert contents(folder) == after and not hidden.exists()


SWAP_CHILD = """
import os, sys, time
from pathlib import Path
from windowner.tagging.folders import fresh_sibling, replace_folder
from windowner.tagging.run_files import PLOT_FILE, RUN_FILES
folder = Path(sys.argv[1])
new = fresh_sibling(folder)
for name in ("model.npz", "config.yaml", "vocab.txt", "labels.json"):
    (new / name).write_bytes((folder / name).read_bytes())
print("swapping", flush=True)
replace_folder(new, folder, (*RUN_FILES, PLOT_FILE))
print("done", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("delay", [0.0, 0.002, 0.01, 0.03])
def test_kill_9_during_the_swap_loses_no_file(finished, tmp_path, delay):
    """Promise: what any crash leaves. ``kill -9`` while --overwrite swaps a folder that holds 2,000 files of
    the user's, then the next train: every file is there (the next train deleted the hidden folder that
    held them: 30,000 of 30,000 lost)."""
    folder = copy_of(finished, tmp_path)
    (folder / "mine").mkdir()
    for i in range(1000):
        (folder / f"note-{i}.txt").write_text(str(i), encoding="utf-8")
        (folder / "mine" / f"{i}.txt").write_text(str(i), encoding="utf-8")
    users = {name: data for name, data in contents(folder).items() if "note-" in name or "mine" in name}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", SWAP_CHILD, str(folder)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout.readline() == "swapping\n"
        time.sleep(delay)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    result = train(folder)  # the next command: it puts everything back, then refuses to replace the run
    assert result.exit_code == 1, describe(result)
    assert "already holds a trained model" in result.stderr
    left = contents(folder)
    assert {name: left.get(name) for name in users} == users
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    load_run(folder)


# ---------------------------------------------------------------------------------------------------------
# a dry run


def test_dry_run_shows_everything_and_notes_a_folder_train_would_refuse(finished):
    """Promise: what a dry run writes. Nothing, and it shows the config and the data even when the folder
    holds a model (it refused to print anything): the folder is a note."""
    before = contents(finished)
    result = run("train", "--config", DEFAULT, "--output", finished, "--dry-run")
    assert_ok(result)
    assert result.stdout.startswith("# the resolved config (saved as config.yaml)\n")
    assert re.search(r"^train +1,384 +32,533 +98\.2%$", result.stdout, re.M)
    assert result.stdout.endswith(f"the run would go to {finished}: train would refuse it (see the note)\n")
    assert result.stderr == (
        f"windowner: note: train would stop at the output folder: {finished} already holds a trained model:"
        f" choose another output folder (--output), or replace it (--overwrite), or continue it if it was"
        f" stopped (--resume {finished})\n"
    )
    assert contents(finished) == before


# ---------------------------------------------------------------------------------------------------------
# the promises of docs/usage.md


def test_every_promise_has_a_test():
    """Every promise of the list in docs/usage.md is named (``Promise: NAME.``) by a test."""
    usage = (REPO / "docs" / "usage.md").read_text(encoding="utf-8")
    section = usage.split("### Run-folder promises", 1)[1].split("\n#", 1)[0]
    promises = re.findall(r"^- \*\*(.+?)\*\*", section, re.M)
    assert len(promises) >= 6, promises
    tests = "\n".join(path.read_text(encoding="utf-8") for path in (REPO / "tests").glob("test_*.py"))
    named = {" ".join(m.split()) for m in re.findall(r"Promise: ([^.]+)\.", tests)}
    missing = [promise for promise in promises if promise.replace("`", "").lower() not in named]
    assert not missing, f"promises no test names: {missing}"
