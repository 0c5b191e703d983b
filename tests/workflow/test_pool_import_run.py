"""A shared pool imported into a run (config `pool`): only new tasks are tuned, the pool's scorer
replaces train_scorer, and a damaged or foreign pool stops the plan before any job."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import TINY_CONFIG, run_snakemake, write_tiny_workdir
from tasktransfer import cli
from tasktransfer.pool.manifest import pool_task_meta, sha256_file

TINY = yaml.safe_load(TINY_CONFIG.read_text())
POOL_TASKS = sorted(TINY["sources"])  # the tiny run's sources: its pool
NEW = "weather_b"  # a task of no tiny run: added to the fresh run's registry
NEW_ENTRY = {
    NEW: {
        "type": "weather",
        "format": "classification",
        "source": {
            "kind": "synthetic",
            "generator": "keyword_classification",
            "family": "weather",
            "size": 120,
            "seed": 6,
            "pair": True,
        },
    }
}


# --------------------------------------------------------------------------- the workflow
def jobs(stdout: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards) of every job a dry run plans."""
    found = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", stdout):
        m = re.match(r"(?:local)?rule (\w+):", block)
        if not m:
            continue
        w = re.search(r"^\s+wildcards: (.*)$", block, re.M)
        wildcards = dict(kv.split("=", 1) for kv in w.group(1).split(", ")) if w else {}
        found.append((m.group(1), wildcards))
    return found


def dry_run(workdir: Path, *targets: str, check: bool = True):
    return run_snakemake(workdir, *targets, "-n", "--configfile", str(workdir / "config.yaml"), check=check)


def import_workdir(workdir: Path, backbone: Path, pool: Path, **overrides) -> Path:
    """A fresh tiny run on `pool` with the new task as its only target (and its registry entry)."""
    settings = {"pool": str(pool), "sources": [], "targets": [NEW], **overrides}
    write_tiny_workdir(workdir, backbone, **settings)
    registry = yaml.safe_load((workdir / "tasks.yaml").read_text())
    (workdir / "tasks.yaml").write_text(yaml.safe_dump({**registry, **NEW_ENTRY}))
    return workdir


@pytest.fixture(scope="module")
def exported_pool(tmp_path_factory, tiny_run) -> Path:
    """The session's finished tiny run (tests/conftest.py) exported as a shared pool: its pool
    prompts and its scorer (the export only reads the run)."""
    root = tmp_path_factory.mktemp("pool_import")
    workdir = tiny_run.workdir
    out = root / "POOL"
    args = ["pool", "export", "--results", str(workdir / "results"), "--out", str(out)]
    assert cli.main([*args, "--config", str(workdir / "config.yaml"), "--registry", str(workdir / "tasks.yaml")]) == 0
    return out


@pytest.mark.slow
def test_an_imported_pool_plans_only_the_new_tasks_jobs(exported_pool, tmp_path, tiny_backbone):
    workdir = import_workdir(tmp_path / "run", tiny_backbone, exported_pool)
    planned = jobs(dry_run(workdir).stdout)
    rules = [rule for rule, _ in planned]
    # nothing of the pool is tuned, trained or transferred into: it is installed
    for rule in ("prompt_tune", "train_scorer"):
        assert rule not in rules, rule
    assert rules.count("import_pool_prompt") == len(POOL_TASKS)  # one pool seed
    assert rules.count("import_pool_meta") == len(POOL_TASKS) and rules.count("import_pool_scorer") == 1
    # the new task's own jobs: its data, its r1 run, every pool source and the control into it
    for rule in ("prepare", "target_tune", "transfer"):
        assert {w.get("task", w.get("target")) for r, w in planned if r == rule} == {NEW}, rule
    transfers = sorted(w["source"] for r, w in planned if r == "transfer")
    assert transfers == sorted([*POOL_TASKS, "_control"])
    assert {w["target"] for r, w in planned if r == "rank"} == {NEW}
    for rule in ("task_table", "evaluate", "signal", "figures", "noise"):
        assert rule in rules, rule


@pytest.mark.slow
def test_a_new_source_beside_the_pool_is_tuned_and_the_pool_scorer_ranks_it(exported_pool, tmp_path, tiny_backbone):
    workdir = import_workdir(tmp_path / "run", tiny_backbone, exported_pool, targets=["animal_b"], sources=[NEW])
    planned = jobs(dry_run(workdir).stdout)
    assert [w["task"] for r, w in planned if r == "prompt_tune"] == [NEW]
    assert "train_scorer" not in [r for r, _ in planned]
    assert sorted(w["source"] for r, w in planned if r == "transfer") == sorted([*POOL_TASKS, NEW, "_control"])


@pytest.mark.slow
def test_a_pool_without_scorer_trains_one_on_pairs_among_all_sources(exported_pool, tmp_path, tiny_backbone):
    from tasktransfer.affinity.pairs import sample_pairs

    pool = tmp_path / "no_scorer"
    shutil.copytree(exported_pool, pool)
    (pool / "scorer.safetensors").unlink()
    manifest = json.loads((pool / "manifest.json").read_text())
    manifest["scorer"] = None
    del manifest["files"]["scorer.safetensors"]
    (pool / "manifest.json").write_text(json.dumps(manifest))
    workdir = import_workdir(tmp_path / "run", tiny_backbone, pool)
    planned = jobs(dry_run(workdir).stdout)
    rules = [r for r, _ in planned]
    assert "train_scorer" in rules and "import_pool_scorer" not in rules and "prompt_tune" not in rules
    pairs = sample_pairs(POOL_TASKS, TINY["pairs"]["m"], TINY["pairs"]["seed"])
    into_pool = sorted({t for _, t in pairs})
    # the pool tasks a pair enters are prepared and tuned in the target role; the others' meta is the pool's
    assert sorted(w["task"] for r, w in planned if r == "prepare") == sorted([*into_pool, NEW])
    assert sorted(w["pool_meta_task"] for r, w in planned if r == "import_pool_meta") == sorted(
        set(POOL_TASKS) - set(into_pool)
    )
    assert sorted((w["source"], w["target"]) for r, w in planned if r == "transfer" and w["target"] != NEW) == sorted(
        pairs
    )


@pytest.mark.slow
def test_imported_files_are_the_pools_and_a_moved_pool_reruns_nothing(exported_pool, tmp_path, tiny_backbone):
    """A real run of the import and what reads it: task table, the new task's r1 and its scorer ranking."""
    workdir = import_workdir(tmp_path / "run", tiny_backbone, exported_pool)
    wanted = ["results/eval/tasks.tsv", f"results/rankings/scorer/{NEW}.tsv"]
    run_snakemake(workdir, *wanted, "--cores", "2", "--configfile", str(workdir / "config.yaml"))
    results = workdir / "results"
    manifest = json.loads((exported_pool / "manifest.json").read_text())
    for task in POOL_TASKS:
        mine = results / "prompts" / task / "seed0"
        assert (mine / "prompt.safetensors").read_bytes() == (exported_pool / f"prompts/{task}/seed0.safetensors").read_bytes()
        record = json.loads((mine / "metrics.json").read_text())
        assert record["imported_from"]["sha256"] == manifest["files"][f"prompts/{task}/seed0.safetensors"]
        assert record["score"] == manifest["tasks"][task]["seeds"]["0"]["r1"]
        assert json.loads((results / "data" / task / "meta.json").read_text()) == pool_task_meta(manifest, task)
        assert not (results / "data" / task / "train.jsonl").exists()  # never prepared
    assert (results / "scorer" / "model.safetensors").read_bytes() == (exported_pool / "scorer.safetensors").read_bytes()
    tasks = {row["task"]: row for row in csv_rows(results / "eval" / "tasks.tsv")}
    assert {t: tasks[t]["role"] for t in POOL_TASKS} == {t: "source" for t in POOL_TASKS}
    assert tasks[NEW]["role"] == "target"
    for task in POOL_TASKS:  # the pool score is the pool's r1
        assert float(tasks[task]["pool_score"]) == pytest.approx(manifest["tasks"][task]["seeds"]["0"]["r1"], abs=0.01)
    ranked = csv_rows(results / "rankings" / "scorer" / f"{NEW}.tsv")
    assert sorted(row["source"] for row in ranked) == POOL_TASKS
    # the same pool in another folder: nothing to redo
    moved = tmp_path / "moved" / "POOL"
    shutil.copytree(exported_pool, moved)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    (workdir / "config.yaml").write_text(yaml.safe_dump({**config, "pool": str(moved)}))
    assert "Nothing to be done" in dry_run(workdir, *wanted).stdout
    # a changed pool file (a retuned source): its import and what reads it rerun, nothing else
    record = moved / "prompts" / "colour_a" / "seed0.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "retuned": True}))
    manifest["files"]["prompts/colour_a/seed0.json"] = sha256_file(record)
    (moved / "manifest.json").write_text(json.dumps(manifest))
    planned = jobs(dry_run(workdir, *wanted).stdout)
    imports = [(r, w) for r, w in planned if r.startswith("import_pool")]
    assert imports == [("import_pool_prompt", {"pool_task": "colour_a", "seed": "0"})]
    assert "target_tune" not in [r for r, _ in planned]


def csv_rows(path: Path) -> list[dict]:
    import csv

    with open(path) as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.mark.slow
def test_a_damaged_pool_file_stops_the_plan_and_writes_nothing(exported_pool, tmp_path, tiny_backbone):
    pool = tmp_path / "damaged"
    shutil.copytree(exported_pool, pool)
    with open(pool / "prompts" / "animal_a" / "seed0.safetensors", "ab") as handle:
        handle.write(b"\0")
    workdir = import_workdir(tmp_path / "run", tiny_backbone, pool)
    proc = dry_run(workdir, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert out.count("prompts/animal_a/seed0.safetensors is damaged or was changed") == 1, out[-3000:]
    assert "download or export the pool again" in out
    assert not (workdir / "results").exists() and not (workdir / "logs").exists()


@pytest.mark.slow
def test_a_pool_of_another_backbone_stops_the_plan_naming_both(exported_pool, tmp_path, tiny_backbone):
    pool = tmp_path / "foreign"
    shutil.copytree(exported_pool, pool)
    manifest = json.loads((pool / "manifest.json").read_text())
    manifest["backbone"] = {**manifest["backbone"], "name": "roberta-large", "weights_sha256": "ab" * 32}
    (pool / "manifest.json").write_text(json.dumps(manifest))
    workdir = import_workdir(tmp_path / "run", tiny_backbone, pool)
    proc = dry_run(workdir, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    message = [line for line in out.splitlines() if "was made with backbone" in line]
    assert len(message) == 1, out[-3000:]
    assert "backbone roberta-large" in message[0] and f"this run uses backbone {tiny_backbone}" in message[0]
    assert not (workdir / "results").exists() and not (workdir / "logs").exists()
