"""Judging selection methods against brute force, from three plain tables.

- transfer ``T``: ``source, target, score``, the target's score after transfer (metric x100);
- no transfer ``N``: ``target, score``, the target tuned from a random prompt;
- selections ``S``: ``method, target, source`` rows, best first (or rankings with a ``score``).

Best-of-top-k: a method proposes its k best sources, all k are tried, the best result counts.
Gain = T(chosen, t) - N(t). The workflow and ``tasktransfer evaluate`` share this code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import metrics
from .errors import TaskTransferError

BRUTE_FORCE = "brute_force"
RANDOM_EXPECTED = "random_expected"


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
    ordered = ordered.assign(rank=ordered.groupby(["method", "target"]).cumcount() + 1)
    return ordered[["method", "target", "source", "rank"]].reset_index(drop=True)


def evaluate_selections(
    transfer: pd.DataFrame,
    no_transfer: pd.DataFrame,
    selections: pd.DataFrame | None,
    ks: list[int],
) -> pd.DataFrame:
    """One row per (method, k, target): chosen source, its score, the gain and Regret@k.

    Brute force (the best source in hindsight) is always included; where the transfer table holds
    every source of a target, so is the random expectation (mean T over its sources).
    """
    _require(no_transfer, ["target", "score"], "the no-transfer table")
    matrix = transfer_matrix(transfer)
    base = {str(r.target): float(r.score) for r in no_transfer.itertuples(index=False)}
    rows: list[dict] = []
    if selections is not None and len(selections):
        _require(selections, ["method", "target", "source"], "the selections table")
        # brute force is always derived from the transfer table below, never taken from a selection
        selections = selections[selections["method"] != BRUTE_FORCE]
        if "rank" not in selections.columns:
            selections = selections.assign(rank=selections.groupby(["method", "target"]).cumcount() + 1)
        for (method, target), group in selections.sort_values("rank").groupby(["method", "target"], sort=True):
            target = str(target)
            known = matrix.get(target, {})
            proposed = [str(s) for s in group["source"]]
            for k in ks:
                picks = proposed[:k]
                missing = [s for s in picks if s not in known]
                if missing:
                    raise TaskTransferError(
                        f"method {method} picks {missing} for target {target}, but the transfer table has no "
                        "score for that pair; add it to the transfer table or drop the selection"
                    )
                rows.append(_row(method, k, target, picks, known, base))
    for target in sorted(matrix):
        known = matrix[target]
        best = metrics.top_k(known, 1)
        for k in ks:
            rows.append(_row(BRUTE_FORCE, k, target, best, known, base))
        rows.append(
            {
                "method": RANDOM_EXPECTED,
                "k": 1,
                "target": target,
                "sources": "(all)",
                "chosen": "(mean)",
                "score": float(np.mean(list(known.values()))),
                "no_transfer": base.get(target, np.nan),
                "regret": float(np.mean([_regret(known, s) for s in known])),
            }
        )
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["gain"] = table["score"] - table["no_transfer"]
    return table.sort_values(["method", "k", "target"]).reset_index(drop=True)


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
    return out.reset_index()


def ranking_quality(rankings: pd.DataFrame, transfer: pd.DataFrame, no_transfer: pd.DataFrame, ks: list[int]) -> pd.DataFrame:
    """Per method and target: Spearman, Pearson, NDCG and Regret@k of its scores.

    Each is computed over the sources that have a transfer result for the target:
    - Spearman / Pearson: correlation of the method's scores with the true gains;
    - NDCG: discounted gain of the method's order, relevance = max(gain, 0), over the ideal order;
    - Regret@k: 100 * (max_s T(s,t) - max_{s in top-k} T(s,t)) / max_s T(s,t).
    """
    _require(rankings, ["method", "target", "source", "score"], "the rankings table")
    matrix = transfer_matrix(transfer)
    base = {str(r.target): float(r.score) for r in no_transfer.itertuples(index=False)}
    rows = []
    for (method, target), group in rankings.groupby(["method", "target"], sort=True):
        known = matrix.get(str(target), {})
        predicted = {str(s): float(v) for s, v in zip(group["source"], group["score"]) if str(s) in known}
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
            "ndcg": metrics.ndcg(predicted, gains),
        }
        for k in ks:
            row[f"regret@{k}"] = metrics.regret_at_k(predicted, true_t, k)
        rows.append(row)
    return pd.DataFrame(rows)
