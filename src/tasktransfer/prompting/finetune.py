"""Full fine-tuning: every backbone weight and a task head learn (the paper's Table 3).

Intermediate-task fine-tuning after Phang et al. (2018): fine-tune the whole backbone on a source
task, then fine-tune that backbone (with a new head) on the target. The baseline fine-tunes the
target from the pretrained weights. The task's head, loss and score come from its format
(formats.py), as in prompt tuning; only the prompt is gone and the backbone trains.

Adam (AdamW with ``weight_decay``, 0 by default), linear warmup over ``warmup_ratio`` of the steps
then linear decay, dev evaluation after each of the last ``eval_last_epochs`` epochs (and at the
last step); the score is the best dev score, and the weights of that evaluation are the ones kept
(and saved, for a source). bf16 autocast where ``precision`` resolves to it
(:func:`tasktransfer.training.resolve_precision`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import torch
from torch import nn

from tasktransfer.data.prepare import TaskMeta
from tasktransfer.prompting.backbone import Backbone
from tasktransfer.prompting.formats import TaskFormat, get_format
from tasktransfer.prompting.training import (
    Progress,
    batches,
    evaluate,
    pick_device,
    resolve_precision,
    seed_everything,
    train_step,
)

Log = Callable[[str], None]


@dataclass(frozen=True)
class FinetuneSpec:
    """Everything that shapes one full fine-tuning run."""

    epochs: int = 3
    lr: float = 2e-5
    batch_size: int = 16
    max_length: int = 64
    warmup_ratio: float = 0.06
    weight_decay: float = 0.0
    pooling: str = "mean"  # mean of input token states, or cls
    eval_batch_size: int = 64
    eval_last_epochs: int = 0  # 0: evaluate after every epoch
    precision: str = "fp32"  # fp32, bf16 or auto

    @classmethod
    def from_dict(cls, d: dict) -> FinetuneSpec:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def to_dict(self) -> dict:
        return asdict(self)


class PlainEncoder(nn.Module):
    """The backbone alone, yielding token states and a pooled vector like PromptedEncoder."""

    def __init__(self, backbone: nn.Module, pooling: str = "mean"):
        super().__init__()
        if pooling not in ("mean", "cls"):
            raise ValueError(f"pooling '{pooling}' is unknown for full fine-tuning; use mean or cls")
        self.backbone, self.pooling = backbone, pooling

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **extra) -> tuple[torch.Tensor, torch.Tensor]:
        kwargs = {}
        if "token_type_ids" in extra and getattr(self.backbone.config, "type_vocab_size", 1) > 1:
            kwargs["token_type_ids"] = extra["token_type_ids"]
        tokens = self.backbone(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
        if self.pooling == "cls":
            return tokens, tokens[:, 0]
        m = attention_mask.unsqueeze(-1).to(tokens.dtype)
        return tokens, (tokens * m).sum(1) / m.sum(1).clamp(min=1.0)


@dataclass
class FinetuneResult:
    score: float
    backbone_state: dict[str, torch.Tensor]
    history: list[dict] = field(default_factory=list)
    train_seconds: float = 0.0
    examples_per_second: float = 0.0
    train_size: int = 0
    precision: str = "fp32"


def _encode(
    backbone: Backbone, fmt: TaskFormat, spec: FinetuneSpec, train_rows: list[dict], dev_rows: list[dict]
) -> tuple[list[dict], list[dict], int]:
    """The training and dev features (cut to the backbone's positions: no prompt here) and the pad id."""
    tokenizer = backbone.tokenizer
    max_length = min(spec.max_length, backbone.max_positions - 2)
    train_feats = fmt.encode(train_rows, tokenizer, max_length)
    dev_feats = fmt.encode(dev_rows, tokenizer, max_length)
    return train_feats, dev_feats, tokenizer.pad_token_id or 0


def _optimiser(
    model: nn.Module, head: nn.Module, spec: FinetuneSpec, total: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """AdamW over the backbone and the head, linear warmup then linear decay over ``total`` steps."""
    from transformers import get_linear_schedule_with_warmup

    params = list(model.parameters()) + list(head.parameters())
    optimizer = torch.optim.AdamW(params, lr=spec.lr, weight_decay=spec.weight_decay)
    return optimizer, get_linear_schedule_with_warmup(optimizer, int(spec.warmup_ratio * total), total)


def _best_result(
    model: nn.Module,
    best_score: float,
    best_state: dict[str, torch.Tensor] | None,
    history: list[dict],
    progress: Progress,
    train_size: int,
    precision: str,
) -> FinetuneResult:
    """The run's result; the model is put back to the weights of its best evaluation."""
    elapsed = progress.elapsed()
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    return FinetuneResult(
        score=best_score,
        backbone_state=best_state,
        history=history,
        train_seconds=elapsed,
        examples_per_second=progress.seen / elapsed if elapsed else 0.0,
        train_size=train_size,
        precision=precision,
    )


def finetune(
    backbone: Backbone,
    meta: TaskMeta,
    train_rows: list[dict],
    dev_rows: list[dict],
    spec: FinetuneSpec,
    seed: int,
    log: Log = print,
) -> FinetuneResult:
    """Fine-tune ``backbone.model`` (in place) and a new head; return the best dev score and the
    backbone weights of that evaluation (the model is left holding them)."""
    if not train_rows:
        raise ValueError(f"task {meta.name} has no training examples to fine-tune on")
    seed_everything(seed)  # first: the head's initial weights below come from this seed
    device = pick_device()
    spec = replace(spec, precision=resolve_precision(spec.precision, device))
    model = backbone.model.to(device)
    for p in model.parameters():
        p.requires_grad_(True)
    fmt = get_format(meta)
    train_feats, dev_feats, pad_id = _encode(backbone, fmt, spec, train_rows, dev_rows)
    encoder = PlainEncoder(model, spec.pooling).to(device)
    head = fmt.make_head(backbone.hidden_size).to(device)
    total = -(-len(train_feats) // spec.batch_size) * spec.epochs
    optimizer, scheduler = _optimiser(model, head, spec, total)
    first_eval_epoch = spec.epochs - spec.eval_last_epochs if spec.eval_last_epochs else 0
    rng = random.Random(seed)
    history: list[dict] = []
    best_score, best_state = -float("inf"), None
    progress = Progress(log, total)
    log(
        f"full fine-tuning of {meta.name}: {len(train_feats)} train / {len(dev_feats)} dev examples, "
        f"{total} steps at lr {spec.lr:g} on {device} ({spec.precision})"
    )
    for epoch in range(spec.epochs):
        for chunk in batches(train_feats, spec.batch_size, rng):
            encoder.train()
            head.train()
            loss = train_step(encoder, head, fmt, chunk, pad_id, device, spec.precision, optimizer, scheduler)
            progress.update(len(chunk), loss)
        if epoch >= first_eval_epoch or epoch == spec.epochs - 1:
            score, _ = evaluate(encoder, head, fmt, dev_feats, dev_rows, spec, pad_id, device)
            history.append({"epoch": epoch + 1, "step": progress.step, "dev_score": score, "loss": float(loss.item())})
            log(f"eval after epoch {epoch + 1}: dev {meta.metric} {score:.2f}")
            if score > best_score:
                best_score = score
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    return _best_result(model, best_score, best_state, history, progress, len(train_feats), spec.precision)


def checkpoint_metadata(backbone_name: str, task: str, seed: int, spec: FinetuneSpec, score: float) -> dict:
    """What a saved intermediate backbone records: its backbone (checked on load), task, seed, spec."""
    return {"backbone": backbone_name, "task": task, "seed": seed, "spec": spec.to_dict(), "score": score,
            "kind": "finetuned_backbone"}


def load_finetuned(backbone: Backbone, state: dict[str, torch.Tensor], metadata: dict, path: str) -> None:
    """Put a saved fine-tuned backbone's weights into ``backbone`` (same architecture and name only)."""
    from tasktransfer.errors import ArtefactError

    if metadata.get("kind") != "finetuned_backbone":
        raise ArtefactError(f"{path} is not a fine-tuned backbone (tasktransfer finetune --out-model); rerun that job")
    if metadata.get("backbone") != backbone.name:
        raise ArtefactError(
            f"{path} was fine-tuned from backbone {metadata.get('backbone')!r}, not {backbone.name!r}; "
            "fine-tune the source again from this backbone"
        )
    own = backbone.model.state_dict()
    if set(own) != set(state) or any(own[k].shape != state[k].shape for k in own):
        raise ArtefactError(f"{path} does not fit backbone {backbone.name} (other weights or shapes); rerun its job")
    backbone.model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
