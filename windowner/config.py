"""The run configuration: a typed schema, YAML files, dotted overrides.

A config file describes a whole run (see ``configs/default.yaml``). It is read in three steps:

1. the YAML file; paths in it (``data.*``, ``vectors.path``) are relative to the file's folder;
2. ``--set KEY=VALUE`` overrides with dotted keys (``--set train.lr=0.01``), values read as YAML
   (paths given this way are relative to the current folder, as on any command line);
3. checking against the schema below: an unknown key, a value of the wrong type, a value out of range or
   not among the choices is a :class:`WindownerError` naming the key path.

Every key has a default except ``data.train`` and ``vectors.path``. The resolved config (every key, paths
made absolute) is saved with the model as ``config.yaml``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .conll import SCHEMES
from .errors import WindownerError
from .layers import ACTIVATIONS
from .optim import OPTIMIZERS
from .tasks import TASKS


def _option(default: Any, *, choices: tuple = (), minimum: float | None = None, path: bool = False) -> Any:
    return field(default=default, metadata={"choices": choices, "minimum": minimum, "path": path})


REQUIRED: Any = dataclasses.MISSING


@dataclass
class DataConfig:
    train: str = field(default=REQUIRED, metadata={"path": True})  # CoNLL file to train on
    dev: str | None = _option(None, path=True)  # evaluated after each epoch; picks the best epoch
    test: str | None = _option(None, path=True)  # evaluated once, with the best epoch's model
    scheme: str = _option("auto", choices=SCHEMES)  # tag encoding of the files


@dataclass
class VectorsConfig:
    path: str = field(default=REQUIRED, metadata={"path": True})  # GloVe or word2vec text (.gz allowed)
    lowercase: bool = True  # look words up lowercased (GloVe 6B is lowercase)
    normalize_digits: bool = True  # a word not found is retried with every digit replaced by 0
    keep: str = _option("data", choices=("data", "all"))  # keep only the data's words, or every vector
    cache: bool = True  # keep the parsed file in the vectors cache folder (see windowner.vectors)


@dataclass
class TaskConfig:
    name: str = _option("location", choices=TASKS)
    location_label: str = "LOC"  # the entity type that counts as a location


@dataclass
class ModelConfig:
    window: int = _option(2, minimum=0)  # words on each side of the centre word
    hidden: int = _option(100, minimum=1)  # size of the hidden layer h
    activation: str = _option("tanh", choices=tuple(ACTIVATIONS))  # the nonlinearity f in h = f(Wx + b)


@dataclass
class TrainConfig:
    epochs: int = _option(10, minimum=1)
    batch_size: int = _option(32, minimum=1)
    optimizer: str = _option("adam", choices=tuple(OPTIMIZERS))
    lr: float = _option(0.001, minimum=0.0)
    l2: float = _option(0.0, minimum=0.0)  # J += l2/2 (||W||^2 + ||U||^2)
    fine_tune: bool = True  # false: word vectors frozen, no gradient computed for them
    seed: int = _option(0, minimum=0)  # initialisation, unknown-word rows and shuffling


@dataclass
class Config:
    data: DataConfig
    vectors: VectorsConfig
    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output: str = "runs/default"  # the run folder, relative to the current folder

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
    return build(Config, raw, "")


def config_from_dict(raw: dict[str, Any]) -> Config:
    """Check a plain dictionary (a saved ``config.yaml``) against the schema."""
    return build(Config, raw, "")


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """The mapping a YAML config file holds; errors name the file (and the line of bad YAML)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WindownerError(f"{path}: no such config file") from None
    except (IsADirectoryError, UnicodeDecodeError) as err:
        raise WindownerError(f"{path}: cannot read the config file ({err})") from None
    try:
        raw = yaml.safe_load(text) or {}  # an empty file is an empty mapping
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise WindownerError(
            f"{path}{where}: not valid YAML ({getattr(err, 'problem', None) or 'syntax'})"
        ) from None
    if not isinstance(raw, dict):
        raise WindownerError(f"{path}: a config file must be a mapping of sections (data:, vectors:, ...)")
    return raw


def load_saved_config(path: Path) -> Config:
    """The resolved config a run folder saved (``config.yaml``); errors name the file."""
    try:
        return config_from_dict(read_yaml_mapping(path))
    except WindownerError as err:
        message = str(err)
        raise WindownerError(message if message.startswith(str(path)) else f"{path}: {message}") from None


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one ``section.key=value`` override to a raw (unchecked) config dictionary."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise WindownerError(f"override {item!r}: expected KEY=VALUE, for example train.lr=0.01")
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
            raise WindownerError(f"unknown config key {name!r}{_known(schema)}")
        if not dataclasses.is_dataclass(_field_type(schema, section)):
            raise WindownerError(f"config key {name!r} is a value, not a section: {key!r} names nothing")
        schema = _field_type(schema, section)
        child = node.setdefault(section, {})
        if not isinstance(child, dict):
            raise WindownerError(f"config key {'.'.join(sections[: depth + 1])!r} is not a section")
        node = child
    if last not in _fields(schema):
        raise WindownerError(f"unknown config key {key!r}{_known(schema)}")
    if _fields(schema)[last].metadata.get("path") and isinstance(value, str) and value:
        value = os.path.abspath(os.path.expanduser(value))  # relative to the current folder
    node[last] = value


def build(schema: Any, raw: Any, prefix: str) -> Any:
    """Check ``raw`` against the dataclass ``schema``; returns an instance or raises naming the key."""
    if not isinstance(raw, dict):
        raise WindownerError(f"config key {prefix.rstrip('.')!r} must be a section (a mapping)")
    fields = _fields(schema)
    for key in raw:
        if key not in fields:
            raise WindownerError(f"unknown config key {prefix + str(key)!r}{_known(schema)}")
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
        raise WindownerError(f"config key {key!r} must be a finite number, got {value!r}")
    if not isinstance(value, base) or (base is int and isinstance(value, bool)):
        names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
        raise WindownerError(f"config key {key!r} must be {names[base]}, got {value!r}")
    choices = meta.get("choices") or ()
    if choices and value not in choices:
        raise WindownerError(f"config key {key!r} must be one of {', '.join(choices)}; got {value!r}")
    minimum = meta.get("minimum")
    if minimum is not None and value < minimum:
        raise WindownerError(f"config key {key!r} must be at least {minimum}, got {value!r}")
    return value


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


def _fields(schema: Any) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(schema)}


def _field_type(schema: Any, name: str) -> Any:
    return typing.get_type_hints(schema)[name]


def _known(schema: Any) -> str:
    return f" (known keys here: {', '.join(_fields(schema))})"


def dump_config(config: Config) -> str:
    """The config as YAML text, sections in schema order."""
    return yaml.safe_dump(config.to_dict(), sort_keys=False)
