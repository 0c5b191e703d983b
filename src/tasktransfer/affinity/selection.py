"""Selection methods: each scores every pool source for a target; higher means "transfer from me".

- ``scorer``: the affinity scorer's predicted gain;
- ``cosine_mean`` ... ``manhattan_tokens``: prompt-similarity baselines (see similarity.py);
- ``random``: a seeded random score per (target, source), the same on every run;
- ``brute_force``: the true gain, known only after transferring from every source;
- ``source_prior``: each source's shrunk additive effect over the training targets' gains
  (:mod:`~tasktransfer.affinity.source_prior`);
- ``logme``, ``hscore``, ``knn``: LogME, H-score and a kNN probe of the target's training labels
  on the source-prompted backbone's features (:mod:`~tasktransfer.affinity.transferability`; no
  training at all);
- ``feature_ranker``: ridge over pair features, shrunk toward cosine alone
  (:mod:`~tasktransfer.affinity.feature_ranker`);
- ``*_loto``: the learned methods (``source_prior``, ``feature_ranker``, ``scorer``) trained with
  the other held-out targets' complete rows added (leave-one-target-out): the same computation
  on another training table, so only the name differs here.

The learned methods' training gains never hold a row of the target they rank: the workflow gives
each a table without it (results/gains/scorer_pairs.tsv, or results/loto/{target}/train_gains.tsv),
and :func:`learned_scores` drops any such row again.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import pandas as pd
import torch

from tasktransfer.affinity.similarity import METHODS as SIMILARITY_METHODS
from tasktransfer.affinity.similarity import rank_by_similarity
from tasktransfer.affinity.transferability import ESTIMATORS
from tasktransfer.errors import ArtefactError, TaskTransferError

# the method names' one home is run_layout; LEARNED: their rankings never read a row of the target
from tasktransfer.run_layout import FEATURE_METHODS, LEARNED, LOTO_METHODS, METHODS, base_method, prompt_in  # noqa: F401


def learned_scores(
    method: str,
    target: str,
    sources: list[str],
    train_gains: pd.DataFrame | None = None,
    features: pd.DataFrame | None = None,
    lam: float = 1.0,
) -> tuple[dict[str, float], dict]:
    """Scores of ``sources`` for ``target`` by source_prior, logme, hscore, knn or feature_ranker (or a _loto
    name of one), and what the method decided (the ranker's fit; empty otherwise).

    ``train_gains``: source, target, gain (seed optional), the training rows (rows of ``target``
    are dropped here); ``features``: pair features (pair_features.py) of the target and of every
    training target. An undefined LogME ranks last.
    """
    from tasktransfer.affinity.feature_ranker import fit_ranker, ranker_scores, training_prior
    from tasktransfer.affinity.source_prior import prior_scores, source_prior

    base = base_method(method)
    sources = sorted(s for s in sources if s != target)
    if base in ("source_prior", "feature_ranker"):
        if train_gains is None:
            raise TaskTransferError(f"method {method} needs the training gains (--train-gains)")
        train_gains = train_gains[train_gains["target"].astype(str) != str(target)]
    if base == "source_prior":
        prior = source_prior(train_gains, lam) if len(train_gains) else {}
        return prior_scores(prior, sources), {"training_targets": int(train_gains["target"].nunique())}
    if features is None:
        raise TaskTransferError(f"method {method} needs the pair features (--features)")
    own = features[(features["target"].astype(str) == str(target)) & features["source"].astype(str).isin(sources)]
    lacking = sorted(set(sources) - set(own["source"].astype(str)))
    if lacking:
        raise TaskTransferError(f"the features of {target} lack sources {lacking[:5]}; rerun its features job")
    if base in ESTIMATORS:
        if base not in own.columns:
            raise TaskTransferError(f"the features of {target} lack the {base} column; rerun its features job")
        values = {str(s): float(v) for s, v in zip(own["source"], own[base])}
        finite = [v for v in values.values() if math.isfinite(v)]
        floor = (min(finite) if finite else 0.0) - 1.0
        return {s: (v if math.isfinite(v) else floor) for s, v in sorted(values.items())}, {}
    if base == "feature_ranker":
        training = features[features["target"].astype(str) != str(target)]
        fit = fit_ranker(train_gains, training, lam)
        chosen = train_gains[train_gains["target"].astype(str).isin(fit.training_targets)]
        scores = ranker_scores(fit, target, own, training_prior(chosen, lam))
        return scores, fit.to_dict()
    raise ValueError(f"method '{method}' is not a feature method; use one of {FEATURE_METHODS}")


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
    method = "scorer" if method == "scorer_loto" else method
    if method == "random":
        return random_scores(target, list(sources), seed)
    if method == "brute_force":
        if true_gains is None:
            raise ValueError("brute_force needs the true gains of every source")
        return {s: true_gains[s] for s in sorted(sources)}
    if method == "scorer":
        from tasktransfer.affinity.scorer import predict

        return predict(scorer_model, target_emb, sources)
    if method in SIMILARITY_METHODS:
        return rank_by_similarity(target_emb, sources, method)
    raise ValueError(f"selection method '{method}' is unknown; use one of {METHODS}")


def pool_prompt_files(prompts_dir: str | Path, embedding_seed: int) -> dict[str, Path]:
    """Every task of a finished prompt pool: task -> its prompt file of the embedding seed."""
    root = Path(prompts_dir)
    if not root.is_dir():
        raise TaskTransferError(f"prompt pool folder {root} does not exist")
    # names starting with "_" or "." are not tasks (e.g. the workflow's control init, _control)
    found = {
        d.name: prompt_in(root, d.name, embedding_seed)
        for d in sorted(root.iterdir())
        if d.is_dir() and not d.name.startswith(("_", "."))
    }
    found = {t: f for t, f in found.items() if f.exists()}
    if not found:
        raise TaskTransferError(f"no prompts of seed {embedding_seed} under {root} (expected <task>/seed{embedding_seed}/prompt.safetensors)")
    return found


def load_pool(files: dict[str, str | Path], backbone: str | None = None) -> tuple[dict[str, torch.Tensor], str]:
    """Task embeddings by task, checked to come from one backbone and prompt size; and that backbone."""
    from tasktransfer.prompting.prompt_files import load_prompt

    emb, seen = {}, {}
    for task, path in files.items():
        art = load_prompt(path)
        emb[task] = art.embedding
        seen[task] = (art.metadata.get("backbone"), tuple(art.embedding.shape))
    kinds = sorted({v for v in seen.values()}, key=str)
    if len(kinds) > 1:
        examples = {str(k): [t for t, v in seen.items() if v == k][:3] for k in kinds}
        raise ArtefactError(f"the prompts differ in (backbone, L x H): {examples}; rank only prompts of one pool")
    pool_backbone = kinds[0][0]
    if backbone is not None and pool_backbone != backbone:
        raise ArtefactError(f"the prompts were tuned on backbone {pool_backbone!r}, not {backbone!r}; retune them or pass that backbone")
    return emb, pool_backbone


def ranking_table(method: str, target: str, scores: dict[str, float]) -> pd.DataFrame:
    """One row per source, best first (ties by name): method, target, source, score, rank."""
    table = pd.DataFrame({"method": method, "target": target, "source": list(scores), "score": list(scores.values())})
    table = table.sort_values(["score", "source"], ascending=[False, True]).reset_index(drop=True)
    table["rank"] = range(1, len(table) + 1)
    return table


def select_top_k(ranking: pd.DataFrame, k: int) -> pd.DataFrame:
    """The k best sources of one ranking (a method's scores of the pool for one target)."""
    if "rank" not in ranking.columns:
        ranking = ranking_table(str(ranking.method.iloc[0]), str(ranking.target.iloc[0]), dict(zip(ranking.source, ranking.score)))
    ranking = ranking.sort_values("rank")
    if len(ranking) < k:
        raise TaskTransferError(f"the ranking has {len(ranking)} sources, fewer than k = {k}; lower selection.top_k")
    return ranking.head(k).reset_index(drop=True)


def side_by_side(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Several methods' rankings of one target as one printable table, ordered by the first method."""
    first = tables[0]
    out = first[["rank", "source", "score"]].rename(columns={"score": first.method.iloc[0]})
    for t in tables[1:]:
        m = t.method.iloc[0]
        out = out.merge(t[["source", "score", "rank"]].rename(columns={"score": m, "rank": f"{m}_rank"}), on="source", how="left")
    return out
