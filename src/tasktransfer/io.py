"""Atomic writes and safetensors artefacts with JSON metadata.

Every output is written to a temporary file beside its target and renamed into place, so a job
killed midway never leaves a file that Snakemake would take as finished.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from tasktransfer.errors import ArtefactError


def _temp_beside(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return tmp


def current_umask() -> int:
    """The process's umask, read without changing it where Linux says it (else set and restored)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # a folder that cannot be opened (some platforms): the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def finish_atomic(tmp: str | Path, path: str | Path) -> None:
    """Give a finished temporary file the mode a new file gets here (0666 less the umask, not
    mkstemp's 0600), flush it to disk, rename it into place and flush the folder's entry."""
    os.chmod(tmp, 0o666 & ~current_umask())
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(Path(path).parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    tmp = _temp_beside(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        finish_atomic(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_record(path: str | Path, fields: tuple[str, ...] = ()) -> dict:
    """A job's JSON record (metrics.json): the one reader of records, so a missing, corrupt or
    incomplete one is one line naming the file and the fix, never a bare KeyError."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ArtefactError(f"{path} is missing or corrupt ({err}); delete it and rerun its job") from err
    if not isinstance(record, dict):
        raise ArtefactError(f"{path} is not a JSON object; delete it and rerun its job")
    lacking = [f for f in fields if f not in record]
    if lacking:
        raise ArtefactError(f"{path} lacks {', '.join(lacking)}; delete it and rerun its job")
    return record


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> None:
    """Save tensors with their metadata (values JSON-encoded, since safetensors keeps strings)."""
    path = Path(path)
    tmp = _temp_beside(path)
    try:
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in tensors.items()},
            tmp,
            metadata={k: json.dumps(v) for k, v in metadata.items()},
        )
        finish_atomic(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load tensors and decoded metadata; a damaged file gives an error naming it."""
    path = Path(path)
    if not path.exists():
        raise ArtefactError(f"{path} does not exist; run the job that makes it first")
    try:
        tensors = load_file(str(path))
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise ArtefactError(f"{path} is not a readable safetensors file ({err}); delete it and rerun its job") from err
    try:
        meta = {k: json.loads(v) for k, v in raw.items()}
    except json.JSONDecodeError as err:
        raise ArtefactError(f"{path} has corrupt metadata ({err}); delete it and rerun its job") from err
    except RecursionError:
        raise ArtefactError(f"{path} has metadata nested too deeply; delete it and rerun its job") from None
    return tensors, meta


def tensors_from_bytes(data: bytes, where: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and decoded metadata of a safetensors file already read into memory (a file that
    was hashed as it was read is used from those same bytes)."""
    from safetensors.torch import load as load_bytes

    try:
        tensors = load_bytes(data)
        if len(data) < 8:
            raise ValueError("shorter than a safetensors header")
        size = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + size])
        raw = header.get("__metadata__") or {} if isinstance(header, dict) else {}
        meta = {k: json.loads(v) for k, v in raw.items()}
    except (SafetensorError, ValueError, TypeError, AttributeError) as err:
        raise ArtefactError(f"{where} is not a readable safetensors file ({err}); delete it and make it again") from err
    except RecursionError:
        raise ArtefactError(f"{where} has metadata nested too deeply; delete it and make it again") from None
    return tensors, meta


def check_finite(tensors: dict[str, torch.Tensor], where: str, fix: str) -> None:
    """Refuse a tensor holding NaN or an infinity, naming it."""
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise ArtefactError(f"{where}: tensor '{name}' holds NaN or infinite values; {fix}")
