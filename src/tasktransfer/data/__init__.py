"""Tasks and their examples: the task registry, where each task's data comes from, preparing and splitting.

- :mod:`~tasktransfer.data.registry`: the task registry (``config/tasks.yaml``): one :class:`TaskSpec` per task
- :mod:`~tasktransfer.data.task_spec`: one checked registry entry (:class:`TaskSpec`)
- :mod:`~tasktransfer.data.pins`: content pins of a task's files and the repositories they come from
- :mod:`~tasktransfer.data.providers`: the providers of a task's files (data folder, package, upstream archive)
- :mod:`~tasktransfer.data.availability`: which providers hold each task's files now (``tasks-check``)
- :mod:`~tasktransfer.data.repo_fetch`: the upstream repository's archive at a pinned commit
- :mod:`~tasktransfer.data.package_fetch`: data packages on the package index (pins, download)
- :mod:`~tasktransfer.data.readers`: every corpus reader by source kind
- :mod:`~tasktransfer.data.examples`: canonical examples and the cleaning every reader applies
- :mod:`~tasktransfer.data.package_corpora`: readers of the corpora inside package archives
- :mod:`~tasktransfer.data.nltk_readers`: readers of NLTK's data zips
- :mod:`~tasktransfer.data.folder_readers_a`: readers of brmson's STS data, BIG-Bench-Hard, CLINC150, SNIPS
- :mod:`~tasktransfer.data.folder_readers_b`: readers of claims, reviews, tweets, CoNLL NER, BLiMP
- :mod:`~tasktransfer.data.folder_readers_b_taskweb`: readers of TaskWeb's task files
- :mod:`~tasktransfer.data.prepare`: load, split, cap and write a task's examples (``results/data/{task}``)
- :mod:`~tasktransfer.data.tables`: local CSV/TSV/JSONL files and Hugging Face datasets
- :mod:`~tasktransfer.data.synthetic`: seeded synthetic tasks (tests, smoke runs)
"""

__all__ = [
    "availability",
    "examples",
    "folder_readers_a",
    "folder_readers_b",
    "folder_readers_b_taskweb",
    "nltk_readers",
    "package_corpora",
    "package_fetch",
    "prepare",
    "pins",
    "providers",
    "readers",
    "registry",
    "repo_fetch",
    "synthetic",
    "tables",
    "task_spec",
]
