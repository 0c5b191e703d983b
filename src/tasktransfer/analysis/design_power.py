"""What the run's design can tell apart: variance components, the noise ceiling, and power.

From the long gains table (source, target, seed, gain; one row per transfer run):

**Variance components** (:func:`variance_components`, points², method of moments, negative
estimates set to 0), for gain = mean + source + target + source x target + seed noise:

- ``seed``: the seed noise of one run, net of what a seed shares across a target's sources (r1 of
  that seed, and any shared data order): within each target the residual mean square of
  ``gain ~ source + seed``, pooled over targets by degrees of freedom. The shared part moves every
  source of a target alike and is counted in the target's effect;
- ``source x target``: the interaction, the residual mean square of the additive model
  ``pair mean ~ source + target`` less the seed noise a pair mean carries (seed / K, K the
  harmonic mean of the seeds per pair): the residual split into interaction and seed noise;
- ``source``, ``target``: the main effects, by Henderson's method III on the pair means (the
  sum of squares a factor adds after the other, less its expected noise part, over
  tr(Z'(I - P)Z)); on a complete table the two-way ANOVA's (MS_source - MS_residual) / targets.

``on_pair_mean`` puts them on the scale of a pair mean (seed / K) and ``share`` is each over their sum.

**Split-half reliability and the noise ceiling** (:func:`split_half_reliability`): per target the
seeds are split as the cross-fitted oracle splits them (the first ceil(n/2) sorted seeds and the
rest); ``split_half`` is the Spearman between the sources' mean gains on the two halves,
``reliability`` its Spearman-Brown step-up to the seeds used, 2r / (1 + r), the reliability of the
all-seeds ranking every method is judged against; ``ceiling`` = sqrt(max(0, reliability)): the
Spearman a method whose scores were the true gains would reach on average (attenuation by the
noise of the measured ranking). A method's Spearman is read beside it, not against 1.

**Power** (:func:`min_detectable_difference`): the smallest true mean difference that the paired
t test over n targets (two-sided, alpha) detects with the given power, from the run's own SD of
the per-target differences (noncentral t; no Holm correction: it is the primary comparison's).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from tasktransfer import metrics
from tasktransfer.analysis.oracle import split_seeds
from tasktransfer.errors import TaskTransferError

COMPONENTS = ("source", "target", "source x target", "seed")
COMPONENT_COLUMNS = ["component", "variance", "on_pair_mean", "share", "df"]
RELIABILITY_COLUMNS = ["target", "sources", "seeds", "split_half", "reliability", "ceiling"]


def _check(gains: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("source", "target", "seed", "gain") if c not in gains.columns]
    if missing:
        raise TaskTransferError(
            f"the gains table lacks columns {missing}; it needs source, target, seed and gain (one row per run)"
        )
    return gains[["source", "target", "seed", "gain"]].dropna(subset=["gain"])


def _design(*factors: pd.Series) -> np.ndarray:
    """An intercept and the full one-hot codes of each factor (rank-deficient: lstsq copes)."""
    columns = [np.ones((len(factors[0]), 1))]
    columns += [pd.get_dummies(f.astype(str), dtype=float).to_numpy() for f in factors]
    return np.hstack(columns)


def _fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The projection of y (a vector or the columns of a matrix) onto the columns of x."""
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    return x @ coef


def _residual(x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    """Residual sum of squares and residual degrees of freedom of y on x."""
    r = y - _fit(x, y)
    return float(r @ r), len(y) - int(np.linalg.matrix_rank(x))


def seed_noise(gains: pd.DataFrame) -> tuple[float, int]:
    """Pooled within-target residual variance of ``gain ~ source + seed`` and its degrees of freedom
    (NaN and 0 with no replicated seed)."""
    ss, df = 0.0, 0
    for _, part in _check(gains).groupby("target", sort=True):
        if part["seed"].nunique() < 2:
            continue
        rss, rdf = _residual(_design(part["source"], part["seed"]), part["gain"].to_numpy(float))
        ss, df = ss + rss, df + rdf
    return (ss / df if df else math.nan), df


def _main_effect(y: np.ndarray, own: pd.Series, other: pd.Series, ms_res: float) -> tuple[float, int]:
    """Henderson III: the variance of ``own``'s effects, adjusted for ``other``; with its df."""
    x_full, x_other = _design(own, other), _design(other)
    z = pd.get_dummies(own.astype(str), dtype=float).to_numpy()
    ss = float(y @ (_fit(x_full, y) - _fit(x_other, y)))
    df = int(np.linalg.matrix_rank(x_full)) - int(np.linalg.matrix_rank(x_other))
    k = float((z * z).sum() - (_fit(x_other, z) * z).sum())
    if df == 0 or k <= 0.0 or math.isnan(ms_res):
        return math.nan, df
    return max(0.0, (ss - df * ms_res) / k), df


def variance_components(gains: pd.DataFrame) -> pd.DataFrame:
    """The four components of the gain (module docstring): component, variance (points²; seed: of
    one run), on_pair_mean (seed / K), share (of the sum on the pair-mean scale) and df."""
    gains = _check(gains)
    if gains.empty:
        raise TaskTransferError("the gains table has no rows; finish some transfer jobs first")
    pairs = gains.groupby(["source", "target"], sort=True)["gain"].agg(gain="mean", seeds="count").reset_index()
    y = pairs["gain"].to_numpy(float)
    rss, rdf = _residual(_design(pairs["source"], pairs["target"]), y)
    ms_res = rss / rdf if rdf else math.nan
    seed, seed_df = seed_noise(gains)
    k = len(pairs) / float((1.0 / pairs["seeds"]).sum())  # harmonic mean of the seeds per pair
    source, source_df = _main_effect(y, pairs["source"], pairs["target"], ms_res)
    target, target_df = _main_effect(y, pairs["target"], pairs["source"], ms_res)
    interaction = max(0.0, ms_res - seed / k) if not math.isnan(seed) else math.nan
    variance = {"source": source, "target": target, "source x target": interaction, "seed": seed}
    on_mean = {**variance, "seed": seed / k}
    total = sum(v for v in on_mean.values() if not math.isnan(v))
    dfs = {"source": source_df, "target": target_df, "source x target": rdf, "seed": seed_df}
    rows = [{"component": c, "variance": variance[c], "on_pair_mean": on_mean[c],
             "share": on_mean[c] / total if total > 0 else math.nan, "df": dfs[c]} for c in COMPONENTS]
    return pd.DataFrame(rows, columns=COMPONENT_COLUMNS)


def spearman_brown(r: float, factor: float = 2.0) -> float:
    """The reliability of a mean over ``factor`` times the seeds of one with reliability r."""
    if math.isnan(r) or 1.0 + (factor - 1.0) * r == 0.0:
        return math.nan
    return factor * r / (1.0 + (factor - 1.0) * r)


def _split_half_row(target: str, part: pd.DataFrame) -> dict:
    seeds = sorted(part["seed"].unique())
    first, second = split_seeds(seeds)
    a = part[part["seed"].isin(first)].groupby("source")["gain"].mean()
    b = part[part["seed"].isin(second)].groupby("source")["gain"].mean()
    both = sorted(set(a.index) & set(b.index))
    r = metrics.spearman(a[both].to_numpy(), b[both].to_numpy()) if second and len(both) >= 2 else math.nan
    reliability = spearman_brown(r)
    ceiling = math.sqrt(max(0.0, reliability)) if not math.isnan(reliability) else math.nan
    return {"target": target, "sources": len(both), "seeds": len(seeds), "split_half": r,
            "reliability": reliability, "ceiling": ceiling}


def split_half_reliability(gains: pd.DataFrame) -> pd.DataFrame:
    """Per target: sources (with seeds in both halves), seeds, split_half, reliability, ceiling
    (NaN with one seed or fewer than two sources in both halves)."""
    gains = _check(gains)
    rows = [_split_half_row(str(t), part) for t, part in gains.groupby("target", sort=True)]
    return pd.DataFrame(rows, columns=RELIABILITY_COLUMNS)


def noise_ceiling_table(reliability: pd.DataFrame, quality: pd.DataFrame | None,
                        leave_out: Sequence[str] = ("brute_force",)) -> pd.DataFrame:
    """The reliability table with each ranking method's Spearman per target beside the ceiling
    (one column per method, by name), and a last row ``mean`` of the means over targets.

    ``quality`` is ranking_quality's table (method, target, spearman); brute force is left out
    (it ranks by the measured gains themselves: 1 by construction).
    """
    table = reliability.copy()
    if quality is not None and len(quality) and "spearman" in quality.columns:
        ranks = quality[~quality["method"].isin(leave_out)]
        wide = ranks.pivot_table(index="target", columns="method", values="spearman", aggfunc="first")
        wide.columns = [str(c) for c in wide.columns]
        table = table.merge(wide.reset_index(), on="target", how="left")
    if table.empty:
        return table
    means = table.drop(columns=["target"]).astype(float).mean(numeric_only=True)
    mean_row = {"target": "mean", **{c: means[c] for c in means.index}}
    for column in ("sources", "seeds"):
        mean_row[column] = math.nan
    return pd.concat([table, pd.DataFrame([mean_row])], ignore_index=True)


def power_of(difference: float, sd: float, n: int, alpha: float = 0.05) -> float:
    """Power of the two-sided one-sample (paired) t test over n targets at a true mean difference."""
    from scipy import stats

    df = n - 1
    crit = float(stats.t.ppf(1.0 - alpha / 2.0, df))
    nc = difference * math.sqrt(n) / sd
    power = float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))
    if not math.isfinite(power):  # scipy's noncentral t fails far out: the normal limit is exact enough there
        power = float(stats.norm.sf(crit - nc) + stats.norm.cdf(-crit - nc))
    return power


def min_detectable_difference(sd: float, n: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest true mean difference detected with ``power`` by the paired t test over n targets
    (two-sided, ``alpha``) when the per-target differences have SD ``sd``; NaN with n < 2."""
    from scipy.optimize import brentq

    if n < 2 or math.isnan(sd):
        return math.nan
    if sd == 0.0:
        return 0.0
    high = 4.0 * sd / math.sqrt(n)
    while power_of(high, sd, n, alpha) < power:
        high *= 2.0
    return float(brentq(lambda d: power_of(d, sd, n, alpha) - power, 0.0, high, xtol=1e-6 * sd))


def targets_needed(
    difference: float, sd: float, alpha: float = 0.05, power: float = 0.8, most: int = 100_000
) -> int | None:
    """The fewest targets whose paired t test detects ``difference`` with ``power`` (None past ``most``)."""
    if difference <= 0.0 or math.isnan(sd):
        return None
    if sd == 0.0:
        return 2
    low, high = 1, 2
    while power_of(difference, sd, high, alpha) < power:
        if high >= most:
            return None
        low, high = high, min(2 * high, most)
    while high - low > 1:  # power rises with n: the first n that reaches it
        mid = (low + high) // 2
        low, high = (low, mid) if power_of(difference, sd, mid, alpha) >= power else (mid, high)
    return high


def power_sentence(sd: float, n: int, what: str, metric_name: str, level: float = 0.95, power: float = 0.8,
                   reference: float | None = 0.1) -> str:
    """One sentence for the report: the difference in mean ``metric_name`` a paired t test over n
    targets (two-sided, alpha = 1 - level) detects with ``power``, from ``sd``, the run's own SD of
    the per-target differences (``what`` names them); with ``reference``, how many targets a
    difference of that size would need."""
    alpha = 1.0 - level
    if n < 2 or math.isnan(sd):
        return f"Power of the design: not estimated ({n} target{'s' if n != 1 else ''} with {what}; the SD needs two)."
    mde = min_detectable_difference(sd, n, alpha, power)
    text = (f"Power of the design: over these {n} targets a {metric_name} difference of {mde:.2f} is detected "
            f"with {100 * power:.0f} % power (paired t test over targets, two-sided, alpha {alpha:.2g}; SD of the "
            f"per-target differences {sd:.2f}, from {what})")
    needed = targets_needed(reference, sd, alpha, power) if reference else None
    if needed is not None:
        text += f"; a difference of {reference:.2g} would need {needed} targets"
    return text + "."
