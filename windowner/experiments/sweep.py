"""``windowner sweep SWEEP.yaml``: a search over config keys on Optuna, each trial a seed group.

A sweep file names a base config, the space (config keys and their values), the seeds of each trial, the
dev score to maximise, the budget and the pruning (see ``docs/experiments.md``). Each trial trains the
base config with the trial's values, once per seed (:func:`windowner.experiments.seeds.train_seeds`),
into ``SWEEP/trial-NNNN/seed-N``; its value is the mean over the seeds of the best epoch's dev score.

The sweep file is read and checked in :mod:`windowner.experiments.sweep_file`; the study, its storage
and how the workers share it are in :mod:`windowner.experiments.study`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..base.errors import WindownerError
from ..base.files import read_json, write_atomic
from ..config import Config, load_config
from .compare import SWEEP_FILE, TRIAL_FILE
from .seeds import train_seeds
from .study import (
    JOURNAL_FILE,
    Surplus,
    fail_dead_trials,
    masked,
    open_storage,
    open_study,
    optuna_module,
    retry,
    started,
)
from .sweep_file import Sweep, load_sweep

WORKER_VARIABLE = "WINDOWNER_SWEEP_WORKER"  # set in the worker processes of --workers N: their number


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
    optuna = optuna_module()

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
            retry(trial.study, trial)  # this worker queues its own trial again: a rerun resumes it
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
    optuna = optuna_module()
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
    optuna = optuna_module()
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
    optuna_module()
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
