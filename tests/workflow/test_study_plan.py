"""config/study.yaml plans the study it promises: 16+ pool tasks, 6 targets of several types,
low-resource targets, 3 seeds for every job a target's gain depends on, M sampled pairs."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import REPO, run_snakemake
from tasktransfer.affinity.pairs import brute_force_pairs, sample_pairs
from tasktransfer.data.registry import load_registry

pytestmark = pytest.mark.slow

STUDY = REPO / "config" / "study.yaml"


def test_study_config_is_the_study_the_issue_asks_for():
    config = yaml.safe_load(STUDY.read_text())
    registry = load_registry(REPO / config["tasks_registry"])
    assert len(config["sources"]) >= 16 and len(config["targets"]) >= 6
    assert not set(config["sources"]) & set(config["targets"])
    target_types = {registry[t].type for t in config["targets"]}
    assert len(target_types) >= 3 and target_types != {"sentiment"}
    assert config["data"]["target_train"] < config["data"]["max_train"]
    assert len(config["seeds"]) == 3


def test_study_dry_run_plans_the_seeds_and_pairs(tmp_path):
    config = yaml.safe_load(STUDY.read_text())
    proc = run_snakemake(
        tmp_path, "-n", "--configfile", str(STUDY),
        "--config", f"tasks_registry={REPO / 'config' / 'tasks.yaml'}", f"resources_dir={tmp_path / 'resources'}",
        timeout=600,
    )
    counts = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^(\w+)\s+(\d+)$", proc.stdout.split("Job stats:")[-1], re.M)
    }
    sources, targets, seeds = config["sources"], config["targets"], config["seeds"]
    scorer_pairs = sample_pairs(sources, config["pairs"]["m"], config["pairs"]["seed"])
    pairs = set(scorer_pairs) | set(brute_force_pairs(sources, targets))
    entered = {t for _, t in scorer_pairs} | set(targets)
    size = config["data"]["target_train"]
    # a job trains a chunk of seeds as replicas: count the runs a job writes, not the jobs
    pool_runs = set(re.findall(r"results/prompts/([^/\s]+)/seed(\d+)/metrics\.json", proc.stdout))
    assert {(t, int(s)) for t, s in pool_runs if t != "_control"} == {(t, s) for t in sources for s in config["pool_seeds"]}
    target_runs = set(re.findall(rf"results/targets/n{size}/([^/\s]+)/seed(\d+)/metrics\.json", proc.stdout))
    assert {(t, int(s)) for t, s in target_runs} == {(t, s) for t in entered for s in seeds}
    # every pair and the control into every target, once per seed: nothing twice, nothing missing
    planned = set(re.findall(rf"results/transfer/n{size}/([^/\s]+)/([^/\s]+)/seed(\d+)/metrics\.json", proc.stdout))
    wanted = {(s, t, k) for s, t in [*pairs, *(("_control", t) for t in targets)] for k in seeds}
    assert {(s, t, int(k)) for s, t, k in planned} == wanted
    assert counts["train_scorer"] == 1
