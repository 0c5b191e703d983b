"""The evaluation's cross-fitted brute force, its regret, and every method against cosine_mean, by hand.

Two targets, three sources, two seeds, r1 = 50 (t) and 40 (u) on both seeds:

    r2      seed 0  seed 1  mean  gain          t: in-sample best a (gain 5), but a won on seed 0 only:
    t  a      60      50     55    5               picked on seed 0 (a) and scored on seed 1: 0,
       b      52      56     54    4               picked on seed 1 (b) and scored on seed 0: 2,
       c      51      51     51    1               cross-fitted gain (0 + 2) / 2 = 1, score 51.
    u  a      42      42     42    2            u: b wins on both halves: cross-fitted 5 = in-sample.
       b      44      46     45    5
       c      40      40     40    0
"""

from __future__ import annotations

import pandas as pd
import pytest

from tasktransfer.analysis.evaluation import evaluate_selections, method_order
from tasktransfer.analysis.versus_baseline import learned_methods
from tasktransfer.cli.main import main

R1 = {"t": 50.0, "u": 40.0}
R2 = {
    ("a", "t"): (60, 50), ("b", "t"): (52, 56), ("c", "t"): (51, 51),
    ("a", "u"): (42, 42), ("b", "u"): (44, 46), ("c", "u"): (40, 40),
}  # fmt: skip
# cosine: a > b > c on both targets; scorer: c > b > a on t, b > a > c on u
SCORES = {
    "cosine_mean": {"t": {"a": 3, "b": 2, "c": 1}, "u": {"a": 3, "b": 2, "c": 1}},
    "scorer": {"t": {"a": 1, "b": 2, "c": 3}, "u": {"a": 2, "b": 3, "c": 1}},
}


def per_seed() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"source": s, "target": t, "seed": k, "r1": R1[t], "r2": float(v[k]), "gain": v[k] - R1[t]}
            for (s, t), v in R2.items()
            for k in (0, 1)
        ]
    )


def plain_tables(tmp_path):
    runs = per_seed()
    transfer = runs.groupby(["source", "target"], as_index=False).r2.mean().rename(columns={"r2": "score"})
    no_transfer = pd.DataFrame({"target": list(R1), "score": list(R1.values())})
    rankings = pd.DataFrame(
        [{"method": m, "target": t, "source": s, "score": v} for m, by in SCORES.items() for t, row in by.items() for s, v in row.items()]
    )
    paths = {}
    for name, table in [("T", transfer), ("N", no_transfer), ("R", rankings), ("P", runs)]:
        paths[name] = tmp_path / f"{name}.tsv"
        table.to_csv(paths[name], sep="\t", index=False)
    return paths


def test_cross_fitted_brute_force_rows_and_regret_by_hand():
    runs = per_seed()
    transfer = runs.groupby(["source", "target"], as_index=False).r2.mean().rename(columns={"r2": "score"})
    no_transfer = pd.DataFrame({"target": list(R1), "score": list(R1.values())})
    selections = pd.DataFrame([{"method": "cosine_mean", "target": t, "source": "a"} for t in R1])
    table = evaluate_selections(transfer, no_transfer, selections, [1], per_seed=runs)
    rows = table[table.k == 1].set_index(["method", "target"])
    xfit = rows.loc[("brute_force_xfit", "t")]
    assert xfit["score"] == pytest.approx(51.0) and xfit["gain"] == pytest.approx(1.0)
    assert xfit["chosen"] == "a | b"  # the two halves' picks
    assert xfit["regret"] == pytest.approx(100 * (55 - 51) / 55)  # against the in-sample best
    assert xfit["regret_xfit"] == pytest.approx(0.0)
    assert rows.loc[("brute_force", "t"), "gain"] == pytest.approx(5.0)
    # in-sample brute force against the honest oracle: minus its winner's curse
    assert rows.loc[("brute_force", "t"), "regret_xfit"] == pytest.approx(100 * (51 - 55) / 51)
    assert rows.loc[("brute_force_xfit", "u"), "gain"] == pytest.approx(5.0)
    # cosine picks a on u (gain 2) where the honest oracle gets 5
    assert rows.loc[("cosine_mean", "u"), "regret_xfit"] == pytest.approx(100 * (45 - 42) / 45)
    # random: the mean footing gain (5 + 4 + 1) / 3 on t
    assert rows.loc[("random_expected", "t"), "regret_xfit"] == pytest.approx(100 * (51 - (50 + 10 / 3)) / 51)
    # one seed: nothing to cross-fit, no row
    one = evaluate_selections(transfer, no_transfer, None, [1], per_seed=runs[runs.seed == 0])
    assert "brute_force_xfit" not in set(one.method)


def test_evaluate_writes_the_oracle_beside_brute_force_and_the_comparison_with_cosine(tmp_path, capsys):
    paths = plain_tables(tmp_path)
    out = tmp_path / "eval"
    args = ["evaluate", "--transfer", str(paths["T"]), "--no-transfer", str(paths["N"]), "--rankings", str(paths["R"]),
            "--per-seed", str(paths["P"]), "--ks", "1,2", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    table1 = pd.read_csv(out / "table1.tsv", sep="\t").set_index("method")
    assert list(table1.index[-2:]) == ["brute force (cross-fitted)", "brute_force"]
    assert table1.loc["brute force (cross-fitted)", "t"] == pytest.approx(51.0)
    assert table1.loc["brute force (cross-fitted)", "mean_gain"] == pytest.approx((1 + 5) / 2)
    assert table1.loc["brute_force", "mean_gain"] == pytest.approx((5 + 5) / 2)
    table2 = pd.read_csv(out / "table2.tsv", sep="\t").set_index("method")
    assert table2.loc["brute_force_xfit", "regret_xfit@1"] == pytest.approx(0.0)
    assert table2.loc["scorer", "regret_xfit@1"] == pytest.approx(0.0, abs=1e-3)  # c on t (51), b on u (45)
    assert table2.loc["cosine_mean", "regret_xfit@1"] == pytest.approx((100 * (51 - 55) / 51 + 100 * 3 / 45) / 2, abs=1e-3)
    assert "brute force (cross-fitted)" in (out / "table2.html").read_text()

    versus = pd.read_csv(out / "versus_cosine.tsv", sep="\t")
    assert list(versus.columns) == ["method", "metric", "role", "diff", "low", "high", "targets", "p_value", "p_holm",
                                    "beats_baseline"]
    scorer = versus[versus.method == "scorer"].set_index("metric")
    assert list(scorer.index) == ["spearman", "ndcg", "regret@1", "top1_gain"]
    assert (scorer["role"] == "exploratory").all()
    # Spearman: scorer -1 and 1, cosine 1 and 0.5 -> differences -2 and +0.5
    assert scorer.loc["spearman", "diff"] == pytest.approx(-0.75, abs=1e-4)
    # two targets: t interval -0.75 ± t(0.975, 1) * 1.25 (SD of -2 and 0.5 over sqrt 2)
    half = 12.7062 * 1.25
    assert (scorer.loc["spearman", "low"], scorer.loc["spearman", "high"]) == (
        pytest.approx(-0.75 - half, abs=1e-3), pytest.approx(-0.75 + half, abs=1e-3))
    # the family of one exploratory method per metric: Holm leaves its p as it is
    assert scorer.loc["spearman", "p_holm"] == pytest.approx(scorer.loc["spearman", "p_value"])
    assert (versus[versus.method.str.startswith("brute_force")]["role"] == "reference (outside the Holm family)").all()
    assert scorer.loc["top1_gain", "diff"] == pytest.approx(((1 - 5) + (5 - 2)) / 2)
    assert scorer.loc["regret@1", "diff"] == pytest.approx((100 * 4 / 55 - 100 * 3 / 45) / 2, abs=1e-4)
    assert scorer.loc["spearman", "targets"] == 2 and not scorer.loc["spearman", "beats_baseline"]
    # the oracles are compared too; brute force's regret@1 is 0 by definition
    assert versus[(versus.method == "brute_force_xfit") & (versus.metric == "top1_gain")]["diff"].item() == pytest.approx(
        ((1 - 5) + (5 - 2)) / 2
    )
    # every method's own means with intervals over targets: scorer Spearman -1 on t, +1 on u
    intervals = pd.read_csv(out / "intervals.tsv", sep="\t")
    assert list(intervals.columns) == ["method", "metric", "mean", "low", "high", "targets"]
    scorer = intervals[intervals.method == "scorer"].set_index("metric")
    assert list(scorer.index) == ["spearman", "ndcg", "regret@1", "regret@2", "regret_xfit@1", "top1_gain"]
    assert scorer.loc["spearman", "mean"] == pytest.approx(0.0, abs=1e-6)
    # t interval: 0 ± t(0.975, 1) * 1 (SD sqrt 2 over sqrt 2)
    assert (scorer.loc["spearman", "low"], scorer.loc["spearman", "high"]) == (
        pytest.approx(-12.7062, abs=1e-3), pytest.approx(12.7062, abs=1e-3))
    assert scorer.loc["top1_gain", "mean"] == pytest.approx((1 + 5) / 2)  # c on t (gain 1), b on u (gain 5)
    assert scorer.loc["regret@2", "mean"] == pytest.approx(100 * (55 - 54) / 55 / 2, abs=1e-3)  # best of c, b on t
    assert intervals[(intervals.method == "brute_force") & (intervals.metric == "regret@1")]["mean"].item() == 0.0
    assert "Every method: mean over targets" in (out / "intervals.html").read_text()

    sentence = (out / "headline.txt").read_text().strip()
    assert sentence.startswith(
        "Primary comparison (named in the config before the run), logme against cosine_mean on mean per-target "
        "Spearman; H0: equal mean per-target Spearman of logme and cosine_mean over targets: not made on this run")
    assert "Exploratory (Holm over the methods against cosine_mean): no learned method beats cosine_mean on " \
        "Spearman (mean difference, t interval): scorer -0.75 [-16.63, 15.13] over 2 targets, Holm p = 0.656." in sentence
    assert "Power of the design: over these 2 targets a Spearman difference of" in sentence
    assert sentence in printed and sentence in (out / "headline.html").read_text()
    # the design: variance components, and per target the ceiling beside each method's Spearman
    components = pd.read_csv(out / "variance_components.tsv", sep="\t").set_index("component")
    assert list(components.index) == ["source", "target", "source x target", "seed"]
    ceiling = pd.read_csv(out / "noise_ceiling.tsv", sep="\t").set_index("target")
    # t: seed 0 ranks a > b > c, seed 1 b > c > a: split-half Spearman -0.5, stepped up to 2 seeds
    # 2r / (1 + r) = -2: the halves disagree, the ceiling is 0; u: b > a > c on both seeds, ceiling 1
    assert ceiling.loc["t", "split_half"] == pytest.approx(-0.5) and ceiling.loc["t", "reliability"] == pytest.approx(-2.0)
    assert ceiling.loc["t", "ceiling"] == 0.0 and ceiling.loc["u", "ceiling"] == pytest.approx(1.0)
    assert ceiling.loc["mean", "scorer"] == pytest.approx(0.0, abs=1e-4) and "brute_force" not in ceiling.columns
    assert "Noise ceiling and power of the design" in (out / "design.html").read_text()


def test_the_primary_comparison_of_the_config_comes_first(tmp_path):
    """--primary names the comparison before the run: its row first, tested alone, its null in the
    headline; against a baseline other than cosine_mean the table gains a baseline column."""
    paths = plain_tables(tmp_path)
    common = ["evaluate", "--transfer", str(paths["T"]), "--no-transfer", str(paths["N"]), "--rankings",
              str(paths["R"]), "--per-seed", str(paths["P"]), "--ks", "1"]
    assert main([*common, "--primary", "scorer", "--primary-metric", "top1_gain", "--out", str(tmp_path / "a")]) == 0
    versus = pd.read_csv(tmp_path / "a" / "versus_cosine.tsv", sep="\t")
    first = versus.iloc[0]
    assert (first["method"], first["metric"], first["role"]) == ("scorer", "top1_gain", "primary (named in the config before the run)")
    assert pd.isna(first["p_holm"]) and (versus.iloc[1:]["role"] != first["role"]).all()
    sentence = (tmp_path / "a" / "headline.txt").read_text()
    assert "H0: equal mean per-target top-1 gain of scorer and cosine_mean over targets: scorer - cosine_mean = -0.50 [" in sentence
    assert "H0 is not rejected at 0.05." in sentence and "from the primary comparison, scorer - cosine_mean" in sentence
    assert "would need" not in sentence  # points of gain: no reference difference of 0.1
    assert main([*common, "--primary", "scorer", "--primary-baseline", "random_expected", "--primary-metric",
                 "top1_gain", "--out", str(tmp_path / "b")]) == 0
    versus = pd.read_csv(tmp_path / "b" / "versus_cosine.tsv", sep="\t")
    assert list(versus.columns[:3]) == ["method", "baseline", "metric"]
    assert tuple(versus.iloc[0][["method", "baseline", "metric"]]) == ("scorer", "random_expected", "top1_gain")
    # scorer's own top1_gain against cosine_mean stays in the exploratory family
    rest = versus.iloc[1:]
    assert rest[(rest.method == "scorer") & (rest.metric == "top1_gain")]["role"].item() == "exploratory"


def test_a_ranker_that_fell_back_to_cosine_is_named_in_the_headline(tmp_path):
    """A method whose scores rank as cosine_mean's on every target shows a zero difference: the
    headline says that it is cosine's own ranking (the scorer, which differs, is not named)."""
    paths = plain_tables(tmp_path)
    rankings = pd.read_csv(paths["R"], sep="\t")
    copy = rankings[rankings.method == "cosine_mean"].assign(method="feature_ranker_loto", score=lambda d: d.score * 2)
    pd.concat([rankings, copy]).to_csv(paths["R"], sep="\t", index=False)
    assert main(["evaluate", "--transfer", str(paths["T"]), "--no-transfer", str(paths["N"]), "--rankings",
                 str(paths["R"]), "--per-seed", str(paths["P"]), "--ks", "1", "--out", str(tmp_path / "f")]) == 0
    sentence = (tmp_path / "f" / "headline.txt").read_text()
    assert "feature_ranker_loto scores exactly as cosine_mean on every target and metric" in sentence
    assert "scorer scores exactly" not in sentence


def test_without_cosine_the_comparison_says_so(tmp_path):
    paths = plain_tables(tmp_path)
    rankings = pd.read_csv(paths["R"], sep="\t")
    rankings[rankings.method != "cosine_mean"].to_csv(paths["R"], sep="\t", index=False)
    assert main(["evaluate", "--transfer", str(paths["T"]), "--no-transfer", str(paths["N"]), "--rankings",
                 str(paths["R"]), "--out", str(tmp_path / "e")]) == 0
    assert pd.read_csv(tmp_path / "e" / "versus_cosine.tsv", sep="\t").empty
    assert "cosine_mean is not among" in (tmp_path / "e" / "headline.txt").read_text()


def test_learned_methods_and_table_order_pick_up_new_methods():
    methods = ["cosine_mean", "scorer", "feature_ranker", "scorer_loto", "logme", "source_prior", "brute_force",
               "brute_force_xfit", "random"]
    assert learned_methods(methods) == ["feature_ranker", "scorer", "scorer_loto"]
    order = method_order(methods)
    assert order[-3:] == ["scorer", "brute_force_xfit", "brute_force"]
    assert order.index("logme") < order.index("scorer") and order.index("feature_ranker") < order.index("scorer")


def test_evaluate_run_reads_the_per_seed_gains_of_the_held_out_targets(tmp_path):
    """The workflow's path: the gains table (one row per run, the control and a pool pair in it too)."""
    runs = per_seed()
    extra = pd.DataFrame([
        {"source": "_control", "target": "t", "seed": k, "r1": 50.0, "r2": 70.0, "gain": 20.0} for k in (0, 1)
    ] + [{"source": "a", "target": "b", "seed": k, "r1": 50.0, "r2": 50.0, "gain": 0.0} for k in (0, 1)])
    pd.concat([runs, extra]).to_csv(tmp_path / "gains.tsv", sep="\t", index=False)
    pd.DataFrame([{"task": t, "seed": k, "score": R1[t], "metric": "accuracy"} for t in R1 for k in (0, 1)]).to_csv(
        tmp_path / "no_transfer.tsv", sep="\t", index=False
    )
    paths = plain_tables(tmp_path)
    out = tmp_path / "eval"
    assert main(["evaluate-run", "--gains", str(tmp_path / "gains.tsv"), "--no-transfer", str(tmp_path / "no_transfer.tsv"),
                 "--rankings", str(paths["R"]), "--targets", "t,u", "--ks", "1", "--level", "0.9", "--out", str(out)]) == 0
    kept = pd.read_csv(out / "per_seed.tsv", sep="\t")
    assert list(kept.columns) == ["source", "target", "seed", "gain"] and set(kept.source) == {"a", "b", "c"}
    assert set(kept.target) == {"t", "u"}
    table1 = pd.read_csv(out / "table1.tsv", sep="\t").set_index("method")
    # the control's +20 is never a candidate of either oracle
    assert table1.loc["brute force (cross-fitted)", "t"] == pytest.approx(51.0)
    assert table1.loc["brute_force", "t"] == pytest.approx(55.0)
    assert "90%" in (out / "versus_cosine.html").read_text()
    assert "no learned method beats cosine_mean" in (out / "headline.txt").read_text()
