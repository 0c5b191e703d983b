"""The prompt pool on disk: one safetensors file per (task, seed) with its JSON metadata.

A file holds the prompt encoder (``prompt.*``), the task head (``head.*``) and the task
embedding P (``embedding``). Metadata records the backbone, L, H and the task, so a prompt from
another backbone or size is refused instead of silently mixed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tasktransfer.errors import ArtefactError
from tasktransfer.io import load_tensors, save_tensors


@dataclass
class PromptArtefact:
    prompt_state: dict[str, torch.Tensor]
    head_state: dict[str, torch.Tensor]
    embedding: torch.Tensor
    metadata: dict[str, Any]


def save_prompt(path: str | Path, prompt_state, head_state, embedding: torch.Tensor, metadata: dict[str, Any]) -> None:
    tensors = {f"prompt.{k}": v for k, v in prompt_state.items()}
    tensors.update({f"head.{k}": v for k, v in head_state.items()})
    tensors["embedding"] = embedding
    save_tensors(path, tensors, metadata)


def load_prompt(path: str | Path) -> PromptArtefact:
    tensors, meta = load_tensors(path)
    if "embedding" not in tensors or not any(k.startswith("prompt.") for k in tensors):
        raise ArtefactError(f"{path} holds no prompt encoder; is it a prompt file? Rerun its prompt_tune job")
    return PromptArtefact(
        prompt_state={k[len("prompt.") :]: v for k, v in tensors.items() if k.startswith("prompt.")},
        head_state={k[len("head.") :]: v for k, v in tensors.items() if k.startswith("head.")},
        embedding=tensors["embedding"],
        metadata=meta,
    )


def check_compatible(artefact: PromptArtefact, path: str | Path, backbone: str, length: int, hidden: int, mlp_hidden: int) -> None:
    """Refuse a prompt made for another backbone or prompt size, naming both."""
    meta = artefact.metadata
    want = {"backbone": backbone, "length": length, "hidden_size": hidden, "mlp_hidden": mlp_hidden}
    for key, value in want.items():
        if meta.get(key) != value:
            raise ArtefactError(
                f"prompt {path} was made with {key}={meta.get(key)!r}, but this run uses {key}={value!r}; "
                "retune the source prompt with the current settings (delete it and rerun)"
            )


def load_embeddings(paths: dict[str, str | Path]) -> dict[str, torch.Tensor]:
    """Task embeddings P (L x H) by task name, checked to share one shape."""
    out = {name: load_prompt(p).embedding for name, p in paths.items()}
    shapes = {tuple(e.shape) for e in out.values()}
    if len(shapes) > 1:
        raise ArtefactError(f"task embeddings differ in shape {sorted(shapes)}; all prompts must share backbone and L")
    return out


def mean_prompt_state(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Parameter-wise mean of several prompt encoders (the control init)."""
    if not states:
        raise ValueError("no prompt encoders to average")
    return {k: torch.stack([s[k].float() for s in states]).mean(0) for k in states[0]}
