"""`--config` on the command line: the seeds given there reach the plan, every `--config` example in
the docs is dry-run as printed, and a task in two roles is refused before any job (the typing of
the strings Snakemake hands over, by the schema, is tests/test_configuration.py)."""

from __future__ import annotations

import re
import shlex
import shutil

import pytest
import yaml

from conftest import REPO, run_snakemake, write_tiny_workdir

DOCS = [REPO / "README.md", REPO / "config" / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _planned(stdout: str) -> dict[str, int]:
    jobs = {}
    for line in stdout.split("Job stats:")[-1].splitlines():
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if m and m.group(1) != "total":
            jobs[m.group(1)] = int(m.group(2))
    return jobs


def _target_role(config: dict) -> set[str]:
    """Tasks tuned in the target role: targets, novel targets and pool tasks a scorer pair enters;
    every task where the learnability check is on (`pairs.learnable_only`: r1 of each task)."""
    from tasktransfer.affinity.pairs import sample_pairs

    if config["pairs"].get("learnable_only"):
        return set(config["sources"]) | set(config["targets"]) | set(config.get("novel_targets", []))
    entered = {t for _, t in sample_pairs(config["sources"], config["pairs"]["m"], config["pairs"]["seed"])}
    return entered | set(config["targets"]) | set(config.get("novel_targets", []))


def _target_runs(stdout: str) -> set[tuple[str, int]]:
    """(task, seed) of every target-role run a dry run plans (a job trains a chunk of seeds as replicas)."""
    found = re.findall(r"results/targets/n\w+/([^/\s]+)/seed(\d+)/metrics\.json", stdout)
    return {(task, int(seed)) for task, seed in found}


@pytest.mark.slow
def test_seeds_on_the_command_line_plan_every_target_run_of_every_seed(tmp_path, tiny_backbone):
    workdir = tmp_path / "run"
    config_file = write_tiny_workdir(workdir, tiny_backbone)
    config = yaml.safe_load(config_file.read_text())
    proc = run_snakemake(workdir, "-n", "--configfile", str(config_file), "--config", "seeds=[0,1]")
    assert _target_runs(proc.stdout) == {(t, s) for t in _target_role(config) for s in (0, 1)}


def _config_examples() -> list[tuple[str, str]]:
    """(file, command) of every `snakemake ... --config ...` the docs print."""
    found = []
    for doc in DOCS:
        for match in re.finditer(r"`(snakemake [^`\n]*--config [^`\n]*)`|^\s*(snakemake .*--config .*)$", doc.read_text(), re.M):
            command = (match.group(1) or match.group(2)).split("#")[0].strip()
            found.append((doc.relative_to(REPO).as_posix(), command))
    return found


def test_the_docs_print_config_examples():
    # guards the next test against passing vacuously after a docs edit
    assert ("README.md", "snakemake --cores 2 --config seeds=[0,1]") in _config_examples()


@pytest.mark.slow
@pytest.mark.parametrize(("doc", "command"), _config_examples())
def test_config_examples_in_the_docs_plan_as_printed(tmp_path, doc, command):
    """Each example, dry-run in a fresh directory with a copy of `config/` (the default config)."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    args = shlex.split(command)[1:]
    proc = run_snakemake(tmp_path, "-n", *args, check=False, timeout=300)
    assert proc.returncode == 0, f"{doc}: `{command}` failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    cli = args[args.index("--config") + 1 :]
    seeds = [a for a in cli if a.startswith("seeds=")]
    if seeds:  # the seeds really reached the plan: a target-role run per (task, seed)
        wanted = yaml.safe_load(seeds[0].split("=", 1)[1])
        config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
        assert _target_runs(proc.stdout) == {(t, int(s)) for t in _target_role(config) for s in wanted}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"sources": ["colour_a", "animal_a", "animal_b"], "targets": ["animal_b"]},
         "tasks ['animal_b'] are both sources and targets"),
        ({"novel_targets": ["colour_a"]}, "novel targets ['colour_a'] are also sources or targets"),
    ],
)
def test_a_task_in_two_roles_is_refused_before_any_job(tmp_path, tiny_backbone, overrides, words):
    """A target in the pool would train the scorer on its own pairs and rank itself."""
    workdir = tmp_path / "run"
    config_file = write_tiny_workdir(workdir, tiny_backbone, **overrides)
    proc = run_snakemake(workdir, "-n", "--configfile", str(config_file), check=False)
    assert proc.returncode != 0
    assert words in proc.stdout + proc.stderr
    assert not (workdir / "results").exists()
