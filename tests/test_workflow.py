"""The whole workflow on the tiny config: plan, run, outputs, and no rerun when nothing changed."""

import json
import re

import pandas as pd
import pytest
import yaml

from conftest import run_snakemake

pytestmark = pytest.mark.slow


def planned_jobs(workdir) -> dict[str, int]:
    proc = run_snakemake(workdir, "-n", "--configfile", str(workdir / "config.yaml"))
    counts = {}
    table = proc.stdout.split("Job stats:")[-1]
    for line in table.splitlines():
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if m and m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
    return counts


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_backbone):
    from conftest import write_tiny_workdir

    workdir = tmp_path_factory.mktemp("e2e") / "run"
    write_tiny_workdir(workdir, tiny_backbone)
    plan = planned_jobs(workdir)
    run_snakemake(workdir, "--cores", "2", "--configfile", str(workdir / "config.yaml"))
    return workdir, plan


def test_plan_has_one_prompt_job_per_task_and_one_transfer_job_per_pair(finished_run):
    from tasktransfer.pairs import needed_pairs

    workdir, plan = finished_run
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    tasks = set(config["sources"]) | set(config["targets"])
    pairs = needed_pairs(config["sources"], config["targets"], config["pairs"]["m"], config["pairs"]["seed"])
    assert plan["prompt_tune"] == len(tasks) * len(config["seeds"])
    assert plan["transfer"] >= len(pairs) * len(config["seeds"])
    assert plan["train_scorer"] == 1


def test_outputs_are_complete_and_consistent(finished_run):
    workdir, _ = finished_run
    results = workdir / "results"
    gains = pd.read_csv(results / "gains.tsv", sep="\t")
    assert ((gains.r2 - gains.r1 - gains.gain).abs() < 1e-9).all()
    summary = pd.read_csv(results / "eval" / "summary.tsv", sep="\t")
    assert {"scorer", "brute_force", "random", "cosine_mean"} <= set(summary.method)
    best = summary[summary.method == "brute_force"].mean_score.max()
    assert (summary.mean_score <= best + 1e-9).all(), "nothing beats brute force"
    tasks = pd.read_csv(results / "eval" / "tasks.tsv", sep="\t")
    assert set(tasks.role) == {"source", "target"}
    scorer = json.loads((results / "scorer" / "metrics.json").read_text())
    assert all(p["target"] not in ("animal_b",) for p in scorer["held_out"]), "targets never train the scorer"
    assert (results / "figures" / "heatmap.png").stat().st_size > 1000
    log = (workdir / "logs" / "prompt_tune" / "colour_a" / "seed0.log").read_text()
    assert re.search(r"step \d+/\d+ \| loss [\d.]+ \| [\d.]+ ex/s .* left", log), "progress lines in job logs"


def test_second_run_with_nothing_changed_runs_no_job(finished_run):
    workdir, _ = finished_run
    proc = run_snakemake(workdir, "-n", "--configfile", str(workdir / "config.yaml"))
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_report_builds(finished_run):
    workdir, _ = finished_run
    run_snakemake(workdir, "--report", str(workdir / "report.html"), "--configfile", str(workdir / "config.yaml"))
    html = (workdir / "report.html").read_text(errors="replace")
    assert len(html) > 10000 and "summary.tsv" in html
