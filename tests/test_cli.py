"""Tests of the command line: one-line errors, gradcheck, and a real (one-epoch) train + eval run."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from windowner.cli.evaluate import format_report, unknown_types
from windowner.cli.gradcheck import CONFIG_ENTRIES
from windowner.cli.main import main, one_line
from windowner.config import config_from_dict
from windowner.data.conll import read_conll
from windowner.evaluation.metrics import accuracy, entity_scores, grouped_scores, token_scores
from windowner.network.tasks import Task
from windowner.tagging.folders import locked

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "configs" / "default.yaml"
TEST_DATA = REPO / "data" / "wikigold" / "test.conll"
RUN_FILES = ("model.npz", "last.npz", "vocab.txt", "labels.json", "config.yaml", "history.jsonl")
RUN_FILES += ("scores.json",)


def run(*args: str):
    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        runner = CliRunner()  # click >= 8.2 keeps stderr apart by itself
    return runner.invoke(main, [str(a) for a in args])


def run_with_env(env: dict[str, str], *args: str):
    try:
        runner = CliRunner(mix_stderr=False, env=env)  # click < 8.2
    except TypeError:
        runner = CliRunner(env=env)
    return runner.invoke(main, [str(a) for a in args])


def describe(result) -> str:
    text = f"exit {result.exit_code}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}"
    if result.exc_info and not isinstance(result.exception, SystemExit):
        text += "\n" + "".join(traceback.format_exception(*result.exc_info))
    return text


def assert_ok(result) -> None:
    assert result.exit_code == 0, describe(result)


def assert_one_line_error(result, *needles: str) -> str:
    """A handled user error: status 1, exactly one stderr line ``windowner: error: ...``, no traceback."""
    assert result.exit_code == 1, describe(result)
    assert isinstance(result.exception, SystemExit), describe(result)  # not an uncaught exception
    lines = result.stderr.splitlines()
    assert len(lines) == 1, describe(result)
    assert lines[0].startswith("windowner: error:"), describe(result)
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], describe(result)
    return lines[0]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """A real run of the default config, one epoch (frozen vectors: about a second)."""
    output = tmp_path_factory.mktemp("cli") / "run"
    result = run("train", "--config", DEFAULT, "--output", output, "--set", "train.epochs=1", "--quiet")
    assert_ok(result)
    # --quiet: only the final results
    finals = [line.split(" (")[0] for line in result.stdout.splitlines()]
    assert finals == ["dev", "test", "saved the best model"]
    return output


# ---------------------------------------------------------------------------------------------------------
# errors


def test_train_unknown_set_key(tmp_path):
    result = run("train", "--config", DEFAULT, "--output", tmp_path / "run", "--set", "train.foo=1")
    assert_one_line_error(result, "'train.foo'")
    assert not (tmp_path / "run").exists()


def test_train_bad_value(tmp_path):
    result = run("train", "--config", DEFAULT, "--output", tmp_path / "run", "--set", "train.epochs=0")
    assert_one_line_error(result, "'train.epochs'")


def test_train_set_without_equals(tmp_path):
    result = run("train", "--config", DEFAULT, "--output", tmp_path / "run", "--set", "train.epochs")
    assert_one_line_error(result, "KEY=VALUE")


def test_train_missing_config_file(tmp_path):
    result = run("train", "--config", tmp_path / "absent.yaml")
    assert_one_line_error(result, "absent.yaml")


def test_train_missing_data_file(write, tmp_path):
    config = write("run.yaml", "data:\n  train: nowhere.conll\nvectors:\n  path: v.txt\n")
    result = run("train", "--config", config, "--output", tmp_path / "run")
    assert_one_line_error(result, "nowhere.conll")


@pytest.mark.parametrize("command", [["train"], ["train", "--dry-run"], ["gradcheck"]])
def test_a_copied_config_names_the_key_of_a_path_that_is_not_there(tmp_path, command):
    """configs/default.yaml copied elsewhere: its relative paths now point at nothing."""
    copy = tmp_path / "mine.yaml"
    copy.write_text(DEFAULT.read_text(encoding="utf-8"), encoding="utf-8")
    output = ["--output", tmp_path / "run"] if command[0] == "train" else []  # not the cwd's runs/default
    result = run(*command, "--config", copy, *output)
    message = assert_one_line_error(
        result, "config key 'data.train'", "no such file", "relative to the config"
    )
    assert str(tmp_path / ".." / "data") not in message and str(tmp_path.parent / "data") in message
    fixed = run(
        *command, "--config", copy, *output, "--set", f"data.train={REPO / 'data/wikigold/train.conll'}"
    )
    assert "config key 'data.dev'" in fixed.stderr


def test_train_malformed_data_file(write, tmp_path):
    write("train.conll", "a O\nb I-LOC\n\nlonely\n")
    write("v.txt", "a 0.5\n")  # there: a missing file is an error naming its config key, before any reading
    config = write("run.yaml", "data:\n  train: train.conll\nvectors:\n  path: v.txt\n")
    result = run("train", "--config", config, "--output", tmp_path / "run")
    assert_one_line_error(result, "train.conll:4:")


def test_train_refuses_to_overwrite_a_run_unless_told(trained_run, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(trained_run, folder)
    before = (folder / "model.npz").read_bytes()
    common = ("train", "--config", DEFAULT, "--output", folder, "--set", "train.epochs=1", "--quiet")
    assert_one_line_error(run(*common), "--overwrite")
    assert (folder / "model.npz").read_bytes() == before
    assert_ok(run(*common, "--set", "train.seed=1", "--overwrite"))
    assert (folder / "model.npz").read_bytes() != before


def test_eval_on_a_folder_that_is_not_a_run(tmp_path):
    result = run("eval", tmp_path, "--data", TEST_DATA)
    assert_one_line_error(result, "not a windowner run folder")


def test_eval_on_a_missing_folder(tmp_path):
    result = run("eval", tmp_path / "absent", "--data", TEST_DATA)
    assert_one_line_error(result, "absent")


def test_eval_on_a_file_says_it_is_not_a_run_folder(trained_run, tmp_path):
    # Before: "run/model.npz: no such run folder".
    message = assert_one_line_error(run("eval", trained_run / "model.npz", "--data", TEST_DATA))
    assert message.endswith(f"model.npz: is a file, not a run folder (did you mean {trained_run}?)")
    assert_one_line_error(run("eval", TEST_DATA, "--data", TEST_DATA), "is a file, not a run folder")


@pytest.mark.parametrize("text", ["", "\n\n", "-DOCSTART- -X- O O\n\n"])
def test_eval_on_a_file_without_sentences_is_an_error(trained_run, write, text):
    # Before: "accuracy 0.00" and exit 0.
    path = write("empty.conll", text)
    assert_one_line_error(run("eval", trained_run, "--data", path), f"{path}: no sentences")


def test_eval_on_a_binary_file(trained_run, tmp_path):
    assert_one_line_error(
        run("eval", trained_run, "--data", trained_run / "model.npz"), "model.npz: a zip archive"
    )


def test_a_newline_in_a_path_stays_on_one_line(tmp_path):
    result = run("eval", tmp_path / "run\nx", "--data", TEST_DATA)
    assert_one_line_error(result, "run\\nx: no such run folder")


def test_eval_with_a_missing_data_file(trained_run, tmp_path):
    result = run("eval", trained_run, "--data", tmp_path / "absent.conll")
    assert_one_line_error(result, "absent.conll", "no such file")


def test_eval_with_a_malformed_data_file(trained_run, write):
    path = write("bad.conll", "Paris I-LOC\nis LOC\n")
    assert_one_line_error(run("eval", trained_run, "--data", path), "bad.conll:2:")


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("model.npz", None, "model.npz"),  # None: the file is removed
        ("config.yaml", "data:\n  train: [x\n", "config.yaml"),
        ("config.yaml", "", "config.yaml"),
        ("labels.json", '{"task": "location"', "labels.json"),
        ("labels.json", '{"task": "location"}', "labels.json"),
        ("model.npz", b"PK\x03\x04 truncated", "model.npz"),
        ("vocab.txt", b"<unk>\n<s>\n</s>\n\xff\n", "vocab.txt"),
        ("config.yaml", "window: 3", "config.yaml"),
        # labels.json edited by hand: before, an internal ValueError or scores under the wrong names
        ("labels.json", '{"task": "location", "classes": ["O", "LOC"], "location_label": ""}', "labels.json"),
        (
            "labels.json",
            '{"task": "location", "classes": ["O", "PER"], "location_label": "LOC"}',
            "not ['O', 'PER']",
        ),
        (
            "labels.json",
            '{"task": "location", "classes": ["O", "O"], "location_label": "LOC"}',
            "labels.json",
        ),
        ("labels.json", '{"task": "entities", "classes": ["O", "LOC"], "location_label": "LOC"}', "'LOC'"),
        ("labels.json", '{"task": "entities", "classes": ["B-LOC", "O"], "location_label": "LOC"}', "'O'"),
        ("labels.json", '{"task": "entities", "classes": [], "location_label": "LOC"}', "labels.json"),
        (
            "labels.json",
            '{"task": "entities", "classes": ["O", "B-X", "B-X"], "location_label": "LOC"}',
            "twice",
        ),
        (
            "labels.json",
            '{"task": "location", "classes": ["O", "B-LOC"], "location_label": "LOC", "other_types": "yes"}',
            "other_types",
        ),
        (
            "labels.json",
            '{"task": "location", "classes": ["O", "B-PER"], "location_label": "LOC", "other_types": true}',
            "no class 'B-LOC'",
        ),
        ("labels.json", '{"task": "location",\n"classes": [,]}', "labels.json:2:"),
        ("labels.json", "[" * 100_000, "labels.json"),
        ("labels.json", b"\x89PNG\r\n\x1a\n", "PNG image"),
        ("model.npz", "dir", "model.npz"),  # "dir": replaced by a directory
        ("vocab.txt", "dir", "vocab.txt"),
        ("features.json", '{"case":\n[,]}', "features.json:2: not valid JSON"),
        ("features.json", "[" * 100_000, "features.json: not valid JSON (nested too deeply)"),
    ],
    ids=[
        "no-model",
        "config-not-yaml",
        "config-empty",
        "labels-not-json",
        "labels-incomplete",
        "model-truncated",
        "vocab-not-utf8",
        "config-not-a-run",
        "labels-empty-location",
        "labels-wrong-location-classes",
        "labels-o-twice",
        "labels-entities-not-iob2",
        "labels-entities-o-not-first",
        "labels-entities-empty",
        "labels-entities-twice",
        "labels-other-types-not-a-bool",
        "labels-other-types-without-location",
        "labels-bad-json-line",
        "labels-nested-too-deeply",
        "labels-binary",
        "model-a-directory",
        "vocab-a-directory",
        "features-bad-json-line",
        "features-nested-too-deeply",
    ],
)
def test_eval_on_a_damaged_run_folder(trained_run, tmp_path, name, content, needle):
    damaged = tmp_path / "damaged"
    shutil.copytree(trained_run, damaged)
    if content is None:
        (damaged / name).unlink()
    elif content == "dir":
        (damaged / name).unlink()
        (damaged / name).mkdir()
    elif isinstance(content, bytes):
        (damaged / name).write_bytes(content)
    else:
        (damaged / name).write_text(content, encoding="utf-8")
    assert_one_line_error(run("eval", damaged, "--data", TEST_DATA), needle)


@pytest.mark.parametrize(
    ("name", "change", "needle"),
    [
        ("W", lambda W: W[:, :-1], "W is float32 (100, 269)"),
        ("c", lambda c: c.astype(np.int64), "c is int64"),
        ("E", lambda E: E[:-1], "E is float32"),
        # a model of all-NaN weights loaded and scored 0
        ("W", lambda W: np.full_like(W, np.nan), "W holds 27,000 NaN values of 27,000 (the weights of a run"),
        ("U", lambda U: np.where(np.arange(U.size).reshape(U.shape) == 3, np.inf, U), "U holds 1 inf values"),
        ("threshold", lambda _: np.array(np.nan), "threshold holds 1 NaN values"),
    ],
)
def test_eval_rejects_parameters_that_do_not_fit(trained_run, tmp_path, name, change, needle):
    damaged = tmp_path / "damaged"
    shutil.copytree(trained_run, damaged)
    with np.load(damaged / "model.npz") as saved:
        params = {key: saved[key] for key in saved.files}
    params[name] = change(params.get(name))
    np.savez(damaged / "model.npz", **params)
    assert_one_line_error(run("eval", damaged, "--data", TEST_DATA), "model.npz", needle)


def test_eval_rejects_the_weights_of_another_model(trained_run, tmp_path):
    # a prelu run's model.npz in a tanh run's folder: W, U fit, the learned slopes tell it apart
    damaged = tmp_path / "damaged"
    shutil.copytree(trained_run, damaged)
    with np.load(damaged / "model.npz") as saved:
        params = {key: saved[key] for key in saved.files}
    np.savez(damaged / "model.npz", **params, a=np.full(100, 0.25, np.float32))
    message = assert_one_line_error(run("eval", damaged, "--data", TEST_DATA), "model.npz")
    assert message.endswith(
        "holds a, which the model of config.yaml does not have (the weights of another run?)"
    )


def test_unknown_gold_types_are_scored_as_misses():
    # An eval file whose tags the model never saw: scored (the type gets its row, every entity a miss), with
    # a note naming the types. The location task scores locations only: nothing is unknown to it.
    entities = Task("entities", ("O", "B-LOC", "I-LOC"), "LOC")
    assert unknown_types(entities, [["B-FOO", "I-FOO", "O", "B-LOC"], ["B-BAR"]]) == ["BAR", "FOO"]
    assert unknown_types(Task("location", ("O", "LOC"), "LOC"), [["O", "B-LOC", "I-LOC"]]) == []


def test_eval_adds_the_vectors_of_words_the_run_did_not_keep(trained_run, write):
    path = write("new.conll", "Zanzibar I-LOC\nis O\nwarm O\n\nQwxzt O\n")
    vectors = write("more.txt", "zanzibar " + " ".join(["0.5"] * 50) + "\nis " + " ".join(["9"] * 50) + "\n")
    with_vectors = run("eval", trained_run, "--data", path, "--json", "--vectors", vectors)
    assert_ok(with_vectors)
    # zanzibar is new; "is" is in the run's vocabulary already and keeps its own (trained) row
    assert "windowner: note: 1 words outside the run's vocabulary take their vectors" in with_vectors.stderr
    without = run("eval", trained_run, "--data", path, "--json", "--vectors", "none")
    assert_ok(without)
    assert without.stderr == ""
    assert json.loads(with_vectors.stdout).keys() == json.loads(without.stdout).keys()  # stdout: the report
    wrong_size = write("small.txt", "zanzibar 0.1 0.2\n")
    assert_one_line_error(run("eval", trained_run, "--data", path, "--vectors", wrong_size), "dimension 2")


def test_eval_notes_a_file_without_gold_entities(trained_run, write):
    path = write("none.conll", "It O\nrains O\n")
    result = run("eval", trained_run, "--data", path)
    assert_ok(result)
    assert "has no LOC entities" in result.stderr


def test_gradcheck_set_without_config():
    result = run("gradcheck", "--set", "train.l2=0.1")
    assert_one_line_error(result, "--config")


def test_gradcheck_missing_config(tmp_path):
    assert_one_line_error(run("gradcheck", "--config", tmp_path / "absent.yaml"), "absent.yaml")


@pytest.mark.parametrize("output", ["", ".", "./"])
def test_train_refuses_the_current_folder_before_touching_anything(tmp_path, monkeypatch, output):
    # `--output ''` trained into the current folder and replaced the user's own config.yaml.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text("mine\n", encoding="utf-8")
    result = run("train", "--config", DEFAULT, "--output", output, "--set", "train.epochs=1")
    assert_one_line_error(result, "output folder")
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]
    assert (tmp_path / "config.yaml").read_text(encoding="utf-8") == "mine\n"


def test_train_refuses_to_write_over_its_own_config(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    config = project / "config.yaml"
    text = DEFAULT.read_text(encoding="utf-8").replace("../data/", f"{REPO}/data/")
    config.write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(run("train", "--config", config, "--output", "project"), "config.yaml", "input")
    assert [p.name for p in project.iterdir()] == ["config.yaml"]
    assert_one_line_error(run("train", "--config", config, "--set", "output="), "'output' must not be empty")


# ---------------------------------------------------------------------------------------------------------
# the error edge: --debug, internal errors, memory, closed pipes, signals


def test_debug_shows_the_traceback_before_the_line(tmp_path, monkeypatch):
    monkeypatch.delenv("WINDOWNER_DEBUG", raising=False)
    plain = run("eval", tmp_path / "absent", "--data", TEST_DATA)
    assert "Traceback" not in plain.stderr
    for result in (
        run("--debug", "eval", tmp_path / "absent", "--data", TEST_DATA),
        run_with_env({"WINDOWNER_DEBUG": "1"}, "eval", tmp_path / "absent", "--data", TEST_DATA),
    ):
        assert result.exit_code == 1, describe(result)
        assert result.stderr.startswith("Traceback"), describe(result)
        assert "WindownerError" in result.stderr
        assert result.stderr.splitlines()[-1] == plain.stderr.splitlines()[0]
    assert "--debug" in run("--help").stdout


def test_an_internal_error_is_one_line_that_says_how_to_see_more(monkeypatch, tmp_path):
    def broken(*args, **kwargs):
        raise ValueError("a bug\nsecond line")

    monkeypatch.delenv("WINDOWNER_DEBUG", raising=False)
    monkeypatch.setattr("windowner.cli.common.load_run", broken)
    result = run("eval", tmp_path, "--data", TEST_DATA)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, describe(result)
    assert result.stderr == (
        "windowner: internal error: ValueError: a bug"
        " (please report it; windowner --debug shows the traceback)\n"
    )
    debug = run("--debug", "eval", tmp_path, "--data", TEST_DATA)
    assert "Traceback" in debug.stderr and "ValueError: a bug" in debug.stderr


def test_one_line_escapes_what_would_break_the_line():
    assert one_line("a\nb\rc\x85d\u2028e\tf\x1b[31m") == "a\\nb\\rc\\x85d\\u2028e\tf\\x1b[31m"
    assert one_line("x" * 5000, limit=10) == "x" * 10 + "… (5,000 characters)"


def test_a_closed_stdout_ends_other_commands_quietly(trained_run, monkeypatch):
    # As a program killed by SIGPIPE: status 141, nothing on stderr (the reader chose to stop reading).
    def closed(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("windowner.cli.evaluate.format_report", closed)
    result = run("eval", trained_run, "--data", TEST_DATA)
    assert result.exit_code == 141 and result.stderr == "", describe(result)


def subprocess_env() -> dict[str, str]:
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


CLI = [sys.executable, "-m", "windowner.cli"]


def test_out_of_memory_is_a_resource_error_naming_the_keys(tmp_path):
    # Before: "internal error: MemoryError: Unable to allocate ... (please report it ...)". A real run under
    # a 2 GiB address-space limit: W of 100,000 x 101*50 float64 values (4 GB) does not fit.
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))"
    code = f"{limit}; from windowner.cli import run; run()"
    args = ["train", "--config", DEFAULT, "--output", tmp_path / "run", "--quiet"]
    args += ["--set", "model.hidden=100000", "--set", "model.window=50"]
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, env=subprocess_env()
    )
    assert done.returncode == 1, done
    assert done.stderr.startswith("windowner: error: out of memory (Unable to allocate"), done.stderr
    assert done.stderr.count("\n") == 1 and "model.hidden" in done.stderr, done.stderr
    assert "internal" not in done.stderr


def test_train_goes_on_when_stdout_is_closed(tmp_path):
    # `windowner train ... | head -1` killed the training with "Broken pipe".
    output, errors = tmp_path / "run", tmp_path / "stderr.txt"
    args = ["train", "--config", DEFAULT, "--output", output, "--set", "train.epochs=3"]
    with open(errors, "w") as stderr:
        process = subprocess.Popen(
            [*CLI, *map(str, args)], stdout=subprocess.PIPE, stderr=stderr, text=True, env=subprocess_env()
        )
        first = process.stdout.readline()  # what `head -1` reads
        process.stdout.close()  # and `head` is gone
        status = process.wait(timeout=120)
    assert first.endswith(
        "classes: O, B-LOC, I-LOC, B-MISC, I-MISC, B-ORG, I-ORG, B-PER, I-PER (predicting LOC only)\n"
    ), first
    text = errors.read_text()
    assert status == 0, text
    assert text == (
        "windowner: note: standard output is closed:"
        " the rest of the report is not printed, the command goes on\n"
    )
    history = (output / "history.jsonl").read_text().splitlines()
    assert len(history) == 3 and (output / "model.npz").is_file() and (output / "scores.json").is_file()


@pytest.mark.parametrize(
    ("signum", "status", "line"),
    [
        (signal.SIGTERM, 143, "windowner: terminated (SIGTERM)"),
        (signal.SIGINT, 130, "windowner: interrupted"),
        (signal.SIGHUP, 129, "windowner: terminated (SIGHUP)"),
    ],
    ids=["SIGTERM", "SIGINT", "SIGHUP"],
)
def test_a_signal_during_training_is_one_line_and_its_status(tmp_path, signum, status, line):
    # Before: SIGTERM ended the process with no message (the shell's 143), no clean-up.
    output, errors = tmp_path / "run", tmp_path / "stderr.txt"
    args = ["train", "--config", DEFAULT, "--output", output, "--set", "train.epochs=1000"]
    # As from a terminal: a signal the test runner ignores (nohup, a background job) is not ignored here.
    handler = "signal.default_int_handler" if signum == signal.SIGINT else "signal.SIG_DFL"
    program = f"import signal; signal.signal({int(signum)}, {handler}); from windowner.cli import run; run()"
    with open(errors, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", program, *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=subprocess_env(),
        )
        try:
            for text in process.stdout:
                if text.startswith("epoch   2"):
                    break
            process.send_signal(signum)
            code = process.wait(timeout=60)
        finally:
            process.kill()
    assert code == status, errors.read_text()
    where = r"(in epoch \d+, after batch [\d,]+ of [\d,]+|after epoch \d+)"
    resume = f"; saved a checkpoint: continue with windowner train --resume {output}"
    assert re.fullmatch(re.escape(line) + " " + where + re.escape(resume) + "\n", errors.read_text())
    assert (output / "model.npz").is_file() and (output / "checkpoint.npz").is_file()
    assert [p.name for p in output.iterdir() if p.name.startswith(".")] == [".windowner"]  # the mark alone
    assert [p.name for p in output.parent.iterdir() if p.name.startswith(".")] == []  # no lock file left


# A program that runs the console command as pyproject.toml declares it, and sends itself a signal when
# the command first imports numpy: a signal while Python imports, at the same place every time.
SIGNAL_DURING_IMPORT = """
import importlib, importlib.abc, signal, sys
signal.signal({signum}, {handler})  # as from a terminal, whatever the test runner ignores

class SignalOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "numpy":
            sys.meta_path.remove(self)
            signal.raise_signal({signum})
        return None

sys.meta_path.insert(0, SignalOnImport())
sys.argv = ["windowner", "--version"]
getattr(importlib.import_module("{module}"), "{function}")()
"""


@pytest.mark.parametrize(
    ("signum", "status", "line"),
    [
        (signal.SIGINT, 130, "windowner: interrupted"),
        (signal.SIGTERM, 143, "windowner: terminated (SIGTERM)"),
        (signal.SIGHUP, 129, "windowner: terminated (SIGHUP)"),
    ],
    ids=["SIGINT", "SIGTERM", "SIGHUP"],
)
def test_a_signal_while_python_imports_is_one_line_and_its_status(signum, status, line):
    # Before: Ctrl-C in the first half second printed a 14-line KeyboardInterrupt traceback (the console
    # script imported windowner.cli, numpy with it, before any handler); SIGTERM died with no message.
    script = re.search(r'^windowner = "([\w.]+):(\w+)"', (REPO / "pyproject.toml").read_text(), re.M)
    module, function = script.groups()
    handler = "signal.default_int_handler" if signum == signal.SIGINT else "signal.SIG_DFL"
    program = SIGNAL_DURING_IMPORT.format(
        signum=int(signum), handler=handler, module=module, function=function
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=subprocess_env(), timeout=60
    )
    assert (done.returncode, done.stderr, done.stdout) == (status, line + "\n", ""), done


# ---------------------------------------------------------------------------------------------------------
# gradcheck


def test_gradcheck_without_config_passes_and_prints_the_table():
    result = run("gradcheck")
    assert_ok(result)
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("parameter"))
    table = [line for line in lines[header + 1 :] if line.split()]
    rows = {line.split()[0]: line for line in table if line.split()[0] in ("E", "W", "b", "U", "c")}
    assert set(rows) == {"E", "W", "b", "U", "c"}
    for name, line in rows.items():
        assert line.rstrip().endswith("ok"), line
        assert float(line.split()[3]) < 1e-6, name
    assert "all gradients agree" in lines[-1]


def test_gradcheck_with_the_default_config():
    result = run("gradcheck", "--config", DEFAULT, "--batch", "3", "--max-entries", "5")
    assert_ok(result)
    assert re.search(r"default.yaml: \d+ training windows \(\d+ sentences?\)", result.stdout)  # crf
    assert "all gradients agree" in result.stdout


def test_gradcheck_with_a_config_checks_a_sample_by_default_and_says_its_time():
    """`gradcheck --config` once checked every entry of the real model: 6 minutes without a line."""
    result = run("gradcheck", "--config", DEFAULT, "--batch", "3", "--set", "model.hidden=20")
    assert_ok(result)
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line.strip()}
    assert rows["W"][1:3] == ["20x270", str(CONFIG_ENTRIES)]  # 200 of 5,400
    assert rows["c"][2] == "9"  # all of a smaller one
    assert re.search(r"entries, 200 a parameter at most in \d+\.\d s$", result.stdout.rstrip())
    every = run("gradcheck", "--batch", "2", "--max-entries", "0")  # 0: every entry
    assert_ok(every)
    rows = {line.split()[0]: line.split() for line in every.stdout.splitlines() if line.strip()}
    assert rows["W"][1:3] == ["100x40", "4000"]


# ---------------------------------------------------------------------------------------------------------
# a real run


def test_run_folder_holds_every_file(trained_run):
    for name in RUN_FILES:
        assert (trained_run / name).is_file(), name
    with np.load(trained_run / "model.npz", allow_pickle=False) as archive:
        assert set(archive.files) >= {"E", "W", "b", "U", "c"}
        assert archive["E"].ndim == 2
        vocab = (trained_run / "vocab.txt").read_text(encoding="utf-8").splitlines()
        assert archive["E"].shape[0] == len(vocab)
        assert vocab[:3] == ["<unk>", "<s>", "</s>"]
    history = [json.loads(line) for line in (trained_run / "history.jsonl").read_text().splitlines()]
    assert [record["epoch"] for record in history] == [1]
    scores = json.loads((trained_run / "scores.json").read_text())
    assert scores["best_epoch"] == 1 and "test" in scores and "dev" in scores
    labels = json.loads((trained_run / "labels.json").read_text())
    assert labels["task"] == "location" and labels["other_types"] is True  # the default config's
    tags = ["B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert labels["classes"] == ["O", *tags]
    config = config_from_dict(yaml.safe_load((trained_run / "config.yaml").read_text()))
    assert config.train.epochs == 1
    assert Path(config.data.train).is_absolute()


def test_eval_json(trained_run):
    result = run("eval", trained_run, "--data", TEST_DATA, "--json")
    assert_ok(result)
    report = json.loads(result.stdout)
    assert set(report) == {"entities", "tokens", "groups"}  # groups: words seen in training or not
    assert set(report["entities"]) == {"LOC", "micro"}
    assert set(report["groups"]) == {"seen", "unseen"}
    for scores in (report["entities"]["LOC"], report["entities"]["micro"], report["tokens"]["LOC"]):
        assert set(scores) == {"precision", "recall", "f1", "support", "predicted"}
        for key in ("precision", "recall", "f1"):
            assert 0.0 <= scores[key] <= 1.0
    gold_locations = sum(tag == "B-LOC" for s in read_conll(TEST_DATA) for tag in s.tags)
    assert report["entities"]["LOC"]["support"] == gold_locations > 0
    assert report["entities"]["micro"]["support"] == gold_locations
    assert 0.0 <= report["tokens"]["accuracy"] <= 1.0


def test_eval_table_and_last_model(trained_run):
    table = run("eval", trained_run, "--data", TEST_DATA)
    assert_ok(table)
    assert table.stdout.splitlines()[0].split() == ["entities", "precision", "recall", "f1", "support"]
    assert "accuracy" in table.stdout
    last = run("eval", trained_run, "--data", TEST_DATA, "--model", "last", "--json")
    assert_ok(last)
    best = run("eval", trained_run, "--data", TEST_DATA, "--json")
    assert json.loads(last.stdout) == json.loads(best.stdout)  # one epoch: the last is the best


# ---------------------------------------------------------------------------------------------------------
# eval: the predictions file, the confusion matrix, the table's layout


def read_predictions(text: str) -> list[list[tuple[str, str, str]]]:
    """``token gold predicted`` lines, a blank line after each sentence, as sentences of 3-tuples."""
    assert text.endswith("\n\n"), text[-20:]
    sentences = []
    for block in text[:-2].split("\n\n"):
        rows = [tuple(line.split(" ")) for line in block.split("\n")]
        assert all(len(row) == 3 and all(row) for row in rows), block
        sentences.append(rows)
    return sentences


def test_eval_writes_predictions_that_score_as_the_report(trained_run, tmp_path):
    out = tmp_path / "predictions.txt"
    result = run("eval", trained_run, "--data", TEST_DATA, "--predictions", out, "--json")
    assert_ok(result)
    report = json.loads(result.stdout)
    assert set(report) == {"entities", "tokens", "groups"}  # no new keys unless asked for
    written = read_predictions(out.read_text(encoding="utf-8"))
    data = read_conll(TEST_DATA)
    assert [[token for token, _, _ in rows] for rows in written] == [list(s.tokens) for s in data]
    gold = [[g for _, g, _ in rows] for rows in written]
    predicted = [[p for _, _, p in rows] for rows in written]
    # the location task is scored against its locations only: every other type reads O in the gold column
    assert {tag for tags in gold for tag in tags} == {"O", "B-LOC", "I-LOC"}
    assert any(tag.endswith("PER") for s in data for tag in s.tags)
    assert gold == [["O" if not tag.endswith("-LOC") else tag for tag in s.tags] for s in data]
    assert {tag for tags in predicted for tag in tags} <= {"O", "B-LOC", "I-LOC"}
    scores = {name: s.as_dict() for name, s in entity_scores(gold, predicted).items()}
    assert scores == report["entities"]
    assert out.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["predictions.txt"]  # no temporary file left


def test_eval_predictions_to_stdout_puts_the_report_on_stderr(trained_run, tmp_path):
    out = tmp_path / "predictions.txt"
    assert_ok(run("eval", trained_run, "--data", TEST_DATA, "--predictions", out))
    table = run("eval", trained_run, "--data", TEST_DATA)
    result = run("eval", trained_run, "--data", TEST_DATA, "--predictions", "-")
    assert_ok(result)
    assert result.stdout == out.read_text(encoding="utf-8")
    assert result.stderr == table.stdout
    error = run("eval", trained_run, "--data", TEST_DATA, "--predictions", "-", "--json")
    assert_one_line_error(error, "--json", "stdout")


def test_eval_predictions_with_scores_and_a_min_score(trained_run, tmp_path):
    plain, with_scores = tmp_path / "plain.txt", tmp_path / "scores.txt"
    assert_ok(run("eval", trained_run, "--data", TEST_DATA, "--predictions", plain))
    assert_ok(run("eval", trained_run, "--data", TEST_DATA, "--predictions", with_scores, "--scores"))
    rows = [line.split() for line in with_scores.read_text(encoding="utf-8").splitlines()]
    bare = [line.split() for line in plain.read_text(encoding="utf-8").splitlines()]
    assert [row[:1] + row[3:] for row in rows] == bare  # token, then the scores, then gold and predicted
    entities = 0
    for row in rows:
        if row:
            assert 0.0 <= float(row[1]) <= 1.0
            assert (row[2] == "-") == (row[4] == "O")  # an entity's score on each of its tokens
            entities += row[4].startswith("B-")
    assert entities > 10
    # --min-score: fewer entities, at least as precise, never more recall
    every = json.loads(run("eval", trained_run, "--data", TEST_DATA, "--json").stdout)["entities"]["micro"]
    strict = run("eval", trained_run, "--data", TEST_DATA, "--json", "--min-score", "0.9")
    assert_ok(strict)
    kept = json.loads(strict.stdout)["entities"]["micro"]
    assert kept["recall"] < every["recall"] and kept["precision"] >= every["precision"]


def test_eval_refuses_a_predictions_file_it_cannot_write_or_must_not_replace(trained_run, tmp_path):
    missing = run("eval", trained_run, "--data", TEST_DATA, "--predictions", tmp_path / "absent" / "p.txt")
    assert_one_line_error(missing, "absent", "no folder")
    data = tmp_path / "data.conll"
    shutil.copy(TEST_DATA, data)
    before = data.read_bytes()
    same = run("eval", trained_run, "--data", data, "--predictions", tmp_path / "." / "data.conll")
    assert_one_line_error(same, "data.conll", "--data file")
    assert data.read_bytes() == before
    model = run("eval", trained_run, "--data", data, "--predictions", trained_run / "model.npz")
    assert_one_line_error(model, "model.npz", "run's model.npz")


def test_eval_confusion_matrix(trained_run):
    result = run("eval", trained_run, "--data", TEST_DATA, "--confusion", "--json")
    assert_ok(result)
    report = json.loads(result.stdout)
    labels, matrix = report["confusion"]["labels"], np.array(report["confusion"]["matrix"])
    assert labels == ["O", "B-LOC", "I-LOC"]
    tokens = sum(len(s) for s in read_conll(TEST_DATA))
    assert matrix.shape == (3, 3) and matrix.sum() == tokens
    assert np.trace(matrix) / tokens == pytest.approx(report["tokens"]["accuracy"], abs=1e-12)
    gold_locations = sum(tag == "B-LOC" for s in read_conll(TEST_DATA) for tag in s.tags)
    assert matrix[1].sum() == gold_locations  # the row of gold B-LOC
    text = run("eval", trained_run, "--data", TEST_DATA, "--confusion")
    assert_ok(text)
    sections = text.stdout.split("\n\n")
    confusion = next(section for section in sections[1:] if section.startswith("gold"))  # after the table
    lines = confusion.splitlines()
    assert lines[0].split() == ["gold", "\\", "predicted", "O", "B-LOC", "I-LOC"]
    assert [line.split()[0] for line in lines[1:]] == labels
    assert [[int(n) for n in line.split()[1:]] for line in lines[1:]] == matrix.tolist()
    assert len({len(line) for line in lines}) == 1  # right-aligned: every line ends at the same column


def cell_ends(line: str) -> list[int]:
    """Where each of the last four cells of a table line ends (names may hold spaces, numbers do not)."""
    return [match.end() for match in re.finditer(r"\S+", line)][-4:]


def test_format_report_stays_aligned_for_long_names_and_large_counts():
    score = {"precision": 0.5, "recall": 0.25, "f1": 1 / 3, "support": 4}
    report = {
        "entities": {
            "LOC": score,
            "ORGANISATION-SUBSIDIARY": {**score, "support": 1_234_567},
            "micro": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1_234_571},
        },
        "tokens": {"LOC": score, "accuracy": 0.9},
    }
    lines = format_report(report).splitlines()
    assert lines[0].split() == ["entities", "precision", "recall", "f1", "support"]
    assert [line.split()[0] for line in lines[1:4]] == ["LOC", "ORGANISATION-SUBSIDIARY", "micro"]
    full = [lines[0], *lines[1:4], lines[5]]  # the blank line 4 parts entities from tokens
    assert lines[4] == "" and lines[5].startswith("LOC tokens")
    assert len({tuple(cell_ends(line)) for line in full}) == 1, "\n".join(lines)
    assert lines[1].split() == ["LOC", "50.00", "25.00", "33.33", "4"]
    assert lines[6].split() == ["accuracy", "90.00"]


def test_format_report_renders_groups_when_the_report_has_them():
    gold = [["B-LOC", "I-LOC", "O"], ["B-PER", "O"]]
    pred = [["B-LOC", "O", "O"], ["B-PER", "O"]]
    groups = [["seen", "unseen", "seen"], ["seen", "seen"]]
    report = {
        "entities": {name: s.as_dict() for name, s in entity_scores(gold, pred).items()},
        "tokens": {"LOC": token_scores(gold, pred, "LOC").as_dict(), "accuracy": accuracy(gold, pred)},
    }
    assert "groups" not in format_report(report)
    report["groups"] = {name: g.as_dict() for name, g in grouped_scores(gold, pred, groups).items()}
    section = format_report(report).split("\n\n")[-1].splitlines()
    assert section[0].split() == ["groups", "precision", "recall", "f1", "support", "tokens", "accuracy"]
    # unseen: the gold LOC (0, 2) is missed, no entity predicted; its one token (I-LOC) predicted O
    # seen: PER right, the predicted LOC (0, 1) wrong -> P 1/2, R 1/1; 4 tokens, all tags right
    assert section[1].split() == ["unseen", "entities", "0.00", "0.00", "0.00", "1"]
    assert section[2].split() == ["unseen", "tokens", "0.00", "0.00", "0.00", "1", "1", "0.00"]
    assert section[3].split() == ["seen", "entities", "50.00", "100.00", "66.67", "1"]
    assert section[4].split() == ["seen", "tokens", "100.00", "100.00", "100.00", "2", "4", "100.00"]


def test_a_group_with_no_support_shows_dashes_not_zeros():
    """A group (or type) with nothing to find has no recall: a dash, and no precision or F1 either when
    nothing was predicted in it; a prediction there is a false positive."""
    gold = [["B-LOC", "O"], ["O", "O"]]
    pred = [["B-LOC", "O"], ["O", "B-PER"]]
    groups = [["seen", "seen"], ["unseen", "unseen"]]
    nothing = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "predicted": 0}
    report = {
        "entities": {name: s.as_dict() for name, s in entity_scores(gold, pred).items()},
        "tokens": {"LOC": token_scores(gold, pred, "LOC").as_dict(), "accuracy": accuracy(gold, pred)},
        "groups": {name: g.as_dict() for name, g in grouped_scores(gold, pred, groups).items()},
    }
    report["entities"]["MISC"] = nothing
    text = format_report(report)
    rows = {tuple(line.split()[:2]): line.split() for line in text.splitlines() if line.strip()}
    assert rows[("MISC", "-")] == ["MISC", "-", "-", "-", "0"]
    assert rows[("PER", "0.00")] == ["PER", "0.00", "-", "0.00", "0"]  # predicted, not in the gold data
    assert rows[("unseen", "entities")] == ["unseen", "entities", "0.00", "-", "0.00", "0"]
    assert rows[("seen", "entities")] == ["seen", "entities", "100.00", "100.00", "100.00", "1"]
    report["groups"]["unseen"]["entities"]["micro"] = nothing
    assert ["unseen", "entities", "-", "-", "-", "0"] in [
        line.split() for line in format_report(report).splitlines()
    ]


@pytest.mark.parametrize("name", ["2024", "run #1"])
def test_output_is_a_folder_name_not_yaml(tmp_path, monkeypatch, name):
    # --output is a path: it must not be read as a YAML value (2024 is no integer, "#" starts no comment).
    monkeypatch.chdir(tmp_path)
    result = run("train", "--config", DEFAULT, "--output", name, "--set", "train.epochs=1", "--quiet")
    assert_ok(result)
    assert (tmp_path / name / "model.npz").is_file()


def test_usage_errors_are_one_line_too(capsys):
    """The console entry point (``run``) turns click's own usage errors into one line, status 2."""
    from windowner.cli.main import run as entry_point

    for argv in (["eval"], ["train"], ["nosuchcommand"], ["train", "--config"]):
        with pytest.raises(SystemExit) as info:
            main_args(entry_point, argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and err.startswith("windowner: error:"), err


def main_args(entry_point, argv):
    import sys

    saved = sys.argv
    sys.argv = ["windowner", *argv]
    try:
        entry_point()
    finally:
        sys.argv = saved


# ---------------------------------------------------------------------------------------------------------
# train: --resume, --json, --dry-run, the lock, progress in a log


def test_sigterm_in_the_middle_of_an_epoch_then_resume_gives_the_same_model(tmp_path):
    """SIGTERM to a training process in epoch 1: it ends the batch, saves a checkpoint and says how to go on
    (status 143); `train --resume` ends with the weights of the run never interrupted. Its stderr is a
    pipe, not a terminal: progress comes as lines (here one a batch), which is how the test finds its
    moment."""
    stopped, straight = tmp_path / "stopped", tmp_path / "straight"
    options = ["--set", "train.epochs=2", "--set", "model.hidden=10", "--set", "data.test=null"]
    program = (
        "import signal; signal.signal(signal.SIGTERM, signal.SIG_DFL)\n"
        "import windowner.training.progress; windowner.training.progress.EVERY = 0\n"
        "from windowner.cli import run; run()"
    )
    args = ["train", "--config", DEFAULT, "--output", stopped, *options]
    process = subprocess.Popen(
        [sys.executable, "-c", program, *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    )
    try:
        for line in process.stderr:
            if re.match(r"windowner: epoch 1/2: batch 300/[\d,]+ \(\d+%\), ", line):
                process.send_signal(signal.SIGTERM)
                break
        rest = process.stderr.read().splitlines()
        code = process.wait(timeout=60)
    finally:
        process.kill()
    assert code == 143, rest
    last = rest[-1]
    assert re.fullmatch(
        r"windowner: terminated \(SIGTERM\) in epoch 1, after batch 3\d\d of [\d,]+; saved a checkpoint:"
        rf" continue with windowner train --resume {re.escape(str(stopped))}",
        last,
    ), last
    assert_one_line_error(run("train", "--config", DEFAULT, "--output", stopped), "holds an interrupted run")

    resumed = run("train", "--resume", stopped, "--json")
    assert_ok(resumed)
    result = json.loads(resumed.stdout)  # stdout: the JSON alone; the report lines went to stderr
    assert result["run"] == str(stopped) and result["best_epoch"] in (1, 2) and "dev" in result
    assert re.search(r"^resuming .* in epoch 1, after batch 3\d\d \(step 3\d\d\)$", resumed.stderr, re.M)
    assert "epoch   2" in resumed.stderr
    assert_ok(run("train", "--config", DEFAULT, "--output", straight, *options, "--quiet"))
    for name in ("model.npz", "last.npz"):
        with np.load(stopped / name) as one, np.load(straight / name) as other:
            assert all(np.array_equal(one[key], other[key]) for key in one.files), name
    assert json.loads((stopped / "scores.json").read_text()) == json.loads(
        (straight / "scores.json").read_text()
    )


def test_resume_takes_no_other_config(tmp_path):
    result = run("train", "--resume", tmp_path, "--config", DEFAULT, "--overwrite")
    assert result.exit_code == 2 and "drop --config, --overwrite" in result.stderr, describe(result)
    assert_one_line_error(run("train", "--resume", tmp_path / "absent"), "absent: no such run folder")
    assert_one_line_error(
        run("train", "--resume", tmp_path), "not a windowner run folder (config.yaml is missing)"
    )


def test_train_into_a_folder_another_run_holds_fails_at_once(tmp_path):
    with locked(tmp_path / "run"):
        result = run("train", "--config", DEFAULT, "--output", tmp_path / "run")
    assert_one_line_error(result, "is in use by another training run (pid", "--output")


def test_train_dry_run_shows_the_config_and_the_data_and_writes_nothing(tmp_path):
    result = run("train", "--config", DEFAULT, "--output", tmp_path / "run", "--dry-run")
    assert_ok(result)
    assert result.stdout.startswith("# the resolved config (saved as config.yaml)\ndata:\n  train: ")
    assert re.search(r"^train +1,384 +32,533 +98\.2%$", result.stdout, re.M)  # sentences, tokens, vectors
    assert re.search(r"^B-LOC +830 +72 +112$", result.stdout, re.M)  # tag counts of train, dev, test
    assert result.stdout.endswith(f"the run would go to {tmp_path / 'run'}: a new folder\n")
    assert list(tmp_path.iterdir()) == []
    as_json = run("train", "--config", DEFAULT, "--output", tmp_path / "run", "--dry-run", "--json")
    assert_ok(as_json)
    summary = json.loads(as_json.stdout)
    assert summary["data"]["dev"]["tags"]["B-LOC"] == 72 and summary["config"]["train"]["epochs"] == 10
    assert list(tmp_path.iterdir()) == []


def test_train_dry_run_notes_what_train_would_refuse(trained_run):
    refused = run("train", "--config", DEFAULT, "--output", trained_run, "--dry-run")
    assert_ok(refused)  # the config and the data all the same; the folder is a note
    assert refused.stdout.endswith("train would refuse it (see the note)\n")
    assert "already holds a trained model" in refused.stderr and "--overwrite" in refused.stderr
    result = run("train", "--config", DEFAULT, "--output", trained_run, "--dry-run", "--overwrite")
    assert_ok(result)
    assert "the run there is replaced once the new one has saved a model" in result.stdout


def test_gradcheck_all_has_a_column_for_every_parameter():
    result = run("gradcheck", "--all", "--max-entries", "1")
    assert_ok(result)
    lines = result.stdout.splitlines()
    assert lines[0].split()[4:] == [
        "E",
        "E_case",
        "E_chars",
        "E_gazetteer",
        "E_document",
        "W",
        "b",
        "a",
        "U",
        "c",
        "A",
        "A_start",
        "A_end",
    ]
    assert len(lines) == 1 + 96 + 1 and lines[-1].startswith("all 96 cases agree")
    prelu_crf = next(line.split() for line in lines if line.startswith("prelu      crf      fine-tuned"))
    assert "-" not in prelu_crf  # that model has every parameter, each checked
