"""Prompt-similarity baselines: how alike two task embeddings P (L x H) are.

Six measures, as the paper defines them: cosine, Euclidean and Manhattan, each either on the
mean-pooled tokens ("mean") or over all L x L token pairs ("tokens"):

- ``cosine_mean`` = cos(mean_i t_i, mean_j s_j); ``cosine_tokens`` = mean over i, j of cos(t_i, s_j);
- ``euclidean_mean`` = 1 / (1 + ||mean_i t_i - mean_j s_j||_2);
  ``euclidean_tokens`` = 1 / (1 + mean over i, j of ||t_i - s_j||_2);
- Manhattan likewise with the L1 distance.

A distance becomes a similarity *after* averaging (1 / (1 + mean distance), not the mean of
1 / (1 + d_ij)): the two rank sources differently (tests/test_similarity.py has a case). Larger
is always more similar.
"""

from __future__ import annotations

import torch

from tasktransfer.run_layout import SIMILARITY_MEASURES as MEASURES
from tasktransfer.run_layout import SIMILARITY_METHODS as METHODS
from tasktransfer.run_layout import SIMILARITY_POOLINGS as POOLINGS


def _mean_pairwise(a: torch.Tensor, b: torch.Tensor, measure: str) -> float:
    """Mean over every row of a and every row of b ((n, H) x (m, H)) of their cosine, or of
    their Euclidean / Manhattan distance."""
    a, b = a.double(), b.double()
    if measure == "cosine":
        a = torch.nn.functional.normalize(a, dim=-1)
        b = torch.nn.functional.normalize(b, dim=-1)
        return float((a @ b.T).mean())
    p = 2.0 if measure == "euclidean" else 1.0
    return float(torch.cdist(a, b, p=p).mean())


def similarity(target: torch.Tensor, source: torch.Tensor, method: str) -> float:
    """Similarity of two task embeddings by one of :data:`METHODS` (e.g. ``cosine_mean``)."""
    measure, _, pooling = method.partition("_")
    if measure not in MEASURES or pooling not in POOLINGS:
        raise ValueError(f"similarity method '{method}' is unknown; use one of {METHODS}")
    if pooling == "mean":
        target, source = target.mean(0, keepdim=True), source.mean(0, keepdim=True)
    value = _mean_pairwise(target, source, measure)
    return value if measure == "cosine" else 1.0 / (1.0 + value)


def rank_by_similarity(target: torch.Tensor, sources: dict[str, torch.Tensor], method: str) -> dict[str, float]:
    return {name: similarity(target, emb, method) for name, emb in sorted(sources.items())}
