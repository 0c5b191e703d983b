"""The report's tables (analysis/report_tables.py) by hand: the novel targets' table."""

from __future__ import annotations

import pandas as pd

from tasktransfer.analysis.report_tables import novel_table


def test_novel_table_by_hand():
    rankings = pd.DataFrame({"method": ["scorer"] * 3 + ["cosine_mean"] * 3, "target": "n",
                             "source": ["a", "b", "c"] * 2, "score": [1.0, 3.0, 2.0, 0.9, 0.1, 0.5]})
    selected = pd.DataFrame({"target": ["n", "n"], "source": ["b", "c"]})
    gains = pd.DataFrame({"source": ["b", "c"], "target": "n", "seed": 0, "metric": "accuracy",
                          "r1": 50.0, "r2": [55.0, 58.0], "gain": [5.0, 8.0]})
    table = novel_table(rankings, selected, gains)
    assert list(table.source) == ["b", "c", "a"]  # by predicted gain
    assert list(table.transferred) == [True, True, False]
    assert list(table.best_of_top_k[:2]) == [5.0, 8.0]  # top-1: +5; top-2: max(5, 8)
    assert pd.isna(table.score[2])  # a was not transferred
    assert list(table.cosine_mean_rank) == [3, 2, 1]
