"""The scorer's training job (``tasktransfer train-scorer``): which pairs it trains on, their gains
and embeddings, the fit, and its two files.

The pairs: a uniform sample (``m``, ``pair_seed``) or a run's chosen table (``pairs``: the design
checkpoint's); the M analysis takes the first ``subsample`` of them, the unseen-type analysis drops
every pair touching ``exclude_tasks``, the leave-one-target-out scorer adds the rows of
``extra_gains`` and drops every pair into ``exclude_targets``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from tasktransfer.affinity.pair_plan import read_pairs
from tasktransfer.affinity.pairs import Pair, mean_gains, sample_pairs, subsample_pairs
from tasktransfer.affinity.scorer import ScorerSpec, TrainingPair, fit_scorer
from tasktransfer.errors import TaskTransferError
from tasktransfer.io import atomic_write_json, save_tensors
from tasktransfer.metrics import pearson, spearman
from tasktransfer.prompting.prompt_files import load_embeddings
from tasktransfer.run_layout import prompt_in
from tasktransfer.runtime import job_info, log


@dataclass(frozen=True)
class ScorerJob:
    gains: str
    sources: Sequence[str]
    prompts: str  # source side: the pool prompts (results/prompts)
    backbone: str
    spec: ScorerSpec
    m: int = 0
    pair_seed: int = 0
    pairs: str | None = None
    subsample: int | None = None
    exclude_tasks: Sequence[str] = ()
    extra_gains: str | None = None
    exclude_targets: Sequence[str] = ()
    target_prompts: str | None = None  # target side: the target-role runs (default: prompts)
    # targets tuned at a size of their own (data.target_train_per_task): their runs' folder each
    target_prompt_roots: Mapping[str, str] = field(default_factory=dict)
    embedding_seed: int = 0
    target_seed: int | None = None
    seed: int = 0


def chosen_pairs(job: ScorerJob) -> list[Pair]:
    """The (source, target) pairs before their gains are looked up."""
    # the pairs a run chose (design-pairs: a learnable-only sample or the balanced design)
    pairs = read_pairs(job.pairs) if job.pairs else sample_pairs(job.sources, job.m, job.pair_seed)
    if job.subsample is not None:
        # the M analysis: the first M of the main scorer's pairs (ablations.smk)
        pairs = subsample_pairs(pairs, job.subsample, job.pair_seed)
    if job.exclude_tasks:
        # the unseen-task-type analysis: no pair that touches an excluded task, on either side
        excluded = set(job.exclude_tasks)
        pairs = [(s, t) for s, t in pairs if s not in excluded and t not in excluded]
    return pairs


def training_pairs(job: ScorerJob) -> list[TrainingPair]:
    """The chosen pairs with their mean gains over seeds, plus leave-one-target-out rows."""
    gains = mean_gains(pd.read_csv(job.gains, sep="\t"))
    lookup = {(r.source, r.target): float(r.gain) for r in gains.itertuples(index=False)}
    sampled = chosen_pairs(job)
    missing = [p for p in sampled if p not in lookup]
    if missing:
        raise TaskTransferError(f"gains table {job.gains} lacks sampled pairs {missing[:5]}...; rerun the gains rule")
    pairs = [TrainingPair(s, t, lookup[(s, t)]) for s, t in sampled]
    if job.extra_gains:
        # leave-one-target-out (scorer_loto): the other held-out targets' complete rows as well
        extra = mean_gains(pd.read_csv(job.extra_gains, sep="\t"))
        have = {(p.source, p.target) for p in pairs}
        pairs += [
            TrainingPair(str(r.source), str(r.target), float(r.gain))
            for r in extra.itertuples(index=False)
            if (str(r.source), str(r.target)) not in have and str(r.source) != str(r.target)
        ]
    if job.exclude_targets:
        # the held-out target (and anything named with it) never appears in a training pair
        pairs = [p for p in pairs if p.target not in set(job.exclude_targets)]
    unknown = sorted({p.source for p in pairs} - set(job.sources))
    if unknown:
        raise TaskTransferError(f"training pairs have sources {unknown[:5]} outside --sources; pass the run's pool")
    return pairs


def target_prompt_paths(job: ScorerJob, targets: Iterable[str]) -> dict[str, Path]:
    """Each target's target-side prompt: its target-role run at the embedding seed, in its size's
    folder (``target_prompt_roots``) or the run's one target folder."""
    root = job.target_prompts or job.prompts
    seed = job.embedding_seed if job.target_seed is None else job.target_seed
    return {t: prompt_in(job.target_prompt_roots.get(t, root), t, seed) for t in sorted(targets)}


def train_scorer_job(job: ScorerJob, out_model: str | Path, out_metrics: str | Path) -> None:
    pairs = training_pairs(job)
    # source side: pool prompts; target side: the target-role runs (the prompt a target with few
    # labels can have), the same files a held-out target is ranked with
    emb = load_embeddings({t: prompt_in(job.prompts, t, job.embedding_seed) for t in job.sources})
    target_emb = load_embeddings(target_prompt_paths(job, {p.target for p in pairs}))
    log(f"training the affinity scorer on {len(pairs)} pairs among {len(job.sources)} sources")
    model, report = fit_scorer(job.backbone, pairs, emb, job.spec, job.seed, log=log, target_emb=target_emb)
    save_tensors(out_model, model.state_dict(), {"backbone": job.backbone, "spec": job.spec.to_dict(), "lr": report["lr"]})
    atomic_write_json(
        out_metrics,
        {
            "spec": job.spec.to_dict(),
            "pairs": len(pairs),
            "excluded_tasks": sorted(job.exclude_tasks),
            "excluded_targets": sorted(job.exclude_targets),
            **report,
            **job_info(),
        },
    )
    held = pd.DataFrame(report["held_out"], columns=["source", "target", "gain", "predicted"])
    log(
        f"held-out (CV grouped by target task, {len(held)} of {len(pairs)} pairs): "
        f"Spearman {spearman(held.gain, held.predicted):.3f}, Pearson {pearson(held.gain, held.predicted):.3f}; "
        f"mean per-target Spearman {report['cv_spearman'].get(str(report['lr']))} (lr chosen on {report['selected_on']})"
    )
