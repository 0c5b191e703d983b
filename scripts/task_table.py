"""docs/tasks.md's table of every registry task, from the registry and the task surveys.

    .venv/bin/python scripts/task_table.py --surveys runs/task_survey_n128 runs/task_survey_n512 \
        --data-dir ../shared/data --write docs/tasks.md

For each task: type, format, metric, its providers (package, or repository at its commit and the
path), licence, size (examples after cleaning, over every split, counted by loading it where a
provider holds it here), and from each survey (`make task-survey N=...`, one target-role run on the
first N training examples): r1 and the trivial baseline (majority class, majority tag or chance)
at 128 examples, and the smallest surveyed size it learns at (margin >= the survey's
learnability.margin_points). The table goes between the markers of ``--write``'s file.
"""

from __future__ import annotations

import argparse
import csv
import re
from collections import Counter
from pathlib import Path

from tasktransfer.data.package_fetch import PACKAGES
from tasktransfer.data.prepare import load_raw, task_files
from tasktransfer.data.providers import data_dir
from tasktransfer.data.registry import TaskSpec, load_registry
from tasktransfer.errors import TaskTransferError

START, END = "<!-- task-table:start -->", "<!-- task-table:end -->"


def survey(path: Path) -> tuple[int, dict[str, dict[str, str]]]:
    """(N, task -> learnability row) of one survey run folder (runs/task_survey_nN)."""
    match = re.search(r"_n(\d+)$", path.name)
    if not match:
        raise SystemExit(f"{path}: a survey folder is named task_survey_nN")
    table = path / "results" / "eval" / "learnability.tsv"
    with open(table, newline="") as handle:
        return int(match.group(1)), {row["task"]: row for row in csv.DictReader(handle, delimiter="\t")}


def providers(spec: TaskSpec) -> str:
    out = []
    for pin in spec.files:
        if pin.package:
            out.append(f"pypi `{PACKAGES[pin.package].requirement}`")
        if pin.repo:
            out.append(f"`{pin.repo}`@{spec.repositories[pin.repo].commit[:7]}")
    return ", ".join(dict.fromkeys(out))


def size(spec: TaskSpec, resources: Path, folder: Path | None) -> str:
    try:
        raw = load_raw(spec, resources, task_files(spec, resources, folder))
    except TaskTransferError:
        return "-"
    if "all" in raw:
        return f"{len(raw['all']):,}"
    return f"{len(raw['train']):,} + {len(raw['dev']):,}"


def table(registry: dict[str, TaskSpec], surveys: dict[int, dict[str, dict[str, str]]], resources: Path, folder: Path | None) -> str:
    sizes = sorted(surveys)
    head = ["task", "type", "format (metric)", "providers", "licence", "examples", "r1 @128", "baseline @128", "learns at"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    learns_at: dict[str, int | None] = {}
    for name, spec in registry.items():
        at128 = surveys.get(128, {}).get(name)
        learned = [n for n in sizes if surveys[n].get(name, {}).get("learns", "").lower() == "true"]
        learns_at[name] = spec.target_train or (learned[0] if learned else None)
        if name in surveys.get(128, {}) or any(name in s for s in surveys.values()):
            where = str(learns_at[name]) if learns_at[name] else f"not at {', '.join(str(n) for n in sizes if name in surveys[n])}"
        else:
            where = "not surveyed"
        derived = " (derived)" if spec.description.startswith("Derived from") else ""
        derived += f" (counts with `{spec.counts_with}`)" if spec.counts_with else ""
        row = [
            f"`{name}`{derived}",
            spec.type,
            f"{spec.format} ({spec.metric})",
            providers(spec) or "the user's files",
            "; ".join(spec.licences) or "-",
            size(spec, resources, folder),
            f"{float(at128['r1']):.1f}" if at128 else "-",
            f"{float(at128['baseline']):.1f} ({at128['baseline_kind']})" if at128 else "-",
            where,
        ]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in row) + " |")
    surveyed = [n for n in registry if any(n in s for s in surveys.values())]
    # a task that counts with another (same corpus, same labels) is one task with it: a group learns
    # when one of its tasks does
    groups: dict[str, list[str]] = {}
    for n in surveyed:
        groups.setdefault(registry[n].counts_with or n, []).append(n)
    by_type = Counter(registry[g].type for g in groups)
    learn_type = Counter(registry[g].type for g, members in groups.items() if any(learns_at[m] for m in members))
    at_128 = sum(1 for members in groups.values() if any(surveys.get(128, {}).get(m, {}).get("learns", "").lower() == "true" for m in members))
    at_size = sum(1 for members in groups.values() if any(learns_at[m] for m in members))
    summary = [
        "",
        f"{len(surveyed)} tasks surveyed, {len(groups)} when the tasks that count with another count once; of "
        f"those, **{at_128} learn at 128 examples, {at_size} at their recorded size** (sizes surveyed: "
        f"{', '.join(map(str, sizes))}).",
        "",
        "| type | tasks | learn |",
        "|---|---|---|",
        *(f"| {t} | {by_type[t]} | {learn_type[t]} |" for t in sorted(by_type)),
    ]
    return "\n".join(lines + summary)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--registry", default="config/tasks.yaml")
    p.add_argument("--surveys", nargs="*", default=[], type=Path, help="runs/task_survey_nN folders")
    p.add_argument("--resources", default="resources", type=Path)
    p.add_argument("--data-dir", default="")
    p.add_argument("--write", type=Path, help=f"replace the text between {START} and {END} in this file")
    a = p.parse_args()
    surveys = dict(survey(path) for path in a.surveys)
    text = table(load_registry(a.registry), surveys, a.resources, data_dir(a.data_dir))
    if not a.write:
        print(text)
        return
    doc = a.write.read_text()
    if START not in doc or END not in doc:
        raise SystemExit(f"{a.write} has no {START} ... {END} markers")
    head, rest = doc.split(START, 1)
    a.write.write_text(f"{head}{START}\n{text}\n{END}{rest.split(END, 1)[1]}")


if __name__ == "__main__":
    main()
