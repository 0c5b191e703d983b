"""Tune one prompt and save it as a run: the one function behind ``prompt-tune``, ``transfer``,
the shuffled control and ``rank --pool``.

It decides which examples a run trains on (the first ``max_train`` of the prepared training
set), checks a source prompt against the backbone and prompt size, and records what every run
records beside its score (settings, speed, history, dev predictions, where it ran). Its code is
part of the ``tune`` stage's code version: a change here reruns the tuning jobs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasktransfer.data.prepare import TaskMeta, read_jsonl, read_meta, rows_digest, training_subset
from tasktransfer.io import atomic_write_json
from tasktransfer.prompting.backbone import Backbone, load_backbone
from tasktransfer.prompting.prompt_files import check_compatible, load_prompt, save_prompt
from tasktransfer.prompting.training import PromptSpec, TuneResult, spec_dict, tune_prompt
from tasktransfer.runtime import job_info, log, process_start, set_threads

#: rows -> rows, with the task's name (the shuffled control relabels its examples this way)
Transform = Callable[[list[dict], str], list[dict]]


@dataclass(frozen=True)
class TuneRequest:
    """One prompt run: the prepared task folder, the backbone, the prompt spec and the seed."""

    data: Path
    backbone: str
    spec: dict[str, Any]
    seed: int = 0
    max_train: int = 0  # the first N training examples only (0: all)
    threads: int = 0
    init_prompt: str | None = None  # a source prompt file to start from (a transfer)


@dataclass
class TunedRun:
    meta: TaskMeta
    backbone: Backbone
    spec: PromptSpec
    result: TuneResult


def tune_run(request: TuneRequest, transform: Transform | None = None, log: Callable[[str], None] = log) -> TunedRun:
    """Tune the prompt of ``request`` (from scratch, or from its source prompt) and return the run."""
    set_threads(request.threads)
    spec = PromptSpec.from_dict(request.spec)
    data_dir = Path(request.data)
    meta = read_meta(data_dir)
    backbone = load_backbone(request.backbone)
    init = None
    if request.init_prompt:
        source = load_prompt(request.init_prompt)
        check_compatible(source, request.init_prompt, request.backbone, spec.length, backbone.hidden_size, spec.mlp_hidden)
        init = source.prompt_state
    train, dev = read_jsonl(data_dir / "train.jsonl"), read_jsonl(data_dir / "dev.jsonl")
    train = training_subset(train, request.max_train)
    if transform is not None:
        train, dev = transform(train, meta.name), transform(dev, meta.name)
    log(
        f"task {meta.name} ({meta.format}, {meta.metric}), seed {request.seed}, backbone {request.backbone}, "
        f"init {request.init_prompt or 'random'}"
    )
    result = tune_prompt(backbone, meta, train, dev, spec, request.seed, init_prompt=init, log=log)
    result.train_digest = rows_digest(train)
    result.setup_seconds = max(0.0, time.time() - process_start() - result.train_seconds)
    return TunedRun(meta, backbone, spec, result)


def run_record(run: TunedRun) -> dict:
    """What every tuning job records beside its scores: settings, speed, history, predictions."""
    result = run.result
    return {
        "lr": result.lr,
        "spec": spec_dict(run.spec),
        "examples_per_second": result.examples_per_second,
        "train_seconds": result.train_seconds,
        "eval_seconds": result.eval_seconds,
        # process start to the first training step: imports, backbone, data, tokenisation
        "setup_seconds": result.setup_seconds,
        "history": result.history,
        "train_size": result.train_size,
        # which training examples the run read: r1 and every r2 into a target must agree on it
        "train_digest": result.train_digest,
        "precision": result.precision,
        "dev_predictions": result.dev_predictions,
        **job_info(),
    }


def prompt_metadata(run: TunedRun, request: TuneRequest, **extra: Any) -> dict[str, Any]:
    """The metadata a prompt file carries: what it was tuned on and with, checked when it is loaded."""
    return {
        "task": run.meta.name,
        "seed": request.seed,
        "backbone": request.backbone,
        "length": run.spec.length,
        "hidden_size": run.backbone.hidden_size,
        "mlp_hidden": run.spec.mlp_hidden,
        **extra,
    }


def tune_and_save_prompt(
    request: TuneRequest, out_prompt: str | Path, out_metrics: str | Path, log: Callable[[str], None] = log
) -> TunedRun:
    """Tune a task's own prompt from scratch (its r1) and write the prompt file and its record."""
    run = tune_run(request, log=log)
    save_prompt(
        out_prompt,
        run.result.prompt_state,
        run.result.head_state,
        run.result.embedding,
        prompt_metadata(run, request, lr=run.result.lr),
    )
    atomic_write_json(
        out_metrics,
        {"task": run.meta.name, "seed": request.seed, "metric": run.meta.metric, "score": run.result.score, **run_record(run)},
    )
    log(f"done: r1 = {run.result.score:.2f} ({run.meta.metric} x100) at lr {run.result.lr:g}")
    return run
