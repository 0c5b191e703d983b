"""The paper's config plans the whole study without a network: `snakemake -n` on config/paper.yaml
(tests/data/test_registry.py checks the paper's registry and config themselves)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, snakemake_cmd


@pytest.mark.slow
def test_paper_config_plans_the_whole_study_offline(tmp_path):
    """`snakemake -n` on config/paper.yaml: every job planned, no hub, no network namespace."""
    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    config["tasks_registry"] = str(REPO / "config" / "tasks_paper.yaml")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    cmd = snakemake_cmd(tmp_path, "-n", "--configfile", str(tmp_path / "config.yaml"), "--quiet", "rules")
    # without a network where the kernel lets us drop it (user namespaces), else offline flags only
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        cmd = [unshare, "-rn", *cmd]
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}",
    }
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            jobs[parts[0]] = int(parts[1])
    assert jobs["prepare"] == 50  # every task of the paper's pool, each prepared once
    # M = 400 sampled source pairs plus 44 x 6 brute-force pairs (disjoint: targets are no sources),
    # plus the control init into each target when one is configured
    from tasktransfer.affinity.pairs import needed_pairs

    pairs = needed_pairs(config["sources"], config["targets"], 400, config["pairs"]["seed"])
    assert len(pairs) == 400 + 44 * 6
    control = 0 if (config.get("control") or {}).get("init", "mean") == "none" else 6
    assert jobs["transfer"] == len(pairs) + control
