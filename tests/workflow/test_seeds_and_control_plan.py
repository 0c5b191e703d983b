"""Dry-run plans: one control transfer per target; a target seed multiplies only the target role,
a pool seed only the pool."""

import re

import pytest

from conftest import run_snakemake, write_tiny_workdir
from test_workflow import job_counts


@pytest.fixture
def plan(tmp_path, tiny_backbone):
    """The dry run of the tiny config with ``overrides``: its output and its jobs per rule."""

    def make(**overrides):
        workdir = tmp_path / f"w{len(list(tmp_path.iterdir()))}"
        write_tiny_workdir(workdir, tiny_backbone, **overrides)
        stdout = run_snakemake(workdir, "-n", "--configfile", str(workdir / "config.yaml")).stdout
        return stdout, job_counts(stdout)

    return make


def test_a_control_transfer_per_target_and_none_when_disabled(plan, tmp_path):
    stdout, jobs = plan(targets=["animal_b", "weather_a"], sources=["colour_a", "animal_a", "colour_b"])
    for target in ("animal_b", "weather_a"):
        assert f"results/transfer/n48/_control/{target}/seed0/metrics.json" in stdout
    assert jobs["control_prompt"] == 1
    _, none = plan(control={"init": "none"})
    assert "control_prompt" not in none


def test_a_target_seed_multiplies_the_target_role_and_a_pool_seed_the_pool(plan):
    """Seeds multiply runs; a job trains a chunk of seeds as replicas (replicas.max), so with room
    in the chunk the job count stays and each job writes one file per seed; at one replica a job
    each, the jobs double (the further chunk's rules are target_tune_2, transfer_2, prompt_tune_2)."""
    _, one = plan(seeds=[0])
    stdout, two = plan(seeds=[0, 1])
    assert two["target_tune"] == one["target_tune"] and two["transfer"] == one["transfer"]
    assert "results/transfer/n48/_control/animal_b/seed0/metrics.json, results/transfer/n48/_control/animal_b/seed1/metrics.json" in stdout
    _, apart = plan(seeds=[0, 1], replicas={"max": 1})
    assert apart["target_tune"] + apart["target_tune_2"] == 2 * one["target_tune"]
    assert apart["transfer"] + apart["transfer_2"] == 2 * one["transfer"]
    for jobs in (two, apart):
        assert jobs["prompt_tune"] == one["prompt_tune"]
        assert jobs["control_prompt"] == one["control_prompt"]
        assert jobs["train_scorer"] == one["train_scorer"] == 1
    _, pool = plan(pool_seeds=[0, 1], replicas={"max": 1})
    assert pool["prompt_tune"] + pool["prompt_tune_2"] == 2 * one["prompt_tune"]
    _, pool_together = plan(pool_seeds=[0, 1])
    assert pool_together["prompt_tune"] == one["prompt_tune"] and "prompt_tune_2" not in pool_together
    # transfers at seed 0 start from pool seed 0: no control prompt of pool seed 1 is needed
    assert pool["control_prompt"] == one["control_prompt"]
    assert pool["target_tune"] == one["target_tune"] and pool["transfer"] == one["transfer"]
    _, paired = plan(seeds=[0, 1], pool_seeds=[0, 1])
    assert paired["control_prompt"] == 2 * one["control_prompt"]


def test_a_jobs_memory_and_time_follow_its_replica_count(plan):
    """Seeds 0, 1, 2 at replicas.max 2: chunks [0, 1] (K = 2) and [2] (K = 1); host memory
    base + per replica, GPU memory per replica, runtime tune + per replica (config defaults)."""
    stdout, _ = plan(seeds=[0, 1, 2], replicas={"max": 2}, gpus_per_job=1)
    found = {}
    for rule, body in re.findall(r"^rule (\w+):\n((?:    .*\n)+)", stdout, re.M):
        resources = re.search(r"resources: (.*)", body)
        if rule.startswith("transfer") and resources:
            found.setdefault(rule, set()).add(resources.group(1))
    expect = {"transfer": (2, 4300, 90, 8000), "transfer_2": (1, 4000, 60, 4000)}
    for rule, (k, mem, runtime, gpu_mem) in expect.items():
        assert found[rule], rule
        for text in found[rule]:
            values = dict(item.split("=", 1) for item in text.split(", "))
            assert (int(values["mem_mb"]), int(values["runtime"]), int(values["gpu_mem_mb"]), int(values["gpu"])) == (
                mem, runtime, gpu_mem, 1
            ), (rule, k, text)
