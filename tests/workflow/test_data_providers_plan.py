"""The workflow fetches only what no provider here holds: a task pinned to a repository is read
from the data folder when it holds the file (no fetch job), else its archive at the pinned commit
is fetched first (rule fetch_repo); the prepare job then reads it and records the provider."""

from __future__ import annotations

import hashlib
import json

import pytest
import yaml

from conftest import run_snakemake, write_tiny_workdir

COMMIT = "89abcdef0123456789abcdef0123456789abcdef"
ROWS = "text,label\n" + "".join(f"colour word {i} red,red\nanimal word {i} cat,cat\n" for i in range(40))


def _workdir(tmp_path, tiny_backbone):
    work = tmp_path / "run"
    config_path = write_tiny_workdir(work, tiny_backbone)
    registry = yaml.safe_load((work / "tasks.yaml").read_text())
    registry["repositories"] = {"lab/corpora": {"commit": COMMIT, "licence": "CC0"}}
    registry["pinned"] = {
        "type": "colour",
        "format": "classification",
        "files": {"data": {"repo": "lab/corpora", "path": "data/pinned.csv", "sha256": hashlib.sha256(ROWS.encode()).hexdigest()}},
        "source": {"kind": "csv_columns", "text_column": "text", "label_column": "label", "labels": {"red": "red", "cat": "cat"}},
    }
    (work / "tasks.yaml").write_text(yaml.safe_dump(registry, sort_keys=True))
    config = yaml.safe_load(config_path.read_text())
    config["sources"] = [*config["sources"], "pinned"]
    config["resources_dir"] = str(work / "resources")
    config_path.write_text(yaml.safe_dump(config, sort_keys=True))
    return work


def _plan(work, *extra):
    proc = run_snakemake(work, "-n", "-p", "results/data/pinned/meta.json", "--configfile", str(work / "config.yaml"), *extra)
    return proc.stdout


def test_without_a_data_folder_the_repository_archive_is_fetched_first(tmp_path, tiny_backbone, monkeypatch):
    monkeypatch.delenv("TASKTRANSFER_DATA", raising=False)
    work = _workdir(tmp_path, tiny_backbone)
    plan = _plan(work)
    assert f"resources/github/lab/corpora-{COMMIT}.fetched" in plan
    assert f"tasktransfer fetch --repo lab/corpora --commit {COMMIT}" in plan


def test_a_data_folder_that_holds_the_file_serves_it_without_a_fetch(tmp_path, tiny_backbone, monkeypatch):
    monkeypatch.delenv("TASKTRANSFER_DATA", raising=False)
    work = _workdir(tmp_path, tiny_backbone)
    folder = tmp_path / "data"
    (folder / "github" / "lab" / "corpora" / "data").mkdir(parents=True)
    (folder / "github" / "lab" / "corpora" / "data" / "pinned.csv").write_text(ROWS)
    plan = _plan(work, "--config", f"data_dir={folder}")
    assert "fetch_repo" not in plan and "rule prepare" in plan
    # and the real job reads it from there, saying so in the run's provenance
    run_snakemake(work, "--cores", "1", "results/data/pinned/meta.json", "--configfile", str(work / "config.yaml"),
                  "--config", f"data_dir={folder}")
    provenance = json.loads((work / "results/data/pinned/provenance.json").read_text())["files"]["data"]
    assert provenance["provider"] == "folder" and provenance["commit"] == COMMIT
    assert provenance["where"] == str(folder / "github/lab/corpora/data/pinned.csv")
    assert "from folder" in (work / "logs/prepare/pinned.log").read_text()


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])
