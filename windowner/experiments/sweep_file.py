"""A sweep file, read and checked: the base config, the space of config keys, the seeds of each trial,
the dev metric, the budget and the pruning (``docs/experiments.md`` "Sweeps"). Every error names the file
and the key. :mod:`windowner.experiments.sweep` runs the sweep it describes."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..base.errors import WindownerError, quote
from ..base.yaml_file import read_yaml_mapping
from ..config import Config, load_config
from ..data.conll import entity_type, read_conll
from .seeds import parse_seeds

SEARCHES = ("grid", "random", "tpe")
KEYS = ("config", "set", "output", "name", "search", "space", "seeds", "metric", "trials", "timeout")
KEYS += ("prune", "sampler_seed")


@dataclass
class Sweep:
    """A sweep file, checked: ``space`` maps each config key to a list of values (a grid, or choices)
    or a range ``{"low", "high", "log", "step"}``."""

    path: Path
    config: Path
    overrides: list[str]
    output: Path
    name: str
    search: str
    space: dict[str, Any]
    seeds: list[int]
    metric: str
    location_label: str
    trials: int | None
    timeout: float | None
    prune: dict[str, int] | None
    sampler_seed: int
    base: Config = field(repr=False)

    def signature(self) -> dict[str, Any]:
        """What makes the sweep the same one (saved in ``sweep.json`` and in the study)."""
        return {
            "config": str(self.config),
            "set": self.overrides,
            "search": self.search,
            "space": self.space,
            "seeds": self.seeds,
            "metric": self.metric,
            "location_label": self.location_label,
            "trials": self.trials,
            "prune": self.prune,
            "sampler_seed": self.sampler_seed,
        }

    def grid(self) -> list[dict[str, Any]]:
        """Every combination of the space's values, the last key varying fastest."""
        points: list[dict[str, Any]] = [{}]
        for key, values in self.space.items():
            points = [{**point, key: value} for point in points for value in values]
        return points


def parse_duration(value: Any, where: str) -> float:
    """Seconds from ``3600``, ``90s``, ``45m``, ``2h``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", str(value))
    if not match or float(match[1]) <= 0:
        raise WindownerError(f"{where}: expected a time such as 3600, 90m or 2h, got {quote(value)}")
    return float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file; every error names the file and the key."""
    path = Path(path)
    raw = read_yaml_mapping(path)
    unknown = [key for key in raw if key not in KEYS]
    if unknown:
        raise WindownerError(f"{path}: unknown key {quote(unknown[0])} (known keys: {', '.join(KEYS)})")
    for key in ("config", "space"):
        if key not in raw:
            raise WindownerError(f"{path}: {key!r} is missing")
    config = (path.parent / str(raw["config"])).resolve()
    overrides = raw.get("set") or []
    if not isinstance(overrides, list) or not all(isinstance(item, str) for item in overrides):
        raise WindownerError(f"{path}: 'set' must be a list of KEY=VALUE strings")
    try:
        base = load_config(config, overrides)
    except WindownerError as err:
        raise WindownerError(f"{path}: 'config' and 'set': {err}") from None
    search = raw.get("search", "grid")
    if search not in SEARCHES:
        raise WindownerError(f"{path}: 'search' must be one of {', '.join(SEARCHES)}, got {quote(search)}")
    space = raw["space"]
    if not isinstance(space, dict) or not space:
        raise WindownerError(f"{path}: 'space' must map config keys to values, e.g. train.lr: [0.001, 0.003]")
    space = {
        str(key): _check_space(path, str(key), spec, search, config, overrides) for key, spec in space.items()
    }
    seeds_value = raw.get("seeds", [0])
    if isinstance(seeds_value, list):
        seeds_value = ",".join(map(str, seeds_value))
    try:
        seeds = parse_seeds(str(seeds_value))
    except WindownerError as err:
        raise WindownerError(f"{path}: 'seeds': {err}") from None
    metric = str(raw.get("metric", "micro"))
    _check_metric(path, metric, base)
    trials = raw.get("trials")
    if search != "grid" and trials is None:
        raise WindownerError(f"{path}: 'trials' is missing: a {search} search needs a budget of trials")
    if trials is not None and (not isinstance(trials, int) or isinstance(trials, bool) or trials < 1):
        raise WindownerError(f"{path}: 'trials' must be a positive number, got {quote(trials)}")
    timeout = parse_duration(raw["timeout"], f"{path}: 'timeout'") if raw.get("timeout") else None
    prune = raw.get("prune") or None
    if prune is not None:
        if not isinstance(prune, dict) or set(prune) - {"epoch", "startup"} or "epoch" not in prune:
            raise WindownerError(f"{path}: 'prune' must be {{epoch: K}} or {{epoch: K, startup: N}}")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in prune.values()):
            raise WindownerError(f"{path}: 'prune' takes whole numbers: epoch K ≥ 1, startup trials N ≥ 0")
        prune = {"epoch": max(1, prune["epoch"]), "startup": prune.get("startup", 5)}
    output = Path(str(raw.get("output", f"runs/{path.stem}")))
    name = str(raw.get("name", output.name))
    sampler_seed = raw.get("sampler_seed", 0)
    if not isinstance(sampler_seed, int):
        raise WindownerError(f"{path}: 'sampler_seed' must be a whole number")
    label = base.task.location_label
    return Sweep(
        path, config, overrides, output, name, search, space, seeds, metric, label, trials, timeout, prune,
        sampler_seed, base,
    )  # fmt: skip


def _check_metric(path: Path, metric: str, base: Config) -> None:
    """The metric must be a dev score the trials will have: micro, tokens, or an entity type they score
    (of the dev file's; the location task scores its location type only)."""
    if base.data.dev is None:
        raise WindownerError(
            f"{path}: the base config has no dev file (data.dev): a sweep maximises a dev score"
        )
    if metric in ("micro", "tokens"):
        return
    if base.task.name == "location":
        types = {base.task.location_label}
    else:
        types = {entity_type(tag) for s in read_conll(base.data.dev, base.data.scheme) for tag in s.tags} - {
            ""
        }
    if metric not in types:
        raise WindownerError(
            f"{path}: 'metric' {quote(metric)} is not a dev score of the trials (micro, tokens, or an entity"
            f" type: {', '.join(sorted(types))})"
        )


def _check_space(path: Path, key: str, spec: Any, search: str, config: Path, overrides: list[str]) -> Any:
    """A space entry, checked: its values (or a range's bounds) make a valid config."""
    where = f"{path}: space {quote(key)}"
    if isinstance(spec, list):
        if not spec:
            raise WindownerError(f"{where}: no values")
        values = spec
    elif (
        isinstance(spec, dict)
        and "choices" in spec
        and set(spec) == {"choices"}
        and isinstance(spec["choices"], list)
    ):
        if search == "grid":
            spec = spec["choices"]
        values = spec["choices"] if isinstance(spec, dict) else spec
    elif isinstance(spec, dict) and {"low", "high"} <= set(spec) <= {"low", "high", "log", "step"}:
        if search == "grid":
            raise WindownerError(
                f"{where}: a grid takes a list of values, not a range (search: random or tpe)"
            )
        low, high = spec["low"], spec["high"]
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
        if not numbers or low >= high:
            raise WindownerError(f"{where}: expected numbers low < high, got {quote(low)} and {quote(high)}")
        if spec.get("log") and low <= 0:
            raise WindownerError(f"{where}: a log scale needs low > 0")
        values = [low, high]
    else:
        raise WindownerError(
            f"{where}: expected a list of values, {{choices: [...]}}"
            " or a range {low: A, high: B, log: true}"
        )
    if key in ("output", "train.seed"):
        raise WindownerError(f"{where}: the sweep sets {key} itself (seeds: the seeds of each trial)")
    for value in values:
        if isinstance(value, (dict, list)):
            raise WindownerError(f"{where}: a value must be a number, a string, true/false or null")
        try:
            load_config(config, [*overrides, f"{key}={json.dumps(value)}"])
        except WindownerError as err:
            raise WindownerError(f"{where}: {err}") from None
    return spec
