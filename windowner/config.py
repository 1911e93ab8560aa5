"""Part of windowner.config."""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .base.errors import WindownerError, quote
from .base.schema import REQUIRED, option
from .base.yaml_file import read_yaml_mapping
from .data.conll import SCHEMES
from .data.gazetteer import check_label
from .data.spans import DATA_FORMATS
from .network.losses import LOSSES
from .network.shape import ModelConfig
from .network.tasks import TASKS
from .optim import OPTIMIZERS
from .optim.schedules import SCHEDULES

MAX_FOLDS = 10  # train.first_pass_folds at most


@dataclass
class DataConfig:
    train: str = field(default=REQUIRED, metadata={"path": True})  # CoNLL file to train on
    dev: str | None = option(None, path=True)  # evaluated after each epoch; picks the best epoch
    test: str | None = option(None, path=True)  # evaluated once, with the best epoch's model
    scheme: str = option("auto", choices=SCHEMES)  # tag encoding of the files
    format: str = option("auto", choices=DATA_FORMATS)  # conll, jsonl (text and spans), auto: by name


@dataclass
class VectorsConfig:
    path: str = field(default=REQUIRED, metadata={"path": True})  # GloVe or word2vec text (.gz allowed)
    lowercase: bool = True  # look words up lowercased (GloVe 6B is lowercase)
    normalize_digits: bool = True  # a word not found is retried with every digit replaced by 0
    keep: str = option("data", choices=("data", "all"))  # keep only the data's words, or every vector
    new_words: int = option(0, minimum=0)  # a training word without a vector seen this often gets a row
    cache: bool = True  # keep the parsed file in the vectors cache folder (see windowner.vectors)


@dataclass
class TaskConfig:
    name: str = option("location", choices=TASKS)
    location_label: str = option("LOC", word=True)  # the entity type that counts as a location
    other_types: bool = False  # location task: learn every type, predict the location's (entities: moot)


@dataclass
class ScheduleConfig:
    name: str = option("constant", choices=SCHEDULES)
    factor: float = option(0.5, above=0.0)  # step: lr *= factor every `every` epochs (0: lr 0)
    every: int = option(1, minimum=1)  # step: epochs between two changes
    rate: float = option(0.1, minimum=0.0)  # exponential: lr0 * exp(-rate * epochs done)
    max_lr: float = option(0.005, above=0.0)  # cyclic: the upper bound, at least train.lr (the lower)
    half_cycle: int = option(2000, minimum=1)  # cyclic: steps from the lower bound to the upper


@dataclass
class TrainConfig:
    epochs: int = option(10, minimum=1)
    first_pass_epochs: int = option(0, minimum=0)  # model.features.document: its first-pass runs' (0: epochs)
    first_pass_folds: int = option(2, minimum=2, maximum=MAX_FOLDS)  # model.features.document: its folds
    batch_size: int = option(32, minimum=1)
    loss: str = option("softmax", choices=tuple(LOSSES))  # logistic and margin: location task only
    corruptions: int = option(1, minimum=1)  # margin: corrupted copies of each true window
    optimizer: str = option("adam", choices=tuple(OPTIMIZERS))
    lr: float = option(0.001, above=0.0)  # 0 would train nothing
    momentum: float = option(0.0, minimum=0.0, maximum=0.999)  # sgd: the momentum mu
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    l2: float = option(0.0, minimum=0.0)  # J += l2/2 (||W||^2 + ||U||^2)
    l2_vectors: float = option(0.0, minimum=0.0)  # J += l2_vectors/2 ||E[rows] - E0[rows]||^2, batch rows
    average: float = option(0.0, minimum=0.0, maximum=0.99999)  # EMA decay of the weights evaluated (0: off)
    fine_tune: bool = True  # false: word vectors frozen, no gradient computed for them
    seed: int = option(0, minimum=0)  # initialisation, unknown-word rows, shuffling, dropout
    select: str = "micro"  # the dev F1 that picks the best epoch: micro, a type (LOC, ...), or tokens
    patience: int = option(0, minimum=0)  # stop after this many epochs without a better dev score (0: never)
    threads: int = option(0, minimum=0)  # BLAS threads (0: automatic); WINDOWNER_THREADS overrides


@dataclass
class Config:
    data: DataConfig
    vectors: VectorsConfig
    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output: str = option("runs/default", nonempty=True)  # the run folder, relative to the current folder

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_config(path: str | Path | None = None, overrides: typing.Sequence[str] = ()) -> Config:
    """Read a YAML config file (or start from nothing), apply ``KEY=VALUE`` overrides, check the result."""
    raw: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        raw = read_yaml_mapping(path)
        _resolve_paths(raw, Config, path.parent.resolve(), "")
    for item in overrides:
        apply_override(raw, item)
    return config_from_dict(raw)


def config_from_dict(raw: dict[str, Any]) -> Config:
    """Check a plain dictionary (a saved ``config.yaml``) against the schema."""
    config = build(Config, raw, "")
    check_together(config)
    return config


def check_together(config: Config) -> None:
    """Values that are fine alone and cannot train together."""
    if config.model.features.gazetteer and not config.model.gazetteers:
        raise WindownerError(
            "config key 'model.features.gazetteer' is on and model.gazetteers names no list:"
            " give model.gazetteers {LABEL: path, ...} (data/gazetteers/ has lists of places)"
        )
    schedule, lr = config.train.schedule, config.train.lr
    if schedule.name == "cyclic" and schedule.max_lr < lr:
        raise WindownerError(
            f"config key 'train.schedule.max_lr' ({schedule.max_lr:g}) is the upper bound of the cyclic"
            f" schedule: it must be at least train.lr ({lr:g}), the lower"
        )


def load_saved_config(path: Path, overrides: typing.Sequence[str] = ()) -> Config:
    """The resolved config a run folder saved (``config.yaml``), with ``KEY=VALUE`` overrides; errors
    name the file."""
    raw = read_yaml_mapping(path)
    for item in overrides:
        apply_override(raw, item)
    try:
        return config_from_dict(raw)
    except WindownerError as err:
        message = str(err)
        raise WindownerError(message if message.startswith(str(path)) else f"{path}: {message}") from None


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested sections as dotted keys: ``{"train": {"lr": 0.1}}`` → ``{"train.lr": 0.1}``."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one ``section.key=value`` override to a raw (unchecked) config dictionary."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise WindownerError(f"override {quote(item)}: expected KEY=VALUE, for example train.lr=0.01")
    try:
        item.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 on the command line (surrogate escapes)
        raise WindownerError(f"override {quote(item)}: not UTF-8 text") from None
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    *sections, last = key.split(".")
    node = raw
    schema: Any = Config
    for depth, section in enumerate(sections):
        name = ".".join(sections[: depth + 1])
        if section not in _fields(schema):
            raise WindownerError(f"unknown config key {quote(name)}{_known(schema)}")
        if not dataclasses.is_dataclass(_field_type(schema, section)):
            raise WindownerError(f"config key {name!r} is a value, not a section: {quote(key)} names nothing")
        schema = _field_type(schema, section)
        child = node.setdefault(section, {})
        if not isinstance(child, dict):
            raise WindownerError(f"config key {'.'.join(sections[: depth + 1])!r} is not a section")
        node = child
    if last not in _fields(schema):
        raise WindownerError(f"unknown config key {quote(key)}{_known(schema)}")
    if _fields(schema)[last].metadata.get("path") and isinstance(value, str) and value:
        value = os.path.abspath(os.path.expanduser(value))  # relative to the current folder
    if _fields(schema)[last].metadata.get("path") and isinstance(value, dict):  # {label: path}
        value = {
            k: os.path.abspath(os.path.expanduser(v)) if isinstance(v, str) and v else v
            for k, v in value.items()
        }
    node[last] = value


def build(schema: Any, raw: Any, prefix: str) -> Any:
    """Check ``raw`` against the dataclass ``schema``; returns an instance or raises naming the key."""
    if not isinstance(raw, dict):
        raise WindownerError(f"config key {prefix.rstrip('.')!r} must be a section (a mapping)")
    fields = _fields(schema)
    for key in raw:
        if key not in fields:
            raise WindownerError(f"unknown config key {quote(prefix + str(key))}{_known(schema)}")
    values = {}
    for name, spec in fields.items():
        kind = _field_type(schema, name)
        if name not in raw:
            if spec.default is REQUIRED and spec.default_factory is REQUIRED:
                if dataclasses.is_dataclass(kind):
                    values[name] = build(kind, {}, f"{prefix}{name}.")
                    continue
                raise WindownerError(f"config key {prefix + name!r} is required")
            continue
        if dataclasses.is_dataclass(kind):
            values[name] = build(kind, raw[name], f"{prefix}{name}.")
        else:
            values[name] = _check_value(prefix + name, raw[name], kind, spec.metadata)
    return schema(**values)


def _check_value(key: str, value: Any, kind: Any, meta: Any) -> Any:
    if typing.get_origin(kind) is dict:
        return _check_paths(key, value)
    optional = type(None) in typing.get_args(kind)
    base = next((t for t in typing.get_args(kind) if t is not type(None)), kind)
    if value is None:
        if optional:
            return None
        raise WindownerError(f"config key {key!r} must not be empty")
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if base is float and isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    if base is float and isinstance(value, float) and not math.isfinite(value):
        raise WindownerError(f"config key {key!r} must be a finite number, got {quote(value)}")
    if not isinstance(value, base) or (base is int and isinstance(value, bool)):
        names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
        raise WindownerError(f"config key {key!r} must be {names[base]}, got {quote(value)}")
    if base is str:
        _check_text(key, value, meta, optional)
    choices = meta.get("choices") or ()
    if choices and value not in choices:
        raise WindownerError(f"config key {key!r} must be one of {', '.join(choices)}; got {quote(value)}")
    minimum, above, maximum = meta.get("minimum"), meta.get("above"), meta.get("maximum")
    if minimum is not None and value < minimum:
        raise WindownerError(f"config key {key!r} must be at least {minimum:g}, got {quote(value)}")
    if above is not None and value <= above:
        raise WindownerError(f"config key {key!r} must be greater than {above:g}, got {quote(value)}")
    if maximum is not None and value > maximum:
        raise WindownerError(f"config key {key!r} must be at most {maximum:,}, got {quote(value)}")
    return value


def _check_paths(key: str, value: Any) -> dict[str, str]:
    """A mapping of labels (words) to paths (model.gazetteers); null or ``{}`` for none."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WindownerError(f"config key {key!r} must be a mapping {{LABEL: path, ...}}, got {quote(value)}")
    for label, path in value.items():
        check_label(label, key)
        if not isinstance(path, str):
            raise WindownerError(f"config key '{key}.{label}' must be a path, got {quote(path)}")
        _check_text(f"{key}.{label}", path, {"path": True}, False)
    return dict(value)


def _check_text(key: str, value: str, meta: Any, optional: bool) -> None:
    """A string value: UTF-8 (it is saved in config.yaml), not empty where that means nothing, one word."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a path or argument with bytes that are not UTF-8 (surrogate escapes)
        raise WindownerError(f"config key {key!r}: {quote(value)} is not UTF-8 text") from None
    if value == "" and (meta.get("nonempty") or meta.get("path")):
        hint = " (null for none)" if optional else ""
        raise WindownerError(f"config key {key!r} must not be empty{hint}")
    if meta.get("word") and (value.split() != [value]):
        raise WindownerError(f"config key {key!r} must be one word without spaces, got {quote(value)}")


def check_output(
    config: Config, written: typing.Collection[str], config_path: str | Path | None = None
) -> None:
    """Refuse an output folder a run must not write into, before anything is read or written.

    ``written`` are the names of the files a run writes there. Refused: an empty ``output`` (it would be
    the current folder), the current folder or a folder that holds it (a run's config.yaml once replaced
    a user's own), and a folder where a run file would replace one of the run's inputs (``config_path``,
    the data files, the vectors file).
    """
    if not config.output.strip():
        raise WindownerError("the output folder (output, or --output) is empty: give the run a folder")
    try:
        config.output.encode("utf-8")
    except UnicodeEncodeError:  # it is saved in config.yaml
        raise WindownerError(f"the output folder {quote(config.output)} is not UTF-8 text") from None
    output = Path(config.output).expanduser().resolve()
    if output.exists() and not output.is_dir():
        raise WindownerError(f"the output folder {config.output!r} is a file")
    here = Path.cwd().resolve()
    if output == here or output in here.parents:
        where = "the current folder" if output == here else "a folder that holds the current folder"
        raise WindownerError(
            f"the output folder {config.output!r} is {where}: give the run a folder of its own"
        )
    inputs = [config_path, config.data.train, config.data.dev, config.data.test, config.vectors.path]
    for path in filter(None, inputs):
        name = Path(path).name
        if name in written and Path(path).expanduser().resolve() == output / name:
            raise WindownerError(
                f"the output folder {config.output!r} holds {path}, an input of this run, which the run's"
                f" {name} would replace: give the run a folder of its own"
            )


INPUT_KEYS = ("data.train", "data.dev", "data.test", "vectors.path")  # the files a run reads


def check_inputs(config: Config) -> None:
    """Refuse, naming the config key, an input file (:data:`INPUT_KEYS`) that is not there or is a folder.

    A copied config's relative paths otherwise fail as a bare "no such file" that names no key: the paths
    of a config file are relative to the file's folder, those of ``--set`` to the current folder.
    """
    for key in INPUT_KEYS:
        section, name = key.split(".")
        path = getattr(getattr(config, section), name)
        if path is None:
            continue
        target = Path(path).expanduser()
        if target.is_file() or (target.exists() and not target.is_dir()):
            continue
        what = "is a folder, not a file" if target.is_dir() else "no such file"
        raise WindownerError(
            f"config key {key!r}: {path}: {what} (a relative path in a config file is relative to the"
            " config file's folder; given with --set, to the current folder)"
        )


def _resolve_paths(raw: dict[str, Any], schema: Any, base: Path, prefix: str) -> None:
    """Make the path-valued keys of a config file absolute, relative to the file's folder."""
    fields = _fields(schema)
    for key, value in raw.items():
        if key not in fields:
            continue  # reported by build() with the full list of keys
        kind = _field_type(schema, key)
        if dataclasses.is_dataclass(kind) and isinstance(value, dict):
            _resolve_paths(value, kind, base, f"{prefix}{key}.")
        elif fields[key].metadata.get("path") and isinstance(value, str) and value:
            raw[key] = os.path.normpath(base / Path(value).expanduser())
        elif fields[key].metadata.get("path") and isinstance(value, dict):  # {label: path}
            raw[key] = {
                k: os.path.normpath(base / Path(v).expanduser()) if isinstance(v, str) and v else v
                for k, v in value.items()
            }


def _fields(schema: Any) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(schema)}


def _field_type(schema: Any, name: str) -> Any:
    return _type_hints(schema)[name]


@functools.cache
def _type_hints(schema: Any) -> dict[str, Any]:
    """The field types of a config section: its annotations (strings, by ``from __future__ import
    annotations``) evaluated once, not once a key (59 evaluations a config made loading a run slow)."""
    return typing.get_type_hints(schema)


def _known(schema: Any) -> str:
    return f" (known keys here: {', '.join(_fields(schema))})"


def dump_config(config: Config) -> str:
    """The config as YAML text, sections in schema order."""
    return dump_mapping(config.to_dict())


def dump_mapping(raw: dict[str, Any]) -> str:
    """A config's mapping (:meth:`Config.to_dict`, or a saved ``config.yaml`` read back) as YAML text,
    its keys in their order."""
    return yaml.safe_dump(raw, sort_keys=False)
