"""The tiny workflow with `pairs.learnable_only`: the checkpoint learnability reads every task's r1,
and the checkpoint design_pairs keeps the scorer's pairs out of the pool tasks that do not learn;
the balanced design below its core's cost stops with the smallest feasible budget."""

from __future__ import annotations

import csv

import pytest

from conftest import copy_run, run_snakemake, write_config

pytestmark = pytest.mark.slow


def cfg(work):
    return ("--configfile", str(work / "config.yaml"))


def table(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_scorer_pairs_enter_learnable_tasks_only(tmp_path, tiny_run):
    # on a copy of the session's finished tiny run: of the target-role runs the check reads (every
    # task's r1), only the one of the task no sampled pair of the tiny run enters is still to run
    tiny = tiny_run.config
    work = copy_run(tiny_run.workdir, tmp_path / "run", pairs={"m": 12, "seed": 0, "learnable_only": True})
    run_snakemake(work, "--cores", "2", "results/eval/learnability.tsv", *cfg(work))
    # a margin that splits the tiny tasks is not known in advance: take the median margin
    margins = sorted(float(r["margin"]) for r in table(work / "results/eval/learnability.tsv"))
    if margins[0] == margins[-1]:
        pytest.skip(f"every tiny task has the same margin ({margins[0]}): no cut splits them")
    cut = margins[len(margins) // 2]
    write_config(work, tiny, pairs={"m": 12, "seed": 0, "learnable_only": True}, learnability={"margin_points": cut})
    run_snakemake(work, "--cores", "2", "results/pairs/scorer_pairs.tsv", *cfg(work))
    learns = {r["task"]: r["learns"] == "true" for r in table(work / "results/eval/learnability.tsv")}
    assert set(learns.values()) == {True, False}
    pairs = table(work / "results/pairs/scorer_pairs.tsv")
    assert pairs and all(learns[r["target"]] for r in pairs)
    # the scorer's training list follows the design (a dry run past the checkpoints)
    proc = run_snakemake(work, "-n", "results/lists/scorer_pairs.txt", *cfg(work))
    assert "file_list" in proc.stdout

    write_config(
        work, tiny,
        pairs={"design": "balanced", "learnable_only": True, "budget_seconds": 1, "min_sources_per_target": 1},
        learnability={"margin_points": cut},
    )
    proc = run_snakemake(work, "--cores", "1", "results/pairs/scorer_pairs.tsv", *cfg(work), check=False)
    assert proc.returncode != 0
    assert "smallest feasible budget is" in proc.stdout + proc.stderr
