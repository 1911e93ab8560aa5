"""Training end to end on the shipped data: the score it reaches, determinism, the run folder."""

import gzip
import json
import re
import signal
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from windowner import WindownerError, load_config, load_run
from windowner.base.errors import Terminated
from windowner.data.conll import read_conll
from windowner.evaluation.metrics import chunks
from windowner.tagging.checkpoint import load_checkpoint
from windowner.tagging.folders import locked
from windowner.training.corpus import initialise
from windowner.training.divergence import LossWatch
from windowner.training.dry_run import dry_run
from windowner.training.loop import resume, train

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "configs" / "default.yaml"


def config(tmp_path, *overrides):
    return load_config(DEFAULT, [f"output={tmp_path / 'run'}", *overrides])


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """The README's default training, as it is (10 epochs, frozen vectors): about 10 s."""
    output = tmp_path_factory.mktemp("default") / "run"
    scores = train(load_config(DEFAULT, [f"output={output}"]), progress=False, echo=lambda line: None)
    return output, scores


def test_default_training_reaches_its_dev_score(default_run):
    output, scores = default_run
    dev = scores["dev"]["entities"]["LOC"]
    # measured 0.808 dev entity F1 (epoch 3), test 0.788 entity and 0.780 token F1 on these splits (the
    # location task learning every type); the bars are set below them for BLAS differences
    assert dev["f1"] >= 0.75
    assert scores["test"]["entities"]["micro"]["f1"] >= 0.72
    assert scores["test"]["tokens"]["LOC"]["f1"] >= 0.72


def test_run_folder_keeps_the_best_epoch(default_run):
    output, scores = default_run
    history = [json.loads(line) for line in (output / "history.jsonl").read_text().splitlines()]
    assert len(history) == 10
    f1 = [record["dev"]["entities"]["micro"]["f1"] for record in history]
    assert scores["best_epoch"] == 1 + int(np.argmax(f1))  # the first of equal bests
    tagger = load_run(output)
    dev = read_conll(ROOT / "data" / "wikigold" / "dev.conll")
    assert tagger.evaluate(dev) == history[scores["best_epoch"] - 1]["dev"]
    assert json.loads((output / "scores.json").read_text()) == scores
    last = load_run(output, "last")
    assert last.evaluate(dev) == history[-1]["dev"]


def test_frozen_run_keeps_the_pretrained_vectors(default_run, tmp_path):
    output, _ = default_run
    tagger, _, _ = initialise(config(tmp_path))
    with np.load(output / "model.npz", allow_pickle=False) as saved:
        assert saved["E"].tobytes() == tagger.model.params["E"].tobytes()
        assert saved["W"].dtype == np.float32


def test_predictions_are_valid_iob2(default_run):
    tagger = load_run(default_run[0])
    tags = tagger.predict([["He", "flew", "from", "New", "York", "to", "Paris", "."], ["Hi"]])
    assert [len(t) for t in tags] == [8, 1]
    for sentence in tags:
        for i, tag in enumerate(sentence):
            assert tag == "O" or tag in ("B-LOC", "I-LOC")
            if tag == "I-LOC":
                assert sentence[i - 1] in ("B-LOC", "I-LOC")


def test_same_seed_same_numbers_other_seed_other_numbers(tmp_path):
    runs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        cfg = load_config(DEFAULT, [f"output={tmp_path / name}", "train.epochs=2", f"train.seed={seed}"])
        train(cfg, progress=False, echo=lambda line: None)
        runs[name] = np.load(tmp_path / name / "last.npz", allow_pickle=False)
    assert all(np.array_equal(runs["a"][k], runs["b"][k]) for k in "EWbUc")
    assert not np.array_equal(runs["a"]["W"], runs["c"]["W"])


def test_a_library_call_without_progress_prints_nothing(tmp_path, capsys):
    """``train(config, progress=False)`` is quiet (no epoch lines on stdout); the epoch lines come with
    progress shown (or with an ``echo`` of one's own, as the other tests here pass)."""
    small = ("train.epochs=1", "model.hidden=10", "data.test=null")
    train(config(tmp_path, *small), progress=False, note=lambda message: None)
    assert capsys.readouterr().out == ""
    train(config(tmp_path, *small), progress="lines", overwrite=True, note=lambda message: None)
    assert "epoch   1" in capsys.readouterr().out


def test_entities_task_with_fine_tuning(tmp_path):
    cfg = config(tmp_path, "task.name=entities", "train.epochs=1", "train.fine_tune=true", "model.hidden=20")
    lines = []
    scores = train(cfg, progress=False, echo=lines.append)
    assert set(scores["dev"]["entities"]) == {"LOC", "MISC", "ORG", "PER", "micro"}
    assert any(line.startswith("epoch   1") for line in lines)
    tagger = load_run(tmp_path / "run")
    assert tagger.task.classes[0] == "O" and len(tagger.task.classes) == 9  # O and B-/I- of 4 types
    before, _, _ = initialise(cfg)
    assert not np.array_equal(tagger.model.params["E"], before.model.params["E"])  # fine-tuned
    for sentence in tagger.predict([s.tokens for s in read_conll(ROOT / "data/wikigold/test.conll")[:20]]):
        assert all(start < end for start, end, _ in chunks(sentence))
        assert all(
            not (t.startswith("I-") and (i == 0 or sentence[i - 1][2:] != t[2:]))
            for i, t in enumerate(sentence)
        )


def test_training_without_dev_or_test_keeps_the_last_epoch(tmp_path):
    cfg = config(tmp_path, "data.dev=null", "data.test=null", "train.epochs=2")
    scores = train(cfg, progress=False, echo=lambda line: None)
    assert scores == {"best_epoch": 2}
    with np.load(tmp_path / "run" / "model.npz") as best, np.load(tmp_path / "run" / "last.npz") as last:
        assert all(np.array_equal(best[k], last[k]) for k in "EWbUc")


def test_overwrite_removes_the_old_run_first(tmp_path):
    folder = tmp_path / "run"
    train(config(tmp_path, "train.epochs=1"), progress=False, echo=lambda line: None)
    (folder / "stale-but-not-ours.txt").write_text("kept")
    cfg = config(tmp_path, "train.epochs=1", "data.test=null", "model.hidden=7")
    train(cfg, progress=False, echo=lambda line: None, overwrite=True)
    assert json.loads((folder / "scores.json").read_text()).keys() == {"best_epoch", "dev"}  # not the old one
    assert load_run(folder).model.params["W"].shape[0] == 7
    assert (folder / "stale-but-not-ours.txt").read_text() == "kept"  # only the run's own files go


def test_a_diverging_run_stops_with_an_error(tmp_path):
    cfg = config(tmp_path, "train.optimizer=sgd", "train.lr=1e38", "train.fine_tune=true", "train.epochs=3")
    with pytest.raises(WindownerError, match=r"diverged in epoch 1, batch \d+ of [\d,]+ \(loss (nan|inf)\)"):
        train(cfg, progress=False, echo=lambda line: None)
    assert not (tmp_path / "run" / "model.npz").exists()  # no nan model kept as "best"


@pytest.mark.parametrize("optimizer", ["adam", "sparse_adam", "rmsprop", "adagrad", "sgd"])
def test_a_diverging_run_says_so_without_numpy_warnings(tmp_path, optimizer):
    # Before: at train.lr=1e6 with Adam, "RuntimeWarning: overflow encountered in multiply" (g² in the
    # update) and "invalid value encountered in divide" reached stderr before the one-line error.
    cfg = config(tmp_path, f"train.optimizer={optimizer}", "train.lr=1e6", "train.fine_tune=true")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would be raised, not the error
        with pytest.raises(WindownerError, match=r"diverged in epoch 1, batch \d+ of [\d,]+ \(loss"):
            train(cfg, progress=False, echo=lambda line: None)


def test_the_model_does_not_depend_on_the_dev_and_test_files(tmp_path):
    """Rows for dev/test words are extra; they change neither the special rows nor the training."""
    full, _, _ = initialise(config(tmp_path))
    alone, _, _ = initialise(config(tmp_path, "data.dev=null", "data.test=null"))
    rows = [full.vocab.row[word] for word in alone.vocab.words]
    np.testing.assert_array_equal(full.model.params["E"][rows], alone.model.params["E"])
    for name in "WbUc":
        np.testing.assert_array_equal(full.model.params[name], alone.model.params[name])


def test_a_tagger_saves_and_loads_as_it_is(default_run, tmp_path):
    """Tagger.save writes a whole run folder; with added vectors, the new rows travel with it."""
    tagger = load_run(default_run[0])
    vectors = tmp_path / "more.txt"
    vectors.write_text("zanzibar " + " ".join(["0.25"] * 50) + "\n", encoding="utf-8")
    sentences = [["Zanzibar", "and", "Paris", "."]]
    assert tagger.add_vectors(vectors, sentences) == 1
    tagger.save(tmp_path / "copy")
    again = load_run(tmp_path / "copy")
    assert again.vocab.words == tagger.vocab.words and again.vocab.index("Zanzibar") != 0
    assert again.predict(sentences) == tagger.predict(sentences)
    np.testing.assert_array_equal(again.model.params["E"], tagger.model.params["E"])


OPTIONS = [
    *(f"model.activation={name}" for name in ("sigmoid", "tanh", "hardtanh", "relu", "leaky_relu", "prelu")),
    *(f"train.loss={name}" for name in ("softmax", "logistic", "margin", "crf")),
    *(f"train.optimizer={name}" for name in ("sgd", "adagrad", "rmsprop", "adam", "sparse_adam")),
    *(f"train.schedule.name={name}" for name in ("constant", "step", "exponential", "cyclic")),
]


@pytest.mark.parametrize("option", OPTIONS)
def test_one_epoch_with_every_option(tmp_path, option):
    """Every activation, loss, optimiser and schedule trains an epoch of the default config (fine-tuned,
    with momentum for sgd) and gives a model that loads and predicts valid IOB2 tags."""
    extra = ["train.momentum=0.9", "train.lr=0.05"] if option.endswith("=sgd") else []
    extra += ["train.lr=0.05"] if option.endswith(("=adagrad",)) else []
    extra += ["task.other_types=false"] if option.endswith(("=logistic", "=margin")) else []  # one score
    cfg = config(tmp_path, option, *extra, "train.epochs=1", "train.fine_tune=true", "model.hidden=20")
    lines = []
    scores = train(cfg, progress=False, echo=lines.append, note=lambda message: None)
    assert scores["best_epoch"] == 1 and 0.0 <= scores["dev"]["entities"]["micro"]["f1"] <= 1.0
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert history[0]["lr"] > 0 and history[0]["moved"]["unseen_max"] == 0.0
    assert "lr " in lines[1]
    tagger = load_run(tmp_path / "run")
    for sentence in tagger.predict([["He", "flew", "from", "New", "York", "to", "Paris", "."]]):
        assert all(tag in ("O", "B-LOC", "I-LOC") for tag in sentence)


def test_unseen_words_never_move_and_are_scored_apart(tmp_path):
    """The lecture's pitfall: fine-tuning moves only the vectors of words in the training data; a word
    met only in dev or test keeps its pretrained vector exactly, whatever the optimiser."""
    for optimizer in ("adam", "sparse_adam", "sgd"):
        output = tmp_path / optimizer
        cfg = load_config(
            DEFAULT,
            [f"output={output}", f"train.optimizer={optimizer}", "train.momentum=0.9", "train.fine_tune=true"]
            + ["train.epochs=2", "model.hidden=20", "train.l2_vectors=0.01"],
        )
        train(cfg, progress=False, echo=lambda line: None, note=lambda message: None)
        before, _, _ = initialise(cfg)
        tagger = load_run(output)
        seen = {tagger.vocab.index(token) for s in read_conll(cfg.data.train) for token in s.tokens}
        unseen = [row for row in range(3, len(tagger.vocab)) if row not in seen]
        assert len(unseen) > 500
        E, E0 = tagger.model.params["E"], before.model.params["E"]
        assert E[unseen].tobytes() == E0[unseen].tobytes(), optimizer
        assert np.all(np.any(E[sorted(seen - {0, 1, 2})] != E0[sorted(seen - {0, 1, 2})], axis=1))
        history = [json.loads(line) for line in (output / "history.jsonl").read_text().splitlines()]
        assert history[-1]["moved"]["unseen_max"] == 0.0 and history[-1]["moved"]["seen_mean"] > 0
        assert set(history[-1]["dev"]["groups"]) == {"seen", "unseen"}
    words = (tmp_path / "adam" / "train_words.txt").read_text(encoding="utf-8").split("\n")[:-1]
    assert words == sorted(words) and "the" in words and "The" not in words
    groups = tagger.groups([["The", "zxqv"]])
    assert groups == [["seen", "unseen"]]


def test_adam_fine_tuning_says_what_it_costs(tmp_path):
    notes = []
    cfg = config(tmp_path, "train.epochs=1", "train.fine_tune=true", "model.hidden=10")
    train(cfg, progress=False, echo=lambda line: None, note=notes.append)
    assert any("sparse_adam" in note and "every step" in note for note in notes)
    notes.clear()
    cfg = config(tmp_path, "train.epochs=1", "train.fine_tune=true", "train.optimizer=sparse_adam")
    train(cfg, progress=False, echo=lambda line: None, note=notes.append, overwrite=True)
    assert notes == []


def test_a_margin_model_chooses_its_threshold_on_dev(tmp_path):
    overrides = ["train.loss=margin", "task.other_types=false", "train.corruptions=3", "train.epochs=2"]
    cfg = config(tmp_path, *overrides, "model.hidden=20")
    scores = train(cfg, progress=False, echo=lambda line: None)
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    tagger = load_run(tmp_path / "run")
    assert tagger.model.threshold == history[scores["best_epoch"] - 1]["threshold"] != 0.0
    # the threshold kept is the best one on dev: moving it either way does not raise the dev token F1
    dev = read_conll(ROOT / "data" / "wikigold" / "dev.conll")
    best = tagger.evaluate(dev)["tokens"]["LOC"]["f1"]
    for shift in (-0.3, -0.05, 0.05, 0.3):
        tagger.model.threshold = history[scores["best_epoch"] - 1]["threshold"] + shift
        assert tagger.evaluate(dev)["tokens"]["LOC"]["f1"] <= best + 1e-12


def test_early_stopping_and_the_selected_metric(tmp_path):
    cfg = config(tmp_path, "train.epochs=30", "train.patience=2", "train.select=LOC", "model.hidden=10")
    lines = []
    scores = train(cfg, progress=False, echo=lines.append)
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert len(history) == scores["best_epoch"] + 2 < 30
    assert any("stopping early" in line for line in lines)
    with pytest.raises(WindownerError, match="train.select 'PER'"):
        train(config(tmp_path, "train.select=PER"), progress=False, echo=lambda line: None, overwrite=True)


def test_a_location_task_that_learns_the_other_types(tmp_path):
    """task.other_types: a class for every IOB2 tag of the training data, yet the run predicts, saves and
    is scored as a location tagger; train.select tokens keeps the epoch of the best location token F1."""
    overrides = ["task.other_types=true", "train.select=tokens", "train.epochs=4", "model.hidden=20"]
    cfg = config(tmp_path, *overrides)
    scores = quiet_train(cfg)
    tagger = load_run(tmp_path / "run")
    assert tagger.task.other_types and tagger.model.classes == len(tagger.task.classes)
    assert {"B-LOC", "I-LOC", "B-PER", "B-ORG"} <= set(tagger.task.classes)
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    token_f1 = [record["dev"]["tokens"]["LOC"]["f1"] for record in history]
    assert scores["best_epoch"] == 1 + int(np.argmax(token_f1))
    dev = read_conll(ROOT / "data" / "wikigold" / "dev.conll")
    predicted = {tag for tags in tagger.predict([s.tokens for s in dev]) for tag in tags}
    assert predicted == {"O", "B-LOC", "I-LOC"}  # the other types are learnt, never output
    report = tagger.evaluate(dev)
    assert set(report["entities"]) == {"micro", "LOC"}
    assert report["tokens"]["LOC"]["f1"] == token_f1[scores["best_epoch"] - 1]


# ---------------------------------------------------------------------------------------------------------
# run folders that never lose work: checkpoints, resume, interrupts, --overwrite, the lock, divergence


def quiet_train(cfg, **kwargs):
    return train(cfg, progress=False, echo=lambda line: None, note=lambda message: None, **kwargs)


def quiet_resume(folder, overrides=()):
    return resume(folder, overrides, progress=False, echo=lambda line: None, note=lambda message: None)


@pytest.fixture
def ctrl_c_at(monkeypatch):
    """``ctrl_c_at(n)``: Ctrl-C arrives in the middle of the n-th training step from now on (after its loss,
    before its update), as SIGINT sent to this process (``ctrl_c_at(n, times=2)``: twice, at once)."""
    monkeypatch.setattr(signal, "SIGINT", signal.SIGINT)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own, as in a terminal
    calls = {"count": 0, "at": None, "times": 1}
    problem = LossWatch.problem

    def counting(self, loss):
        calls["count"] += 1
        if calls["count"] == calls["at"]:
            for _ in range(calls["times"]):
                signal.raise_signal(signal.SIGINT)
        return problem(self, loss)

    monkeypatch.setattr(LossWatch, "problem", counting)

    def arm(n, times=1):
        calls["count"], calls["at"], calls["times"] = 0, n, times

    yield arm
    signal.signal(signal.SIGINT, previous)


def arrays(path):
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def same_arrays(a, b) -> bool:
    a, b = arrays(a), arrays(b)
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


RESUMED = {
    "dropout-adam-average": ["model.dropout=0.3", "train.optimizer=adam", "train.average=0.99"],
    "margin-sgd-momentum": [
        "train.loss=margin",
        "task.other_types=false",
        "train.optimizer=sgd",
        "train.momentum=0.9",
        "train.lr=0.01",
        "train.fine_tune=true",
        "model.input_dropout=0.2",
    ],
    "crf-sparse-adam-features-average": [
        "train.loss=crf",
        "train.optimizer=sparse_adam",
        "train.fine_tune=true",
        "train.average=0.9",
        "model.features.case=2",
        "model.features.suffix=3",
    ],
}


@pytest.mark.parametrize("options", RESUMED.values(), ids=RESUMED.keys())
def test_an_interrupted_and_resumed_run_ends_with_the_same_weights(tmp_path, ctrl_c_at, options):
    """Interrupted twice (in epoch 1, then in epoch 2 of the resumed run) and resumed twice, a run ends
    bit for bit where the run never interrupted ends: the optimiser's state, the schedule's position and
    the random stream (the epoch's order, dropout's masks, the margin loss's corruptions) go on exactly."""
    common = ["train.epochs=2", "model.hidden=10", "data.test=null", *options]
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    quiet_train(load_config(DEFAULT, [*common, f"output={straight}"]))
    steps = json.loads((straight / "history.jsonl").read_text().splitlines()[0])["batches"]  # of epoch 1
    total = int(load_checkpoint(straight / "checkpoint.npz").checkpoint.step)

    ctrl_c_at(steps // 3)
    with pytest.raises(Terminated) as info:
        quiet_train(load_config(DEFAULT, [*common, f"output={stopped}"]))
    assert info.value.signum == signal.SIGINT
    assert re.fullmatch(  # "of N": at most N for crf, whose batches are whole sentences
        f"in epoch 1, after batch {steps // 3:,} of [0-9,]+; saved a checkpoint:"
        f" continue with windowner train --resume {re.escape(str(stopped))}",
        str(info.value),
    )
    assert not (stopped / "model.npz").exists()  # no epoch finished: no model yet, but a checkpoint
    middle = (total - steps) // 2  # a batch in the middle of epoch 2
    ctrl_c_at(steps - steps // 3 + middle)
    with pytest.raises(Terminated, match=f"in epoch 2, after batch {middle:,} of"):
        quiet_resume(stopped)
    ctrl_c_at(None)
    assert quiet_resume(stopped) == json.loads((straight / "scores.json").read_text())

    for name in ("model.npz", "last.npz"):
        assert same_arrays(straight / name, stopped / name), name
    straight_history = (straight / "history.jsonl").read_text().splitlines()
    stopped_history = (stopped / "history.jsonl").read_text().splitlines()
    for one, other in zip(straight_history, stopped_history, strict=True):
        one, other = json.loads(one), json.loads(other)
        assert one["loss"] == other["loss"] and one["dev"] == other["dev"]
    final = load_checkpoint(stopped / "checkpoint.npz")
    assert final.checkpoint.step == total and final.checkpoint.epoch == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stopped", "straight"]  # no lock, no temporaries


def test_resume_trains_a_finished_run_on_as_if_it_had_been_longer(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    common = ["model.hidden=10", "data.test=null"]
    quiet_train(load_config(DEFAULT, [*common, "train.epochs=1", f"output={one}"]))
    with pytest.raises(WindownerError, match="finished its 1 epochs: to train it on, add --set train.epochs"):
        quiet_resume(one)
    quiet_resume(one, ["train.epochs=2"])
    quiet_train(load_config(DEFAULT, [*common, "train.epochs=2", f"output={two}"]))
    assert same_arrays(one / "last.npz", two / "last.npz")
    assert load_run(one).config.train.epochs == 2  # config.yaml says what the run now is
    with pytest.raises(WindownerError, match="only train.epochs and train.patience, not 'train.lr'"):
        quiet_resume(one, ["train.lr=0.1"])


def test_resume_refuses_a_config_edited_by_hand(tmp_path):
    # Before: --resume went on silently with the edited train.lr (and dropout): "bit for bit" no longer held.
    run = tmp_path / "run"
    options = ["model.hidden=10", "data.test=null", "train.epochs=1", f"output={run}"]
    quiet_train(load_config(DEFAULT, options))
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.name != "config.yaml"}
    saved = (run / "config.yaml").read_text(encoding="utf-8")
    edited = yaml.safe_load(saved)
    edited["train"]["lr"] = 0.01
    edited["model"]["dropout"] = 0.5
    edited["train"]["patience"] = 3  # may change, as train.epochs may
    edited["output"] = str(tmp_path / "elsewhere")  # the folder resumed is where the run is
    (run / "config.yaml").write_text(yaml.safe_dump(edited), encoding="utf-8")
    with pytest.raises(WindownerError) as info:
        quiet_resume(run, ["train.epochs=2"])
    message = str(info.value)
    assert message.startswith(
        f"{run / 'config.yaml'} differs from the config the run was trained with"
        " (model.dropout 0.0 -> 0.5, train.lr 0.001 -> 0.01): --resume continues a run only as it began"
        " (it may change train.epochs and train.patience); put the old values back to resume it,"
    ), message
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.name != "config.yaml"} == before
    edited["train"]["lr"], edited["model"]["dropout"] = 0.001, 0.0  # put back (keys in another order)
    (run / "config.yaml").write_text(yaml.safe_dump(edited), encoding="utf-8")
    quiet_resume(run, ["train.epochs=2"])
    assert load_checkpoint(run / "checkpoint.npz").checkpoint.config["train"]["epochs"] == 2


def test_resume_refuses_a_run_whose_inputs_changed(tmp_path, write, ctrl_c_at):
    vectors = ROOT / "data" / "glove" / "glove.6B.50d.20k.txt.gz"
    copy = write("vectors.txt", gzip.decompress(vectors.read_bytes()).decode("utf-8"))
    run = tmp_path / "run"
    options = ["model.hidden=10", "train.epochs=1", f"vectors.path={copy}", f"output={run}"]
    ctrl_c_at(5)
    with pytest.raises(Terminated):
        quiet_train(load_config(DEFAULT, options))
    ctrl_c_at(None)
    lines = copy.read_text(encoding="utf-8").splitlines()  # a vector changes after the run started
    paris = next(i for i, line in enumerate(lines) if line.startswith("paris "))
    lines[paris] = "paris " + " ".join(["0.5"] * 50)
    copy.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(WindownerError, match="the word vectors differ from those the run started with"):
        quiet_resume(run)
    (run / "checkpoint.npz").unlink()
    with pytest.raises(WindownerError, match="has no checkpoint.npz to resume from"):
        quiet_resume(run)


def test_overwrite_keeps_the_old_run_until_the_new_one_has_a_model(tmp_path, ctrl_c_at):
    folder = tmp_path / "run"
    quiet_train(load_config(DEFAULT, ["model.hidden=10", "train.epochs=1", f"output={folder}"]))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    other = ["model.hidden=12", "train.epochs=1", f"output={folder}"]
    # interrupted in its first epoch
    ctrl_c_at(100)
    with pytest.raises(Terminated, match=f"before the new run had a model; {folder} still holds the old run"):
        quiet_train(load_config(DEFAULT, other), overwrite=True)
    # diverged in its first epoch
    ctrl_c_at(None)
    diverging = load_config(DEFAULT, [*other, "train.optimizer=sgd", "train.lr=1e38", "train.fine_tune=true"])
    with pytest.raises(WindownerError, match=f"epoch 1, .*{folder} still holds the run it was to"):
        quiet_train(diverging, overwrite=True)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # the new runs' folders are gone
    # a new run that gets a model takes the old one's place
    quiet_train(load_config(DEFAULT, other), overwrite=True)
    assert load_run(folder).model.params["W"].shape[0] == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_run_that_saved_nothing_leaves_nothing_and_says_so(tmp_path, ctrl_c_at):
    """Promise: what a failed run leaves. A run that diverged, or was interrupted twice, in its first epoch
    left a folder of metadata with no model and no checkpoint, and the second Ctrl-C said only
    "interrupted"."""
    folder = tmp_path / "run"
    common = ["model.hidden=10", f"output={folder}"]
    diverging = load_config(
        DEFAULT, [*common, "train.optimizer=sgd", "train.lr=1e38", "train.fine_tune=true", "train.epochs=1"]
    )
    with pytest.raises(WindownerError, match=rf"nothing was kept \({re.escape(str(folder))} was removed\)$"):
        quiet_train(diverging)
    assert list(tmp_path.iterdir()) == []
    folder.mkdir()  # an empty folder of the user's stays, empty
    with pytest.raises(WindownerError, match=rf"nothing was kept \(its files were removed from {folder}\)$"):
        quiet_train(diverging)
    assert list(tmp_path.iterdir()) == [folder] and list(folder.iterdir()) == []
    ctrl_c_at(5, times=2)  # the second Ctrl-C stops at once, in epoch 1
    with pytest.raises(Terminated) as info:
        quiet_train(load_config(DEFAULT, [*common, "train.epochs=2"]))
    assert str(info.value) == (
        "at once (a second signal); no model and no checkpoint had been saved: nothing was kept"
        f" (its files were removed from {folder})"
    )
    assert list(folder.iterdir()) == []
    batches = -(-32_533 // load_config(DEFAULT).train.batch_size)  # of epoch 1: 32,533 training windows
    ctrl_c_at(batches + 5, times=2)  # in epoch 2: the checkpoint of epoch 1 stays, and is said
    with pytest.raises(Terminated) as info:
        quiet_train(load_config(DEFAULT, [*common, "train.epochs=2"]))
    assert str(info.value) == (
        "at once (a second signal); its last checkpoint stays:"
        f" continue with windowner train --resume {folder}"
    )
    assert load_checkpoint(folder / "checkpoint.npz").checkpoint.epoch == 2 and load_run(folder)


def test_a_run_folder_in_use_is_refused_and_what_a_killed_run_left_is_removed(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    stale = folder / ".model.npz.abcd1234"  # what SIGKILL during a save leaves
    stale.write_bytes(b"half")
    leftover = tmp_path / ".run.new-abcd1234"  # what SIGKILL during an --overwrite run leaves
    leftover.mkdir()
    cfg = load_config(DEFAULT, ["model.hidden=10", "train.epochs=1", f"output={folder}"])
    with locked(folder):
        with pytest.raises(WindownerError, match=rf"{folder} is in use by another training run \(pid \d+ on"):
            quiet_train(cfg)
    assert stale.exists()  # nothing touched while another run holds the folder
    quiet_train(cfg)
    assert not stale.exists() and not leftover.exists()


def test_the_python_api_refuses_the_current_folder_too(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WindownerError, match="is the current folder"):
        quiet_train(load_config(DEFAULT, ["output=."]))
    assert list(tmp_path.iterdir()) == []


def test_a_finite_blow_up_stops_training(tmp_path):
    # sgd at lr 100: the loss rises to about 30 times the untrained model's and stays finite; before, such a
    # run ended with F1 0 and "saved". The batch is named; in epoch 1, nothing is kept, and that is said.
    cfg = config(tmp_path, "train.optimizer=sgd", "train.lr=100", "model.hidden=10", "train.epochs=2")
    with pytest.raises(WindownerError) as info:
        quiet_train(cfg)
    message = str(info.value)
    assert re.fullmatch(
        r"training diverged in epoch 1, batch 20 of [\d,]+ \(mean loss of the last 20 batches [\d.]+,"
        r" more than 10 times the untrained model's \d\.\d+\): lower train.lr \(now 100\); no model and no"
        rf" checkpoint had been saved: nothing was kept \({re.escape(str(tmp_path / 'run'))} was removed\)",
        message,
    ), message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["data.dev=null", "train.patience=2"], "train.patience 2 needs a dev file (data.dev)"),
        (["data.dev=null", "train.select=LOC"], "train.select 'LOC' needs a dev file (data.dev)"),
        (
            ["train.select=PER"],
            "train.select 'PER': the dev data has no such entity type (it has LOC; or micro, or tokens)",
        ),
        (["task.other_types=true", "train.loss=logistic"], "it cannot learn the other types"),
    ],
)
def test_settings_that_cannot_work_are_refused_before_training(tmp_path, overrides, needle):
    with pytest.raises(WindownerError) as info:
        quiet_train(config(tmp_path, *overrides))
    assert needle in str(info.value)
    assert not (tmp_path / "run" / "history.jsonl").exists()  # no epoch was trained


def test_dry_run_checks_and_summarises_without_writing(tmp_path, write):
    summary = dry_run(config(tmp_path, "task.name=entities"))
    assert not (tmp_path / "run").exists() and list(tmp_path.iterdir()) == []
    train_split = summary["data"]["train"]
    sentences = read_conll(ROOT / "data" / "wikigold" / "train.conll")
    assert train_split["sentences"] == len(sentences) and summary["windows"] == train_split["tokens"]
    assert train_split["tokens"] == sum(len(s) for s in sentences)
    assert list(train_split["tags"])[:3] == ["O", "B-LOC", "I-LOC"]
    assert train_split["tags"]["B-PER"] == sum(tag == "B-PER" for s in sentences for tag in s.tags)
    assert 0.95 < train_split["coverage"] < 1.0 and summary["remarks"] == []
    assert summary["classes"][0] == "O" and len(summary["classes"]) == 9
    json.dumps(summary)  # all of it is JSON
    # vectors for a few words only (the wrong file): said before training (it gave no warning)
    other = write("other.txt", "".join(f"{word} " + " ".join(["0.1"] * 50) + "\n" for word in ("the", "of")))
    summary = dry_run(config(tmp_path, f"vectors.path={other}"))
    coverage = summary["data"]["train"]["coverage"]
    assert 0 < coverage < 0.2
    assert summary["remarks"] == [
        f"only {100 * coverage:.1f}% of the training tokens have a vector in {other}: the others all read"
        " <unk> (check vectors.path and vectors.lowercase)"
    ]
