"""The six prompt-similarity baselines and the random method, on hand-made embeddings."""

from __future__ import annotations

import math

import pytest
import torch

from tasktransfer.affinity.selection import METHODS, random_scores, ranking_table, score_sources, select_top_k
from tasktransfer.affinity.similarity import METHODS as SIMILARITY, similarity

# target P_t tokens (1, 0), (0, 1); source P_s tokens (1, 1), (1, -1)   (L = 2, H = 2)
P_T = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
P_S = torch.tensor([[1.0, 1.0], [1.0, -1.0]])


def test_six_measures_by_hand():
    assert set(SIMILARITY) == {f"{m}_{p}" for m in ("cosine", "euclidean", "manhattan") for p in ("mean", "tokens")}
    # mean-pooled: t = (0.5, 0.5), s = (1, 0)
    assert similarity(P_T, P_S, "cosine_mean") == pytest.approx(0.5 / (math.sqrt(0.5) * 1.0))
    assert similarity(P_T, P_S, "euclidean_mean") == pytest.approx(1 / (1 + math.sqrt(0.5)))
    assert similarity(P_T, P_S, "manhattan_mean") == pytest.approx(1 / (1 + 1.0))
    # token pairs (t1 s1, t1 s2, t2 s1, t2 s2):
    # cosine 1/sqrt2, 1/sqrt2, 1/sqrt2, -1/sqrt2 -> mean (2 / sqrt2) / 4
    assert similarity(P_T, P_S, "cosine_tokens") == pytest.approx(2 / math.sqrt(2) / 4)
    # the paper: 1 / (1 + mean distance) over the L x L pairs
    # Euclidean distances 1, 1, 1, sqrt5 -> mean (3 + sqrt5) / 4 ~ 1.3090 -> 0.43308
    # (the mean of 1 / (1 + d), (1.5 + 1 / (1 + sqrt5)) / 4 ~ 0.4522, is not it)
    assert similarity(P_T, P_S, "euclidean_tokens") == pytest.approx(1 / (1 + (3 + math.sqrt(5)) / 4))
    assert similarity(P_T, P_S, "euclidean_tokens") == pytest.approx(0.43308, abs=1e-5)
    # Manhattan distances 1, 1, 1, 3 -> mean 1.5 -> 1 / 2.5 = 0.4 (not 1.75 / 4 = 0.4375)
    assert similarity(P_T, P_S, "manhattan_tokens") == pytest.approx(0.4)


def test_token_distances_are_averaged_before_the_inverse():
    """1 / (1 + mean d) and mean 1 / (1 + d) order these two sources oppositely (L = 2, H = 1)."""
    target = torch.tensor([[0.0], [0.0]])
    near_and_far = torch.tensor([[0.0], [10.0]])  # distances 0, 10, 0, 10: mean 5 -> 1/6
    middling = torch.tensor([[3.0], [3.0]])  # distances 3, 3, 3, 3: mean 3 -> 1/4
    for method in ("euclidean_tokens", "manhattan_tokens"):
        assert similarity(target, near_and_far, method) == pytest.approx(1 / 6)
        assert similarity(target, middling, method) == pytest.approx(1 / 4)
        # (the old per-pair average gave near_and_far (1 + 1/11) / 2 ~ 0.545 > 0.25: the reverse order)
        assert similarity(target, middling, method) > similarity(target, near_and_far, method)


def test_identical_prompts_are_most_similar_and_unknown_measure_fails():
    for method in SIMILARITY:
        same = similarity(P_T, P_T.clone(), method)
        assert same >= similarity(P_T, P_S, method)
        if method.endswith("_mean"):
            assert same == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown"):
        similarity(P_T, P_S, "jaccard_mean")


def test_score_sources_never_scores_the_target_itself():
    pool = {"t": P_T, "s": P_S, "u": -P_T}
    for method in ("random", *SIMILARITY):
        assert set(score_sources(method, "t", P_T, pool)) == {"s", "u"}
    with pytest.raises(ValueError, match="unknown"):
        score_sources("oracle", "t", P_T, pool)
    assert set(METHODS) >= {"scorer", "brute_force", "random", *SIMILARITY}


def test_random_is_seeded_and_independent_of_the_other_sources():
    a = random_scores("t", ["s1", "s2", "s3"], seed=0)
    assert a == random_scores("t", ["s3", "s1", "s2"], seed=0)
    assert random_scores("t", ["s1"], seed=0)["s1"] == a["s1"]  # adding a task leaves others' scores alone
    assert random_scores("t", ["s1"], seed=1)["s1"] != a["s1"]


def test_ranking_table_and_top_k():
    table = ranking_table("cosine_mean", "t", {"b": 0.5, "a": 0.5, "c": 0.9})
    assert list(table.source) == ["c", "a", "b"]  # ties by name
    assert list(table["rank"]) == [1, 2, 3]
    assert list(select_top_k(table, 2).source) == ["c", "a"]
