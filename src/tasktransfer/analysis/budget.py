"""Best of a method's top k, cross-fitted, against the job-seconds of the k transfers it costs.

A method proposes its k best sources for a target; all k are tried and the best is kept. Which
one is "best" is read off the very runs that are then reported, so the in-sample best of k
carries the winner's curse that :mod:`tasktransfer.analysis.oracle` removes from brute force,
and more of it the larger k. Here the best of k is **cross-fitted** the same way:

- a target's seeds are split in two halves exactly as the oracle splits them
  (:func:`tasktransfer.analysis.oracle.split_seeds`: the first ceil(n / 2) sorted seeds and the
  rest), and only sources with seeds in both halves are candidates (n = their number);
- the method's ranking, restricted to the candidates (best first, ties by source name), gives
  its top k; the source of the top k with the best first-half mean gain is scored by its
  second-half mean gain, the best on the second half by its first-half mean gain, and the
  cross-fitted gain of best-of-top-k is the average of the two held-out scores;
- with 2 seeds that is "chosen on one seed, scored on the other, both ways". With more seeds
  the halves are the oracle's, not a leave-one-seed-out (each seed scoring, the others
  choosing), so that at k = n every method equals the cross-fitted brute force of
  ``oracle.cross_fitted_brute_force`` for any seed count;
- at k = 1 nothing is chosen on seeds: the gain is the top-1 source's (first-half mean +
  second-half mean) / 2, its gain on the cross-fit's footing
  (:func:`tasktransfer.analysis.oracle.cross_fitted_oracle_gains`). The values need not rise
  with k (a larger top k can hold a source that wins one half by luck and loses the other).

Rows beside the methods' (``method`` column):

- ``brute_force_xfit``: all n candidates (k = n), the cross-fitted oracle;
- ``random_expected``: the exact expectation over a uniformly random k-subset of the n
  candidates: ordered best first by one half's means (ties by name), the source at place j
  (0-based) is the subset's pick with probability C(n - 1 - j, k - 1) / C(n, k), and it is
  scored on the other half; both ways, averaged. Its cost is k times the mean pair cost.

The ranking method ``brute_force`` (the in-sample order by all seeds' gains) is left out: its
order has read the seeds that score it.

**Cost.** A transfer's job-seconds are what its runs record (``metrics.json``): each run's job
time, setup_seconds + train_seconds (process start to the end of training; the loop's time is
shared by the seeds trained together as replicas), split evenly over those seeds (replicas /
learning rates). Where a job trained its replicas in several groups (``max_replicas``) a seed's
share also holds the groups before its own, so the cost is overstated there; the shell's start
and the writing of outputs are left out (a few seconds a job that Snakemake's ``benchmarks/``
count). A pair costs the sum of its runs over all its seeds (both halves are needed to
cross-fit). A run without timing is charged the mean of the target's timed runs (else of all
timed runs) and counted in ``seconds_imputed``; with no timing at all the cost is NaN. A
method's cost at k is the sum of its k pairs' costs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tasktransfer import metrics
from tasktransfer.analysis.evaluation import BRUTE_FORCE, BRUTE_FORCE_XFIT, RANDOM_EXPECTED, method_order
from tasktransfer.analysis.oracle import split_seeds
from tasktransfer.analysis.versus_baseline import t_interval
from tasktransfer.errors import TaskTransferError
from tasktransfer.io import read_record

COLUMNS = [
    "method", "k", "target", "sources", "top_k", "picks", "gain", "seconds", "seconds_imputed",
    "brute_force_gain", "brute_force_seconds",
]  # fmt: skip
SECONDS_COLUMNS = ["source", "target", "seed", "seconds"]


def _number(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def run_seconds(record: Mapping) -> float:
    """One run's job-seconds (module docstring): (setup + train seconds) over the seeds trained with it."""
    setup, train = _number(record.get("setup_seconds")), _number(record.get("train_seconds"))
    lrs = (record.get("spec") or {}).get("lrs") or [None]
    together = max(1.0, _number(record.get("replicas") or 1) / len(lrs))
    return (setup + train) / together


def gather_run_seconds(paths: Iterable[str | Path]) -> pd.DataFrame:
    """source, target, seed, seconds: one row per transfer run record (NaN where it lacks timing)."""
    rows = []
    for path in paths:
        record = read_record(path, ("source", "target", "seed"))
        rows.append({"source": str(record["source"]), "target": str(record["target"]), "seed": record["seed"],
                     "seconds": run_seconds(record)})
    return pd.DataFrame(rows, columns=SECONDS_COLUMNS)


@dataclass(frozen=True)
class Target:
    """One target's candidates: their half-mean gains, and each pair's cost (runs imputed)."""

    name: str
    first: dict[str, float]
    second: dict[str, float]
    seconds: dict[str, float]
    imputed: dict[str, int]

    @property
    def sources(self) -> list[str]:
        return sorted(self.first)

    def cost(self, sources: Iterable[str]) -> tuple[float, int]:
        chosen = list(sources)
        return sum(self.seconds[s] for s in chosen), sum(self.imputed[s] for s in chosen)


def _require(df: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise TaskTransferError(f"{what} lacks columns {missing}; it needs {columns} (has {list(df.columns)})")


def _run_costs(gains: pd.DataFrame, seconds: pd.DataFrame | None) -> tuple[pd.Series, pd.Series]:
    """Per run of ``gains``: its job-seconds (imputed where missing) and whether it was imputed."""
    keys = ["source", "target", "seed"]
    timed = gains[keys].copy()
    timed["seconds"] = math.nan
    if seconds is not None and len(seconds):
        _require(seconds, SECONDS_COLUMNS, "the job-seconds table")
        known = seconds.assign(source=seconds["source"].astype(str), target=seconds["target"].astype(str))
        timed = gains[keys].merge(known[SECONDS_COLUMNS].drop_duplicates(keys), on=keys, how="left")
    missing = timed["seconds"].isna()
    by_target = timed.groupby("target")["seconds"].transform("mean")
    filled = timed["seconds"].fillna(by_target).fillna(timed["seconds"].mean())
    return filled.set_axis(gains.index), missing.set_axis(gains.index).astype(int)


def targets_of(per_seed: pd.DataFrame, seconds: pd.DataFrame | None = None) -> list[Target]:
    """Each target that can be cross-fitted (two or more seeds, a source in both halves)."""
    _require(per_seed, ["source", "target", "seed", "gain"], "the per-seed gains table")
    gains = per_seed.dropna(subset=["gain"]).assign(
        source=lambda d: d["source"].astype(str), target=lambda d: d["target"].astype(str)
    )
    gains = gains[~gains["source"].str.startswith("_")]  # a control init is no candidate
    cost, imputed = _run_costs(gains, seconds)
    gains = gains.assign(cost=cost, imputed=imputed)
    out = []
    for target, group in gains.groupby("target", sort=True):
        first, second = split_seeds(group["seed"])
        if not second:
            continue
        halves = [group[group["seed"].isin(h)].groupby("source")["gain"].mean() for h in (first, second)]
        both = sorted(set(halves[0].index) & set(halves[1].index))
        if not both:
            continue
        pairs = group[group["source"].isin(both)].groupby("source")
        out.append(Target(
            str(target),
            {s: float(halves[0][s]) for s in both},
            {s: float(halves[1][s]) for s in both},
            {str(s): float(v) for s, v in pairs["cost"].sum(min_count=1).items()},
            {str(s): int(v) for s, v in pairs["imputed"].sum().items()},
        ))
    return out


def cross_fitted_best(target: Target, top: list[str]) -> tuple[float, str, str]:
    """The cross-fitted gain of the best of ``top``, and the picks on the first and second half."""
    pick_first = metrics.top_k({s: target.first[s] for s in top}, 1)[0]
    pick_second = metrics.top_k({s: target.second[s] for s in top}, 1)[0]
    return 0.5 * (target.second[pick_first] + target.first[pick_second]), pick_first, pick_second


def expected_random(target: Target, k: int) -> float:
    """Exact expectation of the cross-fitted best of a uniformly random k-subset (module docstring)."""
    n = len(target.first)
    if not 1 <= k <= n:
        raise ValueError(f"cannot pick {k} of {n} sources")

    def one_way(choose: dict[str, float], score: dict[str, float]) -> float:
        order = metrics.top_k(choose, n)
        return sum(math.comb(n - 1 - j, k - 1) * score[s] for j, s in enumerate(order)) / math.comb(n, k)

    return 0.5 * (one_way(target.first, target.second) + one_way(target.second, target.first))


def method_orders(rankings: pd.DataFrame) -> dict[str, dict[str, list[str]]]:
    """method -> target -> its sources best first (ties by source name); brute_force left out."""
    _require(rankings, ["method", "target", "source", "score"], "the rankings table")
    ranked = rankings[rankings["method"].astype(str) != BRUTE_FORCE]
    ranked = ranked.assign(source=ranked["source"].astype(str), target=ranked["target"].astype(str))
    ranked = ranked.sort_values(["method", "target", "score", "source"], ascending=[True, True, False, True])
    out: dict[str, dict[str, list[str]]] = {}
    for (method, target), group in ranked.groupby(["method", "target"], sort=True):
        out.setdefault(str(method), {})[str(target)] = list(dict.fromkeys(group["source"]))
    return out


def _row(method: str, k: int, target: Target, top: list[str], gain: float, picks: str) -> dict:
    seconds, imputed = target.cost(top)
    return {"method": method, "k": k, "target": target.name, "sources": len(target.first), "top_k": ",".join(top),
            "picks": picks, "gain": gain, "seconds": seconds, "seconds_imputed": imputed}


def _target_rows(target: Target, orders: dict[str, dict[str, list[str]]]) -> list[dict]:
    """One target's rows: each method at k = 1 .. its ranked candidates, brute force, random."""
    rows = []
    for method, by_target in orders.items():
        order = [s for s in by_target.get(target.name, []) if s in target.first]
        for k in range(1, len(order) + 1):
            gain, a, b = cross_fitted_best(target, order[:k])
            rows.append(_row(method, k, target, order[:k], gain, f"{a} | {b}"))
    n, everything = len(target.first), target.sources
    mean_cost = target.cost(everything)[0] / n
    for k in range(1, n + 1):
        rows.append({"method": RANDOM_EXPECTED, "k": k, "target": target.name, "sources": n, "top_k": "(random)",
                     "picks": "(expectation)", "gain": expected_random(target, k), "seconds": k * mean_cost,
                     "seconds_imputed": math.nan})
    gain, a, b = cross_fitted_best(target, everything)
    rows.append(_row(BRUTE_FORCE_XFIT, n, target, everything, gain, f"{a} | {b}"))
    return rows


def budget_table(
    per_seed: pd.DataFrame, rankings: pd.DataFrame | None, seconds: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per method, k and target: the cross-fitted best-of-top-k gain and its job-seconds.

    ``per_seed``: source, target, seed, gain (one row per transfer run); ``rankings``: method,
    target, source, score; ``seconds``: source, target, seed, seconds (:func:`gather_run_seconds`).
    Columns :data:`COLUMNS`; ``brute_force_gain`` / ``brute_force_seconds`` repeat the target's
    oracle on every row. Empty (with the columns) where no target has two seeds.
    """
    orders = method_orders(rankings) if rankings is not None and len(rankings) else {}
    rows = []
    for target in targets_of(per_seed, seconds):
        oracle, _, _ = cross_fitted_best(target, target.sources)
        cost, _ = target.cost(target.sources)
        rows += [{**row, "brute_force_gain": oracle, "brute_force_seconds": cost} for row in _target_rows(target, orders)]
    table = pd.DataFrame(rows, columns=COLUMNS)
    if table.empty:
        return table
    rank = {m: i for i, m in enumerate(method_order(table["method"].unique()))}
    table = table.assign(_order=table["method"].map(rank)).sort_values(["_order", "k", "target"])
    return table.drop(columns="_order").reset_index(drop=True)


SUMMARY_COLUMNS = [
    "method", "k", "targets", "gain", "gain_lo", "gain_hi", "brute_force_gain", "gain_share", "gain_share_lo",
    "gain_share_hi", "minus_brute_force", "minus_brute_force_lo", "minus_brute_force_hi", "seconds",
    "brute_force_seconds", "seconds_share",
]  # fmt: skip


def share_interval(
    part: np.ndarray, whole: np.ndarray, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """mean(part) / mean(whole) over targets, with the percentile interval of the ratio from a
    bootstrap over targets (the draws of :func:`tasktransfer.analysis.versus_baseline.bootstrap_mean`,
    seeded; the same draws of targets for both means: a ratio has no t form).

    The ratio is defined where mean(whole) > 0 (NaN otherwise: there is no gain to share). Draws
    where it is not are left out of the interval while they are at most (1 - level) / 2 of all;
    beyond that, and with one target, the interval is NaN.
    """
    if not len(part) or whole.mean() <= 0:
        return math.nan, math.nan, math.nan
    point = float(part.mean() / whole.mean())
    if len(part) == 1:
        return point, math.nan, math.nan
    draws = np.random.default_rng(seed).integers(0, len(part), size=(n_boot, len(part)))
    num, den = part[draws].mean(axis=1), whole[draws].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    if (den <= 0).mean() > alpha:
        return point, math.nan, math.nan
    low, high = np.quantile(num[den > 0] / den[den > 0], [alpha, 1.0 - alpha])
    return point, float(low), float(high)


def _summary_row(method: str, k: int, group: pd.DataFrame, n_boot: int, seed: int, level: float) -> dict:
    gains, oracle = group["gain"].to_numpy(float), group["brute_force_gain"].to_numpy(float)
    _, low, high, _ = t_interval(gains, level)
    share, share_low, share_high = share_interval(gains, oracle, n_boot, seed, level)
    # the paired difference from brute force on the same targets: it keeps a t interval where the
    # share has none (brute force's own mean gain near zero makes the ratio unbounded)
    minus, minus_low, minus_high, _ = t_interval(gains - oracle, level)
    seconds, whole = group["seconds"].mean(), group["brute_force_seconds"].mean()
    return {
        "method": method, "k": k, "targets": len(group), "gain": float(gains.mean()), "gain_lo": low,
        "gain_hi": high, "brute_force_gain": float(oracle.mean()), "gain_share": share,
        "gain_share_lo": share_low, "gain_share_hi": share_high, "minus_brute_force": minus,
        "minus_brute_force_lo": minus_low, "minus_brute_force_hi": minus_high, "seconds": seconds,
        "brute_force_seconds": whole, "seconds_share": seconds / whole if whole > 0 else math.nan,
    }  # fmt: skip


def budget_summary(table: pd.DataFrame, level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per method and k, over the targets that have that k: the mean cross-fitted gain with its
    Student-t interval over targets (as every mean over targets of the evaluation:
    :func:`tasktransfer.analysis.versus_baseline.t_interval`), its share of the cross-fitted brute
    force's mean gain
    (:func:`share_interval`), the paired difference from brute force's gain with its t interval,
    the mean job-seconds and their share of brute force's (a ratio of
    means over the same targets)."""
    if not 0.0 < level < 1.0:
        raise TaskTransferError(f"level must lie between 0 and 1, got {level}")
    rows = [
        _summary_row(str(method), int(k), group, n_boot, seed, level)
        for (method, k), group in table.groupby(["method", "k"], sort=False)
    ]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
