"""How sure is a method's mean gain? A pair's own gain is intervalled by the paired bootstrap
over seeds and dev examples (:mod:`tasktransfer.bootstrap`).

For a method's mean gain over several targets, the targets' dev sets are independent, so the
standard errors combine as sqrt(sum se_t^2) / n (normal approximation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tasktransfer.bootstrap import Interval


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
