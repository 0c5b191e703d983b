"""Judging selection methods against brute force, from three plain tables.

- transfer ``T``: ``source, target, score``, the target's score after transfer (metric x100);
- no transfer ``N``: ``target, score``, the target tuned from a random prompt;
- selections ``S``: ``method, target, source`` rows, best first (or rankings with a ``score``).

Definitions (t a target, S_t the sources with a transfer result for t, T(s, t) its score):

- best-of-top-k: a method proposes its k best sources, all k are tried, the best result counts:
  score_k(t) = max over the top-k of T(s, t); gain_k(t) = score_k(t) - N(t);
- Regret@k(t) = 100 * (max_{s in S_t} T(s, t) - score_k(t)) / max_{s in S_t} T(s, t)
  (in %; 0 when the method's top-k holds the best source);
- brute force: the best source in hindsight, max_{s in S_t} T(s, t) (always included; regret 0),
  picked and scored on the same seeds, so its gain carries the winner's curse (biased upwards);
- brute force (cross-fitted), ``brute_force_xfit``, when per-seed gains with two or more seeds are
  given: picked on one half of a target's seeds and scored on the other, both ways, averaged
  (:mod:`tasktransfer.analysis.oracle`); its score is N(t) plus that cross-fitted gain. Like
  brute force it is one pick per target, the same at every k;
- Regret@k is always taken against the in-sample brute force (the ranking-quality definition);
  ``regret_xfit`` (top-1 rows only) against the cross-fitted one:
  100 * (S_x(t) - S(t, pick)) / S_x(t), where S_x(t) = N(t) + the cross-fitted gain and
  S(t, pick) = N(t) + the pick's gain on the cross-fit's footing (the mean of its two half-means;
  :func:`tasktransfer.analysis.oracle.cross_fitted_oracle_gains`). It can be negative: a method
  may beat an oracle that sees half the seeds; for in-sample brute force it is minus its curse;
- random_expected: the expectation of best-of-top-k over a uniformly random k-subset of S_t,
  computed exactly (the i-th smallest of n scores is the best of the subset with probability
  C(i-1, k-1) / C(n, k)), where S_t holds at least k sources;
- a method is evaluated at each requested k that its selections support (k <= the number of
  sources it gives for every target), and also at k = n when it gives n sources per target;
- ranking quality (:func:`ranking_quality`): Spearman and Pearson correlation of the method's
  scores with the true gains T(s, t) - N(t) over S_t, NDCG with relevance max(gain, 0) (see
  :func:`tasktransfer.metrics.ndcg`), and Regret@k as above.

The workflow (``tasktransfer evaluate-run``) and ``tasktransfer evaluate`` share this code.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from tasktransfer import metrics
from tasktransfer.analysis.oracle import cross_fitted_brute_force, cross_fitted_oracle_gains
from tasktransfer.errors import TaskTransferError

BRUTE_FORCE = "brute_force"
BRUTE_FORCE_XFIT = "brute_force_xfit"
#: how the tables' HTML views name a method where its key would mislead
DISPLAY = {BRUTE_FORCE_XFIT: "brute force (cross-fitted)"}
RANDOM_EXPECTED = "random_expected"
# the order of the paper's tables: baselines first, the scorer, then the upper bound
METHOD_ORDER = (
    RANDOM_EXPECTED,
    "random",
    "cosine_mean",
    "euclidean_mean",
    "manhattan_mean",
    "cosine_tokens",
    "euclidean_tokens",
    "manhattan_tokens",
    "scorer",
    BRUTE_FORCE_XFIT,
    BRUTE_FORCE,
)


def method_order(methods) -> list[str]:
    """Methods in table order; unknown ones (from a user's selections) before the scorer, by name."""
    known = [m for m in METHOD_ORDER if m in set(methods)]
    other = sorted(set(methods) - set(METHOD_ORDER))
    last = [m for m in ("scorer", BRUTE_FORCE_XFIT, BRUTE_FORCE) if m in known]
    at = known.index(last[0]) if last else len(known)
    return known[:at] + other + known[at:]


def _require(df: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise TaskTransferError(f"{what} lacks columns {missing}; it needs {columns} (has {list(df.columns)})")


def transfer_matrix(transfer: pd.DataFrame) -> dict[str, dict[str, float]]:
    """target -> source -> T(source, target)."""
    _require(transfer, ["source", "target", "score"], "the transfer table")
    out: dict[str, dict[str, float]] = {}
    for row in transfer.itertuples(index=False):
        out.setdefault(str(row.target), {})[str(row.source)] = float(row.score)
    return out


def selections_from_rankings(rankings: pd.DataFrame) -> pd.DataFrame:
    """Turn per-source scores into ordered selections (best first, ties by source name)."""
    _require(rankings, ["method", "target", "source", "score"], "the rankings table")
    ordered = rankings.sort_values(["method", "target", "score", "source"], ascending=[True, True, False, True])
    ordered = ordered.assign(rank=ordered.groupby(["method", "target"]).cumcount() + 1, ranked=True)
    return ordered[["method", "target", "source", "rank", "ranked"]].reset_index(drop=True)


def expected_best_of_random(values: list[float], k: int) -> float:
    """E[max of a uniformly random k-subset of values] (exact, no sampling)."""
    v = sorted(values)
    n = len(v)
    if not 1 <= k <= n:
        raise ValueError(f"cannot pick {k} of {n} sources")
    return sum(math.comb(i - 1, k - 1) * v[i - 1] for i in range(k, n + 1)) / math.comb(n, k)


def supported_ks(counts: list[int], ks: list[int], add_n: bool = True) -> list[int]:
    """The ks a method can be judged at, given how many sources it proposes for each target.

    Every requested k up to the fewest sources it gives a target, and (``add_n``, for explicit
    selections rather than full rankings) that number of sources itself.
    """
    n = min(counts)
    return sorted({k for k in ks if k <= n} | ({n} if add_n and n > 1 else set()) | {1})


def _ordered_selections(selections: pd.DataFrame) -> pd.DataFrame:
    """Selections without brute force, ranked (by row order where they carry no rank), best first."""
    _require(selections, ["method", "target", "source"], "the selections table")
    # brute force is always derived from the transfer table, never taken from a selection
    selections = selections[selections["method"] != BRUTE_FORCE]
    if "rank" not in selections.columns:
        selections = selections.assign(rank=selections.groupby(["method", "target"]).cumcount() + 1)
    return selections.sort_values(["method", "target", "rank"], kind="stable")


def _method_rows(
    method: str, by_method: pd.DataFrame, matrix: dict[str, dict[str, float]], base: dict[str, float], ks: list[int]
) -> tuple[list[dict], list[int]]:
    """One method's rows at each k its selections support, and those ks."""
    proposed = {
        str(target): list(dict.fromkeys(str(s) for s in group["source"]))
        for target, group in by_method.groupby("target", sort=True)
    }
    # full rankings are judged at the requested ks only; explicit selections also at their own n
    ranked = "ranked" in by_method.columns and bool(by_method["ranked"].fillna(False).astype(bool).all())
    method_ks = supported_ks([len(p) for p in proposed.values()], ks, add_n=not ranked)
    rows = []
    for target, sources in proposed.items():
        known = matrix.get(target, {})
        for k in method_ks:
            picks = sources[:k]
            missing = [s for s in picks if s not in known]
            if missing:
                raise TaskTransferError(
                    f"method {method} picks {missing} for target {target} (top-{k}), but the transfer "
                    "table has no score for that pair; add it to the transfer table or drop the selection"
                )
            rows.append(_row(method, k, target, picks, known, base))
    return rows, method_ks


def _random_expected_row(target: str, k: int, known: dict[str, float], base: dict[str, float]) -> dict:
    """The expectation of best-of-top-k over a uniformly random k-subset of the target's sources."""
    expected = expected_best_of_random(list(known.values()), k)
    top = max(known.values())
    return {
        "method": RANDOM_EXPECTED,
        "k": k,
        "target": target,
        "sources": "(all)",
        "chosen": "(expectation)",
        "score": expected,
        "no_transfer": base.get(target, np.nan),
        # expected <= top; max() only drops a rounding -0.0
        "regret": max(0.0, 100.0 * (top - expected) / top) if top else 0.0,
    }


def _reference_rows(matrix: dict[str, dict[str, float]], base: dict[str, float], ks: list[int]) -> list[dict]:
    """Brute force at every k, and the random expectation at each k the target's sources allow."""
    rows = []
    for target in sorted(matrix):
        known = matrix[target]
        best = metrics.top_k(known, 1)
        for k in ks:
            rows.append(_row(BRUTE_FORCE, k, target, best, known, base))
            if k <= len(known):
                rows.append(_random_expected_row(target, k, known, base))
    return rows


def evaluate_selections(
    transfer: pd.DataFrame,
    no_transfer: pd.DataFrame,
    selections: pd.DataFrame | None,
    ks: list[int],
    per_seed: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per (method, k, target): proposed sources, chosen source, its score, gain and Regret@k.

    Brute force (the best source in hindsight) is always included, and so is the random
    expectation at each k the targets' sources allow. A method is judged at the ks its
    selections support (see the module docstring), so asking for k = 3 of a method that gives
    two sources per target is not an error. ``per_seed`` (source, target, seed, gain: one row
    per transfer run) adds the cross-fitted brute force and ``regret_xfit`` for the targets with
    two or more seeds.
    """
    _require(transfer, ["source", "target", "score"], "the transfer table")
    _require(no_transfer, ["target", "score"], "the no-transfer table")
    ks = sorted({int(k) for k in ks} | {1})
    matrix = transfer_matrix(transfer)
    base = {str(r.target): float(r.score) for r in no_transfer.itertuples(index=False)}
    rows: list[dict] = []
    used_ks = set(ks)  # the references are given at every k some method is judged at
    if selections is not None and len(selections):
        for method, by_method in _ordered_selections(selections).groupby("method", sort=True):
            method_rows, method_ks = _method_rows(method, by_method, matrix, base, ks)
            rows += method_rows
            used_ks |= set(method_ks)
    rows += _reference_rows(matrix, base, sorted(used_ks))
    footing: dict[str, dict[str, float]] = {}
    if per_seed is not None and len(per_seed):
        oracle_rows, footing = _cross_fitted_rows(per_seed, matrix, base, sorted(used_ks))
        rows += oracle_rows
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    missing_base = sorted(set(table.target) - set(base))
    if missing_base:
        raise TaskTransferError(
            f"the no-transfer table has no score for targets {missing_base}; add a row (target, score) for each"
        )
    table["gain"] = table["score"] - table["no_transfer"]
    if footing:
        table["regret_xfit"] = _regret_xfit(table, footing)
    return table.sort_values(["method", "k", "target"]).reset_index(drop=True)


def _cross_fitted_rows(
    per_seed: pd.DataFrame, matrix: dict[str, dict[str, float]], base: dict[str, float], ks: list[int]
) -> tuple[list[dict], dict[str, dict[str, float]]]:
    """The cross-fitted brute force's rows (one pick per target, repeated at every k), and each
    candidate's gain on the cross-fit's footing, for the targets that can be cross-fitted."""
    candidates = {(t, s) for t, known in matrix.items() for s in known}
    keys = zip(per_seed["target"].astype(str), per_seed["source"].astype(str))
    per_seed = per_seed[[key in candidates for key in keys]].assign(
        source=lambda d: d["source"].astype(str), target=lambda d: d["target"].astype(str)
    )
    if per_seed.empty:
        return [], {}
    oracle = cross_fitted_brute_force(per_seed)
    footing = cross_fitted_oracle_gains(per_seed)
    rows = []
    for r in oracle[oracle["gain_cross_fitted"].notna()].itertuples(index=False):
        target, top = str(r.target), max(matrix[str(r.target)].values())
        score = base.get(target, np.nan) + float(r.gain_cross_fitted)
        for k in ks:
            rows.append(
                {
                    "method": BRUTE_FORCE_XFIT,
                    "k": k,
                    "target": target,
                    # the two halves' picks: never one pair, so no pair's interval stands for it
                    "sources": f"{r.pick_first_half} | {r.pick_second_half}",
                    "chosen": f"{r.pick_first_half} | {r.pick_second_half}",
                    "score": score,
                    "no_transfer": base.get(target, np.nan),
                    "regret": 100.0 * (top - score) / top if top else 0.0,
                }
            )
    xfit = {str(r.target): float(r.gain_cross_fitted) for r in oracle.itertuples(index=False)}
    footing = {t: {**gains, BRUTE_FORCE_XFIT: xfit[t]} for t, gains in footing.items() if not math.isnan(xfit.get(t, math.nan))}
    return rows, footing


def _regret_xfit(table: pd.DataFrame, footing: dict[str, dict[str, float]]) -> list[float]:
    """Regret of each top-1 row against the cross-fitted brute force, in % of its score (NaN elsewhere)."""
    out = []
    for row in table.itertuples(index=False):
        gains = footing.get(str(row.target))
        if row.k != 1 or gains is None:
            out.append(math.nan)
            continue
        if row.method == BRUTE_FORCE_XFIT:
            pick = gains[BRUTE_FORCE_XFIT]
        elif row.method == RANDOM_EXPECTED:
            pick = float(np.mean([v for s, v in gains.items() if s != BRUTE_FORCE_XFIT]))
        else:
            pick = gains.get(str(row.chosen), math.nan)
        best = row.no_transfer + gains[BRUTE_FORCE_XFIT]
        out.append(100.0 * (best - (row.no_transfer + pick)) / best if best else math.nan)
    return out


def _regret(known: dict[str, float], chosen: str) -> float:
    best = max(known.values())
    return 100.0 * (best - known[chosen]) / best if best else 0.0


def _row(method: str, k: int, target: str, picks: list[str], known: dict[str, float], base: dict[str, float]) -> dict:
    chosen = max(picks, key=lambda s: (known[s], s))
    return {
        "method": method,
        "k": k,
        "target": target,
        "sources": ",".join(picks),
        "chosen": chosen,
        "score": known[chosen],
        "no_transfer": base.get(target, np.nan),
        "regret": _regret(known, chosen),
    }


def summarise(per_target: pd.DataFrame) -> pd.DataFrame:
    """Mean score, mean gain and mean Regret@k per method and k."""
    if per_target.empty:
        return per_target
    grouped = per_target.groupby(["method", "k"], sort=True)
    out = grouped.agg(
        targets=("target", "nunique"),
        mean_score=("score", "mean"),
        mean_gain=("gain", "mean"),
        mean_regret=("regret", "mean"),
        beats_no_transfer=("gain", lambda g: int((g > 0).sum())),
    )
    if "regret_xfit" in per_target.columns:
        out["mean_regret_xfit"] = grouped["regret_xfit"].mean()
    return out.reset_index()


class PartialRankingWarning(UserWarning):
    """A ranking-quality figure covers fewer sources than the target has."""


def _warn_partial(method: str, target: str, used: dict, known: dict, ranked: set) -> None:
    """Warn (never stay silent) when a target's correlations use only part of its sources: the
    ranking lacks sources that have a transfer result, or names sources without one (brute force
    unfinished). Printed as a line of the job's log."""
    n = max(len(known), len(ranked))
    if len(used) >= n:
        return
    unranked = sorted(set(known) - ranked)
    untransferred = sorted(ranked - set(known))
    why = []
    if unranked:
        why.append(f"{len(unranked)} with a transfer result are not ranked ({', '.join(unranked[:5])})")
    if untransferred:
        why.append(f"{len(untransferred)} ranked have no transfer result ({', '.join(untransferred[:5])})")
    what = "computed on" if len(used) >= 2 else "skipped: it would rest on"
    warnings.warn(
        f"ranking quality of {method} for target {target} {what} {len(used)} of its {n} sources: {'; '.join(why)}. "
        "Rank every source and finish every brute-force transfer for a comparable figure",
        PartialRankingWarning,
        stacklevel=3,
    )


def ranking_quality(rankings: pd.DataFrame, transfer: pd.DataFrame, no_transfer: pd.DataFrame, ks: list[int]) -> pd.DataFrame:
    """Per method and target: Spearman, Pearson, NDCG and Regret@k of its scores.

    Each is computed over the sources that have a transfer result for the target (a
    :class:`PartialRankingWarning` says so when that is fewer than the target has):
    - Spearman / Pearson: correlation of the method's scores with the true gains;
    - NDCG: discounted gain of the method's order, relevance = max(gain, 0), over the ideal order
      (NaN for a target where no source has a positive gain, and left out of the mean);
    - Regret@k: 100 * (max_s T(s,t) - max_{s in top-k} T(s,t)) / max_s T(s,t).
    """
    _require(rankings, ["method", "target", "source", "score"], "the rankings table")
    matrix = transfer_matrix(transfer)
    base = {str(r.target): float(r.score) for r in no_transfer.itertuples(index=False)}
    rows = []
    for (method, target), group in rankings.groupby(["method", "target"], sort=True):
        known = matrix.get(str(target), {})
        ranked = {str(s) for s in group["source"]}
        predicted = {str(s): float(v) for s, v in zip(group["source"], group["score"]) if str(s) in known}
        _warn_partial(str(method), str(target), predicted, known, ranked)
        if len(predicted) < 2 or str(target) not in base:
            continue
        true_t = {s: known[s] for s in predicted}
        gains = {s: known[s] - base[str(target)] for s in predicted}
        order = sorted(predicted)
        row = {
            "method": method,
            "target": target,
            "sources": len(order),
            "spearman": metrics.spearman([predicted[s] for s in order], [gains[s] for s in order]),
            "pearson": metrics.pearson([predicted[s] for s in order], [gains[s] for s in order]),
            # undefined (NaN, left out of means) when no source helps: there is nothing to rank first
            "ndcg": metrics.ndcg(predicted, gains) if any(g > 0 for g in gains.values()) else float("nan"),
        }
        for k in ks:
            row[f"regret@{k}"] = metrics.regret_at_k(predicted, true_t, k)
        rows.append(row)
    return pd.DataFrame(rows)
