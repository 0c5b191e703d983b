"""Commands that gather finished runs into long tables: gains, no-transfer scores, gain intervals."""

from __future__ import annotations

import argparse

from tasktransfer.errors import TaskTransferError
from tasktransfer.runtime import log


def cmd_gains(a: argparse.Namespace) -> None:
    """Gather finished runs into long tables; each output is optional, so each table has its own rule."""
    from tasktransfer.analysis.gather import gather_gains, gather_no_transfer
    from tasktransfer.io import atomic_write_text

    wanted = [(a.out_gains, a.transfer_metrics, gather_gains, "transfer"),
              (a.out_no_transfer, a.prompt_metrics, gather_no_transfer, "target-role"),
              (a.out_pool, a.pool_metrics, gather_no_transfer, "pool")]
    if not any(out for out, *_ in wanted):
        raise TaskTransferError("name at least one output: --out-gains, --out-no-transfer or --out-pool")
    for out, paths, gather, what in wanted:
        if out:
            atomic_write_text(out, gather(paths).to_csv(sep="\t", index=False))
            log(f"gathered {len(paths)} {what} runs into {out}")


def cmd_intervals(a: argparse.Namespace) -> None:
    """Paired-bootstrap intervals of every pair's mean gain (over no transfer and over the control)."""
    from tasktransfer.analysis.gather import gain_summary
    from tasktransfer.io import atomic_write_text

    summary = gain_summary(a.prompt_metrics, a.transfer_metrics, a.data, a.bootstrap, a.level, a.bootstrap_seed, log=log)
    atomic_write_text(a.out, summary.to_csv(sep="\t", index=False, float_format="%.4f"))
    inside = int(summary["inside_noise"].sum()) if len(summary) else 0
    log(f"{inside} of {len(summary)} pair gains lie inside their {100 * a.level:.0f}% interval around 0")


def add_commands(sub) -> None:
    """Register this family's subcommands: gains, intervals."""
    s = sub.add_parser("gains", help="gather finished runs into long tables (gains, no-transfer scores, pool scores)")
    s.add_argument("--transfer-metrics", nargs="*", default=[], help="transfer metrics.json files (or @list)")
    s.add_argument("--out-gains", help="TSV: source, target, seed, metric, r1, r2, gain")
    s.add_argument("--prompt-metrics", nargs="*", default=[], help="target-role metrics.json files: r1 per seed")
    s.add_argument("--out-no-transfer", help="TSV: task, seed, metric, score, lr")
    s.add_argument("--pool-metrics", nargs="*", default=[], help="pool prompt metrics.json files")
    s.add_argument("--out-pool", help="TSV of the pool prompts' own dev scores")
    s.set_defaults(func=cmd_gains)

    s = sub.add_parser("intervals", help="paired-bootstrap interval of every pair's mean gain")
    s.add_argument("--prompt-metrics", nargs="*", default=[], help="target-role metrics.json files (r1 per seed)")
    s.add_argument("--transfer-metrics", nargs="*", default=[], help="transfer metrics.json files, control included")
    s.add_argument("--data", default="results/data", help="prepared task folders (dev sets for the bootstrap)")
    s.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates")
    s.add_argument("--level", type=float, default=0.95, help="interval coverage")
    s.add_argument("--bootstrap-seed", type=int, default=0)
    s.add_argument("--out", required=True, help="TSV: one row per pair, gain with its interval")
    s.set_defaults(func=cmd_intervals)
