"""Training end to end on the shipped data: the score it reaches, determinism, the run folder."""

import json
from pathlib import Path

import numpy as np
import pytest

from windowner import WindownerError, load_config, load_run
from windowner.conll import read_conll
from windowner.metrics import chunks
from windowner.train import initialise, train

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
    # measured 0.639 entity F1 (epoch 7) on this split; the bar is set below it for BLAS differences
    assert dev["f1"] >= 0.60
    assert scores["test"]["entities"]["micro"]["f1"] >= 0.50
    assert scores["test"]["tokens"]["LOC"]["f1"] >= 0.60


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
    with pytest.raises(WindownerError, match="diverged in epoch 1"):
        train(cfg, progress=False, echo=lambda line: None)
    assert not (tmp_path / "run" / "model.npz").exists()  # no nan model kept as "best"


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
    cfg = config(tmp_path, "train.loss=margin", "train.corruptions=3", "train.epochs=2", "model.hidden=20")
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
