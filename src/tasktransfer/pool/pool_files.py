"""Reading a shared pool's files safely: inside the pool, through no symbolic link, with a size
limit, hashed as they are read (the bytes a command uses are the bytes that matched the
manifest's sha256; nothing is checked first and read again later).
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

from tasktransfer.errors import ArtefactError
from tasktransfer.names import check_relative_path

SCORER_FILE = "scorer.safetensors"
MAX_MANIFEST_BYTES = 64 << 20
MAX_POOL_FILE_BYTES = 4 << 30
#: a JSON file of a pool (a run's record, a selection model), and a safetensors header's metadata
MAX_JSON_BYTES = 16 << 20
#: a prompt file's task head: up to this many labels (or tags) of the backbone's width
MAX_HEAD_LABELS = 4096
#: what a crafted manifest is told
DO_NOT_USE = "this pool is malformed or was crafted: do not use it (export it again from its run)"


def prompt_rel(task: str, seed: int) -> str:
    return f"prompts/{task}/seed{int(seed)}.safetensors"


def record_rel(task: str, seed: int) -> str:
    return f"prompts/{task}/seed{int(seed)}.json"



def inside_pool(pool: Path, rel: str) -> Path:
    """A manifest path, refused unless it stays inside the pool (and is made of strict names)."""
    p = Path(rel) if isinstance(rel, str) else None
    if p is None or p.is_absolute() or ".." in p.parts or not rel:
        raise ArtefactError(f"pool {pool}: manifest names {rel!r}, a path outside the pool; do not use this pool")
    check_relative_path(rel, f"pool {pool}: manifest file name", DO_NOT_USE)
    return pool / p



def open_in_pool(pool: Path, rel: str) -> int:
    """A read-only descriptor of ``pool/rel``, opened one folder at a time without following any
    symlink: a link anywhere inside the pool is refused, never read through."""
    parts = rel.split("/")
    try:
        fd = os.open(pool, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as err:
        raise ArtefactError(f"prompt pool {pool} cannot be opened ({err.strerror}); check the path") from err
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            flags = os.O_RDONLY | os.O_NOFOLLOW | (0 if last else os.O_DIRECTORY)
            try:
                st = os.stat(part, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                raise ArtefactError(f"pool {pool}: {rel} is missing; download or export the pool again") from None
            if stat.S_ISLNK(st.st_mode):
                raise ArtefactError(
                    f"pool {pool}: {'/'.join(parts[: i + 1])} is a symbolic link; a pool holds plain files only "
                    f"(a link may point outside it): {DO_NOT_USE}"
                )
            if last and not stat.S_ISREG(st.st_mode):
                raise ArtefactError(f"pool {pool}: {rel} is not a plain file; {DO_NOT_USE}")
            try:
                nxt = os.open(part, flags, dir_fd=fd)
            except OSError as err:
                raise ArtefactError(f"pool {pool}: {rel} cannot be opened ({err.strerror}); {DO_NOT_USE}") from err
            os.close(fd)
            fd = nxt
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ArtefactError(f"pool {pool}: {rel} is not a plain file; {DO_NOT_USE}")
        return fd
    except BaseException:
        os.close(fd)
        raise


def size_limit(manifest: dict, rel: str) -> int:
    """The most bytes a pool file of this kind can need: a prompt file holds the encoder, its
    embedding and a head, all sized by the manifest's L, H and mlp_hidden (8 bytes a number, a head
    of up to :data:`MAX_HEAD_LABELS` labels, a header of JSON); a JSON file is small. The scorer's
    bound depends on the backbone on this machine, so its readers pass it to :func:`read_pool_file`
    (``tasktransfer.pool.install.scorer_skeleton``: what its architecture can hold); here it has
    only the general cap."""
    if rel.startswith("prompts/") and rel.endswith(".safetensors"):
        prompt = manifest.get("prompt") if isinstance(manifest.get("prompt"), dict) else {}
        length, hidden, mlp = (int(prompt.get(k) or 0) for k in ("length", "hidden_size", "mlp_hidden"))
        numbers = 2 * length * hidden + 2 * mlp * hidden + mlp + hidden + (MAX_HEAD_LABELS + 1) * hidden
        return min(MAX_POOL_FILE_BYTES, 8 * numbers + MAX_JSON_BYTES)
    if rel.endswith(".json"):
        return MAX_JSON_BYTES
    return MAX_POOL_FILE_BYTES


def read_limited(fd: int, limit: int, pool: Path, rel: str, digest: Any | None = None) -> bytes:
    """The file's bytes, refused before any is read where its size is over ``limit`` (or where it
    grew past it while read): a 3.5 GB prompt file never reaches memory, and a file within its
    limit is held once (one read, no copies of chunks)."""
    too_big = f"pool {pool}: {rel} is larger than {limit / (1 << 20):.1f} MiB, more than a file of its kind can need; {DO_NOT_USE}"
    with os.fdopen(fd, "rb") as f:
        if os.fstat(f.fileno()).st_size > limit:
            raise ArtefactError(too_big)
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ArtefactError(too_big)
    if digest is not None:
        digest.update(data)
    return data


def hash_fd(fd: int) -> str:
    h = hashlib.sha256()
    with os.fdopen(fd, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_pool_file(pool: str | Path, manifest: dict, rel: str, limit: int | None = None) -> bytes:
    """The bytes of one pool file, hashed as they are read: what the caller uses is exactly what
    matched the manifest's sha256 (no second read after the check). A file over ``limit`` bytes
    (default :func:`size_limit`) is refused before any byte is read."""
    pool = Path(pool)
    files = manifest["files"]
    if rel not in files:
        raise ArtefactError(
            f"pool {pool}: {rel} is not listed in its manifest (no hash to check it by); export the pool again"
        )
    inside_pool(pool, rel)
    digest = hashlib.sha256()
    limit = size_limit(manifest, rel) if limit is None else limit
    data = read_limited(open_in_pool(pool, rel), limit, pool, rel, digest)
    check_digest(pool, rel, digest.hexdigest(), files[rel])
    return data


def check_digest(pool: Path, rel: str, actual: str, expected: str) -> None:
    if actual != expected:
        raise ArtefactError(
            f"pool {pool}: {rel} is damaged or was changed: its sha256 is {actual}, the manifest says {expected}; "
            "download or export the pool again (`tasktransfer pool export`)"
        )


def refuse_links(pool: Path) -> None:
    """Every entry of the pool folder, walked without following links: a symlink is refused."""
    for root, dirs, names in os.walk(pool, followlinks=False):
        for name in [*dirs, *names]:
            path = Path(root) / name
            if path.is_symlink():
                raise ArtefactError(
                    f"pool {pool}: {path.relative_to(pool).as_posix()} is a symbolic link; a pool holds plain files "
                    f"only (a link may point outside it): {DO_NOT_USE}"
                )
