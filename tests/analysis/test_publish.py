"""Publishing a finished run's matrix (analysis/publish.py): the tables hold the run's own numbers,
`tasktransfer evaluate` on them gives the run's own Table 2, and what must be refused is."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tasktransfer.analysis.publish import MARKER, check_destination, pairs_table, publish_run, runs_table
from tasktransfer.analysis.publish_readme import budget_args, evaluate_args
from tasktransfer.cli.main import main
from tasktransfer.errors import TaskTransferError

FILES = {"README.md", "gains.tsv", "pairs.tsv", "design.tsv", "tasks.tsv", "transfer.tsv", "no_transfer.tsv",
         "per_seed.tsv", "rankings.tsv", "seconds.tsv", "config.json", "provenance.json"}


def _gains(rows):
    return pd.DataFrame(rows, columns=["source", "target", "seed", "metric", "r1", "r2", "gain", "role"])


def test_pairs_average_their_seeds_and_carry_features_and_scores():
    gains = _gains([
        ("a", "t", 0, "accuracy", 50.0, 52.123456, 2.123456, "held_out"),
        ("a", "t", 1, "accuracy", 40.0, 41.0, 1.0, "held_out"),
        ("b", "t", 0, "accuracy", 50.0, 49.0, -1.0, "held_out"),
        ("a", "u", 0, "accuracy", 60.0, 61.0, 1.0, "pool"),
    ])
    features = pd.DataFrame({"source": ["a", "b"], "target": ["t", "t"], "logme": [-0.3224161, -0.3224882]})
    rankings = pd.DataFrame({"method": ["m", "m"], "target": ["t", "t"], "source": ["a", "b"], "score": [0.5, 0.25]})
    pairs = pairs_table(gains, features, rankings).set_index(["source", "target"])
    assert pairs.loc[("a", "t"), "seeds"] == 2
    assert pairs.loc[("a", "t"), "gain"] == pytest.approx(1.5617, abs=1e-4)
    assert pairs.loc[("a", "t"), "logme"] == "-0.322416" and pairs.loc[("b", "t"), "logme"] == "-0.322488"
    assert pairs.loc[("a", "t"), "score_m"] == "0.5" and pairs.loc[("a", "u"), "score_m"] == ""
    assert pairs.loc[("a", "u"), "role"] == "pool"
    runs = runs_table(gains)
    assert len(runs) == 4 and runs.r2.iloc[0] == 52.1235


def test_a_destination_is_new_empty_or_ours(tmp_path):
    results = tmp_path / "run" / "results"
    results.mkdir(parents=True)
    check_destination(tmp_path / "new", results)
    (tmp_path / "empty").mkdir()
    check_destination(tmp_path / "empty", results)
    ours = tmp_path / "ours"
    ours.mkdir()
    (ours / "gains.tsv").write_text("x\n")
    (ours / MARKER).write_text("gains.tsv\n")
    check_destination(ours, results)
    (ours / "notes.txt").write_text("mine\n")
    with pytest.raises(TaskTransferError, match="not written by `tasktransfer publish` \\(notes.txt\\)"):
        check_destination(ours, results)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "data.csv").write_text("x\n")
    with pytest.raises(TaskTransferError, match=f"no {MARKER} marker"):
        check_destination(foreign, results)
    with pytest.raises(TaskTransferError, match="holds the results folder"):
        check_destination(tmp_path / "run", results)


# --------------------------------------------------------------------------- on the finished tiny run


@pytest.fixture(scope="module")
def published(tiny_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("published") / "matrix"
    publish_run(tiny_run.workdir / "results", out, config_file=tiny_run.workdir / "config.yaml", log=lambda m: None)
    return out


def _tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t")


@pytest.mark.slow
def test_the_folder_holds_the_runs_own_numbers(tiny_run, published):
    results = tiny_run.workdir / "results"
    assert {p.name for p in published.iterdir()} == FILES | {MARKER}
    gains = _tsv(published / "gains.tsv")
    assert (gains.r2 - gains.r1 - gains.gain).abs().max() < 2e-4  # each rounded to 4 decimals
    run = pd.concat([_tsv(p) for p in sorted((results / "gains").glob("*.tsv"))]).drop_duplicates(["source", "target", "seed"])
    merged = run.merge(gains, on=["source", "target", "seed"], suffixes=("", "_pub"), validate="one_to_one")
    assert len(merged) == len(run) == len(gains)
    assert (merged.gain - merged.gain_pub).abs().max() < 1e-4
    design = _tsv(published / "design.tsv")
    held = design[design.role == "held_out"]
    judged = _tsv(results / "eval" / "per_seed.tsv")
    assert set(zip(held.source, held.target)) == set(zip(judged.source, judged.target))
    assert set(design.role) == {"held_out", "pool", "control"}
    for name in ("transfer.tsv", "no_transfer.tsv", "per_seed.tsv"):  # the evaluate inputs: exact
        assert (published / name).read_text() == (results / "eval" / name).read_text()


@pytest.mark.slow
def test_every_method_and_task_is_there_with_its_provenance(tiny_run, published):
    results = tiny_run.workdir / "results"
    methods = {p.name for p in (results / "rankings").iterdir()}
    rankings = _tsv(published / "rankings.tsv")
    assert set(rankings.method) == methods
    pairs = _tsv(published / "pairs.tsv")
    assert {f"score_{m}" for m in methods} <= set(pairs.columns) and "cosine_mean" in pairs.columns
    config = tiny_run.config
    tasks = _tsv(published / "tasks.tsv")
    assert set(tasks.task) == set(config["sources"]) | set(config["targets"])
    assert set(tasks.set_index("task").loc[config["targets"], "role"]) == {"target"}
    record = json.loads((published / "provenance.json").read_text())
    assert record["kind"] == "tasktransfer-transfer-matrix" and len(record["config"]["sha256"]) == 64
    assert record["code_versions"]["evaluate"] and record["machine"]["transfer_records_read"] == len(_tsv(published / "gains.tsv"))
    assert record["counts"]["targets"] == len(config["targets"]) and record["evaluate"]["ks"] == config["selection"]["top_k"]
    readme = (published / "README.md").read_text()
    assert f"{len(config['sources'])} source tasks into {len(config['targets'])} held-out" in readme
    assert "tasktransfer evaluate --transfer" in readme and "method, target, source, score" in readme


@pytest.mark.slow
def test_evaluate_on_the_folder_gives_the_runs_own_table2(tiny_run, published, tmp_path, capsys):
    settings = json.loads((published / "provenance.json").read_text())["evaluate"]
    out = tmp_path / "eval"
    assert main(evaluate_args(str(published), settings, out=str(out))) == 0
    capsys.readouterr()
    ours = _tsv(out / "table2.tsv").set_index("method").sort_index()
    runs = _tsv(tiny_run.workdir / "results" / "eval" / "table2.tsv").set_index("method").sort_index()
    pd.testing.assert_frame_equal(ours, runs)
    assert (out / "ranking.tsv").read_text() == (tiny_run.workdir / "results" / "eval" / "ranking.tsv").read_text()


@pytest.mark.slow
def test_a_new_method_is_scored_beside_the_runs(published, tmp_path, capsys):
    rankings = _tsv(published / "rankings.tsv")
    mine = rankings[rankings.method == "cosine_mean"].assign(method="mine")
    mine.to_csv(tmp_path / "mine.tsv", sep="\t", index=False)
    settings = json.loads((published / "provenance.json").read_text())["evaluate"]
    args = evaluate_args(str(published), settings, out=str(tmp_path / "eval"),
                         rankings=[str(published / "rankings.tsv"), str(tmp_path / "mine.tsv")])
    assert main(args) == 0
    capsys.readouterr()
    table2 = _tsv(tmp_path / "eval" / "table2.tsv").set_index("method")
    assert table2.loc["mine"].equals(table2.loc["cosine_mean"])


@pytest.mark.slow
def test_the_size_bound_refuses_before_writing(tiny_run, tmp_path):
    out = tmp_path / "matrix"
    with pytest.raises(TaskTransferError, match="over its bound of 1,000 bytes.*nothing was written"):
        publish_run(tiny_run.workdir / "results", out, config_file=tiny_run.workdir / "config.yaml",
                    max_bytes=1000, log=lambda m: None)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_republish_replaces_its_own_folder_and_refuses_a_foreign_one(tiny_run, published, tmp_path):
    out = tmp_path / "matrix"
    shutil.copytree(published, out)
    (out / "gains.tsv").write_text("stale\n")
    publish_run(tiny_run.workdir / "results", out, config_file=tiny_run.workdir / "config.yaml", log=lambda m: None)
    assert (out / "gains.tsv").read_text() == (published / "gains.tsv").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["matrix"]  # no temporary folder left
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.md").write_text("mine\n")
    with pytest.raises(TaskTransferError, match="was not written by `tasktransfer publish`"):
        publish_run(tiny_run.workdir / "results", foreign, config_file=tiny_run.workdir / "config.yaml")
    assert (foreign / "notes.md").read_text() == "mine\n"


@pytest.mark.slow
def test_an_unfinished_or_stale_run_is_refused(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run.workdir / "results", run / "results")
    shutil.copy(tiny_run.workdir / "tasks.yaml", run / "tasks.yaml")
    config = tiny_run.workdir / "config.yaml"
    (run / "results" / "eval" / "budget_summary.tsv").unlink()
    with pytest.raises(TaskTransferError, match="is not a finished run: .*budget_summary.tsv missing"):
        publish_run(run / "results", tmp_path / "m1", config_file=config)
    shutil.copy(tiny_run.workdir / "results" / "eval" / "budget_summary.tsv", run / "results" / "eval")
    gains = _tsv(run / "results" / "gains" / "target_pairs.tsv")
    gains.loc[0, "gain"] += 1.0
    gains.to_csv(run / "results" / "gains" / "target_pairs.tsv", sep="\t", index=False)
    with pytest.raises(TaskTransferError, match="the evaluation is older than the gains"):
        publish_run(run / "results", tmp_path / "m2", config_file=config)
    with pytest.raises(TaskTransferError, match="its config names the targets"):
        publish_run(run / "results", tmp_path / "m3", config_json=json.dumps({**tiny_run.config, "targets": ["x"]}))
    assert not (tmp_path / "m1").exists() and not (tmp_path / "m2").exists() and not (tmp_path / "m3").exists()


@pytest.mark.slow
def test_budget_on_the_folder_gives_the_runs_own_budget(tiny_run, published, tmp_path, capsys):
    """seconds.tsv carries each run's job-seconds exactly: the folder alone re-prices the run's budget."""
    settings = json.loads((published / "provenance.json").read_text())["evaluate"]
    out = tmp_path / "budget"
    assert main(budget_args(str(published), settings, out=str(out))) == 0
    capsys.readouterr()
    assert "tasktransfer budget --per-seed" in (published / "README.md").read_text()
    seconds, gains = _tsv(published / "seconds.tsv"), _tsv(published / "gains.tsv")
    assert set(zip(seconds.source, seconds.target, seconds.seed)) == set(zip(gains.source, gains.target, gains.seed))
    assert len(seconds) == len(gains) and (seconds.seconds > 0).all()
    # the tiny run has one seed (nothing to cross-fit): equal, empty tables with their columns; the
    # committed matrix's two seeds re-price in full (test_publish_check.py)
    ours = _tsv(out / "budget_summary.tsv")
    runs = _tsv(tiny_run.workdir / "results" / "eval" / "budget_summary.tsv")
    pd.testing.assert_frame_equal(ours, runs)
