"""Group B's folder readers: TaskWeb, Climate-FEVER, LIAR, SST-2 / Blitzer, Davidson, NER, BLiMP.

The unit tests feed each reader small made-up files through the real ``TaskFiles`` (written into
a temporary folder in the upstream layout and pinned by their digest); the last tests load every
task of ``config/_fragment_b.yaml`` from ``../shared/data`` and skip where that folder is absent.
No line of the shared data is copied here.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tasktransfer.data import registry
from tasktransfer.data.folder_readers_b import LOADERS, SOURCE_KEYS, on_dev_side
from tasktransfer.data.pins import parse_repositories, sha256_bytes, tree_digest
from tasktransfer.data.providers import TaskFiles
from tasktransfer.data.registry import parse_task
from tasktransfer.errors import TaskError

ROOT = Path(__file__).resolve().parents[2]
FRAGMENT = ROOT / "config" / "_fragment_b.yaml"
REGISTRY = ROOT / "config" / "tasks.yaml"
TOY = "someone/toy-data"
TOY_REPOS = parse_repositories({TOY: {"commit": "0" * 40, "licence": "made up"}})


@pytest.fixture(autouse=True)
def _kinds_known(monkeypatch):
    """The registry accepts this module's kinds (still right once the lead has wired them in)."""
    monkeypatch.setattr(registry, "SOURCE_KINDS", {**registry.SOURCE_KINDS, **SOURCE_KEYS})


def load(tmp_path: Path, fmt: str, source: dict, files: dict, name: str = "toy", include=("*.jsonl",)) -> dict:
    """Write ``files`` (name -> bytes, or -> {relative path: bytes} for a tree) into a data folder,
    pin them, and run the reader of ``source['kind']`` through TaskFiles."""
    folder = tmp_path / "data"
    block = {}
    for key, content in files.items():
        base = folder / "github" / TOY / key
        if isinstance(content, dict):
            for rel, data in content.items():
                (base / rel).parent.mkdir(parents=True, exist_ok=True)
                (base / rel).write_bytes(data)
            pinned = {r: d for r, d in content.items() if any(Path(r).match(p) for p in include)}
            block[key] = {"repo": TOY, "tree": key, "include": list(include), "sha256": tree_digest(pinned)}
        else:
            base.parent.mkdir(parents=True, exist_ok=True)
            base.write_bytes(content)
            block[key] = {"repo": TOY, "path": key, "sha256": sha256_bytes(content)}
    spec = parse_task(name, {"type": "toy", "format": fmt, "source": source, "files": block}, TOY_REPOS)
    task_files = TaskFiles(
        name, spec.files, resources=tmp_path / "resources", folder=folder, repositories=spec.repositories
    )
    return LOADERS[spec.kind](spec, task_files)


def jsonl(*rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def labels_of(out: dict) -> Counter:
    return Counter(e["label"] for split in out.values() for e in split)


def test_every_kind_has_a_reader_and_its_keys():
    assert set(LOADERS) == set(SOURCE_KEYS)
    assert all(isinstance(keys, tuple) for keys in SOURCE_KEYS.values())


# --------------------------------------------------------------------------- TaskWeb multitask

NLI_PATTERN = r'^(?P<text>.*)\n\nQuestion: Does this imply that "(?P<text_pair>.*)"\? Yes, no, or maybe\?\s*$'
NLI_LABELS = {"Yes": "entailment", "Maybe": "neutral", "No": "contradiction"}


def _nli_row(premise: str, hypothesis: str, label: int) -> dict:
    text = f'{premise} \n\nQuestion: Does this imply that "{hypothesis}"? Yes, no, or maybe?'
    return {"text": text, "choices": ["Yes", "Maybe", "No"], "label": label}


def test_multitask_classification_takes_the_pair_out_of_the_prompt(tmp_path):
    data = jsonl(
        _nli_row("Title<br>The cat sat  on the mat.", "A cat sat.", 0),
        _nli_row("A dog ran.", 'The dog was "fast"', 2),
        _nli_row("A bird sang.", "It was morning.", 1),
        _nli_row("A dog ran.", 'The dog was "fast"', 2),  # a repeat: kept once
    )
    source = {"kind": "taskweb_multitask", "pattern": NLI_PATTERN, "labels": NLI_LABELS}
    out = load(tmp_path, "classification", source, {"data": data})
    examples = out["all"]
    assert len(examples) == 3
    assert examples[0] == {"text": "Title The cat sat on the mat.", "text_pair": "A cat sat.", "label": "entailment"}
    assert examples[1]["text_pair"] == 'The dog was "fast"'
    assert labels_of(out) == Counter({"entailment": 1, "contradiction": 1, "neutral": 1})


def test_multitask_multiple_choice_keeps_the_stem_and_the_choices(tmp_path):
    row = {
        "text": "Read this.\nContext: Ann lost her keys.\nQuestion: What next?\nOptions: \n- look\n - sleep",
        "choices": ["look", "sleep"],
        "label": 0,
    }
    source = {
        "kind": "taskweb_multitask",
        "pattern": r"\nContext: (?P<text>.*?)\nQuestion: (?P<text_pair>.*?)\nOptions:",
    }
    out = load(tmp_path, "multiple_choice", source, {"data": jsonl(row)})
    assert out["all"] == [{"text": "Ann lost her keys. What next?", "choices": ["look", "sleep"], "label": 0}]


@pytest.mark.parametrize(
    "row, field",
    [
        ({"text": "no template here", "choices": ["Yes", "Maybe", "No"], "label": 0}, "source.pattern"),
        ({**_nli_row("P.", "H.", 0), "label": 3}, "files.data"),
        ({**_nli_row("P.", "H.", 0), "choices": ["Sure", "Maybe", "No"]}, "files.data"),
        ({"choices": [], "label": 0}, "files.data"),
    ],
)
def test_multitask_refuses_rows_it_cannot_read(tmp_path, row, field):
    source = {"kind": "taskweb_multitask", "pattern": NLI_PATTERN, "labels": NLI_LABELS}
    with pytest.raises(TaskError) as err:
        load(tmp_path, "classification", source, {"data": jsonl(row)})
    assert err.value.field == field


def test_multitask_refuses_a_file_that_is_not_json_lines(tmp_path):
    source = {"kind": "taskweb_multitask", "pattern": NLI_PATTERN, "labels": NLI_LABELS}
    with pytest.raises(TaskError, match="line 2 is not JSON"):
        load(tmp_path, "classification", source, {"data": jsonl(_nli_row("P.", "H.", 0)) + b"{oops\n"})


def test_multitask_needs_a_text_group_and_a_valid_pattern(tmp_path):
    for i, pattern in enumerate(["(?P<other>.*)", "(unclosed"]):
        source = {"kind": "taskweb_multitask", "pattern": pattern, "labels": NLI_LABELS}
        with pytest.raises(TaskError) as err:
            load(tmp_path / str(i), "classification", source, {"data": jsonl(_nli_row("P.", "H.", 0))})
        assert err.value.field == "source.pattern"


# --------------------------------------------------------------------------- natinstruct


def natinstruct(source: str, *instances: tuple[str, list[str]]) -> bytes:
    doc = {
        "Source": [source],
        "Definition": ["Made-up task."],
        "Instances": [{"id": f"task0-{i}", "input": inp, "output": out} for i, (inp, out) in enumerate(instances)],
    }
    return json.dumps(doc).encode()


def test_natinstruct_classification_maps_answers_and_unquotes_csv_fields(tmp_path):
    data = natinstruct(
        "toyqp",
        ("Question1: Is it red?, Question2: Is it blue?", ["No"]),
        ('Question1: "What is ""red""?", Question2: What is red?', ["Yes"]),
    )
    source = {
        "kind": "natinstruct",
        "source_name": "toyqp",
        "pattern": r"^Question1: (?P<text>.*?), Question2: (?P<text_pair>.*)$",
        "labels": {"Yes": "duplicate", "No": "not_duplicate"},
        "unquote_csv": True,
    }
    out = load(tmp_path, "classification", source, {"data": data})
    assert out["all"][1] == {"text": 'What is "red"?', "text_pair": "What is red?", "label": "duplicate"}
    assert labels_of(out) == Counter({"duplicate": 1, "not_duplicate": 1})


def test_natinstruct_refuses_another_tasks_file_and_unknown_answers(tmp_path):
    source = {"kind": "natinstruct", "source_name": "cb", "pattern": r"^(?P<text>.*)$", "labels": {"Yes": "yes"}}
    with pytest.raises(TaskError, match="another task's file"):
        load(tmp_path / "a", "classification", source, {"data": natinstruct("snli", ("x", ["Yes"]))})
    with pytest.raises(TaskError, match="not in source.labels"):
        load(tmp_path / "b", "classification", source, {"data": natinstruct("cb", ("x", ["Maybe"]))})
    with pytest.raises(TaskError, match="not a Super-NaturalInstructions task"):
        load(tmp_path / "c", "classification", source, {"data": b'{"Instances": []}'})
    with pytest.raises(TaskError, match="several different answers"):
        load(tmp_path / "d", "classification", source, {"data": natinstruct("cb", ("x", ["Yes", "No"]))})


def test_natinstruct_multiple_choice_by_letter_with_a_template(tmp_path):
    data = natinstruct(
        "toycopa",
        ("The ice melted. (A) It was hot. (B) It was cold., Question: cause", ["A"]),
        ("I sneezed. (A) I said hello. (B) Someone said bless you., Question: effect", ["B"]),
    )
    source = {
        "kind": "natinstruct",
        "pattern": r"^(?P<text>.*?) \(A\) (?P<choice0>.*?) \(B\) (?P<choice1>.*?), Question: (?P<question>\w+)$",
        "template": "{text} What was the {question}?",
        "answer": "letter",
    }
    out = load(tmp_path, "multiple_choice", source, {"data": data})
    assert out["all"][0] == {
        "text": "The ice melted. What was the cause?",
        "choices": ["It was hot.", "It was cold."],
        "label": 0,
    }
    assert out["all"][1]["label"] == 1


def test_natinstruct_multiple_choice_by_text_ignores_case_and_spacing(tmp_path):
    data = natinstruct(
        "toywsc",
        ("sentence: mr . brown met sue because he was lost .pronoun: he. A) Mr . Brown B) sue", ["mr .  brown"]),
    )
    source = {
        "kind": "natinstruct",
        "pattern": r"^sentence: (?P<text>.*?)\s*pronoun: (?P<pronoun>.*?)\. A\) (?P<choice0>.*?) B\) (?P<choice1>.*)$",
        "template": '{text} Who or what is "{pronoun}"?',
        "answer": "text",
    }
    out = load(tmp_path, "multiple_choice", source, {"data": data})
    assert out["all"] == [
        {
            "text": 'mr . brown met sue because he was lost . Who or what is "he"?',
            "choices": ["Mr . Brown", "sue"],
            "label": 0,
        }
    ]


def test_natinstruct_refuses_answer_generation_and_answers_that_name_no_option(tmp_path):
    # CosmosQA / PIQA / WinoGrande in natinstruct have no options in the input: not readable as multiple choice
    gen = {"kind": "natinstruct", "pattern": r"^Goal: (?P<text>.*)$", "answer": "text"}
    with pytest.raises(TaskError, match="choice0, choice1"):
        load(
            tmp_path / "a",
            "multiple_choice",
            gen,
            {"data": natinstruct("piqa", ("Goal: open a jar", ["twist the lid"]))},
        )
    mc = {"kind": "natinstruct", "pattern": r"^(?P<text>.*?) A\)(?P<choice0>.*?) B\)(?P<choice1>.*)$", "answer": "text"}
    with pytest.raises(TaskError, match="names 0 of the options"):
        load(tmp_path / "b", "multiple_choice", mc, {"data": natinstruct("q", ("Which? A)up B)down", ["left"]))})
    with pytest.raises(TaskError) as err:
        load(
            tmp_path / "c",
            "multiple_choice",
            {**mc, "answer": "guess"},
            {"data": natinstruct("q", ("Which? A)up B)down", ["up"]))},
        )
    assert err.value.field == "source.answer"


# --------------------------------------------------------------------------- Climate-FEVER


def _claim(cid: str, claim: str, label: str, evidence_labels: list[str]) -> dict:
    evidences = [
        {"evidence_id": f"{cid}:{i}", "evidence": f"Evidence {i} about {claim}", "evidence_label": lab}
        for i, lab in enumerate(evidence_labels)
    ]
    return {"claim_id": cid, "claim": claim, "claim_label": label, "evidences": evidences}


CLAIMS = jsonl(
    *[
        _claim(str(i), f"Made-up claim number {i}.", lab, ["SUPPORTS", "NOT_ENOUGH_INFO", "REFUTES"])
        for i, lab in enumerate(["SUPPORTS", "REFUTES", "NOT_ENOUGH_INFO", "DISPUTED"] * 10)
    ]
)


def test_climate_fever_claims_have_four_labels(tmp_path):
    out = load(tmp_path, "classification", {"kind": "climate_fever", "unit": "claim"}, {"data": CLAIMS})
    assert labels_of(out) == Counter({"supports": 10, "refutes": 10, "not_enough_info": 10, "disputed": 10})


def test_climate_fever_pairs_keep_a_claim_on_one_side(tmp_path):
    out = load(
        tmp_path, "classification", {"kind": "climate_fever", "unit": "pair", "dev_share": 0.3}, {"data": CLAIMS}
    )
    assert set(out) == {"train", "dev"} and len(out["train"]) + len(out["dev"]) == 120
    assert labels_of(out) == Counter({"supports": 40, "not_enough_info": 40, "refutes": 40})
    train_claims = {e["text_pair"] for e in out["train"]}
    assert not train_claims & {e["text_pair"] for e in out["dev"]}
    assert all(e["text"].startswith("Evidence") for e in out["dev"])


def test_climate_fever_refuses_unknown_labels_and_units(tmp_path):
    bad = jsonl(_claim("0", "A claim.", "SUPPORTS", ["DISPUTED"]))  # DISPUTED is a claim label only
    with pytest.raises(TaskError, match="not in source.labels"):
        load(tmp_path / "a", "classification", {"kind": "climate_fever", "unit": "pair"}, {"data": bad})
    with pytest.raises(TaskError) as err:
        load(tmp_path / "b", "classification", {"kind": "climate_fever", "unit": "sentence"}, {"data": CLAIMS})
    assert err.value.field == "source.unit"


# --------------------------------------------------------------------------- LIAR


def _liar_line(i: int, label: str, statement: str) -> str:
    return "\t".join(
        [
            f"{i}.json",
            label,
            statement,
            "topic",
            "someone",
            "job",
            "State",
            "party",
            "0",
            "1",
            "2",
            "3",
            "4",
            "a speech",
        ]
    )


LIAR_LABELS = {
    "pants-fire": "pants_fire",
    "false": "false",
    "barely-true": "barely_true",
    "half-true": "half_true",
    "mostly-true": "mostly_true",
    "true": "true",
}


def test_liar_cuts_at_tabs_and_drops_dev_repeats_of_train(tmp_path):
    train = (
        "\n".join(
            [
                _liar_line(1, "true", '"Quoted" start of a made-up statement.'),
                _liar_line(2, "pants-fire", "The moon is cheese."),
                _liar_line(3, "half-true", "Taxes went up, then down."),
            ]
        )
        + "\n"
    )
    dev = (
        "\r\n".join([_liar_line(4, "false", "The moon is cheese."), _liar_line(5, "mostly-true", "Rain is wet.")])
        + "\r\n"
    )
    out = load(
        tmp_path,
        "classification",
        {"kind": "liar", "labels": LIAR_LABELS},
        {"train": train.encode(), "dev": dev.encode()},
    )
    assert [e["text"] for e in out["train"]][0] == '"Quoted" start of a made-up statement.'
    assert out["dev"] == [{"text": "Rain is wet.", "label": "mostly_true"}]
    assert labels_of(out) == Counter({"true": 1, "pants_fire": 1, "half_true": 1, "mostly_true": 1})


def test_liar_binary_and_bad_rows(tmp_path):
    binary = {k: ("true" if k in ("true", "mostly-true", "half-true") else "false") for k in LIAR_LABELS}
    train = "\n".join(_liar_line(i, lab, f"Statement {i}.") for i, lab in enumerate(LIAR_LABELS)).encode()
    dev = _liar_line(9, "barely-true", "Another one.").encode()
    out = load(tmp_path / "a", "classification", {"kind": "liar", "labels": binary}, {"train": train, "dev": dev})
    assert labels_of(out) == Counter({"true": 3, "false": 4})
    with pytest.raises(TaskError, match="columns"):
        load(
            tmp_path / "b",
            "classification",
            {"kind": "liar", "labels": binary},
            {"train": b"1.json\ttrue\tshort\n", "dev": dev},
        )
    with pytest.raises(TaskError, match="not in source.labels"):
        load(
            tmp_path / "c",
            "classification",
            {"kind": "liar", "labels": binary},
            {"train": _liar_line(1, "maybe", "x").encode(), "dev": dev},
        )


# --------------------------------------------------------------------------- SST-2 / Blitzer


def test_sentence_label_tsv_reads_quoted_multi_line_rows(tmp_path):
    # Blitzer style: CRLF row ends, a quoted review spanning lines with "" inside
    train = (
        'sentence\tlabel\r\n"Awful title\n\tThe ""best"" part was the end.\n\nNot good"\t0\r\n'
        '"Great\n\tLoved it"\t1\r\n"Great\n\tLoved it"\t1\r\n'
    )
    dev = "sentence\tlabel\nfine enough \t1\n"
    source = {"kind": "sentence_label_tsv", "labels": {"0": "negative", "1": "positive"}}
    out = load(tmp_path, "classification", source, {"train": train.encode(), "dev": dev.encode()})
    assert out["train"] == [
        {"text": 'Awful title The "best" part was the end. Not good', "label": "negative"},
        {"text": "Great Loved it", "label": "positive"},
    ]
    assert out["dev"] == [{"text": "fine enough", "label": "positive"}]


def test_sentence_label_tsv_checks_header_cells_and_labels(tmp_path):
    source = {"kind": "sentence_label_tsv", "labels": {"0": "negative", "1": "positive"}}
    dev = b"sentence\tlabel\nok\t1\n"
    with pytest.raises(TaskError, match="no column"):
        load(tmp_path / "a", "classification", source, {"train": b"text\tgold\nbad\t0\n", "dev": dev})
    with pytest.raises(TaskError, match="cells"):
        load(tmp_path / "b", "classification", source, {"train": b"sentence\tlabel\nbad\t0\textra\n", "dev": dev})
    with pytest.raises(TaskError, match="not in source.labels"):
        load(tmp_path / "c", "classification", source, {"train": b"sentence\tlabel\nbad\t2\n", "dev": dev})


# --------------------------------------------------------------------------- Davidson (csv_columns)


def test_csv_columns_unescapes_html_and_maps_labels(tmp_path):
    rows = [
        ["", "count", "class", "tweet"],
        ["0", "3", "2", "tea &amp; cake"],
        ["1", "3", "1", '"quoted, with comma"'],
        ["2", "3", "0", "x &lt;3"],
    ]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    data = buffer.getvalue()
    source = {
        "kind": "csv_columns",
        "text_column": "tweet",
        "label_column": "class",
        "labels": {"0": "hate_speech", "1": "offensive", "2": "neither"},
        "unescape_html": True,
    }
    out = load(tmp_path, "classification", source, {"data": data.encode()})
    assert [e["text"] for e in out["all"]] == ["tea & cake", '"quoted, with comma"', "x <3"]
    assert labels_of(out) == Counter({"neither": 1, "offensive": 1, "hate_speech": 1})
    with pytest.raises(TaskError, match="no column"):
        load(tmp_path / "b", "classification", {**source, "text_column": "text"}, {"data": data.encode()})


# --------------------------------------------------------------------------- CoNLL BIO


def test_conll_bio_removes_stray_byte_order_marks_and_prefixes(tmp_path):
    train = "en:Ada\tB-PER\nen:Lovelace\tI-PER\nen:wrote\tO\n\nen:Paris\tB-LOC\n".encode()
    dev = "Hi\tO\nBob\ufeff\tB-person\n\n\ufeff\n\nen:Paris\tB-LOC\n".encode()  # WNUT17's two BOMs; a train repeat
    out = load(tmp_path, "tagging", {"kind": "conll_bio", "token_prefix": "en:"}, {"train": train, "dev": dev})
    assert out["train"] == [
        {"tokens": ["Ada", "Lovelace", "wrote"], "tags": ["B-PER", "I-PER", "O"]},
        {"tokens": ["Paris"], "tags": ["B-LOC"]},
    ]
    assert out["dev"] == [{"tokens": ["Hi", "Bob"], "tags": ["O", "B-person"]}]


def test_conll_bio_refuses_lines_that_are_not_token_and_bio_tag(tmp_path):
    for i, line in enumerate([b"word\tPER\n", b"just-a-token\n", b"a\tb\tc\n"]):
        with pytest.raises(TaskError, match="BIO tag"):
            load(tmp_path / str(i), "tagging", {"kind": "conll_bio"}, {"train": line, "dev": b"x\tO\n"})


# --------------------------------------------------------------------------- BLiMP


def _pair(uid: str, pid: int, good: str, bad: str, field: str) -> dict:
    return {
        "sentence_good": good,
        "sentence_bad": bad,
        "field": field,
        "linguistics_term": "t",
        "UID": uid,
        "pairID": str(pid),
    }


BLIMP_TREE = {
    "agree.jsonl": jsonl(
        *[_pair("agree", i, f"The cat {i} runs.", f"The cat {i} run.", "morphology") for i in range(40)]
    ),
    "bind_a.jsonl": jsonl(
        *[_pair("bind_a", i, f"Sue saw herself {i}.", f"Sue saw himself {i}.", "syntax_semantics") for i in range(20)]
    ),
    "bind_b.jsonl": jsonl(
        *[_pair("bind_b", i, f"Tom hid himself {i}.", f"Tom hid herself {i}.", "syntax/semantics") for i in range(20)],
        _pair("bind_b", 20, "Ann left.", "Ann leaves.", "syntax/semantics"),
    ),
    "other.jsonl": jsonl(_pair("other", 0, "Ann leaves.", "Ann leaved.", "morphology")),  # good here, bad above
    "README.md": b"not a data file",
}


def test_blimp_groups_both_spellings_and_keeps_pairs_on_one_side(tmp_path):
    out = load(
        tmp_path,
        "classification",
        {"kind": "blimp", "fields": ["syntax_semantics"], "dev_share": 0.25},
        {"data": BLIMP_TREE},
    )
    examples = out["train"] + out["dev"]
    assert len(examples) == 81  # 41 pairs, minus "Ann leaves." (good in one pair, bad in another)
    assert "Ann leaves." not in {e["text"] for e in examples}
    assert labels_of(out) == Counter({"good": 41, "bad": 40})
    sides = {}
    for split, rows in out.items():
        for e in rows:
            number = e["text"].rstrip(".").split()[-1]
            sides.setdefault(e["text"].split()[0] + number, set()).add(split)
    assert all(len(s) == 1 for s in sides.values())
    assert 0 < len(out["dev"]) < len(out["train"])


def test_blimp_is_deterministic_and_refuses_unknown_fields(tmp_path):
    source = {"kind": "blimp", "fields": ["morphology"]}
    first = load(tmp_path / "a", "classification", source, {"data": BLIMP_TREE})
    second = load(tmp_path / "b", "classification", source, {"data": BLIMP_TREE})
    assert first == second and labels_of(first) == Counter({"good": 40, "bad": 41})  # "Ann leaves." dropped
    with pytest.raises(TaskError) as err:
        load(tmp_path / "c", "classification", {"kind": "blimp", "fields": ["phonology"]}, {"data": BLIMP_TREE})
    assert err.value.field == "source.fields"


def test_dev_side_is_a_stable_hash():
    keys = [f"uid/{i}" for i in range(4000)]
    share = sum(on_dev_side(k, 0.2) for k in keys) / len(keys)
    assert 0.17 < share < 0.23
    assert [on_dev_side(k, 0.2) for k in keys[:50]] == [on_dev_side(k, 0.2) for k in keys[:50]]


# --------------------------------------------------------------------------- the fragment


def _fragment() -> tuple[dict, dict]:
    """Group B's tasks: the fragment, or (once the lead has merged it) the registry's tasks whose
    source kind is one of this module's."""
    raw = yaml.safe_load((FRAGMENT if FRAGMENT.is_file() else REGISTRY).read_text())
    repositories = parse_repositories(raw.pop("repositories", None))
    tasks = {n: e for n, e in raw.items() if isinstance(e, dict) and e.get("source", {}).get("kind") in LOADERS}
    return tasks, repositories


FRAGMENT_TASKS = sorted(_fragment()[0])


def test_the_fragment_parses_and_names_only_known_kinds():
    tasks, repositories = _fragment()
    used = set()
    for name, entry in tasks.items():
        spec = parse_task(name, entry, repositories)
        assert spec.kind in LOADERS and spec.description and spec.files
        used |= {f.repo for f in spec.files}
        if "derived" in spec.description.lower():
            assert spec.description.startswith("Derived from ")
    assert used <= set(repositories)
    if FRAGMENT.is_file():
        assert used == set(repositories)
    assert {n for n, e in tasks.items() if str(e["description"]).startswith("Derived from")} >= {
        "liar_binary",
        "blimp_morphology",
        "blimp_syntax",
        "blimp_semantics",
        "blimp_syntax_semantics",
    }


def test_the_fragment_pins_match_provenance(shared_data):
    with open(shared_data / "PROVENANCE.tsv", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    sha = {(r["repo"], r["path"]): r["sha256"] for r in rows}
    tasks, repositories = _fragment()
    for name, entry in tasks.items():
        for key, pin in entry["files"].items():
            if "path" in pin:
                assert sha[(pin["repo"], pin["path"])] == pin["sha256"], (name, key)
            else:
                assert pin["repo"] in repositories, (name, key)
    for repo in {pin["repo"] for entry in tasks.values() for pin in entry["files"].values()}:
        assert {r["commit"] for r in rows if r["repo"] == repo} == {repositories[repo].commit}


#: task -> (fewest and most examples over all splits, number of labels (tags for tagging))
EXPECTED = {
    "anli_r3": (1990, 2000, 3),
    "snli_taskweb": (1990, 2000, 3),
    "mrpc": (1990, 2000, 2),
    "cosmosqa": (1990, 2000, 4),
    "socialiqa": (1990, 2000, 3),
    "piqa": (1990, 2000, 2),
    "cb": (295, 301, 3),
    "scitail": (6400, 6495, 2),
    "qqp": (6400, 6493, 2),
    "quartz": (2600, 2680, 2),
    "copa": (490, 496, 2),
    "wsc": (670, 684, 2),
    "climate_fever_claims": (1520, 1535, 4),
    "climate_fever_evidence": (7600, 7675, 3),
    "liar": (11400, 11553, 6),
    "liar_binary": (11400, 11553, 2),
    "sst2": (2650, 2693, 2),
    "blitzer_books": (1900, 2000, 2),
    "blitzer_dvd": (1900, 2000, 2),
    "blitzer_electronics": (1900, 2000, 2),
    "blitzer_kitchen": (1900, 2000, 2),
    "davidson_hate": (24700, 24783, 3),
    "wnut17_ner": (4200, 4403, 13),
    "wikiann_en_ner": (29000, 30000, 7),
    "blimp_morphology": (35900, 36000, 2),
    "blimp_syntax": (51900, 52000, 2),
    "blimp_semantics": (17900, 18000, 2),
    "blimp_syntax_semantics": (27900, 28000, 2),
}


def test_every_fragment_task_has_expected_counts():
    assert set(EXPECTED) == set(FRAGMENT_TASKS)


@pytest.mark.parametrize("name", FRAGMENT_TASKS)
def test_fragment_task_loads_from_the_shared_folder(name, tmp_path, shared_data):
    tasks, repositories = _fragment()
    spec = parse_task(name, tasks[name], repositories)
    files = TaskFiles(name, spec.files, resources=tmp_path, folder=shared_data, repositories=spec.repositories)
    out = LOADERS[spec.kind](spec, files)
    examples = [e for split in out.values() for e in split]
    low, high, n_labels = EXPECTED[name]
    assert low <= len(examples) <= high
    assert set(files.provenance) == {f.name for f in spec.files}
    if spec.format == "tagging":
        tags = Counter(t for e in examples for t in e["tags"])
        assert len(tags) == n_labels and all(t == "O" or t[:2] in ("B-", "I-") for t in tags)
        assert set(out) == {"train", "dev"} and out["dev"]
        return
    labels = Counter(e["label"] for e in examples)
    if spec.format == "multiple_choice":
        assert {len(e["choices"]) for e in examples} == {n_labels}
        assert set(labels) == set(range(n_labels))
    else:
        assert len(labels) == n_labels
    assert max(labels.values()) / len(examples) < 0.8  # no task is (nearly) one label
    assert all(e["text"] for e in examples)
