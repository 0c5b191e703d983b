"""Does the choice of source move the gain, or is a gain mostly the target's luck and seed noise?

The gains of a run are decomposed two ways, by source and by target, on the pair means over seeds
(what the scorer learns from and the rankings read):

- **Shares of variance** by the LMG (Lindeman-Merenda-Gold) decomposition of R^2 for the additive
  least-squares model ``gain ~ source + target``: each factor gets the mean, over both orders of
  entry, of the R^2 it adds; the residual (interaction and noise) gets ``1 - R^2``. The three
  shares sum to 1 and do not depend on the order of the factors; on a complete source x target
  table they equal the classical two-way ANOVA sums of squares over the total.
- **Seed noise**: the spread of a pair's per-seed gains around its mean, pooled over pairs, and
  the standard error that leaves on a mean over the run's seeds. The verdict compares it with the
  spread of the source effects (the additive model's source coefficients).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tasktransfer.errors import TaskTransferError

FACTORS = ("source", "target", "residual")
REQUIRED = ("source", "target", "seed", "gain")


def _check(gains: pd.DataFrame, what: str) -> None:
    missing = [c for c in REQUIRED if c not in gains.columns]
    if missing:
        raise TaskTransferError(
            f"{what} lacks columns {missing}; it needs {list(REQUIRED)} (one row per source, target and seed)"
        )
    if gains.empty:
        raise TaskTransferError(f"{what} has no rows; finish some transfer jobs first")


def pair_means(gains: pd.DataFrame) -> pd.DataFrame:
    """One row per (source, target): the mean gain over seeds and how many seeds it averages."""
    grouped = gains.groupby(["source", "target"], sort=True)["gain"]
    return grouped.agg(gain="mean", seeds="count").reset_index()


def _r2(y: np.ndarray, factors: list[pd.Series]) -> float:
    """R^2 of the least-squares fit of y on an intercept plus one-hot codes of the factors."""
    columns = [np.ones((len(y), 1))]
    for factor in factors:
        codes = pd.get_dummies(factor, drop_first=True, dtype=float).to_numpy()
        if codes.size:
            columns.append(codes)
    x = np.hstack(columns)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = y - x @ coef
    total = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float((residual**2).sum()) / total


def variance_shares(means: pd.DataFrame) -> dict[str, float]:
    """LMG shares of the variance of the pair mean gains: source, target, residual (sum 1).

    NaN shares when the gains do not vary at all (nothing to explain).
    """
    y = means["gain"].to_numpy(dtype=float)
    if len(y) < 2 or float(np.var(y)) == 0.0:
        return {f: math.nan for f in FACTORS}
    r2_source = _r2(y, [means["source"]])
    r2_target = _r2(y, [means["target"]])
    r2_both = _r2(y, [means["source"], means["target"]])
    source = 0.5 * (r2_source + (r2_both - r2_target))
    target = 0.5 * (r2_target + (r2_both - r2_source))
    return {"source": source, "target": target, "residual": 1.0 - r2_both}


def source_effects(means: pd.DataFrame) -> pd.Series:
    """The additive model's source effects, centred to mean 0 (points of gain)."""
    sources = sorted(means["source"].unique())
    targets = sorted(means["target"].unique())
    x = np.hstack(
        [
            pd.get_dummies(pd.Categorical(means["source"], categories=sources), dtype=float).to_numpy(),
            pd.get_dummies(pd.Categorical(means["target"], categories=targets), drop_first=True, dtype=float).to_numpy(),
        ]
    )
    coef, *_ = np.linalg.lstsq(x, means["gain"].to_numpy(dtype=float), rcond=None)
    effects = pd.Series(coef[: len(sources)], index=sources)
    return effects - effects.mean()


def seed_noise(gains: pd.DataFrame) -> tuple[float, int]:
    """Pooled within-pair SD of per-seed gains, and the typical number of seeds per pair.

    NaN when no pair has two seeds (the run cannot see its own seed noise).
    """
    sums, dof = 0.0, 0
    for _, group in gains.groupby(["source", "target"]):
        g = group["gain"].to_numpy(dtype=float)
        if len(g) > 1:
            sums += float(((g - g.mean()) ** 2).sum())
            dof += len(g) - 1
    seeds = int(gains.groupby(["source", "target"])["seed"].nunique().median())
    return (math.sqrt(sums / dof) if dof else math.nan), seeds


@dataclass(frozen=True)
class Verdict:
    shares: dict[str, float]
    source_sd: float  # spread of the source effects (points)
    seed_sd: float  # SD of one seed's gain around its pair mean (points)
    seeds: int
    pairs: int

    @property
    def seed_se(self) -> float:
        """Seed noise left on a pair's mean gain over the run's seeds."""
        return self.seed_sd / math.sqrt(self.seeds) if self.seeds else math.nan

    @property
    def source_beats_noise(self) -> bool | None:
        if math.isnan(self.seed_se) or math.isnan(self.source_sd):
            return None
        return self.source_sd > self.seed_se

    def sentence(self) -> str:
        s = self.shares
        shares = (
            f"source {100 * s['source']:.0f} %, target {100 * s['target']:.0f} %, "
            f"residual {100 * s['residual']:.0f} % of the variance of {self.pairs} pair mean gains"
        )
        if self.source_beats_noise is None:
            return (
                f"Seed noise is unknown on this run (one seed per pair; set seeds to see it): the choice of "
                f"source moves the gain by {self.source_sd:.2f} points (SD of source effects); {shares}."
            )
        verb = "more" if self.source_beats_noise else "less"
        return (
            f"On this run the choice of source moves the gain {verb} than seed noise does: "
            f"{self.source_sd:.2f} points (SD of source effects) against {self.seed_se:.2f} points "
            f"(seed noise on a mean over {self.seeds} seeds; {self.seed_sd:.2f} for one seed); {shares}."
        )


def verdict(gains: pd.DataFrame) -> Verdict:
    """Shares, source spread and seed noise of a long gains table (source, target, seed, gain)."""
    _check(gains, "the gains table")
    means = pair_means(gains)
    effects = source_effects(means) if means["source"].nunique() > 1 else pd.Series([0.0])
    seed_sd, seeds = seed_noise(gains)
    return Verdict(
        shares=variance_shares(means),
        source_sd=float(effects.std(ddof=1)) if len(effects) > 1 else 0.0,
        seed_sd=seed_sd,
        seeds=seeds,
        pairs=len(means),
    )


def share_table(shares: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame({"factor": list(FACTORS), "share": [shares[f] for f in FACTORS]})


def per_target_spread(gains: pd.DataFrame, no_transfer: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per target: how far apart its sources' mean gains lie, against the seed spread of its r1.

    ``no_transfer`` (task, seed, score) gives r1 per seed; without it the r1 columns are NaN.
    """
    _check(gains, "the gains table")
    means = pair_means(gains)
    rows = []
    for target, group in means.groupby("target", sort=True):
        row = {
            "target": target,
            "sources": len(group),
            "gain_mean": float(group["gain"].mean()),
            "gain_sd_across_sources": float(group["gain"].std(ddof=1)) if len(group) > 1 else math.nan,
            "gain_min": float(group["gain"].min()),
            "gain_max": float(group["gain"].max()),
            "best_source": str(group.loc[group["gain"].idxmax(), "source"]),
        }
        r1 = no_transfer[no_transfer["task"] == target]["score"] if no_transfer is not None else pd.Series([], dtype=float)
        row["r1_seeds"] = int(len(r1))
        row["r1_seed_sd"] = float(r1.std(ddof=1)) if len(r1) > 1 else math.nan
        row["sources_beyond_r1_noise"] = (
            bool(row["gain_sd_across_sources"] > row["r1_seed_sd"])
            if not (math.isnan(row["r1_seed_sd"]) or math.isnan(row["gain_sd_across_sources"]))
            else None
        )
        rows.append(row)
    return pd.DataFrame(rows)
