"""Dry-run plans: one control transfer per target; a target seed multiplies only the target role,
a pool seed only the pool."""

import pytest

from conftest import run_snakemake, write_tiny_workdir
from test_workflow import planned_jobs


@pytest.fixture
def plan(tmp_path, tiny_backbone):
    def make(**overrides):
        workdir = tmp_path / f"w{len(list(tmp_path.iterdir()))}"
        write_tiny_workdir(workdir, tiny_backbone, **overrides)
        return workdir, planned_jobs(workdir)

    return make


def test_a_control_transfer_per_target_and_none_when_disabled(plan, tmp_path):
    workdir, jobs = plan(targets=["animal_b", "weather_a"], sources=["colour_a", "animal_a", "colour_b"])
    proc = run_snakemake(workdir, "-n", "--configfile", str(workdir / "config.yaml"))
    for target in ("animal_b", "weather_a"):
        assert f"results/transfer/n48/_control/{target}/seed0/metrics.json" in proc.stdout
    assert jobs["control_prompt"] == 1
    _, none = plan(control={"init": "none"})
    assert "control_prompt" not in none


def test_a_target_seed_multiplies_the_target_role_and_a_pool_seed_the_pool(plan):
    _, one = plan(seeds=[0])
    _, two = plan(seeds=[0, 1])
    assert two["target_tune"] == 2 * one["target_tune"]
    assert two["transfer"] == 2 * one["transfer"]
    assert two["prompt_tune"] == one["prompt_tune"]
    assert two["control_prompt"] == one["control_prompt"]
    assert two["train_scorer"] == one["train_scorer"] == 1
    _, pool = plan(pool_seeds=[0, 1])
    assert pool["prompt_tune"] == 2 * one["prompt_tune"]
    # transfers at seed 0 start from pool seed 0: no control prompt of pool seed 1 is needed
    assert pool["control_prompt"] == one["control_prompt"]
    assert pool["target_tune"] == one["target_tune"] and pool["transfer"] == one["transfer"]
    _, paired = plan(seeds=[0, 1], pool_seeds=[0, 1])
    assert paired["control_prompt"] == 2 * one["control_prompt"]
