"""Seconds per gain of the paired bootstrap (tasktransfer.bootstrap), fast path against generic.

A synthetic classification gain as the workflow's ``gain_intervals`` rule scores it: 300 dev
examples, 2 seeds, 1000 replicates, the format's own score (``get_format(meta).score``: the summed
fast path of tasktransfer.score_sums) against the same score wrapped in a function (the generic
path, which rebuilds and rescores the drawn lists each replicate). It checks both give the same
interval, then prints the best of ``--repeats`` timings of each and the machine's CPU.

    .venv/bin/python bench/bootstrap_speed.py [--metric accuracy|mcc|f1_macro] [--n 300] [--seeds 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from tasktransfer.bootstrap import paired_bootstrap
from tasktransfer.data.prepare import TaskMeta
from tasktransfer.prompting.formats import get_format

LABELS = ["negative", "neutral", "positive"]


def cpu_flags() -> str:
    """The CPU model and its vector flags (a copy of bench/select_budget.py's, so that this script
    imports no other script)."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    shown = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{model}; {' '.join(shown) or 'no avx2'}"


def synthetic_gain(n: int, seeds: int, rng: np.random.Generator) -> tuple[list[dict], list[list], list[list]]:
    """Dev rows and two runs' predictions per seed: the transfer right ~70 % of the time, the base ~60 %."""
    gold = rng.integers(0, len(LABELS), n)
    rows = [{"text": f"example {i}", "label": LABELS[g]} for i, g in enumerate(gold)]

    def run(right: float) -> list:
        wrong = (gold + rng.integers(1, len(LABELS), n)) % len(LABELS)
        return np.where(rng.random(n) < right, gold, wrong).tolist()

    return rows, [run(0.7) for _ in range(seeds)], [run(0.6) for _ in range(seeds)]


def best_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--metric", default="accuracy", choices=["accuracy", "mcc", "f1_macro"])
    p.add_argument("--n", type=int, default=300, help="dev examples")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--boot", type=int, default=1000, help="bootstrap replicates")
    p.add_argument("--repeats", type=int, default=3, help="timings of each path (the best is shown)")
    a = p.parse_args()
    fmt = get_format(TaskMeta("bench", "t", "classification", a.metric, LABELS, 0, a.n, None))
    rows, new, base = synthetic_gain(a.n, a.seeds, np.random.default_rng(0))
    fast_s, fast = best_time(lambda: paired_bootstrap(fmt.score, rows, new, base, n_boot=a.boot), a.repeats)
    generic_s, generic = best_time(
        lambda: paired_bootstrap(lambda q, r: fmt.score(q, r), rows, new, base, n_boot=a.boot), a.repeats
    )
    print(f"machine: {cpu_flags()}")
    print(f"gain: classification {a.metric}, {a.n} dev examples, {a.seeds} seeds, {a.boot} replicates")
    print(f"interval: {fast.mean:+.4f} [{fast.lo:+.4f}, {fast.hi:+.4f}] se {fast.se:.4f}; "
          f"{'identical on both paths' if fast == generic else f'DIFFERS from the generic path: {generic}'}")
    print(f"generic path: {generic_s:.4f} s per gain")
    print(f"fast path:    {fast_s:.4f} s per gain ({generic_s / fast_s:.1f}x)")


if __name__ == "__main__":
    main()
