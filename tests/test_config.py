"""Tests of windowner.config: YAML files, relative paths, dotted overrides and the schema's checks."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from windowner.base.errors import WindownerError
from windowner.config import Config, check_output, config_from_dict, dump_config, load_config

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


def _marked_keys(path: Path) -> dict[str, bool]:
    """Every value key of a shipped config file (dotted) and whether its comment starts with "changed"."""
    keys, sections = {}, []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0]
        if not text.strip():
            continue
        depth = (len(text) - len(text.lstrip())) // 2
        key, _, value = text.strip().partition(":")
        sections[depth:] = [key]
        if value.strip():
            comment = line.split("#", 1)[1].strip() if "#" in line else ""
            keys[".".join(sections)] = comment.startswith("changed")
    return keys


@pytest.mark.parametrize("name", ["default.yaml", "entities.yaml"])
def test_shipped_configs_mark_what_they_change(name):
    """A key marked "changed" differs from the value it takes when left out, and every key that differs
    is marked (paths and the required keys aside)."""
    path = REPO / "configs" / name
    config = load_config(path).to_dict()
    minimal = load_config(None, [f"data.train={DEFAULT}", f"vectors.path={DEFAULT}"]).to_dict()
    for key, marked in _marked_keys(path).items():
        if key in ("data.train", "data.dev", "data.test", "vectors.path"):
            continue
        *sections, last = key.split(".")
        value, default = config, minimal
        for section in sections:
            value, default = value[section], default[section]
        changed = value[last] != default[last]
        assert marked == changed, f"{name}: {key} is {value[last]!r}, left out {default[last]!r}"


def test_the_two_wikigold_configs_differ_only_in_the_task():
    default = load_config(DEFAULT).to_dict()
    entities = load_config(REPO / "configs" / "entities.yaml").to_dict()
    assert default["task"]["name"] == "location" and entities["task"]["name"] == "entities"
    assert entities["output"] == "runs/entities"
    for section in ("task", "output"):
        default.pop(section), entities.pop(section)
    assert default == entities


def test_default_config_loads():
    config = load_config(DEFAULT)
    assert isinstance(config, Config)
    data = REPO / "data"
    assert Path(config.data.train).resolve() == data / "wikigold" / "train.conll"
    assert Path(config.data.dev).resolve() == data / "wikigold" / "dev.conll"
    assert Path(config.data.test).resolve() == data / "wikigold" / "test.conll"
    assert Path(config.vectors.path).resolve() == data / "glove" / "glove.6B.50d.20k.txt.gz"
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


@pytest.mark.parametrize("text", ["- data\n- vectors\n", "just a string\n", "42\n"])
def test_config_file_that_is_not_a_mapping(write, text):
    path = write("list.yaml", text)
    message = error_of(lambda: load_config(path))
    assert message.startswith(f"{path}: ") and "mapping" in message


@pytest.mark.parametrize(("text", "key"), [("1: a\n", "'1'"), ("data:\n  null: a\n", "'data.None'")])
def test_a_key_that_is_not_a_string(write, text, key):
    path = write("keys.yaml", text)
    message = error_of(lambda: load_config(path))
    assert "unknown config key" in message and key in message


def test_a_config_directory(tmp_path):
    message = error_of(lambda: load_config(tmp_path))
    assert message.startswith(f"{tmp_path}: is a directory")


def test_a_bad_byte_in_a_config_file_names_its_line(write):
    # Before: "cannot read the config file ('utf-8' codec can't decode byte 0xe9 in position 41: ...)".
    path = write("run.yaml", data=MINIMAL.encode() + "model:\n  activation: t\u00e9nh\n".encode("latin-1"))
    message = error_of(lambda: load_config(path))
    assert message.startswith(f"{path}:6: not UTF-8 text"), message


@pytest.mark.parametrize(
    ("data", "kind"),
    [(b"PK\x03\x04\x14\x00", "zip archive"), (b"\x89PNG\r\n\x1a\n", "PNG image"), (b"a: 1\x00", "binary")],
)
def test_a_binary_config_file(write, data, kind):
    path = write("run.yaml", data=data)
    message = error_of(lambda: load_config(path))
    assert message.startswith(f"{path}: ") and kind in message and "YAML" in message


def test_a_control_character_in_a_config_file_names_its_line(write):
    path = write("run.yaml", MINIMAL + "model:\n  activation: t\x01nh\n")
    message = error_of(lambda: load_config(path))
    assert message.startswith(f"{path}:6: not valid YAML"), message


def test_a_deeply_nested_config_file(write):
    path = write("deep.yaml", "[" * 10_000 + "]" * 10_000)
    assert error_of(lambda: load_config(path)).startswith(f"{path}")


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


@pytest.mark.parametrize(
    ("text", "key", "lines"),
    [
        ("train:\n  lr: 0.1\n  epochs: 3\n  lr: 0.5\n", "train.lr", "lines 6 and 8"),  # after MINIMAL
        ("train:\n  epochs: 3\ntrain:\n  lr: 0.5\n", "train", "lines 5 and 7"),
        ("model:\n  features: {case: 4, case: 8}\n", "model.features.case", "both on line 6"),
        ("data:\n  dev: a.conll\n", "data", "lines 1 and 5"),
    ],
)
def test_a_key_given_twice_in_a_file_names_both_lines(write, text, key, lines):
    # Before: YAML kept the last value silently (train.lr 0.5 above).
    path = write("run.yaml", MINIMAL + text)
    message = error_of(lambda: load_config(path))
    line = lines.split()[-1]
    assert message == f"{path}:{line}: config key '{key}' is given twice ({lines}): keep one", message


def test_keys_merged_from_an_anchor_are_not_duplicates(write):
    text = "defaults: &d {lr: 0.1, epochs: 3}\n"
    path = write("run.yaml", text + "train:\n  <<: *d\n  lr: 0.5\n")
    from windowner.base.yaml_file import read_yaml_mapping

    assert read_yaml_mapping(path)["train"] == {"lr": 0.5, "epochs": 3}


def test_a_saved_config_with_a_key_twice_is_refused(write):
    from windowner.config import load_saved_config

    path = write("run/config.yaml", MINIMAL + "train:\n  lr: 0.1\n  lr: 0.2\n")
    assert error_of(lambda: load_saved_config(path)).startswith(
        f"{path}:7: config key 'train.lr' is given twice"
    )


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
        "train.l2=-2",
        "train.seed=-1",
    ],
)
def test_minimum_violations(minimal, item):
    key = item.split("=")[0]
    message = error_of(lambda: load_config(minimal, [item]))
    assert f"'{key}'" in message and "at least" in message


def test_minimum_is_inclusive(minimal):
    config = load_config(minimal, ["train.epochs=1", "model.window=0", "train.l2=0", "train.seed=0"])
    assert (config.train.epochs, config.model.window, config.train.l2) == (1, 0, 0.0)


@pytest.mark.parametrize("value", ["0", "0.0", "-0.001", "-1"])
def test_a_learning_rate_must_be_positive(minimal, value):
    # lr = 0 was accepted: a run that trains nothing and says "saved".
    message = error_of(lambda: load_config(minimal, [f"train.lr={value}"]))
    assert "'train.lr'" in message and "greater than 0" in message
    assert load_config(minimal, ["train.lr=1e-9"]).train.lr == 1e-9


@pytest.mark.parametrize(
    ("items", "needle"),
    [
        (["train.schedule.factor=0"], "'train.schedule.factor' must be greater than 0"),  # lr 0 after `every`
        (["model.init_range=0"], "'model.init_range' must be greater than 0"),  # every hidden unit alike
        (["train.schedule.max_lr=0"], "'train.schedule.max_lr' must be greater than 0"),
        (
            ["train.schedule.name=cyclic", "train.schedule.max_lr=0.0005"],
            "'train.schedule.max_lr' (0.0005) is the upper bound of the cyclic schedule: it must be at least"
            " train.lr (0.001), the lower",
        ),
    ],
)
def test_values_that_cannot_train_are_refused(minimal, items, needle):
    assert needle in error_of(lambda: load_config(minimal, items))


def test_max_lr_below_lr_matters_only_to_the_cyclic_schedule(minimal):
    config = load_config(minimal, ["train.schedule.max_lr=0.0001", "train.schedule.name=step"])
    assert config.train.schedule.max_lr < config.train.lr
    assert load_config(minimal, ["train.schedule.name=cyclic", "train.schedule.max_lr=0.001"])


@pytest.mark.parametrize(
    ("item", "limit"),
    [("model.hidden=100000000000", "100,000"), ("model.window=1000000", "50")],
)
def test_sizes_beyond_any_use_are_refused(minimal, item, limit):
    # hidden=1e11 asked numpy for 182 TiB and was reported as an internal error to report.
    key = item.split("=")[0]
    message = error_of(lambda: load_config(minimal, [item]))
    assert f"'{key}'" in message and f"at most {limit}" in message
    assert load_config(minimal, ["model.hidden=100000", "model.window=50"]).model.hidden == 100_000


@pytest.mark.parametrize(
    ("item", "needle"),
    [
        ("output=", "'output' must not be empty"),
        ("data.train=", "'data.train' must not be empty"),
        ("vectors.path=", "'vectors.path' must not be empty"),
        ("data.dev=", "'data.dev' must not be empty (null for none)"),
        ("data.test=''", "'data.test' must not be empty (null for none)"),
        ("task.location_label=", "'task.location_label' must not be empty"),
        ("task.location_label=New York", "'task.location_label' must be one word"),
    ],
)
def test_empty_strings_where_they_mean_nothing(minimal, item, needle):
    # data.train= read the current folder ("is a directory"); location_label= crashed in the metrics.
    assert needle in error_of(lambda: load_config(minimal, [item]))


def test_an_override_that_is_not_utf8(minimal):
    # A command-line argument with a byte that is not UTF-8 arrives as a surrogate escape; it could not be
    # saved in config.yaml (UnicodeEncodeError after the training had started).
    item = b"data.train=\xff.conll".decode("utf-8", "surrogateescape")
    message = error_of(lambda: load_config(minimal, [item]))
    assert "not UTF-8" in message and "override" in message


def test_a_config_file_in_a_folder_whose_name_is_not_utf8(tmp_path):
    folder = tmp_path / b"r\xe9sum\xe9".decode("utf-8", "surrogateescape")
    folder.mkdir()
    (folder / "run.yaml").write_text(MINIMAL, encoding="utf-8")
    message = error_of(lambda: load_config(folder / "run.yaml"))
    assert "'data.train'" in message and "not UTF-8" in message


def test_long_values_are_not_echoed_whole(minimal):
    message = error_of(lambda: load_config(minimal, ["train.optimizer=" + "a" * 1_000_000]))
    assert "'train.optimizer'" in message and "(1,000,000 characters)" in message and len(message) < 300
    message = error_of(lambda: load_config(minimal, ["train.epochs=[" + "1," * 100_000 + "1]"]))
    assert "'train.epochs'" in message and len(message) < 300
    message = error_of(lambda: load_config(minimal, ["x" * 100_000 + "=1"]))
    assert "unknown config key" in message and len(message) < 300


def test_missing_data_train(write):
    path = write("run.yaml", "data:\n  dev: d.conll\nvectors:\n  path: v\n")
    message = error_of(lambda: load_config(path))
    assert "'data.train'" in message and "required" in message


def test_missing_vectors_path(write):
    path = write("run.yaml", "data:\n  train: t.conll\n")
    message = error_of(lambda: load_config(path))
    assert "'vectors.path'" in message and "required" in message


# ---------------------------------------------------------------------------------------------------------
# the output folder

RUN_FILES = ("model.npz", "config.yaml", "vocab.txt")


@pytest.mark.parametrize(
    ("output", "needle"),
    [
        ("", "is empty"),
        ("  ", "is empty"),
        (".", "is the current folder"),
        ("./", "is the current folder"),
        ("here/..", "is the current folder"),
        ("..", "holds the current folder"),
        ("/", "holds the current folder"),
    ],
)
def test_output_folders_a_run_must_not_write_into(minimal, tmp_path, monkeypatch, output, needle):
    # --output '' trained into the current folder and replaced a user's own config.yaml.
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    config = dataclasses.replace(load_config(minimal), output=output)
    assert needle in error_of(lambda: check_output(config, RUN_FILES, minimal))


def test_output_that_would_replace_an_input(write, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write("project/config.yaml", MINIMAL)
    config = dataclasses.replace(load_config(path), output="project")
    message = error_of(lambda: check_output(config, RUN_FILES, path))
    assert "config.yaml" in message and "input" in message
    data = write("data/vocab.txt", "")  # a data file named as a run file, in the output folder
    config = dataclasses.replace(load_config(path, [f"data.dev={data}"]), output=str(tmp_path / "data"))
    assert "vocab.txt" in error_of(lambda: check_output(config, RUN_FILES, path))


def test_output_that_is_a_file_or_not_utf8(minimal, write):
    config = load_config(minimal)
    existing = write("taken.txt", "")
    assert "is a file" in error_of(
        lambda: check_output(dataclasses.replace(config, output=str(existing)), [])
    )
    name = b"r\xe9sultats".decode("utf-8", "surrogateescape")  # as a shell passes a latin-1 name
    assert "not UTF-8" in error_of(lambda: check_output(dataclasses.replace(config, output=name), []))


def test_output_folders_that_are_fine(minimal, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for output in ("runs/default", "run", str(tmp_path / "elsewhere"), "configs"):
        check_output(dataclasses.replace(load_config(minimal), output=output), RUN_FILES, minimal)


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
