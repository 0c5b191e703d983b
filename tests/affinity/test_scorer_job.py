"""The scorer job's target side: each target's prompt from its own size's folder where it has one."""

from __future__ import annotations

from pathlib import Path

from tasktransfer.affinity.scorer import ScorerSpec
from tasktransfer.affinity.scorer_job import ScorerJob, target_prompt_paths


def job(**fields) -> ScorerJob:
    return ScorerJob(gains="g.tsv", sources=["a", "b"], prompts="results/prompts", backbone="bb",
                     spec=ScorerSpec(), **fields)


def test_a_target_of_its_own_size_is_read_from_that_size_folder():
    paths = target_prompt_paths(
        job(target_prompts="results/targets/n128", target_seed=1,
            target_prompt_roots={"big": "results/targets/n512"}),
        ["small", "big"],
    )
    assert paths == {
        "big": Path("results/targets/n512/big/seed1/prompt.safetensors"),
        "small": Path("results/targets/n128/small/seed1/prompt.safetensors"),
    }


def test_without_target_runs_the_pool_prompts_at_the_embedding_seed_stand_in():
    paths = target_prompt_paths(job(embedding_seed=2), ["a"])
    assert paths == {"a": Path("results/prompts/a/seed2/prompt.safetensors")}
