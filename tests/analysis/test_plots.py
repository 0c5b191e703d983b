"""The report's figures (analysis/plots.py) from small tables: gains, the embedding map and the
scorer's held-out predictions (the report itself, in a browser, is tests/workflow/test_report_browser.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasktransfer.analysis import plots


def _tables():
    tasks = pd.DataFrame({"task": ["a", "b", "c", "t"], "role": ["source", "source", "source", "target"],
                          "type": ["x", "x", "y", "y"]})
    gains = pd.DataFrame({"source": ["a", "b", "c", "_control", "a"], "target": ["t", "t", "t", "t", "b"], "seed": 0,
                          "metric": "accuracy", "r1": 50.0, "r2": [52.0, 49.0, 60.0, 51.0, 55.0],
                          "gain": [2.0, -1.0, 10.0, 1.0, 5.0]})
    return tasks, gains


def test_gain_figures(tmp_path):
    tasks, gains = _tables()
    plots.gains_by_target(gains, tasks, tmp_path / "by_target.png")
    plots.gain_heatmap(gains, tasks, tmp_path / "heatmap.png")
    for name in ("by_target.png", "heatmap.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pca_and_embedding_map(tmp_path):
    rng = np.random.default_rng(0)
    # points on a line in 3-D: PC1 carries all the variance, and the 2-D map keeps their distances
    x = np.outer(np.arange(4.0), [1.0, 2.0, 2.0]) + 5
    coords, shares = plots.pca_2d(x)
    assert shares[0] == pytest.approx(1.0) and shares[1] == pytest.approx(0.0, abs=1e-12)
    assert abs(coords[1, 0] - coords[0, 0]) == pytest.approx(3.0)  # |(1, 2, 2)| = 3
    tasks, _ = _tables()
    emb = {t: rng.normal(size=(4, 6)) for t in tasks.task}
    plots.embedding_map(emb, tasks, tmp_path / "emb.png")
    assert (tmp_path / "emb.png").stat().st_size > 1000


def test_held_out_figure_draws_with_and_without_cv(tmp_path):
    from tasktransfer.analysis.plots import scorer_held_out

    scorer_held_out({"held_out": []}, tmp_path / "none.png")  # too few pairs for CV: a note, no crash
    rows = [{"source": "a", "target": "b", "gain": 1.0, "predicted": 0.5, "fold": 0},
            {"source": "b", "target": "a", "gain": -1.0, "predicted": 0.1, "fold": 1}]
    scorer_held_out({"held_out": rows}, tmp_path / "some.png")
    assert (tmp_path / "none.png").stat().st_size > 1000 and (tmp_path / "some.png").stat().st_size > 1000


def test_held_out_figure_plots_the_label_learned_not_the_raw_gain():
    from tasktransfer.analysis.plots import held_out_points

    rows = [{"source": "a", "target": "T", "gain": 5.0, "label": -1.0, "predicted": -0.8, "fold": 0},
            {"source": "b", "target": "T", "gain": 7.0, "label": 1.0, "predicted": 0.9, "fold": 0}]
    held, kind = held_out_points({"held_out": rows, "target_label": "centred"})
    assert kind == "centred" and list(held.truth) == [-1.0, 1.0]
    old = [{k: v for k, v in r.items() if k != "label"} for r in rows]  # metrics from before labels
    held, kind = held_out_points({"held_out": old, "target_label": "centred"})
    assert kind == "raw" and list(held.truth) == [5.0, 7.0]
    assert held_out_points({"held_out": []})[0].empty
