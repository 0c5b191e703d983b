"""Variance components, split-half reliability, noise ceiling and power, on planted tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tasktransfer.analysis.design_power import (
    min_detectable_difference,
    noise_ceiling_table,
    power_of,
    power_sentence,
    spearman_brown,
    split_half_reliability,
    targets_needed,
    variance_components,
)
from tasktransfer.errors import TaskTransferError


def planted(sd_source, sd_target, sd_inter, sd_seed, sources=30, targets=25, seeds=4, sd_shared=3.0, drop=0.0, rng=0):
    """gain = source + target + source x target + seed noise, plus a (target, seed) part shared by
    every source of a target (r1 of that seed), which the seed component must not count."""
    rng = np.random.default_rng(rng)
    a, b = rng.normal(0, sd_source, sources), rng.normal(0, sd_target, targets)
    ab = rng.normal(0, sd_inter, (sources, targets))
    shared = rng.normal(0, sd_shared, (targets, seeds))
    rows = [
        {"source": f"s{s}", "target": f"t{t}", "seed": k,
         "gain": 1.0 + a[s] + b[t] + ab[s, t] + shared[t, k] + rng.normal(0, sd_seed)}
        for s in range(sources) for t in range(targets) if rng.random() >= drop for k in range(seeds)
    ]
    return pd.DataFrame(rows)


def components(table: pd.DataFrame) -> pd.Series:
    return variance_components(table).set_index("component")["variance"]


def test_exact_components_of_an_additive_table_without_noise():
    """Source and target effects only, the same on every seed: the source component is the
    sample variance of the source effects, interaction and seed noise are 0."""
    a, b = [0.0, 1.0, 3.0], [0.0, 2.0]
    rows = [{"source": f"s{i}", "target": f"t{j}", "seed": k, "gain": a[i] + b[j] + 5.0 * k}
            for i in range(3) for j in range(2) for k in range(2)]  # seed k moves all sources alike
    table = variance_components(pd.DataFrame(rows))
    got = table.set_index("component")
    assert list(table.columns) == ["component", "variance", "on_pair_mean", "share", "df"]
    assert got.loc["source", "variance"] == pytest.approx(np.var(a, ddof=1))
    assert got.loc["target", "variance"] == pytest.approx(np.var(b, ddof=1))
    assert got.loc["source x target", "variance"] == pytest.approx(0.0, abs=1e-9)
    assert got.loc["seed", "variance"] == pytest.approx(0.0, abs=1e-9)
    assert got["share"].sum() == pytest.approx(1.0)
    assert list(got["df"]) == [2, 1, 2, 4]  # seed: (6 - 4) per target


def test_components_recover_planted_values_and_split_the_residual():
    got = components(planted(1.0, 2.0, 0.7, 1.0))
    assert got["source"] == pytest.approx(1.0, rel=0.45)
    # the shared (target, seed) part averages into the target's effect: 4 + 3² / 4 seeds
    assert got["target"] == pytest.approx(4.0 + 9.0 / 4, rel=0.45)
    assert got["source x target"] == pytest.approx(0.49, rel=0.25)
    # the shared (target, seed) part (SD 3) stays out of the seed noise
    assert got["seed"] == pytest.approx(1.0, rel=0.1)


def test_components_on_an_incomplete_table():
    got = components(planted(1.0, 2.0, 0.7, 1.0, drop=0.3, rng=1))
    assert got["source"] == pytest.approx(1.0, rel=0.45)
    assert got["source x target"] == pytest.approx(0.49, rel=0.3)
    assert got["seed"] == pytest.approx(1.0, rel=0.1)


def test_no_interaction_and_one_seed():
    got = components(planted(1.0, 1.0, 0.0, 1.0, rng=2))
    assert got["source x target"] < 0.05  # residual = seed noise / K only
    one = variance_components(planted(1.0, 1.0, 0.5, 1.0, seeds=1))
    rows = one.set_index("component")
    assert math.isnan(rows.loc["seed", "variance"]) and math.isnan(rows.loc["source x target", "variance"])
    with pytest.raises(TaskTransferError, match="lacks columns"):
        variance_components(pd.DataFrame({"source": ["a"], "target": ["t"]}))


def test_split_half_reliability_by_hand():
    # two seeds, three sources: seed 0 ranks a < b < c, seed 1 a < c < b: Spearman 0.5
    gains = pd.DataFrame([
        {"source": s, "target": "t", "seed": k, "gain": v}
        for s, vals in {"a": (1, 1), "b": (2, 3), "c": (3, 2)}.items() for k, v in enumerate(vals)
    ] + [{"source": s, "target": "u", "seed": 0, "gain": 1.0} for s in "abc"])
    table = split_half_reliability(gains).set_index("target")
    assert list(table.reset_index().columns) == ["target", "sources", "seeds", "split_half", "reliability", "ceiling"]
    assert table.loc["t", "split_half"] == pytest.approx(0.5)
    assert table.loc["t", "reliability"] == pytest.approx(2 * 0.5 / 1.5)
    assert table.loc["t", "ceiling"] == pytest.approx(math.sqrt(2 / 3))
    assert table.loc["t", "sources"] == 3 and table.loc["t", "seeds"] == 2
    assert math.isnan(table.loc["u", "split_half"]) and math.isnan(table.loc["u", "ceiling"])  # one seed
    assert spearman_brown(0.5, 3) == pytest.approx(1.5 / 2.0)


def test_the_ceiling_is_what_a_method_knowing_the_true_gains_reaches():
    """Per target: true source gains, two noisy seeds. The mean over targets of Spearman(true
    gains, measured means) is close to the mean ceiling; pure noise gives a ceiling near 0."""
    rng = np.random.default_rng(5)
    reached, rows = [], []
    for t in range(300):
        true = rng.normal(0, 1, 16)
        seeds = true[:, None] + rng.normal(0, 1.2, (16, 2))
        reached.append(stats.spearmanr(true, seeds.mean(axis=1)).statistic)
        rows += [{"source": f"s{s}", "target": f"t{t}", "seed": k, "gain": seeds[s, k]} for s in range(16) for k in range(2)]
    table = split_half_reliability(pd.DataFrame(rows))
    assert table["ceiling"].mean() == pytest.approx(np.mean(reached), abs=0.05)
    noise = pd.DataFrame([{"source": f"s{s}", "target": f"t{t}", "seed": k, "gain": rng.normal()}
                          for t in range(200) for s in range(16) for k in range(2)])
    assert split_half_reliability(noise)["split_half"].mean() == pytest.approx(0.0, abs=0.03)


def test_noise_ceiling_table_puts_each_method_beside_the_ceiling():
    reliability = pd.DataFrame({"target": ["t", "u"], "sources": [3, 3], "seeds": [2, 2], "split_half": [0.5, 0.2],
                                "reliability": [0.6, 0.3], "ceiling": [0.8, 0.5]})
    quality = pd.DataFrame({"method": ["logme", "logme", "brute_force", "scorer"], "target": ["t", "u", "t", "t"],
                            "spearman": [0.4, 0.2, 1.0, -0.1]})
    table = noise_ceiling_table(reliability, quality)
    assert list(table.columns) == ["target", "sources", "seeds", "split_half", "reliability", "ceiling", "logme", "scorer"]
    assert list(table["target"]) == ["t", "u", "mean"]
    mean = table.set_index("target").loc["mean"]
    assert mean["ceiling"] == pytest.approx(0.65) and mean["logme"] == pytest.approx(0.3) and mean["scorer"] == pytest.approx(-0.1)
    assert math.isnan(mean["seeds"])


def test_min_detectable_difference_has_the_power_it_claims():
    mde = min_detectable_difference(1.0, 10)
    assert power_of(mde, 1.0, 10) == pytest.approx(0.8, abs=1e-4)
    assert mde == pytest.approx(0.99, abs=0.02)  # Cohen: d near 1 at 10 pairs
    # large n: the normal approximation (z_0.975 + z_0.8) sd / sqrt(n)
    assert min_detectable_difference(0.3, 400) == pytest.approx(2.8016 * 0.3 / 20, rel=0.01)
    # by simulation: a paired t test at that true difference rejects 80 % of the time
    rng = np.random.default_rng(11)
    draws = rng.normal(mde * 0.34, 0.34, size=(4000, 10))
    rejected = np.mean(stats.ttest_1samp(draws, 0.0, axis=1).pvalue < 0.05)
    assert rejected == pytest.approx(0.8, abs=0.02)
    assert math.isnan(min_detectable_difference(1.0, 1)) and min_detectable_difference(0.0, 5) == 0.0


def test_targets_needed_is_the_first_n_with_the_power():
    n = targets_needed(0.1, 0.34)
    assert power_of(0.1, 0.34, n) >= 0.8 > power_of(0.1, 0.34, n - 1)
    assert n == pytest.approx((2.8016 * 0.34 / 0.1) ** 2, abs=4)
    assert targets_needed(0.0, 1.0) is None


def test_power_sentence():
    text = power_sentence(0.34, 10, "the primary comparison, logme - cosine_mean", "Spearman")
    mde = min_detectable_difference(0.34, 10)
    assert text.startswith(f"Power of the design: over these 10 targets a Spearman difference of {mde:.2f} is "
                           "detected with 80 % power (paired t test over targets, two-sided, alpha 0.05; SD of the "
                           "per-target differences 0.34, from the primary comparison, logme - cosine_mean)")
    assert text.endswith(f"; a difference of 0.1 would need {targets_needed(0.1, 0.34)} targets.")
    assert "not estimated" in power_sentence(math.nan, 1, "x", "Spearman")
    assert "would need" not in power_sentence(2.0, 10, "x", "top-1 gain", reference=None)
