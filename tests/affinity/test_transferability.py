"""The cheap transferability estimators on planted feature rows: H-score and the kNN probe order
informative features above noise, and say NaN where they are undefined."""

import math

import numpy as np
import pytest

from tasktransfer.affinity.transferability import ESTIMATORS, estimates_of_rows, hscore, knn_probe


def _rows(separation: float, n: int = 120, d: int = 300, seed: int = 0):
    """Two classes whose means differ by ``separation`` along one direction, in d dimensions (n < d)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.normal(size=(n, d))
    x[:, 0] += separation * (2 * y - 1)
    return x, y


def test_informative_features_score_above_noise():
    clear, noise = _rows(4.0), _rows(0.0)
    assert hscore(*clear) > hscore(*noise) + 0.5
    assert knn_probe(*clear) > 0.9
    assert knn_probe(*noise) < 0.7


def test_hscore_by_hand_in_one_dimension():
    # one feature, classes at -1 and +1 with no spread: all its variance is between the classes
    x = np.array([[-1.0], [-1.0], [1.0], [1.0]])
    y = np.array([0, 0, 1, 1])
    assert hscore(x, y) == pytest.approx(1.0, rel=0.05)


def test_knn_leaves_each_row_out_of_its_own_vote():
    # every row's nearest other rows are of the other class: leave-one-out accuracy 0, with the row itself 1
    x = np.array([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0], [0.01, 1.0]])
    y = np.array([0, 1, 0, 1])
    assert knn_probe(x, y, k=1) == 0.0


def test_regression_and_degenerate_rows():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(80, 10))
    y = x[:, 0] * 3.0
    out = estimates_of_rows(x, y, "regression")
    assert set(out) == set(ESTIMATORS)
    assert math.isnan(out["hscore"])  # no class means
    assert out["knn"] > 0.0  # neighbours carry the signal: R^2 above 0
    one_class = estimates_of_rows(x, np.zeros(80, dtype=int), "classification")
    assert all(math.isnan(v) for v in one_class.values())
