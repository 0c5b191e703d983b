"""Which tasks learn at the target-role size: r1 against what a model that learned nothing scores.

A task *learns* when its no-transfer score r1 (one target-role run, on the first
`data.target_train` examples) beats its trivial baseline on the dev set by at least `margin`
points of its metric (x100):

- classification: the dev set's majority class, predicted for every example, under the task's
  metric (accuracy: the majority share; macro-F1 and MCC of that constant prediction);
- tagging: the dev set's most frequent tag, predicted for every word (token accuracy, or entity
  F1 of that constant tagging);
- multiple choice: chance, the mean over dev examples of 1 / number of choices;
- any other format (regression, extractive QA, MultiRC): 0 (a constant prediction has no
  correlation, no answer span matches).

A target that does not learn gives gains that measure nothing but noise around its floor, so the
workflow keeps it out of the scorer's training pairs (`pairs.learnable_only`) and the report lists
it with its margin. The table is plain TSV, one row per task: COLUMNS.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tasktransfer import metrics
from tasktransfer.affinity.design_job import read_learnable  # noqa: F401  (its one home; callers import it here too)
from tasktransfer.errors import ArtefactError

COLUMNS = ("task", "type", "format", "metric", "r1", "baseline", "baseline_kind", "margin", "learns")


def baseline_score(meta: Mapping[str, Any], dev: Sequence[Mapping[str, Any]]) -> tuple[float, str]:
    """(score x100, what it is) of the trivial predictor of a task, on its dev rows."""
    fmt, metric = str(meta["format"]), str(meta["metric"])
    if not dev:
        return 0.0, "none"
    if fmt == "classification":
        labels = [str(r["label"]) for r in dev]
        top = Counter(labels).most_common(1)[0][0]
        if metric == "mcc":
            return 0.0, "majority class"
        if metric == "f1_macro":
            names = sorted(set(labels) | {str(x) for x in meta.get("labels", [])})
            gold = [names.index(x) for x in labels]
            return 100 * metrics.f1_macro(gold, [names.index(top)] * len(gold)), "majority class"
        return 100 * labels.count(top) / len(labels), "majority class"
    if fmt == "tagging":
        gold = [[str(t) for t in r["tags"]] for r in dev]
        top = Counter(t for tags in gold for t in tags).most_common(1)[0][0]
        predicted = [[top] * len(tags) for tags in gold]
        if metric == "entity_f1":
            return 100 * metrics.entity_f1(gold, predicted), "majority tag"
        return 100 * metrics.token_accuracy(gold, predicted), "majority tag"
    if fmt == "multiple_choice":
        return 100 * sum(1 / max(1, len(r["choices"])) for r in dev) / len(dev), "chance"
    return 0.0, "zero"


def learnability_rows(
    runs: Iterable[Mapping[str, Any]],
    metas: Mapping[str, Mapping[str, Any]],
    devs: Mapping[str, Sequence[Mapping[str, Any]]],
    margin_points: float,
) -> list[dict[str, Any]]:
    """One row per run (a target-role metrics record: `task`, `score`), sorted by task."""
    rows = []
    for run in sorted(runs, key=lambda r: str(r["task"])):
        task = str(run["task"])
        if task not in metas:
            raise ArtefactError(f"learnability: no meta.json for task '{task}'")
        meta = metas[task]
        base, kind = baseline_score(meta, devs.get(task, []))
        r1 = float(run["score"])
        margin = r1 - base
        rows.append(
            {
                "task": task,
                "type": str(meta.get("type", "")),
                "format": str(meta["format"]),
                "metric": str(meta["metric"]),
                "r1": round(r1, 4),
                "baseline": round(base, 4),
                "baseline_kind": kind,
                "margin": round(margin, 4),
                "learns": margin >= margin_points,
            }
        )
    return rows


def read_run_files(metrics_files: Iterable[str | Path], data_dir: str | Path) -> tuple[list, dict, dict]:
    """(runs, metas, devs) from target-role metrics.json files and the prepared tasks' folders."""
    runs, metas, devs = [], {}, {}
    for path in metrics_files:
        try:
            run = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ArtefactError(f"learnability: cannot read {path} ({exc})") from exc
        if "task" not in run or "score" not in run:
            raise ArtefactError(f"learnability: {path} has no task or score; is it a target-role metrics.json?")
        runs.append(run)
        task = str(run["task"])
        folder = Path(data_dir) / task
        try:
            metas[task] = json.loads((folder / "meta.json").read_text())
            with (folder / "dev.jsonl").open() as handle:
                devs[task] = [json.loads(line) for line in handle if line.strip()]
        except (OSError, ValueError) as exc:
            raise ArtefactError(f"learnability: cannot read the prepared data of '{task}' in {folder} ({exc})") from exc
    return runs, metas, devs


def write_table(rows: Sequence[Mapping[str, Any]], path: str | Path) -> None:
    from tasktransfer.io import atomic_write_text

    lines = ["\t".join(COLUMNS)]
    for row in rows:
        lines.append("\t".join(str(row[c]).lower() if c == "learns" else str(row[c]) for c in COLUMNS))
    atomic_write_text(path, "\n".join(lines) + "\n")
