"""The pool's scorer at export: the run's scorer file made compact, and its manifest entry.

The run keeps its full-precision scorer (``results/scorer/model.safetensors``: its own rankings
and figures are those of that file); the pool gets the compact file of
:mod:`tasktransfer.affinity.scorer_file`, only what training changed, at the narrowest code width
that ranks the pool's own tasks exactly as the full scorer does (checked here, on the prompts
being exported, through the loader a pool's users run). The width, what was tried and the
backbone's weights hash go into the file's metadata and the manifest's ``scorer`` entry
(``storage``, ``storage_check``), so a reader knows the file's size bound before reading it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tasktransfer.errors import ArtefactError
from tasktransfer.pool.manifest import SCORER_FILE, Log, header_metadata, public_record, read_json


def _scorer_entry(scorer_file: Path, backbone: str, weights_sha256: str | None) -> dict[str, Any]:
    """The manifest's ``scorer`` entry of the run's file (a scorer of another backbone than the
    prompts' is refused), before its storage is known."""
    smeta = header_metadata(scorer_file)
    if smeta.get("backbone") != backbone:
        raise ArtefactError(
            f"scorer {scorer_file} was trained on backbone {smeta.get('backbone')!r}, the prompts on {backbone!r}; "
            "rerun train_scorer or export without it (move it away)"
        )
    if smeta.get("storage") is not None and smeta.get("backbone_weights_sha256") != weights_sha256:
        raise ArtefactError(
            f"scorer {scorer_file} is a compact scorer made on a backbone with weights sha256 "
            f"{smeta.get('backbone_weights_sha256')}, the prompts' backbone here has {weights_sha256}; "
            "rerun train_scorer or export without it (move it away)"
        )
    smetrics_path = scorer_file.parent / "metrics.json"
    smetrics = (
        public_record(read_json(smetrics_path, "scorer metrics", "rerun train_scorer"))
        if smetrics_path.exists()
        else None
    )
    trained_on = sorted({p[k] for p in (smetrics or {}).get("held_out", []) for k in ("source", "target")})
    return {
        "file": SCORER_FILE,
        "backbone": smeta.get("backbone"),
        # the scorer's backbone by weights (the prompts' backbone: checked equal above)
        "weights_sha256": weights_sha256,
        "spec": smeta.get("spec"),
        "lr": smeta.get("lr"),
        "trained_on": trained_on,
        "metrics": smetrics,
        # a compact scorer (installed from a pool) stays as it is: the run ranked with it
        **({k: smeta.get(k) for k in ("storage", "storage_check")} if smeta.get("storage") is not None else {}),
    }


def _sorted_metadata(data: bytes) -> bytes:
    """A safetensors file with its metadata keys in sorted order (safetensors writes them in a
    hash map's order, which changes from process to process): the same run exports the same
    bytes, so the same sha256. The header keeps its length (same JSON, padded to 8 bytes)."""
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data[8 + size :]


def pool_scorer(
    scorer_file: Path, backbone: str, weights_sha256: str | None, prompts: dict[str, Path], log: Log
) -> tuple[dict | None, bytes | None]:
    """The manifest's ``scorer`` entry and the bytes of the pool's scorer file, or (None, None) with
    a note where the run has no scorer.

    ``prompts`` (task -> its prompt file at the pool's embedding seed) are the tasks whose rankings
    the compact file must keep. Where the backbone has no local weights (a hub id not downloaded),
    no difference from it can be taken: the full file is exported as it is, with a note (such a
    pool records no weights hash, and ``rank --pool`` refuses it anyway).
    """
    if not scorer_file.exists():
        log(
            f"note: {scorer_file} does not exist; the pool has no scorer (ranking falls back to the similarity baselines)"
        )
        return None, None
    info = _scorer_entry(scorer_file, backbone, weights_sha256)
    if "storage" in info:
        log(f"note: {scorer_file} is already compact (storage {info['storage']}); exported as it is")
        return info, scorer_file.read_bytes()
    if weights_sha256 is None:
        log(f"note: backbone {backbone} has no local weights here, so its scorer is exported whole (full precision)")
        return info, scorer_file.read_bytes()
    from safetensors.torch import save

    from tasktransfer.affinity.scorer_file import compact_scorer
    from tasktransfer.affinity.scorer_model import load_scorer
    from tasktransfer.io import load_tensors
    from tasktransfer.prompting.prompt_files import load_prompt

    state, meta = load_tensors(scorer_file)
    try:
        model = load_scorer(state, meta, backbone)
    except ArtefactError as err:
        raise ArtefactError(f"scorer {scorer_file} cannot be loaded ({err}); rerun train_scorer") from err
    del state  # held by the model now
    embeddings = {task: load_prompt(path).embedding for task, path in sorted(prompts.items())}
    tensors, compact_meta = compact_scorer(model, meta, backbone, embeddings, log)
    compact_meta["backbone_weights_sha256"] = weights_sha256
    data = _sorted_metadata(save(tensors, metadata={k: json.dumps(v) for k, v in compact_meta.items()}))
    log(
        f"scorer: {scorer_file.stat().st_size / 1e6:.1f} MB in the run, {len(data) / 1e6:.1f} MB in the pool "
        f"({compact_meta['storage']['bits']} bits a trained number)"
    )
    return {**info, "storage": compact_meta["storage"], "storage_check": compact_meta["storage_check"]}, data
