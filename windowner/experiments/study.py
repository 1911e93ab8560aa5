"""The study of a sweep in Optuna's storage: the journal file or a database, the samplers and the pruner,
the study made (its grid queued) or joined, and the trials of workers that died.

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
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..base.errors import WindownerError
from .sweep_file import Sweep

MISSING = "windowner sweep needs Optuna, which is not installed: pip install 'windowner[sweep]'"
JOURNAL_FILE = "optuna.journal"
READY_WAIT = 120.0  # seconds a worker waits for the one that makes the study to queue the grid
STORAGE_ATTEMPTS = 4  # connecting to the database, should workers that start together collide
HEARTBEAT = 20  # seconds between a database worker's heartbeats; a trial without one for 3x is dead


def optuna_module() -> Any:
    try:
        import optuna
    except ImportError:
        raise WindownerError(MISSING) from None
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


class Surplus(Exception):
    """A grid trial that found the queue empty (workers asked at the same moment): marked failed."""


def masked(url: str) -> str:
    """A database URL without its password, to show."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def open_storage(sweep: Sweep, url: str | None) -> Any:
    """The study's storage: the journal file of the sweep folder, or the database at ``url``."""
    optuna = optuna_module()
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
    optuna = optuna_module()

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
    optuna = optuna_module()
    if sweep.search == "tpe":  # its first (random) trials would repeat in every worker with one seed
        seed = hash((sweep.sampler_seed, socket.gethostname(), os.getpid())) % 2**32
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    return trial_seeded_sampler(sweep.sampler_seed)  # grid trials come from the queue


def _pruner(sweep: Sweep) -> Any:
    optuna = optuna_module()
    if sweep.prune is None:
        return optuna.pruners.NopPruner()
    # prune at epoch k (step k) and after: n_warmup_steps = k - 1
    return optuna.pruners.MedianPruner(
        n_startup_trials=sweep.prune["startup"], n_warmup_steps=sweep.prune["epoch"] - 1
    )


def open_study(sweep: Sweep, storage: Any) -> Any:
    """Make the study (and queue the grid) or join it; a study of another sweep file is an error."""
    optuna = optuna_module()
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


def retry(study: Any, trial: Any) -> None:
    """Queue a trial again, to resume its run folder (same origin)."""
    attrs = {"retry_of": trial.user_attrs.get("retry_of", trial.number)}
    if "grid" in trial.user_attrs:
        attrs["grid"] = trial.user_attrs["grid"]
    study.enqueue_trial(trial.params, user_attrs=attrs)


def _retry_stale(study: Any, trial: Any) -> None:
    """The database's heartbeat found ``trial`` dead (marked FAIL): queue its retry."""
    if trial.params:
        retry(study, trial)


def fail_dead_trials(study: Any) -> list[int]:
    """Mark FAIL the RUNNING trials whose worker process on this host is gone, and queue their retries;
    returns their numbers (only the worker that marks a trial queues it)."""
    optuna = optuna_module()
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
        retry(study, trial)
        failed.append(trial.number)
    return failed


def started(trials: Sequence[Any]) -> int:
    """Trials counted against the budget: one per origin (a killed trial and its retries count once),
    surplus grid trials aside."""
    return len({t.user_attrs.get("retry_of", t.number) for t in trials if not t.user_attrs.get("surplus")})
