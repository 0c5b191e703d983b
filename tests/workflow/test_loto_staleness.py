"""Leave-one-target-out never reads, nor reruns on, the held-out target's own rows.

A dry run on a faked finished run (every output of a tiny two-target plan created with one
modification time, so nothing is stale), then one of animal_b's own transfer runs is made newer:
animal_b's leave-one-target-out rankings are not planned again (their training rows come from the
other target's runs only), colour_b's are (animal_b's row is in its training table).
"""

from __future__ import annotations

import os
import re

import pytest

from conftest import run_snakemake, write_tiny_workdir

pytestmark = pytest.mark.slow


def planned_outputs(workdir) -> set[str]:
    proc = run_snakemake(workdir, "-n", "--configfile", str(workdir / "config.yaml"))
    text = proc.stdout + proc.stderr
    if "Nothing to be done" in text:
        return set()
    return {f for line in re.findall(r"^\s+output: (.+)$", text, re.M) for f in line.split(", ")}


def test_a_targets_own_rows_never_rerun_its_loto_rankings(tmp_path, tiny_backbone):
    workdir = tmp_path / "run"
    write_tiny_workdir(
        workdir,
        tiny_backbone,
        sources=["colour_a", "animal_a", "weather_a"],
        targets=["animal_b", "colour_b"],
        pairs={"m": 2, "seed": 0},
        control={"init": "none"},
        selection={"top_k": [1], "methods": ["cosine_mean", "source_prior", "feature_ranker"], "loto": True},
    )
    summary = run_snakemake(workdir, "--summary", "--configfile", str(workdir / "config.yaml")).stdout
    outputs = [line.split("\t")[0] for line in summary.splitlines()[1:] if line.strip()]
    assert "results/loto/animal_b/train_gains.tsv" in outputs
    assert "results/rankings/feature_ranker_loto/animal_b.tsv" in outputs
    for rel in outputs:
        path = workdir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n")
        os.utime(path, (1_000_000_000, 1_000_000_000))
    assert planned_outputs(workdir) == set()

    own = workdir / "results/transfer/n48/colour_a/animal_b/seed0/metrics.json"
    assert own.exists()
    os.utime(own, (1_000_000_100, 1_000_000_100))
    planned = planned_outputs(workdir)
    assert "results/gains/target_pairs.tsv" in planned  # the evaluation still sees the change
    for method in ("source_prior_loto", "feature_ranker_loto", "source_prior", "feature_ranker"):
        assert f"results/rankings/{method}/animal_b.tsv" not in planned, method
    assert "results/loto/animal_b/train_gains.tsv" not in planned
    assert "results/loto/colour_b/train_gains.tsv" in planned
    assert {"results/rankings/source_prior_loto/colour_b.tsv", "results/rankings/feature_ranker_loto/colour_b.tsv"} <= planned
