"""Tests of ``train --seeds`` (windowner.experiments.seeds), ``compare`` and the plots of groups, on tiny
runs: 120 Wikigold training sentences, 40 dev sentences, 10 hidden units, 2 epochs (a run: about 0.3 s)."""

from __future__ import annotations

import json
import math
import signal
from pathlib import Path

import numpy as np
import pytest
from helpers import head
from test_cli import assert_ok, assert_one_line_error, run

from windowner.base.errors import Terminated, WindownerError
from windowner.config import load_config
from windowner.data.conll import read_conll
from windowner.experiments.compare import compare, paired
from windowner.experiments.seeds import parse_seeds, train_seeds
from windowner.experiments.significance import t_quantile, t_two_sided, t_within
from windowner.tagging.tagger import load_run
from windowner.training.loop import train

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "configs" / "default.yaml"
WIKIGOLD = REPO / "data" / "wikigold"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> list[str]:
    """``--set`` overrides of the default config for tiny, fast runs."""
    folder = tmp_path_factory.mktemp("tiny-data")
    train_file = head(WIKIGOLD / "train.conll", folder / "train.conll", 120)
    dev_file = head(WIKIGOLD / "dev.conll", folder / "dev.conll", 40)
    return [
        f"data.train={train_file}",
        f"data.dev={dev_file}",
        "data.test=null",
        "model.hidden=10",
        "train.epochs=2",
        "vectors.cache=false",
    ]


def tiny_config(tiny, output, *more):
    return load_config(DEFAULT, [*tiny, f"output={output}", *more])


def quiet(line: str) -> None:
    pass


def history(folder: Path) -> list[dict]:
    records = [json.loads(line) for line in (folder / "history.jsonl").read_text().splitlines()]
    for record in records:  # times and speeds differ from run to run
        record.pop("seconds"), record.pop("windows_per_second")
    return records


def test_parse_seeds():
    assert parse_seeds("0,1,2") == [0, 1, 2]
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("3, 0-1,7,1") == [3, 0, 1, 7]
    for bad, needle in (("a", "'a'"), ("3-1", "backwards"), ("1,,2", "''"), ("-1", "'-1'")):
        with pytest.raises(WindownerError, match=needle):
            parse_seeds(bad)


@pytest.fixture(scope="module")
def groups(tiny, tmp_path_factory):
    """Two seed groups, hidden 10 and hidden 20, seeds 0 and 1; trained through the command line."""
    root = tmp_path_factory.mktemp("groups")
    sets = [arg for item in tiny for arg in ("--set", item)]
    for name, hidden in (("h10", 10), ("h20", 20)):
        output = root / name
        args = ["train", "--config", DEFAULT, "--output", output, "--seeds", "0-1", "--quiet", *sets]
        assert_ok(run(*args, "--set", f"model.hidden={hidden}"))
    return root


def test_seeds_make_the_runs_a_single_run_makes(groups, tiny, tmp_path):
    single = tmp_path / "single"
    train(tiny_config(tiny, single, "train.seed=1", "model.hidden=10"), False, quiet)
    seeded = groups / "h10" / "seed-1"
    assert history(seeded) == history(single)
    assert json.loads((seeded / "scores.json").read_text()) == json.loads(
        (single / "scores.json").read_text()
    )
    assert load_run(seeded).config.train.seed == 1


def test_the_summary_holds_mean_spread_and_time(groups):
    summary = json.loads((groups / "h10" / "summary.json").read_text())
    assert summary["seeds"] == [0, 1]
    f1 = [
        json.loads((groups / "h10" / f"seed-{s}" / "scores.json").read_text())["dev"]["entities"]["micro"][
            "f1"
        ]
        for s in (0, 1)
    ]
    stats = summary["scores"]["dev.entities.micro.f1"]
    assert stats["mean"] == pytest.approx(np.mean(f1))
    assert stats["std"] == pytest.approx(np.std(f1, ddof=1))
    assert (stats["min"], stats["max"]) == (min(f1), max(f1))
    assert summary["scores"]["seconds"]["n"] == 2 and summary["scores"]["seconds"]["mean"] > 0


def test_a_stopped_seed_group_goes_on_where_it_stopped(tiny, tmp_path, groups):
    """Ctrl-C in seed 1's first epoch: seed 0 is done, seed 1 holds a checkpoint; the same call again keeps
    seed 0 untouched, resumes seed 1, and ends with the runs of an uninterrupted group."""
    config = tiny_config(tiny, tmp_path / "g", "model.hidden=10")

    def interrupt(seed, record):
        if seed == 1 and record["epoch"] == 1:
            signal.raise_signal(signal.SIGINT)  # as Ctrl-C: training saves a checkpoint, then stops

    with pytest.raises(Terminated) as info:
        train_seeds(config, [0, 1], False, quiet, on_epoch=interrupt, command="the command")
    assert "seed 1:" in str(info.value) and "the command goes on" in str(info.value)
    assert (tmp_path / "g" / "seed-0" / "scores.json").is_file()
    assert not (tmp_path / "g" / "seed-1" / "scores.json").exists()
    assert (tmp_path / "g" / "seed-1" / "checkpoint.npz").is_file()
    assert not (tmp_path / "g" / "summary.json").exists()
    done = (tmp_path / "g" / "seed-0" / "model.npz").stat().st_mtime_ns
    lines = []
    train_seeds(config, [0, 1], False, lines.append)
    assert "seed 0 (1 of 2): " in lines[0] and lines[0].endswith("has finished, kept")
    assert (tmp_path / "g" / "seed-0" / "model.npz").stat().st_mtime_ns == done
    for seed in (0, 1):
        assert history(tmp_path / "g" / f"seed-{seed}") == history(groups / "h10" / f"seed-{seed}")
    assert (tmp_path / "g" / "summary.json").is_file()


def test_a_seed_folder_of_another_config_is_refused(groups, tiny):
    sets = [arg for item in tiny for arg in ("--set", item)]
    args = ["train", "--config", DEFAULT, "--output", groups / "h10", "--seeds", "0-1", *sets]
    assert_one_line_error(run(*args, "--set", "model.hidden=30"), "seed-0 holds a run of another config")
    single = groups / "h10" / "seed-0"  # a run folder is no folder of seeds
    args_single = ["train", "--config", DEFAULT, "--output", single, "--seeds", "0", *sets]
    assert_one_line_error(run(*args_single), "holds a single run")
    result = run(*args, "--set", "train.seed=3")  # a usage error: status 2, as click's own
    assert result.exit_code == 2 and "drop --set train.seed" in result.stderr


def test_compare_groups_by_the_settings_that_differ(groups):
    result = run("compare", groups, "--format", "json")
    assert_ok(result)
    report = json.loads(result.stdout)
    assert report["settings"] == ["model.hidden"]  # seeds and output folders are not settings
    assert [g["settings"] for g in report["groups"]] == [{"model.hidden": 10}, {"model.hidden": 20}]
    for group in report["groups"]:
        name = f"h{group['settings']['model.hidden']}"
        f1 = [
            100
            * json.loads((groups / name / f"seed-{s}" / "scores.json").read_text())["dev"]["entities"]["LOC"][
                "f1"
            ]
            for s in (0, 1)
        ]
        assert group["n"] == 2 and group["seeds"] == [0, 1]
        assert group["scores"]["LOC"]["mean"] == pytest.approx(np.mean(f1))
        assert group["scores"]["LOC"]["min"] == pytest.approx(min(f1))
    paired_report = report["paired"]
    assert paired_report["seeds"] == [0, 1] and paired_report["test"].startswith("paired t-test")


def test_the_paired_test_is_scipys():
    stats = pytest.importorskip("scipy.stats")
    for df in range(1, 12):
        for t in (0.0, 0.3, 1.0, 2.5, 7.0):
            assert t_within(t, df) == pytest.approx(stats.t.cdf(t, df) - stats.t.cdf(-t, df), abs=1e-12)
        assert t_quantile(0.975, df) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-9)
    a, b = [80.1, 78.3, 79.9, 81.0], [81.0, 79.9, 80.2, 82.4]
    expected = stats.ttest_rel(b, a)
    differences = np.subtract(b, a)
    t = differences.mean() / (differences.std(ddof=1) / math.sqrt(4))
    assert t == pytest.approx(expected.statistic)
    assert t_two_sided(t, 3) == pytest.approx(expected.pvalue, rel=1e-9)


def test_paired_needs_shared_seeds(groups):
    comparison = compare([groups / "h10" / "seed-0", groups / "h20" / "seed-1"])
    assert len(comparison.groups) == 2 and comparison.paired is None  # seed 0 against seed 1
    assert paired(comparison.groups[0], comparison.groups[1], "dev") is None


def test_compare_tables_as_markdown_and_csv(groups):
    result = run("compare", groups / "h10", groups / "h20", "--format", "markdown", "--metric", "LOC")
    assert_ok(result)
    lines = result.stdout.splitlines()
    assert lines[0] == "| model.hidden | n | LOC |" and lines[1] == "|---|---:|---:|"
    assert lines[2].startswith("| 10 | 2 | ") and "–" in lines[2]
    assert any(line.startswith("| LOC | ") for line in lines[4:])  # the paired difference
    result = run("compare", groups, "--format", "csv", "--metric", "best epoch")
    assert_ok(result)
    assert result.stdout.splitlines()[0] == "group,model.hidden,n,metric,mean,std,min,max"
    assert len(result.stdout.splitlines()) == 3


def test_compare_rescores_on_another_file(groups):
    dev = WIKIGOLD / "dev.conll"
    result = run("compare", groups / "h10", "--data", dev, "--format", "json", "--metric", "micro")
    assert_ok(result)
    mean = json.loads(result.stdout)["groups"][0]["scores"]["micro"]["mean"]
    sentences = read_conll(dev)
    expected = []
    for seed in (0, 1):
        tagger = load_run(groups / "h10" / f"seed-{seed}")
        tagger.add_vectors(tagger.config.vectors.path, [s.tokens for s in sentences])
        expected.append(100 * tagger.evaluate(sentences)["entities"]["micro"]["f1"])
    assert mean == pytest.approx(np.mean(expected))
    eval_result = run("eval", groups / "h10" / "seed-0", "--data", dev, "--json")
    assert json.loads(eval_result.stdout)["entities"]["micro"]["f1"] * 100 == pytest.approx(expected[0])


def test_compare_leaves_out_unfinished_runs_and_says_so(groups, tmp_path):
    unfinished = tmp_path / "runs" / "broken"
    unfinished.mkdir(parents=True)
    for name in ("config.yaml", "history.jsonl"):
        (unfinished / name).write_bytes((groups / "h10" / "seed-0" / name).read_bytes())
    assert_one_line_error(run("compare", tmp_path / "runs"), "no finished run (no scores.json) among the 1")
    result = run("compare", tmp_path / "runs", groups / "h10")
    assert_ok(result)
    assert "1 unfinished run(s)" in result.stderr
    assert_one_line_error(run("compare", tmp_path / "nothing"), "no such folder")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run("compare", tmp_path / "empty"), "holds no windowner run")
    assert_one_line_error(run("compare", groups, "--sort", "XYZ"), "no such score")


def test_plot_draws_a_group_and_still_a_run(groups, tmp_path):
    pytest.importorskip("matplotlib")
    result = run("plot", groups, "--output", tmp_path / "group.png")
    assert_ok(result)
    assert (tmp_path / "group.png").read_bytes()[:4] == b"\x89PNG"
    assert_ok(run("plot", groups / "h10" / "seed-0"))
    assert (groups / "h10" / "seed-0" / "history.png").is_file()
