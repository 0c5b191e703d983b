"""The learned selection methods through a shared pool: export writes the source prior and the
feature ranker (hashed in the manifest), `rank --pool` ranks a new task by source_prior, logme and
feature_ranker from them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import TINY_TASKS
from tasktransfer import cli
from tasktransfer.data.prepare import DataSpec, prepare_task
from tasktransfer.data.registry import get_task, load_registry
from tasktransfer.pool.manifest import load_manifest, verify_pool

POOL_TASKS = ["animal_a", "colour_a", "weather_a"]
SPEC = {"length": 4, "epochs": 1, "lrs": [0.03], "batch_size": 16, "max_length": 24}
CAPS = {"max_train": 40, "max_dev": 20, "split_seed": 0}


@pytest.fixture(scope="module")
def pool(tmp_path_factory, tiny_backbone) -> Path:
    root = tmp_path_factory.mktemp("run")
    results = root / "results"
    registry = load_registry(TINY_TASKS)
    for task in POOL_TASKS:
        prepare_task(get_task(registry, task), DataSpec(**CAPS), root, results / "data" / task)
        out = results / "prompts" / task / "seed0"
        assert cli.main(["prompt-tune", "--data", str(results / "data" / task), "--backbone", str(tiny_backbone),
                         "--spec", json.dumps(SPEC), "--threads", "1", "--out-prompt", str(out / "prompt.safetensors"),
                         "--out-metrics", str(out / "metrics.json")]) == 0
    # hand-made gains of four held-out targets: animal_a helps every target by 2 points over the others
    gains = [
        {"source": s, "target": t, "seed": 0, "metric": "accuracy", "r1": 50.0, "r2": 50.0 + g, "gain": g}
        for i, t in enumerate(["t1", "t2", "t3", "t4"])
        for s, g in zip(POOL_TASKS, (2.0 + i, float(i), 0.5 * i))
    ]
    (results / "gains").mkdir()
    pd.DataFrame(gains).to_csv(results / "gains" / "target_pairs.tsv", sep="\t", index=False)
    (results / "features").mkdir()
    for i, t in enumerate(["t1", "t2", "t3", "t4"]):
        pd.DataFrame({"source": POOL_TASKS, "target": t, "cosine_mean": [0.1, 0.3, 0.2], "cosine_tokens": [0.1, 0.2, 0.3],
                      "cosine_centred": [0.0, 0.1, -0.1], "logme": [1.0 + i, 0.5, 0.2]}
                     ).to_csv(results / "features" / f"{t}.tsv", sep="\t", index=False)
    config = {"tasks_registry": str(TINY_TASKS), "backbone": str(tiny_backbone), "sources": POOL_TASKS,
              "targets": ["t1"], "data": {**CAPS, "target_train": 30}, "prompt": SPEC, "selection": {"prior_lambda": 1.0}}
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path_factory.mktemp("shared") / "POOL"
    assert cli.main(["pool", "export", "--results", str(results), "--out", str(out),
                     "--config", str(root / "config.yaml")]) == 0
    return out


def test_export_writes_the_prior_and_the_ranker_hashed(pool):
    manifest = verify_pool(pool, load_manifest(pool))
    assert {"prior.tsv", "ranker.json"} <= set(manifest["files"])
    entry = manifest["selection"]
    assert entry["prior"] == "prior.tsv" and entry["ranker"] == "ranker.json" and entry["target_train"] == 30
    prior = pd.read_csv(pool / "prior.tsv", sep="\t").set_index("source").prior
    # residual of animal_a on every target: (2 + i) - mean = 2 + i - (2 + 2.5 i) / 3; 4 targets, shrunk 4 / 5
    expect = 4 / 5 * sum((2 + i) - (2 + 2.5 * i) / 3 for i in range(4)) / 4
    assert prior["animal_a"] == pytest.approx(expect) and prior.idxmax() == "animal_a"
    ranker = json.loads((pool / "ranker.json").read_text())
    assert ranker["decision"] in ("learned", "cosine") and set(ranker["weights"]) >= {"logme", "prior", "cosine_mean"}


def test_rank_pool_by_the_new_methods(pool, tmp_path, tiny_backbone):
    rc = cli.main(["rank", "--backbone", str(tiny_backbone), "--pool", str(pool), "--task", "animal_b",
                   "--registry", str(TINY_TASKS), "--method", "source_prior,logme,hscore,knn,feature_ranker", "--work",
                   str(tmp_path / "work"), "--threads", "1", "--quiet"])
    assert rc == 0
    ranking = pd.read_csv(tmp_path / "work" / "ranking.tsv", sep="\t")
    assert set(ranking.method) == {"source_prior", "logme", "hscore", "knn", "feature_ranker"}
    for method, group in ranking.groupby("method"):
        assert sorted(group.source) == POOL_TASKS and sorted(group["rank"]) == [1, 2, 3], method
        assert group.score.map(lambda v: v == v).all(), method
    top = ranking[(ranking.method == "source_prior") & (ranking["rank"] == 1)].source.iloc[0]
    assert top == "animal_a"


def test_a_pool_without_the_files_refuses_the_method(pool, tmp_path, tiny_backbone, capsys):
    manifest = load_manifest(pool)
    assert manifest.get("selection")
    # the same pool without its selection entry (a pool exported before these methods existed)
    from tasktransfer.errors import TaskTransferError
    from tasktransfer.pool.selection_models import check_pool_methods

    with pytest.raises(TaskTransferError, match="no prior file for method source_prior"):
        check_pool_methods(pool, {**manifest, "selection": None}, ["source_prior"])
    check_pool_methods(pool, {**manifest, "selection": None}, ["logme"])  # logme needs no exported file
