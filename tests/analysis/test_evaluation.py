"""Evaluation from plain tables: best-of-top-k, Regret@k, the random expectation, Tables 1 and 2.

Every expected number is worked out by hand in the comments, from the small matrix below.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tasktransfer import cli
from tasktransfer.errors import TaskTransferError
from tasktransfer.analysis.evaluation import evaluate_selections, expected_best_of_random, ranking_quality, summarise, supported_ks

# T(s, t): the target's score after transfer from s (metric x100)
#            a     b     c
#   t1      80    90    70      no transfer N(t1) = 75
#   t2      60    50    64      no transfer N(t2) = 55
# and a control init "_control" (never a candidate): t1 76, t2 57
TRANSFER = """source\ttarget\tscore
a\tt1\t80
b\tt1\t90
c\tt1\t70
a\tt2\t60
b\tt2\t50
c\tt2\t64
_control\tt1\t76
_control\tt2\t57
"""
NO_TRANSFER = "target\tscore\nt1\t75\nt2\t55\n"
# m1 gives two sources per target (best first), m2 one
SELECTIONS = """method\ttarget\tsource
m1\tt1\ta
m1\tt1\tb
m1\tt2\tc
m1\tt2\ta
m2\tt1\tc
m2\tt2\tb
"""


def _frames():
    from io import StringIO

    t = pd.read_csv(StringIO(TRANSFER), sep="\t")
    return t[~t.source.str.startswith("_")], pd.read_csv(StringIO(NO_TRANSFER), sep="\t"), pd.read_csv(StringIO(SELECTIONS), sep="\t")


def test_evaluate_command_reproduces_hand_computed_gains(tmp_path, capsys):
    (tmp_path / "T.tsv").write_text(TRANSFER)
    (tmp_path / "N.tsv").write_text(NO_TRANSFER)
    (tmp_path / "S.tsv").write_text(SELECTIONS)
    out = tmp_path / "eval"
    rc = cli.main(["evaluate", "--transfer", str(tmp_path / "T.tsv"), "--no-transfer", str(tmp_path / "N.tsv"),
                   "--selections", str(tmp_path / "S.tsv"), "--ks", "1,3", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "Table 1" in printed and "Table 2" in printed

    summary = pd.read_csv(out / "summary.tsv", sep="\t").set_index(["method", "k"])
    gain = summary["mean_gain"]
    regret = summary["mean_regret"]
    # m1 top-1: t1 a = 80 (gain +5), t2 c = 64 (+9) -> mean gain 7
    assert gain["m1", 1] == pytest.approx(7.0)
    # Regret@1: t1 100 (90 - 80) / 90 = 11.111; t2 c is the best (0) -> mean 5.556
    assert regret["m1", 1] == pytest.approx((100 * 10 / 90 + 0) / 2, abs=1e-3)
    # m1 gives two sources, so it is judged at k = 2 although only 1 and 3 were asked for:
    # t1 max(a, b) = 90 (+15), t2 max(c, a) = 64 (+9) -> 12, no regret; k = 3 is skipped, not an error
    assert gain["m1", 2] == pytest.approx(12.0) and regret["m1", 2] == pytest.approx(0.0)
    assert ("m1", 3) not in summary.index
    # m2 (one source): t1 c = 70 (-5), t2 b = 50 (-5) -> -5; Regret@1 (100 * 20/90 + 100 * 14/64) / 2
    assert gain["m2", 1] == pytest.approx(-5.0)
    assert regret["m2", 1] == pytest.approx((100 * 20 / 90 + 100 * 14 / 64) / 2, abs=1e-3)
    assert set(summary.loc["m2"].index) == {1}
    # brute force: t1 b = 90 (+15), t2 c = 64 (+9) -> 12 at every k; the control (76, 57) is no candidate
    assert gain["brute_force", 1] == pytest.approx(12.0) and regret["brute_force", 1] == 0.0
    # random expectation, k = 1: mean of the column, t1 80 (+5), t2 58 (+3) -> 4
    assert gain["random_expected", 1] == pytest.approx(4.0)
    # k = 2: best of a random pair, t1 (90 + 80 + 90) / 3 = 86.667, t2 (60 + 64 + 64) / 3 = 62.667
    # -> gains 11.667 and 7.667, mean 9.667
    assert gain["random_expected", 2] == pytest.approx(((260 / 3 - 75) + (188 / 3 - 55)) / 2, abs=1e-3)

    table1 = pd.read_csv(out / "table1.tsv", sep="\t").set_index("method")
    assert list(table1.columns) == ["k", "t1", "t2", "mean_gain"]
    assert table1.loc["no_transfer", "t1"] == 75 and table1.loc["no_transfer", "mean_gain"] == 0
    # the control row: t1 76 (+1), t2 57 (+2) -> 1.5
    assert table1.loc["control init (control)", "mean_gain"] == pytest.approx(1.5)
    assert table1.loc["m1 (top-1)", "t1"] == 80 and table1.loc["m1 (top-1)", "t2"] == 64
    assert table1.loc["m1 (top-2)", "mean_gain"] == pytest.approx(12.0)
    assert table1.loc["brute_force", "mean_gain"] == pytest.approx(12.0)
    assert table1.index[-1] == "brute_force"  # the upper bound closes the table

    table2 = pd.read_csv(out / "table2.tsv", sep="\t").set_index("method")
    assert table2.loc["m2", "regret@1"] == pytest.approx(22.049, abs=1e-3)
    assert pd.isna(table2.loc["m2", "regret@3"])  # m2 gives one source: no Regret@3
    assert (out / "table1.html").read_text().count("<tr>") == len(table1) + 1


def test_ranking_quality_by_hand():
    transfer, base, _ = _frames()
    # method r scores t1's sources a 3, b 1, c 2 (it puts a first); true gains a +5, b +15, c -5
    rankings = pd.DataFrame({"method": "r", "target": "t1", "source": ["a", "b", "c"], "score": [3.0, 1.0, 2.0]})
    q = ranking_quality(rankings, transfer, base, [1, 2, 3]).iloc[0]
    # ranks of scores (a, b, c) = 3, 1, 2; of gains 2, 3, 1; d = 1, -2, 1; rho = 1 - 6 * 6 / (3 * 8) = -0.5
    assert q.spearman == pytest.approx(-0.5)
    # centred scores 1, -1, 0 and gains 0, 10, -10: r = -10 / sqrt(2 * 200) = -0.5
    assert q.pearson == pytest.approx(-0.5)
    # NDCG, relevance max(gain, 0) = a 5, b 15, c 0; order a, c, b: 5 + 0 + 15 / log2(4) = 12.5;
    # ideal b, a, c: 15 + 5 / log2(3)
    assert q.ndcg == pytest.approx(12.5 / (15 + 5 / math.log2(3)))
    # Regret@1 and @2: best of {a} and of {a, c} is 80 -> 100 * 10 / 90; @3 holds b -> 0
    assert q["regret@1"] == pytest.approx(100 * 10 / 90)
    assert q["regret@2"] == pytest.approx(100 * 10 / 90)
    assert q["regret@3"] == 0.0
    # 100 points lower after every transfer, no source helps t1: NDCG is undefined (NaN, left out of means)
    worse = transfer.assign(score=transfer.score - 100)
    assert math.isnan(ranking_quality(rankings, worse, base, [1]).iloc[0].ndcg)


def test_expected_best_of_random_subset():
    # best of a random pair from 70, 80, 90: pairs (70, 80) (70, 90) (80, 90) -> (80 + 90 + 90) / 3
    assert expected_best_of_random([80, 90, 70], 2) == pytest.approx(260 / 3)
    assert expected_best_of_random([80, 90, 70], 1) == pytest.approx(80)
    assert expected_best_of_random([80, 90, 70], 3) == 90
    with pytest.raises(ValueError):
        expected_best_of_random([1.0], 2)


def test_supported_ks():
    assert supported_ks([2, 2], [1, 3]) == [1, 2]
    assert supported_ks([5, 4], [1, 3]) == [1, 3, 4]
    assert supported_ks([5, 4], [1, 3], add_n=False) == [1, 3]
    assert supported_ks([1], [1, 3]) == [1]


def test_selection_of_an_untrained_pair_is_a_clear_error():
    transfer, base, _ = _frames()
    bad = pd.DataFrame({"method": ["m"], "target": ["t1"], "source": ["zzz"]})
    with pytest.raises(TaskTransferError, match="zzz"):
        evaluate_selections(transfer, base, bad, [1])
    with pytest.raises(TaskTransferError, match="no-transfer"):
        evaluate_selections(transfer, base[base.target == "t1"], None, [1])


def test_brute_force_in_selections_is_ignored_and_recomputed():
    transfer, base, sel = _frames()
    fake = pd.DataFrame({"method": ["brute_force"], "target": ["t1"], "source": ["c"]})
    per_target = evaluate_selections(transfer, base, pd.concat([sel, fake]), [1])
    bf = per_target[(per_target.method == "brute_force") & (per_target.target == "t1")]
    assert set(bf.chosen) == {"b"}
    assert summarise(per_target).set_index(["method", "k"]).loc[("brute_force", 1), "beats_no_transfer"] == 2


def test_correlations_on_part_of_the_sources_warn():
    """A ranking that misses a source with a transfer result, or brute force that misses a ranked
    source, gives a correlation over fewer sources than the target has: say so, never silently."""
    import warnings

    from tasktransfer.analysis.evaluation import PartialRankingWarning

    transfer, no_transfer, _ = _frames()
    full = pd.DataFrame({"method": "m", "target": "t1", "source": ["a", "b", "c"], "score": [1.0, 3.0, 2.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", PartialRankingWarning)  # complete: no warning
        assert ranking_quality(full, transfer, no_transfer, [1]).sources.tolist() == [3]
    # the ranking lacks c: computed on 2 of t1's 3 sources
    with pytest.warns(PartialRankingWarning, match=r"m for target t1 computed on 2 of its 3 sources.*not ranked \(c\)"):
        quality = ranking_quality(full[full.source != "c"], transfer, no_transfer, [1])
    assert quality.sources.tolist() == [2]
    # brute force unfinished: c ranked but never transferred into t1
    unfinished = transfer[~((transfer.source == "c") & (transfer.target == "t1"))]
    with pytest.warns(PartialRankingWarning, match=r"2 of its 3 sources.*no transfer result \(c\)"):
        ranking_quality(full, unfinished, no_transfer, [1])
    # one source left: the row is skipped, and that is said too
    with pytest.warns(PartialRankingWarning, match=r"skipped: it would rest on 1 of its 3 sources"):
        assert ranking_quality(full[full.source == "a"], transfer, no_transfer, [1]).empty
