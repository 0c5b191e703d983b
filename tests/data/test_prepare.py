import json

import pytest

from tasktransfer.cli.main import main
from tasktransfer.data.prepare import (
    DataSpec,
    label_set,
    prepare_task,
    read_jsonl,
    read_meta,
    rows_digest,
    split_and_cap,
    training_subset,
)
from tasktransfer.errors import TaskError
from tasktransfer.data.registry import parse_task

SYN = {"kind": "synthetic", "generator": "keyword_classification", "family": "colour", "size": 100, "seed": 1}
SYNTH = {"kind": "synthetic", "generator": "keyword_classification"}


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


def test_label_missing_from_train_is_an_error():
    spec = parse_task("cls", {"type": "t", "format": "classification", "source": SYNTH})
    train = [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]
    dev = [{"text": "c", "label": "z"}]
    with pytest.raises(TaskError, match=r"task 'cls', field 'label': dev labels \['z'\] never occur in train"):
        label_set(spec, train, dev)
    # a tagging task tolerates a rare dev-only tag (it only costs accuracy)
    tag = parse_task("tag", {"type": "t", "format": "tagging", "source": SYNTH})
    assert label_set(tag, [{"tokens": ["a"], "tags": ["O"]}], [{"tokens": ["b"], "tags": ["UH"]}]) == ["O"]


def test_example_missing_a_canonical_key_names_it():
    spec = parse_task("qa", {"type": "t", "format": "extractive_qa", "source": SYNTH})
    rows = {"train": [{"question": "q", "context": "c"}], "dev": [{"question": "q", "context": "c", "answers": []}]}
    with pytest.raises(TaskError, match="task 'qa', field 'answers'"):
        split_and_cap(spec, rows, DataSpec())


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


# --- the target cap --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    out = tmp_path_factory.mktemp("cap")
    spec = parse_task(
        "colour",
        {"type": "colour", "format": "classification",
         "source": {"kind": "synthetic", "generator": "keyword_classification", "family": "colour", "size": 200, "seed": 1}},
    )
    prepare_task(spec, DataSpec(max_train=120, max_dev=40), out, out / "colour")
    return out / "colour"


def test_target_subset_is_a_prefix_and_dev_stays_whole(prepared):
    train = read_jsonl(prepared / "train.jsonl")
    assert training_subset(train, 24) == train[:24]
    assert training_subset(train, 0) == train
    assert len(read_jsonl(prepared / "dev.jsonl")) == 40
    with pytest.raises(ValueError):
        training_subset(train, -1)


def test_r1_and_r2_train_on_the_same_subset(prepared, tiny_backbone, tmp_path):
    """The no-transfer run and a transfer into the target, both capped at 24, record the digest of
    the same 24 examples (not the whole training set): a transfer reading another subset than
    its r1 would make the gain compare different data."""
    spec = json.dumps({"length": 4, "epochs": 1, "lrs": [0.03], "batch_size": 8, "max_length": 24})
    common = ["--data", str(prepared), "--backbone", str(tiny_backbone), "--spec", spec, "--seed", "0", "--max-train", "24"]
    assert main(["prompt-tune", *common, "--out-prompt", str(tmp_path / "p.safetensors"), "--out-metrics", str(tmp_path / "r1.json")]) == 0
    assert main(["transfer", *common, "--source", "colour", "--source-prompt", str(tmp_path / "p.safetensors"),
                 "--target-metrics", str(tmp_path / "r1.json"), "--out-metrics", str(tmp_path / "r2.json")]) == 0
    r1, r2 = (json.loads((tmp_path / f).read_text()) for f in ("r1.json", "r2.json"))
    train = read_jsonl(prepared / "train.jsonl")
    assert r1["train_size"] == r2["train_size"] == 24
    assert r1["train_digest"] == r2["train_digest"] == rows_digest(train[:24]) != rows_digest(train)
    assert len(r1["dev_predictions"]) == len(r2["dev_predictions"]) == 40
