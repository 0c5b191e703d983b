"""Loading a task's examples, splitting and capping them, and reading the prepared files.

Prepared data is canonical JSONL (one example per line, keys sorted) plus ``meta.json`` with the
task's format, metric, type, label set and sizes, so later stages never need the registry.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from tasktransfer.data.providers import TaskFiles
from tasktransfer.data.readers import READERS
from tasktransfer.data.registry import TaskSpec
from tasktransfer.data.synthetic import generate_synthetic
from tasktransfer.errors import ConfigError, TaskError
from tasktransfer.io import atomic_write_text


@dataclass(frozen=True)
class DataSpec:
    """How many examples a task keeps, and the seed that picks them."""

    max_train: int = 500
    max_dev: int = 300
    split_seed: int = 0
    dev_fraction: float = 0.3

    def __post_init__(self) -> None:
        for key, low in (("max_train", 1), ("max_dev", 1), ("split_seed", 0)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"data.{key} must be an integer of at least {low}, not {value!r}")
        f = self.dev_fraction
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f < 1:
            raise ConfigError(f"data.dev_fraction must be a number between 0 and 1 (exclusive), not {f!r}")

    @classmethod
    def from_mapping(cls, data: Any, where: str = "--data") -> DataSpec:
        """A DataSpec from a JSON or YAML mapping: an unknown key or a bad value is one clear error."""
        if not isinstance(data, dict):
            raise ConfigError(f"{where} must be a mapping of {sorted(cls.__dataclass_fields__)}, not {data!r}")
        unknown = sorted(str(k) for k in data if k not in cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"{where} has unknown keys {unknown}; the keys are {sorted(cls.__dataclass_fields__)}")
        return cls(**data)


@dataclass(frozen=True)
class TaskMeta:
    name: str
    type: str
    format: str
    metric: str
    labels: list[str]
    n_train: int
    n_dev: int
    majority: float | None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def task_files(spec: TaskSpec, resources: Path, folder: Path | None = None, log: Callable[[str], None] | None = None) -> TaskFiles:
    """The pinned files of a task, served by the first provider that holds each (data/providers.py)."""
    return TaskFiles(spec.name, spec.files, Path(resources), folder, spec.repositories, log)


def load_raw(spec: TaskSpec, resources: Path, files: TaskFiles | None = None) -> dict[str, list[dict]]:
    """Read a task's examples from its source: ``{"train", "dev"}`` or ``{"all"}``. A corpus
    reader reads its pinned files through ``files`` (by default: the providers found here)."""
    kind = spec.kind
    if kind == "synthetic":
        return {"all": generate_synthetic(spec)}
    if kind in ("huggingface", "local"):
        from tasktransfer.data.tables import load_table_source  # imported lazily: `datasets` is slow to import

        return load_table_source(spec, resources)
    if kind not in READERS:
        raise TaskError(spec.name, "source.kind", f"'{kind}' has no reader; use one of {sorted(READERS)}")
    return READERS[kind](spec, files or task_files(spec, resources))


def _check_example(spec: TaskSpec, example: dict, index: int) -> None:
    required = {
        "classification": ("text", "label"),
        "regression": ("text", "label"),
        "multiple_choice": ("text", "choices", "label"),
        "extractive_qa": ("question", "context", "answers"),
        "tagging": ("tokens", "tags"),
        "multirc": ("text", "question", "answers"),
    }[spec.format]
    for key in required:
        if key not in example:
            raise TaskError(spec.name, key, f"example {index} has no '{key}'; check the field mapping in the registry")


def split_and_cap(spec: TaskSpec, raw: dict[str, list[dict]], data: DataSpec) -> tuple[list[dict], list[dict]]:
    """Seeded shuffle, then train/dev split (if the source has none) and caps."""
    rng = random.Random(data.split_seed)
    if "all" in raw:
        pool = list(raw["all"])
        rng.shuffle(pool)
        n_dev = min(data.max_dev, max(1, int(round(len(pool) * data.dev_fraction))))
        dev, train = pool[:n_dev], pool[n_dev:]
    else:
        train, dev = list(raw.get("train", [])), list(raw.get("dev", []))
        rng.shuffle(train)
        rng.shuffle(dev)
    train, dev = train[: data.max_train], dev[: data.max_dev]
    if not train and dev and "all" in raw:
        raise TaskError(
            spec.name,
            "train",
            f"all {len(dev)} examples went to dev (the source has {len(dev)}); the task needs more examples, "
            "or a smaller data.max_dev / dev_fraction",
        )
    if not train:
        raise TaskError(spec.name, "train", "the training split is empty; check the source and its split names")
    if not dev:
        raise TaskError(spec.name, "dev", "the dev split is empty; check the source and its split names")
    for i, ex in enumerate(train + dev):
        _check_example(spec, ex, i)
    return train, dev


def label_set(spec: TaskSpec, train: list[dict], dev: list[dict]) -> list[str]:
    """Sorted labels (classes or tags) seen in train; a dev class never seen in train is an error
    (a dev tag never seen in train is allowed: the tagger cannot predict it)."""
    if spec.format == "classification":
        train_labels, dev_labels = {str(e["label"]) for e in train}, {str(e["label"]) for e in dev}
    elif spec.format == "tagging":
        train_labels = {t for e in train for t in e["tags"]}
        dev_labels = {t for e in dev for t in e["tags"]}
    else:
        return []
    unseen = sorted(dev_labels - train_labels)
    # a rare tag (WSJ's UH) often misses a capped train split: its words just count as errors
    if unseen and spec.format != "tagging":
        raise TaskError(
            spec.name,
            "label",
            f"dev labels {unseen} never occur in train; raise data.max_train or fix the label field",
        )
    if spec.format == "classification" and len(train_labels) < 2:
        raise TaskError(
            spec.name,
            "label",
            f"the training split has one class only ({sorted(train_labels)}): a classifier cannot learn from it "
            "and its majority score is 100 %; check the label column, or give examples of at least two classes",
        )
    return sorted(train_labels)


def check_regression_labels(spec: TaskSpec, train: list[dict]) -> None:
    """A regression task whose training labels are all equal has nothing to learn (Pearson is undefined)."""
    if spec.format == "regression" and len({float(e["label"]) for e in train}) < 2:
        raise TaskError(
            spec.name,
            "label",
            f"every training label is {train[0]['label']!r}: a regression needs labels that vary; check the label column",
        )


def warn_single_tag(spec: TaskSpec, labels: list[str]) -> str | None:
    """A tagging task with one tag only is allowed (a warning): its dev score is then trivial."""
    if spec.format == "tagging" and len(labels) < 2:
        return f"warning: task {spec.name}: its training split has one tag only ({labels}); its scores are trivial"
    return None


def majority_share(spec: TaskSpec, dev: list[dict]) -> float | None:
    if spec.format != "classification":
        return None
    counts: dict[str, int] = {}
    for e in dev:
        counts[str(e["label"])] = counts.get(str(e["label"]), 0) + 1
    return max(counts.values()) / len(dev)


def task_data_spec(spec: TaskSpec, data: DataSpec) -> DataSpec:
    """The config's split settings with the task's own (its registry entry's ``data`` block):
    the smaller of the two caps, and the task's dev fraction where it sets one."""
    own = spec.data
    return replace(
        data,
        max_train=min(data.max_train, own.get("max_train", data.max_train)),
        max_dev=min(data.max_dev, own.get("max_dev", data.max_dev)),
        dev_fraction=float(own.get("dev_fraction", data.dev_fraction)),
    )


def prepare_task(
    spec: TaskSpec, data: DataSpec, resources: Path, out_dir: Path, folder: Path | None = None
) -> TaskMeta:
    """Write ``train.jsonl``, ``dev.jsonl``, ``meta.json`` and ``provenance.json`` (which provider
    served each file, its sha256, the repository's commit or the package) for one task, atomically."""
    from tasktransfer.runtime import log

    data = task_data_spec(spec, data)
    files = task_files(spec, resources, folder, log)
    train, dev = split_and_cap(spec, load_raw(spec, resources, files), data)
    labels = label_set(spec, train, dev)
    check_regression_labels(spec, train)
    warning = warn_single_tag(spec, labels)
    if warning:
        log(warning)
    meta = TaskMeta(
        name=spec.name,
        type=spec.type,
        format=spec.format,
        metric=spec.metric,
        labels=labels,
        n_train=len(train),
        n_dev=len(dev),
        majority=majority_share(spec, dev),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(out_dir / "train.jsonl", train)
    write_jsonl(out_dir / "dev.jsonl", dev)
    atomic_write_text(out_dir / "provenance.json", json.dumps({"task": spec.name, "files": files.provenance}, indent=2, sort_keys=True))
    atomic_write_text(out_dir / "meta.json", meta.to_json())
    return meta


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows))


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def training_subset(train: list[dict], max_train: int = 0) -> list[dict]:
    """A low-resource target's training set: the first ``max_train`` of the prepared (already
    shuffled) examples, or all of them for 0. Its no-transfer run and every transfer into it call
    this with the same N, so they read the same subset; the dev set is never cut."""
    if max_train < 0:
        raise ValueError(f"max_train must be >= 0, got {max_train}")
    return train[:max_train] if max_train else list(train)


def rows_digest(rows: list[dict]) -> str:
    """sha256 of examples in their canonical JSON form (which examples a run trained on)."""
    import hashlib

    h = hashlib.sha256()
    for r in rows:
        h.update(json.dumps(r, sort_keys=True, ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


def read_meta(task_dir: Path) -> TaskMeta:
    return TaskMeta(**json.loads((task_dir / "meta.json").read_text()))
