"""Tests of ``windowner package`` and of the warning of a run whose vectors file is gone."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import documents_config

from windowner.base.files import atomic_open
from windowner.cli.main import main
from windowner.tagging.folders import fold_names
from windowner.tagging.tagger import load_run
from windowner.training.loop import train

FOLDS = fold_names(2)  # the folds of a run of the default train.first_pass_folds

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "configs" / "default.yaml"
SHIPPED = REPO / "data" / "glove" / "glove.6B.50d.20k.txt.gz"
TEXT = "Rain fell on Paris .\nShe drove from Lyon to Geneva .\nThe qwxzt of Zanzibar met in Oslo .\n"


def invoke(*args):
    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        runner = CliRunner()  # click >= 8.2 keeps stderr apart by itself
    return runner.invoke(main, [*map(str, args)])


def ok(result):
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr, result.exception)
    return result


def error(result, *needles):
    """A one-line user error (status 1) whose line holds every needle."""
    lines = result.stderr.splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("windowner: error:"), lines
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A one-epoch run of the default config whose vectors file is a copy that tests may move away."""
    folder = tmp_path_factory.mktemp("package")
    vectors = folder / "vectors" / SHIPPED.name
    vectors.parent.mkdir()
    shutil.copyfile(SHIPPED, vectors)
    run = folder / "run"
    overrides = ["train.epochs=1", "model.hidden=20", f"vectors.path={vectors}"]
    ok(invoke("train", "--config", DEFAULT, "--output", run, "--quiet", *(f"--set={o}" for o in overrides)))
    (folder / "notes.txt").write_text(TEXT, encoding="utf-8")
    return folder


@pytest.fixture
def moved(trained):
    """The run's vectors file moved away for the test, then put back."""
    vectors = trained / "vectors" / SHIPPED.name
    away = trained / "away.gz"
    vectors.rename(away)
    yield vectors
    away.rename(vectors)


def portable(trained, data, package, files):
    """Package ``trained/run`` into ``package`` (whose files must be ``files``), move it, and check that it
    tags (predict) and scores (eval on ``data``) as the run does, with the vectors file gone."""
    run, notes = trained / "run", trained / "notes.txt"
    with_file = ok(invoke("predict", run, notes, "--output-format", "jsonl"))
    assert "take their vectors from" in with_file.stderr  # Lyon, Geneva, ... from the file
    scored = ok(invoke("eval", run, "--data", data, "--json"))
    built = package.parent / "built"
    done = ok(invoke("package", run, built))
    assert f"wrote {built}" in done.stdout
    built.rename(package)  # a package may be moved
    assert sorted(p.name for p in package.iterdir()) == sorted(files)
    vectors = trained / "vectors" / SHIPPED.name
    vectors.rename(trained / "away.gz")
    try:
        packaged = ok(invoke("predict", package, notes, "--output-format", "jsonl"))
        assert packaged.stdout == with_file.stdout and packaged.stderr == ""
        again = ok(invoke("eval", package, "--data", data, "--json"))
        assert json.loads(again.stdout) == json.loads(scored.stdout) and again.stderr == ""
        alone = ok(invoke("predict", run, notes, "--output-format", "jsonl"))  # the run itself: worse off
        assert "windowner: warning:" in alone.stderr
    finally:
        (trained / "away.gz").rename(vectors)


PACKAGE_FILES = [".windowner", "config.yaml", "features.json", "labels.json", "meta.json", "model.npz"]
PACKAGE_FILES += ["scores.json", "train_words.txt", "vocab.txt"]  # no last.npz, checkpoint, history


def test_a_package_tags_as_the_run_does_with_no_vectors_file(trained, tmp_path):
    run = trained / "run"
    package = tmp_path / "elsewhere" / "tagger"
    package.parent.mkdir()
    portable(trained, REPO / "data" / "wikigold" / "dev.conll", package, PACKAGE_FILES)
    words = set(load_run(package).vocab.words)
    assert {"lyon", "geneva", "oslo"} <= words and not {"lyon", "geneva"} & set(load_run(run).vocab.words)
    meta = json.loads((package / "meta.json").read_text(encoding="utf-8"))
    assert meta["task"] == "location" and meta["predicts"] == ["LOC"]
    assert meta["vectors"]["rows"] == len(words)


@pytest.fixture(scope="module")
def trained_documents(tmp_path_factory):
    """A tiny run with the document feature (:func:`helpers.documents_config`) whose vectors file is a
    copy that tests may move away."""
    folder = tmp_path_factory.mktemp("package-documents")
    vectors = folder / "vectors" / SHIPPED.name
    vectors.parent.mkdir()
    shutil.copyfile(SHIPPED, vectors)
    train(documents_config(folder, f"vectors.path={vectors}"), progress=False)
    (folder / "notes.txt").write_text(TEXT, encoding="utf-8")
    return folder


def test_a_package_of_a_run_with_the_document_feature_carries_its_first_pass(trained_documents, tmp_path):
    package = tmp_path / "elsewhere" / "tagger"
    package.parent.mkdir()
    files = [*PACKAGE_FILES, *FOLDS, "first_pass.json"]  # the folds' weights as the run recorded them
    portable(trained_documents, trained_documents / "dev.conll", package, files)
    for fold in FOLDS:  # without its half of the training data
        assert sorted(p.name for p in (package / fold).iterdir()) == sorted(
            set(PACKAGE_FILES) - {"scores.json"}
        )
    assert all(first.package is not None for first in load_run(package).first_passes)  # no vectors file read
    (package / "fold-even" / "notes.txt").write_text("mine", encoding="utf-8")
    ok(invoke("package", trained_documents / "run", package, "--overwrite"))  # the old folds replaced
    assert sorted(p.name for p in package.parent.iterdir()) == ["tagger"]  # no hidden folder left behind
    assert (package / "fold-even" / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert load_run(package).first_passes


def test_max_words_takes_the_first_words_of_the_file(trained, tmp_path):
    """geneva is line 4,209 of GloVe 6B (and of the shipped file), lyon line 6,632."""
    ok(invoke("package", trained / "run", tmp_path / "p", "--max-words", "5000"))
    words = set(load_run(tmp_path / "p").vocab.words)
    assert "geneva" in words and "lyon" not in words
    ok(invoke("package", trained / "run", tmp_path / "q", "--max-words", "0"))
    assert load_run(tmp_path / "q").vocab.words == load_run(trained / "run").vocab.words


def test_a_run_without_its_vectors_file_warns_with_the_cost(trained, moved, tmp_path):
    run = trained / "run"
    (tmp_path / "t.txt").write_text("Lyon Geneva Lyon Paris\n", encoding="utf-8")
    result = ok(invoke("predict", run, tmp_path / "t.txt"))
    assert result.stderr == (
        f"windowner: warning: {moved} (the run's vectors.path) is not here: 2 of the 3 distinct words of the"
        " input (3 of 4 tokens) are not in the run's vocabulary and read <unk>, where that file would have"
        " given a vector to those it holds: give the file (--vectors FILE), or where it is, make the run"
        f" carry its vectors: windowner package {run} OUT\n"
    )
    (tmp_path / "t.conll").write_text("Lyon B-LOC\nis O\nin O\nFrance B-LOC\n", encoding="utf-8")
    scored = ok(invoke("eval", run, "--data", tmp_path / "t.conll"))
    assert "windowner: warning:" in scored.stderr and "1 of the 4 distinct words" in scored.stderr
    quiet = ok(invoke("predict", run, tmp_path / "t.txt", "--vectors", "none"))  # asked for: no warning
    assert quiet.stderr == ""
    # packaging needs the vectors, or --max-words 0 (the run's own words)
    error(invoke("package", run, tmp_path / "p"), str(moved), "--vectors FILE", "--max-words 0")
    assert not (tmp_path / "p").exists()
    ok(invoke("package", run, tmp_path / "p", "--max-words", "0"))


def test_package_writes_only_where_it_may(trained, tmp_path):
    run = trained / "run"
    error(invoke("package", run, run), "the run folder itself")
    error(invoke("package", run, trained), "a folder that holds the run")
    (tmp_path / "file").write_text("x", encoding="utf-8")
    error(invoke("package", run, tmp_path / "file"), "is a file")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("mine", encoding="utf-8")
    error(invoke("package", run, mine, "--overwrite"), "did not write")
    assert [p.name for p in mine.iterdir()] == ["thesis.tex"]
    empty = tmp_path / "empty"
    empty.mkdir()
    ok(invoke("package", run, empty, "--max-words", "0"))
    error(
        invoke("package", run, empty, "--max-words", "0"), "already holds a windowner package", "--overwrite"
    )
    (empty / "NOTES.md").write_text("my notes", encoding="utf-8")
    ok(invoke("package", run, empty, "--overwrite", "--max-words", "100"))
    assert (empty / "NOTES.md").read_text(encoding="utf-8") == "my notes"  # a user's file moves along
    assert json.loads((empty / "meta.json").read_text(encoding="utf-8"))["vectors"]["max_words"] == 100
    error(invoke("package", run, tmp_path / "x", "--vectors", tmp_path / "absent.txt"), "absent.txt")


def test_a_failed_package_leaves_nothing(trained, tmp_path, monkeypatch):
    def broken(path, text):  # the disk fills up while meta.json is written
        with atomic_open(path) as file:
            file.write(text[:10])
            raise OSError(28, "No space left on device")

    monkeypatch.setattr("windowner.tagging.package.write_atomic", broken)
    result = invoke("package", trained / "run", tmp_path / "p", "--max-words", "0")
    assert result.exit_code == 1 and "No space left on device" in result.stderr
    assert list(tmp_path.iterdir()) == []  # no package, no half-built folder beside it, no lock


def test_a_damaged_meta_json_is_an_error_naming_it(trained, tmp_path):
    package = tmp_path / "p"
    ok(invoke("package", trained / "run", package, "--max-words", "0"))
    (package / "meta.json").write_text("[]\n", encoding="utf-8")
    error(invoke("predict", package, trained / "notes.txt"), str(package / "meta.json"))


def test_training_over_a_package_leaves_no_meta_json_behind(trained, tmp_path):
    """meta.json is a run file: a new run that replaces a package (--overwrite) does not inherit it, or it
    would pass for a package and never read its vectors file."""
    package = tmp_path / "p"
    ok(invoke("package", trained / "run", package, "--max-words", "0"))
    vectors = trained / "vectors" / SHIPPED.name
    options = ["--set", "train.epochs=1", "--set", "model.hidden=5", "--set", f"vectors.path={vectors}"]
    ok(invoke("train", "--config", DEFAULT, "--output", package, "--quiet", "--overwrite", *options))
    assert not (package / "meta.json").exists() and load_run(package).package is None


@pytest.mark.parametrize("kind", ["file", "link", "folder"])
def test_a_package_with_folds_refuses_yours_where_a_fold_goes(trained_documents, tmp_path, kind):
    package = tmp_path / "tagger"
    ok(invoke("package", trained_documents / "run", package))
    shutil.rmtree(package / "fold-even")
    if kind == "file":
        (package / "fold-even").write_text("mine\n")
    elif kind == "link":
        (package / "fold-even").symlink_to(tmp_path)
    else:
        (package / "fold-even").mkdir()
        (package / "fold-even" / "notes.txt").write_text("mine\n")
    error(invoke("package", trained_documents / "run", package, "--overwrite"), "fold-even: yours")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tagger"]  # nothing hidden beside it
    assert os.path.lexists(package / "fold-even")


def test_a_second_ctrl_c_in_a_package_swap_loses_none_of_your_files(trained, tmp_path, monkeypatch):
    from windowner.tagging import folders

    package = tmp_path / "tagger"
    ok(invoke("package", trained / "run", package))
    (package / "notes.txt").write_text("mine\n")
    (package / "mine").mkdir()
    (package / "mine" / "a.txt").write_text("mine too\n")
    real = os.rename
    calls = []

    def interrupted(source, target):  # Ctrl-C once the swap has moved your first entry into the new one
        calls.append(target)
        real(source, target)
        if len(calls) == 1:
            raise KeyboardInterrupt

    def interrupted_again(*args):  # and again while the swap undoes itself
        raise KeyboardInterrupt

    monkeypatch.setattr(folders.os, "rename", interrupted)
    monkeypatch.setattr(folders, "recover", interrupted_again)
    with pytest.raises(KeyboardInterrupt):
        from windowner.tagging.package import package_run

        package_run(trained / "run", package, overwrite=True)
    monkeypatch.undo()
    assert (package / "notes.txt").read_text() == "mine\n"
    assert (package / "mine" / "a.txt").read_text() == "mine too\n"
    ok(invoke("package", trained / "run", package, "--overwrite"))  # which tidies what the stop left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tagger"]
    assert (package / "notes.txt").read_text() == "mine\n"
