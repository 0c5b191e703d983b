"""What `tasktransfer select --pool --budget K` costs on a new task of 128 training examples.

    .venv/bin/python bench/select_budget.py --results results --task pang_lee_reviews [--budget 3] [--halving]

Exports the finished run's pool (`--results`, with config/config.yaml), makes the new task from a
registry task the pool does not hold (its first 128 training and 200 dev examples, written as a
local train/dev table pair, so the pool's caps keep all 128), then runs `select` as a user would
(a fresh process: imports, backbone, tuning, transfers) and prints its wall time, the peak memory
of the process, the phases from select.json and the choice. With --halving it runs both ways,
each in its own work folder, one after the other. The machine's CPU flags are printed beside the
figures (bf16 training needs avx512_bf16 or amx_bf16).
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from tasktransfer.data.prepare import DataSpec, prepare_task, read_jsonl
from tasktransfer.data.registry import get_task, load_registry

REPO = Path(__file__).resolve().parents[1]


def cpu_flags() -> str:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    shown = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{model}; {' '.join(shown) or 'no avx2'}"


def new_task(task: str, registry: Path, resources: Path, folder: Path, n_train: int, n_dev: int) -> Path:
    """A registry of one local task: the first n_train / n_dev examples of ``task``."""
    spec = get_task(load_registry(registry), task)
    prepared = folder / "prepared"
    prepare_task(spec, DataSpec(max_train=n_train, max_dev=n_dev), resources, prepared)
    fields = {"text": "text", "label": "label"}
    for split in ("train", "dev"):
        rows = read_jsonl(prepared / f"{split}.jsonl")
        if any("text_pair" in r for r in rows):
            fields["text_pair"] = "text_pair"
        with open(folder / f"{split}.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(fields))
            writer.writeheader()
            writer.writerows({k: r.get(k, "") for k in fields} for r in rows)
    entry = {
        "type": "new",
        "format": spec.format,
        "source": {"kind": "local", "files": {s: str(folder / f"{s}.csv") for s in ("train", "dev")}, "fields": fields},
    }
    out = folder / "tasks.yaml"
    out.write_text(yaml.safe_dump({f"new_{task}": entry}))
    return out


def run_select(pool: Path, registry: Path, name: str, work: Path, budget: int, threads: int, halving: bool) -> dict:
    argv = [sys.executable, "-m", "tasktransfer.cli", "select", "--pool", str(pool), "--task", name, "--registry",
            str(registry), "--budget", str(budget), "--work", str(work), "--threads", str(threads), "--quiet"]
    argv += ["--halving"] if halving else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(argv, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB; the largest child so far
    summary = json.loads((work / "select.json").read_text())
    return {"wall": wall, "peak_gib": max(peak, before) / 2**20, **summary}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", required=True, help="a finished run's results/ (the default run's)")
    p.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    p.add_argument("--registry", default=str(REPO / "config" / "tasks.yaml"))
    p.add_argument("--resources", default=str(REPO / "resources"))
    p.add_argument("--task", default="pang_lee_reviews", help="a registry task the pool does not hold")
    p.add_argument("--budget", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--halving", action="store_true", help="also run with --halving, after the plain run")
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="select-bench-"))
    pool = tmp / "POOL"
    subprocess.run([sys.executable, "-m", "tasktransfer.cli", "pool", "export", "--results", a.results, "--out", str(pool),
                    "--config", a.config], check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    size = sum(f.stat().st_size for f in pool.rglob("*") if f.is_file())
    registry = new_task(a.task, Path(a.registry), Path(a.resources), tmp, 128, 200)
    print(f"machine: {cpu_flags()}; threads {a.threads}; pool {pool} ({size / 1e6:.1f} MB)")
    for halving in [False, True] if a.halving else [False]:
        r = run_select(pool, registry, f"new_{a.task}", tmp / f"work{'-halving' if halving else ''}", a.budget,
                       a.threads, halving)
        gain = r["gain"] or {}
        print(
            f"select --budget {a.budget}{' --halving' if halving else ''}: wall {r['wall']:.1f} s, peak RSS "
            f"{r['peak_gib']:.2f} GiB; chosen {r['chosen']} (gain {gain.get('mean', float('nan')):+.2f} "
            f"[{gain.get('lo', float('nan')):+.2f}, {gain.get('hi', float('nan')):+.2f}]), r1 {r['r1']}"
        )
        print("  phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in r["seconds"].items()))
        print("  " + r["verdict"])


if __name__ == "__main__":
    main()
