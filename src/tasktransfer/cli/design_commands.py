"""Commands that decide which transfer pairs a run trains: which tasks learn at the target size,
and the scorer's pairs (a uniform sample or the balanced design under a budget)."""

from __future__ import annotations

import argparse
from pathlib import Path

from tasktransfer.cli.common import json_arg, list_arg
from tasktransfer.runtime import log

LEARNABILITY_NOTE = (
    "Each task's no-transfer score r1 (one target-role run at the target size) against a model that "
    "learned nothing: the dev set's majority class (classification) or majority tag (tagging), chance "
    "for multiple choice (1 / choices), 0 otherwise. A task learns when r1 beats that baseline by at least "
    "the margin (learnability.margin_points); one that does not is never a target of the scorer's pairs "
    "(pairs.learnable_only)."
)


def cmd_learnability(a: argparse.Namespace) -> None:
    import pandas as pd

    from tasktransfer.analysis.learnability import COLUMNS, learnability_rows, read_run_files, write_table
    from tasktransfer.analysis.report_tables import write_html

    runs, metas, devs = read_run_files(a.metrics, a.data)
    rows = learnability_rows(runs, metas, devs, a.margin)
    write_table(rows, a.out)
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    if a.out_html:
        # the tasks that do not learn first, by margin: what the report is for
        shown = table.sort_values(["learns", "margin"], ascending=[True, True])
        write_html(Path(a.out_html), shown, f"Which tasks learn at the target size (margin {a.margin:g} points)",
                   LEARNABILITY_NOTE)
    failing = table[~table.learns]
    log(f"{len(table) - len(failing)} of {len(table)} tasks learn (margin >= {a.margin:g} points)")
    for row in failing.itertuples(index=False):
        log(f"does not learn: {row.task} ({row.format}) r1 {row.r1:.2f} vs {row.baseline_kind} {row.baseline:.2f}: "
            f"margin {row.margin:+.2f}")


def cmd_design_pairs(a: argparse.Namespace) -> None:
    from tasktransfer.affinity.design_job import DesignJob, design_pairs_job

    job = DesignJob(
        design=a.design, sources=a.sources, tasks=a.tasks, size=a.size, examples=a.examples, chunks=a.chunks,
        seeds=a.seeds, transfer_dir=a.transfer_dir, benchmarks=a.benchmarks, learnability=a.learnability,
        m=a.m, pair_seed=a.pair_seed, spec=a.spec,
    )
    design_pairs_job(job, a.out)


def add_commands(sub) -> None:
    """Register this family's subcommands: learnability, design-pairs."""
    s = sub.add_parser("learnability", help="which tasks beat their majority class (or chance) at the target size")
    s.add_argument("--metrics", nargs="+", required=True, help="target-role metrics.json files, one per task")
    s.add_argument("--data", required=True, help="the prepared tasks' folder (results/data)")
    s.add_argument("--margin", type=float, default=5.0, help="points of the metric (x100) a task must beat it by")
    s.add_argument("--out", required=True, help="TSV: task, type, format, metric, r1, baseline, ..., learns")
    s.add_argument("--out-html", help="the same for the report")
    s.set_defaults(func=cmd_learnability)

    s = sub.add_parser("design-pairs", help="the scorer's training pairs: a uniform sample or the balanced design")
    s.add_argument("--design", choices=["random", "balanced"], required=True)
    s.add_argument("--sources", type=list_arg, required=True, help="comma-separated pool tasks")
    s.add_argument("--tasks", type=json_arg, required=True, help="JSON: task -> {type, format, epochs}")
    s.add_argument("--learnability", help="learnability table: only tasks that learn are targets")
    s.add_argument("--m", type=int, default=0, help="random design: pairs to sample")
    s.add_argument("--pair-seed", type=int, default=0, help="the hash order's seed")
    s.add_argument("--spec", type=json_arg, default={}, help="balanced design: JSON of DesignSpec fields")
    s.add_argument("--size", required=True, help="target size as in paths (128 or all)")
    s.add_argument("--examples", type=int, required=True, help="training examples of a target (the cost model's size)")
    s.add_argument("--chunks", nargs="+", required=True, help="seed chunk tags of a transfer job (seed0-1-2)")
    s.add_argument("--seeds", type=int, nargs="+", required=True, help="a cell is finished when every seed is")
    s.add_argument("--benchmarks", default="benchmarks", help="the run's benchmarks folder")
    s.add_argument("--transfer-dir", required=True, help="results/transfer/n{size}")
    s.add_argument("--out", required=True, help="TSV: source, target, part, seconds, finished")
    s.set_defaults(func=cmd_design_pairs)
