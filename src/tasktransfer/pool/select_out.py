"""Where ``select --pool`` hands out the chosen prompt: the ``--out`` folder, checked before
anything is read or trained, and written whole or not at all.

The folder holds ``prompt.safetensors`` (the chosen run's prompt: the prompt encoder, its head and
the embedding, as ``prompt-tune`` writes them), ``prompt.json`` (that run's record and the
selection's summary) and ``selection.tsv`` (every candidate). It is filled beside its place and
renamed in (swapped in one step where it replaces an earlier selection), so an interrupt leaves
the old folder or the new one. Only a folder that select wrote (:data:`OUT_MARKER`) is replaced.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from tasktransfer.errors import TaskTransferError
from tasktransfer.folder_swap import exchange
from tasktransfer.pool.rank_paths import check_no_tilde, check_writable, is_inside

OUT_MARKER = ".tasktransfer-selected"
OUT_FILES = ("prompt.safetensors", "prompt.json", "selection.tsv", OUT_MARKER)


def check_select_out(out: Path, work: Path, pool: Path, inputs: Iterable[Path]) -> None:
    """``--out``: a new folder, or one an earlier ``select`` wrote; outside the pool; not the work
    folder itself, nor a task file; writable."""
    check_no_tilde("--out", out)
    if is_inside(out, pool):
        raise TaskTransferError(f"--out {out} is inside the pool {pool}; name a folder outside it")
    if out.resolve() == work.resolve():
        raise TaskTransferError(f"--out {out} is the work folder; name a folder of its own (default WORK/selected)")
    for path in inputs:
        if is_inside(path, out):
            raise TaskTransferError(f"--out {out} holds the task's own file {path}; name another folder")
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise TaskTransferError(f"--out {out} is a file or a link; name a folder for the chosen prompt")
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in OUT_FILES)
        if foreign or (any(out.iterdir()) and not (out / OUT_MARKER).is_file()):
            shown = ", ".join(foreign[:5]) or "files without select's mark"
            raise TaskTransferError(
                f"--out {out} holds what `tasktransfer select` did not write ({shown}); name a new or empty folder"
            )
    check_writable("--out", out, out.parent)


def write_selected(out: Path, run: Path, table: pd.DataFrame, summary: dict) -> None:
    """Fill a folder beside ``out`` with the run's prompt, its record with ``summary``, and the
    table; then put it in ``out``'s place (an earlier selection there is swapped out and removed)."""
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        _remove_ours(tmp)
    tmp.mkdir(parents=True)
    try:
        shutil.copyfile(run / "prompt.safetensors", tmp / "prompt.safetensors")
        record = json.loads((run / "metrics.json").read_text())
        (tmp / "prompt.json").write_text(json.dumps({**record, "selection": summary}, indent=2, sort_keys=True) + "\n")
        (tmp / "selection.tsv").write_text(table.to_csv(sep="\t", index=False))
        (tmp / OUT_MARKER).touch()
        if out.is_dir() and any(out.iterdir()):
            if exchange(tmp, out):
                _remove_ours(tmp)
                return
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
            tmp.rename(out)
            _remove_ours(old)
            return
        if out.is_dir():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        if tmp.exists():
            _remove_ours(tmp)
        raise


def _remove_ours(folder: Path) -> None:
    """Remove a folder of select's own files (only those names; a foreign file keeps it)."""
    for name in OUT_FILES:
        (folder / name).unlink(missing_ok=True)
    folder.rmdir()
