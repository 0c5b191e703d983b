import math

import pytest

from tasktransfer import metrics


def test_accuracy_and_f1_by_hand():
    gold, pred = [0, 0, 1, 1, 2], [0, 1, 1, 1, 0]
    assert metrics.accuracy(gold, pred) == pytest.approx(3 / 5)
    # class 0: tp1 fp1 fn1 -> 0.5; class 1: tp2 fp1 fn0 -> 0.8; class 2: tp0 -> 0
    assert metrics.f1_macro(gold, pred) == pytest.approx((0.5 + 0.8 + 0.0) / 3)


def test_matthews_binary_by_hand():
    gold, pred = [1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 1]
    tp, tn, fp, fn = 2, 2, 1, 1
    expected = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert metrics.matthews(gold, pred) == pytest.approx(expected)
    assert metrics.matthews([0, 0], [0, 0]) == 0.0


def test_correlations_and_constant_inputs():
    assert metrics.pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert metrics.spearman([1, 2, 3], [1, 10, 100]) == pytest.approx(1.0)
    assert metrics.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert metrics.pearson([1, 1, 1], [1, 2, 3]) == 0.0


def test_regret_and_ndcg_by_hand():
    transferred = {"a": 80.0, "b": 90.0, "c": 70.0}
    predicted = {"a": 3.0, "b": 1.0, "c": 2.0}
    assert metrics.regret_at_k(predicted, transferred, 1) == pytest.approx(100 * (90 - 80) / 90)
    assert metrics.regret_at_k(predicted, transferred, 3) == 0.0
    gains = {"a": 2.0, "b": 4.0, "c": -1.0}
    # method order a, c, b: relevances 2, 0, 4; ideal b, a, c: 4, 2, 0
    dcg = 2 / math.log2(2) + 0 + 4 / math.log2(4)
    ideal = 4 / math.log2(2) + 2 / math.log2(3)
    assert metrics.ndcg(predicted, gains) == pytest.approx(dcg / ideal)


def test_top_k_breaks_ties_by_name():
    assert metrics.top_k({"b": 1.0, "a": 1.0, "c": 0.0}, 2) == ["a", "b"]


def test_entity_f1_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "B-LOC"]]
    # gold spans: PER(0,2) LOC(3,4) ORG(0,1); predicted: PER(0,2) ORG(3,4) ORG(0,1) LOC(1,2)
    # tp = 2, precision 2/4, recall 2/3 -> F1 = 2*2 / (3+4) = 4/7
    assert metrics.entity_f1(gold, pred) == pytest.approx(4 / 7)
    assert metrics.bio_spans(["I-PER", "I-PER", "I-LOC"]) == {(0, 2, "PER"), (2, 3, "LOC")}
    assert metrics.token_accuracy(gold, pred) == pytest.approx(4 / 6)


def test_squad_metrics_by_hand():
    golds = [["The Big Cat"], ["blue"], []]
    preds = ["big cat sat", "Blue!", ""]
    # 1: normalised gold "big cat", pred "big cat sat": P 2/3, R 1 -> F1 0.8; 2: exact; 3: empty = empty
    assert metrics.qa_token_f1(golds, preds) == pytest.approx((0.8 + 1 + 1) / 3)
    assert metrics.qa_exact_match(golds, preds) == pytest.approx(2 / 3)
    assert metrics.qa_token_f1([[]], ["something"]) == 0.0


def test_f1a_by_hand():
    assert metrics.f1_binary([1, 1, 0, 0], [1, 0, 1, 0]) == pytest.approx(0.5)
    assert metrics.f1_binary([0, 0], [0, 0]) == 0.0
