"""The evaluation's comparisons as tables and sentences (report_tables.py writes them):

- ``intervals``: every method's mean over targets of each metric with a t interval over targets;
- ``versus_cosine``: every method against ``cosine_mean``, the primary comparison of the config
  first, the others exploratory with Holm-adjusted p-values (:mod:`~tasktransfer.analysis.versus_baseline`);
- the headline: the primary comparison's verdict with its null, the learned methods' exploratory
  verdict, the methods that fell back to cosine, and the power of the design;
- the design: variance components, per-target split-half reliability and noise ceiling beside
  each method's Spearman (:mod:`~tasktransfer.analysis.design_power`).
"""

from __future__ import annotations

import math

import pandas as pd

from tasktransfer.analysis.design_power import (
    COMPONENT_COLUMNS,
    RELIABILITY_COLUMNS,
    noise_ceiling_table,
    power_sentence,
    split_half_reliability,
    variance_components,
)
from tasktransfer.analysis.evaluation import method_order
from tasktransfer.analysis.versus_baseline import (
    EXPLORATORY_ROLE,
    METRIC_NAMES,
    PRIMARY_ROLE,
    Primary,
    compare_to_baseline,
    headline,
    learned_methods,
    mark_family,
    method_means,
    paired_differences,
    same_as_baseline,
    same_as_baseline_sentence,
)

BASELINE = "cosine_mean"
VERSUS_METRICS = ("spearman", "ndcg", "regret@1", "top1_gain")
VERSUS_COLUMNS = ["method", "metric", "role", "diff", "low", "high", "targets", "p_value", "p_holm", "beats_baseline"]
#: metrics on a correlation's scale, where a reference difference of 0.1 means something
CORRELATIONS = ("spearman", "pearson", "ndcg")

INTERVALS_NOTE = (
    "Each method's mean over targets of Spearman and NDCG (its scores against the gains), regret@k (in %, "
    "against the in-sample brute force), regret_xfit@1 (against the cross-fitted one) and top1_gain (the "
    "top-1 pick's gain over no transfer, points); low and high: the {level:.0%} Student-t interval over "
    "targets (none with one target)."
)
VERSUS_NOTE = (
    "Each method against {baseline}: diff is the mean over targets of the per-target difference "
    "(method - {baseline}) in Spearman, NDCG, regret@1 (in %, against the in-sample brute force; lower "
    "is better) and top1_gain (the top-1 pick's gain over no transfer, points); low and high: the "
    "{level:.0%} Student-t interval over targets (none with one target); p_value: the paired t test of "
    "a zero mean difference. The first row is the primary comparison, named in the config before the "
    "run and tested alone; every other row is exploratory: per metric the methods against {baseline} "
    "are one family, p_holm its Holm-adjusted p-values. beats_baseline: primary - its interval clears 0 "
    "on the good side; exploratory - p_holm below {alpha:.2g} on the good side; the oracles and the "
    "random expectation are references, outside the family (their interval read as is)."
)
DESIGN_NOTE = (
    "What this design can tell apart. Per target: split_half, the Spearman between the sources' mean "
    "gains on the two halves of its seeds (split as the cross-fitted oracle splits them); reliability, its "
    "Spearman-Brown step-up to all the seeds used; ceiling = sqrt(reliability), the noise ceiling: the "
    "Spearman a method that knew the true gains would reach on average against these measured gains. "
    "The other columns are each ranking method's Spearman on that target, to be read beside the "
    "ceiling; the last row holds the means. Variance components of the gain (points squared; "
    "variance_components.tsv): {components}. {power}"
)


def versus_baseline_inputs(per_target: pd.DataFrame, quality: pd.DataFrame | None) -> pd.DataFrame:
    """One row per method and target: spearman, ndcg (from the rankings), regret@1 and top1_gain
    (the top-1 pick's regret against in-sample brute force, in %, and its gain over no transfer)."""
    top1 = per_target[per_target["k"] == 1][["method", "target", "regret", "gain"]]
    table = top1.rename(columns={"regret": "regret@1", "gain": "top1_gain"})
    if quality is not None and len(quality):
        table = table.merge(quality[["method", "target", "spearman", "ndcg"]], on=["method", "target"], how="outer")
    else:
        table = table.assign(spearman=float("nan"), ndcg=float("nan"))
    return table[["method", "target", *VERSUS_METRICS]]


def in_method_order(table: pd.DataFrame) -> pd.DataFrame:
    """The rows sorted by :func:`method_order` of their methods (stable within a method)."""
    order = {m: i for i, m in enumerate(method_order(table["method"].unique()))}
    return table.sort_values("method", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)


def method_intervals(per_target: pd.DataFrame, quality: pd.DataFrame | None, ks: list[int], level: float = 0.95) -> pd.DataFrame:
    """Every method's mean Spearman, NDCG, Regret@k (each k), regret_xfit@1 and top-1 gain over
    targets, each with its t interval over targets: method, metric, mean, low, high, targets."""
    table = versus_baseline_inputs(per_target, quality)
    metrics = ["spearman", "ndcg", "regret@1"]
    for k in sorted({int(k) for k in ks} - {1}):
        at_k = per_target[per_target["k"] == k][["method", "target", "regret"]].rename(columns={"regret": f"regret@{k}"})
        table = table.merge(at_k, on=["method", "target"], how="left")
        metrics.append(f"regret@{k}")
    if "regret_xfit" in per_target.columns:
        xfit = per_target[per_target["k"] == 1][["method", "target", "regret_xfit"]].rename(columns={"regret_xfit": "regret_xfit@1"})
        table = table.merge(xfit, on=["method", "target"], how="left")
        metrics.append("regret_xfit@1")
    return in_method_order(method_means(table, [*metrics, "top1_gain"], level=level))


def _primary_row(inputs: pd.DataFrame, primary: Primary, level: float) -> pd.DataFrame:
    """The primary comparison when its baseline is not cosine_mean (one row, or none)."""
    methods = set(inputs["method"])
    if primary.baseline not in methods or primary.method not in methods or primary.metric not in inputs:
        return pd.DataFrame()
    pair = inputs[inputs["method"].isin([primary.method, primary.baseline])]
    table = compare_to_baseline(pair, baseline=primary.baseline, metrics=[primary.metric], level=level)
    return table[table["method"] == primary.method]


def versus_cosine(
    per_target: pd.DataFrame, quality: pd.DataFrame | None, level: float = 0.95, primary: Primary | None = None
) -> tuple[pd.DataFrame, str]:
    """Every method against cosine_mean, the primary comparison first (its own row when its baseline
    is another), rows resting on no target left out: method, metric, role, diff, low, high, targets,
    p_value, p_holm, beats_baseline (and baseline, where the primary's is not cosine_mean); and the
    headline sentence (primary verdict, then the learned methods, exploratory)."""
    inputs = versus_baseline_inputs(per_target, quality)
    if BASELINE not in set(inputs["method"]):
        return pd.DataFrame(columns=VERSUS_COLUMNS), f"{BASELINE} is not among this run's methods: no method was compared with it."
    table = compare_to_baseline(inputs, baseline=BASELINE, metrics=VERSUS_METRICS, level=level)
    table = in_method_order(table[table["targets"] > 0])
    if primary is not None and primary.baseline != BASELINE:
        table = pd.concat([_primary_row(inputs, primary, level), table], ignore_index=True)
    table = mark_family(table, primary, level)
    sentence = headline(table, learned_methods(inputs["method"].unique()), primary, level)
    note = same_as_baseline_sentence(same_as_baseline(inputs, BASELINE, VERSUS_METRICS), BASELINE)
    sentence = f"{sentence} {note}" if note else sentence
    columns = VERSUS_COLUMNS if (table["baseline"] == BASELINE).all() else ["method", "baseline", *VERSUS_COLUMNS[1:]]
    return table[columns], sentence


def power_inputs(
    per_target: pd.DataFrame, quality: pd.DataFrame | None, primary: Primary | None, versus: pd.DataFrame
) -> tuple[float, int, str, str]:
    """The SD of the per-target differences the power is read from, over how many targets, what
    they are and the metric: the primary comparison's where it was made, else the exploratory
    Spearman comparisons with cosine_mean, pooled (each around its own mean; n their most targets)."""
    inputs = versus_baseline_inputs(per_target, quality).set_index(["method", "target"])
    roles = versus["role"] if "role" in versus.columns else pd.Series(dtype=object)
    if primary is not None and (roles == PRIMARY_ROLE).any():
        d = paired_differences(inputs.loc[primary.method][primary.metric], inputs.loc[primary.baseline][primary.metric])
        sd = float(d.std(ddof=1)) if len(d) > 1 else math.nan
        return sd, len(d), f"the primary comparison, {primary.method} - {primary.baseline}", primary.metric
    squares, df, n = 0.0, 0, 0
    exploratory = versus[(roles == EXPLORATORY_ROLE) & (versus["metric"] == "spearman")] if len(roles) else versus
    for method in exploratory.get("method", []):
        d = paired_differences(inputs.loc[method]["spearman"], inputs.loc[BASELINE]["spearman"])
        squares, df, n = squares + float(((d - d.mean()) ** 2).sum()), df + max(len(d) - 1, 0), max(n, len(d))
    sd = math.sqrt(squares / df) if df else math.nan
    return sd, n, f"the exploratory methods - {BASELINE}, pooled", "spearman"


def _components_text(components: pd.DataFrame) -> str:
    parts = []
    for row in components.itertuples(index=False):
        share = "" if math.isnan(row.share) else f" ({row.share:.0%} on a pair mean)"
        value = "not estimated" if math.isnan(row.variance) else f"{row.variance:.3g}"
        parts.append(f"{row.component} {value}{share}")
    return "; ".join(parts) if parts else "none (no seeds)"


def design_tables(
    per_seed: pd.DataFrame | None,
    quality: pd.DataFrame | None,
    power: tuple[float, int, str, str],
    level: float = 0.95,
) -> tuple[pd.DataFrame, pd.DataFrame, str, str]:
    """Variance components, the noise-ceiling table, the power sentence (from :func:`power_inputs`)
    and the design note. Without per-seed gains there are no components nor reliabilities (empty
    tables with their columns); the power needs only the per-target differences."""
    sd, n, what, metric = power
    sentence = power_sentence(sd, n, what, METRIC_NAMES.get(metric, metric), level,
                              reference=0.1 if metric in CORRELATIONS else None)
    if per_seed is None or per_seed.empty:
        components = pd.DataFrame(columns=COMPONENT_COLUMNS)
        reliability = pd.DataFrame(columns=RELIABILITY_COLUMNS)
    else:
        components = variance_components(per_seed)
        reliability = split_half_reliability(per_seed)
    ceiling = noise_ceiling_table(reliability, quality)
    note = DESIGN_NOTE.format(components=_components_text(components), power=sentence)
    return components, ceiling, sentence, note
