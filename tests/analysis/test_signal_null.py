"""The permutation null of the variance shares and the noise-corrected source spread."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from tasktransfer.analysis.signal_null import corrected_source_sd, per_target_noise, permutation_shares
from tasktransfer.errors import TaskTransferError

SOURCES = [f"s{i:02d}" for i in range(16)]
TARGETS = [f"t{j}" for j in range(6)]
SEEDS = [0, 1, 2]


def planted(
    source_sd: float, target_sd: float = 1.0, noise_sd: float = 1.0, seed: int = 0, r1_sd: float = 3.0
) -> tuple[pd.DataFrame, float]:
    """A complete 16 x 6 x 3 long table: r1 per (target, seed), r2 = 60 + source + target effect + noise.

    The source effects are a fixed pattern scaled to SD (ddof 1) exactly ``source_sd``, so the
    true spread is known; returns the table and that spread.
    """
    rng = np.random.default_rng(seed)
    pattern = np.linspace(-1.0, 1.0, len(SOURCES))
    pattern = rng.permutation(pattern / pattern.std(ddof=1))
    source_effect = dict(zip(SOURCES, source_sd * pattern))
    target_effect = dict(zip(TARGETS, rng.normal(0, target_sd, len(TARGETS))))
    r1 = {(t, k): 60 + rng.normal(0, r1_sd) for t, k in itertools.product(TARGETS, SEEDS)}
    rows = []
    for s, t, k in itertools.product(SOURCES, TARGETS, SEEDS):
        # r2 is its own training run: its noise does not share r1's seed noise
        r2 = 60 + source_effect[s] + target_effect[t] + rng.normal(0, noise_sd)
        rows.append({"source": s, "target": t, "seed": k, "r1": r1[(t, k)], "r2": r2, "gain": r2 - r1[(t, k)]})
    return pd.DataFrame(rows), float(np.std(list(source_effect.values()), ddof=1))


def pair_means(long: pd.DataFrame) -> pd.DataFrame:
    return long.groupby(["source", "target"], sort=True)["gain"].mean().reset_index()


def row(table: pd.DataFrame, factor: str) -> pd.Series:
    return table.set_index("factor").loc[factor]


def test_pure_noise_leaves_no_adjusted_source_share():
    adjusted, raw = [], []
    for seed in range(8):
        long, _ = planted(source_sd=0.0, target_sd=0.0, r1_sd=0.0, seed=seed)
        table = permutation_shares(pair_means(long), n_perm=199, seed=seed)
        adjusted.append(row(table, "source")["share_adjusted"])
        raw.append(row(table, "source")["share"])
    # the raw share of pure noise is far from 0 (about 15 / 95), the adjusted one is not
    assert np.mean(raw) > 0.1
    assert abs(np.mean(adjusted)) < 0.05


def test_a_planted_source_effect_is_found():
    # source SD twice the seed noise SD; the targets differ a little (their own effect and r1)
    long, _ = planted(source_sd=2.0, noise_sd=1.0, target_sd=0.5, r1_sd=1.0, seed=3)
    table = permutation_shares(pair_means(long), n_perm=499, seed=0)
    source = row(table, "source")
    assert source["share_adjusted"] >= 0.5
    assert source["p_value"] < 0.01
    assert source["p_value"] == pytest.approx(1 / 500)  # no permutation reaches it
    residual = row(table, "residual")
    assert residual["share_adjusted"] == pytest.approx(
        1 - source["share_adjusted"] - row(table, "target")["share_adjusted"]
    )
    assert table["factor"].tolist() == ["source", "target", "residual"]


def test_shares_match_two_way_anova_on_a_complete_table():
    long, _ = planted(source_sd=1.0, target_sd=2.0, seed=5)
    means = pair_means(long)
    table = permutation_shares(means, n_perm=9, seed=0)
    g = means.pivot(index="source", columns="target", values="gain").to_numpy()
    grand = g.mean()
    ss_total = ((g - grand) ** 2).sum()
    ss_source = g.shape[1] * ((g.mean(axis=1) - grand) ** 2).sum()
    ss_target = g.shape[0] * ((g.mean(axis=0) - grand) ** 2).sum()
    assert row(table, "source")["share"] == pytest.approx(ss_source / ss_total)
    assert row(table, "target")["share"] == pytest.approx(ss_target / ss_total)
    assert row(table, "residual")["share"] == pytest.approx(1 - (ss_source + ss_target) / ss_total)


def test_permutation_null_is_seeded_and_keeps_the_design():
    long, _ = planted(source_sd=0.5, seed=1)
    means = pair_means(long)
    # an incomplete design: drop a few pairs
    means = means.drop(index=[0, 7, 20, 33]).reset_index(drop=True)
    a = permutation_shares(means, n_perm=99, seed=4)
    b = permutation_shares(means, n_perm=99, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert ((a["p_value"].dropna() > 0) & (a["p_value"].dropna() <= 1)).all()


def test_constant_gains_give_nan_and_missing_columns_say_so():
    flat = pd.DataFrame({"source": ["a", "b"], "target": ["x", "x"], "gain": [1.0, 1.0]})
    assert permutation_shares(flat, n_perm=9)["share"].isna().all()
    with pytest.raises(TaskTransferError, match="gain"):
        permutation_shares(flat.drop(columns="gain"))


def test_corrected_source_sd_recovers_the_planted_spread():
    for seed in range(3):
        long, true_sd = planted(source_sd=1.5, noise_sd=1.0, seed=seed)
        out = corrected_source_sd(long)
        assert out["seeds"] == 3 and out["sources"] == 16 and out["targets"] == 6
        assert out["within_pair_sd"] == pytest.approx(1.0, abs=0.15)
        assert out["noise_se"] == pytest.approx(out["within_pair_sd"] / math.sqrt(3))
        assert out["source_sd_corrected"] == pytest.approx(true_sd, rel=0.15)
        assert out["source_sd_corrected"] < out["source_sd_raw"]
        assert out["source_beats_noise"] is True


def test_correction_removes_the_noise_bias_on_average():
    # a small effect: the raw spread is inflated by noise_se^2 / targets, the corrected one is not
    raw, corrected = [], []
    for seed in range(20):
        long, true_sd = planted(source_sd=0.4, noise_sd=1.0, seed=seed)
        out = corrected_source_sd(long)
        raw.append(out["source_sd_raw"] ** 2)
        corrected.append(out["source_sd_corrected"] ** 2)
    assert np.mean(raw) > true_sd**2 * 1.2
    assert np.mean(corrected) == pytest.approx(true_sd**2, rel=0.2)


def test_corrected_source_sd_is_near_zero_under_pure_noise():
    values = []
    for seed in range(5):
        long, _ = planted(source_sd=0.0, noise_sd=1.0, seed=seed)
        out = corrected_source_sd(long)
        assert out["source_sd_corrected"] < 0.5 * out["noise_se"]
        assert out["source_beats_noise"] is False
        values.append(out["source_sd_corrected"])
    assert np.mean(values) < 0.15


def test_one_seed_leaves_the_noise_unknown():
    long, _ = planted(source_sd=1.0, seed=0)
    out = corrected_source_sd(long[long.seed == 0])
    assert math.isnan(out["within_pair_sd"]) and out["source_beats_noise"] is None


def test_per_target_noise_compares_like_with_like():
    long, _ = planted(source_sd=2.0, noise_sd=0.5, seed=2)
    quiet, _ = planted(source_sd=0.0, noise_sd=0.5, seed=2)
    table = per_target_noise(pd.concat([long, quiet.assign(target=quiet.target + "_quiet")]))
    assert list(table.columns) == [
        "target",
        "sources",
        "seeds",
        "gain_sd_across_sources",
        "within_pair_sd",
        "noise_se",
        "sd_ratio",
        "p_value",
        "sources_beyond_noise",
    ]
    loud = table[~table.target.str.endswith("_quiet")]
    assert loud["sources_beyond_noise"].all() and (loud["p_value"] < 1e-6).all()
    silent = table[table.target.str.endswith("_quiet")]
    # pure noise: the spread across sources is about the noise SE (ratio near 1)
    assert silent["sd_ratio"].mean() == pytest.approx(1.0, abs=0.3)
    # flagged by the F test at 5 %, not by "spread > noise_se" (a coin flip on pure noise)
    assert silent["sources_beyond_noise"].sum() <= 1
    assert (silent["sources_beyond_noise"] == (silent["p_value"] < 0.05)).all()
    assert (table["sources"] == 16).all() and (table["seeds"] == 3).all()
    first = table.iloc[0]
    assert first["noise_se"] == pytest.approx(first["within_pair_sd"] / math.sqrt(3))
