"""The controls (issue: tell real transfer from noise and warm start): the mean of the pool's prompt
encoders as an init, and a task's labels shuffled with its inputs and label counts kept."""

import pytest
import torch

from tasktransfer.prompting.control import mean_control, shuffle_labels
from tasktransfer.errors import TaskError
from tasktransfer.prompting.prompt_encoder import PromptEncoder
from tasktransfer.prompting.prompt_files import save_prompt


def test_mean_control_averages_prompt_encoders(tmp_path):
    paths = []
    for i in range(2):
        torch.manual_seed(i)
        enc = PromptEncoder(3, 8, 5)
        meta = {"task": f"t{i}", "backbone": "b", "length": 3, "hidden_size": 8, "mlp_hidden": 5}
        paths.append(tmp_path / f"{i}.safetensors")
        save_prompt(paths[-1], enc.state_dict(), {}, enc().detach(), meta)
    state, embedding, meta = mean_control(paths)
    from tasktransfer.prompting.prompt_files import load_prompt

    a, b = (load_prompt(p).prompt_state for p in paths)
    assert torch.allclose(state["tokens"], (a["tokens"] + b["tokens"]) / 2)
    assert embedding.shape == (3, 8) and meta["sources"] == ["t0", "t1"] and meta["backbone"] == "b"


def test_shuffled_labels_keep_inputs_and_label_counts():
    rows = [{"text": f"x{i}", "label": "a" if i < 30 else "b"} for i in range(40)]
    shuffled = shuffle_labels(rows, "t", seed=0)
    assert [r["text"] for r in shuffled] == [r["text"] for r in rows]
    assert sorted(r["label"] for r in shuffled) == sorted(r["label"] for r in rows)
    assert [r["label"] for r in shuffled] != [r["label"] for r in rows]
    with pytest.raises(TaskError, match="control.task"):
        shuffle_labels([{"tokens": ["a"], "tags": ["O"]}], "t", 0)
