"""config/paper.yaml is the paper's method once Snakemake has merged it over config/config.yaml.

Snakemake reads the Snakefile's `configfile:` (the default) first and merges `--configfile` over
it key by key, nested keys included, then the schema fills what neither sets: a key the paper
config leaves out is the default's, whatever the paper did. This test builds the effective config
the same way and checks the paper's settings ("Learning to Predict Task Transferability via Soft
Prompt": RoBERTa-large, L = 50, batch 16, warmup 6 %, prompt lr {1e-4, 2e-4}, scorer lr
{1e-5, 2e-5, 3e-5}, smooth-L1 beta 1, M = 400 random pairs among the 44 sources, at most 50k
train / 10k dev examples, a target tuned like a source).
"""

from __future__ import annotations

import pytest
import yaml
from snakemake.utils import update_config, validate

from conftest import REPO

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def effective(*names: str) -> dict:
    config: dict = {}
    for name in ("config.yaml", *names):
        update_config(config, yaml.safe_load((REPO / "config" / name).read_text()))
    validate(config, str(SCHEMA), set_default=True)
    return config


def test_the_paper_config_samples_m_random_pairs_from_the_whole_pool():
    config = effective("paper.yaml")
    assert len(config["sources"]) == 44 and len(config["targets"]) == 6
    pairs = config["pairs"]
    assert pairs["m"] == 400 and pairs["design"] == "random"
    assert pairs["learnable_only"] is False  # no learnability check, no design checkpoint


def test_the_paper_config_tunes_prompts_and_targets_as_the_paper_does():
    config = effective("paper.yaml")
    assert config["backbone"] == "roberta-large"
    prompt = config["prompt"]
    assert (prompt["length"], prompt["mlp_hidden"], prompt["batch_size"]) == (50, 200, 16)
    assert prompt["lrs"] == [0.0001, 0.0002] and prompt["warmup_ratio"] == 0.06
    assert prompt["eval_last_epochs"] == 0  # the best dev score of the run, every epoch evaluated
    assert config["data"]["max_train"] == 50000 and config["data"]["max_dev"] == 10000
    # a target trains on all its examples, with the source role's settings
    assert config["data"]["target_train"] is None
    target = {**prompt, **config["target_prompt"]}
    assert target["epochs"] == prompt["epochs"] and target["eval_last_epochs"] == 0


def test_the_paper_config_trains_the_papers_scorer():
    scorer = effective("paper.yaml")["scorer"]
    assert scorer["lrs"] == [0.00001, 0.00002, 0.00003]
    assert scorer["beta"] == 1.0 and scorer["batch_size"] == 16
    assert scorer["target_label"] == "raw" and scorer["segments"] is False and scorer["standardise"] is False
    assert scorer["ensemble"] == 1


def test_the_default_departs_from_the_paper_where_the_paper_config_says_so():
    """The keys paper.yaml writes out matter: without them the default's would apply."""
    default = effective()
    assert default["pairs"]["learnable_only"] is True
    assert default["data"]["target_train"] == 128
    assert default["prompt"]["eval_last_epochs"] == 2


@pytest.mark.slow
def test_the_paper_plan_transfers_the_sample_and_the_targets_rows_only(tmp_path):
    """Planned jobs: no learnability check or design, one transfer job per sampled or brute-force
    pair and per control (one seed), the pool tuned once per source."""
    import re

    from tasktransfer.affinity.pairs import needed_pairs

    from conftest import run_snakemake

    config = effective("paper.yaml")
    proc = run_snakemake(
        tmp_path, "-n", "--configfile", str(REPO / "config" / "paper.yaml"),
        "--config", f"tasks_registry={REPO / 'config' / 'tasks_paper.yaml'}", f"resources_dir={tmp_path}",
        timeout=600,
    )
    counts = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^(\w+)\s+(\d+)$", proc.stdout.split("Job stats:")[-1], re.M)
    }
    pairs = needed_pairs(config["sources"], config["targets"], 400, 0)
    assert "learnability" not in counts and "design_pairs" not in counts
    assert counts["transfer"] == len(pairs) + len(config["targets"])
    assert counts["prompt_tune"] == 44
