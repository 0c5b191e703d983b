"""Folders written whole: filled in a temporary folder beside their place, then swapped in.

A command that hands out a folder (``pool export``, ``select --out``, ``publish``) builds it beside
its place and puts it there in one step, so that a process killed at any moment leaves the old
folder or the new one under the name, never half of one. The helpers live here, below the
subpackages, because both :mod:`tasktransfer.pool` and :mod:`tasktransfer.analysis` write such
folders and the two do not import each other.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import tempfile
from pathlib import Path

from tasktransfer.io import current_umask

#: renameat2's flag that swaps two paths (Linux 3.15+, glibc 2.28+), and "the current folder"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``), so that a process
    killed at any moment leaves each name holding one of the two. False where the system or the
    file system cannot (then the caller renames twice: a kill between leaves the old folder beside)."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def temp_folder_beside(out: Path) -> Path:
    """A new empty folder beside ``out`` (same file system, so the final rename is atomic), with
    the permissions a new folder gets here (not mkdtemp's 0700: the folder is meant to be shared)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    os.chmod(tmp, 0o777 & ~current_umask())
    return tmp


def fsync_file(path: Path) -> None:
    """Flush one written file to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_files(folder: Path) -> None:
    """Flush every file under ``folder`` to disk: the rename that publishes it must not reach the
    disk before the contents do."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            fsync_file(path)


def swap_in(tmp: Path, out: Path) -> None:
    """Put the finished folder ``tmp`` in ``out``'s place and remove what was there: one rename for
    a new place, one exchange for an old folder (two renames where the file system cannot
    exchange: a kill between leaves the old folder beside, under a hidden name)."""
    if not out.exists():
        os.replace(tmp, out)
    elif exchange(tmp, out):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old folder
    else:
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.replace(out, old / "folder")
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
