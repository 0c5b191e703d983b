"""The budget's files and figure (analysis/budget_report.py), and `tasktransfer budget` on plain tables."""

import json

import matplotlib.image as mpimg
import pandas as pd

from test_budget import SOURCES, TARGETS, planted, seconds_of, some_rankings

from tasktransfer.analysis.budget_report import BudgetPaths, write_budget
from tasktransfer.cli.main import main


def test_write_budget_writes_the_tables_the_view_and_a_figure(tmp_path):
    gains = planted()
    paths = BudgetPaths.in_folder(tmp_path / "eval", tmp_path / "figures" / "budget.png")
    summary = write_budget(gains, some_rankings(gains), seconds_of(gains), paths, ks=[1, 3])
    table = pd.read_csv(paths.table, sep="\t")
    assert len(table) == len(TARGETS) * (2 * len(SOURCES) + len(SOURCES) + 1)  # 2 methods, random, brute force
    assert pd.read_csv(paths.summary, sep="\t").shape[0] == len(summary) == 2 * len(SOURCES) + len(SOURCES) + 1
    html = paths.html.read_text()
    assert "brute force (cross-fitted)" in html and "gain_share" in html
    assert mpimg.imread(paths.figure).shape[0] > 100


def test_one_seed_still_writes_every_file(tmp_path):
    gains = planted(seeds=(0,))
    paths = BudgetPaths.in_folder(tmp_path)
    summary = write_budget(gains, some_rankings(gains), None, paths, ks=[1, 3])
    assert summary.empty
    assert pd.read_csv(paths.table, sep="\t").empty and mpimg.imread(paths.figure).shape[0] > 100


def test_the_budget_command_on_plain_tables(tmp_path, capsys):
    gains = planted()
    gains.to_csv(tmp_path / "per_seed.tsv", sep="\t", index=False)
    some_rankings(gains).to_csv(tmp_path / "ranks.tsv", sep="\t", index=False)
    # job-seconds from the runs' records, listed in a file (@list) as the workflow passes them
    records = []
    for row in seconds_of(gains).itertuples():
        path = tmp_path / "runs" / f"{row.source}_{row.target}_{row.seed}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps({"source": row.source, "target": row.target, "seed": row.seed,
                                    "setup_seconds": 0.0, "train_seconds": row.seconds, "replicas": 1}))
        records.append(str(path))
    (tmp_path / "runs.txt").write_text("\n".join(records) + "\n")
    args = ["budget", "--per-seed", str(tmp_path / "per_seed.tsv"), "--rankings", str(tmp_path / "ranks.tsv"),
            "--transfer-metrics", f"@{tmp_path / 'runs.txt'}", "--targets", "t0,t1", "--out", str(tmp_path / "out")]
    assert main(args) == 0
    assert "brute force (cross-fitted)" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "out" / "budget.tsv", sep="\t")
    assert set(table.target) == {"t0", "t1"}
    by_name = table[(table.method == "by_name") & (table.k == 2) & (table.target == "t0")]
    assert by_name.seconds.item() == 62.0
    assert (tmp_path / "out" / "budget.png").is_file()
