"""One task of the registry, checked: :class:`TaskSpec` (what :mod:`tasktransfer.data.registry`
makes of an entry, and what every reader and the preparing stage take)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tasktransfer.data.package_fetch import PACKAGES
from tasktransfer.data.pins import PinnedFile, Repository


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
    #: the files the task reads, pinned by content, with their providers (data/providers.py)
    files: tuple[PinnedFile, ...] = ()
    #: the training size this task learns at as a target (None: the config's data.target_train)
    target_train: int | None = None
    #: another task of the same corpus and labels (a second provider's copy, a subset): the two
    #: count as one task where tasks are counted (docs/tasks.md), never as source and target
    counts_with: str | None = None
    #: where the entry's repositories are pinned (OWNER/REPO -> commit, licence)
    repositories: dict[str, Repository] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.source["kind"]

    def fingerprint(self) -> str:
        """A stable string of everything that changes this task's prepared data: not its labels
        (``type``, ``description``), which only the task table and the figures read."""
        d: dict[str, Any] = {"format": self.format, "metric": self.metric, "source": self.source}
        if self.data:  # only when set, so that entries without one keep their fingerprint
            d["data"] = self.data
        if self.files:  # the content, not its providers: another provider of the same bytes reruns nothing
            d["files"] = {
                f.name: f.sha256 or f"{f.package}:{f.package_path}:{','.join(f.include)}" for f in self.files
            }
        return json.dumps(d, sort_keys=True)

    @property
    def licences(self) -> list[str]:
        """The licences of the repositories and packages this task's files come from."""
        out = []
        for f in self.files:
            if f.repo and self.repositories.get(f.repo) and self.repositories[f.repo].licence:
                out.append(self.repositories[f.repo].licence)
            if f.package and PACKAGES[f.package].licence:
                out.append(PACKAGES[f.package].licence)
        return sorted(set(out))
