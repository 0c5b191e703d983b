"""Which (source, target) transfer pairs a run needs.

Scorer-training pairs are a seeded sample of M ordered pairs (i != j) among the source tasks.
Each pair gets a key from a hash of (seed, source, target) and the M smallest keys win. So:
- raising M only adds pairs (the first M stay the first M);
- adding a task only inserts its own pairs into the order, so it never brings in an old pair
  that was not sampled before (it may push some out, which are then simply unused).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import pandas as pd

Pair = tuple[str, str]


def pair_key(seed: int, source: str, target: str) -> str:
    return hashlib.sha256(f"{seed}\x00{source}\x00{target}".encode()).hexdigest()


def sample_pairs(sources: Iterable[str], m: int, seed: int) -> list[Pair]:
    """M ordered source pairs, in sampling order (prefix-stable in M)."""
    tasks = sorted(set(sources))
    candidates = [(s, t) for s in tasks for t in tasks if s != t]
    candidates.sort(key=lambda p: pair_key(seed, *p))
    return candidates[: max(0, m)]


def subsample_pairs(pairs: Iterable[Pair], m: int, seed: int) -> list[Pair]:
    """M of the given pairs in the seeded order of :func:`sample_pairs` (prefix-stable in M): the M
    analysis trains on the first M of the main scorer's pairs, sampled or designed alike (of a
    sample of M' >= M pairs, these are exactly ``sample_pairs(sources, M, seed)``)."""
    ordered = sorted(set(pairs), key=lambda p: pair_key(seed, *p))
    return ordered[: max(0, m)]


def mean_gains(gains: pd.DataFrame) -> pd.DataFrame:
    """One row per pair: mean r1, r2 and gain over seeds, with the gain's spread."""
    grouped = gains.groupby(["source", "target"], sort=True)
    out = grouped.agg(
        r1=("r1", "mean"), r2=("r2", "mean"), gain=("gain", "mean"), gain_sd=("gain", "std"), seeds=("seed", "nunique")
    )
    out["gain_sd"] = out["gain_sd"].fillna(0.0)
    return out.reset_index()


def brute_force_pairs(sources: Iterable[str], targets: Iterable[str]) -> list[Pair]:
    """Every source into every target (the upper bound that methods are judged against)."""
    return [(s, t) for t in sorted(set(targets)) for s in sorted(set(sources)) if s != t]


def needed_pairs(sources: Iterable[str], targets: Iterable[str], m: int, seed: int) -> list[Pair]:
    """All pairs a run trains, each once, sorted (one transfer job per pair)."""
    return sorted(set(sample_pairs(sources, m, seed)) | set(brute_force_pairs(sources, targets)))
