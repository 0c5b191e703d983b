"""The report's table of the run's tasks (``tasktransfer task-table``): role, type, format, metric,
sizes, the majority class, the pool prompt's score and the no-transfer score r1 with its spread."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from tasktransfer.analysis.gather import mean_no_transfer
from tasktransfer.analysis.report_tables import write_html
from tasktransfer.data.prepare import read_meta
from tasktransfer.io import atomic_write_text

NOTE = (
    "pool_score: the pool prompt's dev score on the whole training set (train). "
    "no_transfer: r1, the dev score of the task tuned as a target on its first target_train "
    "examples, mean (sd) over seeds; gains are measured against it. Metric x100."
)


def target_examples(n_train: int, cap: int) -> int:
    """The training examples a task has in the target role: the first ``cap`` (0: all)."""
    return min(n_train, cap) if cap else n_train


def task_rows(
    meta_paths: Sequence[str | Path],
    no_transfer: str | Path,
    pool_scores: str | Path | None,
    types: Mapping[str, str],
    target_train: int,
    targets: Sequence[str],
    novel: Sequence[str],
    target_sizes: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """One row per task, targets first; ``types``: the registry's labels (editing one reruns no job
    but this table); ``target_sizes``: the tasks tuned at a size of their own as targets
    (data.target_train_per_task), in place of ``target_train``."""
    target_sizes = target_sizes or {}
    base = mean_no_transfer(pd.read_csv(no_transfer, sep="\t")).set_index("task")
    pool = mean_no_transfer(pd.read_csv(pool_scores, sep="\t")).set_index("task") if pool_scores else None
    rows = []
    for path in meta_paths:
        meta = read_meta(Path(path).parent)
        role = "target" if meta.name in targets else "novel" if meta.name in novel else "source"
        target_role = meta.name in base.index
        rows.append(
            {
                "task": meta.name,
                "role": role,
                "type": types.get(meta.name, meta.type),
                "format": meta.format,
                "metric": meta.metric,
                "labels": len(meta.labels),
                "train": meta.n_train,
                "target_train": target_examples(meta.n_train, target_sizes.get(meta.name, target_train)) if target_role else None,
                "dev": meta.n_dev,
                "majority": None if meta.majority is None else round(100 * meta.majority, 2),
                "pool_score": round(float(pool.loc[meta.name, "score"]), 2) if pool is not None and meta.name in pool.index else None,
                "no_transfer": round(float(base.loc[meta.name, "score"]), 2) if target_role else None,
                "no_transfer_sd": round(float(base.loc[meta.name, "score_sd"]), 2) if target_role else None,
            }
        )
    table = pd.DataFrame(rows).sort_values(["role", "task"], ascending=[False, True])
    table["target_train"] = table["target_train"].astype("Int64")  # sources leave it empty: keep it a count, not 128.0
    return table


def write_task_table(table: pd.DataFrame, out: str | Path, out_html: str | Path | None = None) -> None:
    atomic_write_text(out, table.to_csv(sep="\t", index=False))
    if out_html:
        write_html(Path(out_html), table, "Tasks of this run", NOTE)
