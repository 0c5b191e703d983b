"""How sure is a gain? Intervals that combine seed spread and the dev set's sampling error.

A gain compares two runs scored on the same dev set (transfer vs no transfer, or transfer vs
the control init), so it is bootstrapped *paired*: each replicate draws seeds with replacement
(the seed spread) and dev examples with replacement (the sampling error of a finite dev set),
rescoring both runs of each drawn seed on the same drawn examples. The percentile interval of
the replicates is the gain's interval; a gain whose interval holds 0 is "inside noise".

For a method's mean gain over several targets, the targets' dev sets are independent, so the
standard errors combine as sqrt(sum se_t^2) / n (normal approximation).
"""

from __future__ import annotations

import math
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


def mean_interval(means: Sequence[float], ses: Sequence[float], level: float = 0.95) -> Interval:
    """Mean of independent estimates with a normal interval from their standard errors."""
    if not means:
        return Interval(float("nan"), float("nan"), float("nan"), float("nan"))
    z = _z(level)
    mean = float(np.mean(means))
    se = math.sqrt(sum(s * s for s in ses)) / len(means)
    return Interval(mean, mean - z * se, mean + z * se, se)


def _z(level: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 2))


def method_noise_table(per_target, intervals, level: float = 0.95):
    """Per method and k: mean gain over no transfer and over the control, each with an interval,
    and how many targets' picks beat each beyond noise (interval entirely above 0).

    ``per_target`` is the evaluation's per-target table (method, k, target, chosen);
    ``intervals`` the per-pair table of gain_summary (source, target, gain, gain_se, gain_lo, ...).
    """
    import pandas as pd

    by_pair = intervals.set_index(["source", "target"])
    has_control = "gain_vs_control" in intervals.columns
    rows = []
    for (method, k), group in per_target.groupby(["method", "k"], sort=True):
        if method == "random_expected":
            continue
        picks = [(c, t) for c, t in zip(group["chosen"], group["target"]) if (c, t) in by_pair.index]
        if not picks:
            continue
        pairs = by_pair.loc[picks]
        over_none = mean_interval(list(pairs["gain"]), list(pairs["gain_se"]), level)
        row = {
            "method": method,
            "k": int(k),
            "targets": len(picks),
            "gain": over_none.mean,
            "gain_lo": over_none.lo,
            "gain_hi": over_none.hi,
            "beyond_noise": int((pairs["gain_lo"] > 0).sum()),
        }
        if has_control and pairs["gain_vs_control"].notna().all():
            over_control = mean_interval(list(pairs["gain_vs_control"]), list(pairs["gain_vs_control_se"]), level)
            row.update(
                gain_vs_control=over_control.mean,
                gain_vs_control_lo=over_control.lo,
                gain_vs_control_hi=over_control.hi,
                beyond_control_noise=int((pairs["gain_vs_control_lo"] > 0).sum()),
            )
        rows.append(row)
    return pd.DataFrame(rows)
