"""Does a method beat a baseline, target by target, beyond the luck of which targets were run?

Input: a per-target table (one row per method and target, e.g. the output of
``evaluation.ranking_quality``) with metric columns. For each method other than the baseline and
each metric:

- the paired difference d_t = metric(method, t) - metric(baseline, t), over the targets where
  both values are present (NaN on either side drops that target for that metric only);
- ``diff`` = mean_t d_t;
- ``low`` / ``high``: the **Student-t interval** (``level``) of that mean over targets,
  mean ± t_{n-1} sd / sqrt(n) (the targets are the unit of replication: a study of other targets
  would give another mean); NaN on one target. It replaced a percentile bootstrap over targets,
  which covers about 90 % instead of 95 % with 10 targets (it ignores that the spread itself is
  estimated); :func:`bootstrap_mean` stays for the budget's ratio of means;
- ``p_value``: the paired t test of "mean difference 0" (two-sided), the test the interval
  inverts: the interval clears 0 exactly when p_value < 1 - level;
- ``targets``: how many targets the difference rests on;
- ``beats_baseline``: the interval lies entirely on the good side of 0 (above 0 for Spearman,
  NDCG, gains; below 0 for regret, where lower is better); None without an interval.

**One primary comparison, a family of exploratory ones** (:func:`mark_family`): the comparison
named in the config before the run (:class:`Primary`, e.g. LogME against cosine_mean on mean
Spearman) is tested alone at alpha = 1 - level; every other method against the baseline is
exploratory, and per metric those comparisons form one family whose p-values are Holm-adjusted
(``p_holm``; :func:`holm`). An exploratory row's ``beats_baseline`` is then read from p_holm (below
alpha, on the good side), the primary's from its own interval. The oracles and the random
expectation (:data:`REFERENCES`) are references, not hypotheses: no p_holm, outside the family.

Pairing by target matters: targets differ far more from each other than methods do, and the
paired difference removes that shared part.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tasktransfer.errors import TaskTransferError

COLUMNS = ["method", "baseline", "metric", "diff", "low", "high", "targets", "p_value", "beats_baseline"]
#: the rows that are no hypothesis: the oracles (they read the gains they are judged on) and the
#: random expectation
REFERENCES = ("brute_force", "brute_force_xfit", "random_expected")
PRIMARY_ROLE = "primary (named in the config before the run)"
EXPLORATORY_ROLE = "exploratory"
REFERENCE_ROLE = "reference (outside the Holm family)"
#: how a metric is named in sentences
METRIC_NAMES = {"spearman": "Spearman", "ndcg": "NDCG", "pearson": "Pearson", "regret@1": "regret@1",
                "top1_gain": "top-1 gain"}


def lower_is_better(metric: str) -> bool:
    """Regret (any k) is a loss; every other metric here is better when higher."""
    return metric.startswith("regret")


#: the methods that learn from transfer results (the headline's subject); ``*_loto`` variants too
LEARNED = ("scorer", "feature_ranker")


def learned_methods(methods) -> list[str]:
    """The learned methods among ``methods``: scorer, feature_ranker and any ``*_loto`` variant, by name."""
    return sorted(str(m) for m in set(methods) if str(m) in LEARNED or str(m).endswith("_loto"))


@dataclass(frozen=True)
class Primary:
    """The one comparison named in the config before the run (``selection.primary``)."""

    method: str = "logme"
    baseline: str = "cosine_mean"
    metric: str = "spearman"

    @property
    def metric_name(self) -> str:
        return METRIC_NAMES.get(self.metric, self.metric)

    def null(self) -> str:
        """The null hypothesis its test rejects or keeps, in words."""
        return f"H0: equal mean per-target {self.metric_name} of {self.method} and {self.baseline} over targets"

    def describe(self) -> str:
        return f"{self.method} against {self.baseline} on mean per-target {self.metric_name}"


def bootstrap_mean(d: np.ndarray, n_boot: int, rng: np.random.Generator, level: float) -> tuple[float, float]:
    """Percentile interval of the mean of d, resampling its entries with replacement.

    NaN with one entry: one target has no spread to resample, and a zero-width interval would
    claim a certainty it does not have. (The comparisons use :func:`t_interval`; this stays for
    statistics with no t form, such as the budget's ratio of means.)
    """
    if len(d) == 1:
        return math.nan, math.nan
    draws = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(draws, [alpha, 1.0 - alpha])
    return float(low), float(high)


#: a spread this small (relative to the mean) is rounding, not spread
_FLAT = 1e-12


def t_interval(d: Sequence[float], level: float = 0.95) -> tuple[float, float, float, float]:
    """Mean of d, its Student-t interval (``level``) and the two-sided p-value of "mean 0".

    mean ± t_{n-1, (1 + level) / 2} sd / sqrt(n), sd with ddof 1. NaN interval and p with fewer
    than 2 values. No spread at all: a zero-width interval at the mean, p = 1 at a mean of 0 and
    0 elsewhere (every target moved the same way by the same amount).
    """
    from scipy import stats

    d = np.asarray(d, dtype=float)
    n = len(d)
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan
    mean = float(d.mean())
    if n == 1:
        return mean, math.nan, math.nan, math.nan
    se = float(d.std(ddof=1)) / math.sqrt(n)
    if se <= _FLAT * max(1.0, abs(mean)):  # equal differences up to rounding: no spread
        return mean, mean, mean, 1.0 if abs(mean) <= _FLAT else 0.0
    q = float(stats.t.ppf(0.5 + level / 2.0, n - 1))
    p = float(2.0 * stats.t.sf(abs(mean) / se, n - 1))
    return mean, mean - q * se, mean + q * se, p


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN entries stay NaN and do not count in the family).

    Sorted ascending, p_(i) becomes max_{j <= i} min(1, (m - j + 1) p_(j)) (i, j from 1). Written
    out rather than taken from statsmodels, which the project does not depend on for ten lines.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, math.nan)
    present = np.flatnonzero(~np.isnan(p))
    m = len(present)
    order = present[np.argsort(p[present], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        out[index] = running
    return out


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


def paired_differences(other: pd.Series, base: pd.Series) -> pd.Series:
    """Per target, method minus baseline, over the targets where both values are present."""
    both = pd.concat([other, base], axis=1, join="inner", keys=["method", "baseline"]).astype(float).dropna()
    return both["method"] - both["baseline"]


def _on_good_side(metric: str, low: float, high: float) -> bool | None:
    if math.isnan(low):
        return None
    return bool(high < 0.0) if lower_is_better(metric) else bool(low > 0.0)


def _paired_row(method: str, baseline: str, metric: str, other: pd.Series, base: pd.Series, level: float) -> dict:
    """One method against the baseline on one metric: the mean paired difference, its t interval and p."""
    d = paired_differences(other, base).to_numpy()
    diff, low, high, p = t_interval(d, level)
    return {"method": method, "baseline": baseline, "metric": metric, "diff": diff, "low": low, "high": high,
            "targets": len(d), "p_value": p, "beats_baseline": _on_good_side(metric, low, high)}


def compare_to_baseline(
    per_target: pd.DataFrame,
    baseline: str = "cosine_mean",
    metrics: Sequence[str] = ("spearman", "ndcg", "regret@1", "top1_gain"),
    level: float = 0.95,
) -> pd.DataFrame:
    """Paired difference of every other method against ``baseline``, per metric (module docstring).

    Metrics the table lacks are skipped (the default list suits ``ranking_quality`` tables, which
    have no top1_gain); at least one must be present. Rows: methods by name, metrics in the given
    order. Columns: method, baseline, metric, diff, low, high, targets, p_value, beats_baseline
    (unadjusted: :func:`mark_family` adds the multiplicity control).
    """
    present, methods = _check_table(per_target, baseline, metrics, level)
    table = per_target.assign(method=per_target["method"].astype(str)).set_index(["method", "target"])
    base = table.loc[baseline]
    rows = [
        _paired_row(method, baseline, metric, table.loc[method][metric], base[metric], level)
        for method in methods
        if method != baseline
        for metric in present
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def mark_family(comparison: pd.DataFrame, primary: Primary | None = None, level: float = 0.95) -> pd.DataFrame:
    """The comparison with ``role`` and ``p_holm``, the primary row first (module docstring).

    The primary row (its method, baseline and metric) keeps its unadjusted test; per metric every
    other row that is no reference forms the Holm family, and its ``beats_baseline`` becomes
    "p_holm below 1 - level and the difference on the good side". References keep their interval's
    reading and get no p_holm.
    """
    table = comparison.copy()
    is_primary = pd.Series(False, index=table.index)
    if primary is not None:
        is_primary = (table["method"] == primary.method) & (table["baseline"] == primary.baseline) & (
            table["metric"] == primary.metric)
    reference = table["method"].isin(REFERENCES) & ~is_primary
    table["role"] = np.where(is_primary, PRIMARY_ROLE, np.where(reference, REFERENCE_ROLE, EXPLORATORY_ROLE))
    table["p_holm"] = math.nan
    table["beats_baseline"] = table["beats_baseline"].astype(object)
    family = ~is_primary & ~reference
    for _, rows in table[family].groupby(["baseline", "metric"], sort=False):
        table.loc[rows.index, "p_holm"] = holm(rows["p_value"].to_numpy())
    alpha = 1.0 - level
    for index in table.index[family]:
        p, diff, metric = table.at[index, "p_holm"], table.at[index, "diff"], table.at[index, "metric"]
        good = diff < 0.0 if lower_is_better(metric) else diff > 0.0
        table.at[index, "beats_baseline"] = None if math.isnan(p) else bool(p < alpha and good)
    order = np.argsort(~is_primary.to_numpy(), kind="stable")
    columns = ["method", "baseline", "metric", "role", "diff", "low", "high", "targets", "p_value", "p_holm",
               "beats_baseline"]
    return table.iloc[order].reset_index(drop=True)[columns]


MEAN_COLUMNS = ["method", "metric", "mean", "low", "high", "targets"]


def method_means(per_target: pd.DataFrame, metrics: Sequence[str], level: float = 0.95) -> pd.DataFrame:
    """Each method's mean of each metric over targets with the same Student-t interval over targets
    as :func:`compare_to_baseline` (a target counts where the metric is present; NaN interval on one
    target). Rows: methods by name, metrics in the given order; metrics the table lacks are skipped."""
    if not 0.0 < level < 1.0:
        raise TaskTransferError(f"level must lie between 0 and 1, got {level}")
    present = [m for m in metrics if m in per_target.columns]
    rows = []
    for method, part in sorted(per_target.groupby(per_target["method"].astype(str)), key=lambda kv: kv[0]):
        for metric in present:
            d = part[metric].astype(float).dropna().to_numpy()
            if len(d) == 0:
                continue
            mean, low, high, _ = t_interval(d, level)
            rows.append({"method": method, "metric": metric, "mean": mean, "low": low, "high": high, "targets": len(d)})
    return pd.DataFrame(rows, columns=MEAN_COLUMNS)


def _describe(row: pd.Series, p_column: str = "p_holm") -> str:
    targets = int(row["targets"])
    if math.isnan(row["low"]):
        return f"{row['diff']:+.2f} on {targets} target{'s' if targets != 1 else ''} (no interval)"
    p = row.get(p_column, math.nan)
    test = "" if p is None or math.isnan(p) else f", {'Holm p' if p_column == 'p_holm' else 'p'} = {p:.3f}"
    return f"{row['diff']:+.2f} [{row['low']:.2f}, {row['high']:.2f}] over {targets} targets{test}"


def primary_sentence(comparison: pd.DataFrame, primary: Primary, level: float = 0.95) -> str:
    """The primary comparison's verdict, its null named: rejected at 1 - level (and which way) or not.

    ``comparison`` is the output of :func:`mark_family` (the primary row has role primary).
    """
    opening = f"Primary comparison (named in the config before the run), {primary.describe()}; {primary.null()}"
    rows = comparison[comparison["role"] == PRIMARY_ROLE] if "role" in comparison else comparison.iloc[:0]
    if rows.empty or int(rows["targets"].iloc[0]) == 0:
        compared = set(comparison["method"]) | set(comparison["baseline"])
        missing = [m for m in (primary.method, primary.baseline) if m not in compared]
        verb = "is" if len(missing) == 1 else "are"
        why = (f"{' and '.join(missing)} {verb} not among the methods of this run" if missing
               else f"no target has a {primary.metric_name} of both")
        return f"{opening}: not made on this run ({why})."
    row = rows.iloc[0]
    alpha = 1.0 - level
    if math.isnan(row["p_value"]):
        return f"{opening}: {primary.method} - {primary.baseline} = {row['diff']:+.2f} on one target: no interval, no test."
    shown = (f"{primary.method} - {primary.baseline} = {_describe(row, 'p_value')} (mean difference, {level:.0%} "
             "t interval over targets, paired t test, two-sided)")
    if row["p_value"] >= alpha:
        return f"{opening}: {shown}; H0 is not rejected at {alpha:.2g}."
    verb = "beats" if _yes(row["beats_baseline"]) else "does worse than"
    return f"{opening}: {shown}; H0 is rejected at {alpha:.2g}: {primary.method} {verb} {primary.baseline}."


def headline(comparison: pd.DataFrame, learned_methods: Sequence[str], primary: Primary | None = None,
             level: float = 0.95) -> str:
    """The primary comparison's verdict (with ``primary``), then, exploratory: does any learned
    method beat the baseline on Spearman once the family is Holm-corrected?

    ``comparison`` is the output of :func:`mark_family` (or of :func:`compare_to_baseline`, read
    unadjusted). The learned method of the primary comparison, when that is the Spearman one
    against this baseline, is left out of the exploratory part: it was reported first.
    """
    first = primary_sentence(comparison, primary, level) + " " if primary is not None else ""
    spearman = comparison[(comparison["metric"] == "spearman") & (comparison.get("role", "") != PRIMARY_ROLE)]
    spearman = spearman.set_index("method")
    baseline = str(comparison["baseline"].iloc[0]) if len(comparison) else "the baseline"
    label = f"Exploratory (Holm over the methods against {baseline}): " if "p_holm" in spearman else ""
    body = _learned_verdict(spearman, learned_methods, baseline)
    return first + (label + body if label else body[0].upper() + body[1:])


def same_as_baseline(inputs: pd.DataFrame, baseline: str, metrics: Sequence[str]) -> list[str]:
    """Methods that score exactly as ``baseline`` on every target they share and every metric
    (``inputs``: method, target, the metrics): a ranker that fell back to the baseline. Their
    difference of zero is the baseline's own ranking, which the headline must say, not a finding."""
    metrics = [m for m in metrics if m in inputs.columns]
    table = inputs.set_index(["method", "target"])[metrics]
    if baseline not in table.index.get_level_values("method"):
        return []
    base = table.loc[baseline]
    same = []
    for method in sorted(set(table.index.get_level_values("method")) - {baseline}):
        mine = table.loc[method]
        shared = mine.index.intersection(base.index)
        if shared.empty:
            continue
        # NaN matches only NaN: a metric one method lacks where the other has it is a difference
        if np.allclose(mine.loc[shared].to_numpy(float), base.loc[shared].to_numpy(float), rtol=0, atol=1e-12,
                       equal_nan=True):
            same.append(method)
    return same


def same_as_baseline_sentence(methods: Sequence[str], baseline: str) -> str:
    """The headline's note on :func:`same_as_baseline`'s methods ('' when there are none)."""
    if not methods:
        return ""
    names = ", ".join(methods)
    verb = "scores" if len(methods) == 1 else "score"
    return (f"{names} {verb} exactly as {baseline} on every target and metric (it fell back to {baseline}): "
            f"a difference of zero there is {baseline}'s own ranking, not a finding.")


def _yes(value) -> bool:
    """A beats_baseline cell that says yes (not None, NaN or False)."""
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and bool(value)


def _learned_verdict(spearman: pd.DataFrame, learned_methods: Sequence[str], baseline: str) -> str:
    """Which learned methods beat the baseline on Spearman (rows by method), with their numbers."""
    compared = [m for m in learned_methods if m in spearman.index and int(spearman.loc[m, "targets"]) > 0]
    if not compared:
        names = ", ".join(learned_methods) or "none named"
        return f"no learned method ({names}) was compared with {baseline} on Spearman."
    winners = [m for m in compared if _yes(spearman.loc[m, "beats_baseline"])]
    others = [m for m in compared if m not in winners]
    if not winners:
        detail = "; ".join(f"{m} {_describe(spearman.loc[m])}" for m in others)
        return f"no learned method beats {baseline} on Spearman (mean difference, t interval): {detail}."
    claims = "; ".join(f"{m} beats {baseline} on Spearman by {_describe(spearman.loc[m])}" for m in winners)
    if others:
        claims += "; " + "; ".join(f"{m} does not ({_describe(spearman.loc[m])})" for m in others)
    return claims + "."
