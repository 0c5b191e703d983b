"""LogME: the log maximum evidence of a linear model on frozen features.

You, Liu, Wang and Long, "LogME: Practical Assessment of Pre-trained Models for Transfer
Learning", ICML 2021 (arXiv:2102.11005).

Model. For features F (n x d) and one real target column y (n,), Bayesian linear regression

    w ~ N(0, alpha^-1 I_d),    y | F, w ~ N(F w, beta^-1 I_n).

Evidence. With A = alpha I + beta F^T F and posterior mean m = beta A^-1 F^T y,

    log p(y | F, alpha, beta) = n/2 log beta + d/2 log alpha - n/2 log 2 pi
                                - beta/2 ||F m - y||^2 - alpha/2 m^T m - 1/2 log|A|.

Fixed point (the paper's Algorithm 2). Setting the derivatives in alpha and beta to zero gives

    gamma = sum_i beta s_i^2 / (alpha + beta s_i^2),
    alpha = gamma / m^T m,    beta = (n - gamma) / ||F m - y||^2,

iterated from alpha = beta = 1. With the thin SVD F = U diag(s) V^T computed once, m, ||m||^2
and the residual are O(min(n, d)) per iteration, because z = U^T y is fixed. The loop stops when
alpha and beta both change by less than ``tol`` (relative), or after ``max_iter`` = 11 updates as
in the paper. The value returned is the evidence at the final (alpha, beta), divided by n (the
paper's normalisation, so tasks with different n are comparable). If n < d, F has at most n
nonzero singular values; the other d - n eigenvalues of A are alpha, so log|A| gets (d - k) log
alpha with k = min(n, d). This is where it departs from the authors' fast path as we read their
reference code (thuml/LogME, ``each_evidence``): it sums log(alpha + beta s_i^2) over the k
singular values only, leaving (d - k) log alpha out of log|A|, so for n < d (128 target examples
against 384 dimensions in the default run) its value is higher by (d - k) / (2 n) log alpha. That
term varies with the alpha each source's features reach, so the two can order sources differently;
the evidence computed here is the exact one of the model above.

The maximum can lie on the boundary: alpha -> infinity when the features explain nothing of y
(w = 0), beta -> infinity when they interpolate y exactly (common for n <= d). The evidence then
tends to a finite limit while alpha or beta keep growing geometrically, so the iteration is simply
stopped by ``max_iter`` and the value returned is near that limit.

Scores. ``kind="classification"``: labels are class ids; the score is the mean over classes of
the evidence of the one-hot column of that class (as the paper). For token tagging, pass one row
per labelled token (token states flattened over sentences, padding and unlabelled positions
dropped) with its tag id, as classification. ``kind="regression"``: the mean over target columns
(1-D targets are one column). Targets are used as given, as in the paper: the evidence is not
scale invariant (y -> c y shifts it by -log|c|), so a caller comparing regression tasks of
different scales should standardise the targets first.

Cost: O(n d min(n, d)) for the SVD (O(n d^2 + d^3) at most) and O(n min(n, d)) memory for U,
then O(n min(n, d)) once per target column for U^T y and O(min(n, d)) per iteration.

Why hand-written: the authors' reference code is a script on GitHub, and no maintained package
on PyPI implements it; the algorithm is a few lines of numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tasktransfer.errors import TaskTransferError

KINDS = ("classification", "regression")

# m^T m is exactly zero when y is orthogonal to the features, and the residual underflows when
# they fit y exactly; flooring both (and alpha / beta) at 1e-150 keeps alpha, beta and their ratio
# inside float64 range, where 1e-300 would let alpha / beta overflow.
_FLOOR = 1e-150


@dataclass(frozen=True)
class LogMEFit:
    """The fixed point for one target column; ``evidence`` is the log evidence divided by n."""

    alpha: float
    beta: float
    evidence: float
    iterations: int


@dataclass(frozen=True)
class _Spectrum:
    """What the iteration needs from F, computed once and shared by all target columns."""

    n: int
    d: int
    s2: np.ndarray  # squared singular values, length k = min(n, d)
    u: np.ndarray  # n x k left singular vectors


def _spectrum(features: np.ndarray) -> _Spectrum:
    f = np.asarray(features, dtype=np.float64)
    u, s, _ = np.linalg.svd(f, full_matrices=False)
    return _Spectrum(n=f.shape[0], d=f.shape[1], s2=s * s, u=u)


def _posterior(spec: _Spectrum, z: np.ndarray, outside: float, alpha: float, beta: float):
    """m^T m, ||F m - y||^2, gamma and r + s_i^2, with m_i' = s_i z_i / (r + s_i^2) in the V basis.

    m depends on alpha and beta only through r = alpha / beta; writing everything with r keeps
    the arithmetic finite when one of them runs off towards a boundary (see the module docstring).
    """
    r = max(alpha / beta, _FLOOR)
    denom = r + spec.s2
    mtm = float(np.sum(spec.s2 * z**2 / denom**2))
    # F m - y in the U basis is -r z_i / denom_i; ``outside`` is the part of y off span(U).
    res = float(np.sum((r * z / denom) ** 2)) + outside
    gamma = float(np.sum(spec.s2 / denom))
    return mtm, res, gamma, denom


def _evidence(spec: _Spectrum, z: np.ndarray, outside: float, alpha: float, beta: float) -> float:
    n, d, k = spec.n, spec.d, spec.s2.size
    mtm, res, _, denom = _posterior(spec, z, outside, alpha, beta)
    # log|A| = sum_i log(beta (r + s_i^2)) over the k singular values, plus log(alpha) for the rest.
    logdet = k * np.log(beta) + float(np.sum(np.log(denom))) + (d - k) * np.log(alpha)
    total = (
        n / 2 * np.log(beta)
        + d / 2 * np.log(alpha)
        - n / 2 * np.log(2 * np.pi)
        - beta / 2 * res
        - alpha / 2 * mtm
        - logdet / 2
    )
    return float(total) / n


def _fit_column(spec: _Spectrum, y: np.ndarray, tol: float, max_iter: int) -> LogMEFit:
    z = spec.u.T @ y
    # Computed directly rather than ||y||^2 - ||z||^2, which cancels badly when F fits y well.
    outside = float(np.sum((y - spec.u @ z) ** 2))
    alpha, beta, it = 1.0, 1.0, 0
    for it in range(1, max_iter + 1):
        mtm, res, gamma, _ = _posterior(spec, z, outside, alpha, beta)
        new_alpha = gamma / max(mtm, _FLOOR)
        new_beta = (spec.n - gamma) / max(res, _FLOOR)
        done = abs(new_alpha - alpha) <= tol * alpha and abs(new_beta - beta) <= tol * beta
        alpha, beta = new_alpha, new_beta
        if done:
            break
    return LogMEFit(alpha=alpha, beta=beta, evidence=_evidence(spec, z, outside, alpha, beta), iterations=it)


def _check_features(features: np.ndarray, n_labels: int) -> np.ndarray:
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] == 0 or f.shape[1] == 0:
        raise TaskTransferError(
            f"LogME: features are empty or not 2-D (shape {f.shape}); pass one row per example, "
            "shape (n, d) with n, d >= 1"
        )
    if f.shape[0] != n_labels:
        raise TaskTransferError(
            f"LogME: {f.shape[0]} feature rows but {n_labels} labels; pass exactly one label per "
            "feature row (for token tagging: flatten the labelled tokens of both the same way)"
        )
    if not np.all(np.isfinite(f)):
        raise TaskTransferError(
            "LogME: features contain NaN or inf; check the feature extraction (e.g. fp16 overflow, "
            "division by a zero mask count) and drop or fix those rows"
        )
    if not np.any(f):
        raise TaskTransferError(
            "LogME: features are all zero, so the evidence does not depend on them; check the feature extraction"
        )
    return f


def _check_targets(y: np.ndarray) -> None:
    if not np.all(np.isfinite(y)):
        raise TaskTransferError("LogME: targets contain NaN or inf; drop or fix those examples")
    zero = np.flatnonzero(~np.any(y, axis=0))
    if zero.size:
        # alpha = gamma / m^T m has no maximum for y = 0 (the evidence grows without bound).
        raise TaskTransferError(
            f"LogME: target column(s) {zero.tolist()} are all zero, so the evidence is unbounded; "
            "drop constant-zero targets (or centre them differently)"
        )


def logme_fit(features: np.ndarray, targets: np.ndarray, *, tol: float = 1e-3, max_iter: int = 11) -> LogMEFit:
    """Fit alpha, beta for one real target column (n,) and return them with the evidence / n."""
    y = np.asarray(targets, dtype=np.float64)
    if y.ndim != 1:
        raise TaskTransferError(f"LogME: targets must be 1-D (n,), got shape {y.shape}; fit one column at a time")
    f = _check_features(features, y.shape[0])
    _check_targets(y[:, None])
    return _fit_column(_spectrum(f), y, tol, max_iter)


def logme_evidence(features: np.ndarray, targets: np.ndarray, *, tol: float = 1e-3, max_iter: int = 11) -> float:
    """The maximised log evidence divided by n for one real target column (n,)."""
    return logme_fit(features, targets, tol=tol, max_iter=max_iter).evidence


def logme_score(features: np.ndarray, labels: np.ndarray, kind: str, *, tol: float = 1e-3, max_iter: int = 11) -> float:
    """LogME of features (n, d) for labels: class ids (n,) or real targets (n,) / (n, t); larger is better."""
    if kind not in KINDS:
        raise TaskTransferError(f"LogME: unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    lab = np.asarray(labels)
    if kind == "classification":
        if lab.ndim != 1:
            raise TaskTransferError(
                f"LogME: classification labels must be 1-D class ids, got shape {lab.shape}; "
                "pass argmax of one-hot labels"
            )
        f = _check_features(features, lab.shape[0])
        classes, idx = np.unique(lab, return_inverse=True)
        if classes.size < 2:
            raise TaskTransferError(
                f"LogME: labels hold a single class ({classes[0]!r}), so there is nothing to "
                "separate; pass examples of at least two classes"
            )
        y = np.zeros((lab.shape[0], classes.size))
        y[np.arange(lab.shape[0]), idx] = 1.0
    else:
        y = lab.astype(np.float64)
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2:
            raise TaskTransferError(f"LogME: regression targets must be (n,) or (n, t), got shape {lab.shape}")
        f = _check_features(features, y.shape[0])
        _check_targets(y)
    spec = _spectrum(f)  # once for all columns: the SVD is the only expensive step
    return float(np.mean([_fit_column(spec, y[:, j], tol, max_iter).evidence for j in range(y.shape[1])]))
