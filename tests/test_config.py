"""Tests of windowner.config: YAML files, relative paths, dotted overrides and the schema's checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from windowner.config import Config, config_from_dict, dump_config, load_config
from windowner.errors import WindownerError

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "configs" / "default.yaml"

MINIMAL = "data:\n  train: corpus/train.conll\nvectors:\n  path: vectors/v.txt\n"


@pytest.fixture
def minimal(write) -> Path:
    return write("configs/run.yaml", MINIMAL)


def error_of(call) -> str:
    with pytest.raises(WindownerError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, message
    return message


# ---------------------------------------------------------------------------------------------------------
# files and paths


def test_default_config_loads():
    config = load_config(DEFAULT)
    assert isinstance(config, Config)
    data = REPO / "data"
    assert Path(config.data.train).resolve() == data / "wikigold" / "train.conll"
    assert Path(config.data.dev).resolve() == data / "wikigold" / "dev.conll"
    assert Path(config.data.test).resolve() == data / "wikigold" / "test.conll"
    assert Path(config.vectors.path).resolve() == data / "glove" / "glove.6B.50d.wikigold.txt"
    for path in (config.data.train, config.data.dev, config.data.test, config.vectors.path):
        assert Path(path).is_absolute() and Path(path).is_file(), path
    assert config.task.name == "location" and config.task.location_label == "LOC"
    assert config.model.window == 2
    assert config.train.optimizer == "adam"
    assert isinstance(config.train.lr, float)
    assert config.train.fine_tune is False
    assert config.output == "runs/default"  # relative to the current folder, not the config's


def test_paths_are_relative_to_the_config_file(tmp_path, minimal, monkeypatch):
    monkeypatch.chdir(REPO)  # anywhere but the config's folder
    config = load_config(minimal)
    assert config.data.train == str(tmp_path / "configs" / "corpus" / "train.conll")
    assert config.vectors.path == str(tmp_path / "configs" / "vectors" / "v.txt")
    assert config.data.dev is None


def test_absolute_and_parent_paths(write, tmp_path):
    text = f"data:\n  train: ../train.conll\n  dev: {tmp_path}/dev.conll\nvectors:\n  path: v\n"
    path = write("a/b/run.yaml", text)
    config = load_config(path)
    assert Path(config.data.train).resolve() == tmp_path / "a" / "train.conll"
    assert config.data.dev == str(tmp_path / "dev.conll")


def test_defaults_fill_missing_keys(minimal):
    config = load_config(minimal)
    assert config.data.scheme == "auto"
    assert config.vectors.lowercase is True and config.vectors.keep == "data"
    assert (config.model.window, config.model.hidden) == (2, 100)
    assert (config.train.epochs, config.train.batch_size, config.train.lr) == (10, 32, 0.001)


def test_missing_config_file(tmp_path):
    message = error_of(lambda: load_config(tmp_path / "absent.yaml"))
    assert "absent.yaml" in message and "no such" in message


def test_config_file_that_is_not_a_mapping(write):
    path = write("list.yaml", "- data\n- vectors\n")
    assert "mapping" in error_of(lambda: load_config(path))


def test_empty_config_file_needs_data_train(write):
    path = write("empty.yaml", "")
    assert "'data.train'" in error_of(lambda: load_config(path))


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("data:\n  train: a.conll\n   dev: b.conll\n", 3),
        ("data:\n\ttrain: a.conll\n", 2),
        ("data:\n  train: a.conll\nvectors:\n  path: v.txt\ntrain: {lr: 0.1\n", 6),
    ],
)
def test_malformed_yaml_names_a_line(write, text, line):
    path = write("bad.yaml", text)
    message = error_of(lambda: load_config(path))
    assert message.startswith(f"{path}:{line}:"), message
    assert "YAML" in message


# ---------------------------------------------------------------------------------------------------------
# overrides


def test_overrides_convert_types(minimal):
    config = load_config(
        minimal,
        ["train.lr=0.01", "train.epochs=3", "train.fine_tune=true", "model.window=0", "task.name=entities"],
    )
    assert config.train.lr == 0.01 and isinstance(config.train.lr, float)
    assert config.train.epochs == 3 and isinstance(config.train.epochs, int)
    assert config.train.fine_tune is True
    assert config.model.window == 0
    assert config.task.name == "entities"


def test_int_is_accepted_for_a_float(minimal):
    config = load_config(minimal, ["train.lr=1", "train.l2=0"])
    assert config.train.lr == 1.0 and type(config.train.lr) is float
    assert config.train.l2 == 0.0 and type(config.train.l2) is float


def test_scientific_notation_is_a_number(minimal, write):
    # PyYAML reads "1e-3" (no dot) as a string; a learning rate written so must still be a number.
    assert load_config(minimal, ["train.lr=1e-3"]).train.lr == pytest.approx(0.001)
    path = write("sci.yaml", MINIMAL + "train:\n  lr: 5e-4\n")
    assert load_config(path).train.lr == pytest.approx(0.0005)


def test_later_overrides_win_and_override_the_file(write):
    path = write("run.yaml", MINIMAL + "train:\n  epochs: 7\n  lr: 0.5\n")
    config = load_config(path, ["train.epochs=2", "train.epochs=4"])
    assert config.train.epochs == 4
    assert config.train.lr == 0.5


def test_override_can_clear_an_optional_path(write):
    path = write("run.yaml", "data:\n  train: t.conll\n  dev: d.conll\nvectors:\n  path: v\n")
    assert load_config(path, ["data.dev=null"]).data.dev is None


def test_overrides_without_a_file(tmp_path):
    config = load_config(None, [f"data.train={tmp_path}/t.conll", f"vectors.path={tmp_path}/v.txt"])
    assert config.data.train == f"{tmp_path}/t.conll"


def test_override_paths_are_made_absolute_from_the_current_folder(minimal, tmp_path, monkeypatch):
    # The saved config.yaml is documented to hold every path made absolute; a path given with --set is
    # relative to the current folder.
    monkeypatch.chdir(tmp_path)
    config = load_config(minimal, ["data.dev=dev.conll"])
    assert config.data.dev == str(tmp_path / "dev.conll")


@pytest.mark.parametrize("item", ["train.lr", "train.lr 0.01", "=0.01", " =3"])
def test_override_without_equals_or_key(minimal, item):
    assert "KEY=VALUE" in error_of(lambda: load_config(minimal, [item]))


# ---------------------------------------------------------------------------------------------------------
# schema errors


@pytest.mark.parametrize(
    ("item", "key"),
    [
        ("foo=1", "'foo'"),
        ("train.foo=1", "'train.foo'"),
        ("model.hiden=50", "'model.hiden'"),
        ("nosection.key=1", "'nosection'"),
    ],
)
def test_unknown_override_key_names_it(minimal, item, key):
    message = error_of(lambda: load_config(minimal, [item]))
    assert "unknown config key" in message and key in message


@pytest.mark.parametrize(
    ("extra", "key"),
    [("seed: 3\n", "'seed'"), ("train:\n  lrate: 0.1\n", "'train.lrate'"), ("data2:\n  x: 1\n", "'data2'")],
)
def test_unknown_file_key_names_it(write, extra, key):
    path = write("run.yaml", MINIMAL + extra)
    message = error_of(lambda: load_config(path))
    assert "unknown config key" in message and key in message


def test_override_below_a_value_raises(minimal):
    error_of(lambda: load_config(minimal, ["train.lr.x=1"]))


@pytest.mark.parametrize(
    ("item", "key"),
    [
        ("train.epochs=abc", "'train.epochs'"),
        ("train.epochs=1.5", "'train.epochs'"),
        ("train.epochs=true", "'train.epochs'"),
        ("train.fine_tune=1", "'train.fine_tune'"),
        ("train.lr=fast", "'train.lr'"),
        ("task.location_label=[LOC]", "'task.location_label'"),
        ("train.lr=null", "'train.lr'"),
        ("train=5", "'train'"),
    ],
)
def test_wrong_type_names_the_key(minimal, item, key):
    assert key in error_of(lambda: load_config(minimal, [item]))


def test_wrong_type_in_the_file_names_the_key(write):
    path = write("run.yaml", MINIMAL + "model:\n  window: two\n")
    assert "'model.window'" in error_of(lambda: load_config(path))


@pytest.mark.parametrize(
    ("item", "key", "choice"),
    [
        ("task.name=foo", "'task.name'", "entities"),
        ("train.optimizer=adamw", "'train.optimizer'", "sparse_adam"),
        ("train.loss=hinge", "'train.loss'", "margin"),
        ("train.schedule.name=cosine", "'train.schedule.name'", "cyclic"),
        ("model.init=he", "'model.init'", "xavier_normal"),
        ("model.decode=beam", "'model.decode'", "viterbi"),
        ("data.scheme=bio", "'data.scheme'", "iobes"),
        ("vectors.keep=some", "'vectors.keep'", "all"),
        ("model.activation=swish", "'model.activation'", "leaky_relu"),
    ],
)
def test_choice_violations(minimal, item, key, choice):
    message = error_of(lambda: load_config(minimal, [item]))
    assert key in message and choice in message


@pytest.mark.parametrize(
    "item",
    [
        "train.epochs=0",
        "train.batch_size=0",
        "model.hidden=0",
        "model.window=-1",
        "train.lr=-1",
        "train.l2=-2",
    ],
)
def test_minimum_violations(minimal, item):
    key = item.split("=")[0]
    message = error_of(lambda: load_config(minimal, [item]))
    assert f"'{key}'" in message and "at least" in message


def test_minimum_is_inclusive(minimal):
    config = load_config(minimal, ["train.epochs=1", "model.window=0", "train.lr=0", "train.l2=0"])
    assert (config.train.epochs, config.model.window, config.train.lr) == (1, 0, 0.0)


def test_missing_data_train(write):
    path = write("run.yaml", "data:\n  dev: d.conll\nvectors:\n  path: v\n")
    message = error_of(lambda: load_config(path))
    assert "'data.train'" in message and "required" in message


def test_missing_vectors_path(write):
    path = write("run.yaml", "data:\n  train: t.conll\n")
    message = error_of(lambda: load_config(path))
    assert "'vectors.path'" in message and "required" in message


# ---------------------------------------------------------------------------------------------------------
# dump and reload


def test_dump_then_config_from_dict_roundtrips():
    config = load_config(DEFAULT, ["train.lr=0.02", "task.name=entities", "model.window=1", "data.test=null"])
    text = dump_config(config)
    assert text.startswith("data:")
    again = config_from_dict(yaml.safe_load(text))
    assert again == config
    assert again != load_config(DEFAULT)


def test_config_from_dict_checks_the_schema():
    raw = load_config(DEFAULT).to_dict()
    raw["train"]["epochs"] = 0
    assert "'train.epochs'" in error_of(lambda: config_from_dict(raw))
