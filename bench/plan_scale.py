"""How planning scales: `snakemake -n` wall time and peak memory for 50, 100 and 200 tasks.

For N tasks the workflow plans every ordered pair: N sources with pairs.m = N(N-1) (all ordered
source pairs) and one target (N brute-force pairs into it, plus the control's), so N^2 + 1
transfer jobs, plus the prepare, pool prompt, target-role, ranking, gathering and evaluation jobs.
For comparison, a bare Snakefile with trivial rules (`touch`, no params, logs, benchmarks,
resources or environments) of the same DAG shape: the same jobs of the same rules, each reading
the same files of the jobs before it (file lists included). Everything is generated in a
temporary directory; nothing is run, only planned. Each figure is the fastest of `--repeat` runs;
wall time is what a user waits, CPU time (user + system) what a busy machine changes least.

    .venv/bin/python bench/plan_scale.py                 # 50, 100, 200 tasks, both workflows
    .venv/bin/python bench/plan_scale.py --sizes 50 100  # fewer
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

# the workflow's DAG with trivial rules: paths and wildcards as in workflow/rules, shell `touch`
BARE_SNAKEFILE = r'''
N = int(config["ntasks"])
SOURCES = [f"t{i:03d}" for i in range(N)]
TARGETS = [f"t{N:03d}"]
TASKS = SOURCES + TARGETS
SCORER_PAIRS = [(a, b) for a in SOURCES for b in SOURCES if a != b]
TARGET_PAIRS = [(s, t) for t in TARGETS for s in SOURCES]
CONTROL_PAIRS = [("_control", t) for t in TARGETS]
TARGET_ROLE = sorted({b for _, b in SCORER_PAIRS} | set(TARGETS))
METHODS = ["brute_force", "cosine_mean", "cosine_tokens", "euclidean_mean", "euclidean_tokens",
           "manhattan_mean", "manhattan_tokens", "random", "scorer"]


def runs(pairs):
    return [f"results/transfer/{s}/{t}/seed0/metrics.json" for s, t in pairs]


LISTS = {
    "scorer_pairs": runs(SCORER_PAIRS),
    "target_pairs": runs(TARGET_PAIRS),
    "control_pairs": runs(CONTROL_PAIRS),
    "target_role": [f"results/targets/{t}/seed0/metrics.json" for t in TARGET_ROLE],
    "pool": [f"results/prompts/{t}/seed0/metrics.json" for t in SOURCES],
}
POOL_PROMPTS = [f"results/prompts/{t}/seed0/prompt.safetensors" for t in SOURCES]

wildcard_constraints:
    task=r"[A-Za-z0-9][A-Za-z0-9_.\-]*",

rule all:
    input: "results/eval/summary.tsv", "results/eval/tasks.tsv", "results/eval/noise.tsv",
           "results/eval/signal.tsv", "results/figures/heatmap.png"

rule prepare:
    output: "results/data/{task}/train.jsonl", "results/data/{task}/meta.json"
    shell: "touch {output}"

rule prompt_tune:
    input: "results/data/{task}/meta.json"
    output: "results/prompts/{task}/seed{seed}/prompt.safetensors", "results/prompts/{task}/seed{seed}/metrics.json"
    shell: "touch {output}"

rule target_tune:
    input: "results/data/{task}/meta.json"
    output: "results/targets/{task}/seed{seed}/prompt.safetensors", "results/targets/{task}/seed{seed}/metrics.json"
    shell: "touch {output}"

rule control_prompt:
    input: POOL_PROMPTS
    output: "results/prompts/_control/seed{seed}/prompt.safetensors", "results/prompts/_control/seed{seed}/metrics.json"
    shell: "touch {output}"

rule transfer:
    input: "results/prompts/{source}/seed{seed}/prompt.safetensors", "results/targets/{target}/seed{seed}/metrics.json",
           "results/data/{target}/meta.json"
    output: "results/transfer/{source}/{target}/seed{seed}/metrics.json"
    shell: "touch {output}"

rule file_list:
    input: lambda wc: LISTS[wc.name]
    output: "results/lists/{name}.txt"
    shell: "touch {output}"

rule gains:
    input: "results/lists/{name}.txt"
    output: "results/gains/{name}.tsv"
    shell: "touch {output}"

rule no_transfer:
    input: "results/lists/target_role.txt", "results/lists/pool.txt"
    output: "results/no_transfer.tsv", "results/pool_scores.tsv"
    shell: "touch {output}"

rule gain_intervals:
    input: "results/lists/target_pairs.txt", "results/lists/control_pairs.txt", "results/lists/target_role.txt"
    output: "results/gain_intervals.tsv"
    shell: "touch {output}"

rule train_scorer:
    input: "results/gains/scorer_pairs.tsv", POOL_PROMPTS,
           [f"results/targets/{t}/seed0/prompt.safetensors" for t in TARGET_ROLE if t not in TARGETS]
    output: "results/scorer/model.safetensors", "results/scorer/metrics.json"
    shell: "touch {output}"

rule rank:
    input: POOL_PROMPTS, "results/targets/{target}/seed0/prompt.safetensors",
           lambda wc: {"scorer": ["results/scorer/model.safetensors"],
                       "brute_force": ["results/gains/target_pairs.tsv"]}.get(wc.method, [])
    output: "results/rankings/{method}/{target}.tsv"
    shell: "touch {output}"

rule task_table:
    input: [f"results/data/{t}/meta.json" for t in TASKS], "results/no_transfer.tsv", "results/pool_scores.tsv"
    output: "results/eval/tasks.tsv"
    shell: "touch {output}"

rule evaluate:
    input: "results/gains/target_pairs.tsv", "results/no_transfer.tsv",
           [f"results/rankings/{m}/{t}.tsv" for m in METHODS for t in TARGETS]
    output: "results/eval/summary.tsv", "results/eval/per_target.tsv"
    shell: "touch {output}"

rule figures:
    input: "results/gains/scorer_pairs.tsv", "results/gains/target_pairs.tsv", "results/gain_intervals.tsv",
           "results/eval/tasks.tsv", "results/eval/summary.tsv", "results/scorer/metrics.json", POOL_PROMPTS,
           [f"results/targets/{t}/seed0/prompt.safetensors" for t in TARGETS]
    output: "results/figures/heatmap.png"
    shell: "touch {output}"

rule noise:
    input: "results/eval/per_target.tsv", "results/gain_intervals.tsv"
    output: "results/eval/noise.tsv"
    shell: "touch {output}"

rule signal:
    input: "results/gains/scorer_pairs.tsv", "results/gains/target_pairs.tsv", "results/no_transfer.tsv"
    output: "results/eval/signal.tsv"
    shell: "touch {output}"
'''

# Runs one command and prints its wall time, its CPU time (user + system: what a busy machine
# changes least) and the peak RSS of its process tree's largest member.
MEASURE = """
import resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
wall = time.perf_counter() - t
if rc.returncode:
    sys.stderr.write(rc.stdout[-3000:])
    sys.exit(rc.returncode)
jobs = [l.split() for l in rc.stdout.splitlines() if l.startswith("total ")]
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, jobs[-1][1] if jobs else 0)
"""


def measure(cmd: list[str], repeat: int) -> tuple[int, float, float, float]:
    """Planned jobs, the fastest wall time and CPU time of `repeat` runs, and the peak memory (MB)."""
    wall, cpu, peak, jobs = float("inf"), float("inf"), 0.0, 0
    for _ in range(repeat):
        proc = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr}")
        run_wall, run_cpu, rss_kb, jobs = proc.stdout.split()
        wall, cpu, peak = min(wall, float(run_wall)), min(cpu, float(run_cpu)), max(peak, int(rss_kb) / 1024)
    return int(jobs), wall, cpu, peak


def plan_args(work: Path, snakefile: Path) -> list[str]:
    return [SNAKEMAKE, "-n", "--quiet", "rules", "--cores", "1", "--directory", str(work), "--snakefile", str(snakefile)]


def bare(root: Path, n: int, repeat: int) -> tuple[int, float, float, float]:
    work = root / f"bare{n}"
    work.mkdir()
    (work / "Snakefile").write_text(BARE_SNAKEFILE)
    return measure([*plan_args(work, work / "Snakefile"), "--config", f"ntasks={n}"], repeat)


def ours(root: Path, n: int, repeat: int) -> tuple[int, float, float, float]:
    work = root / f"ours{n}"
    work.mkdir()
    tasks = [f"t{i:03d}" for i in range(n + 1)]
    registry = {
        t: {
            "type": "synthetic",
            "format": "classification",
            "source": {"kind": "synthetic", "generator": "keyword_classification", "family": "colour", "size": 120, "seed": i},
        }
        for i, t in enumerate(tasks)
    }
    (work / "tasks.yaml").write_text(yaml.safe_dump(registry))
    sources, target = tasks[:n], tasks[n]
    config = {
        "tasks_registry": str(work / "tasks.yaml"),
        "backbone": "resources/tiny-backbone",
        "sources": sources,
        "targets": [target],
        "pairs": {"m": n * (n - 1), "seed": 0},
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    return measure([*plan_args(work, REPO / "Snakefile"), "--configfile", str(work / "config.yaml")], repeat)


def machine() -> str:
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text()) if Path("/proc/cpuinfo").exists() else None
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({cpu.group(1).strip() if cpu else 'unknown'}), load average {load}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--repeat", type=int, default=1, help="runs per figure; the fastest counts")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    rows = []
    print(f"machine: {machine()}", flush=True)
    print(f"{'tasks':>5}  {'workflow':<8}  {'jobs':>6}  {'wall s':>7}  {'cpu s':>7}  {'peak MB':>7}  "
          f"{'wall vs bare':>12}  {'cpu vs bare':>11}", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="plan_scale_") as tmp:
        root = Path(tmp)
        for n in args.sizes:
            b_jobs, b_wall, b_cpu, b_mb = bare(root, n, args.repeat)
            print(f"{n:>5}  {'bare':<8}  {b_jobs:>6}  {b_wall:>7.1f}  {b_cpu:>7.1f}  {b_mb:>7.0f}", flush=True)
            o_jobs, o_wall, o_cpu, o_mb = ours(root, n, args.repeat)
            print(f"{n:>5}  {'ours':<8}  {o_jobs:>6}  {o_wall:>7.1f}  {o_cpu:>7.1f}  {o_mb:>7.0f}  "
                  f"{o_wall / b_wall:>11.2f}x  {o_cpu / b_cpu:>10.2f}x", flush=True)  # fmt: skip
            rows += [
                {"tasks": n, "workflow": "bare", "jobs": b_jobs, "seconds": b_wall, "cpu_seconds": b_cpu, "peak_mb": b_mb},
                {"tasks": n, "workflow": "ours", "jobs": o_jobs, "seconds": o_wall, "cpu_seconds": o_cpu, "peak_mb": o_mb},
            ]
    print(f"machine after: {machine()}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
