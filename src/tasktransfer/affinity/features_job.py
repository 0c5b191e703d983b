"""The pair-features job (``tasktransfer features``): for one target-role task, the prompt cosines
and the LogME of its training examples under every source's pool prompt (pair_features.py,
logme_features.py), written as one table."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tasktransfer.affinity.logme_features import estimates_by_source
from tasktransfer.affinity.pair_features import features_table
from tasktransfer.data.prepare import read_jsonl, read_meta, training_subset
from tasktransfer.errors import TaskTransferError
from tasktransfer.io import atomic_write_text
from tasktransfer.prompting.backbone import load_backbone
from tasktransfer.prompting.prompt_files import check_compatible, load_prompt
from tasktransfer.prompting.training import PromptSpec
from tasktransfer.run_layout import prompt_in
from tasktransfer.runtime import log


@dataclass(frozen=True)
class FeaturesJob:
    target: str
    target_prompt: str  # its target-role prompt (the target-side embedding)
    data: str  # its prepared folder
    prompts: str  # the pool's prompts (results/prompts)
    sources: Sequence[str]
    backbone: str
    spec: dict  # the target-role prompt spec (length, pooling, ...)
    embedding_seed: int = 0
    max_train: int = 0  # the first N training examples (0: all)


def write_features(job: FeaturesJob, out: str | Path) -> None:
    start = time.perf_counter()
    spec = PromptSpec.from_dict(job.spec)
    files = {t: prompt_in(job.prompts, t, job.embedding_seed) for t in job.sources}
    missing = [str(f) for f in [*files.values(), Path(job.target_prompt)] if not f.exists()]
    if missing:
        raise TaskTransferError(f"prompt files {missing[:3]} do not exist; tune those prompts first")
    backbone = load_backbone(job.backbone)
    prompts = {t: load_prompt(f) for t, f in files.items()}
    for t, art in prompts.items():
        check_compatible(art, files[t], job.backbone, spec.length, backbone.hidden_size, spec.mlp_hidden)
    target_emb = load_prompt(job.target_prompt).embedding
    data = Path(job.data)
    meta = read_meta(data)
    rows = training_subset(read_jsonl(data / "train.jsonl"), job.max_train)
    setup = time.perf_counter() - start
    candidates = {t: art.prompt_state for t, art in prompts.items() if t != job.target}
    estimates, seconds = estimates_by_source(
        backbone, meta, rows, candidates, spec.length, spec.mlp_hidden, spec.pooling, spec.max_length,
        spec.precision, log=log,
    )
    table = features_table(job.target, target_emb, {t: art.embedding for t, art in prompts.items()}, estimates)
    atomic_write_text(out, table.to_csv(sep="\t", index=False, float_format="%.6g"))
    per_pair = sum(seconds.values()) / max(1, len(seconds))
    log(
        f"features of {len(table)} sources for {job.target} ({len(rows)} training examples, {meta.format}): "
        f"setup {setup:.1f} s, LogME, H-score and kNN {per_pair:.2f} s per source, total {time.perf_counter() - start:.1f} s"
    )
