"""Prompt-similarity baselines: how alike two task embeddings P (L x H) are.

Six measures: cosine, Euclidean and Manhattan, each either on the mean-pooled tokens ("mean")
or as the average over all L x L token pairs ("tokens"). Distances d become similarities as
1 / (1 + d), so that larger is always more similar.
"""

from __future__ import annotations

import torch

MEASURES = ("cosine", "euclidean", "manhattan")
POOLINGS = ("mean", "tokens")
METHODS = tuple(f"{m}_{p}" for p in POOLINGS for m in MEASURES)


def _pairwise(a: torch.Tensor, b: torch.Tensor, measure: str) -> torch.Tensor:
    """Similarity of every row of a with every row of b: (n, H) x (m, H) -> (n, m)."""
    a, b = a.double(), b.double()
    if measure == "cosine":
        a = torch.nn.functional.normalize(a, dim=-1)
        b = torch.nn.functional.normalize(b, dim=-1)
        return a @ b.T
    p = 2.0 if measure == "euclidean" else 1.0
    return 1.0 / (1.0 + torch.cdist(a, b, p=p))


def similarity(target: torch.Tensor, source: torch.Tensor, method: str) -> float:
    """Similarity of two task embeddings by one of :data:`METHODS` (e.g. ``cosine_mean``)."""
    measure, _, pooling = method.partition("_")
    if measure not in MEASURES or pooling not in POOLINGS:
        raise ValueError(f"similarity method '{method}' is unknown; use one of {METHODS}")
    if pooling == "mean":
        return float(_pairwise(target.mean(0, keepdim=True), source.mean(0, keepdim=True), measure)[0, 0])
    return float(_pairwise(target, source, measure).mean())


def rank_by_similarity(target: torch.Tensor, sources: dict[str, torch.Tensor], method: str) -> dict[str, float]:
    return {name: similarity(target, emb, method) for name, emb in sorted(sources.items())}
