"""Ranking a run's pool for one target (``tasktransfer rank --prompts``): the target and source
prompt files, what each method needs (scorer, gains, training gains, features), one ranking
table per method. A new task against a shared pool is ranked by pool/rank_new_task.py instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tasktransfer.affinity.pairs import mean_gains
from tasktransfer.affinity.selection import (
    FEATURE_METHODS,
    base_method,
    learned_scores,
    load_pool,
    pool_prompt_files,
    ranking_table,
    score_sources,
)
from tasktransfer.errors import TaskTransferError
from tasktransfer.io import load_tensors
from tasktransfer.run_layout import prompt_in
from tasktransfer.runtime import log


@dataclass(frozen=True)
class RankJob:
    prompts: str
    methods: Sequence[str]
    target: str | None = None
    target_prompt: str | None = None
    sources: Sequence[str] = ()  # default: every task under prompts
    backbone: str | None = None  # default: the scorer's, else the prompts'
    embedding_seed: int = 0
    seed: int = 0  # the random method's
    scorer: str | None = None
    gains: str | None = None
    train_gains: str | None = None
    features: Sequence[str] = ()
    prior_lambda: float = 1.0


@dataclass(frozen=True)
class Ranked:
    target: str
    tables: list[pd.DataFrame]  # one per method, in the job's order


def target_and_file(job: RankJob) -> tuple[str, Path]:
    """The target's name and its prompt file (named by the file's metadata where only it is given)."""
    if job.target_prompt:
        from tasktransfer.prompting.prompt_files import load_prompt

        target = job.target or str(
            load_prompt(job.target_prompt).metadata.get("task") or Path(job.target_prompt).parent.name
        )
        return target, Path(job.target_prompt)
    if job.target:
        return job.target, prompt_in(job.prompts, job.target, job.embedding_seed)
    raise TaskTransferError("name the target (--target) or give its prompt file (--target-prompt)")


def source_files(job: RankJob, target: str) -> dict[str, Path]:
    if job.sources:
        files = {t: prompt_in(job.prompts, t, job.embedding_seed) for t in job.sources}
    else:
        files = pool_prompt_files(job.prompts, job.embedding_seed)
    return {t: Path(f) for t, f in files.items() if t != target}


def load_scorer_for(job: RankJob, backbone: str | None):
    """The scorer's weights and record, checked against the prompts' backbone by :func:`rank`."""
    if not job.scorer:
        raise TaskTransferError("method scorer needs --scorer (results/scorer/model.safetensors)")
    return load_tensors(job.scorer)


def true_gains(job: RankJob, target: str, sources: Sequence[str]) -> dict[str, float]:
    """brute force: the measured mean gain of every source into the target."""
    if not job.gains:
        raise TaskTransferError("method brute_force needs --gains (results/gains.tsv)")
    gains = mean_gains(pd.read_csv(job.gains, sep="\t"))
    true = {r.source: float(r.gain) for r in gains.itertuples(index=False) if r.target == target}
    lacking = sorted(set(sources) - set(true))
    if lacking:
        raise TaskTransferError(f"brute_force needs the gain of every source on {target}; {job.gains} lacks {lacking[:5]}")
    return true


def rank(job: RankJob) -> Ranked:
    bases = {base_method(m) for m in job.methods}
    target, target_file = target_and_file(job)
    files = source_files(job, target)
    missing = [str(f) for f in [*files.values(), target_file] if not Path(f).exists()]
    if missing:
        raise TaskTransferError(f"prompt files {missing[:3]} do not exist; tune those prompts first (prompt_tune)")
    scorer_state, scorer_meta = load_scorer_for(job, job.backbone) if "scorer" in bases else (None, {})
    emb, backbone = load_pool({**files, target: target_file}, job.backbone or scorer_meta.get("backbone"))
    model = None
    if "scorer" in bases:
        from tasktransfer.affinity.scorer import load_scorer

        if scorer_meta.get("backbone") != backbone:
            raise TaskTransferError(
                f"scorer {job.scorer} was trained on backbone {scorer_meta.get('backbone')}, but the prompts on "
                f"{backbone}; rank with the scorer of this prompt pool or retrain it"
            )
        model = load_scorer(scorer_state, scorer_meta, backbone)
    true = true_gains(job, target, list(files)) if "brute_force" in job.methods else None
    sources = {s: emb[s] for s in sorted(files)}
    train_gains = pd.read_csv(job.train_gains, sep="\t") if job.train_gains else None
    features = None
    if job.features:
        from tasktransfer.affinity.pair_features import read_features

        features = read_features(list(job.features))
    tables = []
    for m in job.methods:
        if base_method(m) in FEATURE_METHODS:
            scores, info = learned_scores(m, target, list(sources), train_gains, features, job.prior_lambda)
            if info.get("decision"):
                log(f"{m} for {target}: {info['decision']} (alpha {info['alpha']}): {info['reason']}; weights "
                    + ", ".join(f"{k} {v:+.3f}" for k, v in info["weights"].items()))
        else:
            scores = score_sources(m, target, emb[target], sources, job.seed, model, true)
        tables.append(ranking_table(m, target, scores))
    return Ranked(target, tables)
