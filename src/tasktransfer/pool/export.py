"""Exporting a finished run's prompt pool (and scorer) as a shared pool folder with its manifest."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tasktransfer.errors import ArtefactError, TaskTransferError
from tasktransfer.names import RULE, is_name
from tasktransfer.pool.manifest import (
    FORMAT_VERSION,
    MANIFEST,
    POOL_KIND,
    SCORER_FILE,
    Log,
    backbone_identity,
    header_metadata,
    prompt_rel,
    public_record,
    read_json,
    record_rel,
    sha256_file,
)

#: a run's prompt folder per pool seed: results/prompts/{task}/seed{s}/
_SEED_DIR = re.compile(r"seed(\d+)")



def _find_prompts(prompts_root: Path, only: Iterable[str] | None) -> dict[str, dict[int, Path]]:
    """task -> seed -> its prompt folder; folders starting with '_' or '.' (the control) are not tasks."""
    if not prompts_root.is_dir():
        raise TaskTransferError(f"{prompts_root} does not exist; export a finished run's results folder (--results)")
    found: dict[str, dict[int, Path]] = {}
    for task_dir in sorted(prompts_root.iterdir()):
        if not task_dir.is_dir() or task_dir.name.startswith(("_", ".")):
            continue
        if not is_name(task_dir.name):
            raise TaskTransferError(
                f"{task_dir} is not a task name ({RULE}); a pool may hold only such names: rename or move it away"
            )
        seeds = {}
        for seed_dir in sorted(task_dir.iterdir()):
            m = _SEED_DIR.fullmatch(seed_dir.name)
            if m and seed_dir.is_dir() and (seed_dir / "prompt.safetensors").exists():
                if not (seed_dir / "metrics.json").exists():
                    raise ArtefactError(
                        f"{seed_dir / 'metrics.json'} is missing beside its prompt; rerun that prompt_tune job"
                    )
                seeds[int(m.group(1))] = seed_dir
        if seeds:
            found[task_dir.name] = seeds
    if only:
        wanted = sorted(set(only))
        lacking = [t for t in wanted if t not in found]
        if lacking:
            raise TaskTransferError(
                f"tasks {lacking} have no finished prompt under {prompts_root}; found {sorted(found)}"
            )
        found = {t: found[t] for t in wanted}
    if not found:
        raise TaskTransferError(
            f"no finished prompts under {prompts_root} (expected <task>/seed<s>/prompt.safetensors)"
        )
    return found


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _most_common_spec(specs: list[dict]) -> dict:
    counts = Counter(json.dumps(s, sort_keys=True) for s in specs)
    best = max(counts.values())
    return json.loads(min(k for k, n in counts.items() if n == best))


def check_replaceable(out: Path, keep: Iterable[Path], what: str, is_ours: Callable[[Path], bool], force: bool) -> None:
    """Refuse to replace a folder that is not one of ours: the rule of every command that replaces
    a folder (``pool export --force``).

    ``out`` may not be the working folder or contain it, nor be or contain any of ``keep`` (the
    command's inputs, such as ``--results``); a non-empty ``out`` is replaced only with ``force``
    and only when ``is_ours(out)`` says it holds what the command writes (a pool manifest).
    """
    if out.is_symlink():
        raise TaskTransferError(f"--out {out} is a symbolic link; name the folder itself")
    if out.exists() and not out.is_dir():
        raise TaskTransferError(f"--out {out} is a file; name a folder for the {what}")
    resolved = out.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise TaskTransferError(
            f"--out {out} is the working folder or contains it; name a new folder for the {what}, e.g. --out POOL"
        )
    for path in keep:
        path = Path(path).resolve()
        if resolved == path or resolved in path.parents:
            raise TaskTransferError(
                f"--out {out} is or contains {path}, an input of this command; name another folder for the {what}"
            )
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise TaskTransferError(
                f"--out {out} exists and is not empty; choose another folder or pass --force to replace it"
            )
        if not is_ours(out):
            raise TaskTransferError(
                f"--out {out} is not empty and holds no {what}; --force replaces only a {what} folder: "
                "choose another folder, or empty this one yourself"
            )


def _holds_pool(folder: Path) -> bool:
    """Whether a folder holds a pool manifest (``kind`` tasktransfer-prompt-pool), as a plain file."""
    path = folder / MANIFEST
    if path.is_symlink() or not path.is_file():
        return False
    try:
        with open(path, "rb") as f:
            manifest = json.loads(f.read(64 << 20))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(manifest, dict) and manifest.get("kind") == POOL_KIND


def _prepare_out(out: Path, force: bool, results: Path) -> None:
    check_replaceable(out, [results], "pool", _holds_pool, force)


def export_pool(
    results: str | Path,
    out: str | Path,
    registry: str | Path | None = None,
    config: dict | None = None,
    config_name: str | None = None,
    tasks: Iterable[str] | None = None,
    force: bool = False,
    log: Log = print,
) -> dict[str, Any]:
    """Write a finished run's prompt pool and scorer as a shared pool folder; return its manifest.

    ``results`` is the run's results folder (``prompts/{task}/seed{s}``, ``data/{task}/meta.json``,
    ``scorer/``). ``registry`` gives each task's data source (missing entries are recorded as
    null). ``config`` (the run's config, as a dict) gives the data caps and the task roles; it is
    checked against the results (caps at least the sizes found, the same prompt length).
    The folder is built beside ``out`` and renamed into place at the end: an error leaves nothing.
    """
    results, out = Path(results), Path(out)
    _prepare_out(out, force, results)
    found = _find_prompts(results / "prompts", tasks)

    # ---- prompts: one backbone and prompt size for all
    shape_keys = ("backbone", "length", "hidden_size", "mlp_hidden")
    kinds: dict[tuple, list[str]] = {}
    records: dict[tuple[str, int], dict] = {}
    for task, seeds in found.items():
        for seed, folder in seeds.items():
            meta = header_metadata(folder / "prompt.safetensors")
            if meta.get("task") not in (None, task):
                raise ArtefactError(
                    f"{folder / 'prompt.safetensors'} says task {meta.get('task')!r}, its folder {task!r}; rerun its job"
                )
            kinds.setdefault(tuple(meta.get(k) for k in shape_keys), []).append(f"{task}/seed{seed}")
            records[(task, seed)] = read_json(folder / "metrics.json", "prompt metrics", "rerun that prompt_tune job")
    if len(kinds) > 1:
        listing = "; ".join(f"{dict(zip(shape_keys, k))}: {v[:3]}" for k, v in kinds.items())
        raise ArtefactError(
            f"the prompts under {results / 'prompts'} differ in backbone or size ({listing}); a pool holds one kind"
        )
    backbone, length, hidden, mlp_hidden = next(iter(kinds))
    if backbone is None or length is None or hidden is None:
        raise ArtefactError(
            f"the prompts under {results / 'prompts'} lack backbone/length/hidden_size metadata; retune them"
        )

    # ---- config: data caps and roles, checked against what the results hold
    data_caps, roles = None, {}
    if config is not None:
        from dataclasses import asdict

        from tasktransfer.data.prepare import DataSpec

        data_caps = asdict(
            DataSpec(**{k: v for k, v in (config.get("data") or {}).items() if k in DataSpec.__dataclass_fields__})
        )
        prompt_cfg = config.get("prompt") or {}
        if "length" in prompt_cfg and prompt_cfg["length"] != length:
            raise TaskTransferError(
                f"config {config_name} has prompt.length {prompt_cfg['length']}, the prompts have {length}: "
                "it is not the config of this run; pass the run's config with --config"
            )
        for role, key in (("source", "sources"), ("target", "targets"), ("novel", "novel_targets")):
            for t in config.get(key) or []:
                roles[t] = role

    # ---- registry: each task's data source
    specs = {}
    if registry is not None:
        from tasktransfer.data.registry import load_registry

        specs = load_registry(registry)

    manifest_tasks: dict[str, Any] = {}
    for task, seeds in found.items():
        meta = read_json(
            results / "data" / task / "meta.json", "prepared data meta", "export a run whose data is still there"
        )
        if data_caps and (meta["n_train"] > data_caps["max_train"] or meta["n_dev"] > data_caps["max_dev"]):
            raise TaskTransferError(
                f"task {task} has {meta['n_train']} train / {meta['n_dev']} dev examples, more than the data caps of "
                f"config {config_name} ({data_caps['max_train']} / {data_caps['max_dev']}): it is not the config of this "
                "run; pass the run's config with --config"
            )
        spec = specs.get(task)
        if spec is None:
            log(f"note: task {task} is not in the registry {registry}; its data source is recorded as null")
        task_specs = [records[(task, s)].get("spec") for s in sorted(seeds)]
        manifest_tasks[task] = {
            # the registry's label where the task is there (meta.json keeps the type of its prepare)
            "type": spec.type if spec else meta.get("type"),
            "format": meta.get("format"),
            "metric": meta.get("metric"),
            "labels": meta.get("labels"),
            "n_train": meta.get("n_train"),
            "n_dev": meta.get("n_dev"),
            "majority": meta.get("majority"),
            "role": roles.get(task),
            "description": spec.description if spec else None,
            "source": spec.source if spec else None,
            # the entry's own split caps / dev fraction (registry `data` block), where it sets any
            "task_data": dict(getattr(spec, "data", None) or {}) if spec else None,
            "spec": task_specs[0],
            "seeds": {
                str(s): {
                    "r1": records[(task, s)].get("score"),
                    "lr": records[(task, s)].get("lr"),
                    "file": prompt_rel(task, s),
                    "record": record_rel(task, s),
                }
                for s in sorted(seeds)
            },
        }

    common_seeds = sorted(set.intersection(*(set(s) for s in found.values())))
    all_specs = [records[k].get("spec") for k in sorted(records) if records[k].get("spec")]

    # ---- scorer
    scorer_file = results / "scorer" / "model.safetensors"
    scorer_info = None
    if scorer_file.exists():
        smeta = header_metadata(scorer_file)
        if smeta.get("backbone") != backbone:
            raise ArtefactError(
                f"scorer {scorer_file} was trained on backbone {smeta.get('backbone')!r}, the prompts on {backbone!r}; "
                "rerun train_scorer or export without it (move it away)"
            )
        smetrics_path = results / "scorer" / "metrics.json"
        smetrics = (
            public_record(read_json(smetrics_path, "scorer metrics", "rerun train_scorer"))
            if smetrics_path.exists()
            else None
        )
        trained_on = sorted({p[k] for p in (smetrics or {}).get("held_out", []) for k in ("source", "target")})
        scorer_info = {
            "file": SCORER_FILE,
            "backbone": smeta.get("backbone"),
            # the scorer's backbone by weights (the prompts' backbone: checked equal above)
            "weights_sha256": backbone_identity(backbone)["weights_sha256"],
            "spec": smeta.get("spec"),
            "lr": smeta.get("lr"),
            "trained_on": trained_on,
            "metrics": smetrics,
        }
    else:
        log(
            f"note: {scorer_file} does not exist; the pool has no scorer (ranking falls back to the similarity baselines)"
        )

    identity = backbone_identity(backbone)
    if identity["hidden_size"] is not None and identity["hidden_size"] != hidden:
        raise ArtefactError(
            f"backbone {backbone} has width {identity['hidden_size']} here, the prompts {hidden}; it is not their backbone"
        )
    if identity["note"]:
        log(f"note: {identity['note']}")

    from tasktransfer import __version__

    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "kind": POOL_KIND,
        "tasktransfer_version": __version__,
        "backbone": {k: identity[k] for k in ("name", "weights_sha256", "files", "note")},
        "prompt": {
            "length": length,
            "hidden_size": hidden,
            "mlp_hidden": mlp_hidden,
            "spec": _most_common_spec(all_specs) if all_specs else None,
        },
        "data": data_caps,
        "seeds": common_seeds,
        "embedding_seed": common_seeds[0] if common_seeds else None,
        "tasks": manifest_tasks,
        "scorer": scorer_info,
        "files": {},
    }

    # ---- the learned selection methods' files: source prior, feature ranker (pool/selection_models.py)
    from tasktransfer.pool.selection_models import selection_files

    extra_files, selection_info = selection_files(results, config, log)
    if selection_info:
        manifest["selection"] = selection_info

    # ---- write: a temp folder beside out, renamed into place
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # a folder to share: the usual permissions, not mkdtemp's 0700
    try:
        for (task, seed), record in sorted(records.items()):
            target = tmp / prompt_rel(task, seed)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(found[task][seed] / "prompt.safetensors", target)
            _write_synced(tmp / record_rel(task, seed), json.dumps(public_record(record), indent=2, sort_keys=True) + "\n")
        if scorer_info:
            shutil.copyfile(scorer_file, tmp / SCORER_FILE)
        for name, data in extra_files.items():
            (tmp / name).write_bytes(data)
        manifest["files"] = {
            p.relative_to(tmp).as_posix(): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()
        }
        _write_synced(tmp / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        for p in sorted(tmp.rglob("*.safetensors")):  # copies: on disk before the rename
            _fsync(p)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / "pool")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    n_prompts = len(records)
    log(
        f"pool written to {out}: {len(found)} tasks, {n_prompts} prompts, "
        f"scorer {'yes' if scorer_info else 'no'}, backbone {backbone}"
    )
    return manifest
