"""`snakemake publish`: planned on a fresh tiny workdir after the whole run, and on a finished run
it runs the publishing job alone and writes results/matrix/ (workflow/rules/publish.smk)."""

from __future__ import annotations

import pytest

from conftest import copy_run, run_snakemake
from test_workflow import job_counts


def test_publish_plans_the_run_then_the_matrix(tiny_workdir):
    stdout = run_snakemake(tiny_workdir, "-n", "publish", "--configfile", str(tiny_workdir / "config.yaml")).stdout
    jobs = job_counts(stdout)
    assert jobs["publish_matrix"] == 1 and jobs["publish"] == 1
    assert jobs["evaluate"] == 1 and jobs["transfer"] >= 1  # the matrix waits for a finished run
    assert "results/matrix" in stdout


@pytest.mark.slow
def test_publish_on_a_finished_run_writes_the_matrix_alone(tiny_run, tmp_path):
    run = copy_run(tiny_run.workdir, tmp_path / "run")
    config = ("--configfile", str(run / "config.yaml"))
    plan = job_counts(run_snakemake(run, "-n", "publish", *config).stdout)
    assert set(plan) == {"publish_matrix", "publish"}, plan
    run_snakemake(run, "--cores", "1", "publish", *config)
    matrix = run / "results" / "matrix"
    assert (matrix / "README.md").is_file() and (matrix / "rankings.tsv").is_file()
    assert "tasktransfer evaluate --transfer" in (matrix / "README.md").read_text()
    assert "workflow's effective config" in (matrix / "provenance.json").read_text()
