"""Writing an exported pool's folder (:func:`tasktransfer.pool.export.export_pool`): built in a temp
folder beside its place and renamed in, so that an error at any point leaves nothing behind."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasktransfer.folder_swap import fsync_file, swap_in, temp_folder_beside
from tasktransfer.pool.manifest import MANIFEST, SCORER_FILE, prompt_rel, public_record, record_rel, sha256_file
from tasktransfer.run_layout import PROMPT_FILE


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


@dataclass(frozen=True)
class PoolContent:
    """What goes into the pool folder besides the manifest: the prompts with their records, the
    scorer's file (its bytes, or None) and the selection methods' files."""

    found: dict[str, dict[int, Path]]
    records: dict[tuple[str, int], dict]
    scorer: bytes | None
    extra_files: dict[str, bytes]


def _fill_folder(tmp: Path, content: PoolContent, manifest: dict[str, Any]) -> None:
    """Write the pool's files into ``tmp``, then the manifest with their hashes (set in ``manifest``)."""
    for (task, seed), record in sorted(content.records.items()):
        target = tmp / prompt_rel(task, seed)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(content.found[task][seed] / PROMPT_FILE, target)
        _write_synced(tmp / record_rel(task, seed), json.dumps(public_record(record), indent=2, sort_keys=True) + "\n")
    if content.scorer is not None:
        (tmp / SCORER_FILE).write_bytes(content.scorer)
    for name, data in content.extra_files.items():
        (tmp / name).write_bytes(data)
    manifest["files"] = {p.relative_to(tmp).as_posix(): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
    _write_synced(tmp / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    for p in sorted(tmp.rglob("*.safetensors")):  # copies: on disk before the rename
        fsync_file(p)


def write_pool(out: Path, content: PoolContent, manifest: dict[str, Any]) -> None:
    """Build the pool in a temp folder beside ``out`` and rename it into place (replacing an old
    pool there), so that an error at any point leaves ``out`` as it was and no temp folder behind."""
    tmp = temp_folder_beside(out)
    try:
        _fill_folder(tmp, content, manifest)
        swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
