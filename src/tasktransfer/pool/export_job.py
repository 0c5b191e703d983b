"""The export command's defaults (``tasktransfer pool export``): which config gives the pool its data
caps and roles (``--config``, else ``config/config.yaml`` where it exists, else none) and which
registry its data sources (``--registry``, else the config's), before :func:`export_pool`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tasktransfer.errors import TaskTransferError
from tasktransfer.pool.export import export_pool
from tasktransfer.yaml_files import load_yaml_file

DEFAULT_CONFIG = Path("config/config.yaml")
DEFAULT_REGISTRY = "config/tasks.yaml"


def run_config(config: str | None, log: Callable[[str], None]) -> tuple[dict | None, str | None]:
    """The run's config as a mapping and its name; (None, None) where none is given or found."""
    path = Path(config) if config else DEFAULT_CONFIG
    if not (config or path.exists()):
        log("no config given (and no config/config.yaml here): the pool records no data caps")
        return None, None
    if not path.exists():
        raise TaskTransferError(f"config {path} does not exist; pass the run's config with --config")
    loaded = load_yaml_file(path, "config") or {}
    if not isinstance(loaded, dict):
        raise TaskTransferError(f"config {path} is not a mapping of keys; pass the run's config with --config")
    log(f"data caps and roles from {path}")
    return loaded, str(path)


def export_run(
    results: str | Path,
    out: str | Path,
    config: str | None = None,
    registry: str | None = None,
    tasks: Iterable[str] | None = None,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    loaded, config_name = run_config(config, log)
    if registry is None:
        default = (loaded or {}).get("tasks_registry", DEFAULT_REGISTRY)
        registry = default if Path(default).exists() else None
        if registry is None:
            log(f"note: registry {default} not found; data sources are recorded as null (pass --registry)")
    return export_pool(
        results, out, registry=registry, config=loaded, config_name=config_name, tasks=tasks, force=force, log=log
    )
