"""The summed forms of the task formats' scores (tasktransfer.score_sums): on random predictions the
bootstrap's fast path gives the very interval of the generic path, to the last bit, for every
format and metric that has one (seed counts 1 to 10, several dev sizes)."""

from __future__ import annotations

import numpy as np
import pytest

from tasktransfer.bootstrap import paired_bootstrap
from tasktransfer.data.prepare import TaskMeta
from tasktransfer.prompting.formats import get_format
from tasktransfer.score_sums import summed_score

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
WORDS = "the a cat sat on mat of an old dog ran far".split()


def _classification(rng, n):
    rows = [{"label": str(x)} for x in rng.choice(["a", "b", "c", "d"], n)]
    return rows, lambda: rng.integers(0, 4, n).tolist()


def _multiple_choice(rng, n):
    rows = [{"label": int(x)} for x in rng.integers(0, 3, n)]
    return rows, lambda: rng.integers(0, 3, n).tolist()


def _tagging(rng, n):
    lengths = rng.integers(0, 7, n)  # empty sentences too
    rows = [{"tags": rng.choice(TAGS, k).tolist()} for k in lengths]
    return rows, lambda: [rng.choice(TAGS, k).tolist() for k in lengths]


def _extractive_qa(rng, n):
    contexts = [" ".join(rng.choice(WORDS, 12)) for _ in range(n)]

    def answers(c):  # none (unanswerable) or two spans of the context
        spans = [(s, s + int(rng.integers(1, 15))) for s in rng.integers(0, 30, 2)]
        return [] if rng.random() < 0.2 else [{"text": c[s:e]} for s, e in spans]

    rows = [{"context": c, "answers": answers(c)} for c in contexts]

    def preds():
        return [None if rng.random() < 0.2 else [int(s), int(s + rng.integers(1, 20))] for s in rng.integers(0, 40, n)]

    return rows, preds


def _multirc(rng, n):
    options = rng.integers(1, 5, n)
    rows = [{"answers": [{"label": int(y)} for y in rng.integers(0, 2, k)]} for k in options]
    return rows, lambda: [rng.integers(0, 2, k).tolist() for k in options]


CASES = {
    ("classification", "accuracy"): _classification,
    ("classification", "mcc"): _classification,
    ("classification", "f1_macro"): _classification,
    ("multiple_choice", "accuracy"): _multiple_choice,
    ("tagging", "token_accuracy"): _tagging,
    ("tagging", "entity_f1"): _tagging,
    ("extractive_qa", "token_f1"): _extractive_qa,
    ("extractive_qa", "exact_match"): _extractive_qa,
    ("multirc", "f1a"): _multirc,
}


def _format(fmt: str, metric: str):
    return get_format(TaskMeta("t", "t", fmt, metric, ["a", "b", "c", "d"], 0, 0, None))


@pytest.mark.parametrize("case", sorted(CASES), ids="-".join)
@pytest.mark.parametrize(("seeds", "n"), [(1, 1), (1, 37), (2, 80), (3, 9), (10, 25)])
def test_the_fast_path_gives_the_generic_interval_bit_for_bit(case, seeds, n):
    rng = np.random.default_rng([seeds, n, len(case[0]), len(case[1])])
    rows, draw = CASES[case](rng, n)
    fmt = _format(*case)
    new, base = [draw() for _ in range(seeds)], [draw() for _ in range(seeds)]
    assert summed_score(fmt.score, rows) is not None  # the fast path is there to compare
    fast = paired_bootstrap(fmt.score, rows, new, base, n_boot=100, seed=n)
    generic = paired_bootstrap(lambda p, r: fmt.score(p, r), rows, new, base, n_boot=100, seed=n)
    assert fast == generic
    assert fast.mean == np.mean([fmt.score(a, rows) - fmt.score(b, rows) for a, b in zip(new, base)])


@pytest.mark.parametrize("case", sorted(CASES), ids="-".join)
def test_a_runs_summed_score_is_its_score(case):
    rng = np.random.default_rng(7)
    rows, draw = CASES[case](rng, 60)
    fmt = _format(*case)
    summed = summed_score(fmt.score, rows)
    for preds in (draw(), draw()):
        assert summed.scores(summed.stats(preds), np.arange(60)[None, :])[0] == fmt.score(preds, rows)


def test_token_accuracy_of_empty_sentences_only_is_zero_on_both_paths():
    rows = [{"tags": []}] * 5
    fmt = _format("tagging", "token_accuracy")
    summed = summed_score(fmt.score, rows)
    assert summed.scores(summed.stats([[]] * 5), np.arange(5)[None, :])[0] == fmt.score([[]] * 5, rows) == 0.0


def test_scores_without_a_summed_form_take_the_generic_path():
    rows = [{"label": "a"}, {"label": "b"}]
    assert summed_score(_format("regression", "pearson").score, rows) is None
    assert summed_score(lambda p, r: 0.0, rows) is None
    assert summed_score(_format("classification", "accuracy").score, rows) is not None


def test_predictions_that_break_the_decomposition_fall_back():
    """A MultiRC question predicted with another number of options, a class that is no label index:
    the statistics refuse, and the bootstrap scores them generically (the same numbers as ever)."""
    rows = [{"answers": [{"label": 1}, {"label": 0}]}, {"answers": [{"label": 1}]}]
    summed = summed_score(_format("multirc", "f1a").score, rows)
    assert summed.stats([[1], [1, 0]]) is None
    assert summed.stats([[1, 0], [1]]) is not None
    mcc = summed_score(_format("classification", "mcc").score, [{"label": "a"}, {"label": "b"}])
    assert mcc.stats([0, 7]) is None and mcc.stats([0, 1.0]) is None


def test_blocks_of_draws_give_the_same_interval(monkeypatch):
    """The fast path sums its draws a block at a time (bounded memory on a large dev set)."""
    from tasktransfer import bootstrap

    rng = np.random.default_rng(3)
    rows, draw = _classification(rng, 50)
    for metric in ("accuracy", "mcc"):
        fmt = _format("classification", metric)
        new, base = [draw(), draw()], [draw(), draw()]
        whole = paired_bootstrap(fmt.score, rows, new, base, n_boot=40)
        monkeypatch.setattr(bootstrap, "BLOCK_ELEMENTS", 120)  # two draws a block
        assert paired_bootstrap(fmt.score, rows, new, base, n_boot=40) == whole
        monkeypatch.undo()


@pytest.mark.parametrize("metric", ["mcc", "f1_macro"])
def test_many_labels_give_the_generic_interval_too(metric):
    """Ten labels, some never predicted or never gold in a draw: macro-F1 averages draw by draw
    there (numpy's pairwise sum groups 9 or more values otherwise), MCC stays whole-array."""
    labels = [f"l{i}" for i in range(10)]
    rng = np.random.default_rng(11)
    rows = [{"label": labels[g]} for g in rng.integers(0, 10, 60)]
    fmt = get_format(TaskMeta("t", "t", "classification", metric, labels, 0, 0, None))
    new = [rng.integers(0, 9, 60).tolist() for _ in range(2)]  # label 9 never predicted
    base = [rng.integers(0, 10, 60).tolist() for _ in range(2)]
    fast = paired_bootstrap(fmt.score, rows, new, base, n_boot=100)
    assert fast == paired_bootstrap(lambda p, r: fmt.score(p, r), rows, new, base, n_boot=100)
