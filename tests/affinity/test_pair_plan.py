"""The workflow's glue for the scorer's pairs: learnable-only sample, the balanced plan's budget
monotonicity (raising it, or finishing pairs, only adds pairs), the infeasible-budget error, the
cost models of seed chunks, and `tasktransfer design-pairs` end to end."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from tasktransfer.affinity.pair_design import CostModel, DesignSpec
from tasktransfer.affinity.pair_plan import (
    chunk_cost_models,
    default_pair_seconds,
    learnable_sample,
    plan_pairs,
    read_pairs,
)
from tasktransfer.affinity.pairs import sample_pairs
from tasktransfer.errors import TaskTransferError

TASKS = [f"t{i:02d}" for i in range(12)]
TYPES = {t: f"T{i % 4}" for i, t in enumerate(TASKS)}
LEARNABLE = TASKS[:8]


def spec(budget: float) -> DesignSpec:
    return DesignSpec(
        min_targets_per_source=1, min_sources_per_target=2, related_per_type=1, cross_types=False,
        budget_seconds=budget,
    )


def plan(budget, finished=(), seconds=None, learnable=LEARNABLE):
    seconds = seconds or {t: 40.0 + 3 * i for i, t in enumerate(TASKS)}
    return plan_pairs(
        design="balanced", sources=TASKS, learnable=learnable, types=TYPES, seconds=seconds,
        core_seconds={t: 50.0 for t in TASKS}, finished=set(finished), m=0, seed=0, spec=spec(budget),
    )


def test_learnable_sample_is_the_sample_without_the_other_targets_and_prefix_stable():
    assert learnable_sample(TASKS, None, 10, 3) == sample_pairs(TASKS, 10, 3)
    full = [p for p in sample_pairs(TASKS, 10**6, 3) if p[1] in set(LEARNABLE)]
    assert learnable_sample(TASKS, LEARNABLE, 15, 3) == full[:15]
    assert learnable_sample(TASKS, LEARNABLE, 5, 3) == full[:5]


def test_targets_are_learnable_tasks_only():
    p = plan(5000)
    assert {t for _, t in p.pairs} <= set(LEARNABLE)
    assert all(s != t for s, t in p.pairs)


def test_raising_the_budget_only_adds_pairs():
    smallest = plan(1e9).seconds  # a plan with no budget limit
    previous = None
    for budget in range(700, 6000, 137):
        try:
            current = set(plan(budget).pairs)
        except TaskTransferError:
            assert previous is None  # infeasible only below the core's cost
            continue
        if previous is not None:
            assert previous <= current
        previous = current
    assert previous and smallest


@pytest.mark.parametrize("seed", range(4))
def test_finishing_pairs_and_raising_the_budget_never_drops_a_pair(seed):
    rng = random.Random(seed)
    first = plan(3000)
    done = set(rng.sample(first.pairs, k=len(first.pairs) // 2))
    for budget in (3000, 3500, 8000):
        later = plan(budget, finished=done)
        assert set(first.pairs) <= set(later.pairs)
        assert done <= later.finished and all(later.seconds[p] == 0 for p in done)
    # the core ignores what has finished: the same covering cells whatever ran
    assert {p for p, part in later.parts.items() if part == "core"} == {
        p for p, part in first.parts.items() if part == "core"
    }


def test_an_infeasible_budget_names_the_smallest_feasible_one():
    with pytest.raises(TaskTransferError, match=r"smallest feasible budget is (\d+)") as info:
        plan(100)
    smallest = int(info.value.args[0].split("smallest feasible budget is ")[1].split(":")[0])
    assert plan(smallest).pairs  # that budget works
    with pytest.raises(TaskTransferError):
        plan(smallest - 2)


def test_random_design_with_learnability_and_unknown_design():
    p = plan_pairs(design="random", sources=TASKS, learnable=LEARNABLE, types=TYPES, seconds=dict.fromkeys(TASKS, 1.0),
                   core_seconds={}, finished=set(), m=7, seed=0, spec=None)
    assert p.pairs == sorted(learnable_sample(TASKS, LEARNABLE, 7, 0))
    with pytest.raises(TaskTransferError, match="random or balanced"):
        plan_pairs(design="greedy", sources=TASKS, learnable=None, types=TYPES, seconds={}, core_seconds={},
                   finished=set(), m=1, seed=0, spec=None)


def test_chunk_cost_models_from_benchmarks_and_defaults(tmp_path):
    key = lambda t: (128, "tagging" if t == "pos" else "classification", 6)  # noqa: E731
    folder = tmp_path / "transfer" / "n128" / "src" / "pos"
    folder.mkdir(parents=True)
    (folder / "seed0-1.tsv").write_text("s\th:m:s\n30.0\t0:00:30\n")
    models = chunk_cost_models(tmp_path, 128, ["seed0-1", "seed2"], key)
    assert models["seed0-1"].cost(128, "tagging", 6) == 30.0  # measured
    base = CostModel()
    assert models["seed2"].cost(128, "classification", 6) == base.cost(128, "classification", 6)
    assert default_pair_seconds(["seed0-1", "seed2"], (128, "x", 6)) == pytest.approx(
        2 * base.startup_seconds + 3 * base.seconds_per_example_epoch * 128 * 6
    )


def test_design_pairs_command_writes_the_table_and_reports_an_infeasible_budget(tmp_path):
    tasks = {t: {"type": TYPES[t], "format": "classification", "epochs": 6} for t in TASKS}
    learn = tmp_path / "learnability.tsv"
    learn.write_text("task\tlearns\n" + "".join(f"{t}\t{str(t in LEARNABLE).lower()}\n" for t in TASKS))

    def run(budget):
        s = {**spec(budget).__dict__}
        return subprocess.run(
            [sys.executable, "-m", "tasktransfer.cli", "design-pairs", "--design", "balanced", "--sources", ",".join(TASKS),
             "--tasks", json.dumps(tasks), "--learnability", str(learn), "--spec", json.dumps(s), "--size", "128",
             "--examples", "128", "--chunks", "seed0-1", "--seeds", "0", "1", "--benchmarks", str(tmp_path / "b"),
             "--transfer-dir", str(tmp_path / "t"), "--out", str(tmp_path / "pairs.tsv")],
            capture_output=True, text=True, cwd=tmp_path,
        )

    done = run(4000)
    assert done.returncode == 0, done.stderr
    assert "solver status: Optimal" in done.stdout
    assert "cost model: 0 measured" in done.stdout  # no benchmark yet
    # a transfer into a held-out target (in --tasks, not a source) measures the key it shares
    tasks["held_out"] = {"type": "T9", "format": "classification", "epochs": 6}
    folder = tmp_path / "b" / "transfer" / "n128" / TASKS[0] / "held_out"
    folder.mkdir(parents=True)
    (folder / "seed0-1.tsv").write_text("s\th:m:s\n30.0\t0:00:30\n")
    measured = run(4000)
    assert measured.returncode == 0, measured.stderr
    assert "cost model: 1 measured" in measured.stdout
    assert {t for _, t in read_pairs(tmp_path / "pairs.tsv")} <= set(LEARNABLE)
    failed = run(10)
    assert failed.returncode == 2
    assert "smallest feasible budget is" in failed.stderr and failed.stderr.count("\n") == 1
