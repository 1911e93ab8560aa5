"""``--overwrite`` of a run with the document feature: its trainings go into a fresh folder beside
the old run, which stays as it was until the new run's last stage has a model; then the new run takes its
place, the old folds go with it, and the user's files move over."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import yaml
from helpers import documents_config, stop_at

from windowner.base.errors import Terminated, WindownerError
from windowner.tagging.folders import fold_names, locked
from windowner.tagging.tagger import load_run
from windowner.training.folder import SWAPPED
from windowner.training.loop import resume, train

FOLDS = fold_names(2)  # the folds of a run of the default train.first_pass_folds


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def old_run(tmp_path):
    """A finished run with the document feature in ``tmp_path/run``, and its files."""
    train(documents_config(tmp_path), progress=False)
    return tmp_path / "run", files_of(tmp_path / "run")


@pytest.mark.parametrize(
    ("stage", "line", "where"),
    [
        ("stage 2 of 3", "epoch   1", "after epoch 1, "),  # a fold had trained, the second was training
        ("stage 1 of 3", "epoch   2", "after the last epoch; "),  # the first fold had just finished
        ("stage 3 of 3", "stage 3 of 3", ""),  # between stages: the run had not begun
        ("stage 3 of 3", "batch", "in epoch 1, after batch 1 of "),  # the run had no model yet
    ],
)
def test_a_stopped_overwrite_leaves_the_old_run_as_it_was(old_run, tmp_path, monkeypatch, stage, line, where):
    from windowner.training import loop

    run, before = old_run
    echo = stop_at(stage, line)
    batches = loop.epoch_batches

    def first_batches(*args):  # each epoch's batches: the line "batch" in the last stage's first
        echo("batch")
        return batches(*args)

    monkeypatch.setattr(loop, "epoch_batches", first_batches)
    with pytest.raises(Terminated) as stopped:
        train(documents_config(tmp_path, "train.seed=1"), progress=False, overwrite=True, echo=echo)
    assert str(stopped.value).startswith(where)
    assert str(stopped.value).endswith(f"before the new run had a model; {run} still holds the old run")
    assert files_of(run) == before  # every file, the folds' too
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev.conll", "run", "train.conll"]  # no leftovers
    load_run(run)  # its folds are still those it was trained with


def test_a_stop_after_the_new_run_has_a_model_leaves_it_to_resume(old_run, tmp_path):
    run, before = old_run
    echo = stop_at("stage 3 of 3")
    with pytest.raises(Terminated, match=f"continue with windowner train --resume {run}$"):
        train(documents_config(tmp_path, "train.seed=1"), progress=False, overwrite=True, echo=echo)
    after = files_of(run)
    assert after["fold-even/model.npz"] != before["fold-even/model.npz"]  # the new run's folds
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev.conll", "run", "train.conll"]
    resume(run, progress=False)
    assert len(load_run(run).first_passes) == 2


def test_a_fold_that_diverges_in_an_overwrite_leaves_the_old_run(old_run, tmp_path):
    run, before = old_run
    with pytest.raises(
        WindownerError, match=f"diverged in epoch 1.*; {run} still holds the run it was to replace$"
    ):
        train(documents_config(tmp_path, "train.lr=1e12"), progress=False, overwrite=True)
    assert files_of(run) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev.conll", "run", "train.conll"]


def test_an_overwrite_replaces_the_whole_run_and_keeps_the_users_files(tmp_path):
    places = tmp_path / "places.txt"  # a list of the user's: each run keeps its own copy
    places.write_text("Oslo\nNew York\n", encoding="utf-8")
    lists = ["model.features.gazetteer=4", f"model.gazetteers={{LOC: {places}}}"]
    train(documents_config(tmp_path, *lists), progress=False)
    run = tmp_path / "run"
    before = files_of(run)
    (run / "notes.txt").write_text("mine\n")
    (run / "fold-even" / "notes.txt").write_text("mine too\n")
    train(documents_config(tmp_path, *lists, "train.seed=1"), progress=False, overwrite=True)
    after = files_of(run)
    assert after["notes.txt"] == b"mine\n" and after["fold-even/notes.txt"] == b"mine too\n"
    for name in ("model.npz", *(f"{fold}/model.npz" for fold in FOLDS)):
        assert after[name] != before[name], name  # trained again, with the other seed
    for fold in FOLDS:  # its config names the folder it is in now, not the hidden one it was trained in
        old, new = (yaml.safe_load(files[f"{fold}/config.yaml"]) for files in (before, after))
        assert new["model"]["gazetteers"] == {
            "LOC": "gazetteers.json"
        }  # its copy, as a fold trained in place
        old["train"]["seed"] = 1
        assert new == old
    places.unlink()  # the runs read their copies
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev.conll", "run", "train.conll"]
    assert len(load_run(run).first_passes) == 2  # the new folds are the new run's


def test_names_of_folds_that_are_not_folds_are_the_users(tmp_path):
    train(documents_config(tmp_path, "model.features.document=0"), progress=False)
    run = tmp_path / "run"
    data = tmp_path / "mydata"
    data.mkdir()
    (run / "fold-even").symlink_to(data)  # a link, a file and a folder without the mark: all the user's
    (run / "fold-odd").write_text("mine\n")
    (run / ".fold-even.lock").write_text("mine too\n")
    train(
        documents_config(tmp_path, "model.features.document=0", "train.seed=1"),
        progress=False,
        overwrite=True,
    )
    assert (run / "fold-even").resolve() == data and (run / "fold-odd").read_text() == "mine\n"
    assert (run / ".fold-even.lock").read_text() == "mine too\n"


@pytest.mark.parametrize("feature", ["4", "0"])
def test_a_run_whose_fold_another_training_holds_is_not_replaced(old_run, tmp_path, feature):
    run, before = old_run
    with locked(run / "fold-even"):  # a fold trained on its own meanwhile
        with pytest.raises(WindownerError, match=f"^{run / 'fold-even'} is in use by another training run"):
            config = documents_config(tmp_path, f"model.features.document={feature}")
            train(config, progress=False, overwrite=True)
        assert files_of(run) == {**before, ".fold-even.lock": (run / ".fold-even.lock").read_bytes()}


def killing(call, done: list, kill_at: int):
    """``call`` (os.unlink, say) that raises SystemExit, as a kill would, once ``done`` holds ``kill_at``
    calls of it and its like."""

    def killed(*args, **kwargs):
        if len(done) == kill_at:
            raise SystemExit("killed")
        done.append(args)
        return call(*args, **kwargs)

    return killed


def test_a_recover_killed_at_any_step_is_finished_by_the_next(old_run, tmp_path, monkeypatch):
    import shutil

    from windowner.tagging import folders

    _, before = old_run
    real = {name: getattr(os, name) for name in ("unlink", "rmdir", "rename")}
    for kill_at in range(200):  # kill the first recover at its first unlink, rmdir or rename, its second, ...
        base = tmp_path / f"kill-{kill_at}"
        run, left = base / "run", base / ".run.old-abcd1234"  # a swap killed before the old run was emptied
        shutil.copytree(tmp_path / "run", run)
        shutil.copytree(tmp_path / "run", left)
        (left / "notes.txt").write_text("mine\n")
        (left / "fold-odd" / "notes.txt").write_text("mine too\n")
        done: list = []
        for name, call in real.items():
            monkeypatch.setattr(folders.os, name, killing(call, done, kill_at))
        try:
            folders.recover(run, SWAPPED)
            finished = True
        except SystemExit:
            finished = False
        for name, call in real.items():
            monkeypatch.setattr(folders.os, name, call)
        folders.recover(run, SWAPPED)
        assert not left.exists(), kill_at
        after = files_of(run)
        assert after.pop("notes.txt") == b"mine\n" and after.pop("fold-odd/notes.txt") == b"mine too\n"
        assert after == before, kill_at
        if finished:
            break
    assert kill_at > 20  # the old run's files and both folds', one unlink each, and their folders


def test_an_overwrite_without_the_feature_takes_the_old_folds_away(old_run, tmp_path):
    run, _ = old_run
    (run / "fold-odd" / "notes.txt").write_text("mine\n")
    train(documents_config(tmp_path, "model.features.document=0"), progress=False, overwrite=True)
    assert not (run / "fold-even").exists()  # it held run files only
    assert sorted(p.name for p in (run / "fold-odd").iterdir()) == ["notes.txt"]  # the user's file stays
    assert not load_run(run).first_passes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev.conll", "run", "train.conll"]


def test_what_a_killed_overwrite_left_goes_and_no_lock_file_moves_into_the_run(old_run, tmp_path):
    import shutil

    run, before = old_run
    left = tmp_path / ".run.new-abcd1234"  # an --overwrite killed while its second fold trained
    shutil.copytree(run, left)
    (left / "model.npz").unlink()
    (left / "fold-odd" / "model.npz").unlink()
    (left / ".fold-odd.lock").write_text("{}\n")  # its lock, never released
    notes = []
    with pytest.raises(WindownerError, match="has finished its 2 epochs"):  # but first it cleans up
        resume(run, progress=False, note=notes.append)
    assert notes == [f"removed {left}, a replacement that never took its place left by a stopped --overwrite"]
    assert files_of(run) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev.conll", "run", "train.conll"]


def test_a_run_without_the_feature_into_a_document_run_stopped_in_its_folds(tmp_path):
    with pytest.raises(Terminated):  # Ctrl-C in the second fold: the run itself has no model yet
        train(documents_config(tmp_path), progress=False, echo=stop_at("stage 2 of 3"))
    run = tmp_path / "run"
    plain = documents_config(tmp_path, "model.features.document=0")
    with pytest.raises(
        WindownerError, match=f"{run} holds an interrupted run \\(fold-even, fold-odd begun\\)"
    ):
        train(plain, progress=False)
    train(plain, progress=False, overwrite=True)
    assert not any(p.name.startswith("fold-") for p in run.iterdir())  # the old folds went with the old run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev.conll", "run", "train.conll"]


def test_a_stop_in_the_swap_after_its_renames_leaves_the_new_run_to_resume(old_run, tmp_path, monkeypatch):
    from windowner.training import loop

    run, _ = old_run
    real = loop.replace_folder

    def stopped_in_step_4(new, folder, run_files):  # a second signal while the old run's files go
        real(new, folder, run_files)
        raise Terminated(signal.SIGTERM, "")

    monkeypatch.setattr(loop, "replace_folder", stopped_in_step_4)
    with pytest.raises(
        Terminated, match=f"its last checkpoint stays: continue with windowner train --resume {run}$"
    ):
        train(documents_config(tmp_path, "train.seed=1"), progress=False, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev.conll", "run", "train.conll"]
    monkeypatch.setattr(loop, "replace_folder", real)
    resume(run, progress=False)
    assert len(load_run(run).first_passes) == 2


def test_a_stop_in_the_swap_before_its_renames_leaves_the_old_run(old_run, tmp_path, monkeypatch):
    from windowner.tagging import folders

    run, before = old_run
    real = os.rename

    def stopped_before_step_2(source, target):  # a second signal as the old run was to step aside
        if Path(target).name.startswith(".run.old-"):
            raise Terminated(signal.SIGTERM, "")
        real(source, target)

    monkeypatch.setattr(folders.os, "rename", stopped_before_step_2)
    with pytest.raises(
        Terminated, match=f"at once \\(a second signal\\); before the new run had a model; {run} still"
    ):
        train(documents_config(tmp_path, "train.seed=1"), progress=False, overwrite=True)
    monkeypatch.undo()
    assert files_of(run) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev.conll", "run", "train.conll"]


def test_a_run_of_yours_named_as_a_fold_survives_an_overwrite(old_run):
    """Your own run trained into RUN/fold-3 (a name a fold of three may have, not one of RUN's two) is
    yours: ``--overwrite`` of RUN moves it over whole; a fold's mark says it is a fold, a run's does not."""
    run, _ = old_run
    train(
        documents_config(run.parent, "model.features.document=0", f"output={run / 'fold-3'}"), progress=False
    )
    before = files_of(run / "fold-3")
    train(documents_config(run.parent, "train.seed=1"), progress=False, overwrite=True)
    assert files_of(run / "fold-3") == before
    everything = files_of(run)
    three = documents_config(run.parent, "train.first_pass_folds=3")
    with pytest.raises(WindownerError, match=f"{run / 'fold-3'}: a run of yours where the run trains a fold"):
        train(three, progress=False, overwrite=True)  # a run with three folds would train one there
    assert files_of(run) == everything


def test_an_overwrite_to_three_folds_and_back_keeps_your_entries(old_run):
    """In a run of two folds: your folder, file and link named fold-3, fold-4, fold-5 move over; an
    ``--overwrite`` with three folds (fold-3 among them) is refused while your fold-3 is there, every file
    as it was; your notes in a fold of three move into the folder of that name when two folds replace it."""
    run, _ = old_run
    (run / "fold-3").mkdir()
    (run / "fold-3" / "notes.txt").write_text("mine\n", encoding="utf-8")
    (run / "fold-4").write_text("a file\n", encoding="utf-8")
    (run / "fold-5").symlink_to(run.parent / "train.conll")
    train(documents_config(run.parent, "train.seed=1"), progress=False, overwrite=True)
    assert (run / "fold-3" / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    assert (run / "fold-4").read_text(encoding="utf-8") == "a file\n" and (run / "fold-5").is_symlink()
    before = files_of(run)
    three = documents_config(run.parent, "train.first_pass_folds=3")
    with pytest.raises(WindownerError, match="fold-3"):
        train(three, progress=False, overwrite=True)
    assert files_of(run) == before
    (run / "fold-3" / "notes.txt").unlink()
    (run / "fold-3").rmdir()
    train(three, progress=False, overwrite=True)
    (run / "fold-2" / "notes.txt").write_text("fold notes\n", encoding="utf-8")
    train(documents_config(run.parent), progress=False, overwrite=True)
    assert (run / "fold-2" / "notes.txt").read_text(encoding="utf-8") == "fold notes\n"
    assert sorted(entry.name for entry in (run / "fold-2").iterdir()) == ["notes.txt"]
    assert len(load_run(run).first_passes) == 2
