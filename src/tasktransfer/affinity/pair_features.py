"""Features of a (source, target) pair that need no transfer: what the feature ranker and ``logme`` read.

One table per target (``results/features/{target}.tsv``), one row per candidate source:

- ``cosine_mean``: cosine of the mean-pooled prompts (the ``cosine_mean`` baseline);
- ``cosine_tokens``: mean cosine over all L x L token pairs (the ``cosine_tokens`` baseline);
- ``cosine_centred``: cosine of the mean-pooled prompts after subtracting the pool's mean prompt
  (the mean over the sources of their mean-pooled P): what every prompt shares, the direction
  the backbone's prompts drift to whatever the task, no longer counts as similarity;
- ``logme``, ``hscore``, ``knn``: LogME, H-score and a kNN probe of the target's labels on the
  source-prompted backbone's features (:mod:`tasktransfer.affinity.transferability`; NaN where
  undefined). Each is a ranking method of its own; the feature ranker reads :data:`FEATURES` only.

The source prior is no column here: it depends on which targets' gains a ranker trains on, so the
ranker computes it per training set (:mod:`tasktransfer.affinity.feature_ranker`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import torch

from tasktransfer.affinity.similarity import similarity
from tasktransfer.affinity.transferability import ESTIMATORS
from tasktransfer.errors import ArtefactError

#: what the feature ranker reads (its weights in a shared pool are over these)
FEATURES = ("cosine_mean", "cosine_tokens", "cosine_centred", "logme")
COLUMNS = ["source", "target", *FEATURES, *(e for e in ESTIMATORS if e not in FEATURES)]


def pool_centre(source_embs: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """The pool's mean prompt: the mean over sources of their mean-pooled P (H,)."""
    if not source_embs:
        raise ValueError("no source prompts to centre on")
    return torch.stack([e.double().mean(0) for e in source_embs.values()]).mean(0)


def centred_cosine(target: torch.Tensor, source: torch.Tensor, centre: torch.Tensor) -> float:
    a = target.double().mean(0) - centre.double()
    b = source.double().mean(0) - centre.double()
    denominator = float(a.norm() * b.norm())
    return float(a @ b) / denominator if denominator > 0 else 0.0


def prompt_features(
    target_emb: torch.Tensor, source_embs: Mapping[str, torch.Tensor], centre: torch.Tensor | None = None
) -> dict[str, dict[str, float]]:
    """The three prompt features of every source for one target: source -> feature -> value."""
    centre = pool_centre(source_embs) if centre is None else centre
    return {
        s: {
            "cosine_mean": similarity(target_emb, e, "cosine_mean"),
            "cosine_tokens": similarity(target_emb, e, "cosine_tokens"),
            "cosine_centred": centred_cosine(target_emb, e, centre),
        }
        for s, e in sorted(source_embs.items())
    }


def features_table(
    target: str,
    target_emb: torch.Tensor,
    source_embs: Mapping[str, torch.Tensor],
    estimates: Mapping[str, Mapping[str, float]] | None = None,
    centre: torch.Tensor | None = None,
) -> pd.DataFrame:
    """One row per source (never the target itself): source, target, the prompt features and the
    estimators (``estimates``: source -> estimator -> value; a missing one is NaN)."""
    sources = {s: e for s, e in source_embs.items() if s != target}
    prompt = prompt_features(target_emb, sources, pool_centre(source_embs) if centre is None else centre)
    rows = [
        {
            "source": s,
            "target": target,
            **prompt[s],
            **{e: float(((estimates or {}).get(s) or {}).get(e, math.nan)) for e in ESTIMATORS},
        }
        for s in sorted(sources)
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def read_features(paths: list[str | Path]) -> pd.DataFrame:
    """Feature tables of several targets as one table, checked for the ranker's columns (an
    estimator column a table lacks stays absent: the method that needs it says so)."""
    required = ["source", "target", *FEATURES]
    frames = []
    for path in paths:
        table = pd.read_csv(path, sep="\t")
        missing = [c for c in required if c not in table.columns]
        if missing:
            raise ArtefactError(f"features table {path} lacks columns {missing}; rerun its features job")
        frames.append(table[[c for c in COLUMNS if c in table.columns]])
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    return out.assign(source=out["source"].astype(str), target=out["target"].astype(str))
