"""``windowner sweep SWEEP.yaml``: a search over config keys on Optuna, each trial a seed group.

A sweep file names a base config, the space (config keys and their values), the seeds of each trial, the
dev score to maximise, the budget and the pruning (see ``docs/experiments.md``). Each trial trains the
base config with the trial's values, once per seed (:func:`windowner.experiments.seeds.train_seeds`),
into ``SWEEP/trial-NNNN/seed-N``; its value is the mean over the seeds of the best epoch's dev score.

The study lives in Optuna's storage, the one place the workers coordinate through:

* by default a journal file in the sweep folder (``optuna.journal``, Optuna's ``JournalFileBackend``),
  which the workers of one machine append to under a file lock. Not SQLite: several processes writing one
  SQLite file wait on its single write lock and fail with "database is locked" when one waits too long,
  and SQLite's locks are not safe on a network file system; Optuna's documentation advises the journal for
  processes sharing a file. ``--workers N`` starts N worker processes of one BLAS thread each.
* ``--storage URL`` (``postgresql://...``, ``mysql://...``): the workers of many machines, each started
  with the same command, join the same study. A trial's run folder goes under the sweep folder of the
  machine that runs it (a shared file system makes it one folder; else each machine keeps its trials and
  ``windowner compare`` takes the folders together).

Grid points are queued in the study when it is made (by the one worker that makes it), and a worker takes
a queued trial atomically, so no point runs twice. A worker that dies (``kill -9``, a lost machine) leaves
its trial RUNNING; the next worker to start a trial marks it FAIL (a worker of the same host whose process
is gone; on a database also a trial whose heartbeat stopped) and queues a retry, which resumes the dead
trial's run folder from its checkpoints: a killed trial is never counted as done and never run twice.
Ctrl-C stops a worker after its current batch (a checkpoint is saved) and queues its trial's retry; running
the command again goes on. Random and TPE search stop once ``trials`` trials have been started (a killed
trial and its retry count once; workers that start at the same moment may add one each); ``timeout``
stops each worker from starting a trial after that time.

Pruning (``prune: {epoch: k}``) is Optuna's median rule: from epoch k on, a trial whose first seed's dev
score at an epoch is below the median of the finished trials' at that epoch is stopped (its run stays,
resumable, without ``scores.json``).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..base.errors import WindownerError, quote
from ..base.files import read_json, write_atomic
from ..config import Config, load_config, read_yaml_mapping
from ..data.conll import entity_type, read_conll
from .compare import SWEEP_FILE, TRIAL_FILE
from .seeds import parse_seeds, train_seeds

MISSING = "windowner sweep needs Optuna, which is not installed: pip install 'windowner[sweep]'"
JOURNAL_FILE = "optuna.journal"
SEARCHES = ("grid", "random", "tpe")
KEYS = ("config", "set", "output", "name", "search", "space", "seeds", "metric", "trials", "timeout")
KEYS += ("prune", "sampler_seed")
READY_WAIT = 120.0  # seconds a worker waits for the one that makes the study to queue the grid
WORKER_VARIABLE = "WINDOWNER_SWEEP_WORKER"  # set in the worker processes of --workers N: their number
STORAGE_ATTEMPTS = 4  # connecting to the database, should workers that start together collide
HEARTBEAT = 20  # seconds between a database worker's heartbeats; a trial without one for 3x is dead


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise WindownerError(MISSING) from None
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


class Surplus(Exception):
    """A grid trial that found the queue empty (workers asked at the same moment): marked failed."""


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


def _suggest(trial: Any, key: str, spec: Any) -> Any:
    if isinstance(spec, list):
        return trial.suggest_categorical(key, spec)
    if "choices" in spec:
        return trial.suggest_categorical(key, spec["choices"])
    low, high, log = spec["low"], spec["high"], bool(spec.get("log", False))
    if isinstance(low, int) and isinstance(high, int) and isinstance(spec.get("step", 1), int):
        return trial.suggest_int(key, low, high, step=spec.get("step", 1), log=log)
    return trial.suggest_float(key, float(low), float(high), step=spec.get("step"), log=log)


def trial_config(sweep: Sweep, params: dict[str, Any], folder: Path) -> Config:
    """The base config with the trial's values, writing to ``folder``."""
    items = [f"{key}={json.dumps(value)}" for key, value in params.items()]
    return load_config(sweep.config, [*sweep.overrides, *items, f"output={folder}"])


def masked(url: str) -> str:
    """A database URL without its password, to show."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def open_storage(sweep: Sweep, url: str | None) -> Any:
    """The study's storage: the journal file of the sweep folder, or the database at ``url``."""
    optuna = _optuna()
    if url is None:
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        sweep.output.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(sweep.output / JOURNAL_FILE)))
    callback = "heartbeat_stale_trial_callback"  # Optuna >= 4.9; before: failed_trial_callback
    if callback not in inspect.signature(optuna.storages.RDBStorage).parameters:
        callback = "failed_trial_callback"
    heartbeat = {"heartbeat_interval": HEARTBEAT, "grace_period": 3 * HEARTBEAT, callback: _retry_stale}
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            return optuna.storages.RDBStorage(url, **heartbeat)
        except ImportError:  # the database's driver
            raise WindownerError(
                f"--storage {masked(url)}: its database driver is not installed: for PostgreSQL"
                " pip install 'psycopg[binary]', for MySQL pip install pymysql"
            ) from None
        except Exception as err:  # sqlalchemy's: a bad URL, no server; or another worker making the tables
            if attempt + 1 == STORAGE_ATTEMPTS:
                message = str(err).splitlines()[0] if str(err) else type(err).__name__
                raise WindownerError(f"--storage {masked(url)}: {message}") from None
            time.sleep(0.5 + attempt)  # workers started together on an empty database: one makes the tables
    raise AssertionError("unreachable")  # pragma: no cover


def trial_seeded_sampler(seed: int) -> Any:
    """A random sampler whose draws for a trial depend on ``seed`` and the trial's number only, not on
    the worker that runs it: workers never draw the same values, and a sweep draws the same values
    whatever its number of workers (Optuna's RandomSampler(seed) would give every worker one sequence)."""
    optuna = _optuna()

    class TrialSeededSampler(optuna.samplers.BaseSampler):
        def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
            return {}

        def sample_relative(self, study: Any, trial: Any, search_space: dict[str, Any]) -> dict[str, Any]:
            return {}

        def sample_independent(self, study: Any, trial: Any, name: str, distribution: Any) -> Any:
            key = int.from_bytes(hashlib.sha256(f"{seed}/{trial.number}/{name}".encode()).digest()[:4], "big")
            return optuna.samplers.RandomSampler(seed=key).sample_independent(
                study, trial, name, distribution
            )

    return TrialSeededSampler()


def _sampler(sweep: Sweep) -> Any:
    optuna = _optuna()
    if sweep.search == "tpe":  # its first (random) trials would repeat in every worker with one seed
        seed = hash((sweep.sampler_seed, socket.gethostname(), os.getpid())) % 2**32
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    return trial_seeded_sampler(sweep.sampler_seed)  # grid trials come from the queue


def _pruner(sweep: Sweep) -> Any:
    optuna = _optuna()
    if sweep.prune is None:
        return optuna.pruners.NopPruner()
    # prune at epoch k (step k) and after: n_warmup_steps = k - 1
    return optuna.pruners.MedianPruner(
        n_startup_trials=sweep.prune["startup"], n_warmup_steps=sweep.prune["epoch"] - 1
    )


def open_study(sweep: Sweep, storage: Any) -> Any:
    """Make the study (and queue the grid) or join it; a study of another sweep file is an error."""
    optuna = _optuna()
    signature = json.loads(json.dumps(sweep.signature()))
    try:
        study = optuna.create_study(
            storage=storage, study_name=sweep.name, direction="maximize", sampler=_sampler(sweep),
            pruner=_pruner(sweep),
        )  # fmt: skip
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(
            study_name=sweep.name, storage=storage, sampler=_sampler(sweep), pruner=_pruner(sweep)
        )
        waited = time.monotonic()
        while "ready" not in study.user_attrs:  # the maker is queueing the grid
            if time.monotonic() - waited > READY_WAIT:
                raise WindownerError(
                    f"the study {sweep.name!r} was never made ready (its first worker stopped while it"
                    " queued the grid?): delete it (its journal file) or give the sweep another name"
                ) from None
            time.sleep(0.2)
        if study.user_attrs.get("sweep") != signature:
            raise WindownerError(  # noqa: B904 - the study exists: that is no error of its own
                f"{sweep.path}: the study {sweep.name!r} was started by another sweep (other settings):"
                " give this sweep another name (name:) or output folder"
            )
        return study
    study.set_user_attr("sweep", signature)
    if sweep.search == "grid":
        for number, point in enumerate(sweep.grid()):
            study.enqueue_trial(point, user_attrs={"grid": number})
    study.set_user_attr("ready", True)
    return study


def _alive(host: str, pid: int) -> bool:
    """Whether the worker ``pid`` of ``host`` may still run (another host's: not known here, so yes)."""
    if host != socket.gethostname():
        return True
    if pid == os.getpid():
        return False  # a trial this process left RUNNING is not running now: it is between trials
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped by its parent) is dead
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _retry(study: Any, trial: Any) -> None:
    """Queue a trial again, to resume its run folder (same origin)."""
    attrs = {"retry_of": trial.user_attrs.get("retry_of", trial.number)}
    if "grid" in trial.user_attrs:
        attrs["grid"] = trial.user_attrs["grid"]
    study.enqueue_trial(trial.params, user_attrs=attrs)


def _retry_stale(study: Any, trial: Any) -> None:
    """The database's heartbeat found ``trial`` dead (marked FAIL): queue its retry."""
    if trial.params:
        _retry(study, trial)


def fail_dead_trials(study: Any) -> list[int]:
    """Mark FAIL the RUNNING trials whose worker process on this host is gone, and queue their retries;
    returns their numbers (only the worker that marks a trial queues it)."""
    optuna = _optuna()
    TrialState = optuna.trial.TrialState
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        host, pid = trial.user_attrs.get("host"), trial.user_attrs.get("pid")
        if host is None or pid is None or _alive(host, pid):
            continue
        try:
            if not study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker marked it first
        _retry(study, trial)
        failed.append(trial.number)
    return failed


def started(trials: Sequence[Any]) -> int:
    """Trials counted against the budget: one per origin (a killed trial and its retries count once),
    surplus grid trials aside."""
    return len({t.user_attrs.get("retry_of", t.number) for t in trials if not t.user_attrs.get("surplus")})


def _metric_value(summary: dict[str, Any], sweep: Sweep) -> float:
    key = (
        f"dev.tokens.{sweep.location_label}.f1"
        if sweep.metric == "tokens"
        else f"dev.entities.{sweep.metric}.f1"
    )
    if key not in summary["scores"]:
        raise WindownerError(f"{sweep.path}: metric {sweep.metric!r}: the trials' dev scores have no {key}")
    return summary["scores"][key]["mean"]


def _epoch_value(record: dict[str, Any], sweep: Sweep) -> float | None:
    dev = record.get("dev")
    if dev is None:
        return None
    if sweep.metric == "tokens":
        return dev["tokens"][sweep.location_label]["f1"]
    return dev["entities"].get(sweep.metric, {"f1": 0.0})["f1"]


def _write_trial(folder: Path, **fields: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / TRIAL_FILE, json.dumps(fields, indent=2) + "\n")


def _objective(sweep: Sweep, say: Callable[[str], Any], note: Callable[[str], Any], quiet: bool) -> Callable:
    optuna = _optuna()

    def objective(trial: Any) -> float:
        if sweep.search == "grid" and "grid" not in trial.user_attrs:
            trial.set_user_attr("surplus", True)
            raise Surplus("the grid had no point left")
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        origin = trial.user_attrs.get("retry_of", trial.number)
        params = {key: _suggest(trial, key, spec) for key, spec in sweep.space.items()}
        folder = sweep.output / f"trial-{origin:04d}"
        settings = ", ".join(f"{key}={value}" for key, value in params.items())
        record = {"number": trial.number, "origin": origin, "params": params, "seeds": sweep.seeds}
        _write_trial(folder, **record, state="running")
        again = f" (retry of trial {origin})" if origin != trial.number else ""
        say(f"trial {trial.number}{again}: {settings} -> {folder}")

        def report(seed: int, epoch_record: dict[str, Any]) -> None:
            value = _epoch_value(epoch_record, sweep)
            if seed != sweep.seeds[0] or value is None:
                return
            trial.report(value, epoch_record["epoch"])
            if trial.should_prune():
                raise optuna.TrialPruned(
                    f"epoch {epoch_record['epoch']}: dev {sweep.metric} F1 {100 * value:.2f}"
                )

        echo = (lambda line: None) if quiet else (lambda line: say(f"  {line}"))
        try:
            config, again = trial_config(sweep, params, folder), f"windowner sweep {sweep.path}"
            summary = train_seeds(config, sweep.seeds, False, echo, False, note, True, report, again)
        except optuna.TrialPruned as pruned:
            _write_trial(folder, **record, state="pruned", detail=str(pruned))
            say(f"trial {trial.number}: pruned at {pruned}")
            raise
        except KeyboardInterrupt:
            _retry(trial.study, trial)  # this worker queues its own trial again: a rerun resumes it
            _write_trial(folder, **record, state="interrupted")
            raise
        except WindownerError as err:
            _write_trial(folder, **record, state="failed", error=str(err))
            say(f"trial {trial.number}: failed: {err}")
            raise
        value = _metric_value(summary, sweep)
        _write_trial(folder, **record, state="complete", value=value)
        say(
            f"trial {trial.number}: dev {sweep.metric} F1 {100 * value:.2f}"
            f" (mean of {len(sweep.seeds)} seeds)"
        )
        return value

    return objective


def work(sweep: Sweep, study: Any, say: Callable[[str], Any], note: Callable[[str], Any], quiet: bool) -> int:
    """One worker: trials until the grid's queue is empty, the budget is spent or the time is up; returns
    the number of trials it ran."""
    optuna = _optuna()
    TrialState = optuna.trial.TrialState
    objective = _objective(sweep, say, note, quiet)
    began, ran = time.monotonic(), 0
    while True:
        for number in fail_dead_trials(study):
            note(f"trial {number}'s worker is gone: marked failed, queued again")
        trials = study.get_trials(deepcopy=False)
        if sweep.search == "grid":
            if not any(t.state == TrialState.WAITING for t in trials):
                break
        elif (
            sweep.trials is not None
            and started(trials) >= sweep.trials
            and not any(t.state == TrialState.WAITING for t in trials)
        ):
            break
        if sweep.timeout is not None and time.monotonic() - began >= sweep.timeout:
            note(f"the sweep's timeout ({sweep.timeout:g} s) is up: this worker starts no more trials")
            break
        study.optimize(objective, n_trials=1, catch=(WindownerError, Surplus), gc_after_trial=False)
        ran += 1
    return ran


def best_line(study: Any, sweep: Sweep) -> str:
    optuna = _optuna()
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not done:
        return "no trial has finished yet"
    best = max(done, key=lambda t: t.value)
    settings = ", ".join(f"{key}={value}" for key, value in best.params.items())
    return (
        f"{len(done)} trials finished; best: trial {best.number} ({settings}), dev {sweep.metric} F1"
        f" {100 * best.value:.2f}; windowner compare {sweep.output} shows them all"
    )


def check_folder(sweep: Sweep) -> None:
    """The sweep folder holds this sweep or nothing of a sweep: ``sweep.json`` is written the first time."""
    path = sweep.output / SWEEP_FILE
    record = {**sweep.signature(), "name": sweep.name, "file": str(sweep.path)}
    if path.is_file():
        old = read_json(path)
        same = isinstance(old, dict) and {k: old.get(k) for k in sweep.signature()} == json.loads(
            json.dumps(sweep.signature())
        )
        if not same:
            raise WindownerError(
                f"{sweep.output} holds another sweep ({path}): give this one another output folder"
            )
        return
    sweep.output.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(record, indent=2) + "\n")


def run_sweep(
    path: str | Path,
    workers: int = 1,
    storage_url: str | None = None,
    say: Callable[[str], Any] = print,
    note: Callable[[str], Any] = print,
    quiet: bool = False,
) -> None:
    """``windowner sweep``: one worker in this process, or ``workers`` worker processes."""
    sweep = load_sweep(path)
    _optuna()
    check_folder(sweep)
    study = open_study(sweep, open_storage(sweep, storage_url))
    label = os.environ.get(WORKER_VARIABLE)
    if label:  # a worker process of --workers N: its lines say which worker, its parent sums up
        work(sweep, study, lambda line: say(f"worker {label}: {line}"), note, quiet)
        return
    where = masked(storage_url) if storage_url else str(sweep.output / JOURNAL_FILE)
    size = f"{len(sweep.grid())} grid points" if sweep.search == "grid" else f"{sweep.trials} trials"
    say(f"sweep {sweep.name!r}: {sweep.search} search, {size} x {len(sweep.seeds)} seed(s); study in {where}")
    if workers == 1:
        work(sweep, study, say, note, quiet)
    else:
        _start_workers(path, workers, storage_url, quiet)
    say(best_line(study, sweep))


def _start_workers(path: str | Path, workers: int, storage_url: str | None, quiet: bool) -> None:
    """``workers`` processes of ``windowner sweep`` (one worker each, one BLAS thread each); waits for
    them all. Ctrl-C reaches them too (one process group): each stops after its batch."""
    command = [sys.executable, "-m", "windowner.cli", "sweep", str(path), "--workers", "1"]
    command += ["--storage", storage_url] if storage_url else []
    command += ["--quiet"] if quiet else []
    env = {**os.environ, "WINDOWNER_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env["MKL_NUM_THREADS"] = "1"
    processes = [subprocess.Popen(command, env={**env, WORKER_VARIABLE: str(k + 1)}) for k in range(workers)]
    try:
        codes = [process.wait() for process in processes]
    except KeyboardInterrupt:
        codes = [process.wait() for process in processes]
        raise
    failed = [code for code in codes if code != 0]
    if failed:
        raise WindownerError(f"{len(failed)} of {workers} workers failed (exit status {failed[0]})")
