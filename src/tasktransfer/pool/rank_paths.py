"""Where ``rank --pool`` writes, checked before anything is read, prepared or tuned.

The command writes into a work folder (``data/``, ``prompt.safetensors``, ``metrics.json``,
``rank.json``, the ranking) and the ranking file ``--out``. Neither may overwrite or hold what the
user keeps: a work folder is used only when it is new, empty, or one this command made before (it
holds :data:`MARKER`); ``--out`` is never a folder, the task's own file, a file inside the pool or
one of the work folder's own files; both must lie where this user can write. Each refusal is one
line naming the flag, the path and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tasktransfer.data.task_spec import TaskSpec
from tasktransfer.errors import TaskTransferError

#: written into a work folder this command made: a later call may use (and overwrite) it again
MARKER = ".tasktransfer-rank"
LOCK = ".rank.lock"
#: what the command writes into its work folder
WORK_FILES = (
    "data", "prompt.safetensors", "metrics.json", "rank.json", "ranking.tsv",
    # select --pool besides
    "target", "sources", "transfer", "halving", "select-request.json", "select.json", "selection.tsv", "selected",
)


@dataclass(frozen=True)
class RankPaths:
    work: Path
    out: Path


def task_files(spec: TaskSpec) -> list[Path]:
    """The files a local-file task reads (its ``source.files``: one path, or one per split)."""
    source = spec.source or {}
    if source.get("kind") != "local":
        return []
    files = source.get("files")
    paths = files.values() if isinstance(files, dict) else [files]
    return [Path(p) for p in paths if isinstance(p, str)]


def is_inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def check_writable(flag: str, path: Path, folder: Path) -> None:
    """The nearest existing folder at or above ``folder`` must let this user create entries."""
    here = folder
    while not here.exists() and here != here.parent:
        here = here.parent
    if not here.is_dir():
        raise TaskTransferError(f"{flag} {path}: {here} is a file, not a folder; name a path under a folder")
    if not os.access(here, os.W_OK | os.X_OK):
        raise TaskTransferError(f"{flag} {path}: {here} is not writable for this user; name a folder you can write to")


def check_no_tilde(flag: str, path: Path) -> None:
    if str(path).startswith("~"):
        raise TaskTransferError(
            f"{flag} {path} starts with a literal '~' (quoted, so no shell expanded it): it would make a folder named "
            "'~'; write the home folder out ($HOME/...) or leave the '~' unquoted"
        )


def _check_work(work: Path, pool: Path) -> None:
    check_no_tilde("--work", work)
    if is_inside(work, pool):
        raise TaskTransferError(
            f"--work {work} is inside the pool {pool}: the new task's files would mix with the pool's; name a folder "
            "outside it"
        )
    if work.is_symlink() or (work.exists() and not work.is_dir()):
        raise TaskTransferError(f"--work {work} is a file or a link; name a folder")
    if work.is_dir() and not (work / MARKER).is_file():
        foreign = sorted(p.name for p in work.iterdir() if p.name != LOCK)
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise TaskTransferError(
                f"--work {work} holds files that `tasktransfer rank` did not write ({shown}); it would overwrite "
                f"{', '.join(WORK_FILES)} there: name a new or empty folder"
            )
    check_writable("--work", work, work)


def _check_out(out: Path, work: Path, pool: Path, inputs: Iterable[Path]) -> None:
    check_no_tilde("--out", out)
    if out.is_dir():
        raise TaskTransferError(f"--out {out} is a folder; name the ranking's file, e.g. {out / 'ranking.tsv'}")
    if is_inside(out, pool):
        raise TaskTransferError(f"--out {out} is inside the pool {pool}; write the ranking outside it")
    for path in inputs:
        if path.exists() and out.exists() and out.resolve() == path.resolve():
            raise TaskTransferError(f"--out {out} is the task's own file {path}; name another file for the ranking")
    if out.resolve().parent == work.resolve() and out.name in WORK_FILES and out.name != "ranking.tsv":
        raise TaskTransferError(f"--out {out} is a file the command writes into its work folder; name another file")
    check_writable("--out", out, out.parent)


def check_rank_paths(pool: Path, spec: TaskSpec, work: Path | None, out: Path | None) -> RankPaths:
    """The work folder (default ``tasktransfer-rank/TASK``) and the ranking's file (default
    ``WORK/ranking.tsv``), each checked; nothing is created here."""
    work = Path(work) if work is not None else Path("tasktransfer-rank") / spec.name
    _check_work(work, pool)
    out = Path(out) if out is not None else work / "ranking.tsv"
    _check_out(out, work, pool, task_files(spec))
    return RankPaths(work, out)
