"""One finished tiny workflow run with a novel target, shared by test_novel.py and test_report_browser.py.

The run is the session's finished default tiny run (tests/conftest.py, fixture ``tiny_run``), copied,
with a novel target added: weather_b, a task of no other tiny run, next to the pool of four sources
(animal_a, colour_a, colour_b, weather_a) and the held-out target animal_b (brute force). The novel
target is tuned, ranked by every method, and transferred into only from the scorer's top-k (k = max
of top_k = 2); the rest of the run is the tiny run's. It is made once per pytest session (in the
session's base temp dir) and reused.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import yaml

from conftest import TINY_CONFIG, copy_run, run_snakemake, write_tiny_workdir

_TINY = yaml.safe_load(TINY_CONFIG.read_text())
SOURCES = sorted(_TINY["sources"])
TARGET = "animal_b"
NOVEL = "weather_b"
TOP_K = max(_TINY["selection"]["top_k"])
# a task of no other tiny run (tests/workflow/tiny/tasks.yaml has weather_a, not its pair)
NOVEL_ENTRY = {
    "type": "weather",
    "format": "classification",
    "source": {"kind": "synthetic", "generator": "keyword_classification", "family": "weather", "size": 120, "seed": 6, "pair": True},
}


def add_novel_target(workdir: Path) -> Path:
    """The novel target in the run's registry (its own entry: no other task's jobs change)."""
    path = workdir / "tasks.yaml"
    registry = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**registry, NOVEL: NOVEL_ENTRY}, sort_keys=True))
    return workdir


def novel_workdir(base: Path, backbone: Path) -> Path:
    """A fresh workflow directory with the tiny config and the novel target (nothing run yet)."""
    workdir = base / "novel_run"
    write_tiny_workdir(workdir, backbone, novel_targets=[NOVEL])
    return add_novel_target(workdir)


def finished_novel_run(request: pytest.FixtureRequest) -> Path:
    """The workflow directory after a full run (cached for the session).

    TASKTRANSFER_NOVEL_RUN=<dir> reuses a directory across sessions (debugging the report test):
    the workflow is still run there, so only what is stale reruns (the first time, all of it).
    """
    if os.environ.get("TASKTRANSFER_NOVEL_RUN"):
        return _kept_novel_run(Path(os.environ["TASKTRANSFER_NOVEL_RUN"]), request)
    workdir = request.getfixturevalue("tmp_path_factory").getbasetemp() / "novel_run"
    done = workdir / ".run_done"
    if done.exists():
        return workdir
    tiny_run = request.getfixturevalue("tiny_run")
    add_novel_target(copy_run(tiny_run.workdir, workdir, novel_targets=[NOVEL]))
    start = time.monotonic()
    run_snakemake(workdir, "--configfile", str(workdir / "config.yaml"), "--cores", "2", timeout=1500)
    done.write_text(f"{time.monotonic() - start:.0f} s\n")
    return workdir


def _kept_novel_run(base: Path, request: pytest.FixtureRequest) -> Path:
    # a backbone that outlives this session, so that the config (and results) stay the same
    config = base / "novel_run" / "config.yaml"
    old = Path(yaml.safe_load(config.read_text())["backbone"]) if config.exists() else None
    if old is not None and old.exists():
        backbone = old
    else:
        backbone = Path(shutil.copytree(request.getfixturevalue("tiny_backbone"), base / "tiny-backbone", dirs_exist_ok=True))
    workdir = novel_workdir(base, backbone)
    run_snakemake(workdir, "--configfile", str(workdir / "config.yaml"), "--cores", "2", timeout=1500)
    return workdir
