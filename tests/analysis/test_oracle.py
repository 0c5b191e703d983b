"""The cross-fitted brute force: no winner's curse on the oracle."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from tasktransfer.analysis.oracle import (
    cross_fitted_brute_force,
    cross_fitted_oracle_gains,
    cross_fitted_regret,
    split_seeds,
)
from tasktransfer.errors import TaskTransferError


def long(gains: dict[str, list[float]], target: str = "t", seeds: list[int] | None = None) -> pd.DataFrame:
    seeds = seeds or list(range(1, len(next(iter(gains.values()))) + 1))
    return pd.DataFrame(
        [
            {"source": s, "target": target, "seed": k, "gain": g}
            for s, values in gains.items()
            for k, g in zip(seeds, values, strict=True)
        ]
    )


def test_a_lucky_source_wins_in_sample_but_not_cross_fitted():
    # a is lucky on seeds 1-2 (first half), b is steady
    table = long({"a": [6.0, 4.0, -1.0, -1.0], "b": [1.0, 2.0, 2.0, 1.0], "c": [0.0, 0.0, 0.0, 0.0]})
    row = cross_fitted_brute_force(table).iloc[0]
    assert row["source_in_sample"] == "a" and row["gain_in_sample"] == pytest.approx(2.0)
    # first half {1, 2}: a (5.0) wins, scored on {3, 4}: -1.0
    # second half {3, 4}: b (1.5) wins, scored on {1, 2}: 1.5
    assert row["pick_first_half"] == "a" and row["pick_second_half"] == "b"
    assert row["gain_cross_fitted"] == pytest.approx((-1.0 + 1.5) / 2)
    assert row["optimism"] == pytest.approx(2.0 - 0.25)
    assert row["sources"] == 3 and row["seeds"] == 4


def test_odd_seed_counts_put_the_middle_seed_in_the_first_half():
    assert split_seeds([30, 10, 20]) == ([10, 20], [30])
    assert split_seeds([5, 1]) == ([1], [5])
    table = long({"a": [3.0, 3.0, -3.0], "b": [0.0, 1.0, 2.0]}, seeds=[30, 10, 20])
    # seed order given: a: 30 -> 3, 10 -> 3, 20 -> -3; b: 30 -> 0, 10 -> 1, 20 -> 2
    # first half {10, 20}: a 0.0, b 1.5 -> b, scored on {30}: 0.0
    # second half {30}: a 3.0, b 0.0 -> a, scored on {10, 20}: 0.0
    row = cross_fitted_brute_force(table).iloc[0]
    assert (row["pick_first_half"], row["pick_second_half"]) == ("b", "a")
    assert row["gain_cross_fitted"] == pytest.approx(0.0)
    assert row["source_in_sample"] == "a" and row["gain_in_sample"] == pytest.approx(1.0)


def test_a_clearly_best_source_is_picked_on_both_halves():
    rng = np.random.default_rng(0)
    rows = []
    for t, s, k in itertools.product(["t1", "t2"], ["a", "b", "c", "d"], range(4)):
        rows.append({"source": s, "target": t, "seed": k, "gain": (10.0 if s == "c" else 0.0) + rng.normal(0, 1)})
    out = cross_fitted_brute_force(pd.DataFrame(rows))
    assert (out["source_in_sample"] == "c").all()
    assert (out["pick_first_half"] == "c").all() and (out["pick_second_half"] == "c").all()
    # equal halves: the held-out halves of c average to its all-seeds mean
    assert out["gain_cross_fitted"].to_numpy() == pytest.approx(out["gain_in_sample"].to_numpy())


def test_one_seed_gives_nan():
    row = cross_fitted_brute_force(long({"a": [1.0], "b": [2.0]})).iloc[0]
    assert row["source_in_sample"] == "b" and row["gain_in_sample"] == 2.0
    assert math.isnan(row["gain_cross_fitted"]) and row["pick_first_half"] is None


def test_pure_noise_in_sample_best_is_biased_cross_fitted_is_not():
    rng = np.random.default_rng(0)
    # many targets: a target's cross-fitted gain has SD about 0.55, its mean over 150 about 0.045
    rows = [
        {"source": f"s{i}", "target": f"t{j}", "seed": k, "gain": rng.normal(0, 1)}
        for i, j, k in itertools.product(range(10), range(150), range(4))
    ]
    out = cross_fitted_brute_force(pd.DataFrame(rows))
    # E[max of 10 means of 4 N(0, 1)] is about 1.54 / 2 = 0.77; no source helps at all
    assert out["gain_in_sample"].mean() > 0.5
    assert abs(out["gain_cross_fitted"].mean()) < 0.15


def test_no_transfer_pairs_r1_by_seed():
    runs = pd.DataFrame(
        {"source": ["a", "a", "b", "b"], "target": "t", "seed": [0, 1, 0, 1], "r2": [70.0, 64.0, 66.0, 68.0]}
    )
    base = pd.DataFrame({"task": ["t", "t"], "seed": [0, 1], "score": [60.0, 66.0]})
    row = cross_fitted_brute_force(runs, no_transfer=base).iloc[0]
    # gains: a 10, -2 (mean 4); b 6, 2 (mean 4): tie broken by name
    assert row["source_in_sample"] == "a" and row["gain_in_sample"] == pytest.approx(4.0)
    # seed 0: a (10) -> scored on seed 1: -2; seed 1: b (2) -> scored on seed 0: 6
    assert row["gain_cross_fitted"] == pytest.approx(2.0)
    with pytest.raises(TaskTransferError, match="no score"):
        cross_fitted_brute_force(runs, no_transfer=base[base.seed == 0])
    with pytest.raises(TaskTransferError, match="gain"):
        cross_fitted_brute_force(runs)


def test_regret_against_the_cross_fitted_oracle():
    table = long({"a": [6.0, 4.0, -1.0, -1.0], "b": [1.0, 2.0, 2.0, 1.0], "c": [0.0, 0.0, 0.0, 0.0]})
    footing = cross_fitted_oracle_gains(table)
    assert footing == {"t": pytest.approx({"a": 2.0, "b": 1.5, "c": 0.0})}
    regret = cross_fitted_regret({"t": "b"}, table).iloc[0]
    # the steady source beats the honest oracle (0.25): negative regret
    assert regret["oracle_gain"] == pytest.approx(0.25) and regret["regret"] == pytest.approx(0.25 - 1.5)
