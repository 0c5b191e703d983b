"""The paper's analyses (its Section 4.6, Figures 2 to 4 and Table 3) as tables of a finished run.

All of them read the main run's per-seed transfer records; none trains anything itself.

- :func:`pick_quality` (beta, M and unseen task type): for each ranking variant (a scorer trained
  with another beta, on the first M pairs, or without a task type; or a baseline), the gain of
  its best-of-top-k pick and its Spearman correlation with the true gains, each with an interval
  over the run's seeds;
- :func:`size_table` (target training size, Figure 4): the gain of each method's top-1 source at
  several target training sizes;
- :func:`finetune_table` (full fine-tuning, Table 3): the target fully fine-tuned from the
  pretrained weights and after fine-tuning on a method's chosen source.

**Intervals over seeds.** A run's seeds pair every transfer with a no-transfer run of the same
seed, so each seed gives one value of a statistic (a pick's gain, a mean over targets, a
Spearman correlation); the interval is Student's t interval of the mean of those per-seed values
(:func:`seed_interval`): mean +- t_{n-1} * sd / sqrt(n). It describes seed noise only (not the
sampling error of a finite dev set, which gain_intervals.tsv adds for single pairs) and is empty
(NaN) with one seed.

**Which source a method picks** never depends on a seed: best-of-top-k takes the method's k best
sources (its scores, ties by name) and keeps the one with the best mean score over seeds after
transfer (as in evaluation.py); the per-seed values are then that source's gains at each seed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tasktransfer import metrics

# the analyses' shared names live with their plan, which the workflow imports at parse time
# without this module's numpy, pandas and scipy
from tasktransfer.analysis.ablation_plan import BRUTE_FORCE, PRETRAINED, SIZE_METHODS
from tasktransfer.errors import TaskTransferError


def seed_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean of per-seed values and its Student-t interval; (mean, NaN, NaN) with fewer than 2 values."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(x.mean())
    if len(x) < 2:
        return mean, float("nan"), float("nan")
    from scipy.stats import t

    half = float(t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return mean, mean - half, mean + half


def _require(df: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise TaskTransferError(f"{what} lacks columns {missing}; it needs {columns} (has {list(df.columns)})")


def ordered_sources(scores: dict[str, float]) -> list[str]:
    """Sources best first by score, ties by name (the order of evaluation.py and selection.py)."""
    return metrics.top_k(scores, len(scores))


def brute_force_rankings(gains: pd.DataFrame, targets: Sequence[str]) -> pd.DataFrame:
    """The upper bound as a ranking: every source scored by its mean gain over seeds."""
    means = gains.groupby(["target", "source"], sort=True)["gain"].mean().reset_index()
    means = means[means.target.isin(list(targets))]
    return means.rename(columns={"gain": "score"}).assign(variant=BRUTE_FORCE)[["variant", "target", "source", "score"]]


@dataclass(frozen=True)
class _Records:
    """The transfer records, indexed the ways :func:`pick_quality` reads them."""

    seeds: list
    by_pair: pd.DataFrame  # indexed (target, source, seed)
    mean_r2: pd.Series  # (target, source) -> the mean over seeds
    mean_gain: pd.Series

    @classmethod
    def of(cls, gains: pd.DataFrame) -> _Records:
        return cls(
            seeds=sorted(gains.seed.unique()),
            by_pair=gains.set_index(["target", "source", "seed"]).sort_index(),
            mean_r2=gains.groupby(["target", "source"])["r2"].mean(),
            mean_gain=gains.groupby(["target", "source"])["gain"].mean(),
        )


def _variant_scores(variant: str, by_variant: pd.DataFrame, records: _Records) -> dict[str, dict[str, float]]:
    """target -> source -> the variant's score, for the sources with a transfer result on the target."""
    mean_r2 = records.mean_r2
    per_target = {}
    for target, part in by_variant.groupby("target", sort=True):
        known = set(mean_r2.loc[target].index) if target in mean_r2.index.get_level_values(0) else set()
        scores = {str(s): float(v) for s, v in zip(part.source, part.score) if str(s) in known}
        if len(scores) < 1:
            raise TaskTransferError(f"variant {variant} ranks no source of target {target} that has a transfer result")
        per_target[str(target)] = scores
    return per_target


def _seed_spearman(scores: dict[str, float], target: str, seed, records: _Records) -> float | None:
    """Spearman of the scores with one seed's gains, over the sources that have that seed (None under 2)."""
    by_pair = records.by_pair
    names = sorted(scores)
    seed_gains = [
        float(by_pair.loc[(target, s, seed), "gain"]) if (target, s, seed) in by_pair.index else np.nan for s in names
    ]
    have = [i for i, g in enumerate(seed_gains) if not np.isnan(g)]
    if len(have) < 2:
        return None
    return metrics.spearman([scores[names[i]] for i in have], [seed_gains[i] for i in have])


def _quality_at_k(
    variant: str, k: int, per_target: dict[str, dict[str, float]], records: _Records, level: float
) -> dict:
    """One row of :func:`pick_quality`: the variant's best-of-top-k pick and Spearman, over its targets."""
    gain_by_seed: dict[int, list[float]] = {s: [] for s in records.seeds}
    rho_by_seed: dict[int, list[float]] = {s: [] for s in records.seeds}
    rho_means, regrets = [], []
    for target, scores in per_target.items():
        order = ordered_sources(scores)
        top = order[: min(k, len(order))]
        # the pick by mean score over seeds: the same source at every seed
        chosen = max(top, key=lambda s: (float(records.mean_r2.loc[(target, s)]), s))
        names = sorted(scores)
        for seed in records.seeds:
            if (target, chosen, seed) in records.by_pair.index:
                gain_by_seed[seed].append(float(records.by_pair.loc[(target, chosen, seed), "gain"]))
            rho = _seed_spearman(scores, target, seed, records)
            if rho is not None:
                rho_by_seed[seed].append(rho)
        if len(names) >= 2:
            mean_gains = [float(records.mean_gain.loc[(target, s)]) for s in names]
            rho_means.append(metrics.spearman([scores[s] for s in names], mean_gains))
        true = {s: float(records.mean_r2.loc[(target, s)]) for s in names}
        regrets.append(metrics.regret_at_k(scores, true, k))
    gain, gain_lo, gain_hi = seed_interval([np.mean(v) for v in gain_by_seed.values() if v], level)
    rho, rho_lo, rho_hi = seed_interval([np.mean(v) for v in rho_by_seed.values() if v], level)
    # a correlation lies in [-1, 1]: so does its interval (few seeds make t intervals wide)
    rho_lo, rho_hi = max(rho_lo, -1.0), min(rho_hi, 1.0)
    return {
        "variant": variant,
        "k": k,
        "targets": len(per_target),
        "seeds": len(records.seeds),
        "gain": gain,
        "gain_lo": gain_lo,
        "gain_hi": gain_hi,
        "spearman": rho,
        "spearman_lo": rho_lo,
        "spearman_hi": rho_hi,
        "spearman_of_means": float(np.mean(rho_means)) if rho_means else float("nan"),
        "regret": float(np.mean(regrets)),
    }


def pick_quality(rankings: pd.DataFrame, gains: pd.DataFrame, ks: Sequence[int], level: float = 0.95) -> pd.DataFrame:
    """Per ranking variant and k: the gain of its best-of-top-k pick and its Spearman, with seed intervals.

    ``rankings``: variant, target, source, score (one variant's scores of the pool for a target);
    ``gains``: the transfer records, one row per (source, target, seed) with r2 and gain. Only the
    sources with a transfer result on a target count (the ranking's other rows are ignored).

    Columns: variant, k, targets, seeds; ``gain`` (mean over targets of the pick's gain, the mean of
    the per-seed means) with ``gain_lo`` / ``gain_hi``; ``spearman`` (per seed: Spearman of the
    variant's scores with that seed's gains, mean over targets; then the mean over seeds) with
    ``spearman_lo`` / ``spearman_hi`` (clipped to [-1, 1]); ``spearman_of_means`` (against the seed-mean gains, as
    Table 2) and ``regret`` (Regret@k on the seed-mean scores, in %).
    """
    _require(rankings, ["variant", "target", "source", "score"], "the rankings table")
    _require(gains, ["source", "target", "seed", "r2", "gain"], "the gains table")
    records = _Records.of(gains)
    rows = []
    for variant, by_variant in rankings.groupby("variant", sort=False):
        per_target = _variant_scores(variant, by_variant, records)
        rows += [_quality_at_k(variant, k, per_target, records, level) for k in sorted({int(k) for k in ks})]
    return pd.DataFrame(rows)


def _with_reference(rankings: pd.DataFrame, gains: pd.DataFrame) -> pd.DataFrame:
    targets = sorted(rankings.target.unique())
    return pd.concat([rankings, brute_force_rankings(gains, targets)], ignore_index=True)


def _only_targets(gains: pd.DataFrame, rankings: pd.DataFrame) -> pd.DataFrame:
    return gains[gains.target.isin(set(rankings.target))]


def sweep_table(
    key: str,
    rankings: dict[float, pd.DataFrame],
    gains: pd.DataFrame,
    ks: Sequence[int],
    level: float = 0.95,
) -> pd.DataFrame:
    """Beta (Figure 2) or M (Figure 3): one scorer per value of ``key``, plus brute force.

    ``rankings`` maps each value (a beta, an M) to that scorer's rankings of the targets (method,
    target, source, score). Rows: ``key`` (empty for brute force), method (scorer or
    brute_force), then the columns of :func:`pick_quality`.
    """
    if not rankings:
        raise TaskTransferError(f"no rankings to compare over {key}")
    labelled = pd.concat(
        [r.assign(variant=f"{key}={value}") for value, r in rankings.items()], ignore_index=True
    )
    gains = _only_targets(gains, labelled)
    quality = pick_quality(_with_reference(labelled, gains), gains, ks, level)
    values = {f"{key}={value}": value for value in rankings}
    quality.insert(0, "method", ["scorer" if v in values else v for v in quality.variant])
    column = pd.Series([values.get(v, np.nan) for v in quality.variant], dtype=float)
    if all(float(v).is_integer() for v in values.values()):  # M: integers, empty for brute force
        column = column.astype("Int64")
    quality.insert(0, key, column)
    out = quality.drop(columns=["variant"])
    scorer = out[out.method == "scorer"].sort_values([key, "k"])
    return pd.concat([scorer, out[out.method != "scorer"]], ignore_index=True)


WITHOUT_TYPE = "scorer_without_type"


def unseen_type_table(
    rankings: dict[str, dict[str, pd.DataFrame]],
    gains: pd.DataFrame,
    ks: Sequence[int],
    level: float = 0.95,
    skipped: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Section 4.6.2: per task type, the scorer trained without that type against the full scorer and
    the baselines, on the targets of that type.

    ``rankings[type][method]``: rankings of that type's targets (method ``scorer_without_type``
    for the scorer that never saw a pair touching the type, ``scorer`` for the main one, and any
    baselines). ``skipped``: types that could not be analysed, with the reason (a row each).
    Rows: type, method, then the columns of :func:`pick_quality` (brute force added per type).
    """
    parts = []
    for kind in sorted(rankings):
        labelled = pd.concat([r.assign(variant=m) for m, r in sorted(rankings[kind].items())], ignore_index=True)
        type_gains = _only_targets(gains, labelled)
        quality = pick_quality(_with_reference(labelled, type_gains), type_gains, ks, level)
        quality = quality.rename(columns={"variant": "method"})
        quality.insert(0, "type", kind)
        quality.insert(2, "note", "")
        parts.append(quality)
    for kind, why in sorted((skipped or {}).items()):
        parts.append(pd.DataFrame([{"type": kind, "method": WITHOUT_TYPE, "note": why}]))
    if not parts:
        return pd.DataFrame(columns=["type", "method", "note", "k", "targets", "seeds", "gain"])
    table = pd.concat(parts, ignore_index=True)
    order = {WITHOUT_TYPE: 0, "scorer": 1, BRUTE_FORCE: 3}
    table["_order"] = [order.get(m, 2) for m in table.method]
    table = table.sort_values(["type", "_order", "method", "k"], kind="stable").drop(columns=["_order"])
    return table.reset_index(drop=True)


# --- target training size (Figure 4) -------------------------------------------------------------
_SIZE_SEGMENT = re.compile(r"^n(\d+|all)$")


def size_of_path(path: str) -> str:
    """The target training size a workflow path names (its ``n{size}`` folder), e.g. ``64`` or ``all``."""
    for part in reversed(str(path).replace("\\", "/").split("/")):
        m = _SIZE_SEGMENT.match(part)
        if m:
            return m.group(1)
    raise TaskTransferError(f"{path} names no target training size (a folder n<size>, e.g. n64)")


def top_picks(rankings: pd.DataFrame, methods: Sequence[str] = SIZE_METHODS) -> pd.DataFrame:
    """Each method's top-1 source per target (rows: method, target, source)."""
    _require(rankings, ["method", "target", "source", "score"], "the rankings table")
    rows = []
    for (method, target), part in rankings.groupby(["method", "target"], sort=True):
        if method not in methods:
            continue
        best = ordered_sources({str(s): float(v) for s, v in zip(part.source, part.score)})[0]
        rows.append({"method": method, "target": target, "source": best})
    missing = sorted(set(methods) - {r["method"] for r in rows})
    if missing:
        raise TaskTransferError(f"no ranking of methods {missing}; the picks need one per method")
    return pd.DataFrame(rows, columns=["method", "target", "source"])


def _size_key(size) -> float:
    return math.inf if str(size) == "all" else float(size)


def size_table(transfers: pd.DataFrame, picks: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Figure 4: the gain of each method's top-1 source at each target training size.

    ``transfers``: one row per transfer run (size, source, target, seed, r1, r2, gain), r1 being
    the no-transfer run at the same size and seed; ``picks``: method, target, source. Rows per
    (size, target, method): source, r1, r2 and gain (means over seeds), gain_lo / gain_hi (seed
    interval of the paired gains), seeds; and per (size, method) a row with target ``(mean)``:
    the mean over targets, its interval over seeds of the per-seed means.
    """
    _require(transfers, ["size", "source", "target", "seed", "r1", "r2", "gain"], "the transfer runs")
    _require(picks, ["method", "target", "source"], "the picks table")
    runs = transfers.assign(size=transfers["size"].astype(str))
    rows, means = [], []
    for size in sorted(runs["size"].unique(), key=_size_key):
        at = runs[runs["size"] == size]
        for method in [m for m in SIZE_METHODS if m in set(picks.method)] + sorted(set(picks.method) - set(SIZE_METHODS)):
            per_seed: dict[int, list[float]] = {}
            chosen = picks[picks.method == method]
            for pick in chosen.itertuples(index=False):
                got = at[(at.source == pick.source) & (at.target == pick.target)]
                if got.empty:
                    raise TaskTransferError(
                        f"no transfer run {pick.source} -> {pick.target} at size {size} ({method}'s pick); run its job"
                    )
                gain, lo, hi = seed_interval(list(got.gain), level)
                rows.append(
                    {
                        "size": size,
                        "target": pick.target,
                        "method": method,
                        "source": pick.source,
                        "r1": float(got.r1.mean()),
                        "r2": float(got.r2.mean()),
                        "gain": gain,
                        "gain_lo": lo,
                        "gain_hi": hi,
                        "seeds": int(got.seed.nunique()),
                    }
                )
                for seed, g in zip(got.seed, got.gain):
                    per_seed.setdefault(int(seed), []).append(float(g))
            full = [v for v in per_seed.values() if len(v) == len(chosen)]
            gain, lo, hi = seed_interval([float(np.mean(v)) for v in full], level)
            means.append(
                {
                    "size": size,
                    "target": "(mean)",
                    "method": method,
                    "source": "",
                    "r1": float(np.mean([r["r1"] for r in rows if r["size"] == size and r["method"] == method])),
                    "r2": float(np.mean([r["r2"] for r in rows if r["size"] == size and r["method"] == method])),
                    "gain": gain,
                    "gain_lo": lo,
                    "gain_hi": hi,
                    "seeds": len(full),
                }
            )
    return pd.DataFrame(rows + means)


# --- full fine-tuning (Table 3) ------------------------------------------------------------------
def finetune_table(runs: pd.DataFrame, picks: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Table 3: each target fully fine-tuned (a) from the pretrained weights and (b) after fine-tuning
    on a method's chosen source; the gain is (b) - (a), paired by seed.

    ``runs``: init (``_pretrained`` or the intermediate source), target, seed, score; ``picks``:
    method, target, source. Rows per (target, method): source, no_transfer (a, mean over seeds),
    score (b), gain with gain_lo / gain_hi (seed interval), seeds; and per method a row with
    target ``(mean)`` (mean over targets; interval over seeds of the per-seed means).
    """
    _require(runs, ["init", "target", "seed", "score"], "the fine-tuning runs")
    _require(picks, ["method", "target", "source"], "the picks table")
    score = {(str(r.init), str(r.target), int(r.seed)): float(r.score) for r in runs.itertuples(index=False)}
    rows, per_method = [], {}
    for pick in picks.sort_values(["method", "target"]).itertuples(index=False):
        seeds = sorted(s for (i, t, s) in score if i == PRETRAINED and t == pick.target)
        paired = [s for s in seeds if (pick.source, pick.target, s) in score]
        if not paired:
            raise TaskTransferError(
                f"no fine-tuning runs of {pick.target} both from the pretrained weights and after {pick.source}; run them"
            )
        base = [score[(PRETRAINED, pick.target, s)] for s in paired]
        after = [score[(pick.source, pick.target, s)] for s in paired]
        gain, lo, hi = seed_interval([a - b for a, b in zip(after, base)], level)
        rows.append(
            {
                "target": pick.target,
                "method": pick.method,
                "source": pick.source,
                "no_transfer": float(np.mean(base)),
                "score": float(np.mean(after)),
                "gain": gain,
                "gain_lo": lo,
                "gain_hi": hi,
                "seeds": len(paired),
            }
        )
        for s, a, b in zip(paired, after, base):
            per_method.setdefault(pick.method, {}).setdefault(s, []).append(a - b)
    for method, by_seed in sorted(per_method.items()):
        n = int((picks.method == method).sum())
        full = [v for v in by_seed.values() if len(v) == n]
        gain, lo, hi = seed_interval([float(np.mean(v)) for v in full], level)
        mine = [r for r in rows if r["method"] == method]
        rows.append(
            {
                "target": "(mean)",
                "method": method,
                "source": "",
                "no_transfer": float(np.mean([r["no_transfer"] for r in mine])),
                "score": float(np.mean([r["score"] for r in mine])),
                "gain": gain,
                "gain_lo": lo,
                "gain_hi": hi,
                "seeds": len(full),
            }
        )
    return pd.DataFrame(rows)
