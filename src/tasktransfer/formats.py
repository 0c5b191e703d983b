"""Task formats: how examples become tensors, which head reads the encoder, the loss, the score.

Each format is a :class:`TaskFormat`; the training loop only talks to this interface, so a new
format slots in by adding a class to :data:`FORMATS`. Heads never transfer between tasks; only the
prompt encoder does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from . import metrics
from .data import TaskMeta
from .errors import TaskError

Batch = dict[str, torch.Tensor]


def pad_stack(seqs: list[list[int]], pad: int) -> torch.Tensor:
    width = max(len(s) for s in seqs)
    return torch.tensor([s + [pad] * (width - len(s)) for s in seqs], dtype=torch.long)


def collate_text(features: list[dict[str, Any]], pad_id: int) -> Batch:
    """Dynamic padding: each batch is as wide as its longest example."""
    batch = {
        "input_ids": pad_stack([f["input_ids"] for f in features], pad_id),
        "attention_mask": pad_stack([[1] * len(f["input_ids"]) for f in features], 0),
    }
    if "token_type_ids" in features[0]:
        batch["token_type_ids"] = pad_stack([f["token_type_ids"] for f in features], 0)
    return batch


@dataclass
class TaskFormat:
    """Base class; subclasses fill in the four hooks."""

    meta: TaskMeta

    def encode(self, rows: list[dict], tokenizer, max_length: int) -> list[dict[str, Any]]:
        raise NotImplementedError

    def collate(self, features: list[dict[str, Any]], pad_id: int) -> Batch:
        raise NotImplementedError

    def make_head(self, hidden_size: int) -> nn.Module:
        raise NotImplementedError

    def loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        raise NotImplementedError

    def predict(self, logits: torch.Tensor, batch: Batch) -> list[Any]:
        raise NotImplementedError

    def score(self, predictions: list[Any], rows: list[dict]) -> float:
        """The task's metric in percent (x100)."""
        raise NotImplementedError

    def forward_head(self, head: nn.Module, tokens: torch.Tensor, pooled: torch.Tensor, batch: Batch) -> torch.Tensor:
        return head(pooled)


def _encode_pairs(rows: list[dict], tokenizer, max_length: int) -> list[dict[str, Any]]:
    texts = [r["text"] for r in rows]
    pairs = [r.get("text_pair") for r in rows]
    if any(p is not None for p in pairs):
        enc = tokenizer(texts, [p or "" for p in pairs], truncation=True, max_length=max_length)
    else:
        enc = tokenizer(texts, truncation=True, max_length=max_length)
    keys = [k for k in ("input_ids", "token_type_ids") if k in enc]
    return [{k: enc[k][i] for k in keys} for i in range(len(rows))]


class Classification(TaskFormat):
    def encode(self, rows, tokenizer, max_length):
        index = {label: i for i, label in enumerate(self.meta.labels)}
        feats = _encode_pairs(rows, tokenizer, max_length)
        for f, r in zip(feats, rows):
            label = str(r["label"])
            if label not in index:
                raise TaskError(self.meta.name, "label", f"'{label}' is not among the train labels {self.meta.labels}")
            f["label"] = index[label]
        return feats

    def collate(self, features, pad_id):
        batch = collate_text(features, pad_id)
        batch["labels"] = torch.tensor([f["label"] for f in features], dtype=torch.long)
        return batch

    def make_head(self, hidden_size):
        return nn.Linear(hidden_size, len(self.meta.labels))

    def loss(self, logits, batch):
        return nn.functional.cross_entropy(logits.float(), batch["labels"])

    def predict(self, logits, batch):
        return logits.argmax(-1).tolist()

    def score(self, predictions, rows):
        gold = [self.meta.labels.index(str(r["label"])) for r in rows]
        if self.meta.metric == "mcc":
            return 100 * metrics.matthews(gold, predictions)
        if self.meta.metric == "f1_macro":
            return 100 * metrics.f1_macro(gold, predictions)
        return 100 * metrics.accuracy(gold, predictions)


class Regression(TaskFormat):
    def encode(self, rows, tokenizer, max_length):
        feats = _encode_pairs(rows, tokenizer, max_length)
        for f, r in zip(feats, rows):
            f["label"] = float(r["label"])
        return feats

    def collate(self, features, pad_id):
        batch = collate_text(features, pad_id)
        batch["labels"] = torch.tensor([f["label"] for f in features], dtype=torch.float)
        return batch

    def make_head(self, hidden_size):
        return nn.Linear(hidden_size, 1)

    def loss(self, logits, batch):
        return nn.functional.mse_loss(logits.float().squeeze(-1), batch["labels"])

    def predict(self, logits, batch):
        return logits.float().squeeze(-1).tolist()

    def score(self, predictions, rows):
        gold = [float(r["label"]) for r in rows]
        if self.meta.metric == "spearman":
            return 100 * metrics.spearman(gold, predictions)
        return 100 * metrics.pearson(gold, predictions)


FORMATS: dict[str, type[TaskFormat]] = {"classification": Classification, "regression": Regression}


def get_format(meta: TaskMeta) -> TaskFormat:
    if meta.format not in FORMATS:
        raise TaskError(meta.name, "format", f"'{meta.format}' has no trainer yet; supported: {sorted(FORMATS)}")
    return FORMATS[meta.format](meta)
