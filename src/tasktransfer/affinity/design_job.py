"""The design job (``tasktransfer design-pairs``): which tasks may be targets (the learnability
table), what a pair's transfer costs (the run's benchmarks, defaults elsewhere), which pairs are
finished, and the pairs of the random or balanced design written as the checkpoint's table."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tasktransfer.affinity.pair_design import DesignSpec
from tasktransfer.affinity.pair_plan import chunk_cost_models, default_pair_seconds, pair_seconds, plan_pairs, write_pairs
from tasktransfer.errors import ArtefactError, TaskTransferError
from tasktransfer.run_layout import transfer_metrics_in
from tasktransfer.runtime import log


def read_learnable(path: str | Path) -> dict[str, bool]:
    """task -> learns, from a learnability table (analysis/learnability.py writes it)."""
    try:
        with Path(path).open(newline="") as handle:
            return {r["task"]: r["learns"].strip().lower() == "true" for r in csv.DictReader(handle, delimiter="\t")}
    except (OSError, KeyError) as exc:
        raise ArtefactError(f"learnability table {path}: cannot be read ({exc})") from exc


@dataclass(frozen=True)
class DesignJob:
    design: str  # random or balanced
    sources: Sequence[str]
    tasks: Mapping[str, Mapping]  # task -> {type, format, epochs}
    size: str  # the target size as in paths (128 or all)
    examples: int  # training examples of a target: the cost model's size
    chunks: Sequence[str]  # seed chunk tags of a transfer job (seed0-1-2)
    seeds: Sequence[int]
    transfer_dir: str  # results/transfer/n{size}
    benchmarks: str = "benchmarks"
    learnability: str | None = None
    m: int = 0
    pair_seed: int = 0
    spec: Mapping = field(default_factory=dict)


def learnable_sources(job: DesignJob) -> list[str] | None:
    """The pool tasks that learn at the target size (None: every one may be a target)."""
    if not job.learnability:
        return None
    table = read_learnable(job.learnability)
    absent = sorted(set(job.sources) - set(table))
    if absent:
        raise TaskTransferError(f"design-pairs: learnability table {job.learnability} lacks sources {absent[:5]}")
    learnable = sorted(t for t in job.sources if table[t])
    log(f"learnable pool tasks: {len(learnable)} of {len(job.sources)}; left out as targets: "
        f"{', '.join(sorted(set(job.sources) - set(learnable))) or 'none'}")
    return learnable


def design_pairs_job(job: DesignJob, out: str | Path) -> None:
    missing = sorted(set(job.sources) - set(job.tasks))
    if missing:
        raise TaskTransferError(f"design-pairs: --tasks lacks sources {missing[:5]}")
    learnable = learnable_sources(job)

    def key_of(task: str) -> tuple[int, str, int]:
        info = job.tasks[task]
        return int(job.examples), str(info["format"]), int(info["epochs"])

    models = chunk_cost_models(job.benchmarks, job.size, job.chunks, key_of)
    measured = sum(len(m.measured) for m in models.values())
    log(f"cost model: {measured} measured (size, format, epochs) keys from {job.benchmarks}/transfer/n{job.size}; "
        f"defaults elsewhere")
    candidates = [(s, t) for s in job.sources for t in job.sources if s != t]
    finished = {
        (s, t) for s, t in candidates
        if all(transfer_metrics_in(job.transfer_dir, s, t, k).is_file() for k in job.seeds)
    }
    plan = plan_pairs(
        design=job.design,
        sources=job.sources,
        learnable=learnable,
        types={t: str(job.tasks[t]["type"]) for t in job.sources},
        seconds={t: pair_seconds(models, key_of(t)) for t in job.sources},
        core_seconds={t: default_pair_seconds(job.chunks, key_of(t)) for t in job.sources},
        finished=finished,
        m=job.m,
        seed=job.pair_seed,
        spec=DesignSpec(**job.spec) if job.design == "balanced" else None,
        log=log,
    )
    write_pairs(plan, out)
    if job.design == "balanced":
        log(f"solver status: {plan.solver_status} ({plan.solve_seconds:.2f} s)")
    log(f"{len(plan.pairs)} scorer pairs into {len({t for _, t in plan.pairs})} targets, "
        f"{len(plan.finished)} finished; about {plan.cost:.0f} job-seconds still to run")
