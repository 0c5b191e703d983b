"""Does the choice of source move the gain, or is a gain mostly the target's luck and seed noise?

The gains of a run are decomposed two ways, by source and by target, on the pair means over seeds
(what the scorer learns from and the rankings read):

- **Shares of variance** by the LMG (Lindeman-Merenda-Gold) decomposition of R^2 for the additive
  least-squares model ``gain ~ source + target``: each factor gets the mean, over both orders of
  entry, of the R^2 it adds; the residual (interaction and noise) gets ``1 - R^2``. The three
  shares sum to 1 and do not depend on the order of the factors; on a complete source x target
  table they equal the classical two-way ANOVA sums of squares over the total.
- **Shares beyond their null**: a table of pure noise still gives the source a share near
  (sources - 1) / (pairs - 1) (15 / 95 = 16 % on a complete 16 x 6 table), so each share is set
  beside the mean share of a seeded permutation null on the same design and reported as
  ``share_adjusted`` = (share - null) / (1 - null), with a permutation p-value. The null shuffles
  gains among a target's sources: what it tests is a source *main effect* (sources better or worse
  across targets), not "beyond noise" in general; a source x target interaction is no main
  effect and is left in the residual, with the seed noise
  (:func:`tasktransfer.analysis.signal_null.permutation_shares`; a permutation null rather than
  omega-squared because a run's table may be incomplete).
- **The verdict, like with like**: the spread of the source effects (the additive model's
  source coefficients), corrected for their own estimation noise, against the seed noise a pair
  mean carries, measured on r2 (the pooled within-pair SD of r2 over sqrt(seeds)): r1's seed
  noise is shared by every source of a target and cancels when sources are compared
  (:func:`tasktransfer.analysis.signal_null.corrected_source_sd`). Per target likewise: the SD of
  its sources' mean gains against that target's within-pair SD of r2 over sqrt(seeds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tasktransfer.analysis.signal_null import corrected_source_sd, per_target_noise, permutation_shares
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


@dataclass(frozen=True)
class Verdict:
    """The run's verdict: raw shares beside their noise-adjusted values, and like-with-like spreads.

    ``source_sd`` is the raw SD of the estimated source effects, which carries their own
    estimation noise; ``source_sd_corrected`` has that noise taken out
    (:func:`tasktransfer.analysis.signal_null.corrected_source_sd`). ``seed_sd`` is the seed noise
    of one run, measured on ``noise_of`` (``r2``: the within-pair SD of r2, the noise that remains
    when sources are compared within a target, r1 cancelling; ``gain`` only when a table has no
    r2 column, and then it overstates the noise by r1's seed spread).
    """

    shares: dict[str, float]
    source_sd: float  # spread of the estimated source effects (points), noise included
    seed_sd: float  # SD of one seed's r2 around its pair mean (points)
    seeds: int
    pairs: int
    source_sd_corrected: float = math.nan  # the source spread net of its estimation noise
    share_null: dict[str, float] = field(default_factory=dict)  # mean share under the permutation null
    adjusted: dict[str, float] = field(default_factory=dict)  # share beyond the null (signal_null)
    p_values: dict[str, float] = field(default_factory=dict)  # permutation p-values (source, target)
    noise_of: str = "r2"

    @property
    def seed_se(self) -> float:
        """Seed noise left on a pair's mean over the run's seeds (within-pair SD / sqrt(seeds))."""
        return self.seed_sd / math.sqrt(self.seeds) if self.seeds else math.nan

    @property
    def source_beats_noise(self) -> bool | None:
        """The corrected source spread against the seed noise on a pair mean (None: noise unknown)."""
        if math.isnan(self.seed_se) or math.isnan(self.source_sd_corrected):
            return None
        return self.source_sd_corrected > self.seed_se

    def _shares_text(self) -> str:
        s, adj, p = self.shares, self.adjusted, self.p_values

        def beyond(factor: str) -> str:
            if factor not in adj or math.isnan(adj[factor]):
                return ""
            return (f" ({100 * adj[factor]:.0f} % beyond a permutation null with no {factor} main effect on this design, "
                    f"p = {p[factor]:.3f})")

        return (
            f"of the variance of {self.pairs} pair mean gains, the source explains {100 * s['source']:.0f} %"
            f"{beyond('source')}, the target {100 * s['target']:.0f} %{beyond('target')}, "
            f"the residual {100 * s['residual']:.0f} %"
        )

    def sentence(self) -> str:
        shares = self._shares_text()
        if self.source_beats_noise is None:
            return (
                f"Seed noise is unknown on this run (one seed per pair; set seeds to see it): the choice of "
                f"source moves the gain by {self.source_sd:.2f} points (SD of the estimated source effects, "
                f"their own noise included); {shares}."
            )
        verb = "more" if self.source_beats_noise else "less"
        if self.noise_of == "r2":
            noise = f"the seed noise of r2 on a mean over {self.seeds} seeds, r1 cancelling within a target"
        else:
            noise = (
                f"the seed noise of the per-seed gain on a mean over {self.seeds} seeds: the table has no r2, "
                "so r1's seed noise is included and the noise overstated"
            )
        return (
            f"On this run the choice of source moves the gain {verb} than seed noise does: "
            f"{self.source_sd_corrected:.2f} points (SD of the source effects net of their estimation noise; "
            f"{self.source_sd:.2f} as estimated) against {self.seed_se:.2f} points ({noise}; "
            f"{self.seed_sd:.2f} for one seed); {shares}."
        )


def _with_noise_column(gains: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The gains with an ``r2`` column to measure seed noise on, and which value that is.

    The within-pair spread of r2 is the noise of a within-target comparison (r1 is shared by
    every source of a target on a seed). A table without r2 falls back to the gain itself.
    """
    if "r2" in gains.columns and gains["r2"].notna().any():
        return gains, "r2"
    return gains.assign(r2=gains["gain"]), "gain"


def verdict(gains: pd.DataFrame, n_perm: int = 999, seed: int = 0) -> Verdict:
    """Shares (raw, permutation-adjusted, p-values), source spread and seed noise of a long gains
    table (source, target, seed, gain; r2 for the like-with-like noise). ``n_perm`` and ``seed``:
    the seeded permutation null of :func:`tasktransfer.analysis.signal_null.permutation_shares`."""
    _check(gains, "the gains table")
    gains, noise_of = _with_noise_column(gains)
    means = pair_means(gains)
    null = permutation_shares(means, n_perm=n_perm, seed=seed).set_index("factor")
    spread = corrected_source_sd(gains)
    one_source = means["source"].nunique() < 2
    return Verdict(
        shares=variance_shares(means),
        source_sd=0.0 if one_source else spread["source_sd_raw"],
        seed_sd=spread["within_pair_sd"],
        seeds=spread["seeds"],
        pairs=len(means),
        source_sd_corrected=0.0 if one_source else spread["source_sd_corrected"],
        share_null={f: float(null.loc[f, "share_null"]) for f in ("source", "target")},
        adjusted={f: float(null.loc[f, "share_adjusted"]) for f in FACTORS},
        p_values={f: float(null.loc[f, "p_value"]) for f in ("source", "target")},
        noise_of=noise_of,
    )


def share_table(shares: dict[str, float], found: Verdict | None = None) -> pd.DataFrame:
    """factor, share; with a :class:`Verdict` also share_null, share_adjusted and p_value
    (NaN where a factor has none: the residual has no null of its own)."""
    table = pd.DataFrame({"factor": list(FACTORS), "share": [shares[f] for f in FACTORS]})
    if found is not None:
        table["share_null"] = [found.share_null.get(f, math.nan) for f in FACTORS]
        table["share_adjusted"] = [found.adjusted.get(f, math.nan) for f in FACTORS]
        table["p_value"] = [found.p_values.get(f, math.nan) for f in FACTORS]
    return table


def per_target_spread(gains: pd.DataFrame, no_transfer: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per target: how far apart its sources' mean gains lie, against the noise a mean carries.

    Like with like (:func:`tasktransfer.analysis.signal_null.per_target_noise`): the SD across
    sources of the pair mean gains (each over ``seeds`` seeds) against ``noise_se``, the
    target's pooled within-pair SD of r2 over sqrt(seeds) (r1 is common to the target's sources
    and cancels); ``p_value`` is the one-way ANOVA F test of "all sources equal". Without an r2
    column the per-seed gain stands in (r1's noise then included: an overstatement).
    ``no_transfer`` (task, seed, score) adds r1's own seed spread, for information only: it moves
    every source of the target together and says nothing about the choice of source.

    Columns: target, sources, seeds, gain_mean, gain_sd_across_sources, gain_min, gain_max,
    best_source, within_pair_sd, noise_se, sd_ratio, p_value, sources_beyond_noise, r1_seeds,
    r1_seed_sd.
    """
    _check(gains, "the gains table")
    gains, _ = _with_noise_column(gains)
    means = pair_means(gains)
    noise = per_target_noise(gains).set_index("target")
    rows = []
    for target, group in means.groupby("target", sort=True):
        row = {
            "target": target,
            "sources": len(group),
            "seeds": int(noise.loc[target, "seeds"]),
            "gain_mean": float(group["gain"].mean()),
            "gain_sd_across_sources": float(group["gain"].std(ddof=1)) if len(group) > 1 else math.nan,
            "gain_min": float(group["gain"].min()),
            "gain_max": float(group["gain"].max()),
            "best_source": str(group.loc[group["gain"].idxmax(), "source"]),
        }
        for column in ("within_pair_sd", "noise_se", "sd_ratio", "p_value", "sources_beyond_noise"):
            row[column] = noise.loc[target, column]
        r1 = no_transfer[no_transfer["task"] == target]["score"] if no_transfer is not None else pd.Series([], dtype=float)
        row["r1_seeds"] = int(len(r1))
        row["r1_seed_sd"] = float(r1.std(ddof=1)) if len(r1) > 1 else math.nan
        rows.append(row)
    return pd.DataFrame(rows)
