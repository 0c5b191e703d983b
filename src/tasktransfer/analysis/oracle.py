"""An honest brute-force oracle: pick the best source on some seeds, score it on the others.

Brute force in hindsight picks, for each target, the source with the largest mean gain over all
seeds and reports that same mean. That is the **winner's curse**: the maximum of noisy means is
biased upwards (E[max_s (mu_s + e_s)] >= max_s mu_s), because the pick favours whichever source
had lucky seeds. With many sources of about equal worth the bias is the whole "best gain": on
pure noise the in-sample best gain is clearly positive while no source helps at all. A method
judged by regret against that inflated best looks worse than it is.

Cross-fitting removes the bias by never scoring a pick on the seeds that chose it:

- the target's seeds (the union over its pairs) are sorted and split into two halves, the first
  ceil(n / 2) seeds (so for an odd count the middle seed goes to the first half) and the rest;
- ``pick_first_half``: the source with the best mean gain on the first half (ties broken by
  source name); it is scored by its mean gain on the second half; and the other way round;
- ``gain_cross_fitted`` = the average of the two held-out scores; NaN with fewer than 2 seeds.

Only sources with at least one seed in each half take part in the cross-fit (a source without
seeds in a half can be neither picked nor scored there). Columns of
:func:`cross_fitted_brute_force`, one row per target: target, sources, seeds,
source_in_sample (argmax of the all-seeds mean gain), gain_in_sample (its mean gain),
pick_first_half, pick_second_half, gain_cross_fitted, optimism (in-sample minus cross-fitted).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from tasktransfer import metrics
from tasktransfer.errors import TaskTransferError


def _gains(gains_long: pd.DataFrame, no_transfer: pd.DataFrame | None) -> pd.DataFrame:
    """source, target, seed, gain; with ``no_transfer`` the gain is r2 - r1 of the same seed."""
    needed = ["source", "target", "seed"] + (["r2"] if no_transfer is not None else ["gain"])
    missing = [c for c in needed if c not in gains_long.columns]
    if missing:
        raise TaskTransferError(
            f"the gains table lacks columns {missing}; it needs {needed} (one row per source, target and seed, "
            "as analysis.gather.gather_gains writes it)"
        )
    if gains_long.empty:
        raise TaskTransferError("the gains table has no rows; finish some transfer jobs first")
    if no_transfer is None:
        return gains_long[["source", "target", "seed", "gain"]].dropna(subset=["gain"])
    # the no-transfer table of results.gather_no_transfer names the target 'task'
    base = no_transfer.rename(columns={"task": "target"}) if "task" in no_transfer.columns else no_transfer
    missing = [c for c in ("target", "seed", "score") if c not in base.columns]
    if missing:
        raise TaskTransferError(
            f"the no-transfer table lacks columns {missing}; it needs task (or target), seed and score"
        )
    merged = gains_long[["source", "target", "seed", "r2"]].merge(
        base[["target", "seed", "score"]], on=["target", "seed"], how="left"
    )
    lacking = merged[merged["score"].isna()][["target", "seed"]].drop_duplicates()
    if len(lacking):
        pairs = [f"{t}/seed {s}" for t, s in lacking.itertuples(index=False)][:5]
        raise TaskTransferError(
            f"the no-transfer table has no score for {pairs}; run the no-transfer job of each seed "
            "(gains are paired by seed: r2 - r1 of the same seed)"
        )
    merged["gain"] = merged["r2"] - merged["score"]
    return merged[["source", "target", "seed", "gain"]].dropna(subset=["gain"])


def split_seeds(seeds) -> tuple[list, list]:
    """Sorted seeds split in two: the first ceil(n / 2) and the rest (the middle seed goes first)."""
    ordered = sorted(set(seeds))
    cut = math.ceil(len(ordered) / 2)
    return ordered[:cut], ordered[cut:]


def _half_means(group: pd.DataFrame, first: list, second: list) -> tuple[dict[str, float], dict[str, float]]:
    """Each source's mean gain on either half, for sources with seeds in both halves."""
    in_first = group[group["seed"].isin(first)].groupby("source")["gain"].mean()
    in_second = group[group["seed"].isin(second)].groupby("source")["gain"].mean()
    both = sorted(set(in_first.index) & set(in_second.index))
    return (
        {str(s): float(in_first[s]) for s in both},
        {str(s): float(in_second[s]) for s in both},
    )


def _best(means: Mapping[str, float]) -> str:
    # the same tie rule as the evaluation's top-k: by score, then by source name
    return metrics.top_k(dict(means), 1)[0]


def cross_fitted_brute_force(gains_long: pd.DataFrame, no_transfer: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per target: the in-sample brute-force pick and its gain, and the cross-fitted gain (module docstring).

    ``gains_long``: source, target, seed, gain (one row per run). ``no_transfer`` (task or
    target, seed, score): when given, gains are recomputed as r2 - r1 of the same seed, and
    ``gains_long`` needs ``r2`` instead of ``gain``.
    """
    gains = _gains(gains_long, no_transfer)
    rows = []
    for target, group in gains.groupby("target", sort=True):
        means = {str(s): float(v) for s, v in group.groupby("source")["gain"].mean().items()}
        in_sample = _best(means)
        seeds = sorted(set(group["seed"]))
        row = {
            "target": target,
            "sources": len(means),
            "seeds": len(seeds),
            "source_in_sample": in_sample,
            "gain_in_sample": means[in_sample],
            "pick_first_half": None,
            "pick_second_half": None,
            "gain_cross_fitted": math.nan,
        }
        if len(seeds) >= 2:
            first, second = split_seeds(seeds)
            on_first, on_second = _half_means(group, first, second)
            if on_first:
                pick_first, pick_second = _best(on_first), _best(on_second)
                row.update(
                    pick_first_half=pick_first,
                    pick_second_half=pick_second,
                    # each pick is scored only on the seeds that did not choose it
                    gain_cross_fitted=0.5 * (on_second[pick_first] + on_first[pick_second]),
                )
        row["optimism"] = row["gain_in_sample"] - row["gain_cross_fitted"]
        rows.append(row)
    return pd.DataFrame(rows)


def cross_fitted_oracle_gains(gains_long: pd.DataFrame) -> dict[str, dict[str, float]]:
    """target -> source -> that source's gain on the cross-fit's footing, (first-half mean + second-half mean) / 2.

    A method whose pick for a target does not look at that target's seeds is unbiased already;
    scoring it with the same half weighting as :func:`cross_fitted_brute_force` makes
    ``gain_cross_fitted - gains[target][pick]`` a like-with-like regret against the honest oracle
    (it can be negative: a method may beat an oracle that only sees half the seeds). With an even
    number of seeds per pair this is the plain all-seeds mean. Targets with fewer than 2 seeds,
    and sources lacking seeds in a half, are left out.
    """
    gains = _gains(gains_long, None)
    out: dict[str, dict[str, float]] = {}
    for target, group in gains.groupby("target", sort=True):
        seeds = sorted(set(group["seed"]))
        if len(seeds) < 2:
            continue
        on_first, on_second = _half_means(group, *split_seeds(seeds))
        if on_first:
            out[str(target)] = {s: 0.5 * (on_first[s] + on_second[s]) for s in on_first}
    return out


def cross_fitted_regret(picks: Mapping[str, str], gains_long: pd.DataFrame) -> pd.DataFrame:
    """Per target of ``picks`` (target -> chosen source): the pick's gain against the cross-fitted oracle.

    Columns: target, source, gain (the pick's gain on the cross-fit's footing, see
    :func:`cross_fitted_oracle_gains`), oracle_gain (``gain_cross_fitted``), regret = oracle_gain
    - gain (points of gain, not %). Targets the oracle cannot cross-fit, or picks without seeds in
    both halves, get NaN.
    """
    oracle = cross_fitted_brute_force(gains_long).set_index("target")["gain_cross_fitted"]
    footing = cross_fitted_oracle_gains(gains_long)
    rows = []
    for target, source in sorted(picks.items()):
        gain = footing.get(str(target), {}).get(str(source), math.nan)
        best = float(oracle.get(target, np.nan))
        rows.append({"target": target, "source": source, "gain": gain, "oracle_gain": best, "regret": best - gain})
    return pd.DataFrame(rows, columns=["target", "source", "gain", "oracle_gain", "regret"])
