"""A novel target: ranked by the scorer, transferred only from its top-k; and `tasktransfer rank`."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import torch

from conftest import run_snakemake
from novel_run import NOVEL, SOURCES, TARGET, TOP_K, finished_novel_run, novel_workdir
from tasktransfer import cli
from tasktransfer.io import save_tensors
from tasktransfer.prompting.prompt_files import save_prompt
from tasktransfer.analysis.report_tables import novel_table


def _fake_pool(root, backbone: str, tasks: dict[str, torch.Tensor]) -> None:
    for task, emb in tasks.items():
        save_prompt(root / task / "seed0" / "prompt.safetensors", {"tokens": torch.zeros(2, 2)}, {}, emb,
                    {"task": task, "seed": 0, "backbone": backbone, "length": emb.shape[0], "hidden_size": emb.shape[1]})


def test_rank_command_prints_a_new_task_ranking(tmp_path, capsys, tiny_backbone):
    """`tasktransfer rank` on a finished pool: a new task's prompt file, baselines and the scorer."""
    from tasktransfer.affinity.scorer import build_scorer

    torch.manual_seed(0)
    hidden = build_scorer(str(tiny_backbone)).encoder.config.hidden_size
    pool = tmp_path / "prompts"
    base = torch.randn(4, hidden)
    _fake_pool(pool, str(tiny_backbone), {"near": base + 0.01, "far": -base, "mid": torch.randn(4, hidden)})
    (pool / "_control" / "seed0").mkdir(parents=True)  # not a task: skipped
    _fake_pool(tmp_path / "new", str(tiny_backbone), {"mine": base})
    model = build_scorer(str(tiny_backbone))
    save_tensors(tmp_path / "scorer.safetensors", model.state_dict(), {"backbone": str(tiny_backbone)})

    out = tmp_path / "ranking.tsv"
    rc = cli.main(["rank", "--prompts", str(pool), "--target-prompt", str(tmp_path / "new" / "mine" / "seed0" / "prompt.safetensors"),
                   "--method", "cosine_mean,scorer,random", "--scorer", str(tmp_path / "scorer.safetensors"), "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "Sources for mine" in printed
    first_row = [line for line in printed.splitlines() if re.match(r"\s*1\s", line)][0]
    assert "near" in first_row  # cosine_mean orders the table: the nearly identical prompt first
    table = pd.read_csv(out, sep="\t")
    assert set(table.method) == {"cosine_mean", "scorer", "random"}
    assert set(table.source) == {"near", "far", "mid"} and set(table.target) == {"mine"}

    # a pool of another backbone is refused with a message naming both
    _fake_pool(pool, "other-backbone", {"alien": torch.randn(4, hidden)})
    assert cli.main(["rank", "--prompts", str(pool), "--target", "near", "--method", "scorer",
                     "--scorer", str(tmp_path / "scorer.safetensors")]) == 2
    assert "backbone" in capsys.readouterr().err


def test_novel_table_by_hand():
    rankings = pd.DataFrame({"method": ["scorer"] * 3 + ["cosine_mean"] * 3, "target": "n",
                             "source": ["a", "b", "c"] * 2, "score": [1.0, 3.0, 2.0, 0.9, 0.1, 0.5]})
    selected = pd.DataFrame({"target": ["n", "n"], "source": ["b", "c"]})
    gains = pd.DataFrame({"source": ["b", "c"], "target": "n", "seed": 0, "metric": "accuracy",
                          "r1": 50.0, "r2": [55.0, 58.0], "gain": [5.0, 8.0]})
    table = novel_table(rankings, selected, gains)
    assert list(table.source) == ["b", "c", "a"]  # by predicted gain
    assert list(table.transferred) == [True, True, False]
    assert list(table.best_of_top_k[:2]) == [5.0, 8.0]  # top-1: +5; top-2: max(5, 8)
    assert pd.isna(table.score[2])  # a was not transferred
    assert list(table.cosine_mean_rank) == [3, 2, 1]


@pytest.mark.slow
def test_novel_target_triggers_only_its_top_k_transfers(tmp_path_factory, tiny_backbone):
    # before the run: the checkpoint is planned and no transfer into the novel target yet
    plan_dir = novel_workdir(tmp_path_factory.mktemp("plan"), tiny_backbone)
    plan = run_snakemake(plan_dir, "--configfile", str(plan_dir / "config.yaml"), "-n").stdout
    assert re.search(r"select_novel\s+1\b", plan)
    assert re.findall(rf"results/transfer/\S+/{NOVEL}/", plan) == []

    workdir = finished_novel_run(tmp_path_factory, tiny_backbone)
    transferred = sorted(p.parent.name for p in (workdir / "results" / "transfer").glob(f"n*/*/{NOVEL}"))
    assert len(transferred) == TOP_K  # only its top-k, not all three pool sources
    ranking = pd.read_csv(workdir / "results" / "rankings" / "scorer" / f"{NOVEL}.tsv", sep="\t")
    assert sorted(ranking.sort_values("rank").source.head(TOP_K)) == transferred
    assert set(ranking.source) == set(SOURCES)
    # brute force for the held-out target: every source
    assert sorted(p.parent.name for p in (workdir / "results" / "transfer").glob(f"n*/*/{TARGET}") if not p.parent.name.startswith("_")) == SOURCES
    table = pd.read_csv(workdir / "results" / "eval" / "novel.tsv", sep="\t")
    assert len(table) == len(SOURCES) and table.transferred.sum() == TOP_K
    assert table[table.transferred].gain.notna().all() and table[~table.transferred].gain.isna().all()
    # nothing is left to do afterwards: the checkpoint's choice is stable
    again = run_snakemake(workdir, "--configfile", str(workdir / "config.yaml"), "-n").stdout
    assert "Nothing to be done" in again
