"""Command line of shared pools: ``tasktransfer pool export|verify`` and ``tasktransfer rank --pool``.

``rank --pool POOL --task FILE.csv`` ranks a new task in one command: prepare the task (with the
pool's data caps), tune its prompt (the pool's backbone and prompt spec, the same code as
``prompt-tune``), score every pool source by the pool's scorer and the six similarity baselines,
print and write the ranking, and say how long each phase took.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

from .errors import TaskTransferError

TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".ndjson")


def _log(msg: str) -> None:
    from .cli import _log as log

    log(msg)


# --------------------------------------------------------------------------- pool export / verify
def cmd_pool_export(a: argparse.Namespace) -> None:
    import yaml

    from .shared_pool import export_pool

    config, config_name = None, None
    config_path = Path(a.config) if a.config else Path("config/config.yaml")
    if a.config or config_path.exists():
        if not config_path.exists():
            raise TaskTransferError(f"config {config_path} does not exist; pass the run's config with --config")
        config, config_name = yaml.safe_load(config_path.read_text()) or {}, str(config_path)
        _log(f"data caps and roles from {config_path}")
    else:
        _log("no config given (and no config/config.yaml here): the pool records no data caps")
    registry = a.registry
    if registry is None:
        default = (config or {}).get("tasks_registry", "config/tasks.yaml")
        registry = default if Path(default).exists() else None
        if registry is None:
            _log(f"note: registry {default} not found; data sources are recorded as null (pass --registry)")
    export_pool(
        a.results,
        a.out,
        registry=registry,
        config=config,
        config_name=config_name,
        tasks=a.tasks or None,
        force=a.force,
        log=_log,
    )


def cmd_pool_verify(a: argparse.Namespace) -> None:
    from .shared_pool import describe, load_manifest, verify_pool

    manifest = verify_pool(a.pool, load_manifest(a.pool))
    print(f"OK: {a.pool}: every file matches its sha256 in the manifest")
    print(describe(manifest))


def cmd_pool_install_prompt(a: argparse.Namespace) -> None:
    from .shared_pool import install_pool_prompt

    install_pool_prompt(a.pool, a.task, a.seed, a.out_prompt, a.out_metrics, out_meta=a.out_meta)
    _log(f"{a.task} seed {a.seed} installed from pool {a.pool} as {a.out_prompt}")


def cmd_pool_install_scorer(a: argparse.Namespace) -> None:
    from .shared_pool import install_pool_scorer

    install_pool_scorer(a.pool, a.out_model, a.out_metrics)
    _log(f"scorer installed from pool {a.pool} as {a.out_model}")


def cmd_pool_install_meta(a: argparse.Namespace) -> None:
    from .pool_import import install_pool_meta

    install_pool_meta(a.pool, a.task, a.out_meta)
    _log(f"{a.task}: data meta installed from pool {a.pool} as {a.out_meta}")


def add_pool_commands(sub) -> None:
    """The ``pool`` subcommand group (export, verify)."""
    s = sub.add_parser("pool", help="share a finished run's prompt pool: export it, verify a copy")
    pool_sub = s.add_subparsers(dest="pool_command", required=True)

    e = pool_sub.add_parser("export", help="write results/ prompts and scorer as a self-describing pool folder")
    e.add_argument("--results", default="results", help="the finished run's results folder")
    e.add_argument("--out", required=True, help="pool folder to write (must not exist or be empty, unless --force)")
    e.add_argument(
        "--registry", help="task registry of the run (default: the config's tasks_registry, else config/tasks.yaml)"
    )
    e.add_argument(
        "--config", help="the run's config: data caps and task roles (default: config/config.yaml if present)"
    )
    e.add_argument(
        "--tasks",
        type=lambda t: [x for x in t.split(",") if x],
        default=[],
        help="export only these tasks (comma-separated; default: every task under results/prompts)",
    )
    e.add_argument("--force", action="store_true", help="replace a non-empty --out")
    e.set_defaults(func=cmd_pool_export)

    v = pool_sub.add_parser(
        "verify", help="check every file of a pool against its manifest's sha256; print OK or the error"
    )
    v.add_argument("pool")
    v.set_defaults(func=cmd_pool_verify)

    i = pool_sub.add_parser("install-prompt", help="copy one pool prompt (hash-checked) to where a run keeps its own")
    i.add_argument("--pool", required=True)
    i.add_argument("--task", required=True)
    i.add_argument("--seed", type=int, required=True)
    i.add_argument("--out-prompt", required=True, help="results/prompts/{task}/seed{s}/prompt.safetensors")
    i.add_argument("--out-metrics", required=True, help="results/prompts/{task}/seed{s}/metrics.json")
    i.add_argument("--out-meta", help="also write the task's data meta (results/data/{task}/meta.json)")
    i.set_defaults(func=cmd_pool_install_prompt)

    i = pool_sub.add_parser("install-meta", help="write a pool task's data meta (sizes, labels) where a run keeps it")
    i.add_argument("--pool", required=True)
    i.add_argument("--task", required=True)
    i.add_argument("--out-meta", required=True, help="results/data/{task}/meta.json")
    i.set_defaults(func=cmd_pool_install_meta)

    i = pool_sub.add_parser("install-scorer", help="copy the pool's scorer (hash-checked) to where a run keeps its own")
    i.add_argument("--pool", required=True)
    i.add_argument("--out-model", required=True, help="results/scorer/model.safetensors")
    i.add_argument("--out-metrics", required=True, help="results/scorer/metrics.json")
    i.set_defaults(func=cmd_pool_install_scorer)


# --------------------------------------------------------------------------- rank --pool
def add_rank_pool_args(s) -> None:
    """Flags of ``rank`` that rank a new task against a shared pool (``--pool``)."""
    g = s.add_argument_group("a new task against a shared pool (--pool)")
    g.add_argument(
        "--pool", help="shared pool folder (`tasktransfer pool export`): tune --task and rank the pool for it"
    )
    g.add_argument("--task", help="the new task: a CSV/TSV/JSONL file, or a registry entry's name (with --registry)")
    g.add_argument("--text-column", default="text", help="column of the input text (file tasks)")
    g.add_argument("--text-pair-column", help="column of a second text (sentence pairs; file tasks)")
    g.add_argument("--label-column", default="label", help="column of the label (file tasks)")
    g.add_argument(
        "--format",
        dest="task_format",
        default="classification",
        choices=["classification", "regression"],
        help="the file task's format",
    )
    g.add_argument("--metric", help="the file task's metric (default: its format's)")
    g.add_argument("--name", help="the new task's name (default: the file's stem)")
    g.add_argument("--registry", help="task registry, when --task names an entry")
    g.add_argument("--resources", default="resources", help="resources folder of registry tasks (data packages)")
    g.add_argument("--work", help="folder for the task's data, prompt and ranking (default: tasktransfer-rank/<name>)")


def _task_name(path: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "_", path.stem).strip("_.-")
    return name or "new_task"


def new_task_spec(a: argparse.Namespace):
    """The new task's registry entry: a local-file task made from the flags, or a registry entry."""
    from .tasks import get_task, load_registry, parse_task

    path = Path(a.task)
    if path.suffix.lower() in TABLE_SUFFIXES or path.is_file():
        if not path.is_file():
            raise TaskTransferError(
                f"--task {path} does not exist; give a CSV, TSV or JSONL file (or a registry entry with --registry)"
            )
        fields = {"text": a.text_column, "label": a.label_column}
        if a.text_pair_column:
            fields["text_pair"] = a.text_pair_column
        entry = {
            "type": "new",
            "format": a.task_format,
            "source": {"kind": "local", "files": str(path.resolve()), "fields": fields},
        }
        if a.metric:
            entry["metric"] = a.metric
        return parse_task(a.name or _task_name(path), entry)
    if not a.registry:
        raise TaskTransferError(
            f"--task {a.task} is not a file; to rank a registry entry pass --registry (e.g. config/tasks.yaml)"
        )
    spec = get_task(load_registry(a.registry), a.task)
    if a.name:
        from dataclasses import replace

        spec = replace(spec, name=a.name)
    return spec


def cmd_rank_pool(a: argparse.Namespace) -> None:
    """Rank a shared pool's sources for a new task: prepare, tune, score; print, write, time."""
    import pandas as pd

    from .cli import _set_threads, cmd_prompt_tune
    from .data import DataSpec, prepare_task
    from .io import atomic_write_json, atomic_write_text
    from .prompt_pool import load_prompt
    from .selection import ranking_table, score_sources, side_by_side
    from .shared_pool import (
        backbone_identity,
        check_pool_compatible,
        load_manifest,
        load_pool_embeddings,
        load_pool_scorer,
        pool_tasks,
        verify_pool,
    )
    from .similarity import METHODS as SIMILARITY

    if not a.task:
        raise TaskTransferError("rank --pool needs the new task: --task FILE.csv (or a registry entry with --registry)")
    start = time.perf_counter()
    phases: dict[str, float] = {}

    def done(phase: str, since: float) -> float:
        now = time.perf_counter()
        phases[phase] = now - since
        _log(f"{phase}: {phases[phase]:.1f} s")
        return now

    t = start
    # 1. the pool: manifest, every file's hash, and its backbone against the one here
    pool = Path(a.pool)
    manifest = verify_pool(pool, load_manifest(pool))
    spec = new_task_spec(a)
    backbone = a.backbone or manifest["backbone"]["name"]
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
    seed_e = a.embedding_seed
    if not seed_e and seed_e not in manifest.get("seeds", []):  # the default 0: the pool's own embedding seed
        seed_e = manifest.get("embedding_seed")
    if seed_e is None or any(str(seed_e) not in manifest["tasks"][x]["seeds"] for x in pool_tasks(manifest)):
        raise TaskTransferError(
            f"pool {pool} lacks seed {seed_e} for some task; its common seeds are {manifest.get('seeds')} (--embedding-seed)"
        )
    has_scorer = bool(manifest.get("scorer"))
    methods = [m for m in (a.method or "").split(",") if m] or ((["scorer"] if has_scorer else []) + list(SIMILARITY))
    if "scorer" in methods and not has_scorer:
        raise TaskTransferError(
            f"pool {pool} has no scorer; rank with the similarity methods (--method {','.join(SIMILARITY)})"
        )
    if "brute_force" in methods:
        raise TaskTransferError("brute_force needs every transfer into the new task; it is no method of rank --pool")
    unknown = [m for m in methods if m not in ("scorer", "random", *SIMILARITY)]
    if unknown:
        raise TaskTransferError(f"methods {unknown} are unknown here; use scorer, random or {', '.join(SIMILARITY)}")
    if not has_scorer:
        _log(f"pool {pool} has no scorer: ranking by the similarity baselines only")
    if spec.name in manifest["tasks"]:
        _log(f"note: {spec.name} is also a pool task; it is left out of its own ranking")
    _set_threads(a.threads)
    t = done("verify pool", t)

    # 2. the task's data, capped like the pool's tasks
    work = Path(a.work or Path("tasktransfer-rank") / spec.name)
    caps = manifest.get("data") or {}
    if not caps:
        _log(f"pool {pool} records no data caps; using the defaults {DataSpec()}")
    data = DataSpec(**{k: v for k, v in caps.items() if k in DataSpec.__dataclass_fields__})
    meta = prepare_task(spec, data, Path(a.resources), work / "data")
    _log(
        f"{spec.name}: {meta.n_train} train / {meta.n_dev} dev examples, {len(meta.labels)} labels, "
        f"majority class {'-' if meta.majority is None else f'{100 * meta.majority:.2f}'} "
        f"(caps {data.max_train} / {data.max_dev})"
    )
    t = done("prepare", t)

    # 3. its prompt: the pool's backbone and prompt spec, through prompt-tune itself
    tune = argparse.Namespace(
        data=str(work / "data"),
        backbone=backbone,
        spec=prompt.get("spec") or {},
        seed=a.seed,
        threads=a.threads,
        out_prompt=str(work / "prompt.safetensors"),
        out_metrics=str(work / "metrics.json"),
    )
    cmd_prompt_tune(tune)
    r1 = json.loads((work / "metrics.json").read_text())["score"]
    target_emb = load_prompt(work / "prompt.safetensors").embedding
    t = done("tune prompt", t)

    # 4. score every pool source
    sources = {s: e for s, e in load_pool_embeddings(pool, manifest, seed_e).items() if s != spec.name}
    model = load_pool_scorer(pool, manifest) if "scorer" in methods else None
    tables = [
        ranking_table(m, spec.name, score_sources(m, spec.name, target_emb, sources, a.seed, model)) for m in methods
    ]
    t = done("score sources", t)

    total = time.perf_counter() - start
    out = Path(a.out) if a.out else work / "ranking.tsv"
    atomic_write_text(out, pd.concat(tables, ignore_index=True).to_csv(sep="\t", index=False))
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
    if not a.quiet:
        print(
            f"Pool sources for {spec.name} (r1 {r1:.2f} {meta.metric} x100), best first by {methods[0]} "
            "(scorer: predicted gain; similarity otherwise):"
        )
        print(side_by_side(tables).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        print("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()) + f"; total {total:.1f} s")
    _log(f"ranking written to {out} (task files in {work}); total {total:.1f} s")
