"""How planning scales: `snakemake -n` wall time and peak memory for 50, 100 and 200 tasks.

For N tasks the workflow plans every ordered pair: N sources with pairs.m = N(N-1) (all ordered
source pairs) and one target (N brute-force pairs into it), so N^2 transfer jobs, plus the
prepare, prompt-tuning, ranking and evaluation jobs. For comparison, the same numbers for a bare
Snakefile with trivial rules over N(N-1) pairs (one job per task, one per pair, one gather).
Everything is generated in a temporary directory; nothing is run, only planned.

    .venv/bin/python bench/plan_scale.py                 # 50, 100, 200 tasks, both workflows
    .venv/bin/python bench/plan_scale.py --sizes 50 100  # fewer
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

BARE_SNAKEFILE = """
TASKS = [f"t{i:03d}" for i in range(int(config["ntasks"]))]
PAIRS = [(a, b) for a in TASKS for b in TASKS if a != b]

rule all:
    input: "gathered.txt"

rule prompt:
    output: "prompts/{task}.txt"
    shell: "touch {output}"

rule pair:
    input: a="prompts/{a}.txt", b="prompts/{b}.txt"
    output: "pairs/{a}/{b}.txt"
    shell: "touch {output}"

rule gather:
    input: [f"pairs/{a}/{b}.txt" for a, b in PAIRS]
    output: "gathered.txt"
    shell: "touch {output}"
"""

# Runs one command and prints its wall time and the peak RSS of its process tree's largest member.
MEASURE = """
import resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
wall = time.perf_counter() - t
if rc.returncode:
    sys.stderr.write(rc.stderr[-3000:])
    sys.exit(rc.returncode)
print(wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def measure(cmd: list[str]) -> tuple[float, float]:
    proc = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr}")
    wall, rss_kb = proc.stdout.split()
    return float(wall), int(rss_kb) / 1024


def bare(root: Path, n: int) -> tuple[int, float, float]:
    work = root / f"bare{n}"
    work.mkdir()
    (work / "Snakefile").write_text(BARE_SNAKEFILE)
    wall, mb = measure([SNAKEMAKE, "-n", "-q", "--cores", "1", "--directory", str(work),
                        "--snakefile", str(work / "Snakefile"), "--config", f"ntasks={n}"])  # fmt: skip
    return n * (n - 1), wall, mb


def ours(root: Path, n: int) -> tuple[int, float, float]:
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
    wall, mb = measure([SNAKEMAKE, "-n", "-q", "--cores", "1", "--directory", str(work),
                        "--snakefile", str(REPO / "Snakefile"), "--configfile", str(work / "config.yaml")])  # fmt: skip
    return n * n, wall, mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    rows = []
    print(f"{'tasks':>5}  {'workflow':<8}  {'pair jobs':>9}  {'plan s':>7}  {'peak MB':>7}  {'vs bare':>7}", flush=True)
    with tempfile.TemporaryDirectory(prefix="plan_scale_") as tmp:
        root = Path(tmp)
        for n in args.sizes:
            b_pairs, b_wall, b_mb = bare(root, n)
            print(f"{n:>5}  {'bare':<8}  {b_pairs:>9}  {b_wall:>7.1f}  {b_mb:>7.0f}  {'':>7}", flush=True)
            o_pairs, o_wall, o_mb = ours(root, n)
            print(f"{n:>5}  {'ours':<8}  {o_pairs:>9}  {o_wall:>7.1f}  {o_mb:>7.0f}  {o_wall / b_wall:>6.2f}x", flush=True)
            rows += [
                {"tasks": n, "workflow": "bare", "pair_jobs": b_pairs, "seconds": b_wall, "peak_mb": b_mb},
                {"tasks": n, "workflow": "ours", "pair_jobs": o_pairs, "seconds": o_wall, "peak_mb": o_mb},
            ]
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
