"""Property-based tests (Hypothesis) of the run-folder writers: random folders of the user's, a second
writer at a random point of an ``--overwrite`` and a kill at any step.

A kill is simulated: from the k-th rename, replace, unlink or rmdir on, every one of them raises
:class:`Killed`, so that neither the swap nor its clean-up code can do anything more (as after
``kill -9``). The second writer (``predict --output RUN/tags.txt``: an atomic write into the run folder,
and a second ``train`` through another name of the folder, which the lock must refuse) acts before the
j-th step of the first, or after its death. Then the next command puts back what was left (under the
lock), and: every file of the user's is there, byte for byte; the run in the folder is one run's files,
old or new, never a mix, and it loads. ``HYPOTHESIS_PROFILE=long`` runs many more examples.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from windowner import load_config, load_run
from windowner.base.errors import WindownerError
from windowner.base.files import atomic_open, write_atomic
from windowner.tagging.folders import MARKER, fresh_sibling, locked, mark, recover, replace_folder
from windowner.training.folder import SWAPPED
from windowner.training.loop import train

DEFAULT = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"


class Killed(BaseException):
    """The simulated death of the process (a BaseException: no ``except Exception`` catches it)."""


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


class Runs(tuple):
    """``(old, new)``: the files of two runs; a short repr, for the failing example Hypothesis prints."""

    def __repr__(self) -> str:
        return f"Runs(old: {sorted(self[0])}, new: {sorted(self[1])})"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    """The files of two real one-epoch runs (an old one and the one that replaces it)."""
    made = []
    for seed in (0, 1):
        output = tmp_path_factory.mktemp("runs") / "run"
        options = ["model.hidden=10", "train.epochs=1", "data.test=null", f"train.seed={seed}"]
        train(load_config(DEFAULT, [*options, f"output={output}"]), progress=False, echo=lambda line: None)
        made.append({name: data for name, data in files_of(output).items() if name != MARKER})
    return Runs(made)


NAMES = st.text(alphabet="abcdefgh-_0123456789", min_size=1, max_size=8)
FOLD_NAMES = ("fold-even", ".fold-even.lock", "fold-odd/notes.txt", ".fold-odd.lock")  # a document run's,
# but not folds of one (a file, a folder without the mark): the user's
USER_FILES = st.dictionaries(
    st.one_of(
        NAMES.map(lambda name: f"{name}.txt"),
        st.tuples(NAMES, NAMES).map(lambda t: f"d{t[0]}/{t[1]}"),
        st.sampled_from(FOLD_NAMES),
    ),
    st.binary(max_size=20),
    max_size=12,
)


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)


class Steps:
    """Counts the first writer's renames, replaces, unlinks and rmdirs; runs the second writer before
    step ``j`` (or after the death); from step ``k`` on raises :class:`Killed`."""

    def __init__(self, k: int, j: int, second):
        self.k, self.j, self.second = k, j, second
        self.count, self.dead, self.second_done = 0, False, False
        self.real = {name: getattr(os, name) for name in ("rename", "replace", "unlink", "rmdir")}

    def install(self, monkeypatch) -> None:
        for name, real in self.real.items():
            monkeypatch.setattr(os, name, self.wrap(real))

    def wrap(self, real):
        def step(*args, **kwargs):
            if self.busy:  # the second writer's own calls
                return real(*args, **kwargs)
            self.count += 1
            if self.count == self.j:
                self.run_second()
            if self.count >= self.k:
                self.dead = True
                raise Killed()
            return real(*args, **kwargs)

        return step

    busy = False

    def run_second(self) -> None:
        if self.second_done:
            return
        self.busy, self.second_done = True, True
        try:
            self.second(self.dead)
        finally:
            self.busy = False


@given(
    users=USER_FILES,
    k=st.integers(min_value=1, max_value=60),
    j=st.integers(min_value=1, max_value=60),
    tags=st.binary(min_size=1, max_size=20),
)
def test_two_writers_and_a_kill_at_any_step_lose_no_file(runs, users, k, j, tags):
    """Promise: what any crash leaves. Promise: what --overwrite keeps. Promise: what the lock covers."""
    old_run, new_run = runs
    with tempfile.TemporaryDirectory() as where:
        base = Path(where)
        folder = base / "run"
        folder.mkdir()
        write_files(folder, old_run)
        mark(folder)
        write_files(folder, users)
        (base / "alias").symlink_to(folder)
        written = {}

        def second(dead: bool) -> None:
            """``predict --output RUN/tags.txt``; and a second train through another name of the folder,
            refused while the first lives (a dead process holds no lock: the next command recovers)."""
            if not dead:
                with pytest.raises(WindownerError, match="is in use by another training run"):
                    with locked(base / "alias" / ".." / "alias"):
                        pass
            try:
                write_atomic(folder / "tags.txt", tags.hex())
            except FileNotFoundError:  # the folder is renamed away at this instant: the write fails, loudly
                return
            written["tags.txt"] = tags.hex().encode()

        steps = Steps(k, j, second)
        with locked(folder):
            with pytest.MonkeyPatch.context() as patch:
                steps.install(patch)
                try:
                    new = fresh_sibling(folder)  # the first writer: train --overwrite, then its swap
                    mark(new)
                    for name, data in new_run.items():
                        with atomic_open(new / name, "wb") as out:
                            out.write(data)
                    replace_folder(new, folder, SWAPPED)
                except Killed:
                    pass
            if not steps.second_done:  # scheduled after the last step, or after the death
                steps.run_second()
        with locked(base / "alias"):  # the next command: the dead process's lock is gone
            recover(folder, SWAPPED)
        left = files_of(folder)
        expected_users = {**users, **written}
        assert {name: left.get(name) for name in expected_users} == expected_users
        run = {name: data for name, data in left.items() if name not in expected_users}
        assert run.pop(MARKER, None) is not None  # still a run folder
        assert run in (old_run, new_run), sorted(run)
        if not steps.dead:
            assert run == new_run
        load_run(folder)
        assert sorted(p.name for p in base.iterdir()) == ["alias", "run"]
        shutil.rmtree(folder)
