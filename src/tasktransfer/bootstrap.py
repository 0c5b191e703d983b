"""A gain's interval: the paired bootstrap over seeds and dev examples.

A gain compares two runs scored on the same dev set (transfer vs no transfer, or transfer vs
the control init), so it is bootstrapped *paired*: each replicate draws seeds with replacement
(the seed spread) and dev examples with replacement (the sampling error of a finite dev set),
rescoring both runs of each drawn seed on the same drawn examples. The percentile interval of
the replicates is the gain's interval; a gain whose interval holds 0 is "inside noise".

It sits below the subpackages because both the workflow's analyses (analysis/uncertainty.py,
analysis/gather.py) and ``select --pool`` (pool/select_summary.py) interval their gains with it.

Speed: a task format's own score whose metric sums over examples (accuracy, token accuracy, entity
F1, F1a, QA F1 and exact match, MCC, macro-F1: :mod:`tasktransfer.score_sums`) is rescored from
per-example statistics, all replicates at once, 20-40x faster than rebuilding and rescoring the
drawn lists (bench/bootstrap_speed.py); any other score keeps that generic path. The draws are
made in one fixed order either way and the arithmetic is the metric's, so both paths give the
same interval to the last bit (tests/test_score_sums.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Protocol

import numpy as np

from tasktransfer.score_sums import SummedScore, summed_score

Score = Callable[[list, list[dict]], float]

#: drawn example indices held at once on the fast path (8 MB; a block of a 10k-example dev set is
#: 104 draws)
BLOCK_ELEMENTS = 2**20


@dataclass(frozen=True)
class Interval:
    mean: float
    lo: float
    hi: float
    se: float

    @property
    def inside_noise(self) -> bool:
        return self.lo <= 0.0 <= self.hi


def paired_bootstrap(
    score: Score,
    rows: Sequence[dict],
    new: Sequence[Sequence],
    base: Sequence[Sequence],
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Interval of mean_k score(new[k]) - score(base[k]) over seeds k and dev examples.

    ``new[k]`` and ``base[k]`` are seed k's per-example dev predictions of the two runs;
    ``score(predictions, rows)`` is the task metric x100. A task format's own score that sums over
    examples (:mod:`tasktransfer.score_sums`) rescores the replicates from per-example statistics,
    any other score by rebuilding the drawn lists; both see the same draws and give the same numbers.
    """
    rows = _checked(rows, new, base)
    gain: _Gain = _SummedGain.of(score, rows, new, base) or _GenericGain(score, rows, new, base)
    point = float(np.mean(gain.seed_gains()))
    replicates = gain.replicates(_draws(np.random.default_rng(seed), len(new), len(rows), n_boot))
    alpha = (1 - level) / 2
    lo, hi = np.quantile(replicates, [alpha, 1 - alpha])
    return Interval(point, float(lo), float(hi), float(replicates.std(ddof=1)) if n_boot > 1 else 0.0)


def _checked(rows: Sequence[dict], new: Sequence[Sequence], base: Sequence[Sequence]) -> list[dict]:
    if len(new) != len(base) or not new:
        raise ValueError(f"need the same number (>0) of seeds on both sides, got {len(new)} and {len(base)}")
    rows = list(rows)
    n = len(rows)
    for preds in [*new, *base]:
        if len(preds) != n:
            raise ValueError(f"predictions cover {len(preds)} dev examples, the dev set has {n}; rerun the job")
    return rows


Draws = Iterator[tuple[np.ndarray, np.ndarray]]


def _draws(rng: np.random.Generator, seeds: int, n: int, n_boot: int) -> Draws:
    """Each replicate's drawn seeds, then its drawn examples: one fixed order of the generator's
    calls, whichever way the gain rescores them, so both ways see the same replicates."""
    for _ in range(n_boot):
        ks = rng.integers(0, seeds, seeds) if seeds > 1 else np.zeros(1, dtype=int)
        yield ks, rng.integers(0, n, n)


class _Gain(Protocol):
    def seed_gains(self) -> list[float]:
        """Per seed, score(new) - score(base) on the whole dev set."""

    def replicates(self, draws: Draws) -> np.ndarray:
        """Per draw, the mean over its seeds of the gain on its examples."""


class _GenericGain:
    """Any score: each replicate rescores the drawn predictions against the drawn rows."""

    def __init__(self, score: Score, rows: list[dict], new: Sequence[Sequence], base: Sequence[Sequence]):
        self.score, self.rows, self.new, self.base = score, rows, new, base

    def seed_gains(self) -> list[float]:
        return [self.score(list(a), self.rows) - self.score(list(b), self.rows) for a, b in zip(self.new, self.base)]

    def replicates(self, draws: Draws) -> np.ndarray:
        return np.array([self._replicate(ks, idx) for ks, idx in draws], dtype=np.float64)

    def _replicate(self, ks: np.ndarray, idx: np.ndarray) -> float:
        sub_rows = [self.rows[i] for i in idx]
        diffs = []
        for k in ks:
            a = [self.new[k][i] for i in idx]
            b = [self.base[k][i] for i in idx]
            diffs.append(self.score(a, sub_rows) - self.score(b, sub_rows))
        return np.mean(diffs)


class _SummedGain:
    """A score that sums per-example statistics: each run's statistics are computed once, and the
    replicates sum their drawn rows all at once (no lists rebuilt, no metric over Python objects).
    Every run is scored on every draw, drawn seed or not: cheaper than grouping draws by seed."""

    def __init__(self, summed: SummedScore, new: list[np.ndarray], base: list[np.ndarray], n: int):
        self.summed, self.new, self.base, self.n = summed, new, base, n

    @classmethod
    def of(
        cls, score: Score, rows: list[dict], new: Sequence[Sequence], base: Sequence[Sequence]
    ) -> _SummedGain | None:
        """The fast form where ``score`` has one and every run's predictions fit it, else None."""
        summed = summed_score(score, rows) if rows else None
        if summed is None:
            return None
        stats = [summed.stats(list(p)) for p in [*new, *base]]
        if any(s is None for s in stats):
            return None
        return cls(summed, stats[: len(new)], stats[len(new) :], len(rows))

    def seed_gains(self) -> list[float]:
        every = np.arange(self.n)[None, :]  # one draw: the dev set in its order
        one = self.summed.scores
        return [float(one(a, every)[0] - one(b, every)[0]) for a, b in zip(self.new, self.base)]

    def replicates(self, draws: Draws) -> np.ndarray:
        per_block = max(1, BLOCK_ELEMENTS // max(self.n, 1))
        blocks = []
        while block := list(islice(draws, per_block)):
            blocks.append(self._block(np.array([k for k, _ in block]), np.array([i for _, i in block])))
        return np.concatenate(blocks) if blocks else np.empty(0)

    def _block(self, ks: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """The replicates of a block of draws: ``ks`` (draw, seed), ``idx`` (draw, example)."""
        new = np.stack([self.summed.scores(s, idx) for s in self.new], axis=1)  # (draw, seed)
        base = np.stack([self.summed.scores(s, idx) for s in self.base], axis=1)
        at = np.arange(len(idx))[:, None]
        # float64 differences, then each row's mean: the additions np.mean makes on the generic
        # path's list of a replicate's differences
        return (new[at, ks] - base[at, ks]).mean(axis=1)
