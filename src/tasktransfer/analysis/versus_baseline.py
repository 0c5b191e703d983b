"""Does a method beat a baseline, target by target, beyond the luck of which targets were run?

Input: a per-target table (one row per method and target, e.g. the output of
``evaluation.ranking_quality``) with metric columns. For each method other than the baseline and
each metric:

- the paired difference d_t = metric(method, t) - metric(baseline, t), over the targets where
  both values are present (NaN on either side drops that target for that metric only);
- ``diff`` = mean_t d_t;
- ``low`` / ``high``: the percentile bootstrap interval (``level``) of that mean, resampling the
  targets with replacement (seeded; the targets are the unit of replication: a study of other
  targets would give another mean); NaN on one target. With a handful of targets the percentile
  interval is too narrow (it ignores that the spread itself is estimated): read it as a floor;
- ``targets``: how many targets the difference rests on;
- ``beats_baseline``: the interval lies entirely on the good side of 0 (above 0 for Spearman,
  NDCG, gains; below 0 for regret, where lower is better); None without an interval.

Pairing by target matters: targets differ far more from each other than methods do, and the
paired difference removes that shared part.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from tasktransfer.errors import TaskTransferError

COLUMNS = ["method", "baseline", "metric", "diff", "low", "high", "targets", "beats_baseline"]


def lower_is_better(metric: str) -> bool:
    """Regret (any k) is a loss; every other metric here is better when higher."""
    return metric.startswith("regret")


#: the methods that learn from transfer results (the headline's subject); ``*_loto`` variants too
LEARNED = ("scorer", "feature_ranker")


def learned_methods(methods) -> list[str]:
    """The learned methods among ``methods``: scorer, feature_ranker and any ``*_loto`` variant, by name."""
    return sorted(str(m) for m in set(methods) if str(m) in LEARNED or str(m).endswith("_loto"))


def bootstrap_mean(d: np.ndarray, n_boot: int, rng: np.random.Generator, level: float) -> tuple[float, float]:
    """Percentile interval of the mean of d, resampling its entries with replacement.

    NaN with one entry: one target has no spread to resample, and a zero-width interval would
    claim a certainty it does not have.
    """
    if len(d) == 1:
        return math.nan, math.nan
    draws = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(draws, [alpha, 1.0 - alpha])
    return float(low), float(high)


def _check_table(
    per_target: pd.DataFrame, baseline: str, metrics: Sequence[str], level: float
) -> tuple[list[str], list[str]]:
    """The metrics the table has and its methods, after checking it can be compared at all:
    its columns, the level, the baseline among its methods and one row per method and target."""
    missing = [c for c in ("method", "target") if c not in per_target.columns]
    if missing:
        raise TaskTransferError(
            f"the per-target table lacks columns {missing}; it needs method, target and metric columns "
            "(one row per method and target, e.g. the output of ranking_quality)"
        )
    present = [m for m in metrics if m in per_target.columns]
    if not present:
        raise TaskTransferError(
            f"the per-target table has none of the metrics {list(metrics)} (it has {list(per_target.columns)}); "
            "pass metrics= naming its columns"
        )
    if not 0.0 < level < 1.0:
        raise TaskTransferError(f"level must lie between 0 and 1, got {level}")
    methods = sorted({str(m) for m in per_target["method"]})
    if baseline not in methods:
        raise TaskTransferError(f"baseline {baseline!r} is not in the per-target table; its methods are {methods}")
    duplicated = per_target.duplicated(["method", "target"])
    if duplicated.any():
        example = per_target.loc[duplicated, ["method", "target"]].iloc[0].tolist()
        raise TaskTransferError(
            f"the per-target table has several rows for method and target {example}; keep one row per "
            "method and target (for evaluate_selections output, filter to one k first)"
        )
    return present, methods


def _paired_row(
    method: str, baseline: str, metric: str, other: pd.Series, base: pd.Series, n_boot: int, seed: int, level: float
) -> dict:
    """One method against the baseline on one metric: the mean paired difference and its interval."""
    # pairwise: a target counts when both values are present
    both = pd.concat([other, base], axis=1, join="inner", keys=["method", "baseline"])
    both = both.astype(float).dropna()
    d = (both["method"] - both["baseline"]).to_numpy()
    if len(d) == 0:
        diff = low = high = math.nan
        beats = None
    else:
        # a fresh generator per comparison: each row can be reproduced on its own
        rng = np.random.default_rng(seed)
        diff = float(d.mean())
        low, high = bootstrap_mean(d, n_boot, rng, level)
        if math.isnan(low):
            beats = None
        else:
            beats = bool(high < 0.0) if lower_is_better(metric) else bool(low > 0.0)
    return {
        "method": method,
        "baseline": baseline,
        "metric": metric,
        "diff": diff,
        "low": low,
        "high": high,
        "targets": len(d),
        "beats_baseline": beats,
    }


def compare_to_baseline(
    per_target: pd.DataFrame,
    baseline: str = "cosine_mean",
    metrics: Sequence[str] = ("spearman", "ndcg", "regret@1", "top1_gain"),
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Paired difference of every other method against ``baseline``, per metric (module docstring).

    Metrics the table lacks are skipped (the default list suits ``ranking_quality`` tables, which
    have no top1_gain); at least one must be present. Rows: methods by name, metrics in the given
    order. Columns: method, baseline, metric, diff, low, high, targets, beats_baseline.
    """
    present, methods = _check_table(per_target, baseline, metrics, level)
    table = per_target.assign(method=per_target["method"].astype(str)).set_index(["method", "target"])
    base = table.loc[baseline]
    rows = [
        _paired_row(method, baseline, metric, table.loc[method][metric], base[metric], n_boot, seed, level)
        for method in methods
        if method != baseline
        for metric in present
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


MEAN_COLUMNS = ["method", "metric", "mean", "low", "high", "targets"]


def method_means(
    per_target: pd.DataFrame,
    metrics: Sequence[str],
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Each method's mean of each metric over targets with the same percentile bootstrap interval
    over targets as :func:`compare_to_baseline` (a target counts where the metric is present; NaN
    interval on one target). Rows: methods by name, metrics in the given order; metrics the table
    lacks are skipped."""
    if not 0.0 < level < 1.0:
        raise TaskTransferError(f"level must lie between 0 and 1, got {level}")
    present = [m for m in metrics if m in per_target.columns]
    rows = []
    for method, part in sorted(per_target.groupby(per_target["method"].astype(str)), key=lambda kv: kv[0]):
        for metric in present:
            d = part[metric].astype(float).dropna().to_numpy()
            if len(d) == 0:
                continue
            low, high = bootstrap_mean(d, n_boot, np.random.default_rng(seed), level)
            rows.append({"method": method, "metric": metric, "mean": float(d.mean()), "low": low, "high": high,
                         "targets": len(d)})
    return pd.DataFrame(rows, columns=MEAN_COLUMNS)


def _describe(row: pd.Series) -> str:
    targets = int(row["targets"])
    if math.isnan(row["low"]):
        return f"{row['diff']:+.2f} on {targets} target{'s' if targets != 1 else ''} (no interval)"
    return f"{row['diff']:+.2f} [{row['low']:.2f}, {row['high']:.2f}] over {targets} targets"


def headline(comparison: pd.DataFrame, learned_methods: Sequence[str]) -> str:
    """One sentence: does any learned method beat the baseline on Spearman, interval clear of zero?

    ``comparison`` is the output of :func:`compare_to_baseline`. A method beats the baseline
    when the interval of its mean Spearman difference lies above 0.
    """
    spearman = comparison[comparison["metric"] == "spearman"].set_index("method")
    baseline = str(comparison["baseline"].iloc[0]) if len(comparison) else "the baseline"
    compared = [m for m in learned_methods if m in spearman.index and int(spearman.loc[m, "targets"]) > 0]
    if not compared:
        names = ", ".join(learned_methods) or "none named"
        return f"No learned method ({names}) was compared with {baseline} on Spearman."
    winners = [m for m in compared if spearman.loc[m, "low"] > 0.0]
    others = [m for m in compared if m not in winners]
    if not winners:
        detail = "; ".join(f"{m} {_describe(spearman.loc[m])}" for m in others)
        return f"No learned method beats {baseline} on Spearman (mean difference, bootstrap interval): {detail}."
    claims = "; ".join(f"{m} beats {baseline} on Spearman by {_describe(spearman.loc[m])}" for m in winners)
    if others:
        claims += "; " + "; ".join(f"{m} does not ({_describe(spearman.loc[m])})" for m in others)
    return claims + "."
