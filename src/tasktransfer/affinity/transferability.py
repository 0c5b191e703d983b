"""Cheap transferability estimators on frozen features: LogME, H-score and a k-nearest-neighbour probe.

Each scores how well a target's labels can be read off the feature rows a source's prompt gives
the frozen backbone (:mod:`tasktransfer.affinity.logme_features` makes the rows): higher is
better, NaN where the estimator is undefined. None trains anything.

- ``logme``: the log maximum evidence of a linear model (:mod:`tasktransfer.affinity.logme`;
  You et al., ICML 2021). Regression labels are standardised first (LogME is not scale invariant).
- ``hscore``: H-score (Bao et al., ICIP 2019), tr(cov(f)^-1 cov(E[f | y])): the share of the
  feature covariance that the class means explain. The feature covariance is the Ledoit-Wolf
  shrinkage estimate (scikit-learn), as in the regularised H-score of Ibrahim et al. (ICLR 2023):
  with 128 examples and 384 dimensions (n < d) the plain covariance is singular and its inverse
  meaningless. Classification labels only (NaN for regression: there are no class means).
- ``knn``: leave-one-out accuracy of a k-nearest-neighbour vote (cosine similarity, k =
  :data:`KNN_K`, ties to the nearest) for classification; for regression, 1 - the mean squared
  error of the neighbours' mean on standardised labels (an R^2). Plain kNN probes ranked ahead of
  23 transferability metrics in a 2025 comparison; it is computed on at most :data:`KNN_ROWS`
  rows (token formats give thousands: a fixed, seeded subset), since it compares every pair.
"""

from __future__ import annotations

import math

import numpy as np

from tasktransfer.affinity.logme import logme_score
from tasktransfer.errors import TaskTransferError
from tasktransfer.run_layout import ESTIMATOR_METHODS as ESTIMATORS  # the methods' one home

KNN_K = 5
KNN_ROWS = 2000


def logme_of_rows(x: np.ndarray, y: np.ndarray, task_format: str) -> float:
    """LogME of one source's feature rows; NaN where it is undefined (one class, zero features)."""
    kind = "regression" if task_format == "regression" else "classification"
    if kind == "regression":
        sd = float(np.std(y))
        if not sd:
            return math.nan
        y = (y - np.mean(y)) / sd
    if kind == "classification" and np.unique(y).size < 2:
        return math.nan
    try:
        return logme_score(x, y, kind)
    except TaskTransferError:
        return math.nan


def hscore(x: np.ndarray, y: np.ndarray) -> float:
    """Regularised H-score of class labels ``y`` on features ``x`` (n x d); NaN for one class."""
    from sklearn.covariance import LedoitWolf

    classes = np.unique(y)
    if classes.size < 2 or not np.any(x):
        return math.nan
    x = x - x.mean(0)
    cov = LedoitWolf(assume_centered=True).fit(x).covariance_
    means = np.zeros_like(x)
    for c in classes:
        rows = y == c
        means[rows] = x[rows].mean(0)
    between = means.T @ means / len(x)  # cov(E[f | y]), each row replaced by its class mean
    return float(np.trace(np.linalg.solve(cov, between)))


def _subset(x: np.ndarray, y: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    if len(x) <= limit:
        return x, y
    keep = np.sort(np.random.default_rng(0).choice(len(x), limit, replace=False))
    return x[keep], y[keep]


def knn_probe(x: np.ndarray, y: np.ndarray, regression: bool = False, k: int = KNN_K) -> float:
    """Leave-one-out kNN probe: accuracy in 0..1 (classification) or R^2 (regression)."""
    x, y = _subset(x, y, KNN_ROWS)
    n = len(x)
    if n <= k or (not regression and np.unique(y).size < 2):
        return math.nan
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = x / np.where(norms > 0, norms, 1.0)
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)  # leave each row out of its own vote
    near = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    if regression:
        sd = float(np.std(y))
        if not sd:
            return math.nan
        z = (y - np.mean(y)) / sd
        return float(1.0 - np.mean((z[near].mean(1) - z) ** 2))
    votes = y[near]
    right = 0
    for row, labels in enumerate(votes):
        values, counts = np.unique(labels, return_counts=True)
        tied = set(values[counts == counts.max()])
        guess = next(label for label in labels if label in tied)  # a tie goes to the nearest
        right += guess == y[row]
    return right / n


def estimates_of_rows(x: np.ndarray, y: np.ndarray, task_format: str) -> dict[str, float]:
    """Every estimator of :data:`ESTIMATORS` on one source's feature rows."""
    regression = task_format == "regression"
    return {
        "logme": logme_of_rows(x, y, task_format),
        "hscore": math.nan if regression else hscore(x, y),
        "knn": knn_probe(x, y, regression),
    }
