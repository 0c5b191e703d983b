"""A shared pool imported into a run (config `pool`), planned without Snakemake: which tasks need
data, and a damaged or foreign pool refused (the workflow's plan and run on an exported pool are
tests/workflow/test_pool_import_run.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from conftest import REPO, TINY_CONFIG
from tasktransfer import cli
from tasktransfer.errors import ArtefactError, TaskTransferError
from tasktransfer.pool.import_plan import plan_pool_import, task_regex
from tasktransfer.pool.manifest import backbone_identity, pool_task_meta, sha256_file
from tasktransfer.data.registry import load_registry

TINY = yaml.safe_load(TINY_CONFIG.read_text())
POOL_TASKS = sorted(TINY["sources"])  # the tiny run's sources: its pool
NEW = "weather_b"  # a task of no tiny run: added to the fresh run's registry
DEFAULTS = {  # what the schema fills in, as far as plan_pool_import reads it
    "pool_seeds": [0],
    "novel_targets": [],
    "target_prompt": {},
    "control": {"init": "mean", "task": ""},
    "prompt": {"length": 20, "mlp_hidden": 200},
}


# --------------------------------------------------------------------------- planning, without Snakemake
def fake_pool(root: Path, backbone: Path, seeds=(0,), scorer=True, data=None, sources=True) -> Path:
    """A pool folder with a valid manifest, prompt files of the right shapes (planning loads them to
    check their sizes) and placeholder records and scorer (planning only hashes those)."""
    import torch

    from tasktransfer.io import save_tensors
    from tasktransfer.prompting.prompt_encoder import encoder_shapes

    root.mkdir(parents=True)
    identity = backbone_identity(str(backbone))
    registry = load_registry(REPO / "tests" / "workflow" / "tiny" / "tasks.yaml")
    hidden = identity["hidden_size"]
    shapes = encoder_shapes(4, hidden, 200)
    files, tasks = {}, {}
    for task in POOL_TASKS:
        entry = {}
        for seed in seeds:
            prompt, record = f"prompts/{task}/seed{seed}.safetensors", f"prompts/{task}/seed{seed}.json"
            (root / prompt).parent.mkdir(parents=True, exist_ok=True)
            tensors = {f"prompt.{k}": torch.zeros(s) for k, s in shapes.items()} | {"embedding": torch.zeros(4, hidden)}
            meta = {"task": task, "backbone": str(backbone), "length": 4, "hidden_size": hidden, "mlp_hidden": 200}
            save_tensors(root / prompt, tensors, meta)
            (root / record).write_bytes(b"{}" + task.encode() + bytes([seed]))
            files[prompt], files[record] = sha256_file(root / prompt), sha256_file(root / record)
            entry[str(seed)] = {"r1": 50.0}
        spec = registry[task]
        tasks[task] = {
            "type": spec.type,
            "format": spec.format,
            "metric": spec.metric,
            "labels": ["a", "b"],
            "n_train": 80,
            "n_dev": 36,
            "majority": 0.5,
            "source": spec.source if sources else None,
            "task_data": {},
            "seeds": entry,
        }
    if scorer:
        (root / "scorer.safetensors").write_bytes(b"S")
        files["scorer.safetensors"] = sha256_file(root / "scorer.safetensors")
    manifest = {
        "format_version": 1,
        "kind": "tasktransfer-prompt-pool",
        "backbone": {"name": str(backbone), "weights_sha256": identity["weights_sha256"]},
        "prompt": {"length": 4, "hidden_size": identity["hidden_size"], "mlp_hidden": 200, "spec": None},
        "data": data if data is not None else {"max_train": 80, "max_dev": 40, "split_seed": 0, "dev_fraction": 0.3},
        "seeds": list(seeds),
        "tasks": tasks,
        "scorer": {"file": "scorer.safetensors", "backbone": str(backbone), "metrics": {}} if scorer else None,
        "files": files,
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def run_config(backbone: Path, **overrides) -> dict:
    config = {**DEFAULTS, **TINY, "backbone": str(backbone), "sources": [], "targets": [NEW]}
    config["prompt"] = {**DEFAULTS["prompt"], **TINY["prompt"]}
    config.update(overrides)
    return config


def tiny_registry():
    return load_registry(REPO / "tests" / "workflow" / "tiny" / "tasks.yaml")


def test_a_pool_with_a_scorer_needs_no_data_of_its_tasks(tmp_path, tiny_backbone):
    pool = fake_pool(tmp_path / "pool", tiny_backbone)
    plan = plan_pool_import(pool, run_config(tiny_backbone), tiny_registry())
    assert plan.tasks == POOL_TASKS and plan.seeds == [0] and plan.scorer
    assert plan.data_tasks == [] and plan.meta_tasks == POOL_TASKS
    assert plan.warnings == []  # same caps, no spec recorded
    assert set(plan.entries) == set(POOL_TASKS) and plan.entries["colour_a"].type == "colour"
    meta = json.loads(plan.meta_json("colour_a"))
    assert meta == pool_task_meta(json.loads((pool / "manifest.json").read_text()), "colour_a")
    assert re.fullmatch(task_regex(plan.tasks), "colour_a") and not re.fullmatch(task_regex(plan.tasks), "colour_ab")
    assert not re.fullmatch(task_regex([]), "colour_a")


def test_without_a_pool_scorer_the_pair_targets_and_the_shuffled_control_need_data(tmp_path, tiny_backbone):
    from tasktransfer.affinity.pairs import sample_pairs

    pool = fake_pool(tmp_path / "pool", tiny_backbone, scorer=False)
    config = run_config(tiny_backbone, control={"init": "shuffled", "task": ""})
    plan = plan_pool_import(pool, config, tiny_registry())
    pair_targets = {t for _, t in sample_pairs(POOL_TASKS, TINY["pairs"]["m"], TINY["pairs"]["seed"])}
    assert not plan.scorer
    assert plan.data_tasks == sorted(pair_targets | {POOL_TASKS[0]})  # the control's default task: first source
    assert plan.meta_tasks == [t for t in POOL_TASKS if t not in plan.data_tasks]


def test_data_a_pool_does_not_describe_is_refused_when_needed(tmp_path, tiny_backbone):
    pool = fake_pool(tmp_path / "pool", tiny_backbone, scorer=False, sources=False)
    registry = {k: v for k, v in tiny_registry().items() if k not in POOL_TASKS}
    with pytest.raises(ArtefactError, match="records no data source") as err:
        plan_pool_import(pool, run_config(tiny_backbone), registry)
    assert "has no scorer" in str(err.value)
    # with its scorer the run needs none of their data: the stubs carry the pool's labels
    pool = fake_pool(tmp_path / "scored", tiny_backbone, sources=False)
    plan = plan_pool_import(pool, run_config(tiny_backbone), registry)
    assert plan.entries["animal_a"].type == "animal" and plan.entries["animal_a"].kind == "pool"


def test_seeds_the_pool_lacks_are_refused_naming_them(tmp_path, tiny_backbone):
    pool = fake_pool(tmp_path / "pool", tiny_backbone, seeds=(0,))
    with pytest.raises(ArtefactError, match=r"pool_seeds \[0, 1\] are not all in pool .*colour_a lacks \[1\]"):
        plan_pool_import(pool, run_config(tiny_backbone, pool_seeds=[0, 1]), tiny_registry())


def test_a_pool_task_as_target_is_refused(tmp_path, tiny_backbone):
    pool = fake_pool(tmp_path / "pool", tiny_backbone)
    with pytest.raises(TaskTransferError, match=r"\['colour_a'\] are in pool .* also targets"):
        plan_pool_import(pool, run_config(tiny_backbone, targets=["colour_a"]), tiny_registry())


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"prompt": {"length": 5, "mlp_hidden": 200}}, ["length=4", "length=5"]),
        ({"prompt": {"length": 4, "mlp_hidden": 100}}, ["mlp_hidden=200", "mlp_hidden=100"]),
        ({"target_prompt": {"length": 8}}, ["length=4", "length=8"]),
    ],
)
def test_another_prompt_size_is_refused_naming_both_sides(tmp_path, tiny_backbone, overrides, words):
    pool = fake_pool(tmp_path / "pool", tiny_backbone)
    with pytest.raises(ArtefactError) as err:
        plan_pool_import(pool, run_config(tiny_backbone, **overrides), tiny_registry())
    for word in words:
        assert word in str(err.value)


def test_other_data_caps_and_registry_entries_only_warn(tmp_path, tiny_backbone):
    pool = fake_pool(tmp_path / "pool", tiny_backbone, data={"max_train": 40, "max_dev": 40, "split_seed": 0})
    registry = tiny_registry()
    changed = dict(yaml.safe_load((REPO / "tests" / "workflow" / "tiny" / "tasks.yaml").read_text())["colour_a"])
    changed["source"] = {**changed["source"], "size": 999}
    from tasktransfer.data.registry import parse_task

    registry["colour_a"] = parse_task("colour_a", changed)
    plan = plan_pool_import(pool, run_config(tiny_backbone), registry)
    text = "\n".join(plan.warnings)
    assert "max_train 40 in the pool, 80 here" in text
    assert "task 'colour_a'" in text and "the pool's entry is used" in text
    assert plan.entries["colour_a"].source["size"] == 120  # the pool's data, not the run's entry


def test_a_damaged_pool_file_is_refused(tmp_path, tiny_backbone):
    pool = fake_pool(tmp_path / "pool", tiny_backbone)
    (pool / "prompts" / "animal_a" / "seed0.json").write_text("{changed}")
    with pytest.raises(ArtefactError, match=r"prompts/animal_a/seed0\.json is damaged or was changed"):
        plan_pool_import(pool, run_config(tiny_backbone), tiny_registry())


def test_install_meta_writes_the_pool_record(tmp_path, tiny_backbone):
    pool = fake_pool(tmp_path / "pool", tiny_backbone)
    out = tmp_path / "results" / "data" / "colour_b" / "meta.json"
    assert cli.main(["pool", "install-meta", "--pool", str(pool), "--task", "colour_b", "--out-meta", str(out)]) == 0
    manifest = json.loads((pool / "manifest.json").read_text())
    assert json.loads(out.read_text()) == pool_task_meta(manifest, "colour_b")
    from tasktransfer.data.prepare import read_meta

    assert read_meta(out.parent).n_train == 80  # what task_table reads
    assert cli.main(["pool", "install-meta", "--pool", str(pool), "--task", "nope", "--out-meta", str(out)]) != 0
