"""config/matrix.yaml plans the transfer matrix of issue 29 and grows it in increments: at least 40
held-out targets that learn at their recorded size, at least 8 sources, 2 seeds, complete rows and
the control; `make matrix INCREMENT=k` (targets_first) adds rows without touching the pool, the
learnability table or the pool pairs' design. Dry runs only: the matrix itself is not made here."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import REPO, run_snakemake
from tasktransfer.data.registry import load_registry

pytestmark = pytest.mark.slow

MATRIX = REPO / "config" / "matrix.yaml"


def matrix_rows() -> list[int]:
    """The rows after each increment, as the Makefile's `matrix` target takes them."""
    match = re.search(r"^MATRIX_ROWS := (.+)$", (REPO / "Makefile").read_text(), re.M)
    assert match is not None, "the Makefile names no MATRIX_ROWS"
    return [int(n) for n in match.group(1).split()]


def survey_sizes() -> dict[str, str]:
    """docs/tasks.md's task survey: task -> the size it learns at ("128", "512", "not ...")."""
    sizes = {}
    for line in (REPO / "docs" / "tasks.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 9 and cells[0].startswith("`"):
            sizes[cells[0].split("`")[1]] = cells[-1]
    return sizes


def test_matrix_config_chooses_forty_learnable_targets_and_distinct_sources():
    config = yaml.safe_load(MATRIX.read_text())
    registry = load_registry(REPO / config["tasks_registry"])
    sources, targets = config["sources"], config["targets"]
    assert len(targets) >= 40 and len(sources) >= 8 and len(config["seeds"]) == 2
    assert len(set(targets)) == len(targets) and not set(sources) & set(targets)
    # no two tasks of the matrix read the same corpus and labels (`counts_with`)
    tasks = [*sources, *targets]
    for task in tasks:
        other = registry[task].counts_with
        assert other is None or other not in tasks, f"{task} counts with {other}, both in the matrix"
    # every target learns at the size it is tuned at: 128, or its registry's target_train (512)
    assert config["data"]["target_train"] == 128 and config["data"]["target_train_per_task"]
    survey = survey_sizes()
    for target in targets:
        size = registry[target].target_train or 128
        assert survey.get(target) == str(size), f"{target}: survey says {survey.get(target)!r}, tuned at {size}"
        assert size <= config["data"]["max_train"]
    assert len({registry[t].type for t in targets}) >= 15
    # the primary comparison is named in the config, before any row
    assert config["selection"]["primary"] == {"method": "logme", "baseline": "cosine_mean", "metric": "spearman"}
    assert config["pairs"]["design"] == "balanced" and config["pairs"]["learnable_only"]
    # the increments: growing, ending with every target
    rows = matrix_rows()
    assert rows == sorted(set(rows)) and rows[-1] == len(targets) and config["targets_first"] == 0


def dry_run(tmp_path, rows: int) -> str:
    return run_snakemake(
        tmp_path, "-n", "-p", "--configfile", str(MATRIX),
        "--config", f"tasks_registry={REPO / 'config' / 'tasks.yaml'}", f"resources_dir={tmp_path / 'resources'}",
        f"targets_first={rows}",
        timeout=600,
    ).stdout


def job_counts(plan: str) -> dict[str, int]:
    stats = plan.split("Job stats:")[-1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)}


def commands(plan: str, tool: str) -> set[str]:
    """The planned shell commands of one subcommand (`tasktransfer transfer ...`), whole."""
    lines = (line.strip().removeprefix("Shell command: ") for line in plan.splitlines())
    return {line for line in lines if line.startswith(f"tasktransfer {tool} ")}


def test_an_increment_adds_rows_and_changes_nothing_before_them(tmp_path):
    config = yaml.safe_load(MATRIX.read_text())
    sources, targets, rows = config["sources"], config["targets"], matrix_rows()
    first, second = dry_run(tmp_path, rows[0]), dry_run(tmp_path, rows[1])
    for plan, n in ((first, rows[0]), (second, rows[1])):
        counts = job_counts(plan)
        # complete rows of the first n targets and the control, one job per pair (2 seeds as replicas)
        assert counts["transfer"] == n * (len(sources) + 1)
        # every listed task is tuned and checked for learnability from the first increment on
        assert counts["target_tune"] == len(sources) + len(targets)
        assert counts["learnability"] == 1 and counts["design_pairs"] == 1
    # the tasks that learn only at 512 are tuned at 512, the rest at 128
    registry = load_registry(REPO / config["tasks_registry"])
    at_512 = set(re.findall(r"results/targets/n512/([a-z0-9_]+)/", first))
    assert at_512 == {t for t in [*sources, *targets] if registry[t].target_train == 512}
    assert at_512 and not at_512 & set(re.findall(r"results/targets/n128/([a-z0-9_]+)/", first))
    # the second increment runs the first one's jobs with the same commands (nothing reruns) and
    # designs the pool pairs from the same inputs and settings
    for tool in ("transfer", "prompt-tune", "learnability", "design-pairs", "prepare"):
        assert commands(first, tool) and commands(first, tool) <= commands(second, tool), tool
    new_rows = commands(second, "transfer") - commands(first, "transfer")
    assert len(new_rows) == (rows[1] - rows[0]) * (len(sources) + 1)
    assert all(any(f"/{t}/seed" in c for t in targets[rows[0]:rows[1]]) for c in new_rows)


def test_a_target_size_above_max_train_is_refused_before_any_job(tmp_path):
    proc = run_snakemake(
        tmp_path, "-n", "--configfile", str(MATRIX),
        "--config", f"tasks_registry={REPO / 'config' / 'tasks.yaml'}", "data={max_train: 300, target_train: 128, "
        "target_train_per_task: true}",
        check=False, timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "learns at 512 training examples" in out and "raise data.max_train to 512" in out
