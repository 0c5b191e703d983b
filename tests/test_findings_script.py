"""scripts/findings.py turns a run's tables into the README's Markdown: checked on hand-made tables."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd

from conftest import REPO


def test_findings_prints_every_table_from_a_runs_files(tmp_path):
    ev = tmp_path / "results" / "eval"
    ev.mkdir(parents=True)
    pd.DataFrame({"factor": ["source", "target", "residual"], "share": [0.2, 0.5, 0.3], "share_null": [0.1, 0.05, None],
                  "share_adjusted": [0.11, 0.47, None], "p_value": [0.03, 0.001, None]}).to_csv(ev / "signal.tsv", sep="\t", index=False)
    rows = [("scorer", "spearman", 0.31, 0.05, 0.52, 10), ("scorer", "top1_gain", 1.5, -0.2, 3.1, 10),
            ("cosine_mean", "spearman", 0.1, -0.1, 0.3, 10), ("brute_force_xfit", "top1_gain", 2.0, 1.0, 3.0, 10)]
    pd.DataFrame(rows, columns=["method", "metric", "mean", "low", "high", "targets"]).to_csv(ev / "intervals.tsv", sep="\t", index=False)
    pd.DataFrame([("scorer", "spearman", 0.21, 0.02, 0.4, 10, True)],
                 columns=["method", "metric", "diff", "low", "high", "targets", "beats_baseline"]).to_csv(
        ev / "versus_cosine.tsv", sep="\t", index=False)
    (ev / "headline.txt").write_text("scorer beats cosine_mean.\n")
    pd.DataFrame({"component": ["source", "source x target", "seed"], "variance": [0.5, 1.25, 4.0],
                  "on_pair_mean": [0.5, 1.25, 2.0], "share": [0.13, 0.33, 0.53], "df": [9, 63, 72]}).to_csv(
        ev / "variance_components.tsv", sep="\t", index=False)
    # two targets and the table's own mean row, which findings must not count as a third target
    pd.DataFrame({"target": ["a", "b", "mean"], "sources": [4, 4, None], "seeds": [2, 2, None],
                  "split_half": [0.5, 0.7, 0.6], "reliability": [0.6, 0.8, 0.7], "ceiling": [0.8, 0.6, 0.7],
                  "scorer": [0.35, 0.35, 0.35], "cosine_mean": [0.1, -0.1, 0.0]}).to_csv(
        ev / "noise_ceiling.tsv", sep="\t", index=False)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "design_pairs.log").write_text("[x] solver status: Optimal (0.31 s)\n[x] other\n")
    bench = tmp_path / "benchmarks" / "transfer"
    bench.mkdir(parents=True)
    for name, s in (("a.tsv", 30.0), ("b.tsv", 12.5)):
        (bench / name).write_text(f"s\th:m:s\tmax_rss\tcpu_time\n{s}\t0:00:30\t100\t{s - 1}\n")
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "findings.py"), str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout
    assert "| scorer | +0.31 [+0.05, +0.52] | +1.50 [-0.20, +3.10] | 75 % |" in out  # 1.5 of the oracle's 2.0
    assert "| scorer | **+0.21 [+0.02, +0.40]** |" in out  # beats the baseline: bold
    assert "solver status: Optimal (0.31 s)" in out and "other" not in out.split("## Pair design")[1].split("##")[0]
    assert "total: 42 job-seconds wall, 40 CPU-seconds, 2 jobs" in out
    assert "scorer beats cosine_mean." in out
    assert "| source x target |      1.250 |          1.250 |   0.330 |   63 |" in out
    assert "over 2 targets" in out.split("## Noise ceiling")[1].splitlines()[0]
    assert "| scorer (Spearman) | +0.35 [+0.35, +0.35] | 50 % |" in out  # 0.35 of the mean ceiling 0.7
    assert "| ceiling | +0.70 [-0.57, +1.97] | |" in out  # mean 0.7, half width t(0.975, 1) * 0.1414 / sqrt(2) = 1.27
