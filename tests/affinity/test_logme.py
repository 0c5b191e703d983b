"""LogME against the evidence written out with dense matrices, on hand-made numbers."""

from __future__ import annotations

import numpy as np
import pytest

from tasktransfer.affinity.logme import logme_evidence, logme_fit, logme_score
from tasktransfer.errors import TaskTransferError

F_TINY = np.array([[1.0, 0.5], [0.2, -1.0], [-0.7, 0.3], [1.5, 2.0]])
Y_TINY = np.array([1.2, -0.4, 0.1, 2.9])


def dense_evidence(f: np.ndarray, y: np.ndarray, alpha: float, beta: float) -> float:
    """The paper's log evidence / n, straight from the formula (no SVD)."""
    n, d = f.shape
    a = alpha * np.eye(d) + beta * f.T @ f
    m = beta * np.linalg.solve(a, f.T @ y)
    sign, logdet = np.linalg.slogdet(a)
    assert sign > 0
    total = (
        n / 2 * np.log(beta)
        + d / 2 * np.log(alpha)
        - n / 2 * np.log(2 * np.pi)
        - beta / 2 * np.sum((f @ m - y) ** 2)
        - alpha / 2 * m @ m
        - logdet / 2
    )
    return total / n


def test_tiny_case_matches_dense_formula():
    fit = logme_fit(F_TINY, Y_TINY)
    assert 1 <= fit.iterations <= 11
    assert fit.alpha > 0 and fit.beta > 0
    assert fit.evidence == pytest.approx(dense_evidence(F_TINY, Y_TINY, fit.alpha, fit.beta), rel=1e-10)
    assert logme_evidence(F_TINY, Y_TINY) == fit.evidence


@pytest.mark.parametrize("seed", [0, 1])
def test_fixed_point_is_a_maximum_along_each_axis(seed):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(30, 4))
    y = f @ np.array([1.0, -0.5, 0.0, 2.0]) + 0.7 * rng.normal(size=30)
    fit = logme_fit(f, y, tol=1e-12, max_iter=10_000)
    assert fit.iterations < 10_000  # converged, not stopped by the cap
    best = dense_evidence(f, y, fit.alpha, fit.beta)
    assert fit.evidence == pytest.approx(best, rel=1e-10)
    for a, b in [(1.1, 1), (1 / 1.1, 1), (1, 1.1), (1, 1 / 1.1)]:
        assert best > dense_evidence(f, y, fit.alpha * a, fit.beta * b)


def test_default_stopping_is_close_to_the_converged_value():
    rng = np.random.default_rng(2)
    f = rng.normal(size=(40, 5))
    y = f[:, 0] + 0.5 * rng.normal(size=40)
    quick, exact = logme_fit(f, y), logme_fit(f, y, tol=1e-12, max_iter=10_000)
    assert quick.evidence == pytest.approx(exact.evidence, abs=1e-3)


def test_fewer_examples_than_dimensions_matches_dense_formula():
    rng = np.random.default_rng(4)
    f = rng.normal(size=(6, 12))
    y = f @ rng.normal(size=12) + 0.5 * rng.normal(size=6)  # this draw has an interior optimum
    fit = logme_fit(f, y, tol=1e-12, max_iter=10_000)
    assert fit.iterations < 10_000
    # The d - n missing singular values must enter log|A| as log(alpha) each.
    best = dense_evidence(f, y, fit.alpha, fit.beta)
    assert fit.evidence == pytest.approx(best, rel=1e-10)
    for a, b in [(1.1, 1), (1 / 1.1, 1), (1, 1.1), (1, 1 / 1.1)]:
        assert best > dense_evidence(f, y, fit.alpha * a, fit.beta * b)


def test_uninformative_features_stay_finite_when_alpha_runs_off():
    # Here the maximum lies at alpha -> infinity (w = 0); the cap must stop the drift with a finite value.
    rng = np.random.default_rng(3)
    f = rng.normal(size=(5, 12))
    y = np.array([0.3, -1.1, 0.8, 2.0, -0.2])
    fit = logme_fit(f, y, tol=1e-10, max_iter=2_000)
    assert fit.iterations == 2_000 and fit.alpha > 1e50
    assert np.isfinite(fit.evidence)
    assert fit.evidence == pytest.approx(dense_evidence(f, y, fit.alpha, fit.beta), rel=1e-10)
    assert logme_evidence(f, y) == pytest.approx(fit.evidence, abs=0.05)


def test_rank_deficient_features_match_dense_formula():
    rng = np.random.default_rng(4)
    base = rng.normal(size=(20, 2))
    f = np.hstack([base, base.sum(axis=1, keepdims=True)])  # rank 2 in 3 dimensions
    y = base[:, 0] - base[:, 1] + 0.3 * rng.normal(size=20)
    fit = logme_fit(f, y)
    assert fit.evidence == pytest.approx(dense_evidence(f, y, fit.alpha, fit.beta), rel=1e-8)


def test_targets_orthogonal_to_the_features_give_a_finite_value():
    # m = 0 exactly, so alpha runs off; the floor must keep every term finite.
    f = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    y = np.array([0.0, 0.0, 1.0, -2.0])
    fit = logme_fit(f, y)
    assert np.isfinite(fit.evidence) and fit.alpha > 1e100
    assert fit.evidence == pytest.approx(dense_evidence(f, y, fit.alpha, fit.beta), rel=1e-10)


def test_informative_features_score_higher_than_random_ones():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 3, size=90)
    centres = 2.0 * rng.normal(size=(3, 8))
    informative = centres[labels] + rng.normal(size=(90, 8))
    noise = rng.normal(size=(90, 8))
    assert logme_score(informative, labels, "classification") > logme_score(noise, labels, "classification") + 0.05


def test_classification_is_the_mean_over_one_hot_columns():
    rng = np.random.default_rng(6)
    f = rng.normal(size=(25, 4))
    labels = np.array([7, 2, 2, 9] * 6 + [7])  # ids need not be 0..C-1
    per_class = [logme_evidence(f, (labels == c).astype(float)) for c in (2, 7, 9)]
    assert logme_score(f, labels, "classification") == pytest.approx(np.mean(per_class), rel=1e-12)


def test_regression_averages_target_columns():
    rng = np.random.default_rng(7)
    f = rng.normal(size=(25, 4))
    y = rng.normal(size=(25, 2))
    expected = np.mean([logme_evidence(f, y[:, 0]), logme_evidence(f, y[:, 1])])
    assert logme_score(f, y, "regression") == pytest.approx(expected, rel=1e-12)
    assert logme_score(f, y[:, 0], "regression") == pytest.approx(logme_evidence(f, y[:, 0]), rel=1e-12)


@pytest.mark.parametrize(
    ("features", "labels", "kind", "match"),
    [
        (np.zeros((0, 3)), np.zeros(0, dtype=int), "classification", "features are empty"),
        (F_TINY, np.array([0, 1, 0]), "classification", "4 feature rows but 3 labels"),
        (np.where(F_TINY > 1.4, np.nan, F_TINY), np.array([0, 1, 0, 1]), "classification", "NaN or inf"),
        (F_TINY, np.array([3, 3, 3, 3]), "classification", "single class"),
        (F_TINY, np.array([0, 1, 0, 1]), "ranking", "unknown kind 'ranking'"),
        (F_TINY, np.array([0.0, np.inf, 1.0, 2.0]), "regression", "targets contain NaN or inf"),
        (F_TINY, np.c_[[1.0, 2.0, 0.0, 1.0], np.zeros(4)], "regression", r"column\(s\) \[1\] are all zero"),
        (np.zeros((4, 2)), np.array([0, 1, 0, 1]), "classification", "features are all zero"),
    ],
)
def test_errors_name_the_problem(features, labels, kind, match):
    with pytest.raises(TaskTransferError, match=match):
        logme_score(features, labels, kind)
