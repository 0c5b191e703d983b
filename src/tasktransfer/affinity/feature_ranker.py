"""The feature ranker: a small learned ranker over pair features, falling back to cosine alone.

Features of a pair (source s, target t): ``cosine_mean``, ``cosine_tokens``, ``cosine_centred``
and ``logme`` (:mod:`tasktransfer.affinity.pair_features`), and ``prior``, the source prior
(:mod:`tasktransfer.affinity.source_prior`) fitted on the training targets *other than t*, so a
training pair's own gain never reaches its prior feature (the held-out target's prior is fitted
on all training targets, which never include it).

Training data: the mean gains of the training targets (pairs with s == t dropped), each target's
gains standardised over its own sources (z-scores: only the order within a target matters, not
its level or spread), and every feature standardised the same way within each target (a missing
LogME is the target's mean, z = 0). Targets with fewer than 2 sources or with equal gains carry no
ranking information and are left out.

Model: ridge regression without intercept, shrunk toward cosine alone,

    w = argmin ||y - X w||^2 + alpha ||w - w0||^2,   w0 = 1 on cosine_mean, 0 elsewhere,

(closed form: w = w0 + (X^T X + alpha I)^-1 X^T (y - X w0), the same solution as scikit-learn's
``Ridge(alpha, fit_intercept=False)`` on the residual y - X w0; tests/affinity check it). As alpha
grows the ranking becomes the ``cosine_mean`` baseline's; the grid :data:`ALPHAS` ends with 1e8,
where it is that baseline.

Choosing alpha, nested leave-one-target-out over the training targets:

- inner: for a set S, the alpha whose leave-one-target-out predictions within S have the best
  mean Spearman with the gains (ties to the larger alpha);
- outer: for each training target t, alpha is chosen by the inner loop on the others, the model
  fitted on them and scored on t (Spearman): an honest estimate of the whole procedure.

Fallback: the ranker keeps its learned weights only if, over the training targets, its outer
Spearman beats cosine_mean's own Spearman on the same targets by more than one standard error of
the paired differences (and by more than 0). Otherwise (or with fewer than 3 usable training
targets) it ranks by cosine alone (w = w0). The decision, alpha, weights and both Spearmans are
returned (and the rank command logs them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from tasktransfer.affinity.pair_features import FEATURES as PAIR_FEATURES
from tasktransfer.affinity.source_prior import prior_scores, source_prior
from tasktransfer.errors import TaskTransferError
from tasktransfer.metrics import spearman

METHOD = "feature_ranker"
FEATURES = (*PAIR_FEATURES, "prior")
BASELINE = "cosine_mean"
ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0, 1e8)
#: fewer usable training targets than this: no nested leave-one-target-out, cosine alone
MIN_TARGETS = 3


@dataclass
class RankerFit:
    """What was learned, and why: ``decision`` is ``learned`` or ``cosine`` (with ``reason``)."""

    weights: dict[str, float]
    alpha: float | None
    decision: str
    reason: str
    training_targets: list[str] = field(default_factory=list)
    outer_spearman: float | None = None
    cosine_spearman: float | None = None
    lam: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)


def _zscore(values: np.ndarray) -> np.ndarray:
    """Standardised within one target; NaN is the mean (0); a constant column is all 0."""
    v = np.asarray(values, dtype=float)
    if np.all(np.isnan(v)):
        return np.zeros_like(v)
    v = np.where(np.isnan(v), np.nanmean(v), v)
    sd = v.std()
    return (v - v.mean()) / sd if sd > 0 else np.zeros_like(v)


def baseline_weights() -> np.ndarray:
    return np.array([1.0 if f == BASELINE else 0.0 for f in FEATURES])


def ridge_toward(x: np.ndarray, y: np.ndarray, alpha: float, w0: np.ndarray) -> np.ndarray:
    """argmin ||y - x w||^2 + alpha ||w - w0||^2 (no intercept)."""
    d = x.shape[1]
    return w0 + np.linalg.solve(x.T @ x + alpha * np.eye(d), x.T @ (y - x @ w0))


def _rho(a: Sequence[float], b: Sequence[float]) -> float:
    value = spearman(list(a), list(b))
    return 0.0 if value is None or not math.isfinite(value) else float(value)


class _Data:
    """Pair means and features by target as arrays; the prior of a training set from a residual
    matrix (the same numbers as :func:`~tasktransfer.affinity.source_prior.source_prior`, without
    a table per call: nested leave-one-target-out asks for thousands of training sets)."""

    def __init__(self, gains: pd.DataFrame, features: pd.DataFrame, lam: float):
        missing = [c for c in ("source", "target", "gain") if c not in gains.columns]
        if missing:
            raise TaskTransferError(f"the training gains lack columns {missing}; they need source, target and gain")
        gains = gains.assign(source=gains["source"].astype(str), target=gains["target"].astype(str))
        gains = gains[(gains["source"] != gains["target"]) & gains["gain"].notna()]
        means = gains.groupby(["source", "target"], sort=True)["gain"].mean().reset_index()
        features = features.assign(source=features["source"].astype(str), target=features["target"].astype(str))
        self.lam = lam
        self.sources = sorted(set(means["source"]) | set(features["source"]))
        col = {s: i for i, s in enumerate(self.sources)}
        # residual of every pair mean over its target's mean (the prior's input), target x source
        self.residual: dict[str, np.ndarray] = {}
        for target, rows in means.groupby("target", sort=True):
            r = np.full(len(self.sources), np.nan)
            r[[col[s] for s in rows["source"]]] = rows["gain"].to_numpy() - rows["gain"].mean()
            self.residual[str(target)] = r
        self.blocks: dict[str, tuple] = {}
        for target, rows in features.groupby("target", sort=True):
            rows = rows[rows["source"] != target].sort_values("source")
            rows = rows.merge(means[means["target"] == target][["source", "gain"]], on="source", how="left")
            static = np.column_stack([_zscore(rows[f].to_numpy(dtype=float)) for f in PAIR_FEATURES])
            self.blocks[str(target)] = (
                list(rows["source"]), np.array([col[s] for s in rows["source"]], dtype=int), static,
                rows["gain"].to_numpy(dtype=float), rows[BASELINE].to_numpy(dtype=float),
            )
        self._priors: dict[frozenset, np.ndarray] = {}

    def usable_targets(self) -> list[str]:
        """Training targets with gains and features of at least 2 sources whose gains differ."""
        out = []
        for target, (_, _, _, gain, _) in sorted(self.blocks.items()):
            known = gain[~np.isnan(gain)]
            if target in self.residual and known.size >= 2 and np.unique(known).size > 1:
                out.append(target)
        return out

    def prior(self, targets: frozenset[str]) -> np.ndarray:
        """The shrunk source effects of a set of targets, by source column (0 where never seen)."""
        if targets not in self._priors:
            if not targets:
                self._priors[targets] = np.zeros(len(self.sources))
            else:
                r = np.vstack([self.residual[t] for t in sorted(targets)])
                seen = (~np.isnan(r)).sum(0)
                effect = np.where(seen > 0, np.nansum(r, 0) / np.maximum(seen, 1), 0.0)
                shrink = np.where(seen > 0, seen / np.maximum(seen + self.lam, 1e-300), 0.0)
                self._priors[targets] = shrink * effect
        return self._priors[targets]

    def block(self, target: str, prior_from: frozenset[str]):
        """(z-features X, z-gains y, raw cosine_mean) of a training target's sources with a gain;
        its prior feature from ``prior_from`` without the target itself."""
        _, cols, static, gain, cosine = self.blocks[target]
        keep = ~np.isnan(gain)
        prior = self.prior(prior_from - {target})[cols[keep]]
        x = np.column_stack([np.column_stack([_zscore(c) for c in static[keep].T]), _zscore(prior)])
        return x, _zscore(gain[keep]), cosine[keep]

    def design(self, train: Iterable[str]):
        train = frozenset(train)
        blocks = [self.block(t, train) for t in sorted(train)]
        return np.vstack([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks])


def _loto_predictions(data: _Data, targets: list[str], alphas: Sequence[float]) -> dict[float, list[float]]:
    """For each alpha, the Spearman on each target of a model fitted on the others."""
    w0 = baseline_weights()
    out: dict[float, list[float]] = {a: [] for a in alphas}
    for held in targets:
        others = [t for t in targets if t != held]
        x, y = data.design(others)
        xh, yh, _ = data.block(held, frozenset(others))
        for a in alphas:
            out[a].append(_rho(xh @ ridge_toward(x, y, a, w0), yh))
    return out


def choose_alpha(data: _Data, targets: list[str], alphas: Sequence[float]) -> tuple[float, float]:
    """The alpha with the best mean leave-one-target-out Spearman within ``targets`` (ties: larger)."""
    scores = {a: float(np.mean(v)) for a, v in _loto_predictions(data, targets, alphas).items()}
    best = max(scores.values())
    alpha = max(a for a, s in scores.items() if s >= best - 1e-12)
    return alpha, scores[alpha]


def fit_ranker(
    gains: pd.DataFrame, features: pd.DataFrame, lam: float = 1.0, alphas: Sequence[float] = ALPHAS
) -> RankerFit:
    """Fit the ranker on the training targets' gains and features (module docstring)."""
    data = _Data(gains, features, lam)
    targets = data.usable_targets()
    base = dict(zip(FEATURES, baseline_weights().tolist()))
    if len(targets) < MIN_TARGETS:
        return RankerFit(
            base, None, "cosine", f"{len(targets)} usable training targets (< {MIN_TARGETS}): no nested "
            "leave-one-target-out, cosine_mean alone", targets, lam=lam,
        )
    w0 = baseline_weights()
    outer, cosine = [], []
    for held in targets:
        others = [t for t in targets if t != held]
        alpha, _ = choose_alpha(data, others, alphas)
        x, y = data.design(others)
        xh, yh, cos = data.block(held, frozenset(others))
        outer.append(_rho(xh @ ridge_toward(x, y, alpha, w0), yh))
        cosine.append(_rho(cos, yh))
    diff = np.array(outer) - np.array(cosine)
    se = float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else math.inf
    alpha, _ = choose_alpha(data, targets, alphas)
    x, y = data.design(targets)
    weights = dict(zip(FEATURES, ridge_toward(x, y, alpha, w0).tolist()))
    mean_outer, mean_cos = float(np.mean(outer)), float(np.mean(cosine))
    summary = (
        f"nested leave-one-target-out Spearman {mean_outer:.3f} vs cosine_mean {mean_cos:.3f} "
        f"on {len(targets)} training targets (difference {diff.mean():+.3f}, SE {se:.3f})"
    )
    if diff.mean() > 0 and diff.mean() > se:
        return RankerFit(weights, alpha, "learned", summary, targets, mean_outer, mean_cos, lam)
    return RankerFit(base, alpha, "cosine", summary + ": not better than cosine alone", targets, mean_outer, mean_cos, lam)


def ranker_scores(
    fit: RankerFit, target: str, features: pd.DataFrame, prior: dict[str, float]
) -> dict[str, float]:
    """Scores of the target's sources (its rows of ``features``): z-features within the target,
    ``prior`` (source -> the source prior of the training targets) as the prior feature."""
    rows = features[features["target"].astype(str) == str(target)].sort_values("source")
    rows = rows[rows["source"].astype(str) != str(target)]
    sources = [str(s) for s in rows["source"]]
    if not sources:
        raise TaskTransferError(f"no feature rows for target {target}; run its features job first")
    values = prior_scores(prior, sources)
    columns = [rows[f].to_numpy(dtype=float) for f in PAIR_FEATURES] + [np.array([values[s] for s in sources])]
    x = np.column_stack([_zscore(c) for c in columns])
    w = np.array([fit.weights.get(f, 0.0) for f in FEATURES])
    return {s: float(v) for s, v in zip(sources, x @ w)}


def rank_target(
    target: str, gains: pd.DataFrame, features: pd.DataFrame, lam: float = 1.0, alphas: Sequence[float] = ALPHAS
) -> tuple[dict[str, float], RankerFit]:
    """Fit on every target of ``gains`` but ``target`` and score ``target``'s sources (its feature rows)."""
    gains = gains[gains["target"].astype(str) != str(target)]
    fit = fit_ranker(gains, features[features["target"].astype(str) != str(target)], lam, alphas)
    prior = training_prior(gains[gains["target"].astype(str).isin(fit.training_targets)], lam)
    return ranker_scores(fit, target, features, prior), fit


def training_prior(gains: pd.DataFrame, lam: float = 1.0) -> dict[str, float]:
    """The source prior of a training table (every target in it), as the ranker's prior feature
    (pass the rows of the fit's ``training_targets``: the targets its prior feature was fitted on)."""
    if gains.empty:
        return {}
    return source_prior(gains, lam)
