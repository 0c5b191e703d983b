"""Commands that tune prompts: a task's own prompt (r1), a transfer (r2, gain), the control init."""

from __future__ import annotations

import argparse
from pathlib import Path

from tasktransfer.cli.common import add_tune_args, json_arg
from tasktransfer.errors import TaskTransferError
from tasktransfer.prompting.tune_run import TuneRequest, tune_and_save_prompts


def _seeds(a: argparse.Namespace) -> list[int]:
    return a.seed if isinstance(a.seed, list) else [a.seed]


def _per_seed(a: argparse.Namespace, flag: str, values: list, allow_one: bool = False) -> list:
    """A per-seed flag's values: one per seed (or one for all, where ``allow_one``)."""
    n = len(_seeds(a))
    if allow_one and len(values) == 1:
        return values * n
    if len(values) != n:
        raise TaskTransferError(f"{n} seeds but {len(values)} values of {flag}: give one per seed, in the seeds' order")
    return values


def _request(a: argparse.Namespace, init_prompts: list[str] | None = None) -> TuneRequest:
    seeds = _seeds(a)
    return TuneRequest(
        data=Path(a.data),
        backbone=a.backbone,
        spec=a.spec,
        seed=seeds[0],
        max_train=getattr(a, "max_train", 0),
        threads=a.threads,
        seeds=tuple(seeds),
        init_prompts=tuple(init_prompts or ()),
        max_replicas=getattr(a, "max_replicas", 0),
    )


def cmd_prompt_tune(a: argparse.Namespace) -> None:
    tune_and_save_prompts(
        _request(a), _per_seed(a, "--out-prompt", a.out_prompt), _per_seed(a, "--out-metrics", a.out_metrics)
    )


def cmd_transfer(a: argparse.Namespace) -> None:
    from tasktransfer.prompting.transfer_job import run_transfers

    sources = _per_seed(a, "--source-prompt", a.source_prompt, allow_one=True)
    run_transfers(
        _request(a, sources),
        a.source,
        _per_seed(a, "--target-metrics", a.target_metrics),
        _per_seed(a, "--out-metrics", a.out_metrics),
    )


def cmd_control_prompt(a: argparse.Namespace) -> None:
    from tasktransfer.prompting.control_job import write_mean_control, write_shuffled_control

    if a.mode == "mean":
        if not a.prompts:
            raise TaskTransferError("a mean control needs --prompts (the pool's prompt files)")
        write_mean_control(a.prompts, a.seed, a.out_prompt, a.out_metrics)
    elif not a.data:
        raise TaskTransferError("a shuffled control needs --data (the prepared folder of a pool task)")
    else:
        write_shuffled_control(_request(a), a.out_prompt, a.out_metrics)


def add_commands(sub) -> None:
    """Register this family's subcommands: prompt-tune, transfer, control-prompt."""
    s = sub.add_parser("prompt-tune", help="tune a task's prompt from scratch (r1), one per seed")
    add_tune_args(s)
    s.add_argument("--out-prompt", required=True, nargs="+", help="one prompt file per seed")
    s.set_defaults(func=cmd_prompt_tune)

    s = sub.add_parser("transfer", help="tune a target's prompt from a source prompt (r2, gain), one per seed")
    add_tune_args(s)
    s.add_argument("--source", required=True)
    s.add_argument("--source-prompt", required=True, nargs="+", help="one source prompt, or one per seed")
    s.add_argument("--target-metrics", required=True, nargs="+",
                   help="the target's prompt-tune metrics.json (r1), one per seed")
    s.set_defaults(func=cmd_transfer)

    s = sub.add_parser("control-prompt", help="the control init: mean of pool prompts, or shuffled-label tuning")
    s.add_argument("--mode", choices=["mean", "shuffled"], required=True)
    s.add_argument("--prompts", nargs="*", default=[], help="pool prompt files (mode mean)")
    s.add_argument("--data", help="prepared task folder whose labels are shuffled (mode shuffled)")
    s.add_argument("--backbone", default="")
    s.add_argument("--spec", type=json_arg, default={})
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--threads", type=int, default=0)
    s.add_argument("--out-prompt", required=True)
    s.add_argument("--out-metrics", required=True)
    s.set_defaults(func=cmd_control_prompt)
