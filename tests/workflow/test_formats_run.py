"""The whole workflow on one task of every format (tests/workflow/tiny_formats): each job's record
checked against its data (the formats themselves are tests/prompting/test_formats.py)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from rescore import rescore
from tasktransfer.data.registry import load_registry


@pytest.mark.slow
def test_workflow_runs_one_task_of_every_format(tmp_path, tiny_backbone):
    """The whole workflow on tests/workflow/tiny_formats: a tagging target, five sources of the other
    formats (prompts transfer across formats; heads stay with their task). Each job's record is
    checked against its data: the metric its format calls for, a score recomputed from its saved
    dev predictions, and transfers into the target that start from the target's own r1."""
    import yaml
    from conftest import REPO, run_snakemake

    from tasktransfer.data.prepare import read_jsonl, read_meta

    workdir = tmp_path / "run"
    workdir.mkdir()
    folder = REPO / "tests" / "workflow" / "tiny_formats"
    shutil.copy(folder / "tasks.yaml", workdir / "tasks.yaml")
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config.update(tasks_registry=str(workdir / "tasks.yaml"), backbone=str(tiny_backbone))
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    run_snakemake(workdir, "--configfile", str(workdir / "config.yaml"), "-j", "2", "--quiet", timeout=600)

    results = workdir / "results"
    registry = load_registry(workdir / "tasks.yaml")
    records = [json.loads(p.read_text()) for p in results.glob("**/metrics.json")]
    # prompt-tuning records (task, no source) of the seed-0 runs, whatever the folder layout (a task
    # may have more than one: a pool run and a target-role run)
    tuned: dict[str, list[dict]] = {}
    for r in records:
        if "task" in r and "source" not in r and r.get("seed") == 0 and "score" in r:
            tuned.setdefault(r["task"], []).append(r)
    formats = {}
    for task in [*config["sources"], *config["targets"]]:
        meta = read_meta(results / "data" / task)
        formats[meta.format] = task
        dev = read_jsonl(results / "data" / task / "dev.jsonl")
        assert tuned.get(task), task
        for record in tuned[task]:
            assert record["metric"] == meta.metric == registry[task].metric, task
            assert rescore(meta, record["dev_predictions"], dev) == pytest.approx(record["score"]), task
    assert sorted(formats) == ["classification", "extractive_qa", "multiple_choice", "multirc", "regression", "tagging"]
    target = config["targets"][0]
    transfers = {r["source"]: r for r in records if r.get("target") == target and "source" in r and r.get("seed") == 0}
    assert set(config["sources"]) <= set(transfers)
    meta = read_meta(results / "data" / target)
    dev = read_jsonl(results / "data" / target / "dev.jsonl")
    for source in config["sources"]:
        record = transfers[source]
        assert any(record["r1"] == pytest.approx(r["score"]) for r in tuned[target]), source  # the target's own r1
        assert record["metric"] == "entity_f1"
        assert rescore(meta, record["dev_predictions"], dev) == pytest.approx(record["r2"]), source
    summary = pd.read_csv(results / "eval" / "summary.tsv", sep="\t")
    assert {"scorer", "brute_force"} <= set(summary.method)
