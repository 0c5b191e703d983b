"""A shared prompt pool: export a run's pool, verify it, refuse damaged or foreign pools, rank a new task."""

from __future__ import annotations

import csv
import json
import os
import shutil
import stat
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from safetensors import safe_open

from conftest import TINY_TASKS
from tasktransfer import cli
from tasktransfer.data.prepare import DataSpec, prepare_task, read_jsonl
from tasktransfer.errors import ArtefactError, UnsafeNameError
from tasktransfer.io import atomic_write_json, save_tensors
from tasktransfer.pool.manifest import backbone_identity, check_pool_compatible, load_manifest, pool_prompt_path, pool_tasks, sha256_file, verify_pool
from tasktransfer.pool.install import install_pool_prompt
from tasktransfer.affinity.similarity import METHODS as SIMILARITY
from tasktransfer.data.registry import get_task, load_registry

POOL_TASKS = ["animal_a", "colour_a", "weather_a"]
SEEDS = {"animal_a": [0, 1], "colour_a": [0, 1], "weather_a": [0]}
SPEC = {"length": 4, "epochs": 1, "lrs": [0.03], "batch_size": 16, "max_length": 24}
CAPS = {"max_train": 40, "max_dev": 20, "split_seed": 0}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_backbone) -> Path:
    """A minimal results/ tree as a workflow run leaves it, made with the package's commands."""
    root = tmp_path_factory.mktemp("run")
    results = root / "results"
    registry = load_registry(TINY_TASKS)
    for task in POOL_TASKS:
        prepare_task(get_task(registry, task), DataSpec(**CAPS), root, results / "data" / task)
        for seed in SEEDS[task]:
            out = results / "prompts" / task / f"seed{seed}"
            assert (
                cli.main(
                    [
                        "prompt-tune",
                        "--data",
                        str(results / "data" / task),
                        "--backbone",
                        str(tiny_backbone),
                        "--spec",
                        json.dumps(SPEC),
                        "--seed",
                        str(seed),
                        "--threads",
                        "1",
                        "--out-prompt",
                        str(out / "prompt.safetensors"),
                        "--out-metrics",
                        str(out / "metrics.json"),
                    ]
                )
                == 0
            )
    # not pool tasks: the control init, and a capped target-role run beside results/prompts
    (results / "prompts" / "_control" / "seed0").mkdir(parents=True)
    shutil.copy(
        results / "prompts" / "animal_a" / "seed0" / "prompt.safetensors", results / "prompts" / "_control" / "seed0"
    )
    (results / "targets" / "x" / "seed0").mkdir(parents=True)
    # a scorer of 2 members with its metrics: every layer moved a little from the backbone, as training
    # moves it (the word embeddings stay: the scorer feeds inputs_embeds), so export stores the deltas
    from tasktransfer.affinity.scorer import ScorerSpec, build_scorer

    torch.manual_seed(0)
    spec = ScorerSpec(lrs=(0.001,), ensemble=2)
    scorer = build_scorer(str(tiny_backbone), spec)
    with torch.no_grad():
        for name, p in scorer.named_parameters():
            if "word_embeddings" not in name:
                p.add_(torch.randn_like(p) * (0.05 if "encoder." not in name else 2e-3))
    save_tensors(
        results / "scorer" / "model.safetensors",
        scorer.state_dict(),
        {"backbone": str(tiny_backbone), "spec": spec.to_dict(), "lr": 0.001},
    )
    atomic_write_json(
        results / "scorer" / "metrics.json",
        {
            "lr": 0.001,
            "pairs": 2,
            "host": "secret-node",
            "held_out": [
                {"source": "animal_a", "target": "colour_a", "gain": 1.0, "predicted": 0.5},
                {"source": "colour_a", "target": "weather_a", "gain": -1.0, "predicted": 0.1},
            ],
        },
    )
    config = {
        "tasks_registry": str(TINY_TASKS),
        "backbone": str(tiny_backbone),
        "sources": POOL_TASKS[:2],
        "targets": ["weather_a"],
        "data": CAPS,
        "prompt": SPEC,
    }
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    return root


@pytest.fixture(scope="module")
def pool(finished_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("shared") / "POOL"
    rc = cli.main(
        [
            "pool",
            "export",
            "--results",
            str(finished_run / "results"),
            "--out",
            str(out),
            "--config",
            str(finished_run / "config.yaml"),
        ]
    )
    assert rc == 0
    return out


def test_export_writes_a_self_describing_pool(pool, finished_run, tiny_backbone, capsys):
    manifest = json.loads((pool / "manifest.json").read_text())
    assert manifest["format_version"] == 1
    assert manifest["backbone"]["name"] == str(tiny_backbone)
    assert manifest["backbone"]["weights_sha256"] == backbone_identity(str(tiny_backbone))["weights_sha256"] is not None
    assert manifest["prompt"]["length"] == SPEC["length"] and manifest["prompt"]["mlp_hidden"] == 200
    assert manifest["prompt"]["hidden_size"] == 32 and manifest["prompt"]["spec"]["epochs"] == 1
    assert manifest["data"]["max_train"] == CAPS["max_train"] and manifest["embedding_seed"] == 0
    assert pool_tasks(manifest) == POOL_TASKS  # neither _control nor results/targets
    results = finished_run / "results"
    for task in POOL_TASKS:
        entry = manifest["tasks"][task]
        meta = json.loads((results / "data" / task / "meta.json").read_text())
        assert (entry["format"], entry["metric"], entry["type"]) == (meta["format"], meta["metric"], meta["type"])
        assert (entry["n_train"], entry["n_dev"]) == (meta["n_train"], meta["n_dev"])
        assert entry["source"]["kind"] == "synthetic" and entry["task_data"] == {}
        assert sorted(entry["seeds"]) == [str(s) for s in SEEDS[task]]
        for seed in SEEDS[task]:
            r1 = json.loads((results / "prompts" / task / f"seed{seed}" / "metrics.json").read_text())["score"]
            assert entry["seeds"][str(seed)]["r1"] == r1
            assert (pool / "prompts" / task / f"seed{seed}.safetensors").read_bytes() == (
                results / "prompts" / task / f"seed{seed}" / "prompt.safetensors"
            ).read_bytes()
    assert manifest["tasks"]["weather_a"]["role"] == "target" and manifest["tasks"]["animal_a"]["role"] == "source"
    assert manifest["scorer"]["file"] == "scorer.safetensors" and manifest["scorer"]["trained_on"] == POOL_TASKS
    assert "host" not in manifest["scorer"]["metrics"]
    # every file is listed with its sha256, and loads with safetensors or json alone
    on_disk = sorted(
        p.relative_to(pool).as_posix() for p in pool.rglob("*") if p.is_file() and p.name != "manifest.json"
    )
    assert sorted(manifest["files"]) == on_disk
    for rel, digest in manifest["files"].items():
        assert sha256_file(pool / rel) == digest
        if rel.endswith(".safetensors"):
            with safe_open(str(pool / rel), framework="pt") as f:
                assert list(f.keys()) and f.metadata()["backbone"]
        else:
            assert "host" not in json.loads((pool / rel).read_text())
    assert not [p for p in pool.parent.iterdir() if p.name.startswith(".")]  # no temp folder left
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(pool.stat().st_mode) == 0o777 & ~umask  # the usual permissions, not mkdtemp's 0700
    assert verify_pool(pool)["format_version"] == 1
    assert cli.main(["pool", "verify", str(pool)]) == 0
    assert capsys.readouterr().out.startswith("OK")
    # a non-empty --out is refused unless --force
    assert (
        cli.main(
            [
                "pool",
                "export",
                "--results",
                str(results),
                "--out",
                str(pool),
                "--config",
                str(finished_run / "config.yaml"),
            ]
        )
        == 2
    )
    assert "--force" in capsys.readouterr().err


def test_damaged_file_is_refused_and_nothing_is_written(pool, tmp_path, capsys):
    bad = tmp_path / "bad"
    shutil.copytree(pool, bad)
    victim = bad / "prompts" / "colour_a" / "seed0.safetensors"
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(ArtefactError, match=r"prompts/colour_a/seed0\.safetensors is damaged.*sha256"):
        verify_pool(bad)
    assert cli.main(["pool", "verify", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "colour_a/seed0.safetensors" in err and "export the pool again" in err
    # ranking against it stops before any file is written
    work, out = tmp_path / "work", tmp_path / "ranking.tsv"
    assert (
        cli.main(
            [
                "rank",
                "--pool",
                str(bad),
                "--task",
                "animal_b",
                "--registry",
                str(TINY_TASKS),
                "--work",
                str(work),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert "damaged" in capsys.readouterr().err
    assert not work.exists() and not out.exists()
    # installing into a run checks the hash too, and leaves the run's folder alone
    with pytest.raises(ArtefactError, match="damaged"):
        install_pool_prompt(
            bad, "colour_a", 0, tmp_path / "run" / "prompt.safetensors", tmp_path / "run" / "metrics.json"
        )
    assert not (tmp_path / "run").exists()


def test_another_backbone_or_size_is_refused_naming_both(pool, tmp_path, tiny_backbone, capsys):
    manifest = load_manifest(pool)
    ours = backbone_identity(str(tiny_backbone))
    check_pool_compatible(manifest, str(tiny_backbone), 4, 32, 200, ours["weights_sha256"])  # the same: fine
    # the same weights in another folder (another run's resources/tiny-backbone) are the same backbone
    check_pool_compatible(manifest, "elsewhere/tiny-backbone", 4, 32, 200, ours["weights_sha256"])
    with pytest.raises(ArtefactError) as err:
        check_pool_compatible(manifest, "roberta-large", 4, 1024, 200, None, pool)
    text = str(err.value)
    assert (
        f"pool {pool} was made with backbone {tiny_backbone}" in text and "this run uses backbone roberta-large" in text
    )
    assert "hidden_size=32" in text and "hidden_size=1024" in text
    with pytest.raises(ArtefactError, match="length=4.*length=50"):
        check_pool_compatible(manifest, str(tiny_backbone), 50, 32, 200, ours["weights_sha256"])
    # a manifest from another backbone: rank --pool stops with that message, writing nothing
    foreign = tmp_path / "foreign"
    shutil.copytree(pool, foreign)
    m = json.loads((foreign / "manifest.json").read_text())
    m["backbone"] = {"name": "roberta-large", "weights_sha256": "0" * 64, "files": {}, "note": None}
    (foreign / "manifest.json").write_text(json.dumps(m))
    work = tmp_path / "work"
    assert (
        cli.main(
            [
                "rank",
                "--pool",
                str(foreign),
                "--task",
                "animal_b",
                "--registry",
                str(TINY_TASKS),
                "--backbone",
                str(tiny_backbone),
                "--work",
                str(work),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "made with backbone roberta-large" in err and f"this run uses backbone {tiny_backbone}" in err
    assert not work.exists()


def test_install_pool_prompt_into_a_run(pool, tmp_path):
    manifest = load_manifest(pool)
    out = tmp_path / "results" / "prompts" / "animal_a" / "seed1"
    install_pool_prompt(pool, "animal_a", 1, out / "prompt.safetensors", out / "metrics.json", manifest)
    assert (out / "prompt.safetensors").read_bytes() == pool_prompt_path(pool, "animal_a", 1, manifest).read_bytes()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["score"] == manifest["tasks"]["animal_a"]["seeds"]["1"]["r1"] and metrics["imported_from"]["sha256"]
    # the same through the command line (what a workflow rule would call), with the data meta and the scorer
    run = tmp_path / "run" / "results"
    assert (
        cli.main(
            [
                "pool",
                "install-prompt",
                "--pool",
                str(pool),
                "--task",
                "weather_a",
                "--seed",
                "0",
                "--out-prompt",
                str(run / "prompts/weather_a/seed0/prompt.safetensors"),
                "--out-metrics",
                str(run / "prompts/weather_a/seed0/metrics.json"),
                "--out-meta",
                str(run / "data/weather_a/meta.json"),
            ]
        )
        == 0
    )
    from tasktransfer.data.prepare import read_meta
    from tasktransfer.prompting.prompt_files import load_prompt

    assert read_meta(run / "data" / "weather_a").n_train == manifest["tasks"]["weather_a"]["n_train"]
    assert load_prompt(run / "prompts/weather_a/seed0/prompt.safetensors").metadata["task"] == "weather_a"
    assert (
        cli.main(
            [
                "pool",
                "install-scorer",
                "--pool",
                str(pool),
                "--out-model",
                str(run / "scorer/model.safetensors"),
                "--out-metrics",
                str(run / "scorer/metrics.json"),
            ]
        )
        == 0
    )
    assert sha256_file(run / "scorer/model.safetensors") == manifest["files"]["scorer.safetensors"]
    assert len(json.loads((run / "scorer/metrics.json").read_text())["held_out"]) == 2
    with pytest.raises(ArtefactError, match="no seed 1 of task 'weather_a'"):
        pool_prompt_path(pool, "weather_a", 1, manifest)
    with pytest.raises(UnsafeNameError, match="is not a valid name"):
        pool_prompt_path(pool, "../etc", 0)


def test_the_pools_scorer_is_compact_and_ranks_the_pool_as_the_runs(pool, finished_run, tmp_path, tiny_backbone):
    """Only the trained tensors, quantised to the width the check chose, recorded in the manifest;
    loaded back on the local backbone it ranks every pool task's sources as the run's full scorer;
    installed into a run, the run's rank jobs read it as they read their own."""
    from tasktransfer.affinity.scorer_file import compare_rankings, pool_predictions
    from tasktransfer.affinity.scorer_model import load_scorer
    from tasktransfer.io import load_tensors
    from tasktransfer.pool.install import install_pool_scorer, load_pool_embeddings, load_pool_scorer, scorer_skeleton

    manifest = load_manifest(pool)
    info = manifest["scorer"]
    run_file = finished_run / "results" / "scorer" / "model.safetensors"
    assert info["storage"] == {"format": "backbone-delta", "bits": info["storage_check"]["chosen_bits"]}
    assert info["storage_check"]["targets"] == 3 and info["storage_check"]["tried"][-1]["same_rankings"]
    size = (pool / "scorer.safetensors").stat().st_size
    assert size < run_file.stat().st_size / 2
    assert size <= scorer_skeleton(pool, manifest, str(tiny_backbone))[2]
    _, meta = load_tensors(pool / "scorer.safetensors")
    assert meta["storage"] == info["storage"] and meta["backbone_weights_sha256"] == manifest["backbone"]["weights_sha256"]
    full = load_scorer(*load_tensors(run_file))
    compact = load_pool_scorer(pool, manifest, str(tiny_backbone))
    emb = load_pool_embeddings(pool, manifest, 0)
    check = compare_rankings(pool_predictions(full, emb), pool_predictions(compact, emb))
    assert check["same_rankings"] and check["error_share"] <= 0.02
    # installed with the run's backbone: checked as rank checks it, copied as it is, read by rank jobs
    out = tmp_path / "results" / "scorer"
    install_pool_scorer(pool, out / "model.safetensors", out / "metrics.json", manifest, backbone=str(tiny_backbone))
    assert (out / "model.safetensors").read_bytes() == (pool / "scorer.safetensors").read_bytes()
    installed = load_scorer(*load_tensors(out / "model.safetensors"), str(tiny_backbone))
    assert pool_predictions(installed, emb) == pool_predictions(compact, emb)


def test_a_pool_with_a_full_scorer_file_still_loads(pool, finished_run, tmp_path, tiny_backbone):
    """A pool exported before compact files (the run's full file, no storage in the manifest) loads
    as it did, bounded by what a full file of the architecture holds."""
    from tasktransfer.affinity.scorer_file import pool_predictions
    from tasktransfer.affinity.scorer_model import load_scorer
    from tasktransfer.io import load_tensors
    from tasktransfer.pool.install import load_pool_embeddings, load_pool_scorer, scorer_skeleton

    old = tmp_path / "OLD"
    shutil.copytree(pool, old)
    run_file = finished_run / "results" / "scorer" / "model.safetensors"
    shutil.copy(run_file, old / "scorer.safetensors")
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["scorer"]["storage"], manifest["scorer"]["storage_check"]
    manifest["files"]["scorer.safetensors"] = sha256_file(old / "scorer.safetensors")
    (old / "manifest.json").write_text(json.dumps(manifest))
    manifest = load_manifest(old)
    assert run_file.stat().st_size <= scorer_skeleton(old, manifest, str(tiny_backbone))[2]
    emb = load_pool_embeddings(old, manifest, 0)
    loaded = load_pool_scorer(old, manifest, str(tiny_backbone))
    assert pool_predictions(loaded, emb) == pool_predictions(load_scorer(*load_tensors(run_file)), emb)


def test_rank_a_new_task_from_a_csv(pool, tmp_path, capsys, tiny_backbone):
    # the new task: a CSV with its own column names, made from a synthetic task outside the pool
    prepared = tmp_path / "src"
    prepare_task(
        get_task(load_registry(TINY_TASKS), "animal_b"), DataSpec(max_train=60, max_dev=30), tmp_path, prepared
    )
    rows = read_jsonl(prepared / "train.jsonl") + read_jsonl(prepared / "dev.jsonl")
    table = tmp_path / "my_animals.csv"
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "sentence", "y"])
        w.writerows([i, r["text"], r["label"]] for i, r in enumerate(rows))
    work, out = tmp_path / "work", tmp_path / "ranking.tsv"
    rc = cli.main(
        [
            "rank",
            "--backbone",
            str(tiny_backbone),
            "--pool",
            str(pool),
            "--task",
            str(table),
            "--text-column",
            "sentence",
            "--label-column",
            "y",
            "--work",
            str(work),
            "--out",
            str(out),
            "--threads",
            "1",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "Pool sources for my_animals" in printed and "total" in printed
    ranking = pd.read_csv(out, sep="\t")
    assert set(ranking.method) == {"scorer", *SIMILARITY}
    assert set(ranking.target) == {"my_animals"}
    for _, group in ranking.groupby("method"):
        assert sorted(group.source) == POOL_TASKS and sorted(group["rank"]) == [1, 2, 3]
    record = json.loads((work / "rank.json").read_text())
    assert record["n_train"] + record["n_dev"] <= CAPS["max_train"] + CAPS["max_dev"]  # the pool's caps
    assert set(record["seconds"]) == {"verify pool", "prepare", "tune prompt", "score sources", "total"}
    assert (work / "prompt.safetensors").exists()  # the same files prompt-tune writes
    # a registry entry instead of a file; one method
    rc = cli.main(
        [
            "rank",
            "--backbone",
            str(tiny_backbone),
            "--pool",
            str(pool),
            "--task",
            "animal_b",
            "--registry",
            str(TINY_TASKS),
            "--method",
            "cosine_mean",
            "--work",
            str(tmp_path / "work2"),
            "--quiet",
        ]
    )
    assert rc == 0
    ranking = pd.read_csv(tmp_path / "work2" / "ranking.tsv", sep="\t")
    assert set(ranking.method) == {"cosine_mean"} and sorted(ranking.source) == POOL_TASKS
    # the old mode is unchanged: --prompts still required without --pool
    assert cli.main(["rank", "--target", "x"]) == 2
    assert "--prompts" in capsys.readouterr().err


def test_a_pool_without_scorer_ranks_by_similarity(finished_run, tmp_path, capsys, tiny_backbone):
    results = tmp_path / "results"
    shutil.copytree(finished_run / "results", results, ignore=shutil.ignore_patterns("scorer"))
    pool = tmp_path / "POOL"
    assert (
        cli.main(
            [
                "pool",
                "export",
                "--results",
                str(results),
                "--out",
                str(pool),
                "--tasks",
                "animal_a,colour_a",
                "--registry",
                str(TINY_TASKS),
                "--config",
                str(finished_run / "config.yaml"),
            ]
        )
        == 0
    )
    manifest = load_manifest(pool)
    assert manifest["scorer"] is None and pool_tasks(manifest) == ["animal_a", "colour_a"]
    assert (
        cli.main(
            [
                "rank",
                "--backbone",
                str(tiny_backbone),
                "--pool",
                str(pool),
                "--task",
                "weather_a",
                "--registry",
                str(TINY_TASKS),
                "--method",
                "scorer",
                "--work",
                str(tmp_path / "w0"),
            ]
        )
        == 2
    )
    assert "has no scorer" in capsys.readouterr().err and not (tmp_path / "w0").exists()
    assert (
        cli.main(
            [
                "rank",
                "--backbone",
                str(tiny_backbone),
                "--pool",
                str(pool),
                "--task",
                "weather_a",
                "--registry",
                str(TINY_TASKS),
                "--work",
                str(tmp_path / "w"),
                "--quiet",
            ]
        )
        == 0
    )
    ranking = pd.read_csv(tmp_path / "w" / "ranking.tsv", sep="\t")
    assert set(ranking.method) == set(SIMILARITY) and sorted(set(ranking.source)) == ["animal_a", "colour_a"]
    # export again over it: refused without --force, replaced with it
    assert (
        cli.main(["pool", "export", "--results", str(results), "--out", str(pool), "--registry", str(TINY_TASKS)]) == 2
    )
    assert (
        cli.main(
            [
                "pool",
                "export",
                "--results",
                str(results),
                "--out",
                str(pool),
                "--registry",
                str(TINY_TASKS),
                "--config",
                str(finished_run / "config.yaml"),
                "--force",
            ]
        )
        == 0
    )
    assert pool_tasks(load_manifest(pool)) == POOL_TASKS
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp or backup left
