"""The parts of a training loop that prompt tuning (training.py) and full fine-tuning
(finetune.py) share: autocast, one optimisation step, the progress line, length-grouped batches
and the batched dev evaluation."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from tasktransfer.prompting.formats import TaskFormat
from tasktransfer.prompting.prompt_encoder import PromptedEncoder

Log = Callable[[str], None]


def autocast_for(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return torch.autocast(device_type=device.type, enabled=False)


def train_step(
    encoder: nn.Module, head: nn.Module, fmt: TaskFormat, chunk: list, pad_id: int, device: torch.device,
    precision: str, optimizer: torch.optim.Optimizer, scheduler,
) -> torch.Tensor:
    """One optimisation step on a batch (forward under autocast, loss, backward, optimiser and
    schedule step); the caller sets train/eval modes. Returns the batch's loss."""
    batch = to_device(fmt.collate(chunk, pad_id), device)
    with autocast_for(device, precision):
        tokens, pooled = encoder(**batch)
        logits = fmt.forward_head(head, tokens, pooled, batch)
    loss = fmt.loss(logits, batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    return loss


class Progress:
    """Counts steps and examples of a training loop and writes the job log's progress line every
    `every_seconds` and at the last step, so a long job shows its rate and the time left."""

    def __init__(self, log: Log, total: int, every_seconds: float = 10.0):
        self.log, self.total, self.every_seconds = log, total, every_seconds
        self.step, self.seen, self.start, self.last_log = 0, 0, time.perf_counter(), 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def update(self, examples: int, loss: torch.Tensor) -> int:
        """Count one step of `examples`; returns the step number."""
        self.step += 1
        self.seen += examples
        elapsed = self.elapsed()
        if elapsed - self.last_log >= self.every_seconds or self.step == self.total:
            self.last_log = elapsed
            left = (self.total - self.step) * elapsed / self.step
            self.log(
                f"step {self.step}/{self.total} | loss {loss.item():.4f} | {self.seen / elapsed:.1f} ex/s "
                f"| elapsed {elapsed:.0f}s | left ~{left:.0f}s"
            )
        return self.step


def feature_length(feature: dict) -> int:
    """Tokens the encoder reads for one example (all its choices or options together)."""
    if "input_ids" in feature:
        return len(feature["input_ids"])
    parts = feature.get("choices") or feature.get("options") or []
    return sum(len(p.get("input_ids", ())) for p in parts)


def batches(
    features: list[dict], batch_size: int, rng: random.Random | None, group_by_length: bool = False
) -> list[list[dict]]:
    order = list(range(len(features)))
    if rng is not None:
        rng.shuffle(order)
    if group_by_length:
        window = 8 * batch_size
        order = [i for w in range(0, len(order), window) for i in sorted(order[w : w + window], key=lambda i: feature_length(features[i]))]
    batches = [[features[i] for i in order[j : j + batch_size]] for j in range(0, len(order), batch_size)]
    if group_by_length and rng is not None:
        rng.shuffle(batches)
    return batches


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in batch.items()}


@torch.no_grad()
def evaluate(
    encoder: PromptedEncoder,
    head: nn.Module,
    fmt: TaskFormat,
    features: list[dict],
    rows: list[dict],
    spec: Any,  # a training.PromptSpec (eval_batch_size, precision)
    pad_id: int,
    device: torch.device,
) -> tuple[float, list]:
    """Dev score (metric x100) and the per-example predictions behind it (for bootstraps).

    Examples are batched shortest first, so a batch pads to about its own length rather than to
    the longest dev example; predictions come back in the dev set's order.
    """
    encoder.eval()
    head.eval()
    order = sorted(range(len(features)), key=lambda i: feature_length(features[i]))
    predictions: list = [None] * len(features)
    for at in range(0, len(order), spec.eval_batch_size):
        ids = order[at : at + spec.eval_batch_size]
        batch = to_device(fmt.collate([features[i] for i in ids], pad_id), device)
        with autocast_for(device, spec.precision):
            tokens, pooled = encoder(**batch)
            logits = fmt.forward_head(head, tokens, pooled, batch)
        for i, prediction in zip(ids, fmt.predict(logits, batch)):
            predictions[i] = prediction
    return fmt.score(predictions, rows), predictions
