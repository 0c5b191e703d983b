"""Table sources: Hugging Face datasets (built and saved locally: no network) and local files."""

from __future__ import annotations

import json

import pytest

from tasktransfer.data.prepare import DataSpec, prepare_task, read_jsonl, read_meta
from tasktransfer.errors import TaskError
from tasktransfer.data.tables import load_table_source
from tasktransfer.data.registry import parse_task


def _task(name, fmt, source, metric=None):
    entry = {"type": "t", "format": fmt, "source": source}
    if metric:
        entry["metric"] = metric
    return parse_task(name, entry)


@pytest.fixture(scope="module")
def hub_dir(tmp_path_factory):
    datasets = pytest.importorskip("datasets")
    root = tmp_path_factory.mktemp("hub")
    feats = datasets.Features(
        {
            "sentence1": datasets.Value("string"),
            "sentence2": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["entailment", "not_entailment"]),
        }
    )
    rows = {
        "sentence1": ["a cat", "a dog", "the sun", "no label"],
        "sentence2": ["x", "y", "z", "w"],
        "label": [0, 1, 0, -1],
    }
    datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict(rows, features=feats),
            "validation": datasets.Dataset.from_dict(rows, features=feats),
        }
    ).save_to_disk(str(root / "pairs"))
    ner = datasets.Features(
        {
            "tokens": datasets.Sequence(datasets.Value("string")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B-PER", "I-PER"])),
        }
    )
    ner_rows = {"tokens": [["Ann", "Lee", "sat"], ["he", "ran"]], "ner_tags": [[1, 2, 0], [0, 0]]}
    datasets.DatasetDict({"train": datasets.Dataset.from_dict(ner_rows, features=ner)}).save_to_disk(str(root / "ner"))
    squad = {
        "question": ["who sat", "who ran", "who flew"],
        "context": ["Ann Lee sat", "nobody ran", "a bird flew"],
        "answers": [
            {"text": ["Ann Lee"], "answer_start": [0]},
            {"text": [], "answer_start": []},
            {"text": ["a parrot"], "answer_start": [0]},
        ],
    }
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_dict(squad), "validation": datasets.Dataset.from_dict(squad)}
    ).save_to_disk(str(root / "squad"))
    copa = {
        "premise": ["it rained", "he slept"],
        "question": ["effect", "cause"],
        "choice1": ["wet", "tired"],
        "choice2": ["dry", "awake"],
        "label": [0, 0],
    }
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_dict(copa), "validation": datasets.Dataset.from_dict(copa)}
    ).save_to_disk(str(root / "copa"))
    mrc = {
        "paragraph": ["p1", "p1", "p2"],
        "question": ["q1", "q1", "q2"],
        "answer": ["a", "b", "c"],
        "label": [1, 0, 1],
    }
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_dict(mrc), "validation": datasets.Dataset.from_dict(mrc)}
    ).save_to_disk(str(root / "mrc"))
    return root


def test_hub_classification_uses_classlabel_names_and_filters(hub_dir):
    spec = _task(
        "rte",
        "classification",
        {
            "kind": "huggingface",
            "dataset": str(hub_dir / "pairs"),
            "fields": {"text": "sentence1", "text_pair": "sentence2"},
            "filters": {"label": {"not_in": [-1]}},
        },
    )
    raw = load_table_source(spec, None)
    assert raw["train"][0] == {"text": "a cat", "text_pair": "x", "label": "entailment"}
    assert [r["label"] for r in raw["dev"]] == ["entailment", "not_entailment", "entailment"]


def test_hub_tagging_names_and_no_dev_split(hub_dir):
    spec = _task(
        "ner",
        "tagging",
        {"kind": "huggingface", "dataset": str(hub_dir / "ner"), "dev_split": None, "fields": {"tags": "ner_tags"}},
    )
    raw = load_table_source(spec, None)
    assert raw == {
        "all": [
            {"tokens": ["Ann", "Lee", "sat"], "tags": ["B-PER", "I-PER", "O"]},
            {"tokens": ["he", "ran"], "tags": ["O", "O"]},
        ]
    }


def test_hub_squad_answers_and_unanswerable(hub_dir):
    spec = _task("squad", "extractive_qa", {"kind": "huggingface", "dataset": str(hub_dir / "squad")})
    train = load_table_source(spec, None)["train"]
    # the abstractive "a parrot" (not in its context) is dropped; the unanswerable one stays
    assert train == [
        {"question": "who sat", "context": "Ann Lee sat", "answers": [{"text": "Ann Lee", "start": 0}]},
        {"question": "who ran", "context": "nobody ran", "answers": []},
    ]


def test_hub_copa_joins_columns(hub_dir):
    spec = _task(
        "copa",
        "multiple_choice",
        {
            "kind": "huggingface",
            "dataset": str(hub_dir / "copa"),
            "fields": {"text": ["premise", "question"], "choices": ["choice1", "choice2"]},
        },
    )
    assert load_table_source(spec, None)["train"][0] == {
        "text": "it rained effect",
        "choices": ["wet", "dry"],
        "label": 0,
    }


def test_hub_multirc_groups_flat_rows(hub_dir):
    spec = _task(
        "multirc", "multirc", {"kind": "huggingface", "dataset": str(hub_dir / "mrc"), "fields": {"text": "paragraph"}}
    )
    train = load_table_source(spec, None)["train"]
    assert train == [
        {"text": "p1", "question": "q1", "answers": [{"text": "a", "label": 1}, {"text": "b", "label": 0}]},
        {"text": "p2", "question": "q2", "answers": [{"text": "c", "label": 1}]},
    ]


def test_hub_missing_column_names_task_and_field(hub_dir):
    spec = _task(
        "rte",
        "classification",
        {"kind": "huggingface", "dataset": str(hub_dir / "pairs"), "fields": {"text": "premise"}},
    )
    with pytest.raises(
        TaskError,
        match=r"task 'rte', field 'source.fields.text': column 'premise' not in .*columns are \['sentence1', 'sentence2', 'label'\]",
    ):
        load_table_source(spec, None)


def test_hub_unknown_split(hub_dir):
    spec = _task(
        "rte",
        "classification",
        {"kind": "huggingface", "dataset": str(hub_dir / "pairs"), "dev_split": "dev", "fields": {"text": "sentence1"}},
    )
    with pytest.raises(TaskError, match="split 'dev'"):
        load_table_source(spec, None)


# --------------------------------------------------------------------------- local files


def test_local_csv_tsv_jsonl(tmp_path):
    (tmp_path / "train.csv").write_text("sentence,polarity\ngood film,pos\nbad film,neg\n")
    (tmp_path / "dev.tsv").write_text("sentence\tpolarity\nfine film\tpos\n")
    spec = _task(
        "reviews",
        "classification",
        {
            "kind": "local",
            "files": {"train": str(tmp_path / "train.csv"), "dev": str(tmp_path / "dev.tsv")},
            "fields": {"text": "sentence", "label": "polarity"},
        },
    )
    raw = load_table_source(spec, None)
    assert raw == {
        "train": [{"text": "good film", "label": "pos"}, {"text": "bad film", "label": "neg"}],
        "dev": [{"text": "fine film", "label": "pos"}],
    }
    # one file, relative to resources_dir: prepare splits it; tags as space-separated strings
    (tmp_path / "tags.jsonl").write_text(
        "".join(json.dumps({"words": f"w{i} x", "pos": "NN VB"}) + "\n" for i in range(10))
    )
    spec = _task(
        "pos", "tagging", {"kind": "local", "files": "tags.jsonl", "fields": {"tokens": "words", "tags": "pos"}}
    )
    raw = load_table_source(spec, tmp_path)
    assert list(raw) == ["all"] and raw["all"][3] == {"tokens": ["w3", "x"], "tags": ["NN", "VB"]}
    meta = prepare_task(spec, DataSpec(max_train=50, max_dev=3), tmp_path, tmp_path / "out")
    assert (meta.n_train, meta.n_dev, meta.labels) == (7, 3, ["NN", "VB"])
    assert read_meta(tmp_path / "out").format == "tagging"
    assert len(read_jsonl(tmp_path / "out" / "dev.jsonl")) == 3


def test_local_errors_name_the_field(tmp_path):
    (tmp_path / "t.csv").write_text("a,b\nx,y\n")
    spec = _task("loc", "classification", {"kind": "local", "files": str(tmp_path / "t.csv"), "fields": {"text": "a"}})
    with pytest.raises(
        TaskError,
        match=r"task 'loc', field 'source.fields.label': column 'label' not in .*t.csv; columns are \['a', 'b'\]",
    ):
        load_table_source(spec, None)
    spec = _task("loc", "classification", {"kind": "local", "files": str(tmp_path / "missing.csv")})
    with pytest.raises(TaskError, match="source.files.*does not exist"):
        load_table_source(spec, None)
    (tmp_path / "t.parquet").write_text("")
    spec = _task("loc", "classification", {"kind": "local", "files": str(tmp_path / "t.parquet")})
    with pytest.raises(TaskError, match="unknown file type"):
        load_table_source(spec, None)


# --------------------------------------------------------------------------- the paper's shapes


def test_entity_spans_become_bio_tags(tmp_path):
    """CoNLL04 on the hub: tokens plus entities as {start, end (exclusive), type}."""
    rows = [
        {"tokens": ["John", "Smith", "lives", "in", "New", "York", "."],
         "entities": [{"start": 0, "end": 2, "type": "Peop"}, {"start": 4, "end": 6, "type": "Loc"}]},
        {"tokens": ["Nothing", "here"], "entities": []},
    ]
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = _task("c04", "tagging", {"kind": "local", "files": str(path), "fields": {"tags": "entities"}, "spans": {}})
    got = load_table_source(spec, None)["all"]
    assert got[0]["tags"] == ["B-Peop", "I-Peop", "O", "O", "B-Loc", "I-Loc", "O"]
    assert got[1]["tags"] == ["O", "O"]
    # inclusive ends (another convention) give the same tags from end - 1
    incl = [{**rows[0], "entities": [{"start": 0, "end": 1, "type": "Peop"}, {"start": 4, "end": 5, "type": "Loc"}]}]
    path.write_text(json.dumps(incl[0]) + "\n")
    spec = _task("c04", "tagging", {"kind": "local", "files": str(path), "fields": {"tags": "entities"},
                                    "spans": {"end_inclusive": True}})
    assert load_table_source(spec, None)["all"][0]["tags"] == got[0]["tags"]
    path.write_text(json.dumps({"tokens": ["a"], "entities": [{"start": 0, "end": 3, "type": "X"}]}) + "\n")
    with pytest.raises(TaskError, match="does not fit a sentence of 1 tokens"):
        load_table_source(spec, None)


def test_conll_files_and_list_columns_as_rows(tmp_path):
    conll = tmp_path / "fce.conll"
    conll.write_text("-DOCSTART-\tO\n\nI\tc\nhas\ti\n\nGood\tc\n.\tc\n")
    spec = _task("fce", "tagging", {"kind": "local", "files": {"train": str(conll), "dev": str(conll)}})
    assert load_table_source(spec, None)["train"] == [
        {"tokens": ["I", "has"], "tags": ["c", "i"]},
        {"tokens": ["Good", "."], "tags": ["c", "c"]},
    ]
    # OntoNotes-style documents holding sentences: each sentence becomes an example
    docs = tmp_path / "docs.jsonl"
    doc = {"document_id": "d1", "sentences": [{"words": ["a", "b"], "pos_tags": ["DT", "NN"]},
                                              {"words": ["c"], "pos_tags": ["VB"]}]}
    docs.write_text(json.dumps(doc) + "\n")
    spec = _task("pos", "tagging", {"kind": "local", "files": str(docs), "rows_from": "sentences",
                                    "fields": {"tokens": "words", "tags": "pos_tags"}})
    assert load_table_source(spec, None)["all"] == [
        {"tokens": ["a", "b"], "tags": ["DT", "NN"]},
        {"tokens": ["c"], "tags": ["VB"]},
    ]


def test_hub_list_column_keeps_its_tag_names(tmp_path):
    datasets = pytest.importorskip("datasets")
    feats = datasets.Features({
        "document_id": datasets.Value("string"),
        "sentences": [{"words": datasets.Sequence(datasets.Value("string")),
                       "pos_tags": datasets.Sequence(datasets.ClassLabel(names=["DT", "NN", "VB"]))}],
    })
    rows = {"document_id": ["d1", "d2"],
            "sentences": [[{"words": ["a", "b"], "pos_tags": [0, 1]}], [{"words": ["c"], "pos_tags": [2]}]]}
    datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows, features=feats),
                          "validation": datasets.Dataset.from_dict(rows, features=feats)}).save_to_disk(str(tmp_path / "onto"))
    spec = _task("pos", "tagging", {"kind": "huggingface", "dataset": str(tmp_path / "onto"), "rows_from": "sentences",
                                    "fields": {"tokens": "words", "tags": "pos_tags"}})
    assert load_table_source(spec, None)["train"] == [
        {"tokens": ["a", "b"], "tags": ["DT", "NN"]},
        {"tokens": ["c"], "tags": ["VB"]},
    ]
