"""The cross-fitted best of a method's top k against its job-seconds (analysis/budget.py), on planted tables."""

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest

from tasktransfer.analysis.budget import (
    budget_summary,
    budget_table,
    cross_fitted_best,
    expected_random,
    gather_run_seconds,
    run_seconds,
    share_interval,
    targets_of,
)
from tasktransfer.analysis.oracle import cross_fitted_brute_force, cross_fitted_oracle_gains
from tasktransfer.analysis.versus_baseline import t_interval

SOURCES = [f"s{i}" for i in range(6)]
TARGETS = ["t0", "t1", "t2", "t3"]


def planted(seeds=(0, 1), noise=3.0, rng_seed=0) -> pd.DataFrame:
    """Per-seed gains: a source effect per target plus seed noise large enough to flip the picks."""
    rng = np.random.default_rng(rng_seed)
    rows = []
    for t in TARGETS:
        effect = rng.normal(1.0, 2.0, len(SOURCES))
        for i, s in enumerate(SOURCES):
            for seed in seeds:
                rows.append({"source": s, "target": t, "seed": seed, "gain": effect[i] + rng.normal(0, noise)})
    # the control init is never a candidate
    rows += [{"source": "_control", "target": t, "seed": seed, "gain": 50.0} for t in TARGETS for seed in seeds]
    return pd.DataFrame(rows)


def seconds_of(gains: pd.DataFrame) -> pd.DataFrame:
    """Planted job-seconds: each run 10 s times (source index + 1), plus the seed."""
    runs = gains[["source", "target", "seed"]].copy()
    runs["seconds"] = [10.0 * (SOURCES.index(s) + 1) + seed if s in SOURCES else 99.0
                       for s, seed in zip(runs.source, runs.seed)]
    return runs


def ranking(method: str, scores: dict[str, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"method": method, "target": t, "source": s, "score": v}
                         for t, by_source in scores.items() for s, v in by_source.items()])


def some_rankings(gains: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    noisy = {t: {s: float(rng.normal()) for s in SOURCES} for t in TARGETS}
    by_name = {t: {s: float(-i) for i, s in enumerate(SOURCES)} for t in TARGETS}
    in_sample = gains.groupby(["target", "source"]).gain.mean()
    leak = {t: {s: float(in_sample[(t, s)]) for s in SOURCES} for t in TARGETS}
    return pd.concat([ranking("noisy", noisy), ranking("by_name", by_name), ranking("brute_force", leak)])


def rows_of(table: pd.DataFrame, method: str, k: int) -> pd.DataFrame:
    return table[(table.method == method) & (table.k == k)].set_index("target")


@pytest.mark.parametrize("seeds", [(0, 1), (0, 1, 2), (3, 5, 8, 9)])
def test_k_equal_n_is_the_cross_fitted_brute_force_of_the_oracle(seeds):
    gains = planted(seeds)
    table = budget_table(gains, some_rankings(gains), seconds_of(gains))
    oracle = cross_fitted_brute_force(gains[gains.source != "_control"]).set_index("target")["gain_cross_fitted"]
    n = len(SOURCES)
    brute = rows_of(table, "brute_force_xfit", n)
    assert set(brute.index) == set(TARGETS)
    for t in TARGETS:
        assert brute.loc[t, "gain"] == pytest.approx(oracle[t])
        assert brute.loc[t, "brute_force_gain"] == pytest.approx(oracle[t])
        # every method's top n holds every source: it is brute force
        for method in ("noisy", "by_name"):
            assert rows_of(table, method, n).loc[t, "gain"] == pytest.approx(oracle[t]), method


@pytest.mark.parametrize("seeds", [(0, 1), (0, 1, 2)])
def test_k_one_is_the_top_1_gain_on_the_cross_fits_footing(seeds):
    gains = planted(seeds)
    ranks = some_rankings(gains)
    table = budget_table(gains, ranks, seconds_of(gains))
    footing = cross_fitted_oracle_gains(gains[gains.source != "_control"])
    top = rows_of(table, "by_name", 1)
    for t in TARGETS:
        assert top.loc[t, "top_k"] == "s0"
        assert top.loc[t, "gain"] == pytest.approx(footing[t]["s0"])
    if len(seeds) == 2:
        # with two seeds: chosen on one seed, scored on the other; the top-1 is that pair's mean gain
        mean = gains.groupby(["target", "source"]).gain.mean()
        for t in TARGETS:
            assert top.loc[t, "gain"] == pytest.approx(mean[(t, "s0")])


def test_a_method_that_ranks_the_true_best_first_reaches_brute_force_at_k_1():
    """Gains without seed noise: the true best wins both halves, so brute force picks it too."""
    gains = planted(noise=0.0)
    best = gains[gains.source != "_control"].groupby(["target", "source"]).gain.mean()
    truth = {t: {s: float(best[(t, s)]) for s in SOURCES} for t in TARGETS}
    table = budget_table(gains, ranking("oracle_order", truth), seconds_of(gains))
    for t in TARGETS:
        assert rows_of(table, "oracle_order", 1).loc[t, "gain"] == pytest.approx(
            rows_of(table, "brute_force_xfit", len(SOURCES)).loc[t, "gain"])


def test_the_in_sample_brute_force_ranking_and_the_control_are_left_out():
    gains = planted()
    table = budget_table(gains, some_rankings(gains), seconds_of(gains))
    assert "brute_force" not in set(table.method)
    assert not table.top_k.str.contains("_control").any()
    assert set(table.sources) == {len(SOURCES)}


def test_cost_at_k_is_the_sum_of_the_planted_seconds_of_the_k_pairs():
    gains = planted()
    seconds = seconds_of(gains)
    table = budget_table(gains, some_rankings(gains), seconds)
    per_pair = seconds.groupby(["target", "source"]).seconds.sum()
    for row in table[table.method.isin(["noisy", "by_name", "brute_force_xfit"])].itertuples():
        picked = row.top_k.split(",")
        assert len(picked) == row.k
        assert row.seconds == pytest.approx(sum(per_pair[(row.target, s)] for s in picked))
        assert row.seconds_imputed == 0
        assert row.brute_force_seconds == pytest.approx(sum(per_pair[(row.target, s)] for s in SOURCES))
    # by_name's top 2 is s0, s1: (10 + 11) + (20 + 21)
    assert rows_of(table, "by_name", 2).loc["t0", "seconds"] == pytest.approx(62.0)


def test_a_run_without_timing_is_charged_the_mean_of_its_targets_timed_runs():
    gains = planted()
    seconds = seconds_of(gains)
    lacking = (seconds.target == "t0") & (seconds.source == "s0") & (seconds.seed == 1)
    mean_t0 = seconds[(seconds.target == "t0") & ~lacking & (seconds.source != "_control")].seconds.mean()
    table = budget_table(gains, some_rankings(gains), seconds[~lacking])
    row = rows_of(table, "by_name", 1).loc["t0"]
    assert row.seconds == pytest.approx(10.0 + mean_t0)
    assert row.seconds_imputed == 1
    none = budget_table(gains, some_rankings(gains), None)
    assert none.seconds.isna().all()


def test_random_expected_is_the_mean_over_every_k_subset():
    gains = planted((0, 1, 2))
    target = targets_of(gains)[0]
    for k in (1, 2, 4, len(SOURCES)):
        subsets = list(itertools.combinations(target.sources, k))
        brute = []
        for subset in subsets:
            brute.append(cross_fitted_best(target, list(subset))[0])
        assert expected_random(target, k) == pytest.approx(np.mean(brute)), k
    table = budget_table(gains, None, seconds_of(gains))
    assert set(table.method) == {"random_expected", "brute_force_xfit"}
    at_n = rows_of(table, "random_expected", len(SOURCES))
    assert at_n.gain.to_numpy() == pytest.approx(rows_of(table, "brute_force_xfit", len(SOURCES)).gain.to_numpy())
    assert at_n.seconds.to_numpy() == pytest.approx(at_n.brute_force_seconds.to_numpy())


def test_one_seed_gives_an_empty_table_with_its_columns():
    gains = planted(seeds=(0,))
    table = budget_table(gains, some_rankings(gains), seconds_of(gains))
    assert table.empty and "gain" in table.columns
    assert budget_summary(table).empty


def test_summary_shares_and_intervals():
    gains = planted()
    table = budget_table(gains, some_rankings(gains), seconds_of(gains))
    summary = budget_summary(table).set_index(["method", "k"])
    row = summary.loc[("by_name", 3)]
    part = rows_of(table, "by_name", 3)
    assert row.targets == len(TARGETS)
    assert row.gain == pytest.approx(part.gain.mean())
    # the same interval as every other mean over targets of the evaluation
    _, low, high, _ = t_interval(part.gain.to_numpy(), 0.95)
    assert (row.gain_lo, row.gain_hi) == pytest.approx((low, high))
    if part.brute_force_gain.mean() > 0:
        assert row.gain_share == pytest.approx(part.gain.mean() / part.brute_force_gain.mean())
    assert row.seconds_share == pytest.approx(part.seconds.mean() / part.brute_force_seconds.mean())
    assert summary.loc[("brute_force_xfit", len(SOURCES)), "seconds_share"] == pytest.approx(1.0)
    # the paired difference from brute force: its own t interval, over the same targets
    minus, low, high, _ = t_interval((part.gain - part.brute_force_gain).to_numpy(), 0.95)
    assert row.minus_brute_force == pytest.approx(minus)
    assert (row.minus_brute_force_lo, row.minus_brute_force_hi) == pytest.approx((low, high))
    # brute force against itself: no difference, a zero-width interval
    oracle = summary.loc[("brute_force_xfit", len(SOURCES))]
    assert (oracle.minus_brute_force, oracle.minus_brute_force_lo, oracle.minus_brute_force_hi) == (0.0, 0.0, 0.0)


def test_share_interval_is_a_ratio_of_means_with_the_same_draws():
    part, whole = np.array([1.0, 2.0, 3.0, 2.0]), np.array([2.0, 4.0, 5.0, 4.0])
    share, low, high = share_interval(part, whole, n_boot=500, seed=1)
    assert share == pytest.approx(8.0 / 15.0)
    assert low <= share <= high and high < 1.0  # part is below whole on every target
    assert math.isnan(share_interval(part, -whole)[0])  # no gain to share
    assert math.isnan(share_interval(part[:1], whole[:1])[1])  # one target: no interval
    # brute force's mean gain not told apart from 0: no interval
    assert math.isnan(share_interval(part, np.array([5.0, -4.0, -3.0, 3.0]))[1])


def test_run_seconds_splits_the_job_over_the_seeds_trained_together(tmp_path):
    record = {"source": "a", "target": "b", "seed": 0, "setup_seconds": 4.0, "train_seconds": 16.0,
              "replicas": 4, "spec": {"lrs": [0.01, 0.03]}}
    assert run_seconds(record) == pytest.approx(10.0)  # 2 seeds x 2 lrs: the job's 20 s over 2 seeds
    assert math.isnan(run_seconds({"source": "a"}))
    (tmp_path / "m.json").write_text(json.dumps(record))
    (tmp_path / "old.json").write_text(json.dumps({"source": "a", "target": "b", "seed": 1}))
    table = gather_run_seconds([tmp_path / "m.json", tmp_path / "old.json"])
    assert list(table.columns) == ["source", "target", "seed", "seconds"]
    assert table.seconds.iloc[0] == pytest.approx(10.0) and math.isnan(table.seconds.iloc[1])
