"""The new selection methods on hand-made numbers: the feature ranker, LogME features on the tiny
backbone, the learned methods never reading the ranked target's rows, and `tasktransfer prior`
feeding `tasktransfer evaluate`."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from tasktransfer.affinity.feature_ranker import (
    FEATURES,
    _Data,  # the prior's fast path, checked against source_prior
    fit_ranker,
    rank_target,
    ridge_toward,
)
from tasktransfer.affinity.pair_features import centred_cosine, features_table, pool_centre
from tasktransfer.affinity.selection import learned_scores
from tasktransfer.affinity.source_prior import source_prior

SOURCES = [f"s{i}" for i in range(8)]
TARGETS = [f"t{j}" for j in range(7)]


def _tables(seed: int, planted: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Gains and features of 7 targets x 8 sources; with ``planted``, logme is the gain plus a
    little noise and the other features are noise; without, everything is independent noise."""
    rng = np.random.default_rng(seed)
    gains, features = [], []
    for t in TARGETS:
        for s in SOURCES:
            signal = rng.normal()
            gain = 3.0 * signal + 0.2 * rng.normal() if planted else rng.normal()
            features.append(
                {
                    "source": s,
                    "target": t,
                    "cosine_mean": rng.normal(),
                    "cosine_tokens": rng.normal(),
                    "cosine_centred": rng.normal(),
                    "logme": signal if planted else rng.normal(),
                }
            )
            gains.append({"source": s, "target": t, "seed": 0, "gain": gain})
    return pd.DataFrame(gains), pd.DataFrame(features)


def test_ridge_toward_cosine_is_sklearn_ridge_on_the_residual():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 5)), rng.normal(size=30)
    w0 = np.array([1.0, 0, 0, 0, 0])
    for alpha in (0.1, 3.0):
        ours = ridge_toward(x, y, alpha, w0)
        theirs = w0 + Ridge(alpha=alpha, fit_intercept=False).fit(x, y - x @ w0).coef_
        np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)
    # a huge alpha is cosine alone
    np.testing.assert_allclose(ridge_toward(x, y, 1e12, w0), w0, atol=1e-9)


def test_ranker_picks_the_planted_feature():
    gains, features = _tables(seed=0, planted=True)
    fit = fit_ranker(gains, features)
    assert fit.decision == "learned", fit.reason
    assert max(fit.weights, key=lambda f: abs(fit.weights[f])) == "logme"
    assert fit.weights["logme"] > 0.8
    assert fit.outer_spearman > 0.9 and fit.outer_spearman > fit.cosine_spearman
    # ranking a target from the others: its best source by logme comes first
    scores, _ = rank_target("t3", gains, features)
    own = features[features.target == "t3"].set_index("source")
    assert max(scores, key=scores.get) == own.logme.idxmax()


def test_ranker_falls_back_to_cosine_on_pure_noise():
    gains, features = _tables(seed=3, planted=False)
    fit = fit_ranker(gains, features)
    assert fit.decision == "cosine", fit.reason
    assert fit.weights == {f: (1.0 if f == "cosine_mean" else 0.0) for f in FEATURES}
    scores, _ = rank_target("t0", gains, features)
    own = features[features.target == "t0"].set_index("source")
    assert sorted(scores, key=scores.get) == list(own.cosine_mean.sort_values().index)


def test_ranker_with_too_few_targets_is_cosine_and_says_so():
    gains, features = _tables(seed=0, planted=True)
    keep = ["t0", "t1"]
    fit = fit_ranker(gains[gains.target.isin(keep)], features[features.target.isin(keep)])
    assert fit.decision == "cosine" and "usable training targets" in fit.reason


def test_ranker_prior_feature_matches_source_prior_and_never_sees_its_own_target():
    gains, features = _tables(seed=5, planted=False)
    data = _Data(gains, features, lam=1.0)
    cols = {s: i for i, s in enumerate(data.sources)}
    subset = frozenset(["t1", "t2", "t4"])
    ours = data.prior(subset)
    theirs = source_prior(gains[gains.target.isin(subset)], 1.0)
    for s, v in theirs.items():
        assert ours[cols[s]] == pytest.approx(v)
    # a training target's prior column is fitted without its own rows: changing them leaves it as is
    x_before, _, _ = data.block("t1", subset)
    changed = gains.copy()
    changed.loc[changed.target == "t1", "gain"] = np.arange(len(SOURCES)) * 10.0
    x_after, _, _ = _Data(changed, features, lam=1.0).block("t1", subset)
    np.testing.assert_allclose(x_before[:, -1], x_after[:, -1])


def test_centred_cosine_by_hand():
    # sources' mean prompts (1, 0) and (0, 1): the pool centre is (0.5, 0.5)
    s1, s2 = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    centre = pool_centre({"a": s1, "b": s2})
    assert centre.tolist() == [0.5, 0.5]
    target = torch.tensor([[2.0, 0.0]])  # centred (1.5, -0.5); a centred (0.5, -0.5); b (-0.5, 0.5)
    expect = (1.5 * 0.5 + 0.5 * 0.5) / (math.sqrt(1.5**2 + 0.5**2) * math.sqrt(0.5))
    assert centred_cosine(target, s1, centre) == pytest.approx(expect)
    assert centred_cosine(target, s2, centre) == pytest.approx(-expect)
    table = features_table("t", target, {"a": s1, "b": s2}, {"a": {"logme": 1.0, "knn": 0.5}})
    assert list(table.source) == ["a", "b"] and math.isnan(table.logme.iloc[1])
    assert table.logme.iloc[0] == 1.0 and table.knn.iloc[0] == 0.5 and math.isnan(table.hscore.iloc[0])
    assert table.cosine_mean.tolist() == pytest.approx([1.0, 0.0])


def test_learned_methods_never_read_the_ranked_targets_rows():
    """Perturb every row of the ranked target in the training table: identical rankings."""
    gains, features = _tables(seed=0, planted=True)
    held = "t2"
    perturbed = gains.copy()
    perturbed.loc[perturbed.target == held, "gain"] = -1000.0 * np.arange((perturbed.target == held).sum())
    for method in ("source_prior", "source_prior_loto", "feature_ranker", "feature_ranker_loto"):
        a, _ = learned_scores(method, held, SOURCES, gains, features)
        b, _ = learned_scores(method, held, SOURCES, perturbed, features)
        assert a == b, method
    # logme reads the target's own features only, and an undefined value ranks last
    with_nan = features.copy()
    with_nan.loc[(with_nan.target == held) & (with_nan.source == "s0"), "logme"] = math.nan
    scores, _ = learned_scores("logme", held, SOURCES, None, with_nan)
    assert min(scores, key=scores.get) == "s0"


def test_logme_features_on_the_tiny_backbone_prefer_an_informative_prompt(tiny_backbone):
    """A prompt trained on the target itself makes its labels more predictable than a random one."""
    from tasktransfer.affinity.logme_features import estimates_by_source
    from tasktransfer.data.prepare import TaskMeta
    from tasktransfer.data.registry import parse_task
    from tasktransfer.data.synthetic import generate_synthetic
    from tasktransfer.prompting.backbone import load_backbone
    from tasktransfer.prompting.prompt_encoder import PromptEncoder
    from tasktransfer.prompting.training import PromptSpec, tune_prompt

    source = {"kind": "synthetic", "generator": "keyword_classification", "family": "colour", "size": 120, "seed": 1}
    rows = generate_synthetic(parse_task("colour", {"type": "colour", "format": "classification", "source": source}))
    labels = sorted({str(r["label"]) for r in rows})
    meta = TaskMeta("colour", "topic", "classification", "accuracy", labels, 80, 40, None)
    backbone = load_backbone(str(tiny_backbone))
    spec = PromptSpec(length=4, epochs=6, lrs=(0.03,), batch_size=16, max_length=24)
    tuned = tune_prompt(backbone, meta, rows[:80], rows[80:], spec, seed=0, log=lambda m: None)
    torch.manual_seed(0)
    random_prompt = PromptEncoder(4, backbone.hidden_size, spec.mlp_hidden).state_dict()
    estimates, seconds = estimates_by_source(
        backbone, meta, rows[:80], {"tuned": tuned.prompt_state, "random": random_prompt}, 4, spec.mlp_hidden,
        max_length=24, log=lambda m: None,
    )
    scores = {s: e["logme"] for s, e in estimates.items()}
    assert all(math.isfinite(v) for v in scores.values()), scores
    assert scores["tuned"] > scores["random"], scores
    assert set(seconds) == {"tuned", "random"}
    # the other estimators score the same rows: defined for a classification task
    assert all(math.isfinite(e["hscore"]) and 0 <= e["knn"] <= 1 for e in estimates.values()), estimates


def test_prior_command_output_is_scored_by_evaluate(tmp_path, capsys):
    """`tasktransfer prior` on a 3 x 3 table (sources a, b, c; a always best), then `evaluate`."""
    from tasktransfer.cli.main import main

    gains = pd.DataFrame(
        [
            {"source": s, "target": t, "gain": g}
            for t, row in {"x": (3, 1, 0), "y": (4, 0, 1), "z": (5, 2, 0)}.items()
            for s, g in zip("abc", row)
        ]
        + [{"source": "x", "target": "x", "gain": 99.0}]  # source == target: excluded
    )
    gains.to_csv(tmp_path / "g.tsv", sep="\t", index=False)
    main(["prior", "--gains", str(tmp_path / "g.tsv"), "--out", str(tmp_path / "r.tsv")])
    ranking = pd.read_csv(tmp_path / "r.tsv", sep="\t")
    assert list(ranking.columns) == ["method", "target", "source", "score", "rank"]
    assert set(ranking.method) == {"source_prior"} and "x" not in set(ranking.source)
    # target x from y and z: residuals of a are 4 - 5/3 and 5 - 7/3; mean 2.5, shrunk by 2 / (2 + 1)
    a_on_x = ranking[(ranking.target == "x") & (ranking.source == "a")].iloc[0]
    assert a_on_x["rank"] == 1 and a_on_x.score == pytest.approx(2 / 3 * ((4 - 5 / 3) + (5 - 7 / 3)) / 2)
    transfer = gains[gains.source != gains.target].assign(score=lambda d: 50 + d.gain)
    transfer[["source", "target", "score"]].to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    pd.DataFrame({"target": list("xyz"), "score": [50.0] * 3}).to_csv(tmp_path / "n.tsv", sep="\t", index=False)
    main(["evaluate", "--transfer", str(tmp_path / "t.tsv"), "--no-transfer", str(tmp_path / "n.tsv"),
          "--rankings", str(tmp_path / "r.tsv"), "--ks", "1", "--out", str(tmp_path / "eval")])
    summary = pd.read_csv(tmp_path / "eval" / "summary.tsv", sep="\t")
    row = summary[(summary.method == "source_prior") & (summary.k == 1)].iloc[0]
    assert row.mean_gain == pytest.approx(4.0)  # a picked on every target: gains 3, 4, 5
