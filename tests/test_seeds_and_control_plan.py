"""Dry-run plans: one control transfer per target; adding a seed plans only that seed's jobs."""

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
        assert f"results/transfer/_control/{target}/seed0/metrics.json" in proc.stdout
    assert jobs["control_prompt"] == 1
    _, none = plan(control={"init": "none"})
    assert "control_prompt" not in none


def test_adding_a_seed_plans_only_its_jobs(plan):
    _, one = plan(seeds=[0])
    _, two = plan(seeds=[0, 1])
    assert two["prompt_tune"] == 2 * one["prompt_tune"]
    assert two["transfer"] == 2 * one["transfer"]
    assert two["control_prompt"] == 2 * one["control_prompt"]
    assert two["train_scorer"] == one["train_scorer"] == 1
