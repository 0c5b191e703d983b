"""Reading a shared pool's prompts and scorer, and installing them into a run's results folder.

Every file is read once, hashed as it is read and checked against the manifest's sha256, and
only those bytes are used or copied (see :func:`tasktransfer.pool.manifest.read_pool_file`).
Prompt tensors are checked against the manifest's shapes and for finite values before use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tasktransfer.errors import ArtefactError
from tasktransfer.pool.manifest import (
    DO_NOT_USE,
    load_manifest,
    pool_prompt_path,
    pool_task_meta,
    pool_tasks,
    prompt_rel,
    read_pool_file,
    record_rel,
)
from tasktransfer.pool.manifest_checks import shown, strict_json

Log = Callable[[str], None]


def load_pool_prompt(pool: str | Path, task: str, seed: int, manifest: dict | None = None):
    """A pool prompt (:class:`~tasktransfer.prompting.prompt_files.PromptArtefact`) from the bytes
    that matched its hash, its tensors checked against the manifest (embedding L x H, metadata)
    and for finite values."""
    from tasktransfer.io import check_finite, tensors_from_bytes
    from tasktransfer.prompting.prompt_encoder import encoder_shapes
    from tasktransfer.prompting.prompt_files import PromptArtefact

    manifest = manifest if manifest is not None else load_manifest(pool)
    pool_prompt_path(pool, task, seed, manifest)
    rel = prompt_rel(task, seed)
    where = f"pool {pool}: {rel}"
    tensors, meta = tensors_from_bytes(read_pool_file(pool, manifest, rel), where)
    prompt = manifest["prompt"]
    shape = (prompt["length"], prompt["hidden_size"])
    emb = tensors.get("embedding")
    if emb is None or not any(k.startswith("prompt.") for k in tensors):
        raise ArtefactError(f"{where} holds no prompt encoder and embedding; {DO_NOT_USE}")
    if tuple(emb.shape) != shape or not emb.is_floating_point():
        raise ArtefactError(
            f"{where}: its embedding has shape {tuple(emb.shape)}, the manifest says L x H = {shape[0]} x {shape[1]}; "
            f"{DO_NOT_USE}"
        )
    for key in ("length", "hidden_size", "mlp_hidden"):
        if meta.get(key) != prompt[key]:
            raise ArtefactError(
                f"{where} was made with {key}={meta.get(key)!r}, the manifest says {prompt[key]!r}; {DO_NOT_USE}"
            )
    if meta.get("backbone") != manifest["backbone"]["name"]:
        raise ArtefactError(
            f"{where} was made with backbone {meta.get('backbone')!r}, the manifest says "
            f"{manifest['backbone']['name']!r}; {DO_NOT_USE}"
        )
    want = encoder_shapes(prompt["length"], prompt["hidden_size"], prompt["mlp_hidden"])
    have = {k[len("prompt.") :]: tuple(v.shape) for k, v in tensors.items() if k.startswith("prompt.")}
    if have != want:
        wrong = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
        raise ArtefactError(
            f"{where}: its prompt encoder's {', '.join(f'{k} {have.get(k)}' for k in wrong)} differ from the manifest's "
            f"size ({', '.join(f'{k} {want.get(k)}' for k in wrong)}); {DO_NOT_USE}"
        )
    check_finite(tensors, where, DO_NOT_USE)
    return PromptArtefact(
        prompt_state={k[len("prompt.") :]: v for k, v in tensors.items() if k.startswith("prompt.")},
        head_state={k[len("head.") :]: v for k, v in tensors.items() if k.startswith("head.")},
        embedding=emb,
        metadata=meta,
    )


def verify_pool_contents(pool: str | Path) -> dict:
    """``pool verify``: every file against its hash, then every prompt's tensors against the
    manifest's sizes (a prompt encoder of the wrong shape would fail only in a transfer job)."""
    from tasktransfer.pool.manifest import pool_seeds, verify_pool

    manifest = verify_pool(pool, load_manifest(pool))
    for task in pool_tasks(manifest):
        for seed in pool_seeds(manifest, task):
            load_pool_prompt(pool, task, seed, manifest)
    return manifest


def load_pool_embeddings(pool: str | Path, manifest: dict, seed: int, tasks: Iterable[str] | None = None) -> dict:
    """Task embeddings P of the pool's tasks (hash-checked), by task."""
    return {t: load_pool_prompt(pool, t, seed, manifest).embedding for t in (tasks or pool_tasks(manifest))}


def _check_scorer_backbone(where: str, manifest: dict, info: dict, meta: dict) -> None:
    """The scorer file and the manifest's scorer entry both name the pool's backbone."""
    theirs = manifest["backbone"]["name"]
    if meta.get("backbone") != theirs or info.get("backbone") not in (None, theirs):
        raise ArtefactError(
            f"{where} was trained on backbone {meta.get('backbone')!r} (the manifest's scorer entry says "
            f"{info.get('backbone')!r}), the pool's prompts on {theirs!r}; {DO_NOT_USE}"
        )


def scorer_skeleton(pool: str | Path, manifest: dict, backbone: str) -> tuple[Any, dict, int]:
    """The untrained scorer that the manifest's scorer entry describes (its spec: members,
    segments, standardisation, trained layers), built on ``backbone`` (this machine's), its
    architecture, and the most bytes its file can need in the entry's ``storage``
    (:func:`~tasktransfer.affinity.scorer_model.file_bound`: a compact file at its code width, a
    full one without ``storage``), known before any byte of the file is read."""
    from tasktransfer.affinity.scorer_model import architecture, build_scorer, file_bound

    info = manifest["scorer"]
    try:
        spec = info.get("spec") or {}
        if not isinstance(spec, dict):
            raise ArtefactError(f"its spec is not a mapping: {spec!r}")
        arch = architecture(spec)
        model = build_scorer(backbone, arch)
        return model, arch, file_bound(model, info.get("storage"), arch["train_layers"])
    except ArtefactError as err:
        raise ArtefactError(f"pool {pool}: manifest field 'scorer' does not describe a scorer ({err}); {DO_NOT_USE}") from err


def _check_scorer_record(where: str, manifest: dict, info: dict, meta: dict, arch: dict) -> None:
    """The file's metadata agrees with the manifest's entry: the same spec's architecture, the same
    storage (the one the size bound was computed for), and, for a compact file, differences from
    the pool's backbone weights (by hash)."""
    from tasktransfer.affinity.scorer_model import architecture

    spec = meta.get("spec") or {}
    try:
        theirs = architecture(spec) if isinstance(spec, dict) else None
    except ArtefactError:
        theirs = None
    if theirs != arch:
        raise ArtefactError(f"{where} has the spec {shown(spec)[:300]}, the manifest's scorer entry {arch}; {DO_NOT_USE}")
    if meta.get("storage") != info.get("storage"):
        raise ArtefactError(
            f"{where} is stored as {shown(meta.get('storage'))[:300]}, the manifest says {shown(info.get('storage'))[:300]}; "
            f"{DO_NOT_USE}"
        )
    weights = manifest["backbone"].get("weights_sha256")
    if info.get("storage") is not None and meta.get("backbone_weights_sha256") != weights:
        raise ArtefactError(
            f"{where} holds differences from the weights of a backbone with sha256 "
            f"{shown(meta.get('backbone_weights_sha256'))[:100]}, the pool's backbone has {weights}; {DO_NOT_USE}"
        )


def read_pool_scorer(pool: str | Path, manifest: dict, backbone: str) -> tuple[Any, bytes]:
    """The pool's scorer loaded on ``backbone`` and the file's bytes (the ones that matched its hash).

    The file is refused by its size before it is read (over what the architecture can hold), then
    its metadata against the manifest, then every tensor's name, dtype and shape against the
    architecture and every value for finiteness; a compact file's omitted tensors are the local
    backbone's (the caller has compared its weights hash with the pool's)."""
    from tasktransfer.affinity.scorer_model import load_weights
    from tasktransfer.io import check_finite, tensors_from_bytes

    info = manifest["scorer"]
    where = f"pool {pool}: {info['file']}"
    model, arch, limit = scorer_skeleton(pool, manifest, backbone)
    data = read_pool_file(pool, manifest, info["file"], limit)
    state, meta = tensors_from_bytes(data, where)
    _check_scorer_backbone(where, manifest, info, meta)
    _check_scorer_record(where, manifest, info, meta, arch)
    check_finite(state, where, DO_NOT_USE)
    try:
        load_weights(model, state, meta, backbone)
    except ArtefactError as err:
        raise ArtefactError(f"{where} does not fit the scorer it describes ({err}); {DO_NOT_USE}") from err
    return model, data


def load_pool_scorer(pool: str | Path, manifest: dict, backbone: str):
    """The pool's affinity scorer (hash-checked, size-bounded, shape-checked, finite), or None
    when the pool has none.

    Its encoder is built from ``backbone``, the backbone of this machine's configuration (the
    caller has compared its weights hash with the pool's), never from a name the pool gives; the
    scorer file must say it was trained on the manifest's backbone.
    """
    if not manifest.get("scorer"):
        return None
    return read_pool_scorer(pool, manifest, backbone)[0]


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
    from tasktransfer.io import atomic_write_bytes, atomic_write_json

    pool = Path(pool)
    manifest = manifest if manifest is not None else load_manifest(pool)
    pool_prompt_path(pool, task, seed, manifest)
    load_pool_prompt(pool, task, seed, manifest)  # shapes, metadata and finite values
    data = read_pool_file(pool, manifest, prompt_rel(task, seed))
    try:
        record = strict_json(read_pool_file(pool, manifest, record_rel(task, seed)))
    except ValueError as err:
        raise ArtefactError(f"pool {pool}: {record_rel(task, seed)} is not JSON ({err}); {DO_NOT_USE}") from err
    if not isinstance(record, dict):
        raise ArtefactError(f"pool {pool}: {record_rel(task, seed)} is not a JSON object; {DO_NOT_USE}")
    record["imported_from"] = {
        "pool": str(pool),
        "file": prompt_rel(task, seed),
        "sha256": manifest["files"][prompt_rel(task, seed)],
    }
    atomic_write_bytes(out_prompt, data)  # the bytes that matched the hash, not a second read
    atomic_write_json(out_metrics, record)
    if out_meta is not None:
        atomic_write_json(out_meta, pool_task_meta(manifest, task))


def install_pool_scorer(
    pool: str | Path,
    out_model: str | Path,
    out_metrics: str | Path,
    manifest: dict | None = None,
    backbone: str | None = None,
) -> None:
    """Write the pool's scorer where a run keeps its own (``results/scorer/``), hash-checked.

    With ``backbone`` (the run's, whose weights hash the workflow compared with the pool's) the
    file is checked as :func:`read_pool_scorer` checks it (size bound, every tensor, loaded);
    without, only its metadata, finite values and the general size cap. The bytes written are the
    ones that matched the hash, a compact file as it is (the run's rank jobs read it). The metrics
    file is the scorer's training record (held-out predictions included) plus ``imported_from``.
    A pool without a scorer raises :class:`ArtefactError`.
    """
    from tasktransfer.io import atomic_write_bytes, atomic_write_json, check_finite, tensors_from_bytes

    pool = Path(pool)
    manifest = manifest if manifest is not None else load_manifest(pool)
    info = manifest.get("scorer")
    if not info:
        raise ArtefactError(f"pool {pool} has no scorer; train one in the run (leave the pool's scorer out)")
    if backbone is not None:
        data = read_pool_scorer(pool, manifest, backbone)[1]
    else:
        where = f"pool {pool}: {info['file']}"
        data = read_pool_file(pool, manifest, info["file"])
        state, meta = tensors_from_bytes(data, where)
        _check_scorer_backbone(where, manifest, info, meta)  # install-scorer too, not only rank
        check_finite(state, where, DO_NOT_USE)
    atomic_write_bytes(out_model, data)
    record = dict(info.get("metrics") or {})
    record["imported_from"] = {"pool": str(pool), "file": info["file"], "sha256": manifest["files"][info["file"]]}
    atomic_write_json(out_metrics, record)


# --------------------------------------------------------------------------- export
