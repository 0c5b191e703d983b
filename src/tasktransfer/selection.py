"""Selection methods: each scores every pool source for a target; higher means "transfer from me".

- ``scorer``: the affinity scorer's predicted gain;
- ``cosine_mean`` ... ``manhattan_tokens``: prompt-similarity baselines (see similarity.py);
- ``random``: a seeded random score per (target, source), the same on every run;
- ``brute_force``: the true gain, known only after transferring from every source.
"""

from __future__ import annotations

import hashlib

import torch

from .similarity import METHODS as SIMILARITY_METHODS
from .similarity import rank_by_similarity

METHODS = ("scorer", "brute_force", "random", *SIMILARITY_METHODS)


def random_scores(target: str, sources: list[str], seed: int) -> dict[str, float]:
    """Uniform scores from a hash, so a source's score does not depend on the others present."""

    def u(source: str) -> float:
        h = hashlib.sha256(f"{seed}\x00{target}\x00{source}".encode()).digest()
        return int.from_bytes(h[:8], "big") / 2**64

    return {s: u(s) for s in sorted(sources)}


def score_sources(
    method: str,
    target: str,
    target_emb: torch.Tensor | None,
    source_embs: dict[str, torch.Tensor],
    seed: int = 0,
    scorer_model=None,
    true_gains: dict[str, float] | None = None,
) -> dict[str, float]:
    """Scores of every source (never the target itself) by one method."""
    sources = {s: e for s, e in source_embs.items() if s != target}
    if method == "random":
        return random_scores(target, list(sources), seed)
    if method == "brute_force":
        if true_gains is None:
            raise ValueError("brute_force needs the true gains of every source")
        return {s: true_gains[s] for s in sorted(sources)}
    if method == "scorer":
        from .scorer import predict

        return predict(scorer_model, target_emb, sources)
    if method in SIMILARITY_METHODS:
        return rank_by_similarity(target_emb, sources, method)
    raise ValueError(f"selection method '{method}' is unknown; use one of {METHODS}")
