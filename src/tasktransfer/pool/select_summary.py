"""What ``select --pool`` concludes from its transfers: each candidate's gain over no transfer with
an interval, the choice, and the table it prints and writes. Pure functions over the runs' dev
predictions; the transfers themselves are :mod:`tasktransfer.pool.select_source`.

A candidate's gain is mean over seeds of r2 - r1, where r1 is the new task's own prompt (tuned from
scratch at the same seed) and r2 the transfer from the source's pool prompt of that seed, both
scored on the same dev examples. Its interval is the paired bootstrap of
:func:`tasktransfer.bootstrap.paired_bootstrap` (seeds and dev examples drawn with replacement, both
runs of a drawn seed rescored on the drawn examples): it holds the dev set's sampling error and the
seed spread, not the error of having chosen the best of K on the same runs (the workflow's
cross-fitted best-of-top-k measures that; docs/selection.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from tasktransfer.bootstrap import Interval, paired_bootstrap

Score = Callable[[list, list[dict]], float]


@dataclass(frozen=True)
class Runs:
    """One side of a comparison: per seed, the run's dev score and per-example dev predictions."""

    scores: dict[int, float]
    predictions: dict[int, list] = field(default_factory=dict)


@dataclass(frozen=True)
class Candidate:
    """A source among the method's top K: its rank and score, and (once transferred) its gain."""

    source: str
    rank: int
    method_score: float
    gain: Interval | None = None  # None: not transferred in full (halving dropped it)
    r2: dict[int, float] = field(default_factory=dict)
    note: str = ""


def candidate_gain(
    score: Score, dev: Sequence[dict], transfer: Runs, own: Runs, n_boot: int = 1000, seed: int = 0
) -> Interval:
    """Mean over the shared seeds of transfer r2 - own r1, with its paired bootstrap interval."""
    seeds = sorted(transfer.scores)
    missing = [s for s in seeds if s not in own.scores]
    if missing:
        raise ValueError(f"seeds {missing} have a transfer but no run of the task's own prompt")
    new = [transfer.predictions.get(s, []) for s in seeds]
    base = [own.predictions.get(s, []) for s in seeds]
    if all(len(p) == len(dev) for p in [*new, *base]):
        return paired_bootstrap(score, dev, new, base, n_boot=n_boot, seed=seed)
    # a run without per-example predictions: the point estimate only, no interval
    gains = [transfer.scores[s] - own.scores[s] for s in seeds]
    mean = sum(gains) / len(gains)
    return Interval(mean, float("nan"), float("nan"), float("nan"))


def choose(candidates: Sequence[Candidate]) -> Candidate | None:
    """The transferred candidate with the highest mean gain; None where none gains over no transfer
    (then the task's own prompt is the better choice). Ties go to the better-ranked source."""
    done = [c for c in candidates if c.gain is not None]
    if not done:
        return None
    best = max(done, key=lambda c: (c.gain.mean, -c.rank))
    return best if best.gain.mean > 0 else None


def best_seed(scores: dict[int, float]) -> int:
    """The seed whose run scored best on dev (the lowest seed on a tie): the prompt handed out."""
    return min(scores, key=lambda s: (-scores[s], s))


def selection_table(candidates: Sequence[Candidate], chosen: Candidate | None, method: str) -> pd.DataFrame:
    """One row per candidate, in the method's order: rank, score, r2 per seed, gain and interval."""
    rows = []
    for c in candidates:
        gain = c.gain
        rows.append(
            {
                "source": c.source,
                "rank": c.rank,
                f"{method}_score": c.method_score,
                "r2": ";".join(f"seed{s}={v:.2f}" for s, v in sorted(c.r2.items())),
                "gain": gain.mean if gain else float("nan"),
                "gain_lo": gain.lo if gain else float("nan"),
                "gain_hi": gain.hi if gain else float("nan"),
                "chosen": chosen is not None and c.source == chosen.source,
                "note": c.note,
            }
        )
    return pd.DataFrame(rows)


def verdict(chosen: Candidate | None, candidates: Sequence[Candidate], task: str) -> str:
    """One line for a person: what to use, and how sure the gain is."""
    if chosen is None:
        tried = ", ".join(c.source for c in candidates if c.gain is not None) or "none"
        return (
            f"no source of the {len(candidates)} tried ({tried}) gains over {task}'s own prompt: use the task's own "
            "prompt (written as the chosen prompt)"
        )
    g = chosen.gain
    sure = "its interval is clear of zero" if g.lo > 0 else "its interval holds zero: the gain may be noise"
    return (
        f"transfer from {chosen.source}: gain {g.mean:+.2f} [{g.lo:+.2f}, {g.hi:+.2f}] points over {task}'s own "
        f"prompt ({sure})"
    )
