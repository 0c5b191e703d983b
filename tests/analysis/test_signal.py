"""Gains that carry signal: seed-averaged gains, the variance shares (the low-resource target cap
is tests/data/test_prepare.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from tasktransfer.cli.main import main
from tasktransfer.analysis.signal import per_target_spread, variance_shares, verdict
from tasktransfer.analysis.gather import mean_gains

SOURCES = [f"s{i}" for i in range(6)]
TARGETS = [f"t{j}" for j in range(4)]
SOURCE_EFFECT = dict(zip(SOURCES, [5.0, -3.0, 2.0, 0.0, -4.0, 1.0]))
TARGET_EFFECT = dict(zip(TARGETS, [3.0, -2.0, 0.0, 6.0]))


def table(effect, seeds=3, noise=0.05, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        [
            {"source": s, "target": t, "seed": k, "gain": effect(s, t) + rng.normal(0, noise)}
            for s, t, k in itertools.product(SOURCES, TARGETS, range(seeds))
        ]
    )


# --- averaging -------------------------------------------------------------------------------------
def test_a_lucky_no_transfer_seed_no_longer_flips_a_gain():
    # seed 1's r1 is lucky (76 against 60): alone it makes a helpful source look harmful (-6)
    r1 = {0: 60.0, 1: 76.0, 2: 60.0}
    r2 = {0: 66.0, 1: 70.0, 2: 66.0}
    runs = pd.DataFrame(
        [{"source": "s", "target": "t", "seed": k, "r1": r1[k], "r2": r2[k], "gain": r2[k] - r1[k]} for k in r1]
    )
    assert runs.loc[runs.seed == 1, "gain"].item() == pytest.approx(-6.0)
    mean = mean_gains(runs).iloc[0]
    # mean r2 - mean r1 over the same seeds: 67.33 - 65.33
    assert mean.gain == pytest.approx(np.mean(list(r2.values())) - np.mean(list(r1.values())))
    assert mean.gain == pytest.approx(2.0) and mean.seeds == 3


# --- variance shares -------------------------------------------------------------------------------
def test_a_pure_source_effect_gives_source_share_near_one():
    shares = verdict(table(lambda s, t: SOURCE_EFFECT[s])).shares
    assert shares["source"] > 0.99 and shares["target"] < 0.01
    assert sum(shares.values()) == pytest.approx(1.0)


def test_a_pure_target_effect_gives_target_share_near_one():
    shares = verdict(table(lambda s, t: TARGET_EFFECT[t])).shares
    assert shares["target"] > 0.99 and shares["source"] < 0.01


def test_shares_are_the_two_way_anova_on_a_complete_table_and_cope_with_gaps():
    gains = table(lambda s, t: SOURCE_EFFECT[s] + TARGET_EFFECT[t], seeds=1, noise=1.0, seed=3)
    y = gains.gain
    total = ((y - y.mean()) ** 2).sum()
    ss_source = len(TARGETS) * ((gains.groupby("source").gain.mean() - y.mean()) ** 2).sum()
    ss_target = len(SOURCES) * ((gains.groupby("target").gain.mean() - y.mean()) ** 2).sum()
    shares = variance_shares(gains)
    assert shares["source"] == pytest.approx(ss_source / total)
    assert shares["target"] == pytest.approx(ss_target / total)
    # an unbalanced table (pairs missing) still splits into shares that sum to 1, order-free
    gappy = gains.drop(index=[0, 5, 11])
    split = variance_shares(gappy)
    swapped = variance_shares(gappy.rename(columns={"source": "target", "target": "source"}))
    assert sum(split.values()) == pytest.approx(1.0)
    assert split["source"] == pytest.approx(swapped["target"])


def test_verdict_compares_source_spread_with_seed_noise():
    clear = verdict(table(lambda s, t: SOURCE_EFFECT[s], noise=0.5))
    assert clear.source_beats_noise is True and "more than seed noise" in clear.sentence()
    noisy = verdict(table(lambda s, t: 0.1 * SOURCE_EFFECT[s], noise=5.0))
    assert noisy.source_beats_noise is False and "less than seed noise" in noisy.sentence()
    one_seed = verdict(table(lambda s, t: SOURCE_EFFECT[s], seeds=1))
    assert one_seed.source_beats_noise is None and "unknown" in one_seed.sentence()


def test_per_target_spread_compares_like_with_like():
    """Hand numbers: 2 seeds, r2 = 60 + effect +- d on the two seeds, so the within-pair SD of r2 is
    d * sqrt(2) and the noise on a 2-seed mean is d. r1's seed spread (8 points on t1) moves every
    source of t1 together and must not count as noise of the source comparison."""
    d = 0.5
    r1 = {(t, k): 60 + (k * 2 if t == "t0" else k * 8) for t in TARGETS for k in (0, 1)}
    rows = []
    for s, t, k in itertools.product(SOURCES, TARGETS, (0, 1)):
        r2 = 60 + (SOURCE_EFFECT[s] if t == "t0" else 0.0) + (d if k == 0 else -d)
        rows.append({"source": s, "target": t, "seed": k, "r1": r1[(t, k)], "r2": r2, "gain": r2 - r1[(t, k)]})
    gains = pd.DataFrame(rows)
    no_transfer = pd.DataFrame([{"task": t, "seed": k, "score": v} for (t, k), v in r1.items()])
    spread = per_target_spread(gains, no_transfer).set_index("target")
    assert list(spread.reset_index().columns[:3]) == ["target", "sources", "seeds"]
    assert spread.loc["t0", "best_source"] == "s0"
    assert spread.loc["t0", "gain_sd_across_sources"] == pytest.approx(np.std(list(SOURCE_EFFECT.values()), ddof=1))
    assert spread.loc["t0", "within_pair_sd"] == pytest.approx(d * np.sqrt(2))
    assert spread.loc["t0", "noise_se"] == pytest.approx(d)
    assert spread.loc["t0", "sd_ratio"] == pytest.approx(spread.loc["t0", "gain_sd_across_sources"] / d)
    # F = sd_ratio^2 on (6 - 1, 6 x (2 - 1)) degrees of freedom
    f = spread.loc["t0", "sd_ratio"] ** 2
    assert spread.loc["t0", "p_value"] == pytest.approx(__import__("scipy.stats").stats.f.sf(f, 5, 6))
    assert bool(spread.loc["t0", "sources_beyond_noise"]) and spread.loc["t0", "p_value"] < 0.001
    # t1: no source effect; its sources agree exactly, whatever r1 did
    assert spread.loc["t1", "gain_sd_across_sources"] == pytest.approx(0.0, abs=1e-12)
    assert not spread.loc["t1", "sources_beyond_noise"]
    assert spread.loc["t1", "r1_seed_sd"] == pytest.approx(np.std([60, 68], ddof=1))  # information only


def planted_study(source_sd: float, noise_sd: float, r1_sd: float, seed: int = 0, seeds: int = 3) -> pd.DataFrame:
    """16 sources x 6 targets x seeds: r2 = 60 + source effect + noise, r1 per (target, seed)."""
    rng = np.random.default_rng(seed)
    sources, targets = [f"s{i:02d}" for i in range(16)], [f"t{j}" for j in range(6)]
    pattern = np.linspace(-1, 1, 16)
    effect = dict(zip(sources, source_sd * pattern / pattern.std(ddof=1)))
    r1 = {(t, k): 60 + rng.normal(0, r1_sd) for t in targets for k in range(seeds)}
    rows = []
    for s, t, k in itertools.product(sources, targets, range(seeds)):
        r2 = 60 + effect[s] + rng.normal(0, noise_sd)
        rows.append({"source": s, "target": t, "seed": k, "r1": r1[(t, k)], "r2": r2, "gain": r2 - r1[(t, k)]})
    return pd.DataFrame(rows)


def test_verdict_measures_noise_on_r2_not_on_r1():
    """Source SD 1 against r2 noise 1 per seed (0.58 on a 3-seed mean): the source matters. r1's seed
    noise (SD 3) is shared by the target's sources; counted as noise (the old verdict) it hid that."""
    gains = planted_study(source_sd=1.0, noise_sd=1.0, r1_sd=3.0, seed=1)
    found = verdict(gains, n_perm=199)
    assert found.noise_of == "r2"
    assert found.seed_sd == pytest.approx(1.0, abs=0.15) and found.seeds == 3
    assert found.seed_se == pytest.approx(found.seed_sd / np.sqrt(3))
    assert found.source_sd_corrected == pytest.approx(1.0, abs=0.2)
    assert found.source_sd_corrected < found.source_sd  # the estimation noise is taken out
    assert found.source_beats_noise is True and "more than seed noise" in found.sentence()
    # the per-seed gain's own spread is about sqrt(1 + 9): it would have said "less"
    gain_sd = gains.groupby(["source", "target"]).gain.std().pow(2).mean() ** 0.5
    assert gain_sd / np.sqrt(3) > found.source_sd_corrected
    assert found.adjusted["source"] > 0.2 and found.p_values["source"] < 0.01
    assert "beyond a permutation null with no source main effect" in found.sentence()


def test_signal_command_writes_shares_beside_their_null_and_refuses_a_table_without_seeds(tmp_path, capsys):
    gains = table(lambda s, t: SOURCE_EFFECT[s] + 0.3 * TARGET_EFFECT[t])
    gains["metric"] = "accuracy"  # more columns are allowed
    gains.to_csv(tmp_path / "g.tsv", sep="\t", index=False)
    assert main(["signal", "--gains", str(tmp_path / "g.tsv"), "--out", str(tmp_path / "out"), "--permutations", "99"]) == 0
    shares = pd.read_csv(tmp_path / "out" / "signal.tsv", sep="\t")
    assert list(shares.columns) == ["factor", "share", "share_null", "share_adjusted", "p_value"]
    assert list(shares.factor) == ["source", "target", "residual"]
    assert shares.share.sum() == pytest.approx(1.0, abs=1e-3) and shares.share.iloc[0] > 0.8
    assert shares.share_adjusted.iloc[0] > 0.8 and shares.p_value.iloc[0] == pytest.approx(0.01)
    assert shares.share_adjusted.sum() == pytest.approx(1.0, abs=1e-3) and shares.p_value.isna().iloc[2]
    out = capsys.readouterr().out
    # no r2 column: the gain's own spread stands in, and the sentence says so
    assert "source" in out and "the table has no r2" in out
    assert (tmp_path / "out" / "signal.html").read_text().count("seed noise") >= 1
    targets = pd.read_csv(tmp_path / "out" / "signal_targets.tsv", sep="\t")
    assert {"noise_se", "sd_ratio", "p_value", "sources_beyond_noise"} <= set(targets.columns)
    gains.drop(columns="seed").to_csv(tmp_path / "bad.tsv", sep="\t", index=False)
    assert main(["signal", "--gains", str(tmp_path / "bad.tsv"), "--out", str(tmp_path / "bad")]) == 2
    assert "seed" in capsys.readouterr().err and not (tmp_path / "bad" / "signal.tsv").exists()


def test_signal_command_on_planted_study_tables(tmp_path):
    """The issue's planted tables through the command: a source effect twice the noise gives an
    adjusted source share of at least 0.5 with p below 0.01; pure noise gives about 0 (mean of
    several tables: one table's adjusted share scatters by about 0.05 around 0)."""
    planted = planted_study(source_sd=2.0, noise_sd=1.0, r1_sd=1.0, seed=3)
    planted.to_csv(tmp_path / "planted.tsv", sep="\t", index=False)
    assert main(["signal", "--gains", str(tmp_path / "planted.tsv"), "--out", str(tmp_path / "p"), "--permutations", "199"]) == 0
    source = pd.read_csv(tmp_path / "p" / "signal.tsv", sep="\t").set_index("factor").loc["source"]
    assert source.share_adjusted >= 0.5 and source.p_value < 0.01
    adjusted, raw = [], []
    for seed in range(6):
        noise = planted_study(source_sd=0.0, noise_sd=1.0, r1_sd=0.0, seed=seed)
        noise.to_csv(tmp_path / "noise.tsv", sep="\t", index=False)
        assert main(["signal", "--gains", str(tmp_path / "noise.tsv"), "--out", str(tmp_path / "n"),
                     "--permutations", "199", "--seed", str(seed)]) == 0
        row = pd.read_csv(tmp_path / "n" / "signal.tsv", sep="\t").set_index("factor").loc["source"]
        adjusted.append(row.share_adjusted)
        raw.append(row.share)
    assert np.mean(raw) == pytest.approx(15 / 95, abs=0.03)  # what noise alone gives the source
    assert abs(np.mean(adjusted)) < 0.05
