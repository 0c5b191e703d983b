"""Thousands of pair runs reach the gathering rules through a file list, never a command line.

A plan of 72 pool tasks with every ordered pair sampled (5,112 pair-seeds) is laid out as if its
tuning and transfer jobs had finished (small but valid files, oldest first), then Snakemake builds
`results/gains/scorer_pairs.tsv`: it plans the whole DAG, writes the list with rule `file_list`
and runs `tasktransfer gains --transfer-metrics @list`. On one command line those paths would be
far past Linux's 128 KiB limit for one argument.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import run_snakemake, write_tiny_workdir

from tasktransfer.affinity.pairs import sample_pairs

pytestmark = pytest.mark.slow

N_SOURCES = 72  # 72 x 71 = 5,112 ordered pairs
ARG_MAX_ONE = 128 * 1024  # MAX_ARG_STRLEN: the longest single argument Linux passes to a program


def _touch(path: Path, content: str, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    os.utime(path, (mtime, mtime))


def _lay_out_finished_runs(work: Path, sources: list[str], pairs: list[tuple[str, str]], size: int) -> list[str]:
    """Files of finished prepare, tuning and transfer jobs, each stage newer than the one before."""
    t0 = 1_700_000_000.0
    for task in sources:
        for name in ("train.jsonl", "dev.jsonl"):
            _touch(work / f"results/data/{task}/{name}", '{"text": "x", "label": "a"}\n', t0)
        _touch(work / f"results/data/{task}/meta.json", json.dumps({"name": task}), t0)
        for folder in (f"results/prompts/{task}/seed0", f"results/targets/n{size}/{task}/seed0"):
            _touch(work / folder / "prompt.safetensors", "", t0 + 10)
            _touch(work / folder / "metrics.json", json.dumps({"task": task, "seed": 0, "score": 50.0}), t0 + 10)
    runs = []
    for i, (source, target) in enumerate(pairs):
        path = f"results/transfer/n{size}/{source}/{target}/seed0/metrics.json"
        r2 = 40.0 + (i % 21)
        record = {"source": source, "target": target, "seed": 0, "metric": "accuracy", "r1": 50.0, "r2": r2,
                  "gain": r2 - 50.0, "lr": 0.03, "dev_predictions": []}  # fmt: skip
        _touch(work / path, json.dumps(record), t0 + 20)
        runs.append(path)
    return runs


def test_the_gains_rule_gathers_five_thousand_pair_runs_through_a_list(tmp_path, tiny_backbone):
    work = tmp_path / "run"
    sources = [f"t{i:03d}" for i in range(N_SOURCES)]
    m = N_SOURCES * (N_SOURCES - 1)
    write_tiny_workdir(work, tiny_backbone, sources=sources, targets=["held_out"], pairs={"m": m, "seed": 0}, seeds=[0])
    registry = {
        t: {"type": "synthetic", "format": "classification",
            "source": {"kind": "synthetic", "generator": "keyword_classification", "family": "colour", "size": 120, "seed": i}}
        for i, t in enumerate([*sources, "held_out"])
    }  # fmt: skip
    (work / "tasks.yaml").write_text(yaml.safe_dump(registry))
    size = yaml.safe_load((work / "config.yaml").read_text())["data"]["target_train"]
    pairs = sample_pairs(sources, m, 0)
    assert len(pairs) >= 5000
    runs = _lay_out_finished_runs(work, sources, pairs, size)
    assert len(" ".join(runs)) > ARG_MAX_ONE  # what the list keeps off the command line

    # the plan: only the list and the table, every finished run kept
    args = ("results/gains/scorer_pairs.tsv", "--cores", "1", "--configfile", str(work / "config.yaml"))
    plan = run_snakemake(work, *args, "-n", "--quiet", "rules").stdout
    jobs = {line.split()[0]: int(line.split()[1]) for line in plan.splitlines() if len(line.split()) == 2 and line.split()[1].isdigit()}
    assert jobs == {"file_list": 1, "scorer_gains": 1, "total": 2}, plan

    run_snakemake(work, *args)
    listing = (work / "results/lists/scorer_pairs.txt").read_text().splitlines()
    assert sorted(listing) == sorted(runs)
    gains = pd.read_csv(work / "results/gains/scorer_pairs.tsv", sep="\t")
    assert len(gains) == len(pairs) and set(zip(gains.source, gains.target)) == set(pairs)
    assert gains.gain.between(-10, 10).all() and gains.r1.eq(50.0).all()


def test_the_command_reads_a_list_whose_paths_would_not_fit_one_argument(tmp_path):
    """`tasktransfer gains` on its own: `@list` expands to the listed paths, one a line."""
    runs = []
    for i in range(5100):
        path = tmp_path / "results" / "transfer" / f"source_task_{i // 100:03d}" / f"target_{i % 100:03d}" / "metrics.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"source": f"s{i // 100}", "target": f"t{i % 100}", "seed": 0, "metric": "accuracy",
                                    "r1": 50.0, "r2": 50.0 + i % 7, "gain": float(i % 7)}))  # fmt: skip
        runs.append(str(path))
    listing = tmp_path / "runs.txt"
    listing.write_text("\n".join(runs) + "\n")
    assert len(" ".join(runs)) > ARG_MAX_ONE
    exe = Path(sys.executable).with_name("tasktransfer")
    out = tmp_path / "gains.tsv"
    subprocess.run([str(exe), "gains", "--transfer-metrics", f"@{listing}", "--out-gains", str(out)], check=True)
    gains = pd.read_csv(out, sep="\t")
    assert len(gains) == 5100 and gains.gain.sum() == sum(float(i % 7) for i in range(5100))
