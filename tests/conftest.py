"""Shared fixtures: a tiny random backbone, a ready-to-run tiny workflow directory, and the default
tiny run finished once per session (``tiny_run``: read it; copy it with ``copy_run`` to change it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "tests" / "workflow" / "tiny" / "config.yaml"
TINY_TASKS = REPO / "tests" / "workflow" / "tiny" / "tasks.yaml"


#: the data folder in the upstream layout github/OWNER/REPO/PATH that CI keeps beside the clone
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The data folder (../shared/data): the test skips, saying why, where it is absent;
    TASKTRANSFER_REQUIRE_DATA=1 makes that a failure instead (CI sets it)."""
    if not (SHARED_DATA / "github").is_dir():
        problem = f"../shared/data is not here ({SHARED_DATA}): the tests of the data-folder tasks need it"
        if os.environ.get("TASKTRANSFER_REQUIRE_DATA") == "1":
            pytest.fail(f"TASKTRANSFER_REQUIRE_DATA=1 but {problem}")
        pytest.skip(problem)
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def no_wait_for_an_absent_slurm_controller(tmp_path_factory):
    """Every snakemake call imports the SLURM executor plugin, which runs `scontrol show config` at
    import (snakemake-executor-plugin-slurm 2.8.0, job_status_query.get_min_job_age). Where the
    SLURM client is installed but no controller runs, scontrol retries for about 9 s before it
    fails, and the plugin carries on without the answer: 9 s of every test's snakemake call, a
    third of the suite. There, a stub that fails at once stands in for scontrol in this session:
    the plugin's outcome is the same. So for sinfo, which test_slurm.py asks whether a cluster is
    up (9 s to learn that none is). Where a controller answers (CI starts one), nothing changes.
    """
    scontrol = shutil.which("scontrol")
    if scontrol is None:
        yield
        return
    try:
        answered = subprocess.run([scontrol, "show", "config"], capture_output=True, timeout=3).returncode == 0
    except subprocess.TimeoutExpired:
        answered = False
    if answered:
        yield
        return
    stub_dir = tmp_path_factory.mktemp("no-slurm-controller")
    for tool in ("scontrol", "sinfo"):
        if shutil.which(tool) is not None:  # a tool that is not installed stays missing
            stub = stub_dir / tool
            stub.write_text("#!/bin/sh\necho 'no SLURM controller (tests/conftest.py stub)' >&2\nexit 1\n")
            stub.chmod(0o755)
    old = os.environ["PATH"]
    os.environ["PATH"] = f"{stub_dir}{os.pathsep}{old}"
    yield
    os.environ["PATH"] = old


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory) -> Path:
    """A tiny random BERT saved like a real model (built once per test session)."""
    from tasktransfer.prompting.backbone import make_tiny_backbone

    return make_tiny_backbone(tmp_path_factory.mktemp("backbone") / "tiny", seed=0)


def snakemake_cmd(workdir: Path, *args: str) -> list[str]:
    """The snakemake command of the venv running the tests, on the repository's Snakefile."""
    exe = Path(sys.executable).with_name("snakemake")
    return [str(exe), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), *args]


def run_snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(snakemake_cmd(workdir, *args), capture_output=True, text=True, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def write_tiny_workdir(workdir: Path, backbone: Path, **overrides) -> Path:
    """A workflow directory with the tiny config (absolute paths) and `overrides` merged in."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(TINY_CONFIG.read_text())
    shutil.copy(TINY_TASKS, workdir / "tasks.yaml")
    config["tasks_registry"] = str(workdir / "tasks.yaml")
    config["backbone"] = str(backbone)
    return write_config(workdir, config, **overrides)


def write_config(workdir: Path, config: dict, **overrides) -> Path:
    """``config`` with ``overrides`` merged in (a dict merges into the block of the same key, anything
    else replaces it), written to ``workdir/config.yaml``."""
    config = dict(config)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=True))
    return workdir / "config.yaml"


@pytest.fixture
def tiny_workdir(tmp_path, tiny_backbone) -> Path:
    write_tiny_workdir(tmp_path / "run", tiny_backbone)
    return tmp_path / "run"


# --------------------------------------------------------------------------- the shared tiny run
@dataclass(frozen=True)
class FinishedRun:
    """A finished workflow directory and what `snakemake -n` planned there before the run."""

    workdir: Path
    plan: str

    @property
    def config(self) -> dict:
        return yaml.safe_load((self.workdir / "config.yaml").read_text())


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_backbone) -> FinishedRun:
    """The default tiny run (tests/workflow/tiny, every job of the default target), built once per
    session. Tests only read it; a test that changes a run, its config or its files works on a copy
    (``copy_run``), which plans nothing more than the original (tests/workflow/test_workflow.py).

    Its registry is ``tasks.yaml`` relative to the run's folder, the one path in a job's params that
    names the folder: a copy reads its own registry with the same params, so nothing in it is stale."""
    workdir = tmp_path_factory.mktemp("tiny_run") / "run"
    write_tiny_workdir(workdir, tiny_backbone, tasks_registry="tasks.yaml")
    config = ("--configfile", str(workdir / "config.yaml"))
    plan = run_snakemake(workdir, "-n", *config).stdout
    run_snakemake(workdir, "--cores", "2", *config)
    return FinishedRun(workdir, plan)


def copy_run(finished: Path, dest: Path, **overrides) -> Path:
    """A copy of a finished workflow directory at ``dest`` (modification times, links and Snakemake's
    metadata in .snakemake kept) with ``overrides`` merged into its config (as write_tiny_workdir
    merges them into the tiny config). Returns ``dest``."""
    shutil.copytree(finished, dest, symlinks=True)
    write_config(dest, yaml.safe_load((finished / "config.yaml").read_text()), **overrides)
    return dest
