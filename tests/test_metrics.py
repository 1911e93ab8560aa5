"""Tests of windowner.evaluation.metrics on hand-made cases; the expected numbers are worked out in the
comments."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import windowner
from windowner.evaluation.metrics import (
    Score,
    accuracy,
    chunks,
    confusion,
    entity_scores,
    grouped_scores,
    tag_order,
    token_scores,
    token_type_scores,
)

REPO = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------------------
# chunks


def test_chunks_iob2():
    # B-PER I-PER | O | B-LOC: PER over tokens 0-1, LOC over token 3 (end exclusive).
    assert chunks(["B-PER", "I-PER", "O", "B-LOC"]) == [(0, 2, "PER"), (3, 4, "LOC")]


def test_chunks_empty_and_all_outside():
    assert chunks([]) == []
    assert chunks(["O", "O", "O"]) == []


def test_chunks_iob1_b_splits_same_type():
    # IOB1: chunks start with I-; B- is only used to split two adjacent chunks of the same type.
    # I-LOC I-LOC is one chunk (0, 2); B-LOC starts a second one (2, 3).
    assert chunks(["I-LOC", "I-LOC", "B-LOC"]) == [(0, 2, "LOC"), (2, 3, "LOC")]


def test_chunks_i_after_o_starts_chunk():
    # O I-PER I-PER O: the I-PER after O starts a chunk (1, 3) even though there is no B-PER.
    assert chunks(["O", "I-PER", "I-PER", "O"]) == [(1, 3, "PER")]


def test_chunks_i_at_sentence_start_starts_chunk():
    # Nothing before token 0 counts as O, so a leading I-LOC starts a chunk.
    assert chunks(["I-LOC", "O"]) == [(0, 1, "LOC")]


def test_chunks_chunk_at_end_of_sentence():
    # O B-ORG I-ORG: the ORG chunk runs to the last token and is closed by the end of the sentence.
    assert chunks(["O", "B-ORG", "I-ORG"]) == [(1, 3, "ORG")]
    # A single-token chunk as the last token.
    assert chunks(["O", "O", "B-MISC"]) == [(2, 3, "MISC")]


def test_chunks_adjacent_different_types():
    # B-PER I-PER B-LOC: B- starts LOC at 2 and ends PER there.
    assert chunks(["B-PER", "I-PER", "B-LOC"]) == [(0, 2, "PER"), (2, 3, "LOC")]
    # I-PER I-LOC (IO/IOB1): the change of type alone ends PER and starts LOC.
    assert chunks(["I-PER", "I-LOC"]) == [(0, 1, "PER"), (1, 2, "LOC")]
    # B-PER I-LOC: an I- of another type after B- also starts a new chunk.
    assert chunks(["B-PER", "I-LOC", "I-LOC"]) == [(0, 1, "PER"), (1, 3, "LOC")]


def test_chunks_io_encoding():
    # Plain IO: every maximal run of one type is a chunk.
    tags = ["I-PER", "I-PER", "O", "I-LOC", "I-ORG", "I-ORG"]
    assert chunks(tags) == [(0, 2, "PER"), (3, 4, "LOC"), (4, 6, "ORG")]


def test_chunks_iob2_and_iobes_agree():
    # Spans: PER (0, 2), LOC (2, 3), LOC (3, 4), ORG (5, 8), MISC (8, 9).
    iob2 = ["B-PER", "I-PER", "B-LOC", "B-LOC", "O", "B-ORG", "I-ORG", "I-ORG", "B-MISC"]
    iobes = ["B-PER", "E-PER", "S-LOC", "S-LOC", "O", "B-ORG", "I-ORG", "E-ORG", "S-MISC"]
    expected = [(0, 2, "PER"), (2, 3, "LOC"), (3, 4, "LOC"), (5, 8, "ORG"), (8, 9, "MISC")]
    assert chunks(iob2) == expected
    assert chunks(iobes) == expected


def test_chunks_iobes_end_and_single_close_chunks():
    # E-LOC I-LOC: E- ends the chunk, so the I-LOC after it starts a new one.
    assert chunks(["B-LOC", "E-LOC", "I-LOC"]) == [(0, 2, "LOC"), (2, 3, "LOC")]
    # S-PER S-PER: two single-token chunks of the same type.
    assert chunks(["S-PER", "S-PER"]) == [(0, 1, "PER"), (1, 2, "PER")]
    # O E-PER: an E- after O is a one-token chunk.
    assert chunks(["O", "E-PER"]) == [(1, 2, "PER")]


def test_chunks_type_may_contain_hyphen():
    # Only the first hyphen separates prefix and type.
    assert chunks(["B-GPE-X", "I-GPE-X"]) == [(0, 2, "GPE-X")]


@pytest.mark.parametrize("bad", ["LOC", "B_LOC", "X-LOC", "B-", "", "o"])
def test_chunks_rejects_bad_tag(bad):
    with pytest.raises(ValueError, match=repr(bad)):
        chunks(["O", bad])


# ---------------------------------------------------------------------------------------------------------
# Score


def test_score_from_counts():
    # correct 2, predicted 4, support 5: P = 2/4 = 0.5, R = 2/5 = 0.4, F1 = 2*0.5*0.4/0.9 = 0.4/0.9 = 4/9.
    s = Score.from_counts(correct=2, predicted=4, support=5)
    assert s.precision == pytest.approx(0.5)
    assert s.recall == pytest.approx(0.4)
    assert s.f1 == pytest.approx(4 / 9)
    assert (s.support, s.predicted, s.correct) == (5, 4, 2)


def test_score_zero_denominators():
    # Nothing predicted: precision 0 (not 0/0), recall 0/3 = 0, F1 0.
    assert Score.from_counts(0, 0, 3) == Score(0.0, 0.0, 0.0, 3, 0, 0)
    # No gold items: recall 0 (not 0/0).
    assert Score.from_counts(0, 2, 0) == Score(0.0, 0.0, 0.0, 0, 2, 0)
    assert Score.from_counts(0, 0, 0) == Score(0.0, 0.0, 0.0, 0, 0, 0)


def test_score_rejects_inconsistent_counts():
    with pytest.raises(ValueError):
        Score.from_counts(correct=3, predicted=2, support=5)
    with pytest.raises(ValueError):
        Score.from_counts(correct=1, predicted=2, support=-1)


def test_score_as_dict_is_plain_json():
    d = Score.from_counts(np.int64(1), np.int64(2), np.int64(4)).as_dict()
    assert d == {"precision": 0.5, "recall": 0.25, "f1": pytest.approx(1 / 3), "support": 4, "predicted": 2}
    assert type(d["precision"]) is float and type(d["support"]) is int
    json.dumps(d)


def test_score_is_frozen():
    s = Score.from_counts(1, 1, 1)
    with pytest.raises(AttributeError):
        s.f1 = 0.0  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------------------
# entity_scores


def test_entity_scores_perfect():
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    scores = entity_scores(gold, gold)
    assert list(scores) == ["LOC", "PER", "micro"]
    for s in scores.values():
        assert (s.precision, s.recall, s.f1) == (1.0, 1.0, 1.0)
    assert scores["micro"].support == 2


def test_entity_scores_partial_span_is_fp_and_fn():
    # gold LOC (1, 3); pred LOC (1, 2) overlaps it but has the wrong end.
    # -> correct 0, predicted 1 (a false positive), support 1 (a false negative): P = R = F1 = 0.
    gold = [["O", "B-LOC", "I-LOC", "O"]]
    pred = [["O", "B-LOC", "O", "O"]]
    s = entity_scores(gold, pred)["LOC"]
    assert (s.correct, s.predicted, s.support) == (0, 1, 1)
    assert (s.precision, s.recall, s.f1) == (0.0, 0.0, 0.0)


def test_entity_scores_type_mismatch_is_wrong():
    # Same span (0, 2), but gold says PER and pred says ORG.
    # PER: correct 0, predicted 0, support 1. ORG: correct 0, predicted 1, support 0. micro: 0 / 1 / 1.
    gold = [["B-PER", "I-PER"]]
    pred = [["B-ORG", "I-ORG"]]
    scores = entity_scores(gold, pred)
    assert list(scores) == ["ORG", "PER", "micro"]
    assert (scores["PER"].correct, scores["PER"].predicted, scores["PER"].support) == (0, 0, 1)
    assert (scores["ORG"].correct, scores["ORG"].predicted, scores["ORG"].support) == (0, 1, 0)
    assert (scores["micro"].correct, scores["micro"].predicted, scores["micro"].support) == (0, 1, 1)
    assert scores["micro"].f1 == 0.0


def test_entity_scores_empty_predictions():
    # Nothing predicted: predicted 0 -> precision 0.0 (no ZeroDivisionError), recall 0/2 = 0.
    gold = [["B-LOC", "O"], ["O", "B-PER"]]
    pred = [["O", "O"], ["O", "O"]]
    scores = entity_scores(gold, pred)
    micro = scores["micro"]
    assert (micro.precision, micro.recall, micro.f1) == (0.0, 0.0, 0.0)
    assert (micro.correct, micro.predicted, micro.support) == (0, 0, 2)


def test_entity_scores_no_entities_anywhere():
    # Only the micro key, all zero.
    scores = entity_scores([["O", "O"]], [["O", "O"]])
    assert scores == {"micro": Score(0.0, 0.0, 0.0, 0, 0, 0)}
    assert entity_scores([], []) == {"micro": Score(0.0, 0.0, 0.0, 0, 0, 0)}


def test_entity_scores_micro_vs_per_type():
    # sentence 1  gold: PER (0, 2), LOC (3, 4)      pred: PER (0, 2), ORG (3, 4)
    # sentence 2  gold: LOC (0, 2)                  pred: LOC (0, 1), PER (3, 4)
    #
    # LOC: support 2, predicted 1 (0, 1) which is wrong -> correct 0: P = 0, R = 0, F1 = 0
    # ORG: support 0, predicted 1, correct 0:                 P = 0, R = 0, F1 = 0
    # PER: support 1, predicted 2, correct 1:                 P = 1/2, R = 1, F1 = 2*(1/2)/(3/2) = 2/3
    # micro: support 3, predicted 4, correct 1:               P = 1/4, R = 1/3,
    #        F1 = 2 * (1/4 * 1/3) / (1/4 + 1/3) = (1/6) / (7/12) = 2/7
    # (the macro average of the three per-type F1s would be 2/9, a different number)
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-LOC", "I-LOC", "O", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-LOC", "O", "O", "B-PER"]]
    scores = entity_scores(gold, pred)
    assert list(scores) == ["LOC", "ORG", "PER", "micro"]

    loc, org, per, micro = scores["LOC"], scores["ORG"], scores["PER"], scores["micro"]
    assert (loc.correct, loc.predicted, loc.support) == (0, 1, 2)
    assert loc.f1 == 0.0
    assert (org.correct, org.predicted, org.support) == (0, 1, 0)
    assert org.f1 == 0.0
    assert (per.correct, per.predicted, per.support) == (1, 2, 1)
    assert per.precision == pytest.approx(0.5)
    assert per.recall == pytest.approx(1.0)
    assert per.f1 == pytest.approx(2 / 3)
    assert (micro.correct, micro.predicted, micro.support) == (1, 4, 3)
    assert micro.precision == pytest.approx(1 / 4)
    assert micro.recall == pytest.approx(1 / 3)
    assert micro.f1 == pytest.approx(2 / 7)


def test_entity_scores_chunks_do_not_cross_sentences():
    # As one sentence, "I-LOC | I-LOC" would be a single chunk (0, 2). Split into two sentences, each holds
    # its own chunk (0, 1), so gold (two B-LOC sentences) and pred match exactly: 2 correct of 2.
    gold = [["B-LOC"], ["B-LOC"]]
    pred = [["I-LOC"], ["I-LOC"]]
    micro = entity_scores(gold, pred)["micro"]
    assert (micro.correct, micro.predicted, micro.support) == (2, 2, 2)


def test_entity_scores_mixed_encodings_match():
    # Gold in IOB2, pred in IOBES for the same spans -> perfect score.
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["B-PER", "E-PER", "O", "S-LOC"]]
    assert entity_scores(gold, pred)["micro"].f1 == 1.0


def test_entity_scores_sentence_length_mismatch_raises():
    with pytest.raises(ValueError, match="sentence 1"):
        entity_scores([["O"], ["O", "B-LOC"]], [["O"], ["O"]])


def test_entity_scores_sentence_count_mismatch_raises():
    with pytest.raises(ValueError, match="sentences"):
        entity_scores([["O"], ["O"]], [["O"]])


def test_entity_scores_rejects_flat_tag_list():
    # A single sentence passed without the outer list would otherwise be scored character by character.
    with pytest.raises(ValueError, match="string"):
        entity_scores(["O", "B-LOC"], ["O", "B-LOC"])


# ---------------------------------------------------------------------------------------------------------
# token_scores and accuracy


def test_token_scores_small_case():
    # tokens:  0      1      2      3      4
    # gold:    B-LOC  I-LOC  O      B-PER  B-LOC
    # pred:    B-LOC  O      I-LOC  B-PER  I-LOC
    # LOC positives  gold: {0, 1, 4}   pred: {0, 2, 4}   both: {0, 4}
    # -> correct 2, predicted 3, support 3: P = R = F1 = 2/3. (B-LOC vs I-LOC at token 4 still counts.)
    # PER: gold {3}, pred {3} -> 1, 1, 1.
    gold = [["B-LOC", "I-LOC", "O"], ["B-PER", "B-LOC"]]
    pred = [["B-LOC", "O", "I-LOC"], ["B-PER", "I-LOC"]]
    loc = token_scores(gold, pred, "LOC")
    assert (loc.correct, loc.predicted, loc.support) == (2, 3, 3)
    assert loc.precision == pytest.approx(2 / 3)
    assert loc.recall == pytest.approx(2 / 3)
    assert loc.f1 == pytest.approx(2 / 3)
    per = token_scores(gold, pred, "PER")
    assert (per.correct, per.predicted, per.support, per.f1) == (1, 1, 1, 1.0)
    # A type that occurs nowhere: all counts 0, all scores 0.
    assert token_scores(gold, pred, "ORG") == Score(0.0, 0.0, 0.0, 0, 0, 0)


def test_token_type_scores_every_type_and_micro():
    # Same case: LOC 2 / 3 / 3 (correct / predicted / support), PER 1 / 1 / 1; no other type anywhere.
    # micro sums them: correct 3, predicted 4, support 4 -> P = R = F1 = 3/4.
    gold = [["B-LOC", "I-LOC", "O"], ["B-PER", "B-LOC"]]
    pred = [["B-LOC", "O", "I-LOC"], ["B-PER", "I-LOC"]]
    scores = token_type_scores(gold, pred)
    assert list(scores) == ["LOC", "PER", "micro"]
    assert scores["LOC"] == token_scores(gold, pred, "LOC")
    assert scores["PER"] == token_scores(gold, pred, "PER")
    micro = scores["micro"]
    assert (micro.correct, micro.predicted, micro.support) == (3, 4, 4)
    assert micro.f1 == pytest.approx(3 / 4)
    # A type only predicted is a row too: ORG predicted once, never gold -> 0 / 1 / 0.
    org = token_type_scores([["O"]], [["B-ORG"]])["ORG"]
    assert (org.correct, org.predicted, org.support) == (0, 1, 0)


def test_token_scores_length_mismatch_raises():
    with pytest.raises(ValueError):
        token_scores([["O", "O"]], [["O"]], "LOC")


def test_accuracy():
    # Same case as above: tag strings equal at tokens 0 and 3 only (token 4 is B-LOC vs I-LOC) -> 2/5.
    gold = [["B-LOC", "I-LOC", "O"], ["B-PER", "B-LOC"]]
    pred = [["B-LOC", "O", "I-LOC"], ["B-PER", "I-LOC"]]
    assert accuracy(gold, pred) == pytest.approx(2 / 5)
    assert accuracy(gold, gold) == 1.0
    assert accuracy([], []) == 0.0


def test_accuracy_length_mismatch_raises():
    with pytest.raises(ValueError):
        accuracy([["O", "O"]], [["O", "O", "O"]])


# ---------------------------------------------------------------------------------------------------------
# property-style tests on random tag sequences


def _random_spans(rng: np.random.RandomState, n_tokens: int) -> list[tuple[int, int, str]]:
    """Random non-overlapping spans over {LOC, PER}; adjacent spans of the same type are allowed."""
    spans = []
    i = 0
    while i < n_tokens:
        if rng.rand() < 0.4:
            i += 1  # an O token
            continue
        length = min(int(rng.randint(1, 4)), n_tokens - i)
        spans.append((i, i + length, str(rng.choice(["LOC", "PER"]))))
        i += length
    return spans


def _to_iob2(spans: list[tuple[int, int, str]], n_tokens: int) -> list[str]:
    tags = ["O"] * n_tokens
    for start, end, entity_type in spans:
        tags[start] = f"B-{entity_type}"
        for i in range(start + 1, end):
            tags[i] = f"I-{entity_type}"
    return tags


def _iob2_to_iobes(tags: list[str]) -> list[str]:
    """B-X not followed by I-X becomes S-X; I-X not followed by I-X becomes E-X."""
    out = []
    for i, tag in enumerate(tags):
        nxt = tags[i + 1] if i + 1 < len(tags) else "O"
        continues = tag != "O" and nxt == "I-" + tag[2:]
        if tag.startswith("B-"):
            out.append(tag if continues else "S-" + tag[2:])
        elif tag.startswith("I-"):
            out.append(tag if continues else "E-" + tag[2:])
        else:
            out.append(tag)
    return out


def test_iob2_to_iobes_helper():
    # Check the test's own converter on one hand-made case before trusting it below.
    iob2 = ["B-LOC", "I-LOC", "I-LOC", "B-LOC", "O", "B-PER", "I-PER"]
    assert _iob2_to_iobes(iob2) == ["B-LOC", "I-LOC", "E-LOC", "S-LOC", "O", "B-PER", "E-PER"]


def test_random_iob2_and_iobes_give_same_chunks():
    rng = np.random.RandomState(0)
    for _ in range(300):
        n_tokens = int(rng.randint(0, 15))
        spans = _random_spans(rng, n_tokens)
        iob2 = _to_iob2(spans, n_tokens)
        iobes = _iob2_to_iobes(iob2)
        assert chunks(iob2) == spans, iob2
        assert chunks(iobes) == spans, iobes


def test_random_gold_against_itself_is_perfect():
    rng = np.random.RandomState(1)
    for _ in range(50):
        lengths = rng.randint(0, 12, size=int(rng.randint(1, 6)))
        gold = [_to_iob2(_random_spans(rng, int(n)), int(n)) for n in lengths]
        for name, s in entity_scores(gold, gold).items():
            assert s.correct == s.predicted == s.support, name
            if s.support > 0:
                assert s.f1 == 1.0, name
        assert accuracy(gold, gold) == (1.0 if lengths.sum() > 0 else 0.0)


# ---------------------------------------------------------------------------------------------------------
# confusion


def test_confusion_counts_tag_pairs():
    # pairs (gold, pred): (B-LOC, B-LOC), (I-LOC, O), (O, I-LOC), (B-PER, B-PER), (B-LOC, I-LOC), (O, O)
    # labels: every tag of gold or pred, O first, then by type, B before I:  O, B-LOC, I-LOC, B-PER
    gold = [["B-LOC", "I-LOC", "O"], ["B-PER", "B-LOC", "O"]]
    pred = [["B-LOC", "O", "I-LOC"], ["B-PER", "I-LOC", "O"]]
    result = confusion(gold, pred)
    assert result.labels == ("O", "B-LOC", "I-LOC", "B-PER")
    expected = [
        # O  B-LOC I-LOC B-PER   (predicted)
        [1, 0, 1, 0],  # gold O
        [0, 1, 1, 0],  # gold B-LOC
        [1, 0, 0, 0],  # gold I-LOC
        [0, 0, 0, 1],  # gold B-PER
    ]
    assert result.matrix.tolist() == expected
    assert result.matrix.dtype == np.int64
    assert result.as_dict() == {"labels": ["O", "B-LOC", "I-LOC", "B-PER"], "matrix": expected}
    json.dumps(result.as_dict())
    # its trace over the number of tokens is the accuracy: 3 / 6
    assert np.trace(result.matrix) / result.matrix.sum() == accuracy(gold, pred) == 0.5


def test_confusion_label_only_predicted_or_only_gold():
    # I-ORG occurs only in pred, B-MISC only in gold: both get a row and a column.
    result = confusion([["B-MISC", "O"]], [["O", "I-ORG"]])
    assert result.labels == ("O", "B-MISC", "I-ORG")
    assert result.matrix.tolist() == [[0, 0, 1], [1, 0, 0], [0, 0, 0]]


def test_confusion_empty_and_mismatch():
    empty = confusion([], [])
    assert empty.labels == () and empty.matrix.shape == (0, 0)
    with pytest.raises(ValueError, match="sentence 0"):
        confusion([["O"]], [["O", "O"]])


def test_tag_order():
    tags = ["I-PER", "S-LOC", "O", "B-PER", "E-LOC", "I-LOC", "B-LOC", "B-ORGANISATION-SUBSIDIARY"]
    assert sorted(tags, key=tag_order) == [
        "O", "B-LOC", "I-LOC", "E-LOC", "S-LOC", "B-ORGANISATION-SUBSIDIARY", "B-PER", "I-PER"
    ]  # fmt: skip


def test_random_confusion_rows_and_columns_sum_to_tag_counts():
    rng = np.random.default_rng(7)
    for _ in range(30):
        gold, pred = _random_pair(rng)
        result = confusion(gold, pred)
        flat_gold = [tag for tags in gold for tag in tags]
        flat_pred = [tag for tags in pred for tag in tags]
        for i, label in enumerate(result.labels):
            assert result.matrix[i].sum() == flat_gold.count(label)
            assert result.matrix[:, i].sum() == flat_pred.count(label)


# ---------------------------------------------------------------------------------------------------------
# grouped_scores


# Three sentences, every token with its group (s = seen, u = unseen):
#
#   sentence 0        sentence 1        sentence 2
#   gold   pred  g    gold   pred  g    gold   pred  g
#   B-PER  B-PER s    B-LOC  B-LOC s    B-LOC  B-LOC s
#   I-PER  I-PER u    I-LOC  O     s    I-LOC  O     u
#   O      O     s    B-ORG  B-ORG u
#   B-LOC  B-LOC s
#   O      B-ORG u
GOLD = [["B-PER", "I-PER", "O", "B-LOC", "O"], ["B-LOC", "I-LOC", "B-ORG"], ["B-LOC", "I-LOC"]]
PRED = [["B-PER", "I-PER", "O", "B-LOC", "B-ORG"], ["B-LOC", "O", "B-ORG"], ["B-LOC", "O"]]
GROUPS = [["seen", "unseen", "seen", "seen", "unseen"], ["seen", "seen", "unseen"], ["seen", "unseen"]]


def counts(score: Score) -> tuple[int, int, int]:
    return score.correct, score.predicted, score.support


def test_grouped_scores_entities_by_hand():
    # Chunks and their groups (a span is unseen if ANY of its tokens is):
    #   gold: s0 PER (0, 2) unseen, LOC (3, 4) seen; s1 LOC (0, 2) seen, ORG (2, 3) unseen;
    #         s2 LOC (0, 2) unseen
    #   pred: s0 PER (0, 2) unseen, LOC (3, 4) seen, ORG (4, 5) unseen; s1 LOC (0, 1) seen, ORG (2, 3) unseen;
    #         s2 LOC (0, 1) seen
    #   correct (same span and type): s0 PER (0, 2), s0 LOC (3, 4), s1 ORG (2, 3)
    # In s2 the gold LOC is unseen (its second token is) but the predicted LOC (0, 1) is seen: a miss in
    # "unseen" and a false positive in "seen".
    result = grouped_scores(GOLD, PRED, GROUPS)
    assert list(result) == ["unseen", "seen"]
    seen, unseen = result["seen"].entities, result["unseen"].entities
    # seen: LOC correct 1 (s0), predicted 3 (s0, s1, s2), support 2 (s0, s1): P 1/3, R 1/2, F1 2/5
    assert list(seen) == ["LOC", "micro"]
    assert counts(seen["LOC"]) == counts(seen["micro"]) == (1, 3, 2)
    assert seen["micro"].precision == pytest.approx(1 / 3)
    assert seen["micro"].recall == pytest.approx(1 / 2)
    assert seen["micro"].f1 == pytest.approx(2 / 5)
    # unseen: LOC 0 / 0 / 1, ORG 1 / 2 / 1, PER 1 / 1 / 1; micro 2 / 3 / 3: P = R = F1 = 2/3
    assert list(unseen) == ["LOC", "ORG", "PER", "micro"]
    assert counts(unseen["LOC"]) == (0, 0, 1)
    assert counts(unseen["ORG"]) == (1, 2, 1)
    assert unseen["ORG"].f1 == pytest.approx(2 / 3)  # P 1/2, R 1
    assert counts(unseen["PER"]) == (1, 1, 1)
    assert counts(unseen["micro"]) == (2, 3, 3)
    assert unseen["micro"].f1 == pytest.approx(2 / 3)
    # the groups partition the chunks: their counts add up to the whole data's (3 / 6 / 5)
    assert counts(entity_scores(GOLD, PRED)["micro"]) == (3, 6, 5)


def test_grouped_scores_tokens_by_hand():
    # seen tokens (6): (B-PER, B-PER) (O, O) (B-LOC, B-LOC) | (B-LOC, B-LOC) (I-LOC, O) | (B-LOC, B-LOC)
    #   accuracy 5/6; LOC 3 / 3 / 4 (P 1, R 3/4), PER 1 / 1 / 1; micro 4 / 4 / 5
    # unseen tokens (4): (I-PER, I-PER) (O, B-ORG) | (B-ORG, B-ORG) | (I-LOC, O)
    #   accuracy 2/4; LOC 0 / 0 / 1, ORG 1 / 2 / 1, PER 1 / 1 / 1; micro 2 / 3 / 3
    result = grouped_scores(GOLD, PRED, GROUPS)
    seen, unseen = result["seen"], result["unseen"]
    assert (seen.tokens, unseen.tokens) == (6, 4)
    assert seen.accuracy == pytest.approx(5 / 6)
    assert unseen.accuracy == pytest.approx(1 / 2)
    assert list(seen.token_types) == ["LOC", "PER", "micro"]
    assert counts(seen.token_types["LOC"]) == (3, 3, 4)
    assert seen.token_types["LOC"].f1 == pytest.approx(6 / 7)  # 2 · 1 · 3/4 / (7/4)
    assert counts(seen.token_types["PER"]) == (1, 1, 1)
    assert counts(seen.token_types["micro"]) == (4, 4, 5)
    assert seen.token_types["micro"].f1 == pytest.approx(8 / 9)
    assert list(unseen.token_types) == ["LOC", "ORG", "PER", "micro"]
    assert counts(unseen.token_types["LOC"]) == (0, 0, 1)
    assert counts(unseen.token_types["ORG"]) == (1, 2, 1)
    assert counts(unseen.token_types["PER"]) == (1, 1, 1)
    assert counts(unseen.token_types["micro"]) == (2, 3, 3)


def test_grouped_scores_as_dict_is_plain_json():
    d = grouped_scores(GOLD, PRED, GROUPS)["unseen"].as_dict()
    assert set(d) == {"tokens", "accuracy", "token_types", "entities"}
    assert d["tokens"] == 4 and d["accuracy"] == 0.5
    assert d["entities"]["micro"] == grouped_scores(GOLD, PRED, GROUPS)["unseen"].entities["micro"].as_dict()
    json.dumps(d)


def test_grouped_scores_one_group_is_the_whole():
    groups = [["all"] * len(tags) for tags in GOLD]
    whole = grouped_scores(GOLD, PRED, groups, order=["all"])["all"]
    assert whole.entities == entity_scores(GOLD, PRED)
    assert whole.token_types == token_type_scores(GOLD, PRED)
    assert whole.accuracy == accuracy(GOLD, PRED)
    assert whole.tokens == sum(map(len, GOLD))


def test_grouped_scores_order_decides_a_mixed_span():
    # One gold = pred span over a "seen" and an "unseen" token: it goes to the first group of `order`.
    gold = pred = [["B-LOC", "I-LOC"]]
    groups = [["seen", "unseen"]]
    first = grouped_scores(gold, pred, groups)
    assert counts(first["unseen"].entities["micro"]) == (1, 1, 1)
    assert counts(first["seen"].entities["micro"]) == (0, 0, 0)
    reversed_order = grouped_scores(gold, pred, groups, order=["seen", "unseen"])
    assert counts(reversed_order["seen"].entities["micro"]) == (1, 1, 1)
    assert counts(reversed_order["unseen"].entities["micro"]) == (0, 0, 0)
    # a group without tokens is still there, all zero
    empty = grouped_scores(gold, pred, [["seen", "seen"]])["unseen"]
    assert (empty.tokens, empty.accuracy) == (0, 0.0)
    assert empty.entities == {"micro": Score(0.0, 0.0, 0.0, 0, 0, 0)}


def test_grouped_scores_rejects_bad_groups():
    with pytest.raises(ValueError, match="'maybe' is not in order"):
        grouped_scores([["O"]], [["O"]], [["maybe"]])
    with pytest.raises(ValueError, match="groups has 1 groups"):
        grouped_scores([["O", "O"]], [["O", "O"]], [["seen"]])
    with pytest.raises(ValueError, match="twice"):
        grouped_scores([["O"]], [["O"]], [["seen"]], order=["seen", "seen"])


def test_random_groups_partition_every_count():
    # Every token and every chunk is in exactly one group: the groups' counts add up to the whole's.
    rng = np.random.default_rng(3)
    zero = Score.from_counts(0, 0, 0)
    for _ in range(100):
        gold, pred = _random_pair(rng)
        groups = [[str(rng.choice(["seen", "unseen"])) for _ in tags] for tags in gold]
        parts = grouped_scores(gold, pred, groups).values()
        assert sum(part.tokens for part in parts) == sum(map(len, gold))
        for name, whole in entity_scores(gold, pred).items():
            summed = np.sum([counts(part.entities.get(name, zero)) for part in parts], axis=0)
            assert tuple(summed) == counts(whole), name
        for name, whole in token_type_scores(gold, pred).items():
            summed = np.sum([counts(part.token_types.get(name, zero)) for part in parts], axis=0)
            assert tuple(summed) == counts(whole), name


# ---------------------------------------------------------------------------------------------------------
# seqeval (default mode, conlleval-compatible) as an oracle: the scores must be equal, not just close.

RANDOM_TYPES = ("LOC", "PER", "ORGANISATION-SUBSIDIARY")


def _random_tag(rng: np.random.Generator, prefixes: str) -> str:
    prefix = prefixes[int(rng.integers(len(prefixes)))]
    return "O" if prefix == "O" else f"{prefix}-{RANDOM_TYPES[int(rng.integers(len(RANDOM_TYPES)))]}"


def _random_pair(rng: np.random.Generator, prefixes: str = "BIO") -> tuple[list[list[str]], list[list[str]]]:
    """Random gold and predicted tags, each tag drawn on its own: ill-formed sequences (I- after O, a type
    change inside a span, IOB1-style I- starts) are the rule, not the exception."""
    lengths = rng.integers(0, 12, size=int(rng.integers(1, 8)))
    gold = [[_random_tag(rng, prefixes) for _ in range(n)] for n in lengths]
    pred = [[_random_tag(rng, prefixes) for _ in range(n)] for n in lengths]
    return gold, pred


def assert_equal_to_seqeval(gold: list[list[str]], pred: list[list[str]]) -> None:
    """windowner's entity scores equal seqeval's default-mode scores exactly, per type and micro."""
    seqeval_metrics = pytest.importorskip("seqeval.metrics")
    ours = entity_scores(gold, pred)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # where a type (or all) has no gold or no predicted entity
        report = seqeval_metrics.classification_report(gold, pred, output_dict=True, zero_division=0)
        micro_f1 = seqeval_metrics.f1_score(gold, pred, zero_division=0)
    types = [name for name in report if not name.endswith(" avg")]
    assert types == [name for name in ours if name != "micro"]
    for name, score in ours.items():
        theirs = report["micro avg" if name == "micro" else name]
        assert (score.precision, score.recall, score.f1) == (
            theirs["precision"],
            theirs["recall"],
            theirs["f1-score"],
        ), name
        assert score.support == theirs["support"], name
    assert ours["micro"].f1 == micro_f1


def test_random_tags_score_as_seqeval_does():
    """Random IOB tags, most of them ill-formed, and IOBES: equal to seqeval per type and micro."""
    pytest.importorskip("seqeval")
    rng = np.random.default_rng(11)
    for prefixes in ("BIO", "IO", "BIOES"):
        for _ in range(300):
            assert_equal_to_seqeval(*_random_pair(rng, prefixes))


def test_hand_made_ill_formed_cases_score_as_seqeval_does():
    pytest.importorskip("seqeval")
    cases = [
        (["O", "I-PER", "I-PER", "O"], ["O", "B-PER", "I-PER", "O"]),  # I- after O starts an entity
        (["B-PER", "I-LOC", "I-LOC"], ["B-PER", "I-PER", "I-LOC"]),  # a type change starts another
        (["I-LOC", "I-LOC", "B-LOC"], ["B-LOC", "I-LOC", "B-LOC"]),  # IOB1 against IOB2
        (["B-ORGANISATION-SUBSIDIARY", "I-ORGANISATION-SUBSIDIARY"], ["B-ORGANISATION-SUBSIDIARY", "O"]),
    ]
    for gold, pred in cases:
        assert_equal_to_seqeval([gold], [pred])
    assert_equal_to_seqeval([["O", "O"], []], [["O", "O"], []])  # no entity anywhere: all zero


@pytest.fixture(scope="module")
def wikigold_entities_run(tmp_path_factory) -> windowner.Tagger:
    """A small entities model trained on the shipped Wikigold data: 2 epochs, 20 hidden units."""
    pytest.importorskip("seqeval")  # its only use: no training when the tests that need it skip
    output = tmp_path_factory.mktemp("metrics") / "run"
    overrides = ["task.name=entities", "train.epochs=2", "model.hidden=20", f"output={output}"]
    config = windowner.load_config(REPO / "configs" / "default.yaml", overrides)
    windowner.train(config, progress=False, echo=lambda line: None)
    return windowner.load_run(output)


@pytest.mark.parametrize("split", ["dev", "test"])
def test_real_predictions_score_as_seqeval_does(wikigold_entities_run, split):
    pytest.importorskip("seqeval")
    tagger = wikigold_entities_run
    sentences = windowner.read_conll(REPO / "data" / "wikigold" / f"{split}.conll")
    pred = tagger.predict([s.tokens for s in sentences])
    gold = [tagger.task.reference(s) for s in sentences]
    micro = entity_scores(gold, pred)["micro"]
    assert 0 < micro.correct < min(micro.predicted, micro.support)  # a real, imperfect tagger
    assert_equal_to_seqeval(gold, pred)
    # the same predictions with their first tags flipped to I- (ill-formed IOB2, as an IOB1 tagger writes)
    iob1 = [[("I-" + tag[2:]) if tag.startswith("B-") else tag for tag in tags] for tags in pred]
    assert_equal_to_seqeval(gold, iob1)
