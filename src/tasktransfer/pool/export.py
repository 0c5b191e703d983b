"""Exporting a finished run's prompt pool (and scorer) as a shared pool folder with its manifest."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tasktransfer.errors import ArtefactError, TaskTransferError
from tasktransfer.names import RULE, is_name
from tasktransfer.pool.export_folder import PoolContent, write_pool
from tasktransfer.pool.export_scorer import pool_scorer
from tasktransfer.pool.manifest import (
    FORMAT_VERSION,
    MANIFEST,
    POOL_KIND,
    Log,
    backbone_identity,
    header_metadata,
    prompt_rel,
    read_json,
    record_rel,
)
from tasktransfer.pool.rank_paths import check_no_tilde, check_writable
from tasktransfer.run_layout import METRICS_FILE, PROMPT_FILE

#: a run's prompt folder per pool seed (run_layout.PROMPT_RUN): results/prompts/{task}/seed{s}/
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
            if m and seed_dir.is_dir() and (seed_dir / PROMPT_FILE).exists():
                if not (seed_dir / METRICS_FILE).exists():
                    raise ArtefactError(
                        f"{seed_dir / METRICS_FILE} is missing beside its prompt; rerun that prompt_tune job"
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


def _most_common_spec(specs: list[dict]) -> dict:
    counts = Counter(json.dumps(s, sort_keys=True) for s in specs)
    best = max(counts.values())
    return json.loads(min(k for k, n in counts.items() if n == best))


def check_replaceable(
    out: Path, keep: Iterable[Path], what: str, is_ours: Callable[[Path], str | None], force: bool
) -> None:
    """Refuse to replace a folder that is not one of ours: the rule of every command that replaces
    a folder (``pool export --force``).

    ``out`` may not be the working folder or contain it, nor be or contain any of ``keep`` (the
    command's inputs, such as ``--results``); a non-empty ``out`` is replaced only with ``force``
    and only when it holds nothing but what the command writes (``is_ours(out)`` returns why not,
    or None).
    """
    check_no_tilde("--out", out)
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
    check_writable("--out", out, out.parent)  # before anything is read or written
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise TaskTransferError(
                f"--out {out} exists and is not empty; choose another folder or pass --force to replace it"
            )
        problem = is_ours(out)
        if problem:
            raise TaskTransferError(
                f"--out {out} is not only a {what}: {problem}; --force replaces only a {what} folder whose every "
                "file its manifest lists: move those out, or choose another folder"
            )


def _not_only_pool(folder: Path) -> str | None:
    """Why a folder is not wholly a pool (None where it is): no pool manifest (``kind``
    tasktransfer-prompt-pool, a plain file), or entries its manifest does not list (a user's notes,
    a link): ``--force`` never deletes what an export did not write."""
    path = folder / MANIFEST
    if path.is_symlink() or not path.is_file():
        return f"it holds no pool manifest ({MANIFEST})"
    try:
        with open(path, "rb") as f:
            manifest = json.loads(f.read(64 << 20))
    except (OSError, ValueError, UnicodeDecodeError):
        return f"its {MANIFEST} cannot be read as a pool manifest"
    if not isinstance(manifest, dict) or manifest.get("kind") != POOL_KIND:
        return f"its {MANIFEST} is not a pool manifest"
    listed = set(manifest.get("files") or {}) if isinstance(manifest.get("files"), dict) else set()
    listed.add(MANIFEST)
    unlisted = []
    for p in folder.rglob("*"):  # stops at the sixth: a home folder is not walked to its end
        rel = p.relative_to(folder).as_posix()
        if (p.is_symlink() or not p.is_dir()) and rel not in listed:
            unlisted.append(rel)
            if len(unlisted) > 5:
                break
    if unlisted:
        unlisted.sort()
        shown = ", ".join(unlisted[:5]) + (", ..." if len(unlisted) > 5 else "")
        return f"its manifest does not list {shown}"
    return None


def _prepare_out(out: Path, force: bool, results: Path) -> None:
    check_replaceable(out, [results], "pool", _not_only_pool, force)


#: the prompt header fields that must agree across a pool: one backbone and prompt size for all
_SHAPE_KEYS = ("backbone", "length", "hidden_size", "mlp_hidden")


@dataclass(frozen=True)
class _PromptKind:
    """The one backbone and prompt size that every prompt of a pool shares (``_SHAPE_KEYS``)."""

    backbone: str
    length: int
    hidden: int
    mlp_hidden: int | None


def _read_prompts(
    prompts_root: Path, found: dict[str, dict[int, Path]]
) -> tuple[_PromptKind, dict[tuple[str, int], dict]]:
    """The prompts' shared kind and each prompt's metrics record, keyed (task, seed).

    Every header is read before the kinds are compared, so the error lists all the kinds found.
    """
    kinds: dict[tuple, list[str]] = {}
    records: dict[tuple[str, int], dict] = {}
    for task, seeds in found.items():
        for seed, folder in seeds.items():
            meta = header_metadata(folder / PROMPT_FILE)
            if meta.get("task") not in (None, task):
                raise ArtefactError(
                    f"{folder / PROMPT_FILE} says task {meta.get('task')!r}, its folder {task!r}; rerun its job"
                )
            kinds.setdefault(tuple(meta.get(k) for k in _SHAPE_KEYS), []).append(f"{task}/seed{seed}")
            records[(task, seed)] = read_json(folder / "metrics.json", "prompt metrics", "rerun that prompt_tune job")
    if len(kinds) > 1:
        listing = "; ".join(f"{dict(zip(_SHAPE_KEYS, k))}: {v[:3]}" for k, v in kinds.items())
        raise ArtefactError(
            f"the prompts under {prompts_root} differ in backbone or size ({listing}); a pool holds one kind"
        )
    kind = _PromptKind(*next(iter(kinds)))
    if kind.backbone is None or kind.length is None or kind.hidden is None:
        raise ArtefactError(
            f"the prompts under {prompts_root} lack backbone/length/hidden_size metadata; retune them"
        )
    return kind, records


def _caps_and_roles(config: dict | None, config_name: str | None, length: int) -> tuple[dict | None, dict[str, str]]:
    """The config's data caps (all DataSpec fields) and each task's role; the config's prompt
    length must be the prompts' own, or it is not this run's config."""
    if config is None:
        return None, {}
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
    roles = {}
    for role, key in (("source", "sources"), ("target", "targets"), ("novel", "novel_targets")):
        for t in config.get(key) or []:
            roles[t] = role
    return data_caps, roles


def _task_entry(task: str, seeds: dict[int, Path], meta: dict, spec: Any, role: str | None, records: dict) -> dict:
    """A task's manifest entry from its prepared-data meta, registry entry and prompt records."""
    return {
        # the registry's label where the task is there (meta.json keeps the type of its prepare)
        "type": spec.type if spec else meta.get("type"),
        "format": meta.get("format"),
        "metric": meta.get("metric"),
        "labels": meta.get("labels"),
        "n_train": meta.get("n_train"),
        "n_dev": meta.get("n_dev"),
        "majority": meta.get("majority"),
        "role": role,
        "description": spec.description if spec else None,
        "source": spec.source if spec else None,
        # the entry's own split caps / dev fraction (registry `data` block), where it sets any
        "task_data": dict(getattr(spec, "data", None) or {}) if spec else None,
        "spec": records[(task, min(seeds))].get("spec"),  # the first seed's
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


def _task_entries(
    results: Path,
    found: dict[str, dict[int, Path]],
    records: dict[tuple[str, int], dict],
    registry: str | Path | None,
    data_caps: dict | None,
    roles: dict[str, str],
    config_name: str | None,
    log: Log,
) -> dict[str, Any]:
    """The manifest's ``tasks``: each task's data (sizes checked against the config's caps) and source."""
    specs = {}
    if registry is not None:
        from tasktransfer.data.registry import load_registry

        specs = load_registry(registry)
    entries: dict[str, Any] = {}
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
        entries[task] = _task_entry(task, seeds, meta, spec, roles.get(task), records)
    return entries


def _embedding_prompts(found: dict[str, dict[int, Path]]) -> dict[str, Path]:
    """Each task's prompt file at the pool's embedding seed (the first seed all tasks share, else
    the task's first): what the scorer's compact file is checked on."""
    common = set.intersection(*(set(s) for s in found.values()))
    return {t: seeds[min(common) if common else min(seeds)] / PROMPT_FILE for t, seeds in found.items()}


def _checked_identity(kind: _PromptKind, log: Log) -> dict[str, Any]:
    """The backbone's identity from its files here; its width must be the prompts' own."""
    identity = backbone_identity(kind.backbone)
    if identity["hidden_size"] is not None and identity["hidden_size"] != kind.hidden:
        raise ArtefactError(
            f"backbone {kind.backbone} has width {identity['hidden_size']} here, the prompts {kind.hidden}; "
            "it is not their backbone"
        )
    if identity["note"]:
        log(f"note: {identity['note']}")
    return identity


def _manifest(
    kind: _PromptKind,
    identity: dict[str, Any],
    records: dict[tuple[str, int], dict],
    found: dict[str, dict[int, Path]],
    data_caps: dict | None,
    tasks: dict[str, Any],
    scorer: dict | None,
) -> dict[str, Any]:
    """The manifest, its ``files`` still empty (filled in once the files are written)."""
    from tasktransfer import __version__

    common_seeds = sorted(set.intersection(*(set(s) for s in found.values())))
    all_specs = [records[k].get("spec") for k in sorted(records) if records[k].get("spec")]
    return {
        "format_version": FORMAT_VERSION,
        "kind": POOL_KIND,
        "tasktransfer_version": __version__,
        "backbone": {k: identity[k] for k in ("name", "weights_sha256", "files", "note")},
        "prompt": {
            "length": kind.length,
            "hidden_size": kind.hidden,
            "mlp_hidden": kind.mlp_hidden,
            "spec": _most_common_spec(all_specs) if all_specs else None,
        },
        "data": data_caps,
        "seeds": common_seeds,
        "embedding_seed": common_seeds[0] if common_seeds else None,
        "tasks": tasks,
        "scorer": scorer,
        "files": {},
    }


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
    # every check runs before anything is written: prompts, config, data and registry, scorer, backbone
    kind, records = _read_prompts(results / "prompts", found)
    data_caps, roles = _caps_and_roles(config, config_name, kind.length)
    manifest_tasks = _task_entries(results, found, records, registry, data_caps, roles, config_name, log)
    identity = _checked_identity(kind, log)
    scorer_info, scorer_bytes = pool_scorer(
        results / "scorer" / "model.safetensors", kind.backbone, identity["weights_sha256"],
        _embedding_prompts(found), log,
    )
    manifest = _manifest(kind, identity, records, found, data_caps, manifest_tasks, scorer_info)

    # the learned selection methods' files: source prior, feature ranker (pool/selection_models.py)
    from tasktransfer.pool.selection_models import selection_files

    extra_files, selection_info = selection_files(results, config, log)
    if selection_info:
        manifest["selection"] = selection_info
    write_pool(out, PoolContent(found, records, scorer_bytes, extra_files), manifest)
    log(
        f"pool written to {out}: {len(found)} tasks, {len(records)} prompts, "
        f"scorer {'yes' if scorer_info else 'no'}, backbone {kind.backbone}"
    )
    return manifest
