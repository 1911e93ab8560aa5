"""The document feature: documents in the readers, the keys, the three trainings of a run and its two-pass
tagging (run, ensemble, after --resume)."""

from __future__ import annotations

import io
import json
import signal

import numpy as np
import pytest
from helpers import documents_config, stop_at

from windowner.base.errors import Terminated, WindownerError
from windowner.data.conll import read_conll
from windowner.data.documents import SURE, document_classes, keys_of
from windowner.experiments.compare import find_runs
from windowner.tagging import documents as first_passes
from windowner.tagging.ensemble import Ensemble
from windowner.tagging.folders import fold_names
from windowner.tagging.predict import batches, read_records, tag_stream
from windowner.tagging.tagger import load_run
from windowner.training.documents import fold_sentences, training_keys
from windowner.training.dry_run import dry_run
from windowner.training.loop import resume, train

FOLDS = fold_names(2)  # the folds of a run of the default train.first_pass_folds

TYPES = ("O", "LOC", "MISC", "ORG", "PER")


def q_of(*rows):
    """Probabilities of the types (O, LOC, MISC, ORG, PER), a row a token."""
    return np.array(rows, dtype=np.float64)


LOC, ORG, OUT = (0, 1, 0, 0, 0), (0, 0, 0, 1, 0), (1, 0, 0, 0, 0)


def test_the_keys_of_a_hand_made_document():
    """Each capitalised token reads the mean of its word's other capitalised occurrences, casefolded
    (JAPAN meets Japan); the type of the largest mean, with ? below 0.75."""
    sentences = [["JAPAN", "beat", "Syria", "."], ["Japan", "won", "in", "japan", "Japan"]]
    q = q_of(LOC, OUT, ORG, OUT, (0, 0.7, 0, 0.3, 0), OUT, OUT, LOC, ORG)
    keys = keys_of(q, sentences, [0, 0], TYPES)
    # JAPAN: mean of Japan (0.7 LOC, 0.3 ORG) and Japan (ORG) = 0.35 LOC, 0.65 ORG -> ORG? (below 0.75)
    # Japan (first): mean of JAPAN (LOC) and Japan (ORG) = 0.5 / 0.5: the first type of the largest, LOC?
    # Japan (last): mean of JAPAN (LOC) and Japan (0.7 LOC) = 0.85 LOC -> LOC
    # "japan" is lowercase: none, and it is no occurrence of the others either
    assert keys == ["ORG?", "none", "none", "none", "LOC?", "none", "none", "none", "LOC"]
    at_the_threshold = q_of(LOC, (0.25, SURE, 0, 0, 0))
    assert keys_of(at_the_threshold, [["Oslo", "Oslo"]], [0], TYPES) == ["LOC", "LOC"]
    below = q_of(LOC, (0.2500001, SURE - 1e-7, 0, 0, 0))
    assert keys_of(below, [["Oslo", "Oslo"]], [0], TYPES) == ["LOC?", "LOC"]


def test_a_word_in_another_document_is_alone():
    sentences = [["Oslo", "won"], ["Oslo", "lost"]]
    q = q_of(LOC, OUT, ORG, OUT)
    assert keys_of(q, sentences, [0, 1], TYPES) == ["none"] * 4
    assert keys_of(q, sentences, [0, 0], TYPES) == ["ORG", "none", "LOC", "none"]


def test_the_classes_are_the_harness_twelve():
    assert document_classes(("LOC", "MISC", "ORG", "PER")) == (
        "<pad>", "none", "O", "O?", "LOC", "LOC?", "MISC", "MISC?", "ORG", "ORG?", "PER", "PER?",
    )  # fmt: skip


CONLL = "-DOCSTART- -X- O\n\nA B-LOC\n\nB O\nC O\n\n-DOCSTART- -X- O\n\nD O\n\n-DOCSTART- -X- O\n\nE O\n"


def test_read_conll_keeps_the_documents(tmp_path):
    path = tmp_path / "d.conll"
    path.write_text(CONLL, encoding="utf-8")
    sentences = read_conll(path)
    assert [s.document for s in sentences] == [0, 0, 1, 2]
    assert sentences[0] == read_conll(path)[0] and "document" not in repr(sentences[0])
    plain = tmp_path / "plain.conll"  # no -DOCSTART-: one document
    plain.write_text(CONLL.replace("-DOCSTART- -X- O\n\n", ""), encoding="utf-8")
    assert [s.document for s in read_conll(plain)] == [0, 0, 0, 0]
    before = tmp_path / "before.conll"  # sentences before the first -DOCSTART-: document 0
    before.write_text("Z O\n\n" + CONLL, encoding="utf-8")
    assert [s.document for s in read_conll(before)] == [0, 1, 1, 2, 3]


def test_predict_input_documents():
    conll = list(read_records(io.BytesIO(CONLL.encode()), "x", "conll"))
    assert [r.document for r in conll] == [0, 0, 1, 2]
    text = list(read_records(io.BytesIO(b"Rain in Oslo .\n\nSun in Oslo .\n"), "x", "text"))
    assert {r.document for r in text} == {0}


@pytest.fixture(scope="module")
def two_pass(tmp_path_factory):
    """A tiny run with the document feature (its three trainings), the lines it printed and the documents
    of the sentences of each call of the key code."""
    folder = tmp_path_factory.mktemp("documents")
    lines = []
    asked = []  # the documents of the sentences each first pass was asked about
    real = first_passes.keys_of
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            first_passes,
            "keys_of",
            lambda q, s, documents, t: asked.append(list(documents)) or real(q, s, documents, t),
        )
        scores = train(documents_config(folder), progress=False, echo=lines.append)
    return folder, scores, lines, asked


def test_a_run_trains_its_three_stages(two_pass):
    folder, scores, lines, asked = two_pass
    run = folder / "run"
    stages = [line for line in lines if line.startswith("stage ")]
    assert [line.split(":")[0] for line in stages] == [f"stage {n} of 3" for n in (1, 2, 3)]
    for name in FOLDS:
        assert (run / name / "model.npz").is_file() and not load_run(run / name).features.get("document")
    tagger = load_run(run)
    assert tagger.features["document"] == document_classes(("LOC", "MISC", "ORG", "PER"))
    assert len(tagger.first_passes) == 2 and tagger.model.params["E_document"].shape == (
        len(tagger.features["document"]),
        4,
    )
    dev = read_conll(folder / "dev.conll")
    assert tagger.evaluate(dev) == scores["dev"]  # the dev keys from the two folds, as in training
    assert [s.document for s in dev] in asked and len({s.document for s in dev}) == 5  # by document


def test_the_training_keys_never_come_from_a_run_that_saw_their_tags(two_pass):
    folder, *_ = two_pass
    run = folder / "run"
    train_data = read_conll(folder / "train.conll")
    even, odd = fold_sentences(train_data, 2)
    assert len({s.document for s in train_data}) == 15 and even and odd
    for name, half in zip(FOLDS, (even, odd), strict=True):  # what each fold trained on
        assert [s.tokens for s in read_conll(run / name / "train.txt")] == [s.tokens for s in half]
    keys, asked = keyed_by([load_run(run / name) for name in FOLDS], train_data)
    assert len(keys) == sum(len(s) for s in train_data)
    assert asked[0] == {s.tokens for s in odd}  # the run of the even documents tags the odd
    assert asked[1] == {s.tokens for s in even}
    assert not asked[0] & {s.tokens for s in even}


def keyed_by(folds, train_data):
    """The training keys of ``train_data`` from ``folds``, and the sentences each fold was asked to key."""
    asked = {id(fold): set() for fold in folds}
    real = first_passes.type_marginals

    def spy(tagger, sentences, types):
        asked[id(tagger)].update(tuple(s) for s in sentences)
        return real(tagger, sentences, types)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(first_passes, "type_marginals", spy)
        keys = training_keys(train_data, folds)
    return keys, [asked[id(fold)] for fold in folds]


def test_an_ensemble_of_one_is_the_run(two_pass):
    folder, *_ = two_pass
    run = load_run(folder / "run")
    dev = read_conll(folder / "dev.conll")
    tokens, documents = [s.tokens for s in dev], [s.document for s in dev]
    for combine in ("vote", "mean"):
        ensemble = Ensemble([run], combine)
        assert ensemble.predict(tokens, documents=documents) == run.predict(tokens, documents=documents)
    assert Ensemble([run, load_run(folder / "run")], "mean").evaluate(dev) == run.evaluate(dev)


def test_the_documents_change_the_keys_and_a_text_is_one_document(two_pass):
    folder, *_ = two_pass
    run = load_run(folder / "run")
    sentences = [["Rain", "in", "Oslo", "."], ["Oslo", "won", "."]]
    together = run.document_keys(sentences)
    apart = run.document_keys(sentences, [0, 1])
    assert apart[2] == apart[4] == "none" and together[2] != "none" and together[4] != "none"
    entities = run.tag_texts(["Rain in Oslo .", "Oslo won ."])  # two texts: two documents
    scored = run.predict_scored([["Rain", "in", "Oslo", "."], ["Oslo", "won", "."]], documents=[0, 1])
    assert [[(e.start, e.label) for e in found] for found in entities] == [
        [(len("Rain in "), kind) for _, _, kind, _ in scored[0].entities],
        [(0, kind) for _, _, kind, _ in scored[1].entities],
    ]


def test_a_stopped_run_resumes_without_training_finished_stages_again(two_pass, tmp_path):
    folder, scores, *_ = two_pass
    config = documents_config(tmp_path)  # the same sentences as the fixture's run
    lines, stage = [], []

    def echo(line):
        lines.append(line)
        if line.startswith("stage "):
            stage.append(line)
        if stage and stage[-1].startswith("stage 2 of 3") and line.startswith("epoch   1"):
            signal.raise_signal(signal.SIGINT)  # Ctrl-C in the second stage's first epoch

    with pytest.raises(Terminated) as stopped:
        train(config, progress=False, echo=echo)
    run = tmp_path / "run"
    assert f"windowner train --resume {run}" in str(stopped.value)
    assert (run / "fold-even" / "scores.json").is_file() and not (run / "fold-odd" / "scores.json").exists()
    assert (run / "fold-odd" / "checkpoint.npz").is_file() and not (run / "model.npz").exists()
    with pytest.raises(WindownerError, match="no finished run .* among the 1 runs"):
        find_runs([tmp_path])  # the run is unfinished: its finished fold is not a run to compare
    finished = (run / "fold-even" / "model.npz").stat().st_mtime_ns
    lines.clear()
    again = resume(run, progress=False, echo=lines.append)
    assert (run / "fold-even" / "model.npz").stat().st_mtime_ns == finished
    said = [line for line in lines if line.startswith("stage ")]
    assert said[0].startswith("stage 1 of 3") and "not trained again" in said[0]
    assert said[1].startswith(f"stage 2 of 3: resuming {run / 'fold-odd'}")
    assert again["dev"] == scores["dev"]  # as the run never stopped
    for name in ("model.npz", "fold-odd/model.npz"):
        assert (run / name).read_bytes() == (folder / "run" / name).read_bytes(), name


def test_predict_batches_hold_whole_documents():
    records = list(read_records(io.BytesIO(CONLL.encode()), "x", "conll"))
    assert [[r.tokens for r in b] for b in batches(records, 1, documents=True)] == [
        [["A"], ["B", "C"]],
        [["D"]],
        [["E"]],
    ]
    assert len(list(batches(records, 1))) == 4  # without the feature: as before, a sentence a batch here


def test_predict_tags_a_conll_input_by_its_documents(two_pass, monkeypatch):
    folder, *_ = two_pass
    run = load_run(folder / "run")
    dev = read_conll(folder / "dev.conll")
    records = list(read_records(io.BytesIO((folder / "dev.conll").read_bytes()), "dev", "conll"))
    asked = []
    real = run.predict

    def predict(sentences, *args, documents=None, **kwargs):
        asked.append(documents)
        return real(sentences, *args, documents=documents, **kwargs)

    monkeypatch.setattr(run, "predict", predict)
    out = io.BytesIO()
    tag_stream(run, records, out, "conll", batch_tokens=50, scores=False)
    assert len(asked) > 1 and all(documents is not None for documents in asked)
    assert [d for documents in asked for d in documents] == [s.document for s in dev]
    seen = [set(documents) for documents in asked]
    assert all(not a & b for i, a in enumerate(seen) for b in seen[i + 1 :])  # never half a document
    blocks = out.getvalue().decode().split("\n\n")
    tags = [[line.split()[-1] for line in block.splitlines()] for block in blocks]
    assert tags[: len(dev)] == real([s.tokens for s in dev], documents=[s.document for s in dev])


def test_training_data_of_one_document_is_an_error(tmp_path):
    one = tmp_path / "one.conll"
    one.write_text("Oslo B-LOC\n\nRain O\n", encoding="utf-8")
    with pytest.raises(WindownerError, match=f"{one}: model.features.document .* one document"):
        train(documents_config(tmp_path, f"data.train={one}"), progress=False)
    assert not (tmp_path / "run").exists()
    with pytest.raises(WindownerError, match=f"{one}: model.features.document .* one document"):
        dry_run(documents_config(tmp_path, f"data.train={one}"))  # as train would stop


def test_a_run_that_saved_nothing_leaves_nothing(tmp_path):
    run = tmp_path / "run"
    removed = r"diverged in epoch 1.*nothing was kept \(\S+/run was removed\)$"
    with pytest.raises(WindownerError, match=removed):
        train(documents_config(tmp_path, "train.lr=1e12"), progress=False)
    assert not run.exists()  # nor its stages, nor the folds' data
    run.mkdir()  # an empty folder of the user's stays, empty
    with pytest.raises(WindownerError, match=f"nothing was kept \\(its files were removed from {run}\\)$"):
        train(documents_config(tmp_path, "train.lr=1e12"), progress=False)
    assert list((tmp_path / "run").iterdir()) == []


def test_a_ctrl_c_between_stages_says_what_was_kept_and_how_to_go_on(tmp_path, monkeypatch):
    from windowner.training import documents as training

    def interrupted(folder):
        raise KeyboardInterrupt  # Ctrl-C once the two folds have finished

    monkeypatch.setattr(training.Tagger, "load", interrupted)
    with pytest.raises(Terminated) as stopped:
        train(documents_config(tmp_path), progress=False)
    run = tmp_path / "run"
    assert stopped.value.signum == signal.SIGINT and str(stopped.value) == (
        "before stage 3 had trained; fold-even, fold-odd finished and kept:"
        f" continue with windowner train --resume {run}"
    )
    assert all((run / name / "scores.json").is_file() for name in FOLDS)


def test_a_ctrl_c_while_a_resumed_stage_3_loads_says_its_checkpoint_is_kept(tmp_path, monkeypatch):
    from windowner.training import documents as training

    seen = []

    def echo(line):
        seen.append(line)
        if seen[-1].startswith("epoch   1") and any(s.startswith("stage 3 of 3") for s in seen):
            signal.raise_signal(signal.SIGINT)  # Ctrl-C in the run's own first epoch

    with pytest.raises(Terminated):
        train(documents_config(tmp_path), progress=False, echo=echo)
    run = tmp_path / "run"
    assert (run / "checkpoint.npz").is_file()

    def interrupted(folder):
        raise KeyboardInterrupt  # Ctrl-C while the resumed run loads the folds

    monkeypatch.setattr(training.Tagger, "load", interrupted)
    with pytest.raises(Terminated) as stopped:
        resume(run, progress=False)
    assert str(stopped.value) == (
        "before stage 3 went on; fold-even, fold-odd finished and kept, and the run's checkpoint:"
        f" continue with windowner train --resume {run}"
    )
    assert (run / "checkpoint.npz").is_file()


def test_gradcheck_of_a_config_with_the_feature_checks_its_table(tmp_path):
    from click.testing import CliRunner
    from helpers import REPO

    from windowner.cli.main import main

    args = ["gradcheck", "--config", str(REPO / "configs" / "default.yaml"), "--max-entries", "5"]
    args += ["--set", "model.features.document=3", "--set", "model.hidden=10"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    row = next(line.split() for line in result.output.splitlines() if line.startswith("E_document"))
    assert row[1] == "12x3" and row[-1] == "ok"


def test_a_run_without_its_first_pass_is_an_error_naming_it(two_pass, tmp_path):
    import shutil

    folder, *_ = two_pass
    copy = tmp_path / "run"
    shutil.copytree(folder / "run", copy)
    shutil.rmtree(copy / "fold-odd")
    with pytest.raises(WindownerError, match=f"{copy / 'fold-odd'}: missing .* document feature"):
        load_run(copy)


def test_compare_counts_the_first_passes_in_a_runs_time(two_pass):
    """A run with the feature trained three times: its time in ``windowner compare`` is all three."""
    from windowner.experiments.compare import load_runs
    from windowner.experiments.plot import read_history

    run = two_pass[0] / "run"
    each = [
        sum(record["seconds"] for record in read_history(folder / "history.jsonl"))
        for folder in (run / "fold-even", run / "fold-odd", run)
    ]
    (loaded,) = load_runs([run])
    assert loaded.seconds == pytest.approx(sum(each)) and min(each) > 0


def test_a_fold_reads_the_vectors_of_the_other_halfs_words(two_pass):
    """A fold kept the vectors of its own half's words only: before it keys the other half, it reads
    theirs from the config's vectors file (as the first pass does for new text), so they are not <unk>."""
    folder, *_ = two_pass
    run = folder / "run"
    train_data = read_conll(folder / "train.conll")
    even, odd = fold_sentences(train_data, 2)
    config = documents_config(folder)
    folds = [load_run(run / name) for name in FOLDS]

    def unknown(fold, half):  # how many of the half's tokens read <unk> in the fold's windows
        centre = fold.windows([s.tokens for s in half])[:, 0, fold.config.model.window]  # table 0: words
        return int((centre == fold.vocab.row["<unk>"]).sum())

    before = unknown(folds[0], odd)
    keys = training_keys(train_data, folds, config.vectors.path)
    after = unknown(folds[0], odd)
    assert before > 0 and after < before / 4
    assert keys != training_keys(train_data, [load_run(run / name) for name in FOLDS])  # the keys differ


def test_a_folder_of_yours_named_as_a_stage_is_refused_before_any_training(tmp_path):
    config = documents_config(tmp_path)
    notes = tmp_path / "run" / "fold-odd" / "notes.txt"
    notes.parent.mkdir(parents=True)
    notes.write_text("mine\n")
    with pytest.raises(WindownerError, match="fold-odd"):
        train(config, progress=False, echo=lambda line: None)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["fold-odd"]
    assert [p.name for p in notes.parent.iterdir()] == ["notes.txt"] and notes.read_text() == "mine\n"


@pytest.mark.parametrize("kind", ["file", "link"])
def test_a_file_of_yours_named_as_a_stage_is_refused_before_any_training(tmp_path, kind):
    from windowner.tagging.folders import mark

    run = tmp_path / "run"
    run.mkdir()
    mark(run)  # a run folder (of a run that saved nothing, say), with a file or a link of yours in it
    if kind == "file":
        (run / "fold-even").write_text("mine\n")
    else:
        (tmp_path / "mine").mkdir()
        (run / "fold-even").symlink_to(tmp_path / "mine")
    with pytest.raises(
        WindownerError, match=f"^{run / 'fold-even'}: a file of yours where the run trains a stage"
    ):
        train(documents_config(tmp_path), progress=False, echo=lambda line: None)
    assert sorted(p.name for p in run.iterdir()) == [".windowner", "fold-even"]


def test_a_stage_reads_the_dev_file_as_the_config_says(tmp_path):
    """A fold's training file is IOB2 CoNLL; the config's scheme and format still read the dev and test
    files (an IOBES config: each file's scheme told from the file)."""
    from windowner.training.documents import without_feature

    for scheme, kept in (
        ("auto", "auto"),
        ("iob1", "iob1"),
        ("iob2", "iob2"),
        ("iobes", "auto"),
        ("biluo", "auto"),
    ):
        config = documents_config(tmp_path, f"data.scheme={scheme}", "data.format=conll")
        stage = without_feature(config, tmp_path / "fold-even", str(tmp_path / "fold-even" / "train.txt"))
        assert (stage.data.scheme, stage.data.format, stage.model.features.document) == (kept, "conll", 0)
        assert stage.data.dev == config.data.dev


def test_an_empty_ensemble_prediction_is_empty(two_pass):
    run = load_run(two_pass[0] / "run")
    for combine in ("vote", "mean"):
        assert Ensemble([run], combine).predict([]) == []


def test_no_output_file_replaces_a_stages_files_and_no_package_goes_inside_the_run(two_pass, tmp_path):
    from windowner.cli.common import protected
    from windowner.tagging.package import check_package_output

    run = two_pass[0] / "run"
    kept = protected(str(run), {})
    for path in (
        run / "first_pass.json",
        run / "fold-odd" / "vocab.txt",
        run / "fold-even" / "model.npz",
        run / "fold-odd" / "train.txt",
    ):
        assert path in kept and path.exists()
    for inside in (run / "fold-odd", run / "fold-even", run / "fold-even" / "new"):
        with pytest.raises(WindownerError, match="inside the run folder"):
            check_package_output(run, inside, overwrite=True)
    check_package_output(run, tmp_path / "package", overwrite=False)  # beside it: fine


def test_the_first_pass_stages_train_the_epochs_the_config_gives_them(tmp_path):
    """``train.first_pass_epochs`` sets the two folds' epochs; the run trains ``train.epochs``,
    and 0 (the default) gives the stages those too."""
    from windowner.training.documents import without_feature

    config = documents_config(tmp_path, "train.first_pass_epochs=1")
    assert without_feature(documents_config(tmp_path), tmp_path / "fold-even").train.epochs == 2
    train(config, progress=False, echo=lambda line: None)
    run = tmp_path / "run"
    for name in (*FOLDS, "."):
        history = (run / name / "history.jsonl").read_text().splitlines()
        assert len(history) == (2 if name == "." else 1), name
        settings = load_run(run / name).config.train
        assert (settings.epochs, settings.first_pass_epochs) == ((2, 1) if name == "." else (1, 0)), name


def test_a_fold_trained_again_after_the_run_is_an_error_naming_it(two_pass, tmp_path):
    """The run records its folds' weights (first_pass.json): tagging with a fold trained on after the
    run would read keys the run never trained with, so loading the run says which fold changed."""
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(two_pass[0] / "run", copy)
    assert load_run(copy).first_passes  # as trained: fine
    resume(copy / "fold-odd", ["train.epochs=3"], progress=False, echo=lambda line: None)
    with pytest.raises(WindownerError, match=f"{copy / 'fold-odd'}: not the first pass the run was trained"):
        load_run(copy)
    with pytest.raises(WindownerError, match=f"{copy}: its folds were trained again .* with --overwrite"):
        resume(copy, progress=False, echo=lambda line: None)  # not "finished", nor trained on other keys
    (copy / "first_pass.json").unlink()  # a run of the four-stage windowner had none
    with pytest.raises(WindownerError, match=r"first_pass.json: missing .* an earlier windowner"):
        load_run(copy)


def test_a_run_that_diverges_after_its_folds_keeps_them_and_resumes_from_them(tmp_path, monkeypatch):
    """Stage 3 saved nothing (it diverged in its first epoch): the folds stay, the run keeps the
    config.yaml that --resume reads, and the message says so, not that the run was cleared."""
    from windowner.training import loop

    real = loop.config_step

    def diverging(config, model, *args):
        step = real(config, model, *args)
        if "E_document" not in model.params:
            return step
        return lambda batch: (model.params["W"].fill(np.nan), step(batch))[1]  # the loss is NaN

    monkeypatch.setattr(loop, "config_step", diverging)
    run = tmp_path / "run"
    with pytest.raises(
        WindownerError, match=r"diverged in epoch 1.*fold-even, fold-odd kept: windowner train"
    ):
        train(documents_config(tmp_path), progress=False)
    assert (run / "config.yaml").is_file() and not (run / "model.npz").exists()
    monkeypatch.setattr(loop, "config_step", real)
    lines = []
    resume(run, progress=False, echo=lines.append)  # the folds are not trained again
    assert [line for line in lines if line.startswith("stage ")][0].endswith("not trained again")
    assert load_run(run).first_passes


def test_a_fold_resumed_with_more_epochs_for_the_run_trains_the_epochs_it_began_with(tmp_path):
    """--resume RUN --set train.epochs=N is for the run: a fold stopped on the way keeps its own."""
    lines, stage = [], []

    def echo(line):
        lines.append(line)
        stage.extend([line] if line.startswith("stage ") else [])
        if stage and stage[-1].startswith("stage 1 of 3") and line.startswith("epoch   1"):
            signal.raise_signal(signal.SIGINT)  # Ctrl-C in the first fold's first epoch

    with pytest.raises(Terminated):
        train(documents_config(tmp_path), progress=False, echo=echo)
    run = tmp_path / "run"
    resume(run, ["train.epochs=3"], progress=False, echo=lambda line: None)
    for name, epochs in (("fold-even", 2), ("fold-odd", 3), (".", 3)):
        assert len((run / name / "history.jsonl").read_text().splitlines()) == epochs, name


def test_first_pass_epochs_without_the_feature_is_a_remark(tmp_path):
    config = documents_config(tmp_path, "model.features.document=0", "train.first_pass_epochs=3")
    assert any("train.first_pass_epochs" in remark for remark in dry_run(config)["remarks"])
    assert not any("first_pass_epochs" in remark for remark in dry_run(documents_config(tmp_path))["remarks"])


def test_a_fold_stopped_after_its_last_epoch_says_the_run_goes_on(tmp_path):
    said = []

    def echo(line):  # Ctrl-C as the first fold's last epoch ends
        said.append(line)
        if line.startswith("epoch   2") and sum(s.startswith("stage ") for s in said) == 1:
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(Terminated) as stopped:
        train(documents_config(tmp_path), progress=False, echo=echo)
    run = tmp_path / "run"
    assert str(stopped.value) == (
        f"after the last epoch; {run / 'fold-even'} has finished:"
        f" continue with windowner train --resume {run}"
    )
    resume(run, progress=False)
    assert (run / "model.npz").is_file()


@pytest.fixture(scope="module")
def three_folds(tmp_path_factory):
    """A tiny run with the document feature and three folds (``train.first_pass_folds: 3``): four
    trainings, and the lines it printed."""
    folder = tmp_path_factory.mktemp("three-folds")
    config = documents_config(folder, "train.first_pass_folds=3")
    lines = []
    scores = train(config, progress=False, echo=lines.append)
    return folder, config, scores, lines


def test_three_folds_each_train_on_two_parts_and_key_the_third(three_folds):
    """Document d is in part d mod 3; fold-k trains on every document outside part k − 1 and gives the
    training keys of that part, never of a document it trained on; the run reads the mean of all three
    for dev and new text, and it loads with its three folds (first_pass.json names them)."""
    folder, config, scores, lines = three_folds
    run = folder / "run"
    stages = [line.split(":")[0] for line in lines if line.startswith("stage ")]
    assert stages == [f"stage {n} of 4" for n in (1, 2, 3, 4)]
    train_data = read_conll(folder / "train.conll")
    names = fold_names(3)
    assert names == ("fold-1", "fold-2", "fold-3") and not any((run / name).exists() for name in FOLDS)
    for k, name in enumerate(names):
        trained = [s.tokens for s in read_conll(run / name / "train.txt")]
        assert trained == [s.tokens for s in train_data if s.document % 3 != k] and trained
    keys, asked = keyed_by([load_run(run / name) for name in names], train_data)
    assert len(keys) == sum(len(s) for s in train_data)
    for k in range(3):
        assert asked[k] == {s.tokens for s in train_data if s.document % 3 == k}
    tagger = load_run(run)
    assert len(tagger.first_passes) == 3
    assert list(json.loads((run / "first_pass.json").read_text())) == list(names)
    dev = read_conll(folder / "dev.conll")
    assert tagger.evaluate(dev) == scores["dev"]  # the dev keys: the mean of the three folds, as in training
    assert dry_run(config)["stages"][3].startswith(f"4. {run}: the config with the document feature")


def test_a_run_with_three_folds_packages_and_moves_with_them(three_folds, tmp_path):
    from windowner.tagging.package import package_run

    folder, *_ = three_folds
    package_run(folder / "run", tmp_path / "package")
    sentences = [s.tokens for s in read_conll(folder / "dev.conll")]
    moved = tmp_path / "elsewhere"
    (tmp_path / "package").rename(moved)
    assert sorted(p.name for p in moved.iterdir() if p.name.startswith("fold-")) == list(fold_names(3))
    assert load_run(moved).predict(sentences) == load_run(folder / "run").predict(sentences)


def test_an_overwrite_with_another_number_of_folds_replaces_the_old_folds(three_folds, tmp_path):
    """``--overwrite`` of a run of three folds by a config of two: the old folds go with the old run
    (they are not moved over as if they were yours), and your file in the run moves over."""
    import shutil

    folder, *_ = three_folds
    run = tmp_path / "run"
    shutil.copytree(folder / "run", run)
    (run / "notes.txt").write_text("mine\n", encoding="utf-8")
    train(documents_config(tmp_path), progress=False, overwrite=True)
    assert sorted(p.name for p in run.iterdir() if p.name.startswith("fold-")) == sorted(FOLDS)
    assert (run / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    assert len(load_run(run).first_passes) == 2


def test_more_folds_than_documents_is_an_error(tmp_path):
    two = tmp_path / "two.conll"
    two.write_text("-DOCSTART- O\n\nOslo B-LOC\n\n-DOCSTART- O\n\nRain O\n", encoding="utf-8")
    config = documents_config(tmp_path, f"data.train={two}", "train.first_pass_folds=3")
    with pytest.raises(WindownerError, match=f"{two}: model.features.document .* 3 parts .* 2 documents"):
        train(config, progress=False)
    assert not (tmp_path / "run").exists()


def test_first_pass_folds_without_the_feature_is_a_remark(tmp_path):
    config = documents_config(tmp_path, "model.features.document=0", "train.first_pass_folds=3")
    assert any("train.first_pass_folds" in remark for remark in dry_run(config)["remarks"])
    for value in ("1", "11"):
        with pytest.raises(WindownerError, match="train.first_pass_folds"):
            documents_config(tmp_path, f"train.first_pass_folds={value}")


def test_a_stopped_run_of_three_folds_resumes_to_the_same_weights(three_folds, tmp_path):
    """Stopped in the third fold, ``--resume`` trains no finished fold again and ends with the weights of
    the run never stopped (the run's and every fold's)."""
    straight = three_folds[0] / "run"
    echo = stop_at("stage 3 of 4")
    config = documents_config(tmp_path, "train.first_pass_folds=3")
    with pytest.raises(Terminated):
        train(config, progress=False, echo=echo)
    lines = []
    resume(tmp_path / "run", progress=False, echo=lines.append)
    stages = [line for line in lines if line.startswith("stage ")]
    assert "not trained again" in stages[0] and stages[2].startswith(
        f"stage 3 of 4: resuming {tmp_path / 'run'}"
    )
    for name in ("model.npz", *(f"{fold}/model.npz" for fold in fold_names(3)), "first_pass.json"):
        assert (straight / name).read_bytes() == (tmp_path / "run" / name).read_bytes(), name


def edit_saved_folds(run, count):
    """Set ``train.first_pass_folds`` in the run's ``config.yaml`` (None: leave it out)."""
    import yaml

    saved = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    saved["train"].pop("first_pass_folds")
    if count is not None:
        saved["train"]["first_pass_folds"] = count
    (run / "config.yaml").write_text(yaml.safe_dump(saved), encoding="utf-8")


def test_a_run_saved_before_the_number_of_folds_was_a_setting_loads_and_resumes(tmp_path):
    """A ``config.yaml`` without ``train.first_pass_folds``: two folds, fold-even and fold-odd."""
    echo = stop_at("stage 3 of 3")
    with pytest.raises(Terminated):
        train(documents_config(tmp_path), progress=False, echo=echo)
    run = tmp_path / "run"
    edit_saved_folds(run, None)  # as a run of an earlier windowner wrote it
    resume(run, progress=False)
    assert len(load_run(run).first_passes) == 2


def test_compare_finds_your_runs_named_as_folds_beside_a_config(tmp_path):
    """EXP/config.yaml (without the document feature) beside your runs EXP/fold-1 and EXP/fold-2: EXP is
    no run, its folders are; and two runs alike but for a key one's windowner did not write group as
    one setting (its default)."""
    import shutil

    from windowner.experiments.compare import group_runs, load_runs

    exp = tmp_path / "exp"
    for k in (1, 2):
        train(
            documents_config(tmp_path, "model.features.document=0", f"output={exp / f'fold-{k}'}"),
            progress=False,
        )
    shutil.copy(exp / "fold-1" / "config.yaml", exp / "config.yaml")
    assert find_runs([exp]) == [exp / "fold-1", exp / "fold-2"]
    edit_saved_folds(exp / "fold-2", None)  # as a run of an earlier windowner wrote it
    differing, groups = group_runs(load_runs([exp / "fold-1", exp / "fold-2"]))
    assert differing == [] and len(groups) == 1


def test_training_data_with_a_part_of_no_document_is_refused_before_training(tmp_path):
    """Documents 1 and 3 only (a -DOCSTART- with no sentence is a document too): no even document, so
    fold-even would have nothing to train on; refused at once, naming data.train."""
    data = tmp_path / "gaps.conll"
    document = "Oslo B-LOC\nis O\nnice O\n\nRain O\nin O\nParis B-LOC\n\n"
    data.write_text(("-DOCSTART- O\n\n-DOCSTART- O\n\n" + document) * 2, encoding="utf-8")
    message = f"^{data}: model.features.document .* 2 parts .* 2 documents, in 1 of the parts"
    with pytest.raises(WindownerError, match=message):
        train(documents_config(tmp_path, f"data.train={data}"), progress=False)
    assert not (tmp_path / "run").exists()


def test_an_ensemble_of_runs_of_two_and_three_folds_reads_all_five(three_folds, two_pass):
    """An ensemble's first pass is the mean of every member's folds (five here)."""
    from windowner.tagging.ensemble import load_runs

    three, two = three_folds[0] / "run", two_pass[0] / "run"
    sentences = [s.tokens for s in read_conll(two_pass[0] / "dev.conll")]
    ensemble = load_runs([two, three])
    assert len(ensemble.first_passes) == 5 and len(ensemble.predict(sentences)) == len(sentences)


def test_a_resume_after_the_number_of_folds_was_edited_is_refused(tmp_path):
    """Stopped in its second fold, the run's config.yaml edited to three folds: ``--resume`` refuses,
    naming a fold the run has and the config does not, and leaves the run as it was."""
    echo = stop_at("stage 2 of 3")
    with pytest.raises(Terminated):
        train(documents_config(tmp_path), progress=False, echo=echo)
    run = tmp_path / "run"
    edit_saved_folds(run, 3)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(WindownerError, match=f"{run / 'fold-even'}: a fold of this run, .* \\(3\\)"):
        resume(run, progress=False)
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
