"""Every task format: its encoding lands labels and spans on the right tokens, its head and
prompt learn a tiny synthetic task above chance, and it scores by the metric its task asks for
(the metrics by hand are tests/test_metrics.py; the workflow on one task of every format is
tests/workflow/test_formats_run.py)."""

from __future__ import annotations

import json

import pytest
import torch

from tasktransfer.data.prepare import DataSpec, TaskMeta, label_set, load_raw, split_and_cap
from tasktransfer.prompting.formats import get_format
from tasktransfer.data.registry import parse_task

from rescore import rescore


@pytest.fixture(scope="module")
def backbone(tiny_backbone):
    from tasktransfer.prompting.backbone import load_backbone

    torch.set_num_threads(1)
    return load_backbone(str(tiny_backbone))


def _meta(name: str, fmt: str, metric: str | None = None, labels=()) -> TaskMeta:
    return TaskMeta(name, "t", fmt, metric or "accuracy", list(labels), 0, 0, None)


def _synthetic(name, fmt, metric, **source):
    spec = parse_task(name, {"type": "t", "format": fmt, "metric": metric, "source": {"kind": "synthetic", **source}})
    train, dev = split_and_cap(spec, load_raw(spec, None), DataSpec(max_train=140, max_dev=60))
    meta = TaskMeta(name, "t", fmt, metric, label_set(spec, train, dev), len(train), len(dev), None)
    return meta, train, dev


# --------------------------------------------------------------------------- encodings


def test_tagging_labels_first_subword_only(backbone):
    tok = backbone.tokenizer
    fmt = get_format(_meta("tag", "tagging", "token_accuracy", ["B-X", "O"]))
    # "redx" splits into red + ##x: only "red" carries the word's tag
    rows = [{"tokens": ["the", "redx", "cat"], "tags": ["O", "B-X", "O"]}]
    (f,) = fmt.encode(rows, tok, 32)
    pieces = tok.convert_ids_to_tokens(f["input_ids"])
    assert pieces == ["[CLS]", "the", "red", "##x", "cat", "[SEP]"]
    assert f["tag_labels"] == [-100, 1, 0, -100, 1, -100]
    assert f["word_of"] == [-1, 0, 1, -1, 2, -1]
    # prediction maps back to one tag per word; a word cut off by max_length falls back to O
    batch = fmt.collate([f], tok.pad_token_id)
    logits = torch.zeros(1, 6, 2)
    logits[0, 2, 0] = 5.0  # "red" -> B-X, the rest -> O
    logits[0, :, 1] += 1.0
    logits[0, 2, 1] = 0.0
    assert fmt.predict(logits, batch) == [["O", "B-X", "O"]]
    (short,) = fmt.encode(rows, tok, 4)  # [CLS] the red [SEP]: "cat" is cut off
    b = fmt.collate([short], tok.pad_token_id)
    assert fmt.predict(torch.zeros(1, 4, 2) + torch.tensor([5.0, 0.0]), b) == [["B-X", "B-X", "O"]]


def test_tagging_unseen_dev_tag_is_ignored_in_training(backbone):
    fmt = get_format(_meta("tag", "tagging", "token_accuracy", ["O"]))
    (f,) = fmt.encode([{"tokens": ["the", "cat"], "tags": ["O", "UH"]}], backbone.tokenizer, 16)
    assert f["tag_labels"] == [-100, 0, -100, -100]


def test_qa_answer_span_lands_on_its_tokens(backbone):
    tok = backbone.tokenizer
    fmt = get_format(_meta("qa", "extractive_qa", "token_f1"))
    context = "the red cat sat on the rain"
    rows = [
        {"question": "which weather", "context": context, "answers": [{"text": "red cat", "start": 4}]},
        {"question": "which weather", "context": context, "answers": []},  # unanswerable
        {"question": "which weather", "context": context, "answers": [{"text": "rain", "start": 23}]},
    ]
    feats = fmt.encode(rows, tok, 32)
    f = feats[0]
    pieces = tok.convert_ids_to_tokens(f["input_ids"])
    assert pieces[f["start"] : f["end"] + 1] == ["red", "cat"]
    assert context[f["offsets"][f["start"]][0] : f["offsets"][f["end"]][1]] == "red cat"
    assert (feats[1]["start"], feats[1]["end"]) == (0, 0)
    # truncated so that the answer is cut off: labelled "no answer" at position 0
    (cut,) = fmt.encode(rows[2:], tok, 8)
    assert (cut["start"], cut["end"]) == (0, 0)
    # decoding: gold-position logits give back the gold text; a strong position 0 gives ""
    batch = fmt.collate(feats, tok.pad_token_id)
    width = batch["input_ids"].shape[1]
    raw = torch.zeros(3, width, 2)
    for b, ft in enumerate(feats):
        raw[b, ft["start"], 0] = raw[b, ft["end"], 1] = 10.0
    logits = fmt.forward_head(lambda t: raw, raw, None, batch)
    preds = fmt.predict(logits, batch)
    assert preds[1] is None
    assert [context[p[0] : p[1]] for p in (preds[0], preds[2])] == ["red cat", "rain"]
    assert fmt.score(preds, rows) == pytest.approx(100.0)


def test_multiple_choice_regroups_varying_choices(backbone):
    tok = backbone.tokenizer
    fmt = get_format(_meta("mc", "multiple_choice"))
    rows = [
        {"text": "the cat", "choices": ["red", "blue"], "label": 1},
        {"text": "the dog", "choices": ["one", "two", "sun"], "label": 2},
    ]
    feats = fmt.encode(rows, tok, 16)
    assert [len(f["choices"]) for f in feats] == [2, 3]
    assert tok.convert_ids_to_tokens(feats[1]["choices"][2]["input_ids"]) == [
        "[CLS]",
        "the",
        "dog",
        "[SEP]",
        "sun",
        "[SEP]",
    ]
    batch = fmt.collate(feats, tok.pad_token_id)
    assert batch["input_ids"].shape[0] == 5  # all choices flattened into the encoder's batch
    pooled = torch.tensor([[0.1], [0.9], [0.2], [0.3], [0.8]])
    logits = fmt.forward_head(lambda p: p, None, pooled, batch)
    assert logits.shape == (2, 3)
    assert logits[0, 2] < -1e8  # the padded third slot of the first example never wins
    assert fmt.predict(logits, batch) == [1, 2]
    assert fmt.loss(logits, batch).item() < 1.0
    with pytest.raises(Exception, match="label 5"):
        fmt.encode([{"text": "a", "choices": ["b"], "label": 5}], tok, 16)


def test_multirc_flattens_answer_options(backbone):
    tok = backbone.tokenizer
    fmt = get_format(_meta("mrc", "multirc", "f1a"))
    rows = [
        {
            "text": "the red cat",
            "question": "which colour",
            "answers": [{"text": "red", "label": 1}, {"text": "blue", "label": 0}],
        },
        {"text": "the dog", "question": "which colour", "answers": [{"text": "one", "label": 1}]},
    ]
    feats = fmt.encode(rows, tok, 32)
    assert [f["labels"] for f in feats] == [[1, 0], [1]]  # one feature per question
    assert tok.convert_ids_to_tokens(feats[0]["options"][1]["input_ids"])[-3:] == ["colour", "blue", "[SEP]"]
    batch = fmt.collate(feats, tok.pad_token_id)
    assert batch["input_ids"].shape[0] == 3 and batch["labels"].tolist() == [1, 0, 1]
    logits = fmt.forward_head(lambda p: p, None, torch.tensor([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]]), batch)
    assert fmt.predict(logits, batch) == [[1, 1], [0]]
    # over the 3 options: tp=1, fp=1, fn=1 -> F1 = 2/4
    assert fmt.score([[1, 1], [0]], rows) == pytest.approx(50.0)
    with pytest.raises(Exception, match="no answer options"):
        fmt.encode([{"text": "p", "question": "q", "answers": []}], tok, 32)


# --------------------------------------------------------------------------- learning


CASES = {
    # name: (format, metric, source, chance level to beat (metric x100), margin)
    "mc": ("multiple_choice", "accuracy", {"generator": "keyword_choice"}, 100 / 3, 30),
    "ner": ("tagging", "entity_f1", {"generator": "keyword_ner"}, 0.0, 25),
    "pos": ("tagging", "token_accuracy", {"generator": "keyword_tagging"}, None, 5),
    "qa": ("extractive_qa", "token_f1", {"generator": "keyword_qa", "unanswerable": 0.3}, 30.0, 30),
    "mrc": ("multirc", "f1a", {"generator": "keyword_multirc"}, 200 / 3, 5),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_format_learns_above_chance(backbone, name):
    from tasktransfer.prompting.training import PromptSpec, tune_prompt

    fmt, metric, source, chance, margin = CASES[name]
    meta, train, dev = _synthetic(name, fmt, metric, size=200, **source)
    if chance is None:  # tagging: always predicting the most frequent tag
        tags = [t for r in dev for t in r["tags"]]
        chance = 100 * max(tags.count(t) for t in set(tags)) / len(tags)
    spec = PromptSpec(length=4, epochs=6, lrs=(0.03,), max_length=32)
    result = tune_prompt(backbone, meta, train, dev, spec, seed=0, log=lambda m: None)
    assert result.score > chance + margin, (name, result.score, chance)
    assert result.embedding.shape == (4, backbone.hidden_size)
    # the recorded predictions (as metrics.json stores them) give back the recorded score
    assert rescore(meta, json.loads(json.dumps(result.dev_predictions)), dev) == pytest.approx(result.score)


# --------------------------------------------------------------------------- the metric a task asks for


def test_classification_scores_by_its_metric():
    """The same predictions scored as the entry's metric says: accuracy, MCC (CoLA) or macro-F1,
    each worked out by hand (a format that always scored accuracy would fail)."""
    rows = [{"text": str(i), "label": y} for i, y in enumerate(["a", "a", "a", "b", "b", "c"])]
    pred = [0, 0, 1, 1, 0, 2]  # indices into the labels a, b, c
    fmt = lambda metric: get_format(_meta("cls", "classification", metric, ["a", "b", "c"]))  # noqa: E731
    assert fmt("accuracy").score(pred, rows) == pytest.approx(100 * 4 / 6)
    # confusion (gold rows a, b, c; predicted columns): [[2, 1, 0], [1, 1, 0], [0, 0, 1]]
    # Gorodkin: (c * s - sum_k p_k t_k) / sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2)), c = 4, s = 6,
    # t = (3, 2, 1), p = (3, 2, 1): (24 - 14) / sqrt((36 - 14)(36 - 14)) = 10 / 22
    assert fmt("mcc").score(pred, rows) == pytest.approx(100 * 10 / 22)
    # per class F1: a 2*2/(2*2+1+1) = 2/3, b 2*1/(2+1+1) = 1/2, c 1 -> macro (2/3 + 1/2 + 1) / 3
    assert fmt("f1_macro").score(pred, rows) == pytest.approx(100 * (2 / 3 + 1 / 2 + 1) / 3)


def test_regression_scores_by_pearson_or_spearman():
    rows = [{"text": str(i), "label": y} for i, y in enumerate([1.0, 2.0, 3.0, 4.0])]
    pred = [1.0, 3.0, 2.0, 10.0]
    # Pearson by hand: means 2.5 and 4; deviations (-1.5, -.5, .5, 1.5) and (-3, -1, -2, 6);
    # covariance sum 4.5 + .5 - 1 + 9 = 13; norms sqrt(5) and sqrt(50) -> 13 / sqrt(250)
    assert get_format(_meta("r", "regression", "pearson")).score(pred, rows) == pytest.approx(100 * 13 / 250**0.5)
    # Spearman: ranks (1, 2, 3, 4) and (1, 3, 2, 4): 1 - 6 * 2 / (4 * 15) = 0.8
    assert get_format(_meta("r", "regression", "spearman")).score(pred, rows) == pytest.approx(80.0)
