"""The source prior: additive source effects, shrunk, fitted leave-one-target-out."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from tasktransfer.affinity.source_prior import loto_prior_rankings, prior_scores, source_prior
from tasktransfer.errors import TaskTransferError

# sources a, b, c; targets x, y, z (c has no row for y)
GAINS = {
    ("a", "x"): 3.0, ("b", "x"): 1.0, ("c", "x"): 2.0,
    ("a", "y"): 4.0, ("b", "y"): 0.0,
    ("a", "z"): 1.0, ("b", "z"): 3.0, ("c", "z"): 6.0,
}  # fmt: skip


def table(gains: dict = GAINS) -> pd.DataFrame:
    return pd.DataFrame([{"source": s, "target": t, "gain": g} for (s, t), g in gains.items()])


def test_hand_computed_prior_with_shrinkage():
    # target means: x 2, y 2, z 10/3; residuals: a +1, +2, -7/3; b -1, -2, -1/3; c 0, +8/3
    prior = source_prior(table(), lam=1.0)
    assert prior == pytest.approx({"a": 3 / 4 * (2 / 9), "b": 3 / 4 * (-10 / 9), "c": 2 / 3 * (4 / 3)})
    # no shrinkage: the raw effects
    assert source_prior(table(), lam=0.0) == pytest.approx({"a": 2 / 9, "b": -10 / 9, "c": 4 / 3})
    assert prior_scores(prior, ["c", "new"]) == pytest.approx({"c": 8 / 9, "new": 0.0})


def test_seeds_are_averaged_into_pair_means():
    long = pd.concat([table().assign(seed=0, gain=table().gain + 1.0), table().assign(seed=1, gain=table().gain - 1.0)])
    assert source_prior(long) == pytest.approx(source_prior(table()))


def test_loto_rankings_by_hand():
    out = loto_prior_rankings(table(), lam=1.0)
    assert list(out.columns) == ["method", "target", "source", "score", "rank"]
    assert (out["method"] == "source_prior").all()
    z = out[out.target == "z"]
    # fitted on x and y: a (1 + 2) / 2 * 2/3 = 1; b -1; c 0 * 1/2 = 0
    assert z["source"].tolist() == ["a", "c", "b"]
    assert z["score"].tolist() == pytest.approx([1.0, 0.0, -1.0])
    assert z["rank"].tolist() == [1, 2, 3]
    # y has only a and b as candidates
    assert sorted(out[out.target == "y"]["source"]) == ["a", "b"]


def test_the_held_out_row_never_changes_its_own_ranking():
    rng = np.random.default_rng(0)
    sources, targets = [f"s{i}" for i in range(6)], [f"t{j}" for j in range(5)]
    base = pd.DataFrame(
        [
            {"source": s, "target": t, "seed": k, "gain": rng.normal()}
            for s, t, k in itertools.product(sources, targets, range(2))
        ]
    )
    before = loto_prior_rankings(base)
    perturbed = base.copy()
    held = perturbed.target == "t2"
    perturbed.loc[held, "gain"] = rng.normal(0, 50, held.sum())
    after = loto_prior_rankings(perturbed)
    pd.testing.assert_frame_equal(before[before.target == "t2"], after[after.target == "t2"])
    # ... while the other targets' rankings do see t2's rows
    assert not before[before.target == "t0"]["score"].equals(after[after.target == "t0"]["score"])


def test_source_equal_to_target_is_left_out_everywhere():
    tasks = ["p", "q", "r"]
    rows = [
        {"source": s, "target": t, "gain": 100.0 if s == t else float(i)}
        for i, (s, t) in enumerate(itertools.product(tasks, tasks))
    ]
    out = loto_prior_rankings(pd.DataFrame(rows))
    assert not (out.source == out.target).any()
    assert out.groupby("target").size().tolist() == [2, 2, 2]
    # the diagonal's huge gains never reach the prior either
    without = pd.DataFrame([r for r in rows if r["source"] != r["target"]])
    assert source_prior(pd.DataFrame(rows)) == pytest.approx(source_prior(without))


def test_ranks_run_from_one_with_ties_by_name():
    # a lone target: nothing to learn from, every score 0, order by name
    out = loto_prior_rankings(pd.DataFrame({"source": ["b", "c", "a"], "target": "t", "gain": [1.0, 2.0, 3.0]}))
    assert out["source"].tolist() == ["a", "b", "c"] and out["rank"].tolist() == [1, 2, 3]
    assert (out["score"] == 0.0).all()
    full = loto_prior_rankings(table())
    for _, group in full.groupby("target"):
        assert group["rank"].tolist() == list(range(1, len(group) + 1))
        assert group["score"].is_monotonic_decreasing


def test_inputs_are_checked():
    with pytest.raises(TaskTransferError, match=r"\['gain'\]"):
        source_prior(table().drop(columns="gain"))
    with pytest.raises(TaskTransferError, match="source"):
        loto_prior_rankings(table().drop(columns="source"))
    with pytest.raises(TaskTransferError, match="lam"):
        source_prior(table(), lam=-1.0)
