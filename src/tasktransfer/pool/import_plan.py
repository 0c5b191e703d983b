"""Import a shared pool into a workflow run (config key ``pool``): what the run takes from it.

The workflow calls :func:`plan_pool_import` while it plans (``workflow/rules/common.smk``); the
rules of ``workflow/rules/pool.smk`` then install the files (``tasktransfer pool install-*``).
Everything here is cheap, free of Snakemake, and fails before any job with one error that names
the pool and the run's side.

What a run takes from a pool (README, "Using a pool in a run"):

- **Its tasks become sources** of the run, with the pool's prompts as finished source prompts
  (hash-checked copies under ``results/prompts/{task}/seed{s}/``; no tuning job). The config's
  ``sources`` may add new tasks: they are tuned as usual. A pool task may not be a target.
- **Its scorer**, when it has one, replaces ``train_scorer``: it reads prompt embeddings, so it
  scores new sources and targets alike, and no scorer-training pair is planned (no transfer into
  a pool task, no target-role run of one; ``pairs`` and ``scorer`` settings go unused). A pool
  without a scorer: the run samples its pairs among all its sources and trains its own.
- **Its data meta** (sizes, labels, metric) stands in for ``results/data/{task}/meta.json`` of a
  pool task, unless the run needs that task's examples (a scorer pair into it, or the shuffled
  control): then ``prepare`` makes them from the task's registry entry (the pool's own where it
  recorded one) with the run's data caps.

Checked at planning time, each an error: the backbone (name, and weights hash where both sides
know it), the prompt length, the prompt encoder's MLP width and the backbone width (all of
``prompt`` and of ``prompt`` + ``target_prompt``); the pool seeds the run asks for; the sha256 of
every pool file the run uses; a pool task listed as a target. Warnings only: data caps or prompt
settings (epochs, lrs, ...) other than the pool's, a run registry entry that differs from the
pool's record of the same task.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasktransfer.data.registry import TaskSpec, parse_task
from tasktransfer.errors import ArtefactError, TaskTransferError

#: the data caps that shape a task's prepared examples (``target_train`` only picks a prefix)
DATA_KEYS = ("max_train", "max_dev", "split_seed", "dev_fraction")


@dataclass
class PoolPlan:
    """What a run takes from a shared pool."""

    path: str
    manifest: dict[str, Any]
    #: the pool's tasks: sources of the run, their prompts installed, never tuned
    tasks: list[str]
    #: the pool seeds the run uses (every pool task has each)
    seeds: list[int]
    #: whether the pool's scorer replaces train_scorer
    scorer: bool
    #: pool tasks whose examples the run prepares itself (scorer pairs into them, shuffled control)
    data_tasks: list[str]
    #: registry entries of the pool tasks (the pool's record where it has one)
    entries: dict[str, TaskSpec]
    warnings: list[str] = field(default_factory=list)

    @property
    def meta_tasks(self) -> list[str]:
        """Pool tasks whose ``meta.json`` comes from the pool (no ``prepare`` job)."""
        return [t for t in self.tasks if t not in self.data_tasks]

    def prompt_digest(self, task: str, seed: int | str) -> str:
        """The sha256 of a pool prompt and its record (what its install job's result depends on)."""
        from tasktransfer.pool.manifest import prompt_rel, record_rel

        files = self.manifest["files"]
        return f"{files[prompt_rel(task, seed)]}:{files[record_rel(task, seed)]}"

    def meta_json(self, task: str) -> str:
        """The task's data meta as the pool records it (canonical JSON)."""
        from tasktransfer.pool.manifest import pool_task_meta

        return json.dumps(pool_task_meta(self.manifest, task), sort_keys=True, separators=(",", ":"))

    def scorer_digest(self) -> str:
        """The sha256 of the pool's scorer file and of its recorded metrics."""
        info = self.manifest["scorer"]
        record = json.dumps(info.get("metrics"), sort_keys=True).encode()
        return f"{self.manifest['files'][info['file']]}:{hashlib.sha256(record).hexdigest()}"


def task_regex(tasks: list[str]) -> str:
    """A wildcard constraint matching exactly these task names (nothing when the list is empty)."""
    import re

    return "|".join(re.escape(t) for t in sorted(tasks)) if tasks else "(?!)"


def _entry(pool: str, task: str, info: dict, registry: dict[str, TaskSpec], warnings: list[str]) -> TaskSpec:
    """A pool task's registry entry: the pool's record, else the run's registry, else a stub."""
    ours = registry.get(task)
    if info.get("source"):
        entry = {k: info[k] for k in ("type", "format", "metric") if info.get(k) is not None}
        entry.update(source=info["source"], description=info.get("description") or "", data=info.get("task_data") or {})
        try:
            theirs = parse_task(task, entry)
        except TaskTransferError as err:
            raise ArtefactError(f"pool {pool}: the manifest's entry of task '{task}' is not valid here ({err})") from err
        if ours is not None and ours.fingerprint() != theirs.fingerprint():
            warnings.append(
                f"task '{task}' of pool {pool} differs from the entry of the same name in this run's registry "
                f"(pool: {theirs.fingerprint()}; registry: {ours.fingerprint()}); the pool's entry is used, since "
                "its prompts were tuned on that data"
            )
        return theirs
    if ours is not None:
        return ours
    # the pool recorded no data source (exported without a registry) and the run has no entry:
    # enough for labels and tables; preparing its data is refused at planning (see data_tasks)
    return TaskSpec(
        name=task,
        type=str(info.get("type") or "pool"),
        format=str(info.get("format") or "classification"),
        metric=str(info.get("metric") or "accuracy"),
        source={"kind": "pool", "pool": str(pool)},
        description=str(info.get("description") or ""),
    )


def _compare_caps(pool: str, theirs: dict | None, data: dict) -> list[str]:
    ours = {k: data[k] for k in DATA_KEYS if k in data}
    if not theirs:
        return [
            f"pool {pool} records no data caps (exported without --config); this run prepares its own tasks "
            f"with {ours}"
        ]
    differ = {k: (theirs.get(k), ours[k]) for k in ours if k in theirs and theirs.get(k) != ours[k]}
    if not differ:
        return []
    listing = ", ".join(f"{k} {a} in the pool, {b} here" for k, (a, b) in sorted(differ.items()))
    return [
        f"data caps differ from pool {pool}'s ({listing}): the pool's prompts stay as they were tuned, "
        "this run's own tasks are prepared with its caps"
    ]


def _compare_spec(pool: str, theirs: dict | None, prompt: dict) -> list[str]:
    if not theirs:
        return []
    skip = {"length", "mlp_hidden"}  # errors, checked apart
    differ = sorted(k for k in prompt if k in theirs and k not in skip and theirs[k] != prompt[k])
    if not differ:
        return []
    listing = ", ".join(f"{k} {theirs[k]} in the pool, {prompt[k]} here" for k in differ)
    return [f"prompt settings differ from pool {pool}'s ({listing}): new sources are tuned with this run's"]


def _check_backbone_and_prompt(pool: str, manifest: dict, config: dict) -> None:
    """The run's backbone and prompt size against the pool's: its ``prompt`` block and, where the
    target-role runs differ, ``prompt`` + ``target_prompt`` (both tune against pool prompts)."""
    from tasktransfer.pool.manifest import backbone_identity, check_pool_compatible

    backbone = config["backbone"]
    identity = backbone_identity(backbone)
    # as rank --pool: a side without a weights hash cannot be compared, so the pool is refused
    if identity["weights_sha256"] is None:
        raise TaskTransferError(
            f"backbone {backbone} has no local weights to hash, so pool {pool} cannot be checked against it; "
            "set backbone to a local model folder (or download the model first)"
        )
    if manifest["backbone"].get("weights_sha256") is None:
        raise TaskTransferError(
            f"pool {pool} records no weights hash of its backbone {manifest['backbone']['name']!r}, so it cannot be "
            "checked against the run's; ask for a pool exported with its backbone at hand"
        )
    blocks = [("prompt", config["prompt"])]
    target_block = {**config["prompt"], **(config.get("target_prompt") or {})}
    if target_block != config["prompt"]:
        blocks.append(("prompt + target_prompt", target_block))
    for _, block in blocks:
        # a key the block leaves out has PromptSpec's default, the schema's (a test keeps them equal);
        # imported here: the workflow imports this module at parse time, and training imports torch
        from tasktransfer.prompting.training import PromptSpec

        spec = PromptSpec.from_dict(block)
        check_pool_compatible(
            manifest,
            backbone,
            spec.length,
            identity["hidden_size"],
            spec.mlp_hidden,
            identity["weights_sha256"],
            pool,
        )


def _check_no_pool_target(pool: str, tasks: list[str], config: dict) -> None:
    """A pool task is a source of the run, never a target."""
    in_two = sorted(set(tasks) & (set(config.get("targets") or []) | set(config.get("novel_targets") or [])))
    if in_two:
        raise TaskTransferError(
            f"tasks {in_two} are in pool {pool} (its tasks are sources of this run) and also targets here; "
            "take them out of targets/novel_targets, or use a pool without them"
        )


def _run_seeds(pool: str, manifest: dict, tasks: list[str], config: dict) -> list[int]:
    """The pool seeds the run asks for, each one held by every pool task."""
    from tasktransfer.pool.manifest import pool_seeds

    seeds = sorted(int(s) for s in config["pool_seeds"])
    lacking = {t: sorted(set(seeds) - set(pool_seeds(manifest, t))) for t in tasks}
    lacking = {t: s for t, s in lacking.items() if s}
    if lacking:
        listing = "; ".join(f"{t} lacks {s}" for t, s in sorted(lacking.items()))
        raise ArtefactError(
            f"this run's pool_seeds {seeds} are not all in pool {pool} ({listing}); set pool_seeds to seeds "
            f"every pool task has ({pool_seeds(manifest)}), or export a pool with those seeds"
        )
    return seeds


def _pool_scorer(pool: str, manifest: dict) -> dict | None:
    """The pool's scorer entry, or None; it must share the prompts' backbone (whose fit to the run
    is checked already, so a scorer that passes fits the run too)."""
    info = manifest.get("scorer")
    if info and info.get("backbone") not in (None, manifest["backbone"]["name"]):
        raise ArtefactError(
            f"pool {pool}: its scorer was trained on backbone {info.get('backbone')}, its prompts on "
            f"{manifest['backbone']['name']}; export the pool again"
        )
    return info


def _data_tasks(tasks: list[str], config: dict, scorer: bool) -> list[str]:
    """The pool tasks whose examples the run still needs: targets of the scorer pairs it samples
    (only without the pool's scorer) and the shuffled control's task."""
    from tasktransfer.affinity.pairs import sample_pairs

    sources = sorted(set(config.get("sources") or []) | set(tasks))
    needed: set[str] = set()
    if not scorer:
        needed |= {t for _, t in sample_pairs(sources, config["pairs"]["m"], config["pairs"]["seed"])}
    control = config.get("control") or {}
    if control.get("init") == "shuffled":
        needed.add(control.get("task") or sources[0])
    return sorted(needed & set(tasks))


def _check_data_sources(pool: str, data_tasks: list[str], entries: dict[str, TaskSpec], scorer: bool) -> None:
    """A pool task whose examples the run needs must have a data source, the pool's or the run's."""
    no_source = [t for t in data_tasks if entries[t].kind == "pool"]
    if no_source:
        raise ArtefactError(
            f"this run needs the examples of pool tasks {no_source} ("
            + ("scorer pairs into them: the pool has no scorer" if not scorer else "the shuffled control")
            + f"), but pool {pool} records no data source for them and the run's registry has no entry; "
            "add their entries to the run's registry, or use a pool exported with --registry"
        )


def _verify_used_files(pool: str, manifest: dict, tasks: list[str], seeds: list[int], scorer: dict | None) -> None:
    """The files the run uses, hash-checked now, and each prompt's tensors shape-checked: a damaged
    pool stops the plan, never a job halfway."""
    from tasktransfer.pool.install import load_pool_prompt
    from tasktransfer.pool.manifest import record_rel, verify_pool

    for t in tasks:
        for s in seeds:
            load_pool_prompt(pool, t, s, manifest)  # its bytes against their hash, then its shapes
    used = [record_rel(t, s) for t in tasks for s in seeds]
    if scorer:
        used.append(scorer["file"])
    verify_pool(pool, manifest, used)


def plan_pool_import(pool: str | Path, config: dict, registry: dict[str, TaskSpec]) -> PoolPlan:
    """Check a pool against a run's (validated) config and say what the run takes from it.

    ``config`` is the workflow's config with the schema's defaults filled in; ``registry`` the
    run's task registry. Raises one :class:`~tasktransfer.errors.ArtefactError` (or
    :class:`~tasktransfer.errors.TaskTransferError`) naming both sides on any mismatch.
    """
    from tasktransfer.pool.manifest import load_manifest, pool_tasks

    pool = str(pool)
    manifest = load_manifest(pool)
    tasks = pool_tasks(manifest)
    if not tasks:
        raise ArtefactError(f"pool {pool} holds no task; export a finished run's pool again")
    # the cheap checks first, in the order a user fixes them; the file hashes last
    _check_backbone_and_prompt(pool, manifest, config)
    _check_no_pool_target(pool, tasks, config)
    seeds = _run_seeds(pool, manifest, tasks, config)
    info = _pool_scorer(pool, manifest)
    scorer = bool(info)  # the pool's scorer, when it has one, replaces train_scorer
    data_tasks = _data_tasks(tasks, config, scorer)
    warnings: list[str] = []
    entries = {t: _entry(pool, t, manifest["tasks"][t], registry, warnings) for t in tasks}
    _check_data_sources(pool, data_tasks, entries, scorer)
    _verify_used_files(pool, manifest, tasks, seeds, info)
    warnings += _compare_caps(pool, manifest.get("data"), config.get("data") or {})
    warnings += _compare_spec(pool, (manifest.get("prompt") or {}).get("spec"), config["prompt"])
    return PoolPlan(
        path=pool,
        manifest=manifest,
        tasks=tasks,
        seeds=seeds,
        scorer=scorer,
        data_tasks=data_tasks,
        entries=entries,
        warnings=warnings,
    )


def install_pool_meta(pool: str | Path, task: str, out_meta: str | Path, manifest: dict | None = None) -> None:
    """Write a pool task's data meta where a run keeps it (``results/data/{task}/meta.json``)."""
    from tasktransfer.io import atomic_write_json
    from tasktransfer.pool.manifest import load_manifest, pool_task_meta

    manifest = manifest if manifest is not None else load_manifest(pool)
    if task not in manifest["tasks"]:
        raise ArtefactError(f"pool {pool} has no task '{task}'; its tasks are {', '.join(sorted(manifest['tasks']))}")
    atomic_write_json(out_meta, pool_task_meta(manifest, task))
