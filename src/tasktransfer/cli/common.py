"""Argument types and argument groups shared by the command modules."""

from __future__ import annotations

import argparse
import json


def json_arg(text: str) -> dict:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON: {err}") from err


def list_arg(text: str) -> list[str]:
    return [t for t in text.split(",") if t]


def max_train_arg(value: str) -> int:
    """`--max-train`: a number, or `all` (the workflow passes its path's size wildcard, n128 or nall)."""
    return 0 if value == "all" else int(value)


def keyed_arg(text: str) -> tuple[str, str]:
    key, sep, path = text.partition("=")
    if not sep or not key or not path:
        raise argparse.ArgumentTypeError(f"expected KEY=PATH, got {text!r}")
    return key, path


def add_tune_args(s: argparse.ArgumentParser) -> None:
    """The flags of every command that tunes prompts (prompt-tune, transfer): one run per seed,
    the seeds (and the spec's learning rates) trained together as replicas of one loop."""
    s.add_argument("--data", required=True, help="prepared task folder")
    s.add_argument("--backbone", required=True)
    s.add_argument("--spec", type=json_arg, default={}, help="JSON of PromptSpec fields")
    s.add_argument("--seed", type=int, nargs="+", default=[0],
                   help="one or more seeds: one run each, trained together as replicas")
    s.add_argument("--max-replicas", type=int, default=0,
                   help="most runs (seeds x learning rates) in one batched loop; more go in later groups (0: all)")
    s.add_argument("--threads", type=int, default=0)
    s.add_argument("--max-train", type=max_train_arg, default=0,
                   help="train on the first N examples only (0 or 'all': all of them)")
    s.add_argument("--out-metrics", required=True, nargs="+", help="one metrics.json per seed")


def add_pool_args(s: argparse.ArgumentParser) -> None:
    """The flags that name a run's prompt pool (train-scorer)."""
    s.add_argument("--prompts", required=True, help="folder of the prompt pool (results/prompts)")
    s.add_argument("--sources", type=list_arg, required=True)
    s.add_argument("--backbone", required=True)
    s.add_argument("--embedding-seed", type=int, default=0)
    s.add_argument("--threads", type=int, default=0)
    s.add_argument("--seed", type=int, default=0)
