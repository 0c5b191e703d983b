"""scripts/task_table.py turns the registry and the task surveys into docs/tasks.md's table:
checked on a registry of synthetic tasks and hand-made survey tables."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO

REGISTRY = """
early:
  type: colour
  format: classification
  source: {kind: synthetic, generator: keyword_classification, family: colour, size: 60, seed: 1}
late:
  type: animal
  format: classification
  description: Derived from early, other labels
  source: {kind: synthetic, generator: keyword_classification, family: animal, size: 60, seed: 2}
never:
  type: animal
  format: classification
  source: {kind: synthetic, generator: keyword_classification, family: animal, size: 60, seed: 3}
copy:
  type: colour
  format: classification
  counts_with: early
  source: {kind: synthetic, generator: keyword_classification, family: colour, size: 60, seed: 4}
"""
HEADER = "task\ttype\tformat\tmetric\tr1\tbaseline\tbaseline_kind\tmargin\tlearns\n"


def _survey(root, n, rows):
    folder = root / f"task_survey_n{n}" / "results" / "eval"
    folder.mkdir(parents=True)
    lines = "".join(f"{t}\tx\tclassification\taccuracy\t{r1}\t50.0\tmajority class\t{r1 - 50}\t{r1 - 50 >= 5}\n" for t, r1 in rows)
    (folder / "learnability.tsv").write_text(HEADER + lines)
    return folder.parents[1]


def test_the_table_says_where_each_task_learns_and_replaces_only_its_markers(tmp_path):
    (tmp_path / "tasks.yaml").write_text(REGISTRY)
    n128 = _survey(tmp_path, 128, [("early", 71.0), ("late", 52.0), ("never", 49.0), ("copy", 70.0)])
    n512 = _survey(tmp_path, 512, [("late", 60.5), ("never", 51.0)])
    doc = tmp_path / "tasks.md"
    doc.write_text("# head\n<!-- task-table:start -->\nold\n<!-- task-table:end -->\ntail\n")
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "task_table.py"), "--registry", str(tmp_path / "tasks.yaml"),
         "--surveys", str(n128), str(n512), "--resources", str(tmp_path), "--write", str(doc)],
        check=True, cwd=tmp_path,
    )
    text = doc.read_text()
    assert text.startswith("# head\n<!-- task-table:start -->\n| task |") and text.endswith("<!-- task-table:end -->\ntail\n")
    assert "old" not in text
    rows = {line.split("`")[1]: line for line in text.splitlines() if line.startswith("| `")}
    assert rows["early"].endswith("| 71.0 | 50.0 (majority class) | 128 |")
    assert rows["late"].endswith("| 52.0 | 50.0 (majority class) | 512 |")
    assert "(derived)" in rows["late"] and rows["never"].endswith("| not at 128, 512 |")
    assert "| 60 |" in rows["early"]  # examples counted by loading the task
    assert "(counts with `early`)" in rows["copy"]
    assert "4 tasks surveyed, 3 when the tasks that count with another count once; of those, **1 learn at 128 " in text
    assert "examples, 2 at their recorded size**" in text
    assert "| animal | 2 | 1 |" in text and "| colour | 1 | 1 |" in text
