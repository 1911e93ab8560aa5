"""The gazetteer feature: longest matches left to right, case-insensitive, entries tokenised as text is;
its classes and windows; the config keys; a run folder that carries its lists and predicts the same
elsewhere."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from test_cli import assert_ok, assert_one_line_error

from windowner.base.errors import WindownerError
from windowner.cli.main import main
from windowner.config import load_config
from windowner.data.features import FEATURES, PAD
from windowner.data.gazetteer import Gazetteer, Gazetteers
from windowner.data.vocab import SPECIALS, Vocabulary
from windowner.data.windows import sentence_windows
from windowner.tagging.tagger import load_run

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "configs" / "default.yaml"
PLACES = (
    "# invented test list\nNew York\nYork\nNew York City\n\nHoly City of Jerusalem\nSt. Louis\n"
    "Guinea-Bissau\n"
)


def status(gazetteer: Gazetteer, line: str) -> str:
    return " ".join("OBI"[s] for s in gazetteer.match(line.split()))


def test_longest_match_left_to_right():
    places = Gazetteer("LOC", PLACES)
    assert status(places, "I left New York City for York") == "O O B I I O B"
    assert status(places, "the Holy City of Jerusalem and New York .") == "O B I I I O B I O"
    assert status(places, "Holy City of Rome") == "O O O O"  # a prefix of an entry is no match
    assert status(places, "New New York York") == "O B I B"  # matching goes on after a match
    assert status(places, "") == ""


def test_matching_is_case_insensitive_by_casefold():
    places = Gazetteer("LOC", "New York\nStraße\n")
    assert status(places, "NEW YORK new york New YORK") == "B I B I B I"
    assert status(places, "STRASSE strasse") == "B B"  # casefold: ß is ss


def test_entries_are_tokenised_as_raw_text_is():
    places = Gazetteer("LOC", PLACES)
    assert len(places) == 6  # comment and blank lines skipped
    assert status(places, "to St. Louis and Guinea-Bissau") == "O B I O B"
    assert status(places, "Guinea - Bissau") == "O O O"  # the data's token, not its pieces


def test_a_token_of_every_list_and_the_classes():
    lists = Gazetteers({"LOC": Gazetteer("LOC", "Paris\n"), "PER": Gazetteer("PER", "Paris Hilton\n")})
    assert len(lists.classes) == 1 + 9 and lists.classes[0] == PAD
    assert lists.classes[1:4] == ("LOC:O|PER:O", "LOC:O|PER:B", "LOC:O|PER:I")
    keys = lists.keys(["Paris", "Hilton", "in", "Paris"])
    assert keys == ["LOC:B|PER:B", "LOC:O|PER:I", "LOC:O|PER:O", "LOC:B|PER:O"]
    assert all(key in lists.classes for key in keys)


def test_windows_read_the_class_of_each_token():
    lists = Gazetteers({"LOC": Gazetteer("LOC", "New York\n")})
    vocab = Vocabulary([*SPECIALS, "new", "york"])
    windows = sentence_windows([["in", "New", "York"]], vocab, 1, {"gazetteer": lists.classes}, lists)
    assert windows.shape == (3, 2, 3)
    names = [[lists.classes[c] for c in row] for row in windows[:, 1]]
    assert names[1] == ["LOC:O", "LOC:B", "LOC:I"] and names[0][0] == PAD and names[2][2] == PAD
    with pytest.raises(ValueError, match="lists"):  # without the run's lists the feature cannot encode
        FEATURES["gazetteer"].keys(["York"])


def test_a_list_without_entries_is_an_error(write):
    path = write("empty.txt", "# only a comment\n\n")
    with pytest.raises(WindownerError, match="empty.txt: the gazetteer LOC has no entry"):
        Gazetteers.read({"LOC": path})
    with pytest.raises(WindownerError, match="missing.txt: no such file"):
        Gazetteers.read({"LOC": path.parent / "missing.txt"})


def config_text(lists: str, dim: int = 2) -> str:
    head = "data: {train: t.conll}\nvectors: {path: v.txt}\n"
    return f"{head}model:\n  features: {{gazetteer: {dim}}}\n{lists}"


def test_config_paths_are_relative_to_the_config_file(write, tmp_path, monkeypatch):
    path = write("sub/config.yaml", config_text("  gazetteers: {LOC: lists/places.txt}\n"))
    config = load_config(path)
    assert config.model.gazetteers == {"LOC": str(tmp_path / "sub" / "lists" / "places.txt")}
    monkeypatch.chdir(tmp_path)  # given with --set: relative to the current folder
    config = load_config(path, ["model.gazetteers={CITY: mine.txt}"])
    assert config.model.gazetteers == {"CITY": str(tmp_path / "mine.txt")}
    assert load_config(path, ["model.gazetteers=null", "model.features.gazetteer=0"]).model.gazetteers == {}


@pytest.mark.parametrize(
    "lists, needle",
    [
        ("", "'model.features.gazetteer' is on and model.gazetteers names no list"),
        ("  gazetteers: [a.txt]\n", "'model.gazetteers' must be a mapping"),
        ("  gazetteers: {'a/b': x.txt}\n", "the label 'a/b' must be letters"),
        ("  gazetteers: {LOC: 3}\n", "'model.gazetteers.LOC' must be a path"),
        ("  gazetteers: {LOC: ''}\n", "'model.gazetteers.LOC' must not be empty"),
    ],
)
def test_config_errors_name_the_key(write, lists, needle):
    path = write("config.yaml", config_text(lists))
    with pytest.raises(WindownerError, match=needle.replace("[", r"\[")):
        load_config(path)


@pytest.fixture(scope="module")
def gazetteer_run(tmp_path_factory) -> Path:
    """A one-epoch run of the default config with a list of places (invented, and a few of Wikigold's
    own spellings of real places) beside it."""
    folder = tmp_path_factory.mktemp("gazetteer")
    places = folder / "places.txt"
    places.write_text(PLACES + "Germany\nEngland\nLondon\nUnited States\n", encoding="utf-8")
    output = folder / "run"
    args = ["train", "--config", str(DEFAULT), "--output", str(output), "--quiet", "--set", "train.epochs=1"]
    args += ["--set", "model.features.gazetteer=3", "--set", f"model.gazetteers={{LOC: {places}}}"]
    assert_ok(CliRunner().invoke(main, args))
    places.unlink()  # the run must not need the original
    return output


def test_a_run_carries_its_lists_and_predicts_the_same_elsewhere(gazetteer_run, tmp_path):
    saved = yaml.safe_load((gazetteer_run / "config.yaml").read_text())
    assert saved["model"]["gazetteers"] == {"LOC": "gazetteers.json"}  # relative to the run folder
    lists = json.loads((gazetteer_run / "gazetteers.json").read_text(encoding="utf-8"))
    assert list(lists) == ["LOC"] and lists["LOC"].startswith("# invented test list\nNew York\n")
    features = json.loads((gazetteer_run / "features.json").read_text())
    assert features["gazetteer"] == [PAD, "LOC:O", "LOC:B", "LOC:I"]
    sentences = [["Rain", "in", "New", "York", "City", "and", "London", "."], ["St.", "Louis", "won"]]
    tagger = load_run(gazetteer_run)
    assert tagger.model.params["E_gazetteer"].shape == (4, 3)
    windows = tagger.windows(sentences)
    assert windows[:, 2, 2].tolist() == [1, 1, 2, 3, 3, 1, 2, 1, 2, 3, 1]  # centre words' classes
    moved = tmp_path / "elsewhere"
    shutil.copytree(gazetteer_run, moved)
    other = load_run(moved)
    assert other.predict(sentences) == tagger.predict(sentences)
    np.testing.assert_array_equal(other.windows(sentences), windows)


def test_a_run_whose_features_json_disagrees_with_its_lists_is_an_error(gazetteer_run, tmp_path):
    moved = tmp_path / "run"
    shutil.copytree(gazetteer_run, moved)
    (moved / "gazetteers.json").write_text('{"ORG": "Acme"}')
    with pytest.raises(WindownerError, match="gazetteers.json: holds no list LOC .it has ORG."):
        load_run(moved)
    (moved / "gazetteers.json").unlink()
    with pytest.raises(WindownerError, match="gazetteers.json: no such file"):
        load_run(moved)
    shutil.copytree(gazetteer_run, tmp_path / "other")
    features = tmp_path / "other" / "features.json"
    value = json.loads(features.read_text())
    value["gazetteer"] = value["gazetteer"][:3]
    features.write_text(json.dumps(value))
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "other"), "-"], input="Paris\n")
    assert_one_line_error(result, "features.json: the gazetteer classes are not those of the lists")


def test_resume_reads_the_run_s_copies(gazetteer_run, tmp_path):
    moved = tmp_path / "run"
    shutil.copytree(gazetteer_run, moved)
    before = load_run(moved).model.params["E_gazetteer"].copy()
    result = CliRunner().invoke(main, ["train", "--resume", str(moved), "--set", "train.epochs=2", "--quiet"])
    assert_ok(result)
    after = load_run(moved)
    assert after.gazetteers is not None and not np.array_equal(after.model.params["E_gazetteer"], before)
    assert yaml.safe_load((moved / "config.yaml").read_text())["model"]["gazetteers"] == {
        "LOC": "gazetteers.json"
    }


def test_lists_of_a_feature_that_is_off_are_neither_read_nor_saved(gazetteer_run, tmp_path):
    tagger = load_run(gazetteer_run)
    model = dataclasses.replace(tagger.config.model, gazetteers={"LOC": str(tmp_path / "gone.txt")})
    model = dataclasses.replace(model, features=dataclasses.replace(model.features, gazetteer=0))
    off = dataclasses.replace(tagger, config=dataclasses.replace(tagger.config, model=model), gazetteers=None)
    off.save_metadata(tmp_path / "run")
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["model"]["gazetteers"] == {}
    assert not (tmp_path / "run" / "gazetteers.json").exists()


def test_a_package_of_the_run_carries_its_lists(gazetteer_run, tmp_path):
    result = CliRunner().invoke(
        main, ["package", str(gazetteer_run), str(tmp_path / "package"), "--max-words", "0"]
    )
    assert_ok(result)
    assert (tmp_path / "package" / "gazetteers.json").read_bytes() == (
        gazetteer_run / "gazetteers.json"
    ).read_bytes()
    sentences = [["Rain", "in", "New", "York", "City", "and", "London", "."], ["St.", "Louis", "won"]]
    packaged, run = load_run(tmp_path / "package"), load_run(gazetteer_run)
    np.testing.assert_array_equal(packaged.windows(sentences), run.windows(sentences))
    assert packaged.predict(sentences) == run.predict(sentences)
