"""A gain's interval: the paired bootstrap over seeds and dev examples.

A gain compares two runs scored on the same dev set (transfer vs no transfer, or transfer vs
the control init), so it is bootstrapped *paired*: each replicate draws seeds with replacement
(the seed spread) and dev examples with replacement (the sampling error of a finite dev set),
rescoring both runs of each drawn seed on the same drawn examples. The percentile interval of
the replicates is the gain's interval; a gain whose interval holds 0 is "inside noise".

It sits below the subpackages because both the workflow's analyses (analysis/uncertainty.py,
analysis/gather.py) and ``select --pool`` (pool/select_summary.py) interval their gains with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Score = Callable[[list, list[dict]], float]


@dataclass(frozen=True)
class Interval:
    mean: float
    lo: float
    hi: float
    se: float

    @property
    def inside_noise(self) -> bool:
        return self.lo <= 0.0 <= self.hi


def paired_bootstrap(
    score: Score,
    rows: Sequence[dict],
    new: Sequence[Sequence],
    base: Sequence[Sequence],
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Interval of mean_k score(new[k]) - score(base[k]) over seeds k and dev examples.

    ``new[k]`` and ``base[k]`` are seed k's per-example dev predictions of the two runs;
    ``score(predictions, rows)`` is the task metric x100.
    """
    if len(new) != len(base) or not new:
        raise ValueError(f"need the same number (>0) of seeds on both sides, got {len(new)} and {len(base)}")
    rows = list(rows)
    n = len(rows)
    for preds in [*new, *base]:
        if len(preds) != n:
            raise ValueError(f"predictions cover {len(preds)} dev examples, the dev set has {n}; rerun the job")
    seeds = len(new)
    point = float(np.mean([score(list(a), rows) - score(list(b), rows) for a, b in zip(new, base)]))
    rng = np.random.default_rng(seed)
    replicates = np.empty(n_boot)
    for r in range(n_boot):
        ks = rng.integers(0, seeds, seeds) if seeds > 1 else np.zeros(1, dtype=int)
        idx = rng.integers(0, n, n)
        sub_rows = [rows[i] for i in idx]
        diffs = []
        for k in ks:
            a = [new[k][i] for i in idx]
            b = [base[k][i] for i in idx]
            diffs.append(score(a, sub_rows) - score(b, sub_rows))
        replicates[r] = np.mean(diffs)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(replicates, [alpha, 1 - alpha])
    return Interval(point, float(lo), float(hi), float(replicates.std(ddof=1)) if n_boot > 1 else 0.0)
