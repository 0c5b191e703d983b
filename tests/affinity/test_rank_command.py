"""`tasktransfer rank` on a finished pool: a new task's prompt file ranked by the baselines and the
scorer; a pool of another backbone refused."""

from __future__ import annotations

import re

import pandas as pd
import torch

from tasktransfer import cli
from tasktransfer.io import save_tensors
from tasktransfer.prompting.prompt_files import save_prompt


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
