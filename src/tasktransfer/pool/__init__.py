"""Shared prompt pools: a finished run's prompts and scorer as a folder other people can use.

- :mod:`~tasktransfer.pool.manifest`: the manifest, hashes, verification, compatibility checks
- :mod:`~tasktransfer.pool.manifest_checks`: a manifest checked before anything uses it (names, digests, bounds)
- :mod:`~tasktransfer.pool.pool_files`: a pool's files read safely: inside it, no symlink, size-capped, hashed as read
- :mod:`~tasktransfer.pool.export`: export a run's pool
- :mod:`~tasktransfer.pool.export_scorer`: the pool's scorer at export: the run's scorer made compact, its manifest entry
- :mod:`~tasktransfer.pool.export_folder`: write an exported pool's folder in a temp folder, renamed into place
- :mod:`~tasktransfer.pool.export_job`: the export command's defaults (the run's config and registry)
- :mod:`~tasktransfer.pool.rank_paths`: where ``rank --pool`` writes, checked before anything is read or tuned
- :mod:`~tasktransfer.pool.install`: read a pool's prompts and scorer, install them into a run
- :mod:`~tasktransfer.pool.import_plan`: plan a run that builds on a pool (config ``pool``)
- :mod:`~tasktransfer.pool.selection_models`: what a pool needs for the learned selection methods, used on a new task
- :mod:`~tasktransfer.pool.rank_new_task`: rank a pool's sources for a new task in one call
- :mod:`~tasktransfer.pool.select_source`: ``select --pool``: rank, run the top K transfers, hand out the best prompt
- :mod:`~tasktransfer.pool.select_summary`: each candidate's gain over no transfer with its interval, the choice
- :mod:`~tasktransfer.pool.select_out`: select's ``--out`` folder, checked first and written whole
"""

__all__ = ["export", "import_plan", "install", "manifest", "rank_new_task", "select_source"]
