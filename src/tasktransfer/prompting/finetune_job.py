"""The full fine-tuning job (``tasktransfer finetune``, the paper's Table 3): the whole backbone and
a head on one task, from the pretrained weights or from a source's fine-tuned backbone, written as
a record (and the backbone's weights, for a source)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tasktransfer.data.prepare import read_jsonl, read_meta, training_subset
from tasktransfer.io import atomic_write_json, load_tensors, save_tensors
from tasktransfer.prompting.backbone import load_backbone
from tasktransfer.prompting.finetune import FinetuneSpec, checkpoint_metadata, finetune, load_finetuned
from tasktransfer.runtime import job_info, log


@dataclass(frozen=True)
class FinetuneJob:
    data: str  # the task's prepared folder
    backbone: str
    spec: dict
    seed: int
    init_from: str | None = None  # a source's fine-tuned backbone (None: the pretrained weights)
    max_train: int = 0  # the first N training examples (0: all)


def run_finetune(job: FinetuneJob, out_metrics: str | Path, out_model: str | Path | None = None) -> None:
    spec = FinetuneSpec.from_dict(job.spec)
    data_dir = Path(job.data)
    meta = read_meta(data_dir)
    backbone = load_backbone(job.backbone, frozen=False)
    init = "pretrained"
    if job.init_from:
        state, metadata = load_tensors(job.init_from)
        load_finetuned(backbone, state, metadata, job.init_from)
        init = str(metadata.get("task"))
    train = training_subset(read_jsonl(data_dir / "train.jsonl"), job.max_train)
    dev = read_jsonl(data_dir / "dev.jsonl")
    log(f"task {meta.name} ({meta.format}, {meta.metric}), seed {job.seed}, backbone {job.backbone}, init {init}")
    result = finetune(backbone, meta, train, dev, spec, job.seed, log=log)
    if out_model:
        save_tensors(out_model, result.backbone_state, checkpoint_metadata(job.backbone, meta.name, job.seed, spec, result.score))
    atomic_write_json(
        out_metrics,
        {
            "task": meta.name,
            "init": init,
            "seed": job.seed,
            "metric": meta.metric,
            "score": result.score,
            "spec": spec.to_dict(),
            "train_size": result.train_size,
            "train_seconds": result.train_seconds,
            "examples_per_second": result.examples_per_second,
            "precision": result.precision,
            "history": result.history,
            **job_info(),
        },
    )
    log(f"done: {meta.name} fully fine-tuned from {init}: {result.score:.2f} ({meta.metric} x100)")
