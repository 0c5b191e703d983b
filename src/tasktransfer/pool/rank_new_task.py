"""Rank a shared pool's sources for a new task in one call: prepare, tune, score, write, time.

``rank --pool POOL --task FILE.csv`` lands here: the task is prepared with the pool's data caps,
its prompt is tuned with the pool's prompt spec by the same function as ``prompt-tune``
(:func:`tasktransfer.prompting.tune_run.tune_and_save_prompt`), and every pool source is scored by
the pool's scorer and the similarity baselines.

A pool is untrusted (docs/trust.md): the backbone is this machine's (``request.backbone``, from
``--backbone`` or the local config), never a name the manifest gives; the pool's backbone and
its scorer's must have the same weights hash; every pool file is hash-checked, shape-checked and
finite before the new task is prepared or tuned; every number taken from the manifest is bounded
(:func:`tasktransfer.pool.manifest.check_manifest`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from tasktransfer.affinity.selection import ranking_table, score_sources, side_by_side
from tasktransfer.affinity.similarity import METHODS as SIMILARITY
from tasktransfer.data.prepare import DataSpec, TaskMeta, prepare_task
from tasktransfer.data.registry import TaskSpec, get_task, load_registry, parse_task
from tasktransfer.errors import TaskTransferError
from tasktransfer.io import atomic_write_json, atomic_write_text, read_record
from tasktransfer.pool.install import load_pool_embeddings, load_pool_scorer
from tasktransfer.pool.manifest import backbone_identity, check_pool_compatible, load_manifest, pool_tasks, verify_pool
from tasktransfer.pool.rank_paths import LOCK, MARKER, check_rank_paths
from tasktransfer.pool.selection_models import POOL_METHODS, check_pool_methods, check_selection_files, new_task_scores
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
    encoding: str | None = None


def task_name_of(path: Path) -> str:
    """A task name from a file name: the characters a task name may hold, else ``new_task``."""
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "_", path.stem).strip("_.-")
    return name or "new_task"


def _check_readable(path: Path) -> None:
    """The task file opens and holds something: a header alone is caught where it is read."""
    try:
        with path.open("rb") as handle:
            empty = not handle.read(1)
    except OSError as err:
        raise TaskTransferError(f"--task {path} cannot be read ({err.strerror}); give a file this user can read") from None
    if empty:
        raise TaskTransferError(f"--task {path} is empty; give a CSV, TSV or JSONL file with a header and examples")


def new_task_spec(task: str, file_task: FileTask, registry: str | None = None) -> TaskSpec:
    """The new task's registry entry: a local-file task made from ``file_task``, or a registry entry."""
    path = Path(task)
    if path.suffix.lower() in TABLE_SUFFIXES or path.is_file():
        if not path.is_file():
            raise TaskTransferError(
                f"--task {path} does not exist; give a CSV, TSV or JSONL file (or a registry entry with --registry)"
            )
        _check_readable(path)
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
        if file_task.encoding:
            import codecs

            try:
                codecs.lookup(file_task.encoding)
            except LookupError:
                raise TaskTransferError(
                    f"--encoding {file_task.encoding!r} is not an encoding Python knows; use e.g. utf-8, latin-1, cp1252"
                ) from None
            entry["source"]["encoding"] = file_task.encoding
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


class Phases:
    """Seconds of each phase of a ranking (each logged as it ends) and of the whole call."""

    def __init__(self, log: Callable[[str], None]):
        self.start = self.last = time.perf_counter()
        self.seconds: dict[str, float] = {}
        self.log = log

    def done(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = now - self.last
        self.log(f"{phase}: {self.seconds[phase]:.1f} s")
        self.last = now

    def total(self) -> float:
        return time.perf_counter() - self.start


@dataclass(frozen=True)
class CheckedPool:
    """A pool checked against this machine's backbone and the request, and what the ranking reads
    from it: read, hash-checked, shape-checked and finite before the new task is prepared."""

    path: Path
    manifest: dict
    backbone: str
    embedding_seed: int
    methods: list[str]
    sources: dict[str, Any]  # source -> its prompt embedding (the new task left out)
    model: Any  # the pool's scorer, or None where no method needs it
    data: DataSpec  # the pool's data caps


def _embedding_seed(pool: Path, manifest: dict, requested: int) -> int:
    """The seed of the pool prompts that embed its sources: the request's, or the pool's own."""
    seed_e = requested
    if not seed_e and seed_e not in manifest.get("seeds", []):  # the default 0: the pool's own embedding seed
        seed_e = manifest.get("embedding_seed")
    if seed_e is None or any(str(seed_e) not in manifest["tasks"][x]["seeds"] for x in pool_tasks(manifest)):
        raise TaskTransferError(
            f"pool {pool} lacks seed {seed_e} for some task; its common seeds are {manifest.get('seeds')} (--embedding-seed)"
        )
    return seed_e


def _methods(pool: Path, manifest: dict, requested: tuple[str, ...]) -> list[str]:
    """The methods to rank by (default: the scorer where the pool has one, and the similarities)."""
    has_scorer = bool(manifest.get("scorer"))
    methods = list(requested) or ((["scorer"] if has_scorer else []) + list(SIMILARITY))
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
    return methods


def check_pool(request: RankRequest, pool: Path, spec: TaskSpec, log: Callable[[str], None]) -> CheckedPool:
    """The pool: manifest, every file's hash, and its backbone against the one here; the embedding
    seed and methods the request asks for; then the files the ranking reads, loaded and checked."""
    manifest = verify_pool(pool, load_manifest(pool))
    backbone = request.backbone
    identity = backbone_identity(backbone)
    prompt = manifest["prompt"]
    _check_weights(pool, manifest, backbone, identity["weights_sha256"])
    check_pool_compatible(
        manifest,
        backbone,
        prompt["length"],
        identity["hidden_size"],
        prompt["mlp_hidden"],
        identity["weights_sha256"],
        pool,
    )
    seed_e = _embedding_seed(pool, manifest, request.embedding_seed)
    methods = _methods(pool, manifest, request.methods)
    check_selection_files(pool, manifest, methods)
    if not manifest.get("scorer"):
        log(f"pool {pool} has no scorer: ranking by the similarity baselines only")
    if spec.name in manifest["tasks"]:
        log(f"note: {spec.name} is also a pool task; it is left out of its own ranking")
    set_threads(request.threads)
    # every pool file this command uses, read (hash-checked), shape-checked and finite now: a bad
    # pool stops here, before the new task is prepared and tuned
    sources = {s: e for s, e in load_pool_embeddings(pool, manifest, seed_e).items() if s != spec.name}
    model = load_pool_scorer(pool, manifest, backbone) if "scorer" in methods else None
    caps = manifest.get("data") or {}
    if not caps:
        log(f"pool {pool} records no data caps; using the defaults {DataSpec()}")
    data = DataSpec(**{k: v for k, v in caps.items() if k in DataSpec.__dataclass_fields__})
    return CheckedPool(pool, manifest, backbone, seed_e, methods, sources, model, data)


def rank_new_task(request: RankRequest, log: Callable[[str], None] = default_log) -> pd.DataFrame:
    """Rank the pool's sources for ``request.spec``; write the ranking and ``rank.json``; return the ranking."""
    pool, spec = Path(request.pool), request.spec
    if not request.backbone:
        raise TaskTransferError(
            "rank --pool needs this machine's backbone: pass --backbone, or run where config/config.yaml names one "
            "(--config); the pool's own backbone name is never loaded"
        )
    phases = Phases(log)
    # where it writes, and the pool, checked and read before anything is written or tuned
    paths = check_rank_paths(pool, spec, request.work, request.out)
    checked = check_pool(request, pool, spec, log)
    phases.done("verify pool")
    # 2.-4. the task's data, capped like the pool's tasks, in a work folder this run alone uses
    with work_lock(paths.work):
        return _rank_in(replace(request, out=paths.out), checked, paths.work, phases, log)


def _rank_in(
    request: RankRequest, pool: CheckedPool, work: Path, phases: Phases, log: Callable[[str], None]
) -> pd.DataFrame:
    """Prepare the new task, tune its prompt, score every pool source; write and return the ranking."""
    spec, data = request.spec, pool.data
    meta = prepare_task(spec, data, Path(request.resources), work / "data")
    log(
        f"{spec.name}: {meta.n_train} train / {meta.n_dev} dev examples, {len(meta.labels)} labels, "
        f"majority class {'-' if meta.majority is None else f'{100 * meta.majority:.2f}'} "
        f"(caps {data.max_train} / {data.max_dev})"
    )
    phases.done("prepare")

    # 3. its prompt: the pool's backbone and prompt spec, through prompt-tune's own function
    tune = TuneRequest(
        data=work / "data",
        backbone=pool.backbone,
        spec=pool.manifest["prompt"].get("spec") or {},
        seed=request.seed,
        threads=request.threads,
    )
    tune_and_save_prompt(tune, work / "prompt.safetensors", work / "metrics.json", log=log)
    r1 = read_record(work / "metrics.json", ("score",))["score"]
    target_emb = load_prompt(work / "prompt.safetensors").embedding
    phases.done("tune prompt")

    # 4. score every pool source (their embeddings and the scorer were loaded and checked in step 1)
    tables = score_tables(request, pool, work, target_emb, log)
    phases.done("score sources")
    return _write_ranking(request, pool, work, tables, meta, r1, phases, log)


def score_tables(
    request: RankRequest, pool: CheckedPool, work: Path, target_emb: Any, log: Callable[[str], None]
) -> list[pd.DataFrame]:
    """One ranking table per method: the learned pool methods' scores, else the scorer's or a similarity's."""
    name, sources = request.spec.name, pool.sources
    learned = new_task_scores(
        pool.methods, pool.path, pool.manifest, pool.backbone, name, target_emb, sources, work / "data",
        pool.embedding_seed, log,
    )
    tables = []
    for m in pool.methods:
        scores = learned[m] if m in learned else score_sources(m, name, target_emb, sources, request.seed, pool.model)
        tables.append(ranking_table(m, name, scores))
    return tables


def _write_ranking(
    request: RankRequest,
    pool: CheckedPool,
    work: Path,
    tables: list[pd.DataFrame],
    meta: TaskMeta,
    r1: float,
    phases: Phases,
    log: Callable[[str], None],
) -> pd.DataFrame:
    """Write the ranking and ``rank.json`` (what was ranked, how, and how long each phase took),
    show them unless quiet, and return the ranking."""
    spec, methods = request.spec, pool.methods
    total = phases.total()
    out = Path(request.out) if request.out else work / "ranking.tsv"
    ranking = pd.concat(tables, ignore_index=True)
    atomic_write_text(out, ranking.to_csv(sep="\t", index=False))
    atomic_write_json(
        work / "rank.json",
        {
            "pool": str(pool.path),
            "task": spec.name,
            "source": spec.source,
            "n_train": meta.n_train,
            "n_dev": meta.n_dev,
            "metric": meta.metric,
            "r1": r1,
            "methods": methods,
            "ranking": str(out),
            "seconds": {**{k: round(v, 2) for k, v in phases.seconds.items()}, "total": round(total, 2)},
        },
    )
    if not request.quiet:
        print(
            f"Pool sources for {spec.name} (r1 {r1:.2f} {meta.metric} x100), best first by {methods[0]} "
            "(scorer: predicted gain; similarity otherwise):"
        )
        print(side_by_side(tables).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        print("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in phases.seconds.items()) + f"; total {total:.1f} s")
    log(f"ranking written to {out} (task files in {work}); total {total:.1f} s")
    return ranking


def _check_weights(pool: Path, manifest: dict, backbone: str, ours: str | None) -> None:
    """The pool's backbone, and its scorer's, must have this backbone's weights hash (both known)."""
    theirs = manifest["backbone"].get("weights_sha256")
    if ours is None:
        raise TaskTransferError(
            f"backbone {backbone} has no local weights to hash, so pool {pool} cannot be checked against it; "
            "pass --backbone a local model folder (or download the model first)"
        )
    if theirs is None:
        raise TaskTransferError(
            f"pool {pool} records no weights hash of its backbone {manifest['backbone']['name']!r}, so it cannot be "
            "checked against yours; ask for a pool exported with its backbone at hand"
        )
    if theirs != ours:
        raise TaskTransferError(
            f"pool {pool} was made with backbone {manifest['backbone']['name']} (weights sha256 {theirs[:12]}); "
            f"this run uses backbone {backbone} (weights sha256 {ours[:12]}): they differ. Use the pool's backbone "
            "(--backbone), or a pool made with yours"
        )
    scorer = manifest.get("scorer") or {}
    their_scorer = scorer.get("weights_sha256")
    if scorer and their_scorer is not None and their_scorer != ours:
        raise TaskTransferError(
            f"pool {pool}: its scorer was trained on a backbone with weights sha256 {their_scorer[:12]}, this "
            f"machine's backbone {backbone} has {ours[:12]}; rank with the similarity methods (--method) or use "
            "another pool"
        )


class work_lock:  # noqa: N801 - used as a context manager
    """Hold ``work/.rank.lock`` (an advisory lock the system drops when the process ends): a second
    ``rank`` on the same work folder stops at once instead of overwriting the first one's files.
    A work folder this call created is removed again if the ranking fails before writing into it."""

    def __init__(self, work: Path):
        self.work = Path(work)
        self.created = not self.work.exists()
        self.fd: int | None = None

    def __enter__(self) -> Path:
        if self.work.exists() and not self.work.is_dir():
            raise TaskTransferError(f"--work {self.work} is a file; name a folder")
        self.work.mkdir(parents=True, exist_ok=True)
        # ours from now on (rank_paths.py): a later call may use it again, a foreign folder never
        (self.work / MARKER).touch()
        self.fd = os.open(self.work / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            self.fd = None
            raise TaskTransferError(
                f"work folder {self.work} is in use by another `tasktransfer rank` (it holds {self.work / LOCK}); "
                "wait for it, or give this one its own folder with --work"
            ) from None
        return self.work

    def __exit__(self, kind, err, tb) -> None:  # noqa: ANN001
        assert self.fd is not None
        lock = self.work / LOCK
        lock.unlink(missing_ok=True)
        os.close(self.fd)
        if err is not None and self.created:
            # only folders left empty go (prepare, tune and select write atomically, at their end);
            # a folder that holds finished runs keeps them and its marker: select resumes from them
            for folder in sorted((p for p in self.work.rglob("*") if p.is_dir()), reverse=True):
                with contextlib.suppress(OSError):
                    folder.rmdir()
            if [p.name for p in self.work.iterdir()] == [MARKER]:
                (self.work / MARKER).unlink()
                self.work.rmdir()
