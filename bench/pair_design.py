"""How long the pair design's integer program takes: random studies of 50 and 100 tasks.

Each instance: N tasks of 5 types, all of them sources, half of them learnable targets; the cost
of a job into a target from the default cost model (no measurements) at a few target sizes, 6
epochs. Minima: 2 targets per source, 3 sources per target, 3 related pairs per type, every
(source type, target type) combination; the budget is --budget-share of running every cell.
Printed: tasks, variables, constraints, CBC's status, solve seconds (both stages), core size,
pairs chosen, and the CPU, since CBC runs single-threaded on it.

    .venv/bin/python bench/pair_design.py                  # 50 and 100 tasks
    .venv/bin/python bench/pair_design.py --sizes 200 --repeat 1
"""

from __future__ import annotations

import argparse
import random
import re
import time
from pathlib import Path

from tasktransfer.affinity.pair_design import CostModel, DesignSpec, design_pairs

SIZES = (64, 128, 256, 512)  # training examples in a target
FORMATS = ("classification", "regression")


def cpu() -> str:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.*)", info)
    line = re.search(r"^flags\s*:\s*(.*)$", info, re.MULTILINE)
    flags = set(line.group(1).split()) if line else set()
    wanted = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{model.group(1) if model else 'unknown CPU'}; flags: {' '.join(wanted) or 'none of avx2/avx512'}"


def instance(n: int, seed: int) -> tuple[list[str], list[str], dict[str, str], dict[str, float]]:
    rng = random.Random(seed)
    tasks = [f"task{i:03d}" for i in range(n)]
    types = {t: f"type{rng.randrange(5)}" for t in tasks}
    targets = sorted(rng.sample(tasks, n // 2))
    model = CostModel()
    cost = {t: model.cost(rng.choice(SIZES), rng.choice(FORMATS), 6) for t in targets}
    return tasks, targets, types, cost


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", type=int, default=[50, 100])
    p.add_argument("--budget-share", type=float, default=0.10)
    p.add_argument("--repeat", type=int, default=2, help="instances (seeds) per size")
    args = p.parse_args()
    print(f"CPU: {cpu()}")
    print(
        f"{'tasks':>5} {'seed':>4} {'vars':>6} {'cons':>5} {'status':>8} {'solve s':>8} {'wall s':>7} "
        f"{'core':>5} {'pairs':>6} {'core s':>8} {'cost s':>8} {'budget s':>9}"
    )
    for n in args.sizes:
        for seed in range(args.repeat):
            tasks, targets, types, cost = instance(n, seed)
            total = sum(cost[t] for s in tasks for t in targets if s != t)
            spec = DesignSpec(
                min_targets_per_source=2,
                min_sources_per_target=3,
                related_per_type=3,
                cross_types=True,
                budget_seconds=args.budget_share * total,
                seed=seed,
            )
            start = time.perf_counter()
            d = design_pairs(tasks, targets, types, cost, set(), spec)
            wall = time.perf_counter() - start
            print(
                f"{n:>5} {seed:>4} {d.n_variables:>6} {d.n_constraints:>5} {d.solver_status:>8} {d.solve_seconds:>8.2f} "
                f"{wall:>7.2f} {len(d.core):>5} {len(d.pairs):>6} {d.core_cost:>8.0f} {d.cost:>8.0f} {spec.budget_seconds:>9.0f}"
            )


if __name__ == "__main__":
    main()
