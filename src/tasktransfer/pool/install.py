"""Reading a shared pool's prompts and scorer, and installing them into a run's results folder.

Every file is checked against the manifest's sha256 before use (see :mod:`tasktransfer.pool.manifest`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from tasktransfer.errors import ArtefactError
from tasktransfer.pool.manifest import (
    inside_pool,
    load_manifest,
    pool_prompt_path,
    pool_task_meta,
    pool_tasks,
    prompt_rel,
    record_rel,
    verify_pool,
)

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



def load_pool_prompt(pool: str | Path, task: str, seed: int, manifest: dict | None = None):
    """A pool prompt (:class:`prompt_pool.PromptArtefact`), its hash checked first."""
    from tasktransfer.prompting.prompt_files import load_prompt

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
    from tasktransfer.affinity.scorer import build_scorer
    from tasktransfer.io import load_tensors

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
    from tasktransfer.io import atomic_write_json

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
    from tasktransfer.io import atomic_write_json

    pool = Path(pool)
    manifest = manifest if manifest is not None else load_manifest(pool)
    info = manifest.get("scorer")
    if not info:
        raise ArtefactError(f"pool {pool} has no scorer; train one in the run (leave the pool's scorer out)")
    verify_pool(pool, manifest, [info["file"]])
    _copy_atomic(inside_pool(pool, info["file"]), Path(out_model))
    record = dict(info.get("metrics") or {})
    record["imported_from"] = {"pool": str(pool), "file": info["file"], "sha256": manifest["files"][info["file"]]}
    atomic_write_json(out_metrics, record)


# --------------------------------------------------------------------------- export
