"""``select --pool``: rank a pool for a new task, run the top K transfers, hand out the best prompt.

A pool of three tiny tasks (two seeds each) on the tiny random encoder; the new task is a registry
entry outside the pool. Where a test needs a known best source, a trainer wrapping the real one
plants each run's dev predictions (and so its score): the transfers train for real, only their
outcome is set.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import TINY_TASKS
from tasktransfer import cli
from tasktransfer.data.prepare import DataSpec, prepare_task, read_jsonl, read_meta
from tasktransfer.data.registry import get_task, load_registry
from tasktransfer.errors import TaskTransferError
from tasktransfer.pool.rank_new_task import RankRequest
from tasktransfer.pool.select_out import OUT_MARKER
from tasktransfer.pool.select_source import SelectRequest, select_source
from tasktransfer.prompting.prompt_files import load_prompt
from tasktransfer.prompting.tune_run import tune_runs

POOL_TASKS = ["animal_a", "colour_a", "weather_a"]
SPEC = {"length": 4, "epochs": 1, "lrs": [0.03], "batch_size": 16, "max_length": 24}
CAPS = {"max_train": 40, "max_dev": 20, "split_seed": 0}
NEW_TASK = "animal_b"


@pytest.fixture(scope="module")
def pool(tmp_path_factory, tiny_backbone) -> Path:
    """A shared pool without scorer: three tasks, seeds 0 and 1, exported with the package's command."""
    root = tmp_path_factory.mktemp("select_run")
    results = root / "results"
    registry = load_registry(TINY_TASKS)
    for task in POOL_TASKS:
        prepare_task(get_task(registry, task), DataSpec(**CAPS), root, results / "data" / task)
        for seed in (0, 1):
            out = results / "prompts" / task / f"seed{seed}"
            args = ["prompt-tune", "--data", str(results / "data" / task), "--backbone", str(tiny_backbone)]
            args += ["--spec", json.dumps(SPEC), "--seed", str(seed), "--threads", "1"]
            args += ["--out-prompt", str(out / "prompt.safetensors"), "--out-metrics", str(out / "metrics.json")]
            assert cli.main(args) == 0
    config = {"tasks_registry": str(TINY_TASKS), "backbone": str(tiny_backbone), "sources": POOL_TASKS,
              "targets": [], "data": CAPS, "prompt": SPEC}
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    out = root / "POOL"
    args = ["pool", "export", "--results", str(results), "--out", str(out), "--config", str(root / "config.yaml")]
    assert cli.main(args) == 0
    return out


def _request(pool: Path, tiny_backbone: Path, work: Path, **kw) -> SelectRequest:
    spec = get_task(load_registry(TINY_TASKS), NEW_TASK)
    rank = RankRequest(pool=pool, spec=spec, backbone=str(tiny_backbone), threads=1, work=work, quiet=True)
    return SelectRequest(rank=rank, **{"method": "cosine_mean", "n_boot": 200, **kw})


class Planted:
    """The real trainer, with each run's dev outcome planted: the task's own runs get half the dev
    labels right; a transfer from ``best`` gets them all right; any other transfer ``others`` of
    them. Counts the calls by kind; ``fail_at`` raises (an interrupt) at that transfer call."""

    def __init__(self, best: str | None, others: float = 0.5, fail_at: int = 0):
        self.best, self.others, self.fail_at = best, others, fail_at
        self.own_calls, self.transfer_calls = 0, 0

    def __call__(self, request):
        inits = [p for p in request.run_inits() if p]
        if inits:
            self.transfer_calls += 1
            if self.transfer_calls == self.fail_at:
                raise KeyboardInterrupt
        else:
            self.own_calls += 1
        runs = tune_runs(request, log=lambda _: None)
        labels = read_meta(Path(request.data)).labels
        gold = [labels.index(str(r["label"])) for r in read_jsonl(Path(request.data) / "dev.jsonl")]
        right = 1.0 if inits and self.best and f"/{self.best}/" in inits[0] else (self.others if inits else 0.5)
        n = round(right * len(gold))
        preds = gold[:n] + [(g + 1) % len(labels) for g in gold[n:]]
        for run in runs:
            run.result.dev_predictions = preds
            run.result.score = 100.0 * sum(p == g for p, g in zip(preds, gold)) / len(gold)
        return runs


def test_select_hands_out_the_planted_best_within_the_budget(pool, tiny_backbone, tmp_path):
    planted = Planted(best="colour_a")
    summary = select_source(_request(pool, tiny_backbone, tmp_path / "w", budget=3), train=planted)
    assert summary["chosen"] == "colour_a" and summary["gain"]["mean"] == pytest.approx(50.0)
    assert summary["gain"]["lo"] > 0  # all right against half right on every bootstrap draw
    assert sorted(summary["runners_up"]) == ["animal_a", "weather_a"]
    assert (planted.own_calls, planted.transfer_calls) == (1, 3)  # one loop for the own seeds, one per source
    out = tmp_path / "w" / "selected"
    assert sorted(p.name for p in out.iterdir()) == sorted(["prompt.json", "prompt.safetensors", "selection.tsv", OUT_MARKER])
    prompt = load_prompt(out / "prompt.safetensors")
    assert tuple(prompt.embedding.shape) == (SPEC["length"], 32) or prompt.embedding.shape[0] == SPEC["length"]
    record = json.loads((out / "prompt.json").read_text())
    assert record["source"] == "colour_a" and record["selection"]["chosen"] == "colour_a"
    table = pd.read_csv(out / "selection.tsv", sep="\t")
    assert table.chosen.sum() == 1 and set(table.source) == set(POOL_TASKS)
    ranking = pd.read_csv(tmp_path / "w" / "ranking.tsv", sep="\t")
    assert list(table.source) == list(ranking.sort_values("rank").source)  # the method's order


def test_a_budget_of_one_transfers_only_the_top_ranked(pool, tiny_backbone, tmp_path):
    planted = Planted(best=None, others=0.75)
    summary = select_source(_request(pool, tiny_backbone, tmp_path / "w", budget=1), train=planted)
    ranking = pd.read_csv(tmp_path / "w" / "ranking.tsv", sep="\t").sort_values("rank")
    assert planted.transfer_calls == 1 and summary["chosen"] == ranking.source.iloc[0]
    assert summary["gain"]["mean"] == pytest.approx(25.0)


def test_where_no_source_gains_the_own_prompt_is_handed_out(pool, tiny_backbone, tmp_path):
    summary = select_source(_request(pool, tiny_backbone, tmp_path / "w", budget=2), train=Planted(best=None))
    assert summary["chosen"] is None and "own prompt" in summary["verdict"]
    record = json.loads((tmp_path / "w" / "selected" / "prompt.json").read_text())
    assert "source" not in record and record["task"] == NEW_TASK  # the own run's record


def test_an_interrupted_select_resumes_without_rerunning_finished_runs(pool, tiny_backbone, tmp_path):
    work = tmp_path / "w"
    with pytest.raises(KeyboardInterrupt):
        select_source(_request(pool, tiny_backbone, work, budget=3), train=Planted(best="weather_a", fail_at=2))
    finished = [p.parent.parent.name for p in (work / "transfer").glob("*/seed1/metrics.json")]
    assert len(finished) == 1 and not (work / "selected").exists()  # nothing handed out half-done
    stamp = (work / "transfer" / finished[0] / "seed0" / "prompt.safetensors").stat().st_mtime_ns
    again = Planted(best="weather_a")
    summary = select_source(_request(pool, tiny_backbone, work, budget=3), train=again)
    assert (again.own_calls, again.transfer_calls) == (0, 2)  # the own prompts and the first transfer kept
    assert (work / "transfer" / finished[0] / "seed0" / "prompt.safetensors").stat().st_mtime_ns == stamp
    assert summary["chosen"] == "weather_a"
    # a larger budget later adds transfers only; another method is another request
    with pytest.raises(TaskTransferError, match="another request"):
        select_source(_request(pool, tiny_backbone, work, budget=3, method="euclidean_mean"), train=again)


def test_halving_drops_the_weaker_half_before_the_full_transfers(pool, tiny_backbone, tmp_path):
    planted = Planted(best="animal_a", others=0.5)
    summary = select_source(_request(pool, tiny_backbone, tmp_path / "w", budget=3, halving=True), train=planted)
    table = pd.read_csv(tmp_path / "w" / "selection.tsv", sep="\t")
    dropped = table[table.note.fillna("").str.startswith("dropped")]
    assert len(dropped) == 1 and summary["chosen"] == "animal_a"
    assert planted.transfer_calls == 3 + 2  # three short one-seed runs, then two full transfers


def test_bad_requests_are_refused_before_anything_is_trained(pool, tiny_backbone, tmp_path):
    planted = Planted(best=None)
    with pytest.raises(TaskTransferError, match="--budget 0"):
        select_source(_request(pool, tiny_backbone, tmp_path / "a", budget=0), train=planted)
    with pytest.raises(TaskTransferError, match="--seeds 1,1"):
        select_source(_request(pool, tiny_backbone, tmp_path / "b", seeds=(1, 1)), train=planted)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(TaskTransferError, match="did not write"):
        select_source(_request(pool, tiny_backbone, tmp_path / "c", out=foreign), train=planted)
    with pytest.raises(TaskTransferError, match="inside the pool"):
        select_source(_request(pool, tiny_backbone, tmp_path / "d", out=pool / "x"), train=planted)
    assert (foreign / "notes.txt").read_text() == "keep me"
    assert (planted.own_calls, planted.transfer_calls) == (0, 0)


def test_the_command_line_selects_and_cuts_a_ranking(pool, tiny_backbone, tmp_path, capsys):
    work = tmp_path / "w"
    args = ["select", "--pool", str(pool), "--task", NEW_TASK, "--registry", str(TINY_TASKS), "--budget", "2"]
    args += ["--backbone", str(tiny_backbone), "--method", "cosine_mean", "--work", str(work), "--threads", "1"]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "Top 2 of the pool for animal_b by cosine_mean" in printed and "prompt:" in printed
    summary = json.loads((work / "select.json").read_text())
    assert len(summary["runners_up"]) == (2 if summary["chosen"] is None else 1)
    assert (work / "selected" / "prompt.safetensors").is_file()
    # the ranking mode: a ranking's top k, no transfers
    assert cli.main(["select", "--ranking", str(work / "ranking.tsv"), "--budget", "2", "--out", str(tmp_path / "top.tsv")]) == 0
    assert len(pd.read_csv(tmp_path / "top.tsv", sep="\t")) == 2
