"""Paired, target-bootstrapped differences of methods against a baseline."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tasktransfer.analysis.versus_baseline import compare_to_baseline, headline
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


def test_exact_differences_and_intervals():
    table = compare_to_baseline(per_target(), metrics=("spearman", "regret@1"), n_boot=500)
    assert list(table.columns) == ["method", "baseline", "metric", "diff", "low", "high", "targets", "beats_baseline"]
    assert (table["baseline"] == "cosine_mean").all() and set(table["method"]) == {"scorer", "feature_ranker"}
    scorer = get(table, "scorer", "spearman")
    # every target: scorer is 0.4 below the baseline
    assert scorer["diff"] == pytest.approx(-0.4) and scorer["targets"] == 4
    assert scorer["low"] == pytest.approx(-0.4) and scorer["high"] == pytest.approx(-0.4)
    regret = get(table, "scorer", "regret@1")
    assert regret["diff"] == pytest.approx((20 + 10 + 0 + 20) / 4)
    assert regret["low"] <= regret["diff"] <= regret["high"] and regret["low"] < regret["high"]
    # a higher regret is worse: the scorer does not beat the baseline there
    assert not regret["beats_baseline"]


def test_nan_values_drop_that_target_pairwise():
    table = compare_to_baseline(per_target(), metrics=("spearman", "regret@1"), n_boot=500)
    ranker = get(table, "feature_ranker", "spearman")
    # t4 has no Spearman for the ranker: (0.2 + 0.3 + 0.2) / 3 over the other three targets
    assert ranker["targets"] == 3 and ranker["diff"] == pytest.approx(0.7 / 3)
    assert ranker["low"] <= ranker["diff"] <= ranker["high"]
    assert ranker["low"] == pytest.approx(0.2) and ranker["high"] == pytest.approx(0.3)
    assert bool(ranker["beats_baseline"]) is True
    # its regret still uses all four targets
    assert get(table, "feature_ranker", "regret@1")["targets"] == 4


def test_a_method_identical_to_the_baseline_gives_zero():
    table = per_target()
    clone = table[table.method == "cosine_mean"].assign(method="clone")
    out = compare_to_baseline(pd.concat([table, clone]), metrics=("spearman",), n_boot=200)
    row = get(out, "clone", "spearman")
    assert (row["diff"], row["low"], row["high"]) == (0.0, 0.0, 0.0)
    assert not row["beats_baseline"]


def test_seeded_and_interval_covers_the_mean():
    rng = np.random.default_rng(1)
    rows = [
        {"method": m, "target": f"t{i}", "spearman": rng.normal(0.3 if m == "b" else 0.0, 0.2)}
        for m in ("a", "b")
        for i in range(12)
    ]
    table = pd.DataFrame(rows)
    one = compare_to_baseline(table, baseline="a", metrics=("spearman",), n_boot=1000, seed=3)
    two = compare_to_baseline(table, baseline="a", metrics=("spearman",), n_boot=1000, seed=3)
    pd.testing.assert_frame_equal(one, two)
    row = one.iloc[0]
    d = table[table.method == "b"]["spearman"].to_numpy() - table[table.method == "a"]["spearman"].to_numpy()
    assert row["diff"] == pytest.approx(d.mean())
    assert row["low"] < row["diff"] < row["high"]


def test_headline_sentences():
    table = compare_to_baseline(per_target(), metrics=("spearman",), n_boot=500)
    text = headline(table, ["scorer", "feature_ranker"])
    assert text.startswith("feature_ranker beats cosine_mean on Spearman by +0.23 [0.20, 0.30] over 3 targets")
    assert "scorer does not (-0.40 [-0.40, -0.40] over 4 targets)" in text
    only_scorer = headline(table, ["scorer"])
    assert only_scorer.startswith("No learned method beats cosine_mean on Spearman")
    assert "scorer -0.40 [-0.40, -0.40] over 4 targets" in only_scorer
    assert "was compared" in headline(table, ["absent_method"])


def test_inputs_are_checked():
    with pytest.raises(TaskTransferError, match="baseline 'nope'"):
        compare_to_baseline(per_target(), baseline="nope")
    with pytest.raises(TaskTransferError, match="none of the metrics"):
        compare_to_baseline(per_target(), metrics=("pearson",))
    with pytest.raises(TaskTransferError, match="several rows"):
        compare_to_baseline(pd.concat([per_target(), per_target()]))
    with pytest.raises(TaskTransferError, match="target"):
        compare_to_baseline(per_target().drop(columns="target"))
