"""Tests of windowner.experiments.plot and `windowner plot`: a PNG of a run's history, clear errors without
one."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from test_cli import assert_ok, assert_one_line_error, run

from windowner.base.errors import WindownerError
from windowner.config import dump_config, load_config
from windowner.experiments.plot import MISSING, best_epoch, plot_run, read_history

DEFAULT = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"
PNG = b"\x89PNG\r\n\x1a\n"


def scores(f1: float, support: int = 10) -> dict:
    return {"precision": f1, "recall": f1, "f1": f1, "support": support}


def record(epoch: int, loss: float, f1: dict[str, float] | None) -> dict:
    """A history.jsonl record as training writes it (with dev scores of each type if ``f1``)."""
    out = {"epoch": epoch, "loss": loss, "lr": 0.001, "seconds": 0.5, "windows_per_second": 60000}
    if f1 is not None:
        entities = {name: scores(value) for name, value in f1.items()}
        out["dev"] = {"entities": entities, "tokens": {"LOC": scores(f1["LOC"]), "accuracy": 0.9}}
    return out


@pytest.fixture
def run_folder(tmp_path) -> Path:
    """A run folder of the entities task with three epochs of history (the second the best)."""
    folder = tmp_path / "run"
    folder.mkdir()
    config = load_config(DEFAULT, ["task.name=entities", f"output={folder}"])
    (folder / "config.yaml").write_text(dump_config(config), encoding="utf-8")
    history = [
        record(1, 0.5, {"LOC": 0.4, "PER": 0.5, "ORGANISATION-SUBSIDIARY": 0.1, "micro": 0.35}),
        record(2, 0.3, {"LOC": 0.6, "PER": 0.6, "ORGANISATION-SUBSIDIARY": 0.2, "micro": 0.5}),
        record(3, 0.2, {"LOC": 0.55, "PER": 0.5, "micro": 0.5}),
    ]
    (folder / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in history), encoding="utf-8")
    return folder


def test_plot_writes_a_png_into_the_run_folder(run_folder):
    pytest.importorskip("matplotlib")
    result = run("plot", run_folder)
    assert_ok(result)
    assert result.stdout == f"wrote {run_folder / 'history.png'}\n"
    image = (run_folder / "history.png").read_bytes()
    assert image.startswith(PNG) and len(image) > 10_000
    assert [p.name for p in run_folder.iterdir() if p.name.startswith(".")] == []  # written atomically


def test_plot_of_a_run_without_dev_file_and_to_another_file(run_folder, tmp_path):
    pytest.importorskip("matplotlib")
    history = [record(1, 0.5, None), record(2, 0.4, None)]
    (run_folder / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in history))
    out = tmp_path / "loss.PNG"
    assert plot_run(run_folder, out) == out and out.read_bytes().startswith(PNG)


def test_best_epoch_is_the_one_training_kept(run_folder):
    history = read_history(run_folder / "history.jsonl")
    assert best_epoch(history) == 2  # the first of the highest micro F1 (2 and 3 tie)
    assert best_epoch(history, "LOC") == 2 and best_epoch(history, "PER") == 2
    assert best_epoch([record(1, 0.5, None), record(2, 0.4, None)]) == 2  # no dev: the last


def test_plot_without_matplotlib_says_how_to_get_it(run_folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    assert_one_line_error(run("plot", run_folder), "pip install 'windowner[plot]'")
    assert "matplotlib" in MISSING and not (run_folder / "history.png").exists()


@pytest.mark.parametrize(
    ("history", "needle"),
    [
        ('{"epoch": 1, "loss": 0.5}\n{"epoch": 2, "lo\n', "history.jsonl:2: not valid JSON"),
        ('{"epoch": 1, "loss": 0.5}\n[1, 2]\n', "history.jsonl:2: expected an epoch's record"),
        ("", "history.jsonl: no epoch has finished yet"),
    ],
)
def test_a_damaged_history_is_an_error_naming_its_line(run_folder, history, needle):
    (run_folder / "history.jsonl").write_text(history)
    with pytest.raises(WindownerError, match=needle):
        plot_run(run_folder)


def test_plot_refuses_what_it_cannot_write(run_folder, tmp_path):
    assert_one_line_error(run("plot", run_folder, "--output", tmp_path / "plot.jpg"), "plot.jpg", ".png")
    assert_one_line_error(run("plot", run_folder, "--output", tmp_path / "no" / "p.png"), "no folder")
    assert_one_line_error(run("plot", tmp_path / "absent"), "absent: no such run folder")
