"""The run's task table: a target's training examples in the target role, its own size included."""

from __future__ import annotations

from tasktransfer.analysis.task_table import task_rows
from tasktransfer.data.prepare import TaskMeta


def write_meta(folder, name: str, n_train: int):
    (folder / name).mkdir()
    meta = TaskMeta(name=name, type="topic", format="classification", metric="accuracy", labels=["a", "b"],
                    n_train=n_train, n_dev=40, majority=0.5)
    (folder / name / "meta.json").write_text(meta.to_json())
    return folder / name / "meta.json"


def test_a_target_of_its_own_size_shows_that_size_and_the_others_the_runs_cap(tmp_path):
    metas = [write_meta(tmp_path, "small", 800), write_meta(tmp_path, "big", 800), write_meta(tmp_path, "src", 800)]
    no_transfer = tmp_path / "no_transfer.tsv"
    no_transfer.write_text("task\tseed\tmetric\tscore\nsmall\t0\taccuracy\t60\nbig\t0\taccuracy\t70\n")
    table = task_rows(metas, no_transfer, None, {}, 128, ["small", "big"], [], target_sizes={"big": 512})
    sizes = dict(zip(table.task, table.target_train))
    assert sizes["small"] == 128 and sizes["big"] == 512
    assert table.set_index("task").target_train.isna()["src"]  # a source has no target role
    # without the per-task sizes every target takes the run's cap
    plain = task_rows(metas, no_transfer, None, {}, 128, ["small", "big"], [])
    assert set(plain.target_train.dropna()) == {128}
