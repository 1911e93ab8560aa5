"""Ensembles of runs: an ensemble of one is that run (tags and scores, both ways of combining); the mean
of scores and transitions; votes and their tie-break; runs of other tasks refused; ``eval`` and
``predict`` with several run folders."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_cli import assert_ok, assert_one_line_error

from windowner.base.errors import WindownerError
from windowner.cli.main import main
from windowner.data.conll import read_conll
from windowner.network.tasks import Task
from windowner.tagging.ensemble import Ensemble, load_runs
from windowner.tagging.tagger import load_run

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "configs" / "default.yaml"
DEV = REPO / "data" / "wikigold" / "dev.conll"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    """Two one-epoch runs of the default config (crf), seeds 0 and 1."""
    folder = tmp_path_factory.mktemp("ensemble")
    out = []
    for seed in (0, 1):
        output = folder / f"seed{seed}"
        args = ["train", "--config", str(DEFAULT), "--output", str(output), "--quiet"]
        args += ["--set", "train.epochs=1", "--set", f"train.seed={seed}"]
        assert_ok(CliRunner().invoke(main, args))
        out.append(output)
    return out


@pytest.fixture(scope="module")
def sentences() -> list[tuple[str, ...]]:
    return [s.tokens for s in read_conll(DEV)]


@pytest.mark.parametrize("combine", ["mean", "vote"])
@pytest.mark.parametrize("decode", ["viterbi", "argmax"])
def test_an_ensemble_of_one_is_that_run(runs, sentences, combine, decode):
    tagger = load_run(runs[0])
    ensemble = Ensemble([tagger], combine)
    assert ensemble.predict(sentences, decode) == tagger.predict(sentences, decode)
    expected = tagger.model.scores(tagger.windows(sentences))
    np.testing.assert_array_equal(ensemble.scores(sentences), expected)  # exactly, not approximately
    for name, value in ensemble.transitions().items():
        np.testing.assert_array_equal(value, tagger.model.transitions()[name])
    assert ensemble.evaluate(read_conll(DEV), decode) == tagger.evaluate(read_conll(DEV), decode)
    assert ensemble.predict_scored(sentences, decode) == tagger.predict_scored(sentences, decode)


def test_the_mean_of_scores_and_transitions(runs, sentences):
    a, b = (load_run(run) for run in runs)
    ensemble = load_runs(runs, combine="mean")
    assert ensemble._source == [0, 0]  # the seeds of one config share their windows
    mean = (a.model.scores(a.windows(sentences)) + b.model.scores(b.windows(sentences))) / 2
    np.testing.assert_allclose(ensemble.scores(sentences), mean, rtol=1e-6)
    A = (a.model.params["A"] + b.model.params["A"]) / 2
    np.testing.assert_allclose(ensemble.transitions()["A"], A, rtol=1e-6)
    lengths = [len(s) for s in sentences]
    assert ensemble.predict(sentences) == a.task.decode(mean, lengths, "viterbi", ensemble.transitions())


def test_votes_take_the_majority_and_ties_go_to_the_first_run(runs, sentences):
    a, b = (load_run(run) for run in runs)
    lengths = [len(s) for s in sentences]
    best = [
        t.task.best(t.model.scores(t.windows(sentences)), lengths, "viterbi", t.model.transitions())
        for t in (a, b)
    ]
    assert (best[0] != best[1]).any()  # the two seeds disagree somewhere, so the tie-break is tested
    two = Ensemble([a, b], "vote")
    assert two.predict(sentences) == a.task.tags_of(best[0], lengths)  # a tie: the first run's class
    assert Ensemble([b, a], "vote").predict(sentences) == a.task.tags_of(best[1], lengths)
    three = Ensemble([a, b, b], "vote")  # two votes of three win
    assert three.predict(sentences) == a.task.tags_of(best[1], lengths)
    # argmax decodes every run by argmax too, and the votes then token by token
    alone = [t.task.best(t.model.scores(t.windows(sentences)), lengths, "argmax") for t in (a, b)]
    assert two.predict(sentences, "argmax") == a.task.tags_of(alone[0], lengths)


def test_runs_of_another_task_or_loss_are_refused(runs):
    a, b = (load_run(run) for run in runs)
    other = dataclasses.replace(b, task=Task("location", ("O", "LOC"), "LOC"))
    with pytest.raises(WindownerError, match="second: its task .* is not that of first"):
        Ensemble([a, other], names=["first", "second"])
    config = dataclasses.replace(b.config, train=dataclasses.replace(b.config.train, loss="softmax"))
    with pytest.raises(WindownerError, match="trained with train.loss softmax"):
        Ensemble([a, dataclasses.replace(b, config=config)])
    with pytest.raises(WindownerError, match="unknown way to combine"):
        Ensemble([a], "median")


def test_eval_takes_several_runs(runs):
    result = CliRunner().invoke(main, ["eval", *map(str, runs), "--data", str(DEV), "--json"])
    assert_ok(result)
    expected = Ensemble([load_run(run) for run in runs], "vote").evaluate(read_conll(DEV))
    assert json.loads(result.stdout) == json.loads(json.dumps(expected))  # vote is the default
    args = ["eval", *map(str, runs), "--data", str(DEV), "--json", "--combine", "mean"]
    mean = CliRunner().invoke(main, args)
    assert_ok(mean)
    expected = load_runs(runs, combine="mean").evaluate(read_conll(DEV))
    assert json.loads(mean.stdout) == json.loads(json.dumps(expected))


def test_predict_takes_several_runs_and_the_last_argument_is_the_input_unless_a_folder(runs, tmp_path):
    text = tmp_path / "in.txt"
    text.write_text("Rain fell on Paris and Lyon .\nThe river Rhine flows to Rotterdam .\n", encoding="utf-8")
    tags = load_runs(runs).predict([line.split() for line in text.read_text().splitlines()])
    expected = "".join(
        "".join(f"{token} {tag}\n" for token, tag in zip(line.split(), row, strict=True)) + "\n"
        for line, row in zip(text.read_text().splitlines(), tags, strict=True)
    )
    runner = CliRunner()
    from_file = runner.invoke(main, ["predict", *map(str, runs), str(text), "--vectors", "none"])
    assert_ok(from_file)
    assert from_file.stdout == expected
    for stdin_form in ([], ["-"]):  # no input argument, or '-': standard input
        args = ["predict", *map(str, runs), *stdin_form, "--vectors", "none"]  # the runs' words alone
        result = runner.invoke(main, args, input=text.read_text())
        assert_ok(result)
        assert result.stdout == expected
    scored = runner.invoke(
        main, ["predict", *map(str, runs), str(text), "--output-format", "jsonl", "--vectors", "none"]
    )
    assert_ok(scored)  # the ensemble's tags, each entity with its probability under the mean model
    records = [json.loads(line) for line in scored.stdout.splitlines()]
    assert [r["tags"] for r in records] == tags
    assert all(0 < e["score"] <= 1 for r in records for e in r["entities"])
    missing = runner.invoke(main, ["predict", *map(str, runs), str(tmp_path / "nothing.txt")])
    assert_one_line_error(missing, "nothing.txt: no such file")
    not_a_run = runner.invoke(main, ["predict", str(runs[0]), str(tmp_path / "typo"), str(text)])
    assert_one_line_error(not_a_run, "typo: no such run folder")
