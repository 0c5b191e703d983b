"""Command line of shared pools: ``tasktransfer pool export|verify`` and ``tasktransfer rank --pool``.

``rank --pool POOL --task FILE.csv`` ranks a new task in one command: prepare the task (with the
pool's data caps), tune its prompt (the pool's backbone and prompt spec, the same code as
``prompt-tune``), score every pool source by the pool's scorer and the six similarity baselines,
print and write the ranking, and say how long each phase took.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tasktransfer.errors import TaskTransferError
from tasktransfer.runtime import log


# --------------------------------------------------------------------------- pool export / verify
def cmd_pool_export(a: argparse.Namespace) -> None:
    from tasktransfer.pool.export_job import export_run

    export_run(a.results, a.out, config=a.config, registry=a.registry, tasks=a.tasks or None, force=a.force, log=log)


def cmd_pool_verify(a: argparse.Namespace) -> None:
    from tasktransfer.pool.install import verify_pool_contents
    from tasktransfer.pool.manifest import describe

    manifest = verify_pool_contents(a.pool)
    print(f"OK: {a.pool}: every file matches its sha256 in the manifest, every prompt its sizes")
    print(describe(manifest))


def cmd_pool_install_prompt(a: argparse.Namespace) -> None:
    from tasktransfer.pool.install import install_pool_prompt

    install_pool_prompt(a.pool, a.task, a.seed, a.out_prompt, a.out_metrics, out_meta=a.out_meta)
    log(f"{a.task} seed {a.seed} installed from pool {a.pool} as {a.out_prompt}")


def cmd_pool_install_scorer(a: argparse.Namespace) -> None:
    from tasktransfer.pool.install import install_pool_scorer

    install_pool_scorer(a.pool, a.out_model, a.out_metrics, backbone=a.backbone)
    log(f"scorer installed from pool {a.pool} as {a.out_model}")


def cmd_pool_install_meta(a: argparse.Namespace) -> None:
    from tasktransfer.pool.import_plan import install_pool_meta

    install_pool_meta(a.pool, a.task, a.out_meta)
    log(f"{a.task}: data meta installed from pool {a.pool} as {a.out_meta}")


def add_commands(sub) -> None:
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
    i.add_argument("--backbone", help="the run's backbone (its weights hash matched the pool's): every tensor checked "
                   "against the scorer rebuilt on it, the file bounded by what that scorer can hold")
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
    g.add_argument("--work", help="folder for the task's data, prompt and ranking (default: tasktransfer-rank/<name>); "
                   "locked while a rank runs in it")
    g.add_argument("--encoding", help="text encoding of the --task file (default utf-8), e.g. latin-1")
    g.add_argument(
        "--config",
        help="config whose `backbone` is this machine's backbone, when --backbone is not given "
        "(default: config/config.yaml if present); the pool's backbone name is never loaded",
    )


def file_task_spec(a: argparse.Namespace):
    """The new task of ``rank --pool`` and ``select --pool``: a local file's columns, or a registry entry."""
    from tasktransfer.pool.rank_new_task import FileTask, new_task_spec

    if not a.task:
        raise TaskTransferError(f"{a.command} --pool needs the new task: --task FILE.csv (or a registry entry with --registry)")
    file_task = FileTask(
        path=Path(a.task),
        text_column=a.text_column,
        label_column=a.label_column,
        text_pair_column=a.text_pair_column,
        task_format=a.task_format,
        metric=a.metric,
        name=a.name,
        encoding=a.encoding,
    )
    if a.name:
        from tasktransfer.names import check_name

        check_name(a.name, "--name", "name the task with letters, digits, '_', '.', '-'")
    return new_task_spec(a.task, file_task, a.registry)


def cmd_rank_pool(a: argparse.Namespace) -> None:
    """Rank a shared pool's sources for a new task (``rank --pool``)."""
    from tasktransfer.pool.rank_new_task import RankRequest, rank_new_task

    rank_new_task(
        RankRequest(
            pool=Path(a.pool),
            spec=file_task_spec(a),
            backbone=a.backbone or local_backbone(a.config),
            embedding_seed=a.embedding_seed,
            methods=tuple(m for m in (a.method or "").split(",") if m),
            seed=a.seed,
            threads=a.threads,
            resources=Path(a.resources),
            work=Path(a.work) if a.work else None,
            out=Path(a.out) if a.out else None,
            quiet=a.quiet,
        )
    )


def local_backbone(config: str | None) -> str | None:
    """The backbone of this machine's configuration: ``--config``'s, else config/config.yaml's."""
    from tasktransfer.yaml_files import load_yaml_file

    path = Path(config) if config else Path("config/config.yaml")
    if not config and not path.exists():
        return None
    loaded = load_yaml_file(path, "config")
    backbone = loaded.get("backbone") if isinstance(loaded, dict) else None
    if not isinstance(backbone, str) or not backbone:
        raise TaskTransferError(f"config {path} names no backbone; pass --backbone")
    return backbone
