"""The ablation targets of the workflow (`snakemake ablations`), planned and run after a finished tiny
main run: only the scorers and rankings they need, then every table, figure and report item (the
tables and the plan by hand are tests/analysis/test_ablations.py)."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest


# --- the workflow targets (slow) ---------------------------------------------------------------------
def _job_counts(stdout: str) -> dict[str, int]:
    counts = {}
    for line in stdout.split("Job stats:")[-1].splitlines():
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if m and m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
    return counts


# which jobs a target asks for, judged by missing or older files: code versions in params (other
# edits to the package while this runs) are the staleness tests' concern, not this one's
MTIME = ("--rerun-triggers", "mtime", "input")
TINY_ABLATIONS = {"betas": [0.5, 1.0], "finetune": {"epochs": 1, "lr": 0.001, "max_length": 24}}


@pytest.fixture(scope="module")
def main_run(tmp_path_factory, tiny_run):
    """A finished tiny main run (6 scorer pairs, so that leaving out the animal type keeps 2),
    with the default's `pairs.learnable_only`: the scorer's pairs come from the design checkpoint,
    and the analyses must plan on those (a margin every task clears keeps the tiny plan's pairs).

    It is the session's finished tiny run (tests/conftest.py), copied, with this config: its main
    target runs the jobs the config adds or changes (the two further pairs, the task whose
    target-role run the learnability check adds, the scorer and what reads it), the rest is kept."""
    from conftest import copy_run, run_snakemake

    workdir = copy_run(
        tiny_run.workdir, tmp_path_factory.mktemp("ablations") / "run",
        pairs={"m": 6, "seed": 0, "learnable_only": True},
        learnability={"margin_points": -1000}, ablations=TINY_ABLATIONS,
        # the analyses' methods (picks: scorer, brute force, random; the unseen type: cosine_mean too)
        selection={"methods": ["scorer", "brute_force", "random", "cosine_mean"]},
    )
    run_snakemake(workdir, "--cores", "2", "--configfile", str(workdir / "config.yaml"))
    return workdir


def _snakemake(workdir, *args, **kwargs):
    from conftest import run_snakemake

    return run_snakemake(workdir, *args, "--configfile", str(workdir / "config.yaml"), **kwargs)


@pytest.mark.slow
def test_beta_m_and_unseen_type_plan_only_scorers_and_rankings(main_run):
    plan = _job_counts(_snakemake(main_run, "ablation_beta", "ablation_m", "ablation_unseen_type", "-n", *MTIME).stdout)
    for rule in ("transfer", "target_tune", "prompt_tune", "train_scorer", "prepare"):
        assert rule not in plan, f"{rule} planned: {plan}"
    # beta 0.5 (1.0 is the main scorer), M 3 (6 is), without the animal type; one target each
    assert plan["ablation_scorer"] == 3 and plan["ablation_rank"] == 3


@pytest.mark.slow
def test_ablations_plan_the_size_transfers_and_fine_tuning_jobs(main_run):
    _snakemake(main_run, "results/ablations/picks/animal_b.tsv", "--cores", "1", *MTIME)
    picks = pd.read_csv(main_run / "results" / "ablations" / "picks" / "animal_b.tsv", sep="\t")
    assert set(picks.method) == {"scorer", "brute_force", "random"}
    plan = _job_counts(_snakemake(main_run, "ablations", "-n", *MTIME).stdout)
    # sizes 12, 24 (a quarter and half of target_train 48; 48 is the main run's), one seed
    assert plan["target_tune"] == 2
    assert plan["transfer"] == 2 * picks.source.nunique()
    assert plan["finetune_source"] == 1 and plan["finetune_target"] == 2  # pretrained and the scorer's pick
    assert "prompt_tune" not in plan and "train_scorer" not in plan


@pytest.mark.slow
def test_ablations_build_every_table_figure_and_report_item(main_run):
    _snakemake(main_run, "ablations", "--cores", "2", *MTIME)
    out = main_run / "results" / "ablations"
    beta = pd.read_csv(out / "beta.tsv", sep="\t")
    assert sorted(beta[beta.method == "scorer"].beta.unique()) == [0.5, 1.0] and "brute_force" in set(beta.method)
    m = pd.read_csv(out / "m.tsv", sep="\t")
    assert sorted(m[m.method == "scorer"].m.unique()) == [3, 6]
    unseen = pd.read_csv(out / "unseen_type.tsv", sep="\t")
    assert set(unseen.type) == {"animal"}
    assert {"scorer_without_type", "scorer", "cosine_mean", "brute_force"} <= set(unseen.method)
    scorer = json.loads((out / "scorers" / "without_animal" / "metrics.json").read_text())
    assert scorer["excluded_tasks"] == ["animal_a"] and "animal_a" not in scorer["tasks"]
    size = pd.read_csv(out / "target_size.tsv", sep="\t")
    assert sorted(size["size"].unique()) == [12, 24, 48]
    assert set(size[size.target == "animal_b"].method) == {"scorer", "brute_force", "random"}
    finetune = pd.read_csv(out / "full_finetune.tsv", sep="\t")
    row = finetune[finetune.target == "animal_b"].iloc[0]
    assert row.gain == pytest.approx(row.score - row.no_transfer)
    for name in ("beta", "m", "target_size", "unseen_type", "full_finetune"):
        assert (out / f"{name}.png").stat().st_size > 1000, name
    assert "Nothing to be done" in _snakemake(main_run, "ablations", "-n", *MTIME).stdout
    report = main_run / "report.html"
    _snakemake(main_run, "--report", str(report), "ablations", *MTIME)
    html = report.read_text(errors="replace")
    assert "6. Analyses" in html and "unseen_type.tsv" in html
