"""The task supply: every registry task pinned by content; the default reads registry packages
only; the study configs read the data folder, cover the twelve types of the paper's pool, and no
repository or package provides more than a third of their tasks (sentiment at most a fifth)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from tasktransfer.data.availability import check_tasks
from tasktransfer.data.registry import load_registry

REGISTRY = load_registry(REPO / "config" / "tasks.yaml")
STUDIES = ["study.yaml", "study_design.yaml"]

#: the twelve types of the paper's pool (issue: "fifty tasks of twelve types") -> registry types
TYPE_GROUPS = {
    "nli": {"nli"},
    "paraphrase": {"paraphrase"},
    "qa or multiple choice": {"qa"},
    "fact verification": {"fact_verification"},
    "commonsense": {"commonsense"},
    "sentiment": {"sentiment"},
    "topic": {"topic"},
    "spam or toxicity": {"spam", "toxicity"},
    "ner": {"ner"},
    "pos or chunking": {"pos", "chunking"},
    "intent or dialogue act": {"intent", "dialogue_act", "dialogue"},
    "acceptability": {"acceptability"},
}


def _tasks(config_file: str) -> list[str]:
    config = yaml.safe_load((REPO / "config" / config_file).read_text())
    return sorted({*config["sources"], *config.get("targets", []), *config.get("novel_targets", [])})


def _groups(tasks: list[str]) -> set[str]:
    return {group for group, types in TYPE_GROUPS.items() for t in tasks if REGISTRY[t].type in types}


def _providers(task: str) -> set[str]:
    """The repositories and packages a task's files come from (each counts once per task)."""
    return {name for f in REGISTRY[task].files for name in (f.repo, f.package) if name}


def test_every_task_is_pinned_by_the_content_it_reads():
    for name, spec in REGISTRY.items():
        assert spec.files, name
        for pin in spec.files:
            if spec.kind == "bigbench":  # its archive is gone from the index: pinned through the archive
                assert pin.package == "bigbench" and pin.sha256 is None, name
            else:
                assert pin.sha256 and len(pin.sha256) == 64, (name, pin.name)


def test_the_registry_has_fifty_tasks_of_twelve_types_that_can_be_had_without_bigbench():
    available = [n for n, s in REGISTRY.items() if s.kind != "bigbench"]
    distinct = [n for n in available if REGISTRY[n].counts_with is None]  # one corpus, one set of labels: one task
    assert len(distinct) >= 50
    assert _groups(distinct) == set(TYPE_GROUPS)


@pytest.mark.parametrize("study", ["config.yaml", *STUDIES])
def test_no_config_pairs_a_task_with_its_copy(study):
    tasks = set(_tasks(study))
    assert not [t for t in tasks if REGISTRY[t].counts_with in tasks]


def test_the_default_reads_registry_packages_only():
    tasks = _tasks("config.yaml")
    assert len(tasks) == 9  # its shape: 7 sources, 2 targets
    for task in tasks:
        assert all(f.package and f.package != "bigbench" and not f.repo for f in REGISTRY[task].files), task
    assert len({REGISTRY[t].type for t in tasks}) >= 4
    per_package = Counter(p for t in tasks for p in _providers(t))
    assert max(per_package.values()) <= len(tasks) / 3, per_package


@pytest.mark.parametrize("config", ["config.yaml", "fp32_cpu.yaml", *STUDIES, "task_survey.yaml"])
def test_no_shipped_config_reads_a_task_whose_archive_is_gone(config):
    tasks = _tasks(config)
    assert tasks and not [t for t in tasks if REGISTRY[t].kind == "bigbench"]


@pytest.mark.parametrize("study", STUDIES)
def test_a_study_covers_the_twelve_types_and_no_provider_dominates(study):
    tasks = _tasks(study)
    assert _groups(tasks) == set(TYPE_GROUPS), set(TYPE_GROUPS) - _groups(tasks)
    per_provider = Counter(p for t in tasks for p in _providers(t))
    assert max(per_provider.values()) <= len(tasks) / 3, per_provider.most_common(3)
    assert sum(REGISTRY[t].type == "sentiment" for t in tasks) <= len(tasks) / 5
    assert not any(REGISTRY[t].kind == "bigbench" for t in tasks)


@pytest.mark.parametrize("study", STUDIES)
def test_a_studys_folder_tasks_are_all_in_the_data_folder(study, shared_data, tmp_path):
    tasks = [t for t in _tasks(study) if all(f.repo for f in REGISTRY[t].files)]
    assert tasks
    checks = check_tasks([REGISTRY[t] for t in tasks], tmp_path / "resources", Path(shared_data), online=False)
    missing = [(c.task, c.file, c.providers) for c in checks if not c.providers.get("folder", "").startswith("ok")]
    assert not missing
