"""Which tasks learn: r1 against the majority class, majority tag or chance, on hand-made runs."""

from __future__ import annotations

import json

import pytest

from tasktransfer.analysis.learnability import (
    baseline_score,
    learnability_rows,
    read_learnable,
    read_run_files,
    write_table,
)


def test_classification_baseline_is_the_majority_share():
    dev = [{"label": "a"}] * 6 + [{"label": "b"}] * 4
    assert baseline_score({"format": "classification", "metric": "accuracy"}, dev) == (60.0, "majority class")
    assert baseline_score({"format": "classification", "metric": "mcc"}, dev)[0] == 0.0


def test_tagging_baseline_is_the_majority_tag_per_word():
    dev = [{"tags": ["NN", "VB", "NN"]}, {"tags": ["NN", "DT"]}]  # NN: 3 of 5 words
    assert baseline_score({"format": "tagging", "metric": "token_accuracy"}, dev) == (60.0, "majority tag")
    ner = [{"tags": ["O", "B-PER", "O"]}]  # all O: no entity found
    assert baseline_score({"format": "tagging", "metric": "entity_f1"}, ner)[0] == 0.0


def test_multiple_choice_baseline_is_chance():
    dev = [{"choices": ["a", "b"], "label": 0}, {"choices": ["a", "b", "c", "d"], "label": 1}]
    score, kind = baseline_score({"format": "multiple_choice", "metric": "accuracy"}, dev)
    assert score == pytest.approx(100 * (0.5 + 0.25) / 2) and kind == "chance"


def test_rows_mark_tasks_within_the_margin_as_not_learning():
    metas = {
        "sent": {"format": "classification", "metric": "accuracy", "type": "sentiment"},
        "pos": {"format": "tagging", "metric": "token_accuracy", "type": "pos"},
        "mc": {"format": "multiple_choice", "metric": "accuracy", "type": "commonsense"},
    }
    devs = {
        "sent": [{"label": "a"}] * 5 + [{"label": "b"}] * 5,  # 50
        "pos": [{"tags": ["NN", "NN", "VB", "DT"]}],  # 50
        "mc": [{"choices": ["x", "y", "z", "w"], "label": 0}],  # 25
    }
    runs = [{"task": "sent", "score": 55.0}, {"task": "pos", "score": 54.9}, {"task": "mc", "score": 24.0}]
    rows = {r["task"]: r for r in learnability_rows(runs, metas, devs, margin_points=5)}
    assert rows["sent"]["learns"] is True and rows["sent"]["margin"] == 5.0  # exactly the margin: learns
    assert rows["pos"]["learns"] is False and rows["pos"]["margin"] == pytest.approx(4.9)
    assert rows["mc"]["learns"] is False and rows["mc"]["margin"] == -1.0


def test_table_round_trip_from_run_files(tmp_path):
    data = tmp_path / "data"
    for task, label in (("good", "a"), ("bad", "b")):
        (data / task).mkdir(parents=True)
        meta = {"format": "classification", "metric": "accuracy", "type": "t", "labels": ["a", "b"]}
        (data / task / "meta.json").write_text(json.dumps(meta))
        (data / task / "dev.jsonl").write_text("".join(json.dumps({"label": x}) + "\n" for x in "aaab"))
    files = []
    for task, score in (("good", 90.0), ("bad", 76.0)):  # majority 75
        path = tmp_path / task / "metrics.json"
        path.parent.mkdir()
        path.write_text(json.dumps({"task": task, "score": score}))
        files.append(path)
    runs, metas, devs = read_run_files(files, data)
    write_table(learnability_rows(runs, metas, devs, 5), tmp_path / "l.tsv")
    assert read_learnable(tmp_path / "l.tsv") == {"bad": False, "good": True}
