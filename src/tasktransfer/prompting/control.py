"""The control init: a prompt that is as "trained" as a real source but carries no task knowledge.

Transferring from it into a target measures the warm start that any trained prompt gives; a
source's gain over the control is the task-affinity part of its gain. Two kinds:
- ``mean``: the parameter-wise mean of the pool's prompt encoders (same seed);
- ``shuffled``: a prompt tuned on a pool task's data with its labels shuffled (seeded), so it
  learns the input distribution and the optimisation path, but no input-label relation.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch

from tasktransfer.errors import TaskError
from tasktransfer.names import CONTROL
from tasktransfer.prompting.prompt_files import load_prompt, mean_prompt_state

CONTROL_KINDS = ("mean", "shuffled")


def mean_control(prompt_paths: list[str | Path]) -> tuple[dict[str, torch.Tensor], torch.Tensor, dict]:
    """Average the prompt encoders; returns (prompt state, its task embedding, metadata)."""
    from tasktransfer.prompting.prompt_encoder import PromptEncoder

    artefacts = [load_prompt(p) for p in prompt_paths]
    first = artefacts[0].metadata
    for p, art in zip(prompt_paths, artefacts):
        for key in ("backbone", "length", "hidden_size", "mlp_hidden"):
            if art.metadata.get(key) != first.get(key):
                raise ValueError(f"{p} has {key}={art.metadata.get(key)!r}, the first prompt {first.get(key)!r}")
    state = mean_prompt_state([a.prompt_state for a in artefacts])
    encoder = PromptEncoder(first["length"], first["hidden_size"], first["mlp_hidden"])
    encoder.load_state_dict(state)
    with torch.no_grad():
        embedding = encoder().detach()
    meta = {k: first[k] for k in ("backbone", "length", "hidden_size", "mlp_hidden")}
    meta.update(task=CONTROL, control="mean", sources=[a.metadata.get("task") for a in artefacts])
    return state, embedding, meta


def shuffle_labels(rows: list[dict], task: str, seed: int) -> list[dict]:
    """The same inputs with their labels permuted among the examples (seeded)."""
    if rows and "label" not in rows[0]:
        raise TaskError(task, "control.task", "a shuffled-label control needs a task with a `label` field (not tagging or QA)")
    labels = [r["label"] for r in rows]
    random.Random(seed).shuffle(labels)
    return [{**r, "label": y} for r, y in zip(rows, labels)]
