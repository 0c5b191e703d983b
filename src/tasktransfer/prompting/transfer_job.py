"""A transfer job: tune a target from a source's prompt, once per seed, and write each run's record
(r1 from the target's own run, r2, gain) — the body of ``tasktransfer transfer``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tasktransfer.io import atomic_write_json, read_record
from tasktransfer.prompting.tune_run import TuneRequest, run_record, tune_runs
from tasktransfer.runtime import log


def run_transfers(
    request: TuneRequest, source: str, target_metrics: Sequence[str | Path], outs: Sequence[str | Path]
) -> None:
    """``request`` carries the source prompts (one per seed) as its init; ``target_metrics`` the
    target-role records of the same seeds (their r1), read before any tuning starts."""
    r1s = [read_record(p, ("score",))["score"] for p in target_metrics]
    for run, r1, out in zip(tune_runs(request), r1s, outs):
        score = run.result.score
        atomic_write_json(
            out,
            {
                "source": source,
                "target": run.meta.name,
                "seed": run.seed,
                "metric": run.meta.metric,
                "r1": r1,
                "r2": score,
                "gain": score - r1,
                **run_record(run),
            },
        )
        log(f"done: {source} -> {run.meta.name}, seed {run.seed}: r2 = {score:.2f}, gain {score - r1:+.2f}")
