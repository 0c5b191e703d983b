"""How much of the gain's spread would pure noise produce on the same design?

The variance shares of the gains (source, target, residual) are never 0 on a finite table: a
table of pure seed noise still gives the source factor a share near (sources - 1) / (pairs - 1).
This module puts each observed figure beside what noise alone gives on the same design.

Definitions (pair mean gains ``g(s, t)``, one row per source s and target t):

- **share**: the LMG (Lindeman-Merenda-Gold) share of the variance of ``g`` for the additive
  least-squares model ``g ~ source + target``; each factor gets the mean, over both orders of
  entry, of the R^2 it adds, the residual gets ``1 - R^2`` (the same figures as
  ``tasktransfer.analysis.signal.variance_shares``; on a complete table they are the two-way ANOVA
  sums of squares over the total).
- **share_null**: the mean share under a seeded permutation null. For the source factor the gains
  are permuted among the sources *within each target* (the target structure is kept, any source
  effect is broken); for the target factor they are permuted among the targets within each
  source. The design (which pairs exist) never changes.
- **share_adjusted** = (share - share_null) / (1 - share_null): the part of the variance the
  factor explains beyond what pure noise explains on the same design (0 under the null, 1 for a
  perfect fit). The residual's adjusted share is 1 - adjusted source - adjusted target.
- **p_value** = (1 + #{null shares >= observed share}) / (1 + n_perm).

Why a permutation null rather than omega-squared or an F test: those closed forms assume a
complete, balanced table, while a run's table may lack pairs (unfinished jobs, source == target
left out, different sources per target); permuting within the kept factor's levels respects
whatever design the table has.

Seed noise, corrected source spread (:func:`corrected_source_sd`):

- the noise that matters when sources are compared within a target is the spread of r2 over
  seeds: r1 (the no-transfer score of the target on a seed) is shared by every source of that
  target and cancels from any within-target comparison;
- ``within_pair_sd``: the pooled SD of r2 around its pair mean (over pairs with >= 2 seeds);
  should r2 carry a seed component shared by all sources of a target (same data order per
  seed), that component also cancels within a target, and this SD then overstates the noise
  (the correction errs towards a smaller source spread);
- ``noise_se`` = within_pair_sd / sqrt(seeds): the noise left on a pair mean over the seeds;
- a source effect averages its pair means over the n_s targets it was seen with, so its sampling
  variance is about ``noise_se^2 / n_s``; on a complete table the sample variance (ddof 1) of the
  estimated effects is, in expectation, exactly the true effects' variance plus
  ``noise_se^2 / targets``; on an incomplete table this is an approximation;
- ``source_sd_corrected`` = sqrt(max(0, source_sd_raw^2 - mean_s noise_se^2 / n_s)).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tasktransfer.errors import TaskTransferError

FACTORS = ("source", "target", "residual")
# only differences this small count as ties of a null share with the observed one; floating
# point sums of the same numbers in another order must not turn a tie into a "smaller" null
_TIE = 1e-12


def _require(df: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise TaskTransferError(
            f"{what} lacks columns {missing}; it needs {list(columns)} (has {list(df.columns)}). "
            "Pass the gains table of a run (analysis.gather.gather_gains) or its pair means (analysis.gather.mean_gains)"
        )
    if df.empty:
        raise TaskTransferError(f"{what} has no rows; finish some transfer jobs first")


# --- least squares -----------------------------------------------------------------------------
def _design(factors: list[pd.Series]) -> np.ndarray:
    """Intercept plus one-hot codes (first level dropped) of each factor."""
    n = len(factors[0]) if factors else 0
    columns = [np.ones((n, 1))]
    for factor in factors:
        codes = pd.get_dummies(factor.astype(str), drop_first=True, dtype=float).to_numpy()
        if codes.size:
            columns.append(codes)
    return np.hstack(columns)


def _basis(x: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the column space of x (rank-revealing, so redundant codes are harmless)."""
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    tol = s.max() * max(x.shape) * np.finfo(float).eps if s.size else 0.0
    return u[:, s > tol]


def _r2_many(y: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """R^2 of the least-squares fit on ``basis`` for every column of y (n x m); y must vary.

    The fitted values are the projection onto the column space, the same fit ``lstsq`` gives, so
    this is the R^2 helper of analysis.signal, vectorised over the permuted copies of y.
    """
    fitted = basis @ (basis.T @ y)
    residual = ((y - fitted) ** 2).sum(axis=0)
    total = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    return 1.0 - residual / total


def _lmg(y: np.ndarray, bases: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """LMG shares (source, target, residual) for each column of y."""
    r2_source = _r2_many(y, bases["source"])
    r2_target = _r2_many(y, bases["target"])
    r2_both = _r2_many(y, bases["both"])
    return {
        "source": 0.5 * (r2_source + (r2_both - r2_target)),
        "target": 0.5 * (r2_target + (r2_both - r2_source)),
        "residual": 1.0 - r2_both,
    }


def _permuted(y: np.ndarray, groups: np.ndarray, n_perm: int, rng: np.random.Generator) -> np.ndarray:
    """n x n_perm copies of y, each shuffled within the groups (rows of one group swap among themselves)."""
    out = np.empty((len(y), n_perm))
    for label in np.unique(groups):
        rows = np.flatnonzero(groups == label)
        block = np.broadcast_to(y[rows][:, None], (len(rows), n_perm))
        # an independent permutation of the group's rows for every copy
        out[rows, :] = rng.permuted(block, axis=0)
    return out


def permutation_shares(means: pd.DataFrame, n_perm: int = 999, seed: int = 0) -> pd.DataFrame:
    """Observed LMG shares of the pair mean gains beside their permutation null (see module docstring).

    ``means``: one row per (source, target) with its mean ``gain`` over seeds. Returns one row per
    factor (source, target, residual) with ``share``, ``share_null``, ``share_adjusted`` and
    ``p_value`` (the residual has no null of its own: NaN share_null and p_value). All NaN when
    the gains do not vary (nothing to explain).
    """
    _require(means, ("source", "target", "gain"), "the pair means table")
    if n_perm < 1:
        raise TaskTransferError(f"n_perm must be at least 1, got {n_perm}")
    means = means.dropna(subset=["gain"]).reset_index(drop=True)
    y = means["gain"].to_numpy(dtype=float)
    nan_row = {"share": math.nan, "share_null": math.nan, "share_adjusted": math.nan, "p_value": math.nan}
    if len(y) < 2 or float(np.var(y)) == 0.0:
        return pd.DataFrame([{"factor": f, **nan_row} for f in FACTORS])
    source, target = means["source"].astype(str), means["target"].astype(str)
    bases = {
        "source": _basis(_design([source])),
        "target": _basis(_design([target])),
        "both": _basis(_design([source, target])),
    }
    observed = {f: float(v[0]) for f, v in _lmg(y[:, None], bases).items()}
    rng = np.random.default_rng(seed)
    # source null: shuffle within targets; target null: shuffle within sources
    null = {
        "source": _lmg(_permuted(y, target.to_numpy(), n_perm, rng), bases)["source"],
        "target": _lmg(_permuted(y, source.to_numpy(), n_perm, rng), bases)["target"],
    }
    rows = []
    adjusted_sum = 0.0
    for factor in ("source", "target"):
        share, draws = observed[factor], null[factor]
        share_null = float(draws.mean())
        adjusted = (share - share_null) / (1.0 - share_null) if share_null < 1.0 else math.nan
        adjusted_sum += adjusted
        p_value = (1 + int((draws >= share - _TIE).sum())) / (1 + n_perm)
        rows.append(
            {"factor": factor, "share": share, "share_null": share_null, "share_adjusted": adjusted, "p_value": p_value}
        )
    rows.append(
        {
            "factor": "residual",
            "share": observed["residual"],
            "share_null": math.nan,
            "share_adjusted": 1.0 - adjusted_sum,
            "p_value": math.nan,
        }
    )
    return pd.DataFrame(rows)


# --- seed noise against the source spread ------------------------------------------------------
def _source_effects(means: pd.DataFrame) -> pd.Series:
    """The additive model's source effects (g ~ source + target), centred to mean 0."""
    sources = sorted(means["source"].astype(str).unique())
    targets = sorted(means["target"].astype(str).unique())
    x = np.hstack(
        [
            pd.get_dummies(pd.Categorical(means["source"].astype(str), categories=sources), dtype=float).to_numpy(),
            pd.get_dummies(
                pd.Categorical(means["target"].astype(str), categories=targets), drop_first=True, dtype=float
            ).to_numpy(),
        ]
    )
    coef, *_ = np.linalg.lstsq(x, means["gain"].to_numpy(dtype=float), rcond=None)
    effects = pd.Series(coef[: len(sources)], index=sources)
    return effects - effects.mean()


def _pooled_within_sd(values: pd.Series, groups: list[pd.Series]) -> tuple[float, int]:
    """Pooled SD of values around their group means, and its degrees of freedom (NaN, 0 if none)."""
    grouped = values.groupby(groups)
    deviations = values - grouped.transform("mean")
    # a pair with n seeds gives n - 1 degrees of freedom (a one-seed pair gives none)
    dof = int((grouped.count() - 1).clip(lower=0).sum())
    if dof == 0:
        return math.nan, 0
    return math.sqrt(float((deviations**2).sum()) / dof), dof


def _seeds(gains_long: pd.DataFrame) -> int:
    """The typical number of seeds of a pair (median over pairs)."""
    return int(gains_long.groupby(["source", "target"])["seed"].nunique().median())


def corrected_source_sd(gains_long: pd.DataFrame) -> dict:
    """The spread of the source effects, with and without the part that seed noise adds.

    ``gains_long``: one row per source, target and seed with ``r2`` and ``gain``. Returns
    ``source_sd_raw`` (SD, ddof 1, of the additive model's source effects on the pair mean gains),
    ``source_sd_corrected`` (see module docstring), ``within_pair_sd`` (pooled SD of r2 over seeds
    within a pair), ``noise_se`` (within_pair_sd / sqrt(seeds)), ``effect_noise_sd`` (the
    sampling SD of one source effect, sqrt(mean_s noise_se^2 / n_s)), ``seeds`` (median per pair),
    ``sources``, ``targets`` and ``source_beats_noise`` (corrected > noise_se; None when the
    noise is unknown, i.e. no pair has two seeds).
    """
    _require(gains_long, ("source", "target", "seed", "r2", "gain"), "the gains table")
    gains_long = gains_long.dropna(subset=["gain", "r2"])
    means = gains_long.groupby(["source", "target"], sort=True)["gain"].mean().reset_index()
    n_sources, n_targets = means["source"].nunique(), means["target"].nunique()
    effects = _source_effects(means) if n_sources > 1 else pd.Series([0.0])
    raw = float(effects.std(ddof=1)) if len(effects) > 1 else math.nan
    within_sd, _ = _pooled_within_sd(gains_long["r2"].astype(float), [gains_long["source"], gains_long["target"]])
    seeds = _seeds(gains_long)
    noise_se = within_sd / math.sqrt(seeds) if seeds > 0 else math.nan
    # each source effect averages over the targets it was seen with (approximation off a complete table)
    targets_per_source = means.groupby("source")["target"].nunique().to_numpy(dtype=float)
    effect_var = noise_se**2 * float(np.mean(1.0 / targets_per_source))
    if math.isnan(raw) or math.isnan(effect_var):
        corrected = math.nan
    else:
        corrected = math.sqrt(max(0.0, raw**2 - effect_var))
    beats = None if (math.isnan(corrected) or math.isnan(noise_se)) else bool(corrected > noise_se)
    return {
        "source_sd_raw": raw,
        "source_sd_corrected": corrected,
        "within_pair_sd": within_sd,
        "noise_se": noise_se,
        "effect_noise_sd": math.sqrt(effect_var) if not math.isnan(effect_var) else math.nan,
        "seeds": seeds,
        "sources": int(n_sources),
        "targets": int(n_targets),
        "source_beats_noise": beats,
    }


def per_target_noise(gains_long: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Per target: the spread of its sources' mean gains against the spread pure noise would show.

    Like with like: the SD across sources of the pair mean gains (each a mean over ``seeds``
    seeds) against ``noise_se`` = the target's pooled within-pair SD of r2 / sqrt(seeds), the SE of
    a mean over that many seeds (r1 is common to the target's sources and cancels). If sources
    did not matter, the two would agree in expectation. ``p_value`` is the one-way ANOVA F test of
    "all sources equal" on the target's r2 (F = sd_ratio^2 on (sources - 1, within dof) degrees of
    freedom; exact for normal noise and equal seeds per pair). Columns: target, sources, seeds,
    gain_sd_across_sources, within_pair_sd, noise_se, sd_ratio, p_value, sources_beyond_noise
    (p_value below ``alpha``; None when the noise is unknown). Not "sd across sources >
    noise_se": without any source effect the two agree in expectation, so that would flag about
    half of the targets on pure noise.
    """
    from scipy import stats

    _require(gains_long, ("source", "target", "seed", "r2", "gain"), "the gains table")
    gains_long = gains_long.dropna(subset=["gain", "r2"])
    rows = []
    for target, group in gains_long.groupby("target", sort=True):
        means = group.groupby("source", sort=True)["gain"].mean()
        spread = float(means.std(ddof=1)) if len(means) > 1 else math.nan
        within_sd, dof = _pooled_within_sd(group["r2"].astype(float), [group["source"]])
        seeds = int(group.groupby("source")["seed"].nunique().median())
        noise_se = within_sd / math.sqrt(seeds) if seeds > 0 else math.nan
        known = not (math.isnan(spread) or math.isnan(noise_se))
        ratio = spread / noise_se if known and noise_se > 0 else math.nan
        p_value = float(stats.f.sf(ratio**2, len(means) - 1, dof)) if not math.isnan(ratio) else math.nan
        rows.append(
            {
                "target": target,
                "sources": len(means),
                "seeds": seeds,
                "gain_sd_across_sources": spread,
                "within_pair_sd": within_sd,
                "noise_se": noise_se,
                "sd_ratio": ratio,
                "p_value": p_value,
                "sources_beyond_noise": bool(p_value < alpha) if not math.isnan(p_value) else None,
            }
        )
    return pd.DataFrame(rows)
