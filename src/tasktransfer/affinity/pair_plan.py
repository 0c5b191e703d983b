"""The scorer's training pairs of a run: a uniform sample (the paper) or the balanced design, into
learnable pool tasks only where asked. The glue between the run's files and pair_design.

Two choices made here (config/README.md, "Pairs by design"):

- The *core* (the cells that meet the minima) is solved on the cost model's **defaults** with no
  finished cell: it depends on the tasks, their types, the target specs and the minima alone,
  never on the budget, on what has run or on measured times. So a finished fill cell can never
  make a core cell redundant (pair_design's caveat), and measured times never reshuffle it.
- The *budget* is spent on the estimated seconds still to run: measured times (the run's own
  `benchmarks/transfer/`) where they exist, the defaults otherwise; a cell whose every seed has
  finished costs nothing and is always kept. The fill is then the longest prefix of the
  remaining cells in the seeded hash order of pairs.py that fits.

Hence, for the same cost estimates, raising the budget only adds pairs, and finishing cells only
adds pairs. A design is therefore made once, by the rule `design_pairs`, whose table stays until
its settings change (a design recomputed after every job would keep growing into the budget).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tasktransfer.affinity.pair_design import (
    CostModel,
    Design,
    DesignSpec,
    design_pairs,
    fit_cost_model,
    read_benchmarks,
)
from tasktransfer.affinity.pairs import Pair, pair_key, sample_pairs
from tasktransfer.errors import ArtefactError, TaskTransferError

PAIR_COLUMNS = ("source", "target", "part", "seconds", "finished")


@dataclass(frozen=True)
class PairPlan:
    pairs: list[Pair]  # sorted
    parts: dict[Pair, str]  # "core", "fill", "finished" or "sample"
    seconds: dict[Pair, float]  # estimated seconds still to run (0 when finished)
    finished: frozenset[Pair]
    cost: float  # estimated seconds still to run, all pairs
    solver_status: str = ""
    solve_seconds: float = 0.0


def learnable_sample(sources: Iterable[str], learnable: Iterable[str] | None, m: int, seed: int) -> list[Pair]:
    """The first M pairs of the hash order whose target learns (all targets when `learnable` is
    None): with every target learnable it is sample_pairs; prefix-stable in M."""
    if learnable is None:
        return sample_pairs(sources, m, seed)
    keep = set(learnable)
    tasks = sorted(set(sources))
    candidates = sorted(((s, t) for s in tasks for t in tasks if s != t and t in keep), key=lambda p: pair_key(seed, *p))
    return candidates[: max(0, m)]


def chunk_cost_models(
    benchmark_dir: str | Path,
    size: str | int,
    chunk_tags: Sequence[str],
    key_of: Callable[[str], tuple[int, str, int]],
) -> dict[str, CostModel]:
    """One cost model per seed chunk (`seed0-1-2`): fitted on the run's transfer benchmarks of
    that chunk, keyed by (target size, the target's format, its epochs); the defaults scaled by the
    chunk's seeds (one start-up, every seed's training) where nothing is measured."""
    models = {}
    root = Path(benchmark_dir) / "transfer" / f"n{size}"
    for tag in chunk_tags:
        items = []
        for path in sorted(root.glob(f"*/*/{tag}.tsv")) if root.is_dir() else []:
            target = path.parent.name
            try:
                items.append((path, key_of(target)))
            except KeyError:
                continue  # a target no longer in the run's registry
        n_seeds = len(tag.removeprefix("seed").split("-"))
        model = fit_cost_model(read_benchmarks(items)) if items else None
        if model is None or not model.measured:
            base = CostModel()
            model = CostModel(seconds_per_example_epoch=base.seconds_per_example_epoch * n_seeds)
        models[tag] = model
    return models


def pair_seconds(models: Mapping[str, CostModel], key: tuple[int, str, int]) -> float:
    """Estimated seconds of every job of one pair (one per seed chunk)."""
    return sum(model.cost(*key) for model in models.values())


def default_pair_seconds(chunk_tags: Sequence[str], key: tuple[int, str, int]) -> float:
    """The same from the documented defaults alone (what the core is solved on)."""
    base = CostModel()
    return sum(
        CostModel(seconds_per_example_epoch=base.seconds_per_example_epoch * len(tag.removeprefix("seed").split("-"))).cost(*key)
        for tag in chunk_tags
    )


def _random_plan(
    sources: Sequence[str],
    learnable: Iterable[str] | None,
    seconds: Mapping[str, float],
    done: frozenset[Pair],
    m: int,
    seed: int,
) -> PairPlan:
    """The paper's plan: the first M pairs of the hash order, into learnable targets when given."""
    pairs = learnable_sample(sources, learnable, m, seed)
    est = {p: 0.0 if p in done else float(seconds[p[1]]) for p in pairs}
    return PairPlan(sorted(pairs), dict.fromkeys(pairs, "sample"), est, done & set(pairs), sum(est.values()))


def _core_on_defaults(
    src: list[str],
    targets: list[str],
    types: Mapping[str, str],
    core_seconds: Mapping[str, float],
    spec: DesignSpec,
    say: Callable[[str], None],
) -> Design:
    """The core alone: no budget, no finished cell (its own fill, everything, is not used, nor logged)."""
    return design_pairs(
        src, targets, types, {t: core_seconds[t] for t in targets}, set(), replace(spec, budget_seconds=math.inf),
        log=lambda message: None if "fill" in message else say(message),
    )


def _parts_within_budget(
    cells: list[Pair], core: list[Pair], done: frozenset[Pair], cost: Callable[[Pair], float], budget_seconds: float
) -> tuple[dict[Pair, str], float, float]:
    """Each chosen cell's part (core, fill, finished), the core's cost and the total spent.

    The core must fit the budget; the fill is the longest prefix of the other cells in hash order
    that fits; finished cells beyond it are kept anyway, as they cost nothing.
    """
    core_cost = sum(cost(c) for c in core)
    if core_cost > budget_seconds:
        raise TaskTransferError(
            f"pair design: the covering pairs alone need about {math.ceil(core_cost)} s of transfer jobs still to run, "
            f"more than pairs.budget_seconds = {budget_seconds:g}; the smallest feasible budget is "
            f"{math.ceil(core_cost)}: raise pairs.budget_seconds to at least that, or lower the minima "
            f"(min_targets_per_source, min_sources_per_target, related_per_type, cross_types)"
        )
    parts = dict.fromkeys(core, "core")
    spent = core_cost
    for cell in cells:
        if cell in parts:
            continue
        if spent + cost(cell) > budget_seconds:
            break
        spent += cost(cell)
        parts[cell] = "fill"
    for cell in done - set(parts):  # finished cells beyond the prefix: kept, free
        parts[cell] = "finished"
    return parts, core_cost, spent


def _balanced_plan(
    sources: Sequence[str],
    learnable: Iterable[str] | None,
    types: Mapping[str, str],
    seconds: Mapping[str, float],
    core_seconds: Mapping[str, float],
    done: frozenset[Pair],
    spec: DesignSpec,
    say: Callable[[str], None],
) -> PairPlan:
    """The balanced design: the core solved on `core_seconds`, the budget spent on `seconds`."""
    src = sorted(set(sources))
    targets = sorted(set(src) & set(learnable)) if learnable is not None else src
    if not targets:
        raise TaskTransferError("pair design: no pool task learns at the target size, so no pair can be designed")
    solved = _core_on_defaults(src, targets, types, core_seconds, spec, say)
    core = solved.core
    cells = sorted(((s, t) for s in src for t in targets if s != t), key=lambda p: pair_key(spec.seed, *p))
    done = frozenset(p for p in done if p[1] in set(targets) and p[0] in set(src))

    def cost(cell: Pair) -> float:  # looked up lazily: only the cells the fill reaches
        return 0.0 if cell in done else float(seconds[cell[1]])

    parts, core_cost, spent = _parts_within_budget(cells, core, done, cost, spec.budget_seconds)
    say(
        f"pair design: core {len(core)} pairs ({core_cost:.0f} s still to run), "
        f"{sum(v == 'fill' for v in parts.values())} fill, {sum(v == 'finished' for v in parts.values())} finished "
        f"beyond the fill; {spent:.0f} of {spec.budget_seconds:g} s budget"
    )
    est = {p: cost(p) for p in parts}
    return PairPlan(sorted(parts), parts, est, done & set(parts), spent, solved.solver_status, solved.solve_seconds)


def plan_pairs(
    *,
    design: str,
    sources: Sequence[str],
    learnable: Iterable[str] | None,
    types: Mapping[str, str],
    seconds: Mapping[str, float],
    core_seconds: Mapping[str, float],
    finished: Iterable[Pair],
    m: int,
    seed: int,
    spec: DesignSpec | None,
    log: Callable[[str], None] | None = None,
) -> PairPlan:
    """The scorer's pairs: `random` (the first M of the hash order, into learnable targets when
    given) or `balanced` (core on `core_seconds`, fill on `seconds` within spec.budget_seconds).
    `seconds[t]` / `core_seconds[t]`: estimated seconds of one pair into target t."""
    say = log or (lambda _m: None)
    done = frozenset(finished)
    if design == "random":
        return _random_plan(sources, learnable, seconds, done, m, seed)
    if design != "balanced":
        raise TaskTransferError(f"pairs.design must be random or balanced, not {design!r}")
    if spec is None:
        raise TaskTransferError("pairs.design balanced needs its settings (pairs.budget_seconds, the minima)")
    return _balanced_plan(sources, learnable, types, seconds, core_seconds, done, spec, say)


def finished_pairs(candidates: Iterable[Pair], done: Callable[[str, str], bool]) -> set[Pair]:
    return {p for p in candidates if done(*p)}


def write_pairs(plan: PairPlan, path: str | Path) -> None:
    from tasktransfer.io import atomic_write_text

    lines = ["\t".join(PAIR_COLUMNS)]
    for s, t in plan.pairs:
        lines.append(f"{s}\t{t}\t{plan.parts[(s, t)]}\t{plan.seconds[(s, t)]:.1f}\t{str((s, t) in plan.finished).lower()}")
    atomic_write_text(path, "\n".join(lines) + "\n")


def read_pairs(path: str | Path) -> list[Pair]:
    """The (source, target) pairs of a table written by write_pairs, sorted."""
    try:
        with Path(path).open(newline="") as handle:
            return sorted((r["source"], r["target"]) for r in csv.DictReader(handle, delimiter="\t"))
    except (OSError, KeyError) as exc:
        raise ArtefactError(f"pairs table {path}: cannot be read ({exc})") from exc
