"""A balanced design of which (source, target) transfer jobs to run, as a small integer program.

Sampling pairs uniformly (pairs.sample_pairs) can leave a source with no target, a target with
no source, or a task type without any related pair. Here a *core* of cells x_ij (source i into
learnable target j, i != j) covers those minima at the least estimated cost, and the budget left
is *filled* with more cells in the seeded hash order of pairs.py.

    core:  min  sum_ij cost_ij x_ij + eps * rank_ij x_ij      x_ij in {0, 1}
           s.t. sum_j x_ij >= min(min_targets_per_source, #targets of i)    each source i
                sum_i x_ij >= min_sources_per_target                         each target j
                sum_{same type T} x_ij >= related_per_type                   each type T with a cell
                sum_{type(i)=A, type(j)=B} x_ij >= 1                         each possible (A, B)
           finished cells cost 0 and are fixed at 1 (they are constants, not variables).
    fill:  the other cells in hash order, each added while the unfinished cost of the design
           stays within the budget, stopping at the first that does not fit.

eps "small enough never to trade against a real cost" is solved exactly, not with a tiny float
that CBC's tolerances (1e-7 and up) would blur: costs are whole milliseconds, a first solve finds
the least cost C, a second keeps cost <= C and minimises the rank sum (the limit eps -> 0).

Why this is incremental:
- The core does not depend on the budget, and the fill is a prefix of one fixed order with
  non-negative costs, so raising the budget only adds pairs.
- Marking cells of the core finished keeps the core and never drops a chosen pair. Let x* be the
  core with finished set F, G a subset of x*, F' = F | G. The feasible set with F' is the one with
  F cut by x_G = 1, so smaller, and it still holds x*. On it the objective with F' is the
  objective with F minus a constant (G's costs and ranks, now fixed terms). So x* is still a
  minimiser, and the only one, as it was the only one on the larger set: the core is unchanged.
  The cells left for the fill are the same with the same costs and order, and the fill's budget
  grew by G's cost, so its prefix can only get longer.
- Caveat: a finished cell *outside* the core (a fill cell) is a new constraint the old optimum
  did not meet; it may make an unfinished core cell redundant, which then leaves the core and
  stays in the design only if the fill's prefix reaches it. Finished cells are never dropped
  (fixed at 1), so no work is lost, but the plan of jobs not yet run can change.
- "The only one": the rank sum breaks every tie in cost, except two covers with equal cost and
  equal rank sum (possible, rare); CBC then returns one deterministically for a given model.
"""

from __future__ import annotations

import csv
import math
import statistics
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulp

from tasktransfer.errors import ArtefactError, TaskTransferError
from tasktransfer.affinity.pairs import Pair, pair_key

# Defaults when nothing is measured, from the 2-core AVX-512 BF16 CPU default run:
# 128 training examples x 6 epochs took ~20 s per transfer job = 5 s start-up + 0.02 s x 768.
DEFAULT_SECONDS_PER_EXAMPLE_EPOCH = 0.02
DEFAULT_STARTUP_SECONDS = 5.0

CostKey = tuple[int, str, int]  # (target size, format, epochs)


@dataclass(frozen=True)
class DesignSpec:
    min_targets_per_source: int
    min_sources_per_target: int
    related_per_type: int
    cross_types: bool
    budget_seconds: float
    time_limit_seconds: float = 60
    seed: int = 0


@dataclass(frozen=True)
class Design:
    pairs: list[Pair]  # core | fill, sorted
    core: list[Pair]  # the ILP's covering cells (finished ones included), sorted
    fill: list[Pair]  # cells added by budget, in hash order (a prefix of the remaining cells)
    cost: float  # estimated seconds of the unfinished chosen cells
    core_cost: float  # the same for the core alone: the smallest budget that works
    solver_status: str  # pulp's status string
    solve_seconds: float
    n_variables: int = 0
    n_constraints: int = 0


# ----------------------------------------------------------------------------- cost model


@dataclass(frozen=True)
class CostModel:
    """Estimated seconds of one transfer job, by (target size, format, epochs)."""

    measured: Mapping[CostKey, float] = field(default_factory=dict)  # median seconds per key
    seconds_per_example_epoch: float = DEFAULT_SECONDS_PER_EXAMPLE_EPOCH
    startup_seconds: float = DEFAULT_STARTUP_SECONDS

    def cost(self, target_size: int, fmt: str, epochs: int) -> float:
        key = (int(target_size), str(fmt), int(epochs))
        if key in self.measured:
            return self.measured[key]
        return self.startup_seconds + self.seconds_per_example_epoch * key[0] * key[2]


def _records(rows: Any) -> list[Mapping[str, Any]]:
    # a DataFrame without importing pandas here: it is the only input with to_dict("records")
    return list(rows.to_dict("records")) if hasattr(rows, "to_dict") else list(rows)


def fit_cost_model(benchmark_rows: Any) -> CostModel:
    """Median seconds per key; unseen keys get start-up + a per-example-epoch rate fitted across
    keys (start-up fixed, not fitted: a few keys cannot pin down both, and a negative intercept
    would be worse); with nothing measured, the documented defaults."""
    by_key: dict[CostKey, list[float]] = defaultdict(list)
    for row in _records(benchmark_rows):
        key = (int(row["target_size"]), str(row["format"]), int(row["epochs"]))
        by_key[key].append(float(row["seconds"]))
    if not by_key:
        return CostModel()
    medians = {key: statistics.median(values) for key, values in sorted(by_key.items())}
    # start-up never above a measured job (fast GPU runs), so rates stay non-negative
    startup = min(DEFAULT_STARTUP_SECONDS, *medians.values())
    rates = [(s - startup) / (size * epochs) for (size, _, epochs), s in medians.items() if size * epochs > 0]
    rate = statistics.median(rates) if rates else DEFAULT_SECONDS_PER_EXAMPLE_EPOCH
    return CostModel(measured=medians, seconds_per_example_epoch=rate, startup_seconds=startup)


def read_benchmarks(
    paths_with_keys: Mapping[str | Path, CostKey] | Iterable[tuple[str | Path, CostKey]],
) -> list[dict[str, Any]]:
    """Rows for fit_cost_model from Snakemake `benchmark:` TSVs (seconds in column `s`; one row per
    repeat). The key of each file, (target size, format, epochs), is not in the file: the caller
    knows it from the job's wildcards and the task registry."""
    items = paths_with_keys.items() if isinstance(paths_with_keys, Mapping) else paths_with_keys
    rows: list[dict[str, Any]] = []
    for path, (size, fmt, epochs) in items:
        path = Path(path)
        try:
            with path.open(newline="") as handle:
                table = list(csv.DictReader(handle, delimiter="\t"))
        except OSError as exc:
            raise ArtefactError(f"benchmark file {path}: cannot be read ({exc})") from exc
        for line, record in enumerate(table, start=2):
            try:
                seconds = float(record["s"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ArtefactError(
                    f"benchmark file {path}, line {line}: no number in column 's' (a Snakemake benchmark TSV has one)"
                ) from exc
            rows.append({"target_size": int(size), "format": str(fmt), "epochs": int(epochs), "seconds": seconds})
    return rows


# ----------------------------------------------------------------------------- design


def _check_inputs(
    sources: list[str], targets: list[str], types: Mapping[str, str], cost: Mapping[str, float], spec: DesignSpec
) -> None:
    untyped = sorted(t for t in {*sources, *targets} if t not in types)
    if untyped:
        raise TaskTransferError(f"pair design: tasks without a type in `types`: {', '.join(untyped[:10])}")
    uncosted = sorted(t for t in targets if t not in cost)
    if uncosted:
        raise TaskTransferError(f"pair design: targets without an estimated cost: {', '.join(uncosted[:10])}")
    negative = sorted(t for t in targets if not cost[t] >= 0)  # also catches NaN
    if negative:
        raise TaskTransferError(f"pair design: negative or NaN cost for targets: {', '.join(negative[:10])}")
    for name in ("min_targets_per_source", "min_sources_per_target", "related_per_type"):
        if getattr(spec, name) < 0:
            raise TaskTransferError(f"pair design: pairs.{name} = {getattr(spec, name)} must be >= 0")


def _coverage(
    cells: list[Pair], sources: list[str], targets: list[str], types: Mapping[str, str], spec: DesignSpec
) -> tuple[list[tuple[str, list[Pair], int]], list[str]]:
    """The covering constraints as (name, cells, required), and the ones no design can meet."""
    by_source: dict[str, list[Pair]] = defaultdict(list)
    by_target: dict[str, list[Pair]] = defaultdict(list)
    by_types: dict[tuple[str, str], list[Pair]] = defaultdict(list)
    for cell in cells:
        by_source[cell[0]].append(cell)
        by_target[cell[1]].append(cell)
        by_types[types[cell[0]], types[cell[1]]].append(cell)
    rows: list[tuple[str, list[Pair], int]] = []
    unmet: list[str] = []

    def need(name: str, group: list[Pair], required: int, fix: str) -> None:
        if required <= 0:
            return
        if len(group) < required:
            unmet.append(f"{name} needs {required} pairs but only {len(group)} exist ({fix})")
        rows.append((name, group, required))

    for s in sources:  # capped by design: a source may have few targets other than itself
        rows.append((f"source '{s}'", by_source[s], min(spec.min_targets_per_source, len(by_source[s]))))
    for t in targets:
        need(
            f"min_sources_per_target: target '{t}'",
            by_target[t],
            spec.min_sources_per_target,
            "lower pairs.min_sources_per_target or add sources",
        )
    for (a, b), group in sorted(by_types.items()):
        if a == b:  # a learnable target of type a and another task of type a as source
            need(
                f"related_per_type: type '{a}'",
                group,
                spec.related_per_type,
                "lower pairs.related_per_type or add tasks of that type",
            )
        if spec.cross_types:
            rows.append((f"cross_types: '{a}' -> '{b}'", group, 1))
    return [r for r in rows if r[2] > 0], unmet


def _solve(problem: pulp.LpProblem, seconds: float, warm: bool) -> tuple[str, str, float]:
    start = time.perf_counter()
    with warnings.catch_warnings():  # pulp 3.3 flags the bundled CBC for 4.0; pinned to 3.3.2
        warnings.simplefilter("ignore", DeprecationWarning)
        solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=max(1.0, seconds), warmStart=warm)
    problem.solve(solver)
    return pulp.LpStatus[problem.status], pulp.LpSolution[problem.sol_status], time.perf_counter() - start


#: CBC's answers that carry a usable (feasible) solution; only the first is proven optimal
_FOUND = ("Optimal Solution Found", "Solution Found")


@dataclass(frozen=True)
class _CoreModel:
    """The covering ILP: one binary x per unfinished cell, costs in whole milliseconds."""

    problem: pulp.LpProblem
    x: dict[Pair, Any]
    ms: dict[Pair, int]
    free: list[Pair]
    n_constraints: int


def _core_model(
    cells: list[Pair],
    rank: dict[Pair, int],
    done: set[Pair],
    rows: list[tuple[str, list[Pair], int]],
    seconds: dict[Pair, float],
) -> _CoreModel:
    """The first stage's model: least cost subject to the covering rows, finished cells as constants."""
    # finished cells are constants: they lower a constraint's right-hand side instead of being
    # variables, which keeps the model small as a study progresses
    free = [cell for cell in cells if cell not in done]
    problem = pulp.LpProblem("pair_design", pulp.LpMinimize)
    # names by rank: task names may hold characters an LP file does not take
    x = {cell: problem.add_variable(f"x{rank[cell]}", cat=pulp.LpBinary) for cell in free}
    ms = {cell: round(1000 * seconds[cell]) for cell in free}  # whole ms: an integral objective
    problem += pulp.lpSum(ms[c] * x[c] for c in free)
    n_constraints = 0
    for i, (name, group, required) in enumerate(rows):
        rest = required - sum(cell in done for cell in group)
        if rest > 0:
            problem += pulp.lpSum(x[c] for c in group if c in x) >= rest, f"c{i}"
            n_constraints += 1
    return _CoreModel(problem, x, ms, free, n_constraints)


def _solve_core(
    model: _CoreModel, rank: dict[Pair, int], seconds_limit: float, say: Callable[[str], None]
) -> tuple[str, float]:
    """Solve the model in place, least cost then (the eps term) least rank sum at that cost;
    return pulp's status and the seconds spent. The x values hold the core afterwards."""
    if not model.n_constraints:  # the optimum is plainly nothing beyond the finished cells
        say(f"pair design: {len(model.free)} variables, no constraint left to cover; nothing to solve")
        return "Optimal", 0.0
    problem, x, free = model.problem, model.x, model.free
    status, solution, t1 = _solve(problem, seconds_limit, warm=False)
    if solution not in _FOUND:
        raise TaskTransferError(
            f"pair design: the solver found no design ({status}, {solution}) within "
            f"{seconds_limit:g} s; raise pairs.time_limit_seconds or lower the minima"
        )
    least = round(pulp.value(problem.objective) or 0)
    first = {c: round(x[c].value() or 0) for c in free}
    # second stage, the eps term: among designs of least cost, the smallest rank sum
    for c in free:
        x[c].setInitialValue(first[c])
    problem.setObjective(pulp.lpSum(rank[c] * x[c] for c in free))
    problem += pulp.lpSum(model.ms[c] * x[c] for c in free) <= least, "least_cost"
    status2, solution2, t2 = _solve(problem, seconds_limit - t1, warm=True)
    if solution2 not in _FOUND:  # keep the first stage's
        for c in free:
            x[c].varValue = first[c]
    if solution != "Optimal Solution Found" or solution2 != "Optimal Solution Found":
        say(
            f"pair design: WARNING time limit hit ({solution}, {solution2}): the design is feasible but "
            f"not proven optimal, so it may change between runs; raise pairs.time_limit_seconds"
        )
        status = status if solution != "Optimal Solution Found" else status2
    say(
        f"pair design: {len(free)} variables, {model.n_constraints} constraints; CBC {status} "
        f"(cost stage {t1:.2f} s, tie-break stage {t2:.2f} s)"
    )
    return status, t1 + t2


def _check_core_fits(core_cost: float, budget_seconds: float) -> None:
    if core_cost > budget_seconds:
        raise TaskTransferError(
            f"pair design: the covering pairs alone need about {math.ceil(core_cost)} s of transfer jobs, "
            f"more than pairs.budget_seconds = {budget_seconds:g}; the smallest feasible budget is "
            f"{math.ceil(core_cost)}: raise pairs.budget_seconds to at least that, or lower the minima "
            f"(min_targets_per_source, min_sources_per_target, related_per_type, cross_types)"
        )


def _fill(
    cells: list[Pair], core: list[Pair], core_cost: float, seconds: dict[Pair, float], budget_seconds: float
) -> tuple[list[Pair], float]:
    """A prefix of the cells outside the core in hash order, while the total stays within the
    budget (so a larger budget only adds pairs); with the total spent, core included."""
    chosen, spent, fill = set(core), core_cost, []
    for cell in cells:
        if cell in chosen:
            continue
        if spent + seconds[cell] > budget_seconds:
            break
        spent += seconds[cell]
        fill.append(cell)
    return fill, spent


def design_pairs(
    sources: Iterable[str],
    targets: Iterable[str],
    types: Mapping[str, str],
    cost: Mapping[str, float],
    finished: set[Pair] | frozenset[Pair],
    spec: DesignSpec,
    log: Callable[[str], None] | None = None,
) -> Design:
    """Which transfer pairs to run: the cheapest covering core, then the budget filled in hash order.

    `targets` are the learnable targets; `cost[t]` the estimated seconds of one job into t;
    `finished` pairs cost nothing and are always kept (those not between a source and a target
    of this call are ignored). Raises TaskTransferError if the minima cannot be met or the core
    does not fit in `spec.budget_seconds`.
    """
    say = log or (lambda _message: None)
    src, tgt = sorted(set(sources)), sorted(set(targets))
    _check_inputs(src, tgt, types, cost, spec)
    cells = sorted(((s, t) for s in src for t in tgt if s != t), key=lambda p: pair_key(spec.seed, *p))
    rank = {cell: i + 1 for i, cell in enumerate(cells)}  # hash order of pairs.py
    done = {cell for cell in finished if cell in rank}
    rows, unmet = _coverage(cells, src, tgt, types, spec)
    if unmet:
        more = f" (and {len(unmet) - 5} more)" if len(unmet) > 5 else ""
        raise TaskTransferError("pair design: the minima cannot be met: " + "; ".join(unmet[:5]) + more)
    seconds = {cell: 0.0 if cell in done else float(cost[cell[1]]) for cell in cells}  # finished: free

    model = _core_model(cells, rank, done, rows, seconds)
    status, solve_seconds = _solve_core(model, rank, spec.time_limit_seconds, say)
    core = sorted(done | {c for c in model.free if model.n_constraints and (model.x[c].value() or 0) > 0.5})
    core_cost = sum(seconds[c] for c in core)
    _check_core_fits(core_cost, spec.budget_seconds)
    fill, spent = _fill(cells, core, core_cost, seconds, spec.budget_seconds)
    say(
        f"pair design: core {len(core)} pairs ({core_cost:.0f} s), fill {len(fill)} pairs, "
        f"{spent:.0f} of {spec.budget_seconds:g} s budget"
    )
    return Design(
        pairs=sorted(set(core) | set(fill)),
        core=core,
        fill=fill,
        cost=spent,
        core_cost=core_cost,
        solver_status=status,
        solve_seconds=solve_seconds,
        n_variables=len(model.free),
        n_constraints=model.n_constraints,
    )
