"""What the affinity scorer is trained with: its settings (:class:`ScorerSpec`), its pairs
(:class:`TrainingPair`) and the label each pair teaches (:func:`training_labels`).

Training, cross-validation and the fit: :mod:`tasktransfer.affinity.scorer`, which re-exports
these names (the settings' meaning is in its docstring).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from tasktransfer.affinity.scorer_model import MAX_ENSEMBLE, TOP_LAYERS

TARGET_LABELS = ("raw", "centred", "standardised")
SELECT_ON = ("spearman", "mae")


@dataclass(frozen=True)
class ScorerSpec:
    lrs: tuple[float, ...] = (1e-5, 2e-5, 3e-5, 1e-4)
    epochs: int = 20
    batch_size: int = 16
    beta: float = 1.0
    folds: int = 5
    warmup_ratio: float = 0.06
    #: optimizer steps of every model (folds and final); None: epochs x ceil(M / batch_size)
    steps: int | None = None
    segments: bool = True
    standardise: bool = True
    target_label: str = "centred"
    select_on: str = "spearman"
    ensemble: int = 3
    train_layers: str = "all"

    def __post_init__(self):
        if self.target_label not in TARGET_LABELS:
            raise ValueError(f"scorer.target_label {self.target_label!r} is unknown; use one of {TARGET_LABELS}")
        if self.select_on not in SELECT_ON:
            raise ValueError(f"scorer.select_on {self.select_on!r} is unknown; use one of {SELECT_ON}")
        if not 1 <= self.ensemble <= MAX_ENSEMBLE:
            raise ValueError(f"scorer.ensemble must be from 1 to {MAX_ENSEMBLE} (a saved scorer's limit), got {self.ensemble}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"scorer.steps must be at least 1 (or null), got {self.steps}")
        if self.train_layers != "all" and not TOP_LAYERS.fullmatch(str(self.train_layers)):
            raise ValueError(f"scorer.train_layers {self.train_layers!r}: use 'all' or 'top-N' (N >= 1)")

    @classmethod
    def from_dict(cls, d: dict) -> ScorerSpec:
        d = dict(d)
        if "lrs" in d:
            d["lrs"] = tuple(float(x) for x in d["lrs"])
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def to_dict(self) -> dict:
        d = asdict(self)
        d["lrs"] = list(self.lrs)
        return d

    def total_steps(self, n_pairs: int) -> int:
        """Optimizer steps of every model trained for a set of ``n_pairs`` pairs (folds included)."""
        return self.steps if self.steps is not None else self.epochs * math.ceil(n_pairs / self.batch_size)


@dataclass(frozen=True)
class TrainingPair:
    source: str
    target: str
    gain: float


def training_labels(pairs: Sequence[TrainingPair], kind: str) -> list[float]:
    """What the scorer learns for each pair: the gain (raw), or the gain centred (and, for
    standardised, divided by the population standard deviation) within the pairs of its target.
    A target with one pair, or with equal gains, gets 0."""
    if kind == "raw":
        return [float(p.gain) for p in pairs]
    by_target: dict[str, list[float]] = {}
    for p in pairs:
        by_target.setdefault(p.target, []).append(float(p.gain))
    mean = {t: float(np.mean(g)) for t, g in by_target.items()}
    sd = {t: float(np.std(g)) for t, g in by_target.items()}
    out = []
    for p in pairs:
        centred = float(p.gain) - mean[p.target]
        if kind == "standardised":
            centred = centred / sd[p.target] if sd[p.target] > 1e-12 else 0.0
        out.append(centred)
    return out
