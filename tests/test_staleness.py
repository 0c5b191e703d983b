"""Only stale work reruns: dry runs on copies of one finished tiny run count the jobs Snakemake plans.

One run of a reduced tiny config finishes once per module; each scenario copies it (keeping
modification times and Snakemake's metadata), edits the config and counts the jobs a dry run plans.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import run_snakemake, snakemake_cmd, write_tiny_workdir

from tasktransfer.pairs import needed_pairs

pytestmark = pytest.mark.slow

# 3 sources, 1 target, 2 sampled pairs (5 transfer jobs); methods: one per kind of ranking input
OVERRIDES = {
    "sources": ["animal_a", "colour_a", "weather_a"],
    "targets": ["animal_b"],
    "pairs": {"m": 2},
    "selection": {"methods": ["brute_force", "cosine_mean", "scorer"], "top_k": [1]},
}
# the stages a change can start from; every other rule only follows them (gains, scorer, rankings, tables)
UPSTREAM = ("fetch_package", "prepare", "prompt_tune", "transfer")
# the control prompt is derived from the pool (e.g. the mean of the source prompts) and enters every
# target like a source: it follows a change of the pool, so its jobs may join a task's own
CONTROL = "_control"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_backbone) -> Path:
    workdir = tmp_path_factory.mktemp("staleness") / "finished"
    write_tiny_workdir(workdir, tiny_backbone, **OVERRIDES)
    run_snakemake(workdir, "--cores", "2", "--configfile", str(workdir / "config.yaml"))
    return workdir


def copy_run(finished: Path, dest: Path, **changes) -> Path:
    """A copy of the finished run (mtimes and .snakemake metadata kept) with config keys replaced."""
    shutil.copytree(finished, dest, symlinks=True)
    config_path = dest / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config.update(changes)
    config_path.write_text(yaml.safe_dump(config, sort_keys=True))
    return dest


def dry_run(workdir: Path, *targets: str) -> tuple[dict[str, int], str]:
    """Jobs per rule that `snakemake -n` plans, and its whole output."""
    # targets first: --configfile takes every word after it
    proc = run_snakemake(workdir, *targets, "-n", "--cores", "1", "--configfile", str(workdir / "config.yaml"))
    text = proc.stdout + proc.stderr
    counts: dict[str, int] = {}
    table = re.search(r"Job stats:\n.*?\n-+\s+-+\n(.*?)\ntotal\s+\d+", text, re.S)
    if table:
        for line in table.group(1).splitlines():
            rule, count = line.split()
            counts[rule] = int(count)
    else:
        assert "Nothing to be done" in text, f"no job table and not 'Nothing to be done':\n{text[-3000:]}"
    return counts, text


def planned_transfers(text: str) -> set[tuple[str, str]]:
    return set(re.findall(r"output: results/transfer/([^/\s]+)/([^/\s]+)/seed\d+/metrics\.json", text))


def planned_prompts(text: str) -> set[str]:
    return set(re.findall(r"output: results/prompts/([^/\s]+)/seed\d+/prompt\.safetensors", text))


def without_control(pairs: set[tuple[str, str]], targets: list[str]) -> set[tuple[str, str]]:
    """The pairs apart from the control's, after checking those go into known targets only."""
    control = {p for p in pairs if p[0] == CONTROL}
    assert {t for _, t in control} <= set(targets), control
    return pairs - control


def pairs_of(config: dict) -> set[tuple[str, str]]:
    return set(needed_pairs(config["sources"], config["targets"], config["pairs"]["m"], config["pairs"]["seed"]))


def load_config(workdir: Path) -> dict:
    return yaml.safe_load((workdir / "config.yaml").read_text())


def test_nothing_changed_plans_no_job(finished_run, tmp_path):
    counts, text = dry_run(copy_run(finished_run, tmp_path / "same"))
    assert counts == {}, f"a finished run with nothing changed plans {counts}:\n{text[-3000:]}"


def test_one_tasks_prompt_setting_reruns_its_prompt_and_transfers(finished_run, tmp_path):
    config = load_config(finished_run)
    work = copy_run(finished_run, tmp_path / "override", prompt_overrides={"colour_a": {"epochs": 3}})
    counts, text = dry_run(work)
    touching = {p for p in pairs_of(config) if "colour_a" in p}
    assert planned_prompts(text) - {CONTROL} == {"colour_a"}
    assert without_control(planned_transfers(text), config["targets"]) == touching
    assert counts.get("prepare", 0) == counts.get("fetch_package", 0) == 0
    # every other task's prompt and every pair without colour_a stays as it is
    assert len(touching) < len(pairs_of(config))


def test_raising_m_adds_only_the_new_pairs_and_the_scorer(finished_run, tmp_path):
    config = load_config(finished_run)
    work = copy_run(finished_run, tmp_path / "more_pairs", pairs={**config["pairs"], "m": 4})
    counts, text = dry_run(work)
    new = pairs_of(load_config(work)) - pairs_of(config)
    assert len(new) == 2
    assert planned_transfers(text) == new
    assert counts.get("prepare", 0) == counts.get("prompt_tune", 0) == 0
    assert counts["train_scorer"] == 1
    # rankings from prompts alone stay; those that read the gains or the scorer follow them
    ranked = set(re.findall(r"output: results/rankings/([a-z_]+)/", text))
    assert ranked == {"brute_force", "scorer"}


@pytest.mark.parametrize("role", ["sources", "targets"])
def test_adding_a_task_adds_its_own_jobs_and_what_follows(finished_run, tmp_path, role):
    config = load_config(finished_run)
    work = copy_run(finished_run, tmp_path / f"new_{role}", **{role: [*config[role], "colour_b"]})
    counts, text = dry_run(work)
    new = pairs_of(load_config(work)) - pairs_of(config)
    assert new and all("colour_b" in p for p in new), new
    assert without_control(planned_transfers(text), load_config(work)["targets"]) == new
    assert planned_prompts(text) - {CONTROL} == {"colour_b"}
    assert counts["prepare"] == 1


def test_scorer_setting_reruns_only_the_scorer_and_what_follows(finished_run, tmp_path):
    config = load_config(finished_run)
    work = copy_run(finished_run, tmp_path / "scorer", scorer={**config["scorer"], "epochs": config["scorer"]["epochs"] + 1})
    counts, text = dry_run(work)
    assert counts.get("train_scorer") == 1
    for rule in (*UPSTREAM, "gains", "task_table"):
        assert counts.get(rule, 0) == 0, f"{rule} reruns after a scorer change: {counts}"
    ranked = set(re.findall(r"output: results/rankings/([a-z_]+)/", text))
    assert ranked == {"scorer"}


def test_a_job_killed_midway_leaves_nothing_finished_and_the_next_run_completes_it(finished_run, tmp_path):
    # a longer prompt job for the target, so that it can be killed during training
    work = copy_run(finished_run, tmp_path / "killed", prompt_overrides={"animal_b": {"epochs": 60}})
    out = Path("results/prompts/animal_b/seed0")
    target = str(out / "metrics.json")
    log = work / "logs/prompt_tune/animal_b/seed0.log"
    log.unlink()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    cmd = snakemake_cmd(work, target, "--cores", "1", "--configfile", str(work / "config.yaml"))
    output = (tmp_path / "killed.out").open("w")
    proc = subprocess.Popen(cmd, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if log.is_file() and "eval at step" in log.read_text():
                break
            time.sleep(0.2)
        assert proc.poll() is None, f"the prompt job ended before it could be killed:\n{(tmp_path / 'killed.out').read_text()[-3000:]}"
        assert "done:" not in log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # snakemake and the job: nothing gets to clean up
        proc.wait()
        output.close()

    # snakemake itself was killed too, so its lock stayed: what a user does after a crash (docs/cluster.md)
    run_snakemake(work, "--unlock", "--cores", "1", "--configfile", str(work / "config.yaml"))
    # nothing half-written counts as finished: the old outputs are gone, the new ones never appeared
    assert not (work / out / "metrics.json").exists()
    assert not (work / out / "prompt.safetensors").exists()
    # a stray temp file of a write that was cut short changes nothing
    (work / out).mkdir(parents=True, exist_ok=True)
    (work / out / ".metrics.json.partial.tmp").write_text('{"r1": ')
    counts, _ = dry_run(work, target)
    assert counts.get("prompt_tune") == 1

    run_snakemake(work, target, "--cores", "1", "--configfile", str(work / "config.yaml"))
    metrics = json.loads((work / out / "metrics.json").read_text())
    assert "done:" in log.read_text() and metrics
    counts, _ = dry_run(work, target)
    assert counts == {}
