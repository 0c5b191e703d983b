"""Tune prompts and save them as runs: the one function behind ``prompt-tune``, ``transfer``,
the shuffled control and ``rank --pool``. A request with several seeds trains them (and the
spec's learning rates) as replicas of one batched loop (training.tune_prompts): one run per seed.

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
from tasktransfer.prompting.training import PromptSpec, TuneResult, spec_dict, tune_prompts
from tasktransfer.runtime import job_info, log, process_start, set_threads

#: rows -> rows, with the task's name (the shuffled control relabels its examples this way)
Transform = Callable[[list[dict], str], list[dict]]


@dataclass(frozen=True)
class TuneRequest:
    """Prompt runs of one task: the prepared task folder, the backbone, the prompt spec and the
    seed, or several seeds (trained together as replicas), each from its own source prompt."""

    data: Path
    backbone: str
    spec: dict[str, Any]
    seed: int = 0
    max_train: int = 0  # the first N training examples only (0: all)
    threads: int = 0
    init_prompt: str | None = None  # a source prompt file to start from (a transfer)
    seeds: tuple[int, ...] = ()  # several runs in one loop (replaces seed)
    init_prompts: tuple[str | None, ...] = ()  # one source prompt per seed (replaces init_prompt)
    max_replicas: int = 0  # most runs (seeds x learning rates) trained together; 0: all

    def run_seeds(self) -> list[int]:
        return list(self.seeds) or [self.seed]

    def run_inits(self) -> list[str | None]:
        seeds = self.run_seeds()
        inits = list(self.init_prompts) or [self.init_prompt] * len(seeds)
        if len(inits) == 1 and len(seeds) > 1:
            inits = inits * len(seeds)
        if len(inits) != len(seeds):
            raise ValueError(f"{len(seeds)} seeds but {len(inits)} source prompts")
        return inits


@dataclass
class TunedRun:
    meta: TaskMeta
    backbone: Backbone
    spec: PromptSpec
    result: TuneResult
    seed: int = 0


def tune_run(request: TuneRequest, transform: Transform | None = None, log: Callable[[str], None] = log) -> TunedRun:
    """Tune the prompt of a one-seed ``request`` (from scratch, or from its source prompt)."""
    (run,) = tune_runs(request, transform, log)
    return run


def tune_runs(
    request: TuneRequest, transform: Transform | None = None, log: Callable[[str], None] = log
) -> list[TunedRun]:
    """Tune ``request``'s runs, one per seed, as replicas of one loop; return them in seed order."""
    set_threads(request.threads)
    spec = PromptSpec.from_dict(request.spec)
    data_dir = Path(request.data)
    meta = read_meta(data_dir)
    backbone = load_backbone(request.backbone)
    seeds, init_files = request.run_seeds(), request.run_inits()
    states: dict[str, dict] = {}
    for path in dict.fromkeys(p for p in init_files if p):
        source = load_prompt(path)
        check_compatible(source, path, request.backbone, spec.length, backbone.hidden_size, spec.mlp_hidden)
        states[path] = source.prompt_state
    train, dev = read_jsonl(data_dir / "train.jsonl"), read_jsonl(data_dir / "dev.jsonl")
    train = training_subset(train, request.max_train)
    if transform is not None:
        train, dev = transform(train, meta.name), transform(dev, meta.name)
    for seed, path in zip(seeds, init_files):
        log(f"task {meta.name} ({meta.format}, {meta.metric}), seed {seed}, backbone {request.backbone}, init {path or 'random'}")
    results = tune_prompts(
        backbone, meta, train, dev, spec, seeds, [states[p] if p else None for p in init_files],
        log=log, max_replicas=request.max_replicas,
    )
    digest = rows_digest(train)
    runs = []
    for seed, result in zip(seeds, results):
        result.train_digest = digest
        result.setup_seconds = max(0.0, time.time() - process_start() - result.train_seconds)
        runs.append(TunedRun(meta, backbone, spec, result, seed))
    return runs


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
        # runs trained together in the job's loop (train_seconds and examples_per_second are the loop's)
        "replicas": result.replicas,
        "dev_predictions": result.dev_predictions,
        **job_info(),
    }


def prompt_metadata(run: TunedRun, request: TuneRequest, **extra: Any) -> dict[str, Any]:
    """The metadata a prompt file carries: what it was tuned on and with, checked when it is loaded."""
    return {
        "task": run.meta.name,
        "seed": run.seed,
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
    return tune_and_save_prompts(request, [out_prompt], [out_metrics], log=log)[0]


def tune_and_save_prompts(
    request: TuneRequest,
    out_prompts: list[str | Path],
    out_metrics: list[str | Path],
    log: Callable[[str], None] = log,
) -> list[TunedRun]:
    """Tune a task's own prompts, one per seed of ``request`` (replicas of one loop), and write
    each seed's prompt file and record to its own paths."""
    seeds = request.run_seeds()
    if not len(seeds) == len(out_prompts) == len(out_metrics):
        raise ValueError(f"{len(seeds)} seeds, {len(out_prompts)} prompt paths, {len(out_metrics)} metrics paths")
    runs = tune_runs(request, log=log)
    for run, prompt_path, metrics_path in zip(runs, out_prompts, out_metrics):
        save_prompt(
            prompt_path,
            run.result.prompt_state,
            run.result.head_state,
            run.result.embedding,
            prompt_metadata(run, request, lr=run.result.lr),
        )
        atomic_write_json(
            metrics_path,
            {"task": run.meta.name, "seed": run.seed, "metric": run.meta.metric, "score": run.result.score, **run_record(run)},
        )
        log(f"done: seed {run.seed}: r1 = {run.result.score:.2f} ({run.meta.metric} x100) at lr {run.result.lr:g}")
    return runs
