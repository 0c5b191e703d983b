"""A source prior: some sources help most targets, whatever the target.

If the gains are largely additive (gain(s, t) ~ a_s + b_t + noise), a target's sources can be
ranked by a_s alone, learned from the other targets. This is the baseline any learned,
target-aware ranking has to beat.

Definitions (pair mean gains g(s, t) over seeds; pairs with s == t are left out everywhere):

- residual r(s, t) = g(s, t) - mean_{s'} g(s', t): the gain beyond the target's mean over the
  sources it was run with (removes the target's own level, which does not rank its sources);
- raw effect a_s = mean_t r(s, t) over the n_s targets the source was seen with;
- prior(s) = n_s / (n_s + lam) * a_s: shrunk towards 0, more for sources seen with few targets
  (lam = 0: no shrinkage; lam = n_s halves the effect); a source never seen scores 0.

Leave-one-target-out rankings (:func:`loto_prior_rankings`): for each target t the prior is
fitted on the rows of all other targets only, so t's own gains never reach its ranking, and
scores every source that has a row for t. Ranks: 1 is best, ties broken by source name (the
evaluation's tie rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from tasktransfer.errors import TaskTransferError

METHOD = "source_prior"
RANKING_COLUMNS = ["method", "target", "source", "score", "rank"]


def _check(table: pd.DataFrame, what: str) -> None:
    missing = [c for c in ("source", "target", "gain") if c not in table.columns]
    if missing:
        raise TaskTransferError(
            f"{what} lacks columns {missing}; it needs source, target and gain (one row per pair, or per pair "
            "and seed: the pair means of results.mean_gains or the long table of results.gather_gains)"
        )


def _pair_means(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (source, target) with its mean gain; source == target and NaN gains dropped."""
    table = table[table["source"].astype(str) != table["target"].astype(str)]
    table = table.dropna(subset=["gain"])
    means = table.groupby(["source", "target"], sort=True)["gain"].mean().reset_index()
    return means.assign(source=means["source"].astype(str), target=means["target"].astype(str))


def _fit(means: pd.DataFrame, lam: float) -> dict[str, float]:
    """The shrunk additive source effects of prepared pair means."""
    if means.empty:
        return {}
    residual = means["gain"] - means.groupby("target")["gain"].transform("mean")
    by_source = residual.groupby(means["source"])
    effect, seen = by_source.mean(), by_source.count()
    shrink = seen / (seen + lam)
    return {str(s): float(v) for s, v in (shrink * effect).items()}


def source_prior(means: pd.DataFrame, lam: float = 1.0) -> dict[str, float]:
    """Each source's shrunk additive effect on the gains of the given targets (module docstring).

    ``means``: source, target, gain; several rows per pair (seeds) are averaged first.
    """
    _check(means, "the gains table")
    if lam < 0:
        raise TaskTransferError(f"lam must be >= 0 (0: no shrinkage), got {lam}")
    return _fit(_pair_means(means), float(lam))


def prior_scores(prior: Mapping[str, float], sources: Iterable[str]) -> dict[str, float]:
    """The prior's score of each source; 0 (no evidence either way) for a source it never saw."""
    return {str(s): float(prior.get(str(s), 0.0)) for s in sources}


def loto_prior_rankings(gains: pd.DataFrame, lam: float = 1.0) -> pd.DataFrame:
    """Leave-one-target-out rankings of each target's sources by the prior of the other targets.

    ``gains``: source, target, gain (and optionally seed; pair means over seeds are taken).
    Columns: method ('source_prior'), target, source, score, rank (1 best, ties by source name).
    """
    _check(gains, "the gains table")
    if lam < 0:
        raise TaskTransferError(f"lam must be >= 0 (0: no shrinkage), got {lam}")
    means = _pair_means(gains)
    frames = []
    for target in sorted(means["target"].unique()):
        # fitted without any row of this target: its own gains cannot leak into its ranking
        prior = _fit(means[means["target"] != target], float(lam))
        candidates = sorted(means.loc[means["target"] == target, "source"].unique())
        scores = prior_scores(prior, candidates)
        ordered = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        frames.append(
            pd.DataFrame(
                {
                    "method": METHOD,
                    "target": target,
                    "source": [s for s, _ in ordered],
                    "score": [v for _, v in ordered],
                    "rank": range(1, len(ordered) + 1),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=RANKING_COLUMNS)
    return pd.concat(frames, ignore_index=True)[RANKING_COLUMNS]
