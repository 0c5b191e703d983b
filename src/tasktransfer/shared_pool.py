"""A prompt pool people can share: export a finished run's pool and scorer, verify it, read it back.

A shared pool is a plain folder, self-describing and safe to load (safetensors and JSON only,
nothing is unpickled, loading runs no code)::

    POOL/manifest.json                      what is inside, and the sha256 of every other file
    POOL/prompts/{task}/seed{s}.safetensors the prompt job's file as the run wrote it (prompt
                                            encoder, head, task embedding P; metadata backbone, L, H)
    POOL/prompts/{task}/seed{s}.json        that job's record (r1, lr, spec, history, dev predictions)
    POOL/scorer.safetensors                 the affinity scorer (when the run had one)

``manifest.json`` (``format_version`` 1) names the backbone and the sha256 of its weights, the
prompt size and spec, the data caps, and per task its format, metric, type, registry entry
(data source), sizes and r1 per seed.

Everything here is cheap (a manifest read and hashes of the files used) and free of Snakemake,
so that a workflow can call it while it plans (``check_pool_compatible``, ``pool_tasks``,
``pool_prompt_path``, ``install_pool_prompt``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .errors import ArtefactError, TaskTransferError

FORMAT_VERSION = 1
POOL_KIND = "tasktransfer-prompt-pool"
MANIFEST = "manifest.json"
SCORER_FILE = "scorer.safetensors"
#: keys of a job record that say where it ran: not shared
PRIVATE_KEYS = ("host", "slurm_job_id")
WEIGHT_SUFFIXES = (".safetensors", ".bin")
_SEED_DIR = re.compile(r"seed(\d+)")
_TASK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")

Log = Callable[[str], None]


# --------------------------------------------------------------------------- small helpers
def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _header_metadata(path: Path) -> dict[str, Any]:
    """The JSON metadata of a safetensors file, without loading its tensors."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
        return {k: json.loads(v) for k, v in raw.items()}
    except (SafetensorError, OSError, ValueError) as err:
        raise ArtefactError(f"{path} is not a readable safetensors file ({err}); delete it and rerun its job") from err


def _read_json(path: Path, what: str, fix: str) -> Any:
    if not path.exists():
        raise ArtefactError(f"{what} {path} does not exist; {fix}")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ArtefactError(f"{what} {path} is corrupt ({err}); {fix}") from err


def _public(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in PRIVATE_KEYS}


def prompt_rel(task: str, seed: int) -> str:
    return f"prompts/{task}/seed{int(seed)}.safetensors"


def record_rel(task: str, seed: int) -> str:
    return f"prompts/{task}/seed{int(seed)}.json"


# --------------------------------------------------------------------------- backbone identity
@functools.lru_cache(maxsize=16)
def backbone_identity(name: str) -> dict[str, Any]:
    """Name, width and weights hash of a backbone, from its files (never loads the model).

    ``weights_sha256`` is the sha256 over the sorted ``*.safetensors`` / ``*.bin`` files of the
    resolved folder (``name`` NUL ``sha256`` per line). A hub id with no local copy (not in the
    hub cache) cannot be hashed: it is ``None``, and ``note`` says so.
    """
    from .backbone import resolve_backbone

    resolved = resolve_backbone(name)
    folder = Path(resolved) if Path(resolved).is_dir() else None
    note = None
    if folder is None:
        try:  # a hub id: its snapshot in the local hub cache, if one is there (no network)
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(resolved, local_files_only=True))
        except Exception:  # noqa: BLE001 - any failure means: no local files to hash
            note = f"{name} is a hub id with no local copy: its weights were not hashed"
    files: dict[str, str] = {}
    hidden = None
    if folder is not None:
        for p in sorted(folder.iterdir()):
            if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES):
                files[p.name] = sha256_file(p)
        config = folder / "config.json"
        if config.exists():
            hidden = json.loads(config.read_text()).get("hidden_size")
        if not files:
            note = f"{folder} holds no *.safetensors or *.bin weights: they were not hashed"
    combined = None
    if files:
        h = hashlib.sha256()
        for fname, digest in files.items():
            h.update(f"{fname}\0{digest}\n".encode())
        combined = h.hexdigest()
    return {"name": name, "weights_sha256": combined, "files": files, "hidden_size": hidden, "note": note}


# --------------------------------------------------------------------------- reading a pool
def load_manifest(pool: str | Path) -> dict[str, Any]:
    """The pool's manifest (JSON only), checked for its format version and main keys."""
    pool = Path(pool)
    if not pool.is_dir():
        raise ArtefactError(
            f"prompt pool {pool} does not exist or is not a folder; make one with `tasktransfer pool export`"
        )
    manifest = _read_json(
        pool / MANIFEST,
        "pool manifest",
        "is this a pool made by `tasktransfer pool export`? Download or export it again",
    )
    if not isinstance(manifest, dict) or manifest.get("kind") != POOL_KIND:
        raise ArtefactError(f"{pool / MANIFEST} is not a tasktransfer pool manifest (kind {POOL_KIND!r} expected)")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ArtefactError(
            f"pool {pool} has format_version {version!r}; this tasktransfer reads version {FORMAT_VERSION}: "
            "use the tasktransfer version that wrote it, or export the pool again"
        )
    for key in ("backbone", "prompt", "tasks", "files"):
        if key not in manifest:
            raise ArtefactError(f"{pool / MANIFEST} lacks '{key}'; export the pool again")
    return manifest


def _inside(pool: Path, rel: str) -> Path:
    """A manifest path, refused unless it stays inside the pool."""
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts or not rel:
        raise ArtefactError(f"pool {pool}: manifest names {rel!r}, a path outside the pool; do not use this pool")
    return pool / p


def verify_pool(pool: str | Path, manifest: dict | None = None, paths: Iterable[str] | None = None) -> dict[str, Any]:
    """Check the sha256 of every file the manifest lists (or only of ``paths``); return the manifest.

    A missing file or a hash mismatch raises one :class:`ArtefactError` naming the file, the
    expected and the actual hash, and the fix.
    """
    pool = Path(pool)
    manifest = manifest if manifest is not None else load_manifest(pool)
    files: dict[str, str] = manifest["files"]
    wanted = sorted(files) if paths is None else list(paths)
    for rel in wanted:
        if rel not in files:
            raise ArtefactError(
                f"pool {pool}: {rel} is not listed in its manifest (no hash to check it by); export the pool again"
            )
        path = _inside(pool, rel)
        if not path.is_file():
            raise ArtefactError(f"pool {pool}: {rel} is missing; download or export the pool again")
        actual = sha256_file(path)
        if actual != files[rel]:
            raise ArtefactError(
                f"pool {pool}: {rel} is damaged or was changed: its sha256 is {actual}, the manifest says {files[rel]}; "
                "download or export the pool again (`tasktransfer pool export`)"
            )
    return manifest


def pool_tasks(manifest: dict) -> list[str]:
    """The pool's tasks, sorted."""
    return sorted(manifest["tasks"])


def pool_seeds(manifest: dict, task: str | None = None) -> list[int]:
    """Seeds of one task, or the seeds every task of the pool has."""
    tasks = [task] if task else pool_tasks(manifest)
    sets = [set(int(s) for s in manifest["tasks"][t]["seeds"]) for t in tasks]
    return sorted(set.intersection(*sets)) if sets else []


def pool_prompt_path(pool: str | Path, task: str, seed: int, manifest: dict | None = None) -> Path:
    """The prompt file of (task, seed) in a pool; with ``manifest``, checked to be one of its prompts."""
    if not _TASK_NAME.fullmatch(str(task)):
        raise ArtefactError(
            f"pool {pool}: '{task}' is not a task name (letters, digits, '_', '.', '-'); do not use this pool"
        )
    if manifest is not None:
        if task not in manifest["tasks"]:
            raise ArtefactError(f"pool {pool} has no task '{task}'; its tasks are {', '.join(pool_tasks(manifest))}")
        if str(int(seed)) not in manifest["tasks"][task]["seeds"]:
            raise ArtefactError(
                f"pool {pool} has no seed {seed} of task '{task}'; its seeds are {pool_seeds(manifest, task)}"
            )
    return Path(pool) / prompt_rel(task, seed)


def pool_task_meta(manifest: dict, task: str) -> dict[str, Any]:
    """The task's prepared-data meta (as ``results/data/{task}/meta.json`` holds it)."""
    entry = manifest["tasks"][task]
    keys = ("type", "format", "metric", "labels", "n_train", "n_dev", "majority")
    return {"name": task, **{k: entry.get(k) for k in keys}}


def check_pool_compatible(
    manifest: dict,
    backbone: str,
    length: int,
    hidden_size: int | None,
    mlp_hidden: int,
    weights_sha256: str | None = None,
    pool: str | Path | None = None,
) -> None:
    """Refuse a pool made with another backbone or prompt size, in one error naming both sides.

    The backbones match when their names are equal (and, where both weight hashes are known,
    so are those), or when their names differ but both weight hashes are known and equal (the
    same model in another folder). ``hidden_size`` ``None`` skips the width check.
    """
    where = f"pool {pool}" if pool is not None else "the pool"
    theirs_bb = manifest["backbone"]
    prompt = manifest["prompt"]
    their_hash, our_hash = theirs_bb.get("weights_sha256"), weights_sha256
    both_hashed = their_hash is not None and our_hash is not None
    same_backbone = (theirs_bb["name"] == backbone and (not both_hashed or their_hash == our_hash)) or (
        both_hashed and their_hash == our_hash
    )
    problems, ours, theirs = [], [], []
    if not same_backbone:
        problems.append("backbone")
        theirs.append(f"backbone {theirs_bb['name']} (weights sha256 {str(their_hash)[:12]})")
        ours.append(f"backbone {backbone} (weights sha256 {str(our_hash)[:12]})")
    for key, value in (("length", length), ("hidden_size", hidden_size), ("mlp_hidden", mlp_hidden)):
        if value is None:
            continue
        if prompt.get(key) != value:
            problems.append(key)
            theirs.append(f"{key}={prompt.get(key)}")
            ours.append(f"{key}={value}")
    if problems:
        raise ArtefactError(
            f"{where} was made with {', '.join(theirs)}; this run uses {', '.join(ours)}. "
            f"Its prompts cannot be used here ({', '.join(problems)} differ): set the run's backbone and "
            "prompt size to the pool's, or use a pool made with this run's"
        )


def load_pool_prompt(pool: str | Path, task: str, seed: int, manifest: dict | None = None):
    """A pool prompt (:class:`prompt_pool.PromptArtefact`), its hash checked first."""
    from .prompt_pool import load_prompt

    manifest = manifest if manifest is not None else load_manifest(pool)
    path = pool_prompt_path(pool, task, seed, manifest)
    verify_pool(pool, manifest, [prompt_rel(task, seed)])
    return load_prompt(path)


def load_pool_embeddings(pool: str | Path, manifest: dict, seed: int, tasks: Iterable[str] | None = None) -> dict:
    """Task embeddings P of the pool's tasks (hash-checked), by task."""
    return {t: load_pool_prompt(pool, t, seed, manifest).embedding for t in (tasks or pool_tasks(manifest))}


def load_pool_scorer(pool: str | Path, manifest: dict):
    """The pool's affinity scorer (hash-checked), or None when the pool has none.

    Its encoder is built from the pool's backbone (which must be available here) and gets the
    saved weights.
    """
    info = manifest.get("scorer")
    if not info:
        return None
    from .io import load_tensors
    from .scorer import build_scorer

    verify_pool(pool, manifest, [info["file"]])
    state, meta = load_tensors(Path(pool) / info["file"])
    model = build_scorer(meta.get("backbone") or manifest["backbone"]["name"])
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise ArtefactError(
            f"pool {pool}: {info['file']} does not fit its backbone's scorer ({err}); export the pool again"
        ) from err
    return model


def install_pool_prompt(
    pool: str | Path,
    task: str,
    seed: int,
    out_prompt: str | Path,
    out_metrics: str | Path,
    manifest: dict | None = None,
    out_meta: str | Path | None = None,
) -> None:
    """Write a pool prompt where a run keeps its own (``results/prompts/{task}/seed{s}/``).

    The prompt file is copied byte for byte after its hash check; the metrics file is the prompt
    job's record plus ``imported_from`` (the pool and the file's sha256); ``out_meta`` (optional)
    gets the task's data meta (``results/data/{task}/meta.json``). Every write is atomic.
    """
    from .io import atomic_write_json

    pool = Path(pool)
    manifest = manifest if manifest is not None else load_manifest(pool)
    source = pool_prompt_path(pool, task, seed, manifest)
    verify_pool(pool, manifest, [prompt_rel(task, seed), record_rel(task, seed)])
    record = json.loads((pool / record_rel(task, seed)).read_text())
    record["imported_from"] = {
        "pool": str(pool),
        "file": prompt_rel(task, seed),
        "sha256": manifest["files"][prompt_rel(task, seed)],
    }
    _copy_atomic(source, Path(out_prompt))
    atomic_write_json(out_metrics, record)
    if out_meta is not None:
        atomic_write_json(out_meta, pool_task_meta(manifest, task))


def _copy_atomic(source: Path, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def install_pool_scorer(
    pool: str | Path, out_model: str | Path, out_metrics: str | Path, manifest: dict | None = None
) -> None:
    """Write the pool's scorer where a run keeps its own (``results/scorer/``), hash-checked.

    The metrics file is the scorer's training record (held-out predictions included) plus
    ``imported_from``. A pool without a scorer raises :class:`ArtefactError`.
    """
    from .io import atomic_write_json

    pool = Path(pool)
    manifest = manifest if manifest is not None else load_manifest(pool)
    info = manifest.get("scorer")
    if not info:
        raise ArtefactError(f"pool {pool} has no scorer; train one in the run (leave the pool's scorer out)")
    verify_pool(pool, manifest, [info["file"]])
    _copy_atomic(_inside(pool, info["file"]), Path(out_model))
    record = dict(info.get("metrics") or {})
    record["imported_from"] = {"pool": str(pool), "file": info["file"], "sha256": manifest["files"][info["file"]]}
    atomic_write_json(out_metrics, record)


# --------------------------------------------------------------------------- export
def _find_prompts(prompts_root: Path, only: Iterable[str] | None) -> dict[str, dict[int, Path]]:
    """task -> seed -> its prompt folder; folders starting with '_' or '.' (the control) are not tasks."""
    if not prompts_root.is_dir():
        raise TaskTransferError(f"{prompts_root} does not exist; export a finished run's results folder (--results)")
    found: dict[str, dict[int, Path]] = {}
    for task_dir in sorted(prompts_root.iterdir()):
        if not task_dir.is_dir() or task_dir.name.startswith(("_", ".")):
            continue
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


def _most_common_spec(specs: list[dict]) -> dict:
    counts = Counter(json.dumps(s, sort_keys=True) for s in specs)
    best = max(counts.values())
    return json.loads(min(k for k, n in counts.items() if n == best))


def _prepare_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise TaskTransferError(f"--out {out} is a file; name a folder for the pool")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise TaskTransferError(
            f"--out {out} exists and is not empty; choose another folder or pass --force to replace it"
        )


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
    _prepare_out(out, force)
    found = _find_prompts(results / "prompts", tasks)

    # ---- prompts: one backbone and prompt size for all
    shape_keys = ("backbone", "length", "hidden_size", "mlp_hidden")
    kinds: dict[tuple, list[str]] = {}
    records: dict[tuple[str, int], dict] = {}
    for task, seeds in found.items():
        for seed, folder in seeds.items():
            meta = _header_metadata(folder / "prompt.safetensors")
            if meta.get("task") not in (None, task):
                raise ArtefactError(
                    f"{folder / 'prompt.safetensors'} says task {meta.get('task')!r}, its folder {task!r}; rerun its job"
                )
            kinds.setdefault(tuple(meta.get(k) for k in shape_keys), []).append(f"{task}/seed{seed}")
            records[(task, seed)] = _read_json(folder / "metrics.json", "prompt metrics", "rerun that prompt_tune job")
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

        from .data import DataSpec

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
        from .tasks import load_registry

        specs = load_registry(registry)

    manifest_tasks: dict[str, Any] = {}
    for task, seeds in found.items():
        meta = _read_json(
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
        smeta = _header_metadata(scorer_file)
        if smeta.get("backbone") != backbone:
            raise ArtefactError(
                f"scorer {scorer_file} was trained on backbone {smeta.get('backbone')!r}, the prompts on {backbone!r}; "
                "rerun train_scorer or export without it (move it away)"
            )
        smetrics_path = results / "scorer" / "metrics.json"
        smetrics = (
            _public(_read_json(smetrics_path, "scorer metrics", "rerun train_scorer"))
            if smetrics_path.exists()
            else None
        )
        trained_on = sorted({p[k] for p in (smetrics or {}).get("held_out", []) for k in ("source", "target")})
        scorer_info = {
            "file": SCORER_FILE,
            "backbone": smeta.get("backbone"),
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

    from . import __version__

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
            (tmp / record_rel(task, seed)).write_text(json.dumps(_public(record), indent=2, sort_keys=True) + "\n")
        if scorer_info:
            shutil.copyfile(scorer_file, tmp / SCORER_FILE)
        manifest["files"] = {
            p.relative_to(tmp).as_posix(): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
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


def describe(manifest: dict) -> str:
    """A few lines about a pool (what `tasktransfer pool verify` prints)."""
    bb = manifest["backbone"]
    p = manifest["prompt"]
    lines = [
        f"format {manifest['format_version']}, backbone {bb['name']} (weights sha256 {bb.get('weights_sha256') or 'not recorded'})",
        f"prompt L={p['length']} H={p['hidden_size']} mlp_hidden={p['mlp_hidden']}; seeds {manifest.get('seeds')}; "
        f"scorer {'yes' if manifest.get('scorer') else 'no'}; {len(manifest['files'])} files",
    ]
    for task in pool_tasks(manifest):
        t = manifest["tasks"][task]
        r1 = ", ".join(
            f"{v['r1']:.1f}"
            for _, v in sorted(t["seeds"].items(), key=lambda kv: int(kv[0]))
            if v.get("r1") is not None
        )
        lines.append(f"  {task}: {t['type']}, {t['format']}, {t['metric']}, {t['n_train']}/{t['n_dev']}, r1 {r1}")
    return "\n".join(lines)
