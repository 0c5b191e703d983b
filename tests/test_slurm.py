"""The tiny workflow on a real one-node SLURM cluster, through Snakemake's SLURM executor plugin.

CI starts the cluster with .ci/slurm-up.sh (Debian's munge + slurm, daemons run directly as root)
and stops it with .ci/slurm-down.sh. Without a running cluster these tests are skipped, saying
why; set TASKTRANSFER_REQUIRE_SLURM=1 to make that a failure instead (CI does).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, snakemake_cmd, write_tiny_workdir

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

PROFILE = REPO / "tests" / "slurm-profile"
# small enough for a few minutes on a 2-CPU node: 3 tasks, 4 transfer pairs, 2 methods that rank
# without waiting for the scorer (the scorer is still trained: the figures need it)
OVERRIDES = {
    "sources": ["animal_a", "colour_a"],
    "targets": ["animal_b"],
    "pairs": {"m": 2},
    "selection": {"methods": ["brute_force", "cosine_mean"], "top_k": [1]},
}
LIMIT_S = 420  # a status misconfiguration hangs instead of failing: `timeout` turns it into an error


def _cluster_problem() -> str | None:
    """Why the tests cannot use a cluster here, or None when one answers."""
    for tool in ("sbatch", "squeue", "sinfo", "scancel"):
        if shutil.which(tool) is None:
            return f"SLURM's `{tool}` is not installed (CI runs .ci/slurm-up.sh as root on Debian to install and start it)"
    try:
        proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "`sinfo` did not answer within 20 s: is slurmctld running? (.ci/slurm-up.sh starts it)"
    if proc.returncode != 0:
        return f"no SLURM controller answers (`sinfo`: {proc.stderr.strip()[:200]}); start one with .ci/slurm-up.sh"
    states = {s.rstrip("*~#") for s in proc.stdout.split()}
    if not states & {"idle", "mixed", "allocated", "completing"}:
        return f"no SLURM node is up (node states: {sorted(states) or 'none'}); see .ci/slurm-up.sh"
    return None


@pytest.fixture(scope="module")
def cluster() -> None:
    problem = _cluster_problem()
    if problem:
        if os.environ.get("TASKTRANSFER_REQUIRE_SLURM") == "1":
            pytest.fail(f"TASKTRANSFER_REQUIRE_SLURM=1 but {problem}")
        pytest.skip(problem)


def _run_through_slurm(workdir: Path) -> tuple[subprocess.CompletedProcess, str | None]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("SLURM_JOB_ID", None)  # never look like a job of another allocation
    cmd = [
        "timeout", "-k", "15", str(LIMIT_S),
        *snakemake_cmd(workdir, "--profile", str(PROFILE), "--configfile", str(workdir / "config.yaml")),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    found = re.search(r"SLURM run ID: (\S+)", proc.stdout + proc.stderr)
    run_id = found.group(1) if found else None
    if proc.returncode != 0 and run_id:
        subprocess.run(["scancel", "--name", run_id], capture_output=True)  # leave no job behind
    return proc, run_id


def test_tiny_workflow_runs_every_heavy_job_under_sbatch(cluster, tmp_path, tiny_backbone):
    from tasktransfer.pairs import needed_pairs

    workdir = tmp_path / "run"
    write_tiny_workdir(workdir, tiny_backbone, **OVERRIDES)
    config = yaml.safe_load((workdir / "config.yaml").read_text())

    proc, run_id = _run_through_slurm(workdir)
    out = proc.stdout[-5000:] + proc.stderr[-5000:]
    assert proc.returncode != 124, f"the SLURM run hung past {LIMIT_S} s (job status never came back?):\n{out}"
    assert proc.returncode == 0, f"the SLURM run failed (rc {proc.returncode}):\n{out}"
    assert run_id, f"no SLURM run ID in the output: did the slurm executor run?\n{out}"
    assert (workdir / "results" / "eval" / "summary.tsv").is_file()

    tasks = sorted({*config["sources"], *config["targets"]})
    pairs = needed_pairs(config["sources"], config["targets"], config["pairs"]["m"], config["pairs"]["seed"])
    seeds = config["seeds"]
    heavy = {
        **{f"prompt_tune {t}": workdir / f"results/prompts/{t}/seed{s}/metrics.json" for t in tasks for s in seeds},
        **{
            f"transfer {a}->{b}": workdir / f"results/transfer/{a}/{b}/seed{s}/metrics.json"
            for a, b in pairs
            for s in seeds
        },
        "train_scorer": workdir / "results/scorer/metrics.json",
    }
    job_ids = {name: json.loads(path.read_text()).get("slurm_job_id") for name, path in heavy.items()}
    assert all(job_ids.values()), f"jobs that did not run under sbatch: {[n for n, j in job_ids.items() if not j]}"

    # every one of those ids is a job this run submitted (the plugin names its jobs by the run ID)
    queue = subprocess.run(
        ["squeue", "-h", "-t", "all", "--name", run_id, "-o", "%i"], capture_output=True, text=True, check=True
    )
    submitted = set(queue.stdout.split())
    assert set(job_ids.values()) <= submitted, f"job ids {set(job_ids.values()) - submitted} not among {submitted}"

    # the transfer jobs went out in groups (two per sbatch call in the test profile)
    transfer_ids = [j for n, j in job_ids.items() if n.startswith("transfer ")]
    assert len(set(transfer_ids)) < len(transfer_ids), f"transfers were not grouped: {transfer_ids}"
