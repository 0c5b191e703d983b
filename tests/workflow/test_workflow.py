"""The whole workflow on the tiny config: plan, run, outputs, and no rerun when nothing changed."""

import json
import re

import pandas as pd
import pytest
import yaml

from conftest import run_snakemake

pytestmark = pytest.mark.slow


def job_counts(stdout: str) -> dict[str, int]:
    """Jobs per rule in the "Job stats" table of a dry run's output."""
    counts = {}
    table = stdout.split("Job stats:")[-1]
    for line in table.splitlines():
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if m and m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
    return counts


@pytest.fixture(scope="module")
def finished_run(tiny_run):
    """The session's default tiny run (tests/conftest.py) and its plan before it ran."""
    return tiny_run.workdir, job_counts(tiny_run.plan)


def test_plan_has_one_job_per_role_and_one_transfer_job_per_pair(finished_run):
    from tasktransfer.affinity.pairs import needed_pairs, sample_pairs

    workdir, plan = finished_run
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    pairs = needed_pairs(config["sources"], config["targets"], config["pairs"]["m"], config["pairs"]["seed"])
    # the pool: every source once per pool seed (targets have no pool prompt)
    assert plan["prompt_tune"] == len(config["sources"]) * len(config.get("pool_seeds", [0]))
    # the target role: held-out targets and the pool tasks a sampled pair enters, once per seed
    entered = {t for _, t in sample_pairs(config["sources"], config["pairs"]["m"], config["pairs"]["seed"])}
    assert plan["target_tune"] == len(entered | set(config["targets"])) * len(config["seeds"])
    # exactly one job per needed pair (and chunk of seeds: the tiny run's one seed is one chunk),
    # plus the control init into each target (no pair twice)
    control = 0 if config.get("control", {}).get("init", "mean") == "none" else len(config["targets"])
    assert plan["transfer"] == (len(pairs) + control) * len(config["seeds"])
    assert plan["train_scorer"] == 1


def _transfer_runs(results) -> pd.DataFrame:
    """Every transfer job's own record (metrics.json), whatever the folder layout above it."""
    runs = [json.loads(p.read_text()) for p in sorted(results.glob("transfer/**/metrics.json"))]
    return pd.DataFrame(runs)


def test_evaluation_agrees_with_the_transfer_runs(finished_run):
    """The tables are recomputed from the jobs' own records: brute force is the best real source
    (never the control init), no transfer is the target's own r1, and a method's pick is the top
    of its own ranking, scored by that pair's run. Catches evaluation reading the wrong table, a
    seed or role mix-up, or the control counted as a candidate."""
    workdir, _ = finished_run
    results = workdir / "results"
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    runs = _transfer_runs(results)
    assert {"source", "target", "seed", "r1", "r2"} <= set(runs.columns)
    candidates = runs[~runs.source.astype(str).str.startswith("_")]
    r2 = candidates.groupby(["target", "source"]).r2.mean()
    per_target = pd.read_csv(results / "eval" / "per_target.tsv", sep="\t")
    summary = pd.read_csv(results / "eval" / "summary.tsv", sep="\t")
    assert {"scorer", "brute_force", "random", "cosine_mean"} <= set(summary.method)
    for target in config["targets"]:
        mine = r2.loc[target]
        rows = per_target[(per_target.target == target) & (per_target.k == 1)].set_index("method")
        assert rows.loc["brute_force", "score"] == pytest.approx(mine.max())
        assert rows.loc["brute_force", "chosen"] in set(mine[mine == mine.max()].index)
        # r1 per seed, as the transfer runs into this target recorded it
        r1 = runs[runs.target == target].groupby("seed").r1.first().mean()
        assert rows.loc["brute_force", "no_transfer"] == pytest.approx(r1)
        for method in ("scorer", "cosine_mean"):
            ranking = pd.read_csv(results / "rankings" / method / f"{target}.tsv", sep="\t")
            top = ranking.sort_values(["score", "source"], ascending=[False, True]).source.iloc[0]
            assert rows.loc[method, "chosen"] == top, method
            assert rows.loc[method, "score"] == pytest.approx(mine[top]), method
            assert set(ranking.source) == set(config["sources"]), method  # the whole pool, never a target
    # every method's means with intervals: the same top-1 gains the summary averages
    intervals = pd.read_csv(results / "eval" / "intervals.tsv", sep="\t").set_index(["method", "metric"])
    for method in ("scorer", "cosine_mean", "brute_force"):
        top1 = summary[(summary.method == method) & (summary.k == 1)].mean_gain.item()
        assert intervals.loc[(method, "top1_gain"), "mean"] == pytest.approx(top1, abs=1e-3), method
        assert intervals.loc[(method, "top1_gain"), "targets"] == len(config["targets"])
    tasks = pd.read_csv(results / "eval" / "tasks.tsv", sep="\t")
    assert set(tasks.role) == {"source", "target"}
    scorer = json.loads((results / "scorer" / "metrics.json").read_text())
    assert scorer["pairs"] == config["pairs"]["m"]
    trained_on = set(scorer["tasks"])
    assert trained_on <= set(config["sources"]) and not trained_on & set(config["targets"]), trained_on
    assert scorer["cv"]["grouped_by"] == "target task"
    assert (results / "figures" / "heatmap.png").stat().st_size > 1000
    log = (workdir / "logs" / "prompt_tune" / "colour_a" / "seed0.log").read_text()
    assert re.search(r"step \d+/\d+ \| loss [\d.]+ \| [\d.]+ ex/s .* left", log), "progress lines in job logs"


def test_second_run_with_nothing_changed_runs_no_job(finished_run):
    workdir, _ = finished_run
    proc = run_snakemake(workdir, "-n", "--configfile", str(workdir / "config.yaml"))
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_a_copy_of_the_finished_run_runs_no_job(finished_run, tmp_path):
    """Tests that change the shared run work on copies (conftest.copy_run): a copy elsewhere, with
    its modification times and Snakemake's metadata, is as finished as the original."""
    from conftest import copy_run

    workdir, _ = finished_run
    copy = copy_run(workdir, tmp_path / "copy")
    proc = run_snakemake(copy, "-n", "--configfile", str(copy / "config.yaml"))
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_report_builds(finished_run, tmp_path):
    workdir, _ = finished_run
    report = tmp_path / "report.html"  # the shared run's folder stays as the run left it
    run_snakemake(workdir, "--report", str(report), "--configfile", str(workdir / "config.yaml"))
    html = report.read_text(errors="replace")
    assert len(html) > 10000 and "summary.tsv" in html
