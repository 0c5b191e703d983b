"""Group A corpus readers (nltk_readers, folder_readers_a): every reader on small made-up bytes,
the known traps of the real files, and every task of config/_fragment_a.yaml loaded from the
shared data folder (skipped where that folder is absent)."""

from __future__ import annotations

import ast
import io
import json
import zipfile
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tasktransfer.data import folder_readers_a as fa
from tasktransfer.data import nltk_readers as nr
from tasktransfer.data import registry
from tasktransfer.data.pins import parse_repositories
from tasktransfer.data.providers import TaskFiles
from tasktransfer.errors import TaskError

REPO = Path(__file__).resolve().parents[2]
FRAGMENT = REPO / "config" / "_fragment_a.yaml"
LOADERS = {**fa.LOADERS, **nr.LOADERS}


@pytest.fixture(autouse=True)
def _kinds(monkeypatch):
    """parse_task accepts the group A kinds, whether or not the registry already holds them."""
    monkeypatch.setattr(registry, "SOURCE_KINDS", {**registry.SOURCE_KINDS, **fa.SOURCE_KEYS, **nr.SOURCE_KEYS})


class FakeFiles:
    """Stands in for TaskFiles: named bytes, or named folders of bytes."""

    def __init__(self, **files):
        self.files = files

    def read(self, name):
        return self.files[name]

    def tree(self, name):
        return self.files[name]


def spec(fmt, source, name="t"):
    return registry.parse_task(name, {"type": "x", "format": fmt, "source": source})


def load(fmt, source, **files):
    s = spec(fmt, source)
    return LOADERS[s.kind](s, FakeFiles(**files))


def make_zip(members: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data.encode() if isinstance(data, str) else data)
    return buf.getvalue()


def labels(rows):
    return Counter(r["label"] for r in rows)


# --------------------------------------------------------------------------- module contract


def test_loaders_and_source_keys_agree_and_do_not_clash():
    for module in (fa, nr):
        assert set(module.LOADERS) == set(module.SOURCE_KEYS)
        assert all(isinstance(v, tuple) and "kind" not in v for v in module.SOURCE_KEYS.values())
    assert not set(fa.LOADERS) & set(nr.LOADERS)


@pytest.mark.parametrize("module", [fa, nr])
def test_readers_import_only_the_standard_library_and_the_allowed_modules(module):
    tree = ast.parse(Path(module.__file__).read_text())
    allowed = {"tasktransfer.data.examples", "tasktransfer.errors", "tasktransfer.data.folder_readers_a"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tasktransfer"):
            in_type_check = node.module in ("tasktransfer.data.providers", "tasktransfer.data.task_spec")
            assert node.module in allowed or in_type_check, node.module
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            assert not any(n and n.split(".")[0] in ("nltk", "defusedxml", "pandas", "datasets") for n in names)


# --------------------------------------------------------------------------- NLTK readers

RTE1 = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE entailment-corpus SYSTEM "rte.dtd">
<entailment-corpus challenge="1">
<pair id="1" value="TRUE" task="IR"><t>Zork bought three lamps.</t><h>Zork owns lamps.</h></pair>
<pair id="2" value="FALSE" task="IR"><t>Quib sold a boat.</t><h>Quib bought a boat.</h></pair>
</entailment-corpus>"""
RTE2 = """<?xml version="1.0" encoding="UTF-8"?>
<entailment-corpus challenge="2">
<pair id="7" entailment="YES" task="IE"><t>Mava lives in Plonk.</t><h>Mava is in Plonk.</h></pair>
<pair id="8" entailment="NO" task="IE"><t>Tiv paints walls.</t><h>Tiv paints boats.</h></pair>
</entailment-corpus>"""
RTE_TEST = """<entailment-corpus challenge="3">
<pair id="1" entailment="NO" task="QA"><t>Zork bought three lamps!</t><h>zork owns lamps</h></pair>
<pair id="2" entailment="YES" task="QA"><t>Bex swims daily.</t><h>Bex swims.</h></pair>
<pair id="3" entailment="NO" task="QA"><t>Bex runs daily.</t><h>Bex flies.</h></pair>
</entailment-corpus>"""


def test_rte_reads_both_label_attributes_and_drops_test_repeats_of_train():
    corpus = make_zip({"rte/rte1_dev.xml": RTE1, "rte/rte2_dev.xml": RTE2, "rte/rte3_test.xml": RTE_TEST})
    out = load(
        "classification", {"kind": "nltk_rte", "train": "rte/rte?_dev.xml", "dev": "rte/rte?_test.xml"}, corpus=corpus
    )
    assert labels(out["train"]) == {"entailment": 2, "not_entailment": 2}
    # the first test pair is a train pair up to case and punctuation (and labelled otherwise): dropped
    assert [r["text"] for r in out["dev"]] == ["Bex swims daily.", "Bex runs daily."]
    assert out["dev"][0] == {"text": "Bex swims daily.", "text_pair": "Bex swims.", "label": "entailment"}


@pytest.mark.parametrize(
    "doc",
    [
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>',
        b'<!DOCTYPE a SYSTEM "a.dtd" [<!ELEMENT a ANY>]><a/>',
        b"<!ENTITY x 'y'><a/>",
    ],
)
def test_xml_with_entities_or_a_dtd_subset_is_refused_before_parsing(doc):
    with pytest.raises(TaskError, match="refusing to parse"):
        nr.parse_xml(spec("classification", {"kind": "nltk_senseval", "member": "m"}), doc, "m")


def test_malformed_xml_and_a_pair_without_label_are_task_errors():
    s = spec("classification", {"kind": "nltk_rte", "train": "a.xml", "dev": "b.xml"})
    with pytest.raises(TaskError, match="not well-formed"):
        nr.parse_xml(s, b"<a><b></a>", "a.xml")
    bad = make_zip({"a.xml": "<c><pair id='1'><t>x</t><h>y</h></pair></c>", "b.xml": RTE_TEST})
    with pytest.raises(TaskError, match="lacks t, h or a TRUE/FALSE/YES/NO label"):
        LOADERS["nltk_rte"](s, FakeFiles(corpus=bad))


def test_not_a_zip_and_a_missing_member_are_task_errors():
    source = {"kind": "nltk_lines", "categories": {"a": "x/a.txt", "b": "x/b.txt"}}
    with pytest.raises(TaskError, match="not a readable zip"):
        load("classification", source, corpus=b"PK\x03\x04 truncated")
    with pytest.raises(TaskError, match="no member 'x/b.txt'"):
        load("classification", source, corpus=make_zip({"x/a.txt": "one\n"}))


def test_lines_pattern_drops_texts_listed_both_ways_and_keeps_repeats_once():
    pros = (
        "<Pros>cheap and light</Pros>\n<Pros>bright screen</Pros>\n<Pros>bright   screen</Pros>\n\n<Pros>loud</Pros>\n"
    )
    cons = "<Cons>loud</Cons>\n<Cons>heavy</Cons>\nnot a tagged line\n"
    source = {
        "kind": "nltk_lines",
        "categories": {"pro": "pc/P.txt", "con": "pc/C.txt"},
        "pattern": "<(?:Pros|Cons)>(.*?)</(?:Pros|Cons)>",
    }
    out = load("classification", source, corpus=make_zip({"pc/P.txt": pros, "pc/C.txt": cons}))["all"]
    assert sorted((r["text"], r["label"]) for r in out) == [
        ("bright screen", "pro"),
        ("cheap and light", "pro"),
        ("heavy", "con"),
    ]


def test_lines_per_member_encoding_override():
    corpus = make_zip({"abc/rural.txt": "Wheat crop up.\n", "abc/science.txt": "A 40\xb0 rise.\n".encode("latin-1")})
    source = {"kind": "nltk_lines", "categories": {"rural": "abc/rural.txt", "science": "abc/science.txt"}}
    with pytest.raises(TaskError, match="not valid utf-8") as err:
        load("classification", source, corpus=corpus)
    assert err.value.field == "source.encoding"
    out = load("classification", {**source, "encodings": {"abc/science.txt": "latin-1"}}, corpus=corpus)["all"]
    assert {r["text"]: r["label"] for r in out} == {"Wheat crop up.": "rural", "A 40° rise.": "science"}


def test_lines_need_two_categories_and_a_one_group_pattern():
    corpus = make_zip({"a": "x\n", "b": "y\n"})
    with pytest.raises(TaskError, match="at least two labels"):
        load("classification", {"kind": "nltk_lines", "categories": {"a": "a"}}, corpus=corpus)
    with pytest.raises(TaskError, match="exactly one group"):
        load(
            "classification", {"kind": "nltk_lines", "categories": {"a": "a", "b": "b"}, "pattern": "x"}, corpus=corpus
        )


BROWN = {
    "brown/cats.txt": "ca01 news\ncb01 editorial\n",
    "brown/ca01": "\n\n\tThe/at dog/nn-tl ran/vbd ./.\nIt/pps won/vbd ./.\n\n\n\tYes/rb ./.\n",
    "brown/cb01": "\n\n\tYes/rb ./.\n\n\n\tWe/ppss object/vb ./.\nTax/nn-hl is/bez high/jj ./.\n",
}


def test_brown_genre_by_sentence_drops_a_sentence_in_two_genres():
    out = load("classification", {"kind": "nltk_brown", "target": "genre", "level": "sentence"}, corpus=make_zip(BROWN))
    texts = {r["text"]: r["label"] for r in out["all"]}
    assert "Yes ." not in texts
    assert texts == {
        "The dog ran .": "news",
        "It won .": "news",
        "We object .": "editorial",
        "Tax is high .": "editorial",
    }


def test_brown_genre_by_passage_joins_a_paragraph():
    out = load("classification", {"kind": "nltk_brown", "target": "genre", "level": "passage"}, corpus=make_zip(BROWN))
    assert labels(out["all"]) == {"news": 1, "editorial": 1}  # 'Yes .' passages are in two genres
    assert {"text": "The dog ran . It won .", "label": "news"} in out["all"]


def test_brown_tags_simplified_or_kept():
    source = {"kind": "nltk_brown", "target": "tags"}
    kept = load("tagging", source, corpus=make_zip(BROWN))["all"]
    assert {"tokens": ["The", "dog", "ran", "."], "tags": ["at", "nn-tl", "vbd", "."]} in kept
    simple = load("tagging", {**source, "simplify_tags": True}, corpus=make_zip(BROWN))["all"]
    assert {"tokens": ["Tax", "is", "high", "."], "tags": ["nn", "bez", "jj", "."]} in simple
    assert nr.simplify_brown_tag("FW-NN-TL") == "nn" and nr.simplify_brown_tag("ppss+bem") == "ppss+bem"
    with pytest.raises(TaskError, match="must be 'genre' or 'tags'"):
        load("tagging", {"kind": "nltk_brown", "target": "words"}, corpus=make_zip(BROWN))
    with pytest.raises(TaskError, match="is not word/tag"):
        load("tagging", source, corpus=make_zip({**BROWN, "brown/ca01": "The/at dog\n"}))


def test_treebank_leaves_without_traces():
    mrg = (
        "( (S (NP-SBJ (NNP Zed) ) (VP (VBD sat) (NP (-NONE- *T*-1) )) (. .) ))\n\n( (S (NP (PRP It)) (VP (VBZ is)) ))\n"
    )
    out = load(
        "tagging",
        {"kind": "nltk_treebank", "members": "tb/combined/*.mrg"},
        corpus=make_zip({"tb/combined/w1.mrg": mrg}),
    )
    assert out["all"] == [
        {"tokens": ["Zed", "sat", "."], "tags": ["NNP", "VBD", "."]},
        {"tokens": ["It", "is"], "tags": ["PRP", "VBZ"]},
    ]


def test_conll_columns_upstream_split():
    train = "Rates NNS B-NP\nrose VBD B-VP\n\nIt PRP B-NP\nfell VBD B-VP\n. . O\n"
    test = "Rates NNS B-NP\nrose VBD B-VP\n\nPrices NNS B-NP\nsoared VBD B-VP\n"
    source = {"kind": "nltk_conll", "train": "c/train.txt", "dev": "c/test.txt", "column": 2}
    out = load("tagging", source, corpus=make_zip({"c/train.txt": train, "c/test.txt": test}))
    assert len(out["train"]) == 2 and out["dev"] == [{"tokens": ["Prices", "soared"], "tags": ["B-NP", "B-VP"]}]
    with pytest.raises(TaskError, match="has 3 columns, not 5"):
        load("tagging", {**source, "column": 4}, corpus=make_zip({"c/train.txt": train, "c/test.txt": test}))


def test_trec_coarse_and_fine_latin1_test_repeats_and_unseen_dev_classes():
    train = "DESC:manner How do owls fly ?\nLOC:city Which city is big\xf0gest ?\nHUM:ind Who wrote Zog ?\n"
    test = (
        "DESC:def What is a zog ?\nHUM:ind who wrote zog\nHUM:ind Who drew Zog ?\n"
        "LOC:other Where is Zog ?\nNUM:date When ?\n"
    )
    corpus = make_zip({"qc/train.txt": train.encode("latin-1"), "qc/test.txt": test.encode("latin-1")})
    source = {"kind": "nltk_qc", "train": "qc/train.txt", "dev": "qc/test.txt", "granularity": "coarse"}
    with pytest.raises(TaskError, match="not valid utf-8"):
        load("classification", source, corpus=corpus)
    coarse = load("classification", {**source, "encoding": "latin-1"}, corpus=corpus)
    assert "Which city is bigðgest ?" in {r["text"] for r in coarse["train"]}
    # 'who wrote zog' repeats a train question; NUM never occurs in train
    assert [r["label"] for r in coarse["dev"]] == ["DESC", "HUM", "LOC"]
    fine = load("classification", {**source, "encoding": "latin-1", "granularity": "fine"}, corpus=corpus)
    assert labels(fine["train"]) == {"DESC:manner": 1, "LOC:city": 1, "HUM:ind": 1}
    assert fine["dev"] == [{"text": "Who drew Zog ?", "label": "HUM:ind"}]  # DESC:def, LOC:other are not in train


def test_trec_fine_with_no_dev_class_in_train_is_an_error():
    corpus = make_zip({"qc/train.txt": "DESC:manner How ?\n", "qc/test.txt": "DESC:def What ?\n"})
    source = {"kind": "nltk_qc", "train": "qc/train.txt", "dev": "qc/test.txt", "granularity": "fine"}
    with pytest.raises(TaskError, match="no dev example is left"):
        load("classification", source, corpus=corpus)
    with pytest.raises(TaskError, match="is not 'COARSE:fine question'"):
        load("classification", source, corpus=make_zip({"qc/train.txt": "how ?\n", "qc/test.txt": "DESC:def What ?\n"}))


NPS = """<!-- a comment -->
<Session><Posts>
<Post class="Greet" user="u1">hi all<terminals><t pos="UH" word="hi"/></terminals></Post>
<Post class="Statement" user="u2">lol<terminals><t pos="UH" word="lol"/></terminals></Post>
<Post class="Emotion" user="u3">lol<terminals><t pos="UH" word="lol"/></terminals></Post>
<Post class="Greet" user="u4">hi all<terminals><t pos="UH" word="hi"/></terminals></Post>
<Post class="ynQuestion" user="u5">any1 here?<terminals><t pos="NN" word="any1"/></terminals></Post>
</Posts></Session>"""


def test_nps_chat_drops_conflicting_posts_and_repeats():
    corpus = make_zip({"nps_chat/a.xml": NPS, "nps_chat/schema.xsd": "<x/>"})
    out = load("classification", {"kind": "nltk_nps_chat", "members": "nps_chat/*.xml"}, corpus=corpus)["all"]
    assert [(r["text"], r["label"]) for r in out] == [("hi all", "Greet"), ("any1 here?", "ynQuestion")]


SENSEVAL = """<corpus lang="en"><lexelt item="plank-n">
<instance id="p1"><answer instance="p1" senseid="wood"/><context>
<wf pos="DT">a</wf> <wf pos="JJ">long</wf> <head><wf pos="NN">plank</wf></head>
<wf pos="IN">of</wf> <wf pos="NN">oak</wf>
</context></instance>
<instance id="p2"><answer instance="p2" senseid="policy"/><context>
<s snum="1"/> <wf pos="DT">the</wf> <wf pos="NN">party</wf> <wf pos="POS">'s</wf> <wf pos="JJ">main</wf>
<head><wf pos="NN">plank</wf></head> <wf pos="VBZ">is</wf>
<compound><wf pos="NN">tax</wf><wf pos="NN">cuts</wf></compound>
</context></instance>
</lexelt></corpus>"""


def test_senseval_senses_and_window_around_the_head():
    corpus = make_zip({"senseval/plank.pos": SENSEVAL})
    source = {"kind": "nltk_senseval", "member": "senseval/plank.pos"}
    out = load("classification", source, corpus=corpus)["all"]
    assert out[0] == {"text": "a long plank of oak", "label": "wood"}
    assert labels(out) == {"wood": 1, "policy": 1}
    narrow = load("classification", {**source, "window": 1}, corpus=corpus)["all"]
    assert [r["text"] for r in narrow] == ["long plank of", "main plank is"]
    bad = SENSEVAL.replace('<answer instance="p2" senseid="policy"/>', "")
    with pytest.raises(TaskError, match="lacks one answer"):
        load("classification", source, corpus=make_zip({"senseval/plank.pos": bad}))


def test_ppattach_conflicts_and_test_items_in_train_dropped():
    training = "1 ate pizza with fork V\n2 ate pizza with cheese N\n3 saw man with hat N\n4 saw man with hat V\n"
    devset = "5 hit ball with bat V\n"
    test = "6 ate pizza with fork V\n7 saw man with hat N\n8 read book on train V\n9 took note of it N\n"
    corpus = make_zip({"pp/training": training, "pp/devset": devset, "pp/test": test})
    source = {"kind": "nltk_ppattach", "train": ["pp/training", "pp/devset"], "dev": "pp/test", "encoding": "latin-1"}
    out = load("classification", source, corpus=corpus)
    assert sorted(r["text"] for r in out["train"]) == [
        "ate pizza with cheese",
        "ate pizza with fork",
        "hit ball with bat",
    ]
    assert [(r["text"], r["label"]) for r in out["dev"]] == [
        ("read book on train", "verb"),
        ("took note of it", "noun"),
    ]
    with pytest.raises(TaskError, match="is not 'ID VERB NOUN1 PREP NOUN2 V\\|N'"):
        load("classification", source, corpus=make_zip({"pp/training": "1 a b c\n", "pp/devset": "", "pp/test": test}))


# --------------------------------------------------------------------------- delimited

MSR_HEAD = "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n"


def test_delimited_tsv_with_bom_bare_quotes_and_swapped_test_pairs():
    train = MSR_HEAD + '1\t1\t2\tZed said "no" today.\tToday Zed said "no".\r\n0\t3\t4\tIt rained.\tIt snowed.\r\n'
    test = MSR_HEAD + "1\t5\t6\tToday, Zed said no.\tZed said no today\r\n1\t7\t8\tBo ran.\tBo jogged.\r\n"
    source = {
        "kind": "delimited",
        "train": ["train"],
        "dev": ["test"],
        "text": "#1 String",
        "text_pair": "#2 String",
        "label": "Quality",
        "label_names": {"0": "different", "1": "paraphrase"},
    }
    out = load("classification", source, train=train.encode("utf-8"), test=test.encode("utf-8"))
    assert out["train"][0] == {
        "text": 'Zed said "no" today.',
        "text_pair": 'Today Zed said "no".',
        "label": "paraphrase",
    }
    assert len(out["dev"]) == 2  # order matters unless the task is symmetric
    out = load("classification", {**source, "symmetric": True}, train=train.encode(), test=test.encode())
    assert out["dev"] == [{"text": "Bo ran.", "text_pair": "Bo jogged.", "label": "paraphrase"}]
    with pytest.raises(TaskError, match="no column 'Score'"):
        load("classification", {**source, "label": "Score"}, train=train.encode(), test=test.encode())
    with pytest.raises(TaskError, match="label '2' is not in"):
        load("classification", source, train=(train + "2\t9\t9\ta\tb\r\n").encode(), test=test.encode())


def test_delimited_regression_without_header_skips_unlabelled_rows_and_checks_range():
    train = "4.2\tA cat sits.\tA cat is sitting.\n0\tA dog.\tThe sea.\n\tNo score here.\tNone.\n"
    dev = "3.5\tA man sings.\tA man is singing.\n"
    source = {
        "kind": "delimited",
        "train": ["train"],
        "dev": ["dev"],
        "text": 1,
        "text_pair": 2,
        "label": 0,
        "label_range": [0, 5],
    }
    out = load("regression", source, train=train.encode(), dev=dev.encode())
    assert [r["label"] for r in out["train"]] == [4.2, 0.0] and out["dev"][0]["label"] == 3.5
    with pytest.raises(TaskError, match=r"outside \[0, 5\]"):
        load("regression", source, train=b"7\ta\tb\n", dev=dev.encode())
    with pytest.raises(TaskError, match="is not a number"):
        load("regression", source, train=b"high\ta\tb\n", dev=dev.encode())
    with pytest.raises(TaskError, match="has 2 columns"):
        load("regression", source, train=b"1\ta\n", dev=dev.encode())


def test_delimited_csv_quoting_and_sick_style_columns():
    train = (
        'qtext,label,atext\n"Who made Zog, then?",1,"Zog was made by Tam , in 1901 ."\n'
        '"Who made Zog, then?",0,"Zog is big ."\n'
    )
    dev = 'qtext,label,atext\n"Where is Plonk?",1,"Plonk is in Zed ."\n'
    source = {
        "kind": "delimited",
        "train": ["train"],
        "dev": ["dev"],
        "delimiter": ",",
        "quoting": "csv",
        "text": "qtext",
        "text_pair": "atext",
        "label": "label",
        "label_names": {0: "not_answer", 1: "answer"},
    }
    out = load("classification", source, train=train.encode(), dev=dev.encode())
    assert labels(out["train"]) == {"answer": 1, "not_answer": 1} and out["train"][0]["text"] == "Who made Zog, then?"
    with pytest.raises(TaskError, match="must be 'csv' or 'none'"):
        load("classification", {**source, "quoting": "excel"}, train=train.encode(), dev=dev.encode())


# --------------------------------------------------------------------------- BIG-Bench-Hard


def bbh(items):
    return json.dumps({"canary": "made up", "examples": items}).encode()


def test_bbh_multiple_choice_letters_and_dashes():
    items = [
        {"input": "Which order is right?\nOptions:\n(A) big red ball\n(B) red big ball", "target": "(A)"},
        {"input": "Pick the odd one.\nOptions:\n(A) cat\n(B) dog\n(C) car", "target": "(C)"},
        {"input": "Is it valid?\nOptions:\n- valid \n- invalid", "target": "invalid"},
    ]
    out = load("multiple_choice", {"kind": "bbh"}, data=bbh(items))["all"]
    assert out[0] == {"text": "Which order is right?", "choices": ["big red ball", "red big ball"], "label": 0}
    assert out[1]["label"] == 2 and out[2] == {"text": "Is it valid?", "choices": ["valid", "invalid"], "label": 1}


def test_bbh_text_targets_are_dropped_or_refused():
    good = [{"input": f"Q{i}?\nOptions:\n(A) x{i}\n(B) y{i}", "target": "(B)"} for i in range(30)]
    text_target = {"input": "Which name?\nOptions:\n(A) rat\n(B) bat", "target": "cat"}
    out = load("multiple_choice", {"kind": "bbh"}, data=bbh(good + [text_target]))["all"]
    assert len(out) == 30
    with pytest.raises(TaskError, match="use format classification"):
        load("multiple_choice", {"kind": "bbh"}, data=bbh(good[:3] + [text_target] * 3))


def test_bbh_classification_keeps_the_target_and_drops_an_input_labelled_both_ways():
    items = [
        {"input": "Is 'Zed scored a goal' plausible?", "target": "yes"},
        {"input": "Is 'Zed hit a home run in chess' plausible?", "target": "no"},
        {"input": "Story A. Did it cause B?", "target": "Yes"},
        {"input": "Story A.  Did it cause B?", "target": "No"},
    ]
    out = load("classification", {"kind": "bbh"}, data=bbh(items))["all"]
    assert labels(out) == {"yes": 1, "no": 1}
    with pytest.raises(TaskError, match="is not a BIG-Bench-Hard file"):
        load("classification", {"kind": "bbh"}, data=b'{"examples": [{"question": "x"}]}')
    with pytest.raises(TaskError, match="not valid JSON"):
        load("classification", {"kind": "bbh"}, data=b"{")


# --------------------------------------------------------------------------- CLINC and SNIPS


def test_clinc_drops_oos_and_val_items_repeated_in_train():
    data = {
        "train": [
            ["book a table", "restaurant_reservation"],
            ["whats the weather", "weather"],
            ["tell me a joke", "oos"],
        ],
        "val": [["Book a table!", "restaurant_reservation"], ["will it rain", "weather"], ["sing", "oos"]],
        "oos_train": [["sing a song", "oos"]],
    }
    source = {"kind": "clinc", "train": ["train"], "dev": ["val"], "drop_labels": ["oos"]}
    out = load("classification", source, data=json.dumps(data).encode())
    assert labels(out["train"]) == {"restaurant_reservation": 1, "weather": 1}
    assert out["dev"] == [{"text": "will it rain", "label": "weather"}]
    with pytest.raises(TaskError, match="'test' is not a list"):
        load("classification", {**source, "dev": ["test"]}, data=json.dumps(data).encode())
    with pytest.raises(TaskError, match=r"is not \[text, intent\]"):
        load("classification", source, data=json.dumps({"train": [["x"]], "val": []}).encode())


def snips_file(intent, texts, encoding="utf-8"):
    data = {intent: [{"data": [{"text": t[0]}, {"text": t[1], "entity": "thing"}]} for t in texts]}
    return json.dumps(data, ensure_ascii=False).encode(encoding, "surrogatepass")


def test_snips_tree_globs_and_surrogate_pair_emoji():
    emoji_as_cesu8 = "\ud83c\udf55"  # one emoji written as two UTF-8-encoded surrogates
    tree = {
        "PlayMusic/train_PlayMusic_full.json": snips_file("PlayMusic", [("play ", "Zog Song " + emoji_as_cesu8)]),
        "PlayMusic/validate_PlayMusic.json": snips_file("PlayMusic", [("put on ", "Tam Tune")]),
        "GetWeather/train_GetWeather_full.json": snips_file(
            "GetWeather", [("weather in ", "Plonk"), ("is it hot in ", "Zed")]
        ),
        "GetWeather/validate_GetWeather.json": snips_file("GetWeather", [("weather in ", "plonk")]),
    }
    source = {"kind": "snips", "train": "*/train_*_full.json", "dev": "*/validate_*.json"}
    out = load("classification", source, data=tree)
    assert {"text": "play Zog Song \U0001f355", "label": "PlayMusic"} in out["train"]
    assert out["dev"] == [{"text": "put on Tam Tune", "label": "PlayMusic"}]  # 'weather in plonk' is in train
    with pytest.raises(TaskError, match="matches no file"):
        load("classification", {**source, "dev": "*/test_*.json"}, data=tree)
    with pytest.raises(TaskError, match="is not UTF-8"):
        load("classification", source, data={**tree, "PlayMusic/validate_PlayMusic.json": b'{"P": [\xff]}'})


# --------------------------------------------------------------------------- the fragment and the real files

#: task -> (least examples, fewest labels, most labels, largest majority share)
EXPECTED = {
    "rte_pascal": (4000, 2, 2, 0.6),
    "subjectivity": (9900, 2, 2, 0.55),
    "pros_cons": (40000, 2, 2, 0.6),
    "abc_topic": (30000, 2, 2, 0.6),
    "brown_genre": (14000, 15, 15, 0.3),
    "brown_pos": (55000, 150, 250, 0.3),
    "conll2000_chunking": (10500, 20, 23, 0.4),
    "treebank_pos": (3800, 40, 46, 0.3),
    "trec_qc_coarse": (5800, 6, 6, 0.3),
    "trec_qc_fine": (5800, 45, 50, 0.3),
    "nps_chat_acts": (7000, 15, 15, 0.5),
    "senseval_hard": (4200, 3, 3, 0.85),
    "senseval_interest": (2300, 6, 6, 0.6),
    "senseval_line": (4000, 6, 6, 0.6),
    "senseval_serve": (4300, 4, 4, 0.5),
    "ppattach": (25000, 2, 2, 0.6),
    "sick_nli": (9500, 3, 3, 0.6),
    "sick_relatedness": (9500, 4, 5, 0.5),
    "msr_paraphrase": (5700, 2, 2, 0.7),
    "wang_answer_selection": (5800, 2, 2, 0.92),
    "semeval_sts": (3600, 5, 6, 0.4),
    "bbh_hyperbaton": (240, 2, 2, 0.6),
    "bbh_sports_understanding": (240, 2, 2, 0.6),
    "bbh_snarks": (170, 2, 2, 0.6),
    "bbh_disambiguation_qa": (240, 3, 3, 0.5),
    "bbh_formal_fallacies": (240, 2, 2, 0.6),
    "bbh_date_understanding": (240, 5, 6, 0.3),
    "clinc150": (17500, 150, 150, 0.01),
    "snips_intents": (14000, 7, 7, 0.2),
}
DERIVED = {"brown_pos", "trec_qc_fine", "sick_relatedness"}


def fragment():
    """Group A's entries and repositories: from config/_fragment_a.yaml, or, once the lead has
    merged (and removed) it, from config/tasks.yaml."""
    path = FRAGMENT if FRAGMENT.exists() else REPO / "config" / "tasks.yaml"
    raw = yaml.safe_load(path.read_text()) or {}
    repositories = parse_repositories(raw.pop("repositories", None))
    return {k: v for k, v in raw.items() if k in EXPECTED or path == FRAGMENT}, repositories


def test_fragment_parses_and_every_task_is_expected():
    raw, repositories = fragment()
    assert set(raw) == set(EXPECTED)
    for name, entry in raw.items():
        s = registry.parse_task(name, entry, repositories)
        assert s.kind in LOADERS and s.files and s.description and s.licences
        assert s.description.startswith("Derived from ") == (name in DERIVED), name
        assert name.islower() and " " not in name


@pytest.mark.parametrize("registry_file", ["tasks.yaml", "tasks_paper.yaml"])
def test_fragment_names_do_not_clash_with_other_tasks(registry_file):
    raw, _ = fragment()
    existing = yaml.safe_load((REPO / "config" / registry_file).read_text()) or {}
    clashes = [name for name in set(raw) & set(existing) if existing[name] != raw[name]]
    assert not clashes, f"{registry_file} holds other tasks named {clashes}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_task_loads_from_the_shared_data_folder(name, tmp_path, shared_data):
    raw, repositories = fragment()
    s = registry.parse_task(name, raw[name], repositories)
    files = TaskFiles(name, s.files, resources=tmp_path, folder=shared_data, repositories=s.repositories)
    out = LOADERS[s.kind](s, files)
    rows = [r for part in out.values() for r in part]
    if s.format == "tagging":
        counts = Counter(t for r in rows for t in r["tags"])
        assert all(len(r["tokens"]) == len(r["tags"]) for r in rows)
    elif s.format == "regression":
        counts = Counter(round(r["label"]) for r in rows)
    elif s.format == "multiple_choice":
        counts = Counter(r["label"] for r in rows)
        assert all(0 <= r["label"] < len(r["choices"]) for r in rows)
    else:
        counts = Counter(r["label"] for r in rows)
        assert all(isinstance(r["label"], str) for r in rows)
    least, low, high, majority = EXPECTED[name]
    assert len(rows) >= least, (name, len(rows))
    assert low <= len(counts) <= high, (name, len(counts))
    assert counts.most_common(1)[0][1] / sum(counts.values()) <= majority, (name, counts.most_common(3))
    if "train" in out:
        assert out["train"] and out["dev"]
        if s.format == "classification":
            assert {r["label"] for r in out["dev"]} <= {r["label"] for r in out["train"]}
    assert set(files.provenance) == {p.name for p in s.files}
