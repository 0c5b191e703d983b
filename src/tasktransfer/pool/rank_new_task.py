"""Rank a shared pool's sources for a new task in one call: prepare, tune, score, write, time.

``rank --pool POOL --task FILE.csv`` lands here: the task is prepared with the pool's data caps,
its prompt is tuned with the pool's prompt spec by the same function as ``prompt-tune``
(:func:`tasktransfer.prompting.tune_run.tune_and_save_prompt`), and every pool source is scored by
the pool's scorer and the similarity baselines.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from tasktransfer.affinity.selection import ranking_table, score_sources, side_by_side
from tasktransfer.affinity.similarity import METHODS as SIMILARITY
from tasktransfer.data.prepare import DataSpec, prepare_task
from tasktransfer.data.registry import TaskSpec, get_task, load_registry, parse_task
from tasktransfer.errors import TaskTransferError
from tasktransfer.io import atomic_write_json, atomic_write_text
from tasktransfer.pool.install import load_pool_embeddings, load_pool_scorer
from tasktransfer.pool.manifest import backbone_identity, check_pool_compatible, load_manifest, pool_tasks, verify_pool
from tasktransfer.pool.selection_models import POOL_METHODS, check_pool_methods, new_task_scores
from tasktransfer.prompting.prompt_files import load_prompt
from tasktransfer.prompting.tune_run import TuneRequest, tune_and_save_prompt
from tasktransfer.runtime import log as default_log
from tasktransfer.runtime import set_threads

TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".ndjson")


@dataclass(frozen=True)
class FileTask:
    """A new task given as a local table: which columns hold what, and its format and metric."""

    path: Path
    text_column: str = "text"
    label_column: str = "label"
    text_pair_column: str | None = None
    task_format: str = "classification"
    metric: str | None = None
    name: str | None = None


def task_name_of(path: Path) -> str:
    """A task name from a file name: the characters a task name may hold, else ``new_task``."""
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "_", path.stem).strip("_.-")
    return name or "new_task"


def new_task_spec(task: str, file_task: FileTask, registry: str | None = None) -> TaskSpec:
    """The new task's registry entry: a local-file task made from ``file_task``, or a registry entry."""
    path = Path(task)
    if path.suffix.lower() in TABLE_SUFFIXES or path.is_file():
        if not path.is_file():
            raise TaskTransferError(
                f"--task {path} does not exist; give a CSV, TSV or JSONL file (or a registry entry with --registry)"
            )
        fields = {"text": file_task.text_column, "label": file_task.label_column}
        if file_task.text_pair_column:
            fields["text_pair"] = file_task.text_pair_column
        entry = {
            "type": "new",
            "format": file_task.task_format,
            "source": {"kind": "local", "files": str(path.resolve()), "fields": fields},
        }
        if file_task.metric:
            entry["metric"] = file_task.metric
        return parse_task(file_task.name or task_name_of(path), entry)
    if not registry:
        raise TaskTransferError(
            f"--task {task} is not a file; to rank a registry entry pass --registry (e.g. config/tasks.yaml)"
        )
    spec = get_task(load_registry(registry), task)
    return replace(spec, name=file_task.name) if file_task.name else spec


@dataclass(frozen=True)
class RankRequest:
    pool: Path
    spec: TaskSpec
    backbone: str | None = None
    embedding_seed: int = 0
    methods: tuple[str, ...] = ()
    seed: int = 0
    threads: int = 0
    resources: Path = Path("resources")
    work: Path | None = None
    out: Path | None = None
    quiet: bool = False


def rank_new_task(request: RankRequest, log: Callable[[str], None] = default_log) -> pd.DataFrame:
    """Rank the pool's sources for ``request.spec``; write the ranking and ``rank.json``; return the ranking."""
    pool, spec = Path(request.pool), request.spec
    start = time.perf_counter()
    phases: dict[str, float] = {}

    def done(phase: str, since: float) -> float:
        now = time.perf_counter()
        phases[phase] = now - since
        log(f"{phase}: {phases[phase]:.1f} s")
        return now

    t = start
    # 1. the pool: manifest, every file's hash, and its backbone against the one here
    manifest = verify_pool(pool, load_manifest(pool))
    backbone = request.backbone or manifest["backbone"]["name"]
    identity = backbone_identity(backbone)
    prompt = manifest["prompt"]
    check_pool_compatible(
        manifest,
        backbone,
        prompt["length"],
        identity["hidden_size"],
        prompt["mlp_hidden"],
        identity["weights_sha256"],
        pool,
    )
    seed_e = request.embedding_seed
    if not seed_e and seed_e not in manifest.get("seeds", []):  # the default 0: the pool's own embedding seed
        seed_e = manifest.get("embedding_seed")
    if seed_e is None or any(str(seed_e) not in manifest["tasks"][x]["seeds"] for x in pool_tasks(manifest)):
        raise TaskTransferError(
            f"pool {pool} lacks seed {seed_e} for some task; its common seeds are {manifest.get('seeds')} (--embedding-seed)"
        )
    has_scorer = bool(manifest.get("scorer"))
    methods = list(request.methods) or ((["scorer"] if has_scorer else []) + list(SIMILARITY))
    if "scorer" in methods and not has_scorer:
        raise TaskTransferError(
            f"pool {pool} has no scorer; rank with the similarity methods (--method {','.join(SIMILARITY)})"
        )
    if "brute_force" in methods:
        raise TaskTransferError("brute_force needs every transfer into the new task; it is no method of rank --pool")
    unknown = [m for m in methods if m not in ("scorer", "random", *SIMILARITY, *POOL_METHODS)]
    if unknown:
        raise TaskTransferError(
            f"methods {unknown} are unknown here; use scorer, random, {', '.join(POOL_METHODS)} or {', '.join(SIMILARITY)}"
        )
    check_pool_methods(pool, manifest, methods)
    if not has_scorer:
        log(f"pool {pool} has no scorer: ranking by the similarity baselines only")
    if spec.name in manifest["tasks"]:
        log(f"note: {spec.name} is also a pool task; it is left out of its own ranking")
    set_threads(request.threads)
    t = done("verify pool", t)

    # 2. the task's data, capped like the pool's tasks
    work = Path(request.work or Path("tasktransfer-rank") / spec.name)
    caps = manifest.get("data") or {}
    if not caps:
        log(f"pool {pool} records no data caps; using the defaults {DataSpec()}")
    data = DataSpec(**{k: v for k, v in caps.items() if k in DataSpec.__dataclass_fields__})
    meta = prepare_task(spec, data, Path(request.resources), work / "data")
    log(
        f"{spec.name}: {meta.n_train} train / {meta.n_dev} dev examples, {len(meta.labels)} labels, "
        f"majority class {'-' if meta.majority is None else f'{100 * meta.majority:.2f}'} "
        f"(caps {data.max_train} / {data.max_dev})"
    )
    t = done("prepare", t)

    # 3. its prompt: the pool's backbone and prompt spec, through prompt-tune's own function
    tune = TuneRequest(
        data=work / "data", backbone=backbone, spec=prompt.get("spec") or {}, seed=request.seed, threads=request.threads
    )
    tune_and_save_prompt(tune, work / "prompt.safetensors", work / "metrics.json", log=log)
    r1 = json.loads((work / "metrics.json").read_text())["score"]
    target_emb = load_prompt(work / "prompt.safetensors").embedding
    t = done("tune prompt", t)

    # 4. score every pool source
    sources = {s: e for s, e in load_pool_embeddings(pool, manifest, seed_e).items() if s != spec.name}
    model = load_pool_scorer(pool, manifest) if "scorer" in methods else None
    learned = new_task_scores(methods, pool, manifest, backbone, spec.name, target_emb, sources, work / "data", seed_e, log)
    tables = [
        ranking_table(
            m, spec.name, learned[m] if m in learned else score_sources(m, spec.name, target_emb, sources, request.seed, model)
        )
        for m in methods
    ]
    t = done("score sources", t)

    total = time.perf_counter() - start
    out = Path(request.out) if request.out else work / "ranking.tsv"
    ranking = pd.concat(tables, ignore_index=True)
    atomic_write_text(out, ranking.to_csv(sep="\t", index=False))
    atomic_write_json(
        work / "rank.json",
        {
            "pool": str(pool),
            "task": spec.name,
            "source": spec.source,
            "n_train": meta.n_train,
            "n_dev": meta.n_dev,
            "metric": meta.metric,
            "r1": r1,
            "methods": methods,
            "ranking": str(out),
            "seconds": {**{k: round(v, 2) for k, v in phases.items()}, "total": round(total, 2)},
        },
    )
    if not request.quiet:
        print(
            f"Pool sources for {spec.name} (r1 {r1:.2f} {meta.metric} x100), best first by {methods[0]} "
            "(scorer: predicted gain; similarity otherwise):"
        )
        print(side_by_side(tables).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        print("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()) + f"; total {total:.1f} s")
    log(f"ranking written to {out} (task files in {work}); total {total:.1f} s")
    return ranking
