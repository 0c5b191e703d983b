"""A method's mean gain over targets and the noise marks; a pair's paired bootstrap is
tests/test_bootstrap.py, the controls (mean init, shuffled labels) tests/prompting/test_control.py."""

import math

import pandas as pd
import pytest

from tasktransfer.analysis.uncertainty import mean_interval, method_noise_table


def test_mean_interval_by_hand():
    iv = mean_interval([2.0, 4.0], [3.0, 4.0], level=0.95)
    se = math.sqrt(9 + 16) / 2  # 2.5
    assert iv.mean == 3.0 and iv.se == pytest.approx(se)
    assert iv.lo == pytest.approx(3.0 - 1.959964 * se, abs=1e-4)
    assert iv.inside_noise


def test_method_noise_table_counts_targets_beyond_noise():
    per_target = pd.DataFrame(
        {"method": ["m", "m"], "k": [1, 1], "target": ["t1", "t2"], "chosen": ["a", "b"]}
    )
    intervals = pd.DataFrame(
        {
            "source": ["a", "b"], "target": ["t1", "t2"],
            "gain": [5.0, 1.0], "gain_se": [1.0, 1.0], "gain_lo": [3.0, -1.0], "gain_hi": [7.0, 3.0],
            "gain_vs_control": [2.0, 0.0], "gain_vs_control_se": [1.0, 1.0],
            "gain_vs_control_lo": [0.5, -2.0], "gain_vs_control_hi": [3.5, 2.0],
        }
    )
    table = method_noise_table(per_target, intervals).iloc[0]
    assert table.gain == 3.0 and table.beyond_noise == 1
    assert table.gain_vs_control == 1.0 and table.beyond_control_noise == 1
    assert table.gain_hi - table.gain == pytest.approx(1.959964 * math.sqrt(2) / 2, abs=1e-4)


def test_heatmap_marks_gains_inside_noise(tmp_path):
    from tasktransfer.analysis.plots import gain_heatmap

    gains = pd.DataFrame(
        {"source": ["a", "b"], "target": ["t", "t"], "seed": [0, 0], "metric": ["accuracy"] * 2,
         "r1": [50.0, 50.0], "r2": [55.0, 50.5], "gain": [5.0, 0.5]}
    )
    tasks = pd.DataFrame({"task": ["a", "b", "t"], "role": ["source", "source", "target"]})
    intervals = pd.DataFrame({"source": ["a", "b"], "target": ["t", "t"], "inside_noise": [False, True]})
    drawn = gain_heatmap(gains, tasks, tmp_path / "h.png", intervals)
    assert drawn == {("a", "t"): "+5.0", ("b", "t"): "(+0.5)"}
    assert (tmp_path / "h.png").stat().st_size > 1000
