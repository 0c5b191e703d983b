"""The pair design: exact optima on tiny instances, budget and finished-cell stability, coverage,
the error messages, and the cost model."""

from __future__ import annotations

import itertools
import math
import random
import re
from dataclasses import replace

import pytest

from tasktransfer.affinity.pair_design import (
    DEFAULT_SECONDS_PER_EXAMPLE_EPOCH,
    DEFAULT_STARTUP_SECONDS,
    CostModel,
    DesignSpec,
    design_pairs,
    fit_cost_model,
    read_benchmarks,
)
from tasktransfer.affinity.pairs import pair_key
from tasktransfer.errors import TaskTransferError


def spec(**kw) -> DesignSpec:
    base = {"min_targets_per_source": 1, "min_sources_per_target": 1, "related_per_type": 0, "cross_types": False}
    return DesignSpec(**{**base, "budget_seconds": 1e9, **kw})


def random_instance(n: int, seed: int, n_types: int = 3):
    rng = random.Random(seed)
    tasks = [f"t{i:02d}" for i in range(n)]
    types = {t: f"T{rng.randrange(n_types)}" for t in tasks}
    targets = sorted(rng.sample(tasks, n // 2))
    cost = {t: float(rng.choice([5, 8, 12, 20, 33])) for t in targets}
    return tasks, targets, types, cost


def rank(seed: int, cell) -> str:
    return pair_key(seed, *cell)


# ----------------------------------------------------------------------------- exact optima


def test_unique_optimum_by_cost_every_source_into_the_cheap_target():
    # each source needs one target and no target needs a source: y (1 s) beats x (10 s) for all
    design = design_pairs(
        "abc",
        "xy",
        dict.fromkeys("abcxy", "T"),
        {"x": 10, "y": 1},
        set(),
        spec(min_sources_per_target=0, budget_seconds=3),
    )
    assert design.pairs == design.core == [("a", "y"), ("b", "y"), ("c", "y")]
    assert design.fill == [] and design.cost == design.core_cost == 3
    assert design.solver_status == "Optimal"


def test_tie_in_cost_is_broken_by_the_rank_sum():
    # x needs one source (4 s), every source one target: cost 4 + 1 + 1 whichever source goes
    # into x; the rank sum is sum_s r(s,y) + r(s*,x) - r(s*,y), so s* minimises r(s,x) - r(s,y)
    for seed in range(20):
        order = sorted(((s, t) for s in "abc" for t in "xy"), key=lambda c: rank(seed, c))
        r = {c: i for i, c in enumerate(order)}
        score = {s: r[s, "x"] - r[s, "y"] for s in "abc"}
        low, second = sorted(score.values())[:2]
        if low < second:
            break
    star = min(score, key=score.get)
    design = design_pairs(
        "abc", "xy", dict.fromkeys("abcxy", "T"), {"x": 4, "y": 1}, set(), spec(budget_seconds=6, seed=seed)
    )
    assert design.core == sorted([(star, "x")] + [(s, "y") for s in "abc" if s != star])
    assert design.core_cost == 6


def brute_force(sources, targets, types, cost, s: DesignSpec):
    """The lexicographic (cost, rank sum) minimum over every subset of cells, and whether unique."""
    cells = [(a, b) for a in sources for b in targets if a != b]
    r = {c: i for i, c in enumerate(sorted(cells, key=lambda c: rank(s.seed, c)))}
    best, ties = None, 0
    for mask in range(1 << len(cells)):
        chosen = [c for i, c in enumerate(cells) if mask >> i & 1]
        if not covers(chosen, sources, targets, types, s):
            continue
        value = (sum(cost[b] for _, b in chosen), sum(r[c] for c in chosen))
        if best is None or value < best[0]:
            best, ties = (value, sorted(chosen)), 1
        elif value == best[0]:
            ties += 1
    return best, ties == 1


def covers(chosen, sources, targets, types, s: DesignSpec) -> bool:
    cells = [(a, b) for a in sources for b in targets if a != b]
    for a in sources:
        have = sum(c[0] == a for c in cells)
        if sum(c[0] == a for c in chosen) < min(s.min_targets_per_source, have):
            return False
    if any(sum(c[1] == b for c in chosen) < s.min_sources_per_target for b in targets):
        return False
    combos = {(types[a], types[b]) for a, b in cells}
    for ta, tb in combos:
        n = sum(types[a] == ta and types[b] == tb for a, b in chosen)
        if ta == tb and n < s.related_per_type:
            return False
        if s.cross_types and n < 1:
            return False
    return True


@pytest.mark.parametrize("seed", range(6))
def test_core_equals_brute_force_on_tiny_random_instances(seed):
    rng = random.Random(seed)
    sources, targets = ["a", "b", "c", "d"], ["a", "x", "y"]  # 11 cells, 2048 subsets
    types = {t: rng.choice("PQ") for t in "abcdxy"}
    cost = {t: float(rng.choice([1, 2, 3, 5])) for t in targets}
    s = spec(
        related_per_type=rng.choice([0, 1]),
        cross_types=rng.choice([False, True]),
        min_sources_per_target=rng.choice([1, 2]),
        seed=seed,
    )
    (value, best), unique = brute_force(sources, targets, types, cost, s)
    design = design_pairs(sources, targets, types, cost, set(), s)
    assert design.core_cost == value[0]
    if unique:
        assert design.core == best


# ----------------------------------------------------------------------------- incrementality


def test_raising_the_budget_never_drops_a_pair():
    tasks, targets, types, cost = random_instance(12, seed=1)
    s = spec(min_sources_per_target=2, related_per_type=1, cross_types=True)
    core = design_pairs(tasks, targets, types, cost, set(), s)
    total = sum(cost[t] for a in tasks for t in targets if a != t)
    budgets = [core.core_cost, core.core_cost + 7, core.core_cost + 50, (core.core_cost + total) / 2, total]
    designs = [design_pairs(tasks, targets, types, cost, set(), replace(s, budget_seconds=b)) for b in budgets]
    for small, large in itertools.pairwise(designs):
        assert small.core == large.core  # the core does not depend on the budget
        assert set(small.pairs) <= set(large.pairs)
        assert large.fill[: len(small.fill)] == small.fill  # a prefix of one order
    assert all(d.cost <= b for d, b in zip(designs, budgets, strict=True))
    assert designs[0].fill == [] and designs[-1].fill  # at the core's cost nothing else fits
    assert len(designs[-1].pairs) == sum(a != t for a in tasks for t in targets)


def test_finished_core_cells_cost_nothing_and_the_design_stays():
    tasks, targets, types, cost = random_instance(12, seed=2)
    s = spec(min_sources_per_target=2, related_per_type=1, cross_types=True, budget_seconds=400)
    before = design_pairs(tasks, targets, types, cost, set(), s)
    assert before.fill, "the budget should leave room for a fill"
    done = set(before.core[::2])
    after = design_pairs(tasks, targets, types, cost, done, s)
    assert after.core == before.core  # fixing part of the optimum keeps the rest optimal
    assert set(before.pairs) <= set(after.pairs)
    assert after.core_cost == pytest.approx(before.core_cost - sum(cost[t] for _, t in done))
    assert after.cost == pytest.approx(sum(cost[t] for c in after.pairs if c not in done for t in [c[1]]))
    # everything chosen before is finished: all of it stays, and the budget buys new pairs
    everything = design_pairs(tasks, targets, types, cost, set(before.pairs), s)
    assert set(before.pairs) < set(everything.pairs) and everything.core_cost == 0


@pytest.mark.parametrize("seed", range(5))
def test_finished_pairs_of_a_design_are_never_dropped(seed):
    # any finished subset, fill cells included: those may make an unfinished core cell redundant
    # (see the module docstring), but finished work always stays and the budget holds
    tasks, targets, types, cost = random_instance(10, seed=seed)
    s = spec(min_sources_per_target=2, cross_types=True, budget_seconds=300)
    before = design_pairs(tasks, targets, types, cost, set(), s)
    done = set(random.Random(seed).sample(before.pairs, len(before.pairs) // 3))
    after = design_pairs(tasks, targets, types, cost, done, s)
    assert done <= set(after.core) and after.cost <= s.budget_seconds


def test_finished_cells_are_always_kept_and_cost_nothing():
    tasks, targets, types, cost = random_instance(10, seed=3)
    s = spec(budget_seconds=0)  # no budget: only what is finished can be in the design
    allowed = sorted((a, t) for a in tasks for t in targets if a != t)
    with pytest.raises(TaskTransferError):
        design_pairs(tasks, targets, types, cost, set(), s)
    done = set(allowed)
    design = design_pairs(tasks, targets, types, cost, done | {("zz", targets[0])}, s)
    assert design.pairs == allowed and design.cost == 0  # unknown tasks' finished pairs ignored


def test_source_never_equals_target():
    tasks, _, types, cost = random_instance(8, seed=4)
    cost = dict.fromkeys(tasks, 1.0)
    design = design_pairs(
        tasks,
        tasks,
        types,
        cost,
        {(tasks[0], tasks[0])},
        spec(min_sources_per_target=3, min_targets_per_source=9, budget_seconds=1e6),
    )
    assert design.pairs and all(a != b for a, b in design.pairs)
    assert len(design.pairs) == 8 * 7  # the big budget takes all, still without self pairs


# ----------------------------------------------------------------------------- coverage, errors


def test_coverage_holds_on_a_random_20_task_instance():
    tasks, targets, types, cost = random_instance(20, seed=5, n_types=4)
    s = spec(
        min_targets_per_source=2, min_sources_per_target=3, related_per_type=2, cross_types=True, budget_seconds=1e6
    )
    design = design_pairs(tasks, targets, types, cost, set(), s)
    assert covers(design.core, tasks, targets, types, s)
    assert covers(design.pairs, tasks, targets, types, s)
    assert design.solver_status == "Optimal" and design.n_variables == sum(a != t for a in tasks for t in targets)


def test_budget_below_the_core_names_the_smallest_feasible_budget():
    tasks, targets, types, cost = random_instance(12, seed=6)
    cost = {t: c + 0.3 for t, c in cost.items()}  # a fractional core cost, rounded up
    s = spec(min_sources_per_target=2, cross_types=True)
    core = design_pairs(tasks, targets, types, cost, set(), s)
    with pytest.raises(TaskTransferError, match="budget_seconds") as info:
        design_pairs(tasks, targets, types, cost, set(), replace(s, budget_seconds=core.core_cost - 1))
    numbers = re.search(r"smallest feasible budget is (\d+)", str(info.value))
    assert numbers and int(numbers.group(1)) == math.ceil(core.core_cost)
    ok = design_pairs(tasks, targets, types, cost, set(), replace(s, budget_seconds=math.ceil(core.core_cost)))
    assert ok.core == core.core


def test_minima_that_cannot_be_met_are_named():
    tasks, targets, types, cost = random_instance(8, seed=7)
    with pytest.raises(TaskTransferError, match=r"min_sources_per_target: target '.*' needs 8 pairs but only 7"):
        design_pairs(tasks, targets, types, cost, set(), spec(min_sources_per_target=8))
    with pytest.raises(TaskTransferError, match=r"related_per_type: type"):
        design_pairs(tasks, targets, types, cost, set(), spec(related_per_type=50))


# ----------------------------------------------------------------------------- cost model


def test_cost_model_medians_fallback_and_default():
    rows = [{"target_size": 128, "format": "cls", "epochs": 6, "seconds": s} for s in (19.0, 21.0, 40.0)] + [
        {"target_size": 256, "format": "gen", "epochs": 4, "seconds": s} for s in (30.0, 26.0)
    ]
    model = fit_cost_model(rows)
    assert model.cost(128, "cls", 6) == 21.0 and model.cost(256, "gen", 4) == 28.0
    # unseen key: 5 s start-up + the median per-example-epoch rate of the measured keys
    rate = ((21 - 5) / 768 + (28 - 5) / 1024) / 2  # the median of two rates is their mean
    assert model.cost(512, "cls", 6) == pytest.approx(5 + rate * 512 * 6)
    empty = fit_cost_model([])
    assert empty == CostModel()
    assert empty.cost(128, "cls", 6) == pytest.approx(DEFAULT_STARTUP_SECONDS + DEFAULT_SECONDS_PER_EXAMPLE_EPOCH * 768)
    assert 19 < empty.cost(128, "cls", 6) < 21  # the default run: 128 examples x 6 epochs ~ 20 s


def test_read_benchmarks_from_snakemake_tsv(tmp_path):
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    a.write_text(
        header
        + "20.5\t0:00:20\t900\t1000\t800\t850\t1\t2\t95\t39\n"
        + "19.5\t0:00:19\t900\t1000\t800\t850\t1\t2\t95\t38\n"
    )
    b.write_text(header + "31.0\t0:00:31\t900\t1000\t800\t850\t1\t2\t95\t60\n")
    rows = read_benchmarks({a: (128, "cls", 6), str(b): (256, "gen", 4)})
    assert rows == [
        {"target_size": 128, "format": "cls", "epochs": 6, "seconds": 20.5},
        {"target_size": 128, "format": "cls", "epochs": 6, "seconds": 19.5},
        {"target_size": 256, "format": "gen", "epochs": 4, "seconds": 31.0},
    ]
    assert fit_cost_model(rows).cost(128, "cls", 6) == 20.0
    pandas = pytest.importorskip("pandas")  # a DataFrame of the same rows fits the same model
    assert fit_cost_model(pandas.DataFrame(rows)) == fit_cost_model(rows)
    (tmp_path / "bad.tsv").write_text("x\ty\n1\t2\n")
    with pytest.raises(TaskTransferError, match="column 's'"):
        read_benchmarks([(tmp_path / "bad.tsv", (1, "cls", 1))])
