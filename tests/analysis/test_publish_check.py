"""Checking a published matrix (analysis/publish_check.py): a folder as published passes, and each way
a copy can go wrong (a changed byte, an added or missing file, a partial row, a gain that is not
r2 - r1) is named; the matrix committed with the project (matrix/) passes, has issue 29's design,
and re-scored from its own files gives the figures the README's findings quote."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from tasktransfer.analysis.publish import FORMAT_VERSION, KIND, MARKER
from tasktransfer.analysis.publish_check import check_matrix
from tasktransfer.analysis.publish_readme import budget_args, evaluate_args
from tasktransfer.cli.main import main
from tasktransfer.errors import TaskTransferError

ROOT = Path(__file__).resolve().parents[2]
#: the project's published matrix (issue 29)
COMMITTED = ROOT / "matrix"


def _plant(folder: Path, runs: list[tuple], design: list[tuple], counts: dict | None = None) -> Path:
    """A published folder written the way publish writes one: tables, config, provenance, README, marker."""
    folder.mkdir()
    gains = pd.DataFrame(runs, columns=["source", "target", "seed", "metric", "r1", "r2", "gain"])
    files = {
        "gains.tsv": gains.to_csv(sep="\t", index=False).encode(),
        "design.tsv": pd.DataFrame(design, columns=["source", "target", "role", "seeds"])
        .to_csv(sep="\t", index=False).encode(),
        "config.json": b"{}\n",
    }
    held = {t for _, t, role, _ in design if role == "held_out"}
    counts = counts or {"targets": len(held), "transfer_runs": len(runs),
                        "seeds": sorted({r[2] for r in runs}), "methods": ["cosine_mean", "logme"]}
    record = {"kind": KIND, "format_version": FORMAT_VERSION, "counts": counts,
              "files": {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}}
    files["provenance.json"] = json.dumps(record).encode()
    files["README.md"] = b"# a matrix\n"
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / MARKER).write_text("".join(f"{n}\n" for n in files))
    return folder


RUNS = [
    ("a", "t", 0, "accuracy", 50.0, 52.5, 2.5), ("a", "t", 1, "accuracy", 48.0, 47.0, -1.0),
    ("b", "t", 0, "accuracy", 50.0, 50.0, 0.0), ("b", "t", 1, "accuracy", 48.0, 49.25, 1.25),
    ("a", "u", 0, "f1", 60.0, 61.0, 1.0),
]
DESIGN = [("a", "t", "held_out", "0,1"), ("b", "t", "held_out", "0,1"), ("a", "u", "pool", "0")]


def test_a_folder_as_published_passes_and_says_what_it_holds(tmp_path, capsys):
    folder = _plant(tmp_path / "m", RUNS, DESIGN)
    summary = check_matrix(folder)
    assert summary.targets == 1 and summary.sources_per_target == (2, 2)
    assert summary.seeds == (0, 1) and summary.transfer_runs == 5
    main(["check-matrix", str(folder)])
    assert "intact" in capsys.readouterr().out


def test_a_changed_byte_is_named(tmp_path):
    folder = _plant(tmp_path / "m", RUNS, DESIGN)
    text = (folder / "gains.tsv").read_text()
    (folder / "gains.tsv").write_text(text.replace("52.5", "53.5"))
    with pytest.raises(TaskTransferError, match="gains.tsv has sha256 .* changed after publishing"):
        check_matrix(folder)


def test_added_and_missing_files_are_named(tmp_path):
    folder = _plant(tmp_path / "m", RUNS, DESIGN)
    (folder / "notes.txt").write_text("mine\n")
    with pytest.raises(TaskTransferError, match="not published notes.txt"):
        check_matrix(folder)
    (folder / "notes.txt").unlink()
    (folder / "config.json").unlink()
    with pytest.raises(TaskTransferError, match="missing config.json"):
        check_matrix(folder)


def test_a_folder_publish_did_not_write_is_refused(tmp_path):
    (tmp_path / "m").mkdir()
    with pytest.raises(TaskTransferError, match=f"no {MARKER} marker"):
        check_matrix(tmp_path / "m")
    with pytest.raises(TaskTransferError, match="no such folder"):
        check_matrix(tmp_path / "absent")


def test_a_held_out_pair_short_of_a_seed_is_named(tmp_path):
    runs = [r for r in RUNS if (r[0], r[2]) != ("b", 1)]
    design = [("a", "t", "held_out", "0,1"), ("b", "t", "held_out", "0"), ("a", "u", "pool", "0")]
    with pytest.raises(TaskTransferError, match="1 held-out pair\\(s\\) not on every seed .*b -> t, seeds 0"):
        check_matrix(_plant(tmp_path / "m", runs, design))


def test_a_gain_that_is_not_r2_minus_r1_is_named(tmp_path):
    runs = [*RUNS[:-1], ("a", "u", 0, "f1", 60.0, 61.0, 1.5)]
    with pytest.raises(TaskTransferError, match="gain is not r2 - r1 \\(first: a -> u, seed 0\\)"):
        check_matrix(_plant(tmp_path / "m", runs, DESIGN))


def test_counts_that_disagree_with_the_tables_are_named(tmp_path):
    counts = {"targets": 2, "transfer_runs": 5, "seeds": [0, 1]}
    with pytest.raises(TaskTransferError, match="provenance.json counts"):
        check_matrix(_plant(tmp_path / "m", RUNS, DESIGN, counts=counts))


def test_the_committed_matrix_is_intact_and_has_the_issues_design():
    """Issue 29: at least 40 held-out targets, at least 8 sources each (complete rows), 2 seeds,
    every method; the folder within its 20 MB."""
    summary = check_matrix(COMMITTED)
    assert summary.targets >= 40
    assert summary.sources_per_target[0] >= 8
    assert summary.seeds == (0, 1)
    assert {"cosine_mean", "logme", "hscore", "knn", "scorer", "random"} <= set(summary.methods)
    assert sum(p.stat().st_size for p in COMMITTED.iterdir()) <= 20 * 10**6


@pytest.fixture(scope="module")
def rescored(tmp_path_factory) -> dict[str, pd.DataFrame]:
    """The committed matrix re-scored from its own files by the commands its README gives."""
    settings = json.loads((COMMITTED / "provenance.json").read_text())["evaluate"]
    out = tmp_path_factory.mktemp("rescored")
    assert main(evaluate_args(str(COMMITTED), settings, out=str(out / "eval"))) == 0
    assert main(budget_args(str(COMMITTED), settings, out=str(out / "budget"))) == 0
    return {name: pd.read_csv(out / name, sep="\t") for name in
            ("eval/versus_cosine.tsv", "eval/intervals.tsv", "budget/budget_summary.tsv")}


def _quoted(mean: float, low: float, high: float) -> str:
    """A figure as the README writes it: two decimals, signed, Unicode minus."""
    return " ".join([f"{mean:+.2f}", f"[{low:+.2f},", f"{high:+.2f}]"]).replace("-", "\u2212")


def test_the_readmes_findings_are_the_committed_matrixs(rescored, capsys):
    capsys.readouterr()
    findings = (ROOT / "README.md").read_text().split("## What the studies found")[1].split("\n## ")[0]
    findings = " ".join(findings.split())  # the README wraps lines
    versus = rescored["eval/versus_cosine.tsv"].set_index(["method", "metric"])
    for method, metric in [("logme", "spearman"), ("scorer", "spearman"), ("hscore", "top1_gain")]:
        row = versus.loc[(method, metric)]
        assert _quoted(row["diff"], row["low"], row["high"]) in findings, (method, metric)
    intervals = rescored["eval/intervals.tsv"]
    logme = intervals[(intervals.method == "logme") & (intervals.metric == "spearman")].iloc[0]
    assert _quoted(logme["mean"], logme["low"], logme["high"]) in findings
    budget = rescored["budget/budget_summary.tsv"].set_index(["method", "k"])
    top3 = budget.loc[("logme", 3)]
    assert _quoted(top3.gain, top3.gain_lo, top3.gain_hi) in findings
    assert _quoted(top3.minus_brute_force, top3.minus_brute_force_lo, top3.minus_brute_force_hi) in findings
    assert f"at {100 * top3.seconds_share:.0f} % of its job-seconds" in findings
    oracle = budget.loc[("brute_force_xfit", 10)]
    assert _quoted(oracle.gain, oracle.gain_lo, oracle.gain_hi) in findings
