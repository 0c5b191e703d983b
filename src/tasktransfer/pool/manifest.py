"""A prompt pool people can share: export a finished run's pool and scorer, verify it, read it back.

A shared pool is a plain folder, self-describing and safe to load (safetensors and JSON only,
nothing is unpickled, loading runs no code)::

    POOL/manifest.json                      what is inside, and the sha256 of every other file
    POOL/prompts/{task}/seed{s}.safetensors the prompt job's file as the run wrote it (prompt
                                            encoder, head, task embedding P; metadata backbone, L, H)
    POOL/prompts/{task}/seed{s}.json        that job's record (r1, lr, spec, history, dev predictions)
    POOL/scorer.safetensors                 the affinity scorer (when the run had one): only what
                                            training changed, as quantised deltas from the backbone
                                            (affinity/scorer_file.py; manifest scorer.storage)

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
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tasktransfer.errors import ArtefactError
from tasktransfer.names import check_name, check_seed
from tasktransfer.pool.manifest_checks import check_data_caps, check_manifest, check_spec, shown, strict_json
from tasktransfer.pool.pool_files import (
    DO_NOT_USE,
    MAX_MANIFEST_BYTES,
    SCORER_FILE,
    check_digest,
    hash_fd,
    inside_pool,
    open_in_pool,
    prompt_rel,
    read_limited,
    read_pool_file,
    record_rel,
    refuse_links,
)

#: names other modules read from here (defined in pool_files and manifest_checks)
__all__ = [
    "DO_NOT_USE",
    "SCORER_FILE",
    "check_data_caps",
    "check_spec",
    "inside_pool",
    "prompt_rel",
    "read_pool_file",
    "record_rel",
]

FORMAT_VERSION = 1
POOL_KIND = "tasktransfer-prompt-pool"
MANIFEST = "manifest.json"
#: keys of a job record that say where it ran: not shared
PRIVATE_KEYS = ("host", "slurm_job_id")
WEIGHT_SUFFIXES = (".safetensors", ".bin")
Log = Callable[[str], None]


# --------------------------------------------------------------------------- small helpers
def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def header_metadata(path: Path) -> dict[str, Any]:
    """The JSON metadata of a safetensors file, without loading its tensors."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
        return {k: strict_json(v) for k, v in raw.items()}
    except (SafetensorError, OSError, ValueError) as err:
        raise ArtefactError(f"{path} is not a readable safetensors file ({err}); delete it and rerun its job") from err


def read_json(path: Path, what: str, fix: str) -> Any:
    if not path.exists():
        raise ArtefactError(f"{what} {path} does not exist; {fix}")
    try:
        return strict_json(path.read_bytes())
    except (OSError, ValueError) as err:
        raise ArtefactError(f"{what} {path} is corrupt ({err}); {fix}") from err


# --------------------------------------------------------------------------- reading pool files
def public_record(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in PRIVATE_KEYS}



# --------------------------------------------------------------------------- backbone identity
@functools.lru_cache(maxsize=16)
def backbone_identity(name: str) -> dict[str, Any]:
    """Name, width and weights hash of a backbone, from its files (never loads the model).

    ``weights_sha256`` is the sha256 over the sorted ``*.safetensors`` / ``*.bin`` files of the
    resolved folder (``name`` NUL ``sha256`` per line). A hub id with no local copy (not in the
    hub cache) cannot be hashed: it is ``None``, and ``note`` says so.
    """
    from tasktransfer.prompting.backbone import resolve_backbone

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
    fix = "is this a pool made by `tasktransfer pool export`? Download or export it again"
    if not (pool / MANIFEST).exists() and not (pool / MANIFEST).is_symlink():
        raise ArtefactError(f"pool manifest {pool / MANIFEST} does not exist; {fix}")
    raw = read_limited(open_in_pool(pool, MANIFEST), MAX_MANIFEST_BYTES, pool, MANIFEST)
    try:
        manifest = strict_json(raw)
    except ValueError as err:
        raise ArtefactError(f"pool manifest {pool / MANIFEST} is corrupt ({err}); {fix}") from err
    if not isinstance(manifest, dict) or manifest.get("kind") != POOL_KIND:
        raise ArtefactError(f"{pool / MANIFEST} is not a tasktransfer pool manifest (kind {POOL_KIND!r} expected)")
    version = manifest.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:  # true == 1 in Python, not here
        raise ArtefactError(
            f"pool {pool} has format_version {version!r}; this tasktransfer reads version {FORMAT_VERSION}: "
            "use the tasktransfer version that wrote it, or export the pool again"
        )
    for key in ("backbone", "prompt", "tasks", "files"):
        if key not in manifest:
            raise ArtefactError(f"{pool / MANIFEST} lacks '{key}'; export the pool again")
    check_manifest(manifest, pool)
    return manifest


def verify_pool(pool: str | Path, manifest: dict | None = None, paths: Iterable[str] | None = None) -> dict[str, Any]:
    """Check the sha256 of every file the manifest lists (or only of ``paths``); return the manifest.

    A missing file, a symbolic link (anywhere in the pool for a whole check; on the way to each
    file otherwise) or a hash mismatch raises one :class:`ArtefactError` naming the file, the
    expected and the actual hash, and the fix. Files are opened without following links and
    hashed as they are read; a command that uses a file reads it once more through
    :func:`read_pool_file`, which checks the bytes it returns.
    """
    pool = Path(pool)
    manifest = manifest if manifest is not None else load_manifest(pool)
    files: dict[str, str] = manifest["files"]
    if paths is None:
        refuse_links(pool)
    wanted = sorted(files) if paths is None else list(paths)
    for rel in wanted:
        if rel not in files:
            raise ArtefactError(
                f"pool {pool}: {rel} is not listed in its manifest (no hash to check it by); export the pool again"
            )
        inside_pool(pool, rel)
        check_digest(pool, rel, hash_fd(open_in_pool(pool, rel)), files[rel])
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
    check_name(task, f"pool {pool}: task", DO_NOT_USE)
    check_seed(seed, f"pool {pool}: seed", "give a seed of the pool")
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



def _scorer_kind(scorer: Any) -> str:
    """How `pool verify` names the pool's scorer: no, full (every tensor), or compact at its width."""
    if not scorer:
        return "no"
    storage = scorer.get("storage") if isinstance(scorer, dict) else None
    if isinstance(storage, dict):
        return f"yes (compact: trained tensors as {shown(storage.get('bits'))}-bit deltas from the backbone)"
    return "yes (full)"


def describe(manifest: dict) -> str:
    """A few lines about a pool (what `tasktransfer pool verify` prints)."""
    bb = manifest["backbone"]
    p = manifest["prompt"]
    lines = [
        f"format {manifest['format_version']}, backbone {shown(bb['name'])} "
        f"(weights sha256 {shown(bb.get('weights_sha256') or 'not recorded')})",
        f"prompt L={p['length']} H={p['hidden_size']} mlp_hidden={p['mlp_hidden']}; seeds {manifest.get('seeds')}; "
        f"scorer {_scorer_kind(manifest.get('scorer'))}; {len(manifest['files'])} files",
    ]
    for task in pool_tasks(manifest):
        t = manifest["tasks"][task]
        r1 = ", ".join(
            f"{v['r1']:.1f}"
            for _, v in sorted(t["seeds"].items(), key=lambda kv: int(kv[0]))
            if v.get("r1") is not None
        )
        fields = ", ".join(shown(t.get(k, "?")) for k in ("type", "format", "metric"))
        lines.append(f"  {shown(task)}: {fields}, {shown(t.get('n_train', '?'))}/{shown(t.get('n_dev', '?'))}, r1 {r1}")
    return "\n".join(lines)
