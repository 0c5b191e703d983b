"""Paired differences of methods against a baseline: t intervals over targets, Holm over the
family, one primary comparison named before the run (planted tables with known answers)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tasktransfer.analysis.versus_baseline import (
    EXPLORATORY_ROLE,
    PRIMARY_ROLE,
    REFERENCE_ROLE,
    Primary,
    bootstrap_mean,
    compare_to_baseline,
    headline,
    holm,
    mark_family,
    method_means,
    primary_sentence,
    same_as_baseline,
    same_as_baseline_sentence,
    t_interval,
)
from tasktransfer.errors import TaskTransferError

TARGETS = ["t1", "t2", "t3", "t4"]


def per_target() -> pd.DataFrame:
    rows = []
    base = {"spearman": [0.5, 0.2, 0.4, 0.1], "regret@1": [10.0, 0.0, 5.0, 20.0]}
    scorer = {"spearman": [0.1, -0.2, 0.0, -0.3], "regret@1": [30.0, 10.0, 5.0, 40.0]}
    ranker = {"spearman": [0.7, 0.5, 0.6, math.nan], "regret@1": [0.0, 0.0, 0.0, 10.0]}
    for method, values in [("cosine_mean", base), ("scorer", scorer), ("feature_ranker", ranker)]:
        for i, t in enumerate(TARGETS):
            rows.append({"method": method, "target": t, **{m: v[i] for m, v in values.items()}})
    return pd.DataFrame(rows)


def get(table: pd.DataFrame, method: str, metric: str) -> pd.Series:
    return table[(table.method == method) & (table.metric == metric)].iloc[0]


def test_t_interval_and_p_value_by_hand():
    mean, low, high, p = t_interval([1.0, 2.0, 3.0, 4.0], 0.95)
    se = np.std([1, 2, 3, 4], ddof=1) / 2
    q = stats.t.ppf(0.975, 3)
    assert mean == 2.5 and (low, high) == (pytest.approx(2.5 - q * se), pytest.approx(2.5 + q * se))
    assert p == pytest.approx(stats.ttest_1samp([1, 2, 3, 4], 0.0).pvalue)
    # the interval clears 0 exactly when p < 1 - level
    assert (low > 0) == (p < 0.05)
    assert all(math.isnan(v) for v in t_interval([3.0])[1:]) and t_interval([3.0])[0] == 3.0
    assert t_interval([0.2, 0.2, 0.2]) == (pytest.approx(0.2), pytest.approx(0.2), pytest.approx(0.2), 0.0)
    assert t_interval([0.0, 0.0])[3] == 1.0


def test_t_interval_covers_its_level_where_the_percentile_bootstrap_falls_short():
    """10 targets of normal differences: the t interval covers 95 %, the percentile bootstrap ~90 %."""
    rng = np.random.default_rng(7)
    draws = rng.normal(0.3, 1.0, size=(1500, 10))
    t_hits = boot_hits = 0
    for d in draws:
        _, low, high, _ = t_interval(d, 0.95)
        t_hits += low <= 0.3 <= high
        b_low, b_high = bootstrap_mean(d, 500, rng, 0.95)
        boot_hits += b_low <= 0.3 <= b_high
    assert 0.93 <= t_hits / 1500 <= 0.97
    assert boot_hits / 1500 < 0.925


def test_holm_by_hand_and_nan_left_out():
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4 x 0.005, 3 x 0.01, 2 x 0.03, max(0.06, 0.04)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = holm([0.02, math.nan, 0.5])
    assert adjusted[0] == pytest.approx(0.04) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.5)
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])  # capped at 1, monotone
    assert len(holm([])) == 0


def test_exact_differences_intervals_and_p_values():
    table = compare_to_baseline(per_target(), metrics=("spearman", "regret@1"))
    assert list(table.columns) == ["method", "baseline", "metric", "diff", "low", "high", "targets", "p_value",
                                   "beats_baseline"]
    assert (table["baseline"] == "cosine_mean").all() and set(table["method"]) == {"scorer", "feature_ranker"}
    scorer = get(table, "scorer", "spearman")
    # every target: scorer is 0.4 below the baseline, no spread: a zero-width interval, p 0
    assert scorer["diff"] == pytest.approx(-0.4) and scorer["targets"] == 4
    assert scorer["low"] == pytest.approx(-0.4) and scorer["high"] == pytest.approx(-0.4)
    assert scorer["p_value"] == 0.0 and not scorer["beats_baseline"]
    regret = get(table, "scorer", "regret@1")
    d = np.array([20.0, 10.0, 0.0, 20.0])
    _, low, high, p = t_interval(d)
    assert regret["diff"] == pytest.approx(d.mean()) and (regret["low"], regret["high"]) == (pytest.approx(low), pytest.approx(high))
    assert regret["p_value"] == pytest.approx(p)
    # a higher regret is worse: the scorer does not beat the baseline there
    assert not regret["beats_baseline"]


def test_nan_values_drop_that_target_pairwise():
    table = compare_to_baseline(per_target(), metrics=("spearman", "regret@1"))
    ranker = get(table, "feature_ranker", "spearman")
    # t4 has no Spearman for the ranker: differences 0.2, 0.3, 0.2 over the other three targets
    assert ranker["targets"] == 3 and ranker["diff"] == pytest.approx(0.7 / 3)
    _, low, high, _ = t_interval([0.2, 0.3, 0.2])
    assert (ranker["low"], ranker["high"]) == (pytest.approx(low), pytest.approx(high))
    assert bool(ranker["beats_baseline"]) is True
    assert get(table, "feature_ranker", "regret@1")["targets"] == 4


def test_a_method_identical_to_the_baseline_gives_zero():
    table = per_target()
    clone = table[table.method == "cosine_mean"].assign(method="clone")
    row = get(compare_to_baseline(pd.concat([table, clone]), metrics=("spearman",)), "clone", "spearman")
    assert (row["diff"], row["low"], row["high"], row["p_value"]) == (0.0, 0.0, 0.0, 1.0)
    assert not row["beats_baseline"]


def planted_family() -> pd.DataFrame:
    """Five methods against cosine on 8 targets: logme +0.2 each target with small noise (the
    primary), a, b, c with unadjusted p just under 0.05, brute_force far above (a reference)."""
    rng = np.random.default_rng(3)
    shifts = {"cosine_mean": 0.0, "logme": 0.2, "a": 0.09, "b": 0.09, "c": 0.09, "brute_force": 0.9}
    noise = rng.normal(0.0, 1.0, 8)
    noise = (noise - noise.mean()) / noise.std(ddof=1)
    rows = []
    for method, shift in shifts.items():
        spread = {"logme": 0.01, "brute_force": 0.01, "cosine_mean": 0.0}.get(method, 0.1)
        for i in range(8):
            value = 0.1 + shift + spread * noise[(i + len(method)) % 8] if method != "cosine_mean" else 0.1
            rows.append({"method": method, "target": f"t{i}", "spearman": value})
    return pd.DataFrame(rows)


def test_the_primary_is_first_alone_and_the_rest_is_holm_corrected():
    comparison = compare_to_baseline(planted_family(), metrics=("spearman",))
    raw = comparison.set_index("method")["p_value"]
    # planted: a, b and c each clear 0 unadjusted (p < 0.05), but not after Holm over three
    assert all(0.01 < raw[m] < 0.05 for m in "abc"), raw
    marked = mark_family(comparison, Primary("logme", "cosine_mean", "spearman"))
    assert list(marked.columns) == ["method", "baseline", "metric", "role", "diff", "low", "high", "targets",
                                    "p_value", "p_holm", "beats_baseline"]
    assert marked.iloc[0]["method"] == "logme" and marked.iloc[0]["role"] == PRIMARY_ROLE
    assert math.isnan(marked.iloc[0]["p_holm"]) and marked.iloc[0]["beats_baseline"] is True
    rows = marked.set_index("method")
    assert rows.loc["brute_force", "role"] == REFERENCE_ROLE and math.isnan(rows.loc["brute_force", "p_holm"])
    family = rows.loc[list("abc")]
    assert (family["role"] == EXPLORATORY_ROLE).all()
    assert family["p_holm"].to_numpy() == pytest.approx(holm(raw[list("abc")].to_numpy()))
    assert (family["low"] > 0).all() and not family["beats_baseline"].any()
    # without a primary, logme joins the family of four
    alone = mark_family(comparison, None).set_index("method")
    assert alone.loc["logme", "role"] == EXPLORATORY_ROLE and not math.isnan(alone.loc["logme", "p_holm"])


def test_the_primary_sentence_names_its_null_and_its_verdict():
    primary = Primary("logme", "cosine_mean", "spearman")
    marked = mark_family(compare_to_baseline(planted_family(), metrics=("spearman",)), primary)
    text = primary_sentence(marked, primary)
    assert text.startswith("Primary comparison (named in the config before the run), logme against cosine_mean on "
                           "mean per-target Spearman; H0: equal mean per-target Spearman of logme and cosine_mean "
                           "over targets: logme - cosine_mean = +0.20 [")
    assert text.endswith("H0 is rejected at 0.05: logme beats cosine_mean.")
    flat = per_target()
    flat.loc[flat.method == "scorer", "spearman"] = [0.6, 0.1, 0.4, 0.1]  # differences 0.1, -0.1, 0, 0
    scorer = Primary("scorer")
    text = primary_sentence(mark_family(compare_to_baseline(flat, metrics=("spearman",)), scorer), scorer)
    assert "H0 is not rejected at 0.05." in text and "p = 1.000" in text
    missing = Primary("logme")
    text = primary_sentence(mark_family(compare_to_baseline(per_target(), metrics=("spearman",)), missing), missing)
    assert "not made on this run" in text and "H0: equal mean per-target Spearman of logme" in text
    one = per_target()[per_target().target == "t1"]
    text = primary_sentence(mark_family(compare_to_baseline(one, metrics=("spearman",)), scorer), scorer)
    assert text.endswith("scorer - cosine_mean = -0.40 on one target: no interval, no test.")
    worse = primary_sentence(mark_family(compare_to_baseline(per_target(), metrics=("spearman",)), scorer), scorer)
    assert worse.endswith("H0 is rejected at 0.05: scorer does worse than cosine_mean.")


def test_headline_sentences():
    marked = mark_family(compare_to_baseline(per_target(), metrics=("spearman",)), Primary("logme"))
    text = headline(marked, ["scorer", "feature_ranker"], Primary("logme"))
    assert text.startswith("Primary comparison (named in the config before the run)")
    exploratory = text[text.index("Exploratory"):]
    # family of two: feature_ranker p 0.020 -> Holm 0.040 (below 0.05), the scorer's p 0 -> 0
    assert exploratory.startswith("Exploratory (Holm over the methods against cosine_mean): feature_ranker beats "
                                  "cosine_mean on Spearman by +0.23 [")
    assert "Holm p = 0.0" in exploratory and "scorer does not (-0.40 [-0.40, -0.40] over 4 targets" in exploratory
    plain = headline(compare_to_baseline(per_target(), metrics=("spearman",)), ["scorer"])
    assert plain.startswith("No learned method beats cosine_mean on Spearman")
    assert "was compared" in headline(marked, ["absent_method"])
    # the primary's method is not repeated among the exploratory ones
    as_primary = mark_family(compare_to_baseline(per_target(), metrics=("spearman",)), Primary("scorer"))
    text = headline(as_primary, ["scorer"], Primary("scorer"))
    assert "no learned method (scorer) was compared" in text


def test_method_means_use_the_t_interval():
    means = method_means(per_target(), ["spearman"]).set_index("method")
    mean, low, high, _ = t_interval([0.5, 0.2, 0.4, 0.1])
    assert means.loc["cosine_mean", "mean"] == pytest.approx(mean)
    assert (means.loc["cosine_mean", "low"], means.loc["cosine_mean", "high"]) == (pytest.approx(low), pytest.approx(high))
    assert means.loc["feature_ranker", "targets"] == 3


def test_inputs_are_checked():
    with pytest.raises(TaskTransferError, match="baseline 'nope'"):
        compare_to_baseline(per_target(), baseline="nope")
    with pytest.raises(TaskTransferError, match="none of the metrics"):
        compare_to_baseline(per_target(), metrics=("pearson",))
    with pytest.raises(TaskTransferError, match="several rows"):
        compare_to_baseline(pd.concat([per_target(), per_target()]))
    with pytest.raises(TaskTransferError, match="target"):
        compare_to_baseline(per_target().drop(columns="target"))


def test_a_method_that_fell_back_to_the_baseline_is_named():
    table = per_target()
    copy = table[table.method == "cosine_mean"].assign(method="feature_ranker_loto")
    almost = copy.assign(method="near_copy")
    almost.loc[almost.index[2], "spearman"] += 0.01  # one target differs: not a copy
    inputs = pd.concat([table, copy, almost], ignore_index=True)
    assert same_as_baseline(inputs, "cosine_mean", ["spearman", "regret@1", "absent_metric"]) == ["feature_ranker_loto"]
    assert same_as_baseline(inputs, "not_a_method", ["spearman"]) == []
    # NaN where the baseline has a value is a difference, not a copy
    gaps = copy.assign(method="gaps")
    gaps.loc[gaps.index[0], "spearman"] = math.nan
    assert same_as_baseline(pd.concat([table, gaps]), "cosine_mean", ["spearman"]) == []
    text = same_as_baseline_sentence(["feature_ranker_loto"], "cosine_mean")
    assert "feature_ranker_loto scores exactly as cosine_mean" in text and "not a finding" in text
    assert same_as_baseline_sentence([], "cosine_mean") == ""
