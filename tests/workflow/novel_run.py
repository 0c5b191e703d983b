"""One finished tiny workflow run with a novel target, shared by test_novel.py and test_report_browser.py.

The run is the tiny test config with colour_b moved out of the pool into ``novel_targets``: a pool
of three sources (colour_a, animal_a, weather_a), the held-out target animal_b (brute force) and the
novel target colour_b, which is transferred only from the scorer's top-k (k = max of top_k = 2).
It is made once per pytest session (in the session's base temp dir) and reused.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import yaml

from conftest import run_snakemake, write_tiny_workdir

SOURCES = ["animal_a", "colour_a", "weather_a"]
TARGET = "animal_b"
NOVEL = "colour_b"
TOP_K = 2
METHODS = ("scorer", "brute_force", "random", "cosine_mean")


def novel_workdir(base: Path, backbone: Path) -> Path:
    workdir = base / "novel_run"
    # the methods the novel table and the report need (each further method is one ranking job per
    # target, 4 s of imports apiece: the full list is test_workflow.py's)
    write_tiny_workdir(
        workdir, backbone, sources=SOURCES, targets=[TARGET], novel_targets=[NOVEL],
        selection={"top_k": [1, TOP_K], "methods": list(METHODS)},
    )
    return workdir


def finished_novel_run(tmp_path_factory, backbone: Path) -> Path:
    """The workflow directory after a full run (cached for the session).

    TASKTRANSFER_NOVEL_RUN=<dir> reuses a directory across sessions (debugging the report test):
    the workflow is still run there, so only what is stale reruns.
    """
    base = Path(os.environ["TASKTRANSFER_NOVEL_RUN"]) if os.environ.get("TASKTRANSFER_NOVEL_RUN") else tmp_path_factory.getbasetemp()
    workdir = base / "novel_run"
    done = workdir / ".run_done"
    keep = bool(os.environ.get("TASKTRANSFER_NOVEL_RUN"))
    if done.exists() and not keep:
        return workdir
    if keep:  # a backbone that outlives this session, so that the config (and results) stay the same
        config = workdir / "config.yaml"
        old = Path(yaml.safe_load(config.read_text())["backbone"]) if config.exists() else None
        if old is not None and old.exists():
            backbone = old
        else:
            backbone = Path(shutil.copytree(backbone, base / "tiny-backbone", dirs_exist_ok=True))
    novel_workdir(base, backbone)
    start = time.monotonic()
    run_snakemake(workdir, "--configfile", str(workdir / "config.yaml"), "--cores", "2", timeout=1500)
    done.write_text(f"{time.monotonic() - start:.0f} s\n")
    return workdir
