"""Tests of ``windowner sweep`` (windowner.experiments.sweep) with real worker processes: two workers on the
journal file, two on a PostgreSQL server started here, a worker killed with SIGKILL mid-trial, pruning.

The runs are tiny: 400 Wikigold training sentences, 100 dev sentences, 1 or 2 epochs, 8-16 hidden units.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from helpers import head
from test_cli import assert_ok, assert_one_line_error, run

from windowner.base.errors import WindownerError
from windowner.experiments.sweep import run_sweep
from windowner.experiments.sweep_file import load_sweep

optuna = pytest.importorskip("optuna")

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "configs" / "default.yaml"
WIKIGOLD = REPO / "data" / "wikigold"
GRID = {"model.hidden": [8, 16], "train.lr": [0.003, 0.01]}
ENV = {**os.environ, "WINDOWNER_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("sweep-data")
    train = head(WIKIGOLD / "train.conll", folder / "train.conll", 400)
    dev = head(WIKIGOLD / "dev.conll", folder / "dev.conll", 100)
    return [f"data.train={train}", f"data.dev={dev}", "data.test=null", "vectors.cache=false"]


def sweep_file(folder: Path, data: list[str], name: str, **settings) -> Path:
    sweep = {
        "config": str(DEFAULT),
        "set": [*data, "train.epochs=1"],
        "output": str(folder / name),
        "search": "grid",
        "space": GRID,
        "seeds": [0],
        **settings,
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(sweep), encoding="utf-8")
    return path


def windowner(*args, env=ENV) -> subprocess.Popen:
    command = [sys.executable, "-m", "windowner.cli", *map(str, args)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, f"exit {process.returncode}\n{out}\n{err}"
    return out


def study_of(path: Path, storage=None):
    sweep = load_sweep(path)
    if storage is None:
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        storage = JournalStorage(JournalFileBackend(str(sweep.output / "optuna.journal")))
    return optuna.load_study(study_name=sweep.name, storage=storage)


def grid_values(study) -> dict[tuple, float]:
    """Each finished grid point's value; a point done twice would fail here."""
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    points = [tuple(sorted(t.params.items())) for t in done]
    assert len(points) == len(set(points)), points
    return {point: t.value for point, t in zip(points, done, strict=True)}


@pytest.fixture(scope="module")
def journal_sweep(tmp_path_factory, data):
    """The 2 x 2 grid, one seed, two worker processes sharing the journal file (--workers 2)."""
    folder = tmp_path_factory.mktemp("journal")
    path = sweep_file(folder, data, "grid")
    out = finish(windowner("sweep", path, "--workers", "2", "--quiet"))
    return path, out


def test_two_workers_run_every_grid_point_once(journal_sweep):
    path, out = journal_sweep
    assert "worker 1: trial" in out and "worker 2: trial" in out  # both took trials
    values = grid_values(study_of(path))
    assert len(values) == 4
    output = load_sweep(path).output
    assert sorted(p.name for p in output.glob("trial-*")) == [f"trial-{n:04d}" for n in range(4)]
    for folder in output.glob("trial-*"):
        trial = json.loads((folder / "trial.json").read_text())
        assert trial["state"] == "complete"
        scores = json.loads((folder / "seed-0" / "scores.json").read_text())
        assert trial["value"] == scores["dev"]["entities"]["micro"]["f1"]
        assert values[tuple(sorted(trial["params"].items()))] == trial["value"]


def test_compare_and_plot_a_sweep(journal_sweep, tmp_path):
    path, _ = journal_sweep
    output = load_sweep(path).output
    result = run("compare", output, "--format", "json")
    assert_ok(result)
    groups = json.loads(result.stdout)["groups"]
    assert len(groups) == 4
    means = [g["scores"]["micro"]["mean"] for g in groups]
    assert means == sorted(means, reverse=True)  # best first
    assert json.loads(result.stdout)["settings"] == ["model.hidden", "train.lr"]
    pytest.importorskip("matplotlib")
    assert_ok(run("plot", output, "--output", tmp_path / "sweep.png"))
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"


def test_a_finished_sweep_run_again_does_nothing_new(journal_sweep):
    path, _ = journal_sweep
    result = run("sweep", path, "--quiet")
    assert_ok(result)
    assert not [line for line in result.stdout.splitlines() if line.startswith("trial ")]
    assert len(study_of(path).trials) == 4


def test_a_killed_worker_leaves_a_usable_study(tmp_path, data):
    """SIGKILL mid-trial: the trial stays RUNNING; the next run marks it failed and resumes its run folder
    in a retry; every grid point is done once, none twice."""
    path = sweep_file(tmp_path, data, "killed", space={"train.lr": [0.003, 0.01]})
    sweep = yaml.safe_load(path.read_text())
    sweep["set"] = [*data, "train.epochs=6", "model.hidden=16"]
    path.write_text(yaml.safe_dump(sweep))
    worker = windowner("sweep", path, "--quiet")
    history = tmp_path / "killed" / "trial-0000" / "seed-0" / "history.jsonl"
    deadline = time.monotonic() + 120
    while not (history.is_file() and history.read_text().count("\n") >= 2):
        assert worker.poll() is None and time.monotonic() < deadline, worker.communicate()
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.communicate()  # reaped: its pid is gone
    first = json.loads(history.read_text().splitlines()[0])
    states = [t.state.name for t in study_of(path).trials]
    assert states == ["RUNNING", "WAITING"], states  # trial 0 as a dead worker leaves it
    result = run("sweep", path, "--quiet")
    assert_ok(result)
    assert "trial 0's worker is gone" in result.stderr
    trials = study_of(path).trials
    states = [t.state.name for t in trials]
    assert states == ["FAIL", "COMPLETE", "COMPLETE"], states
    assert trials[2].user_attrs["retry_of"] == 0 and trials[2].params == trials[0].params
    assert grid_values(study_of(path)).keys() == {(("train.lr", 0.003),), (("train.lr", 0.01),)}
    records = [json.loads(line) for line in history.read_text().splitlines()]
    assert len(records) == 6 and records[0] == first  # resumed, not trained again
    assert sorted(p.name for p in (tmp_path / "killed").glob("trial-*")) == ["trial-0000", "trial-0001"]


def test_pruning_stops_a_trial_below_the_median(tmp_path, data):
    path = sweep_file(
        tmp_path, data, "pruned", space={"train.lr": [0.01, 1.0e-6]}, prune={"epoch": 1, "startup": 1}
    )
    sweep = yaml.safe_load(path.read_text())
    sweep["set"] = [*data, "train.epochs=3", "model.hidden=16"]
    path.write_text(yaml.safe_dump(sweep))
    lines = []
    run_sweep(path, say=lines.append, note=lines.append, quiet=True)
    states = [t.state.name for t in study_of(path).trials]
    assert states == ["COMPLETE", "PRUNED"], lines
    trial = json.loads((tmp_path / "pruned" / "trial-0001" / "trial.json").read_text())
    assert trial["state"] == "pruned" and trial["detail"].startswith("epoch 1:")
    history = tmp_path / "pruned" / "trial-0001" / "seed-0" / "history.jsonl"
    assert history.read_text().count("\n") == 1  # stopped after epoch 1 of 3


def test_durations_and_urls():
    from windowner.experiments.study import masked
    from windowner.experiments.sweep_file import parse_duration

    assert [parse_duration(v, "t") for v in (90, "90s", "45m", "2h", "1.5h")] == [90, 90, 2700, 7200, 5400]
    for bad in ("soon", "-5m", 0, "2d"):
        with pytest.raises(WindownerError, match="expected a time"):
            parse_duration(bad, "t")
    assert masked("postgresql://me:secret@db/x") == "postgresql://me:***@db/x"
    assert masked("postgresql://me@db/x") == "postgresql://me@db/x"


def test_random_draws_depend_on_the_trial_not_the_worker():
    """Two workers' samplers (two instances) draw the same values for a trial number, others for others."""
    from windowner.experiments.study import trial_seeded_sampler

    def draws(seed):
        study = optuna.create_study(sampler=trial_seeded_sampler(seed))
        return [study.ask().suggest_float("train.lr", 1e-4, 1e-2, log=True) for _ in range(4)]

    assert draws(0) == draws(0)
    assert len(set(draws(0))) == 4 and draws(0) != draws(1)


def test_a_random_search_keeps_to_its_budget(tmp_path, data):
    space = {"train.lr": {"low": 0.001, "high": 0.01, "log": True}, "model.hidden": {"low": 8, "high": 16}}
    path = sweep_file(tmp_path, data, "random", search="random", trials=2, space=space)
    run_sweep(path, say=lambda line: None, note=lambda line: None, quiet=True)
    run_sweep(path, say=lambda line: None, note=lambda line: None, quiet=True)  # spent: nothing more
    trials = study_of(path).trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 2
    assert all(
        isinstance(t.params["model.hidden"], int) and 8 <= t.params["model.hidden"] <= 16 for t in trials
    )
    assert all(0.001 <= t.params["train.lr"] <= 0.01 for t in trials)


def test_bad_sweep_files_are_one_line_errors(tmp_path, data):
    cases = [
        ({"spaec": {}}, "unknown key 'spaec'"),
        ({"space": {"train.lr": {"low": 0.1, "high": 0.2}}}, "a grid takes a list of values"),
        ({"space": {"train.lrr": [1]}}, "space 'train.lrr'"),
        ({"space": {"train.lr": [-1]}}, "train.lr"),
        ({"search": "random"}, "'trials' is missing"),
        (
            {"search": "tpe", "trials": 3, "space": {"train.lr": {"low": 0, "high": 1, "log": True}}},
            "low > 0",
        ),
        ({"timeout": "soon"}, "'timeout'"),
        ({"space": {"train.seed": [1, 2]}}, "the sweep sets train.seed itself"),
        (
            {"metric": "PER"},
            "'metric' 'PER' is not a dev score of the trials (micro, tokens, or an entity type: LOC)",
        ),
    ]
    for number, (change, needle) in enumerate(cases):
        path = sweep_file(tmp_path, data, f"bad{number}", **change)
        assert_one_line_error(run("sweep", path), str(path), needle)


def test_another_sweep_in_the_same_folder_is_refused(journal_sweep, tmp_path, data):
    path, _ = journal_sweep
    sweep = yaml.safe_load(path.read_text())
    sweep["space"] = {"model.hidden": [8]}
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(sweep))
    assert_one_line_error(run("sweep", other), "holds another sweep")


def test_without_optuna_a_one_line_error_names_the_extra(tmp_path, data, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna raises ImportError
    path = sweep_file(tmp_path, data, "no-optuna")
    assert_one_line_error(run("sweep", path), "pip install 'windowner[sweep]'")


# PostgreSQL: a real server, as the distribution packages it, in a temporary folder


def _server_binaries() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server on a free port of 127.0.0.1, its data in a temporary folder, run by a user
    that is not root (the ``postgres`` user when the tests run as root); stopped and removed after."""
    binaries = _server_binaries()
    missing = None
    if binaries is None:
        missing = "the PostgreSQL server (initdb, pg_ctl) is not installed (apt-get install postgresql)"
    else:
        try:
            import psycopg  # noqa: F401  (SQLAlchemy's driver of postgresql:// URLs)
        except ImportError:
            missing = "psycopg is not installed (pip install 'windowner[test]')"
    if missing:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"CI must test against PostgreSQL: {missing}")
        pytest.skip(missing)
    prefix: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="windowner-postgres-"))  # not under pytest's root-only folder
    if os.geteuid() == 0:
        prefix = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    port = _free_port()

    def as_server_user(*command: str) -> None:
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    as_server_user(
        str(binaries / "initdb"), "-D", f"{folder}/data", "-U", "windowner", "--auth=trust", "-E", "UTF8"
    )
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {folder} -c fsync=off"
    as_server_user(
        str(binaries / "pg_ctl"), "-D", f"{folder}/data", "-l", f"{folder}/log", "-o", options, "-w", "start"
    )
    try:
        yield f"postgresql://windowner@127.0.0.1:{port}/postgres"
    finally:
        as_server_user(str(binaries / "pg_ctl"), "-D", f"{folder}/data", "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def test_two_machines_share_a_study_in_postgresql(postgres, journal_sweep, tmp_path, data):
    """Two workers started apart, as on two machines, with the same URL and sweep file: every grid point
    done once, with the values the journal's workers found."""
    path = sweep_file(tmp_path, data, "grid")  # the same sweep, its own folder
    workers = [windowner("sweep", path, "--storage", postgres, "--quiet") for _ in range(2)]
    outputs = [finish(worker) for worker in workers]
    assert all("trial " in out for out in outputs), outputs  # each took part
    from optuna.storages import RDBStorage

    values = grid_values(study_of(path, RDBStorage(postgres)))
    assert values == grid_values(study_of(journal_sweep[0]))
    assert postgres.split("@")[0] + ":" not in "".join(outputs)  # no password shown (there is none)
