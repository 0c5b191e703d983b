"""Prompt tuning: train a prompt encoder (and a head) on one task with the backbone frozen.

One run per learning rate in the grid; the best dev score over the grid and over evaluation
points is the task's score (r1 for a task tuned from scratch, r2 when the prompt encoder starts
from a source task's).
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
from torch import nn

from tasktransfer.data.prepare import TaskMeta
from tasktransfer.prompting.backbone import Backbone
from tasktransfer.prompting.formats import TaskFormat, get_format
from tasktransfer.prompting.prompt_encoder import PromptedEncoder, PromptEncoder

Log = Callable[[str], None]


@dataclass(frozen=True)
class PromptSpec:
    """Everything that shapes one prompt-tuning run (and so its result)."""

    length: int = 20
    mlp_hidden: int = 200
    batch_size: int = 16
    epochs: int = 5
    max_steps: int = 0  # 0: no cap beyond the epochs
    lrs: tuple[float, ...] = (1e-2,)
    warmup_ratio: float = 0.06
    pooling: str = "mean"
    max_length: int = 64
    eval_batch_size: int = 64
    evals_per_epoch: int = 1
    # dev evaluations only in the last N epochs (0: in every epoch); early ones rarely hold the
    # best score, and on a small target they cost more than the training itself
    eval_last_epochs: int = 0
    # training batches of similar length (within shuffled windows of 8 batches), so a batch pads
    # to about its own length: ~1.4x faster on sentence tasks, the batches still random
    group_by_length: bool = True
    precision: str = "fp32"  # or bf16: autocast on CUDA, and on CPUs with AVX512-BF16 or AMX

    @classmethod
    def from_dict(cls, d: dict) -> PromptSpec:
        d = dict(d)
        if "lrs" in d:
            d["lrs"] = tuple(float(x) for x in d["lrs"])
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass
class TuneResult:
    score: float
    lr: float
    prompt_state: dict[str, torch.Tensor]
    head_state: dict[str, torch.Tensor]
    embedding: torch.Tensor
    dev_predictions: list = field(default_factory=list)
    history: list[dict] = field(default_factory=list)
    train_seconds: float = 0.0  # the whole loop, evaluations included
    eval_seconds: float = 0.0  # of which dev evaluation
    examples_per_second: float = 0.0
    train_size: int = 0
    precision: str = "fp32"  # what ran ("auto" resolved)
    setup_seconds: float = 0.0  # set by the caller: process start to training start
    train_digest: str = ""  # sha256 of the training examples (set by the caller that chose them)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` is bf16 where the hardware computes it natively (a CUDA GPU with bf16, or a CPU with
    AVX512-BF16 or AMX, where it trains about 1.6x and evaluates about 2.8x faster than fp32 on
    MiniLM), else fp32; an emulated bf16 would be slower than fp32."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"


def _autocast(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return torch.autocast(device_type=device.type, enabled=False)


def train_step(
    encoder: nn.Module, head: nn.Module, fmt: TaskFormat, chunk: list, pad_id: int, device: torch.device,
    precision: str, optimizer: torch.optim.Optimizer, scheduler,
) -> torch.Tensor:
    """One optimisation step on a batch (forward under autocast, loss, backward, optimiser and
    schedule step); the caller sets train/eval modes. Returns the batch's loss."""
    batch = _to(fmt.collate(chunk, pad_id), device)
    with _autocast(device, precision):
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


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in batch.items()}


@torch.no_grad()
def evaluate(
    encoder: PromptedEncoder,
    head: nn.Module,
    fmt: TaskFormat,
    features: list[dict],
    rows: list[dict],
    spec: PromptSpec,
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
        batch = _to(fmt.collate([features[i] for i in ids], pad_id), device)
        with _autocast(device, spec.precision):
            tokens, pooled = encoder(**batch)
            logits = fmt.forward_head(head, tokens, pooled, batch)
        for i, prediction in zip(ids, fmt.predict(logits, batch)):
            predictions[i] = prediction
    return fmt.score(predictions, rows), predictions


def tune_prompt(
    backbone: Backbone,
    meta: TaskMeta,
    train_rows: list[dict],
    dev_rows: list[dict],
    spec: PromptSpec,
    seed: int,
    init_prompt: dict[str, torch.Tensor] | None = None,
    log: Log = print,
) -> TuneResult:
    """Tune over the learning-rate grid; return the best run (by dev score, ties to the first lr)."""
    device = pick_device()
    spec = replace(spec, precision=resolve_precision(spec.precision, device))
    backbone.model.to(device)
    fmt = get_format(meta)
    tokenizer = backbone.tokenizer
    max_length = min(spec.max_length, backbone.max_positions - spec.length - 2)
    train_feats = fmt.encode(train_rows, tokenizer, max_length)
    dev_feats = fmt.encode(dev_rows, tokenizer, max_length)
    pad_id = tokenizer.pad_token_id or 0
    best: TuneResult | None = None
    for lr in spec.lrs:
        result = _tune_one_lr(backbone, fmt, train_feats, dev_feats, dev_rows, spec, lr, seed, init_prompt, pad_id, device, log)
        log(f"lr {lr:g}: best dev {meta.metric} {result.score:.2f}")
        if best is None or result.score > best.score:
            best = result
    assert best is not None
    return best


def _tune_one_lr(backbone, fmt, train_feats, dev_feats, dev_rows, spec, lr, seed, init_prompt, pad_id, device, log):
    from transformers import get_linear_schedule_with_warmup

    seed_everything(seed)
    prompt = PromptEncoder(spec.length, backbone.hidden_size, spec.mlp_hidden)
    if init_prompt is not None:
        prompt.load_state_dict(init_prompt)
    head = fmt.make_head(backbone.hidden_size)
    encoder = PromptedEncoder(backbone.model, prompt, spec.pooling).to(device)
    head.to(device)
    params = list(prompt.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=lr)
    steps_per_epoch = -(-len(train_feats) // spec.batch_size)
    total = steps_per_epoch * spec.epochs
    if spec.max_steps:
        total = min(total, spec.max_steps)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(spec.warmup_ratio * total), total)
    eval_every = max(1, steps_per_epoch // max(1, spec.evals_per_epoch))
    # no evaluation before the last eval_last_epochs epochs (the final step is always evaluated)
    eval_after = max(0, total - spec.eval_last_epochs * steps_per_epoch) if spec.eval_last_epochs else 0
    rng = random.Random(seed)
    history: list[dict] = []
    best_score, best_state, best_predictions = -float("inf"), None, []
    step, eval_seconds = 0, 0.0
    log(f"lr {lr:g}: {len(train_feats)} train / {len(dev_feats)} dev examples, {total} steps on {device} ({spec.precision})")
    progress = Progress(log, total)
    while step < total:
        for chunk in batches(train_feats, spec.batch_size, rng, spec.group_by_length):
            encoder.train()
            head.train()
            # the backbone stays in eval mode: dropout off, it is a fixed feature map
            backbone.model.eval()
            loss = train_step(encoder, head, fmt, chunk, pad_id, device, spec.precision, optimizer, scheduler)
            step = progress.update(len(chunk), loss)
            if (step % eval_every == 0 and step > eval_after) or step == total:
                eval_start = time.perf_counter()
                score, predictions = evaluate(encoder, head, fmt, dev_feats, dev_rows, spec, pad_id, device)
                eval_seconds += time.perf_counter() - eval_start
                history.append({"lr": lr, "step": step, "dev_score": score, "loss": float(loss.item())})
                log(f"eval at step {step}: dev {score:.2f}")
                if score > best_score:
                    best_score = score
                    best_state = (copy.deepcopy(prompt.state_dict()), copy.deepcopy(head.state_dict()))
                    best_predictions = predictions
            if step >= total:
                break
    elapsed = progress.elapsed()
    prompt.load_state_dict(best_state[0])
    with torch.no_grad():
        embedding = prompt().detach().cpu()
    return TuneResult(
        score=best_score,
        lr=lr,
        prompt_state={k: v.cpu() for k, v in best_state[0].items()},
        head_state={k: v.cpu() for k, v in best_state[1].items()},
        embedding=embedding,
        dev_predictions=best_predictions,
        history=history,
        train_seconds=elapsed,
        eval_seconds=eval_seconds,
        examples_per_second=progress.seen / (elapsed - eval_seconds) if elapsed > eval_seconds else 0.0,
        train_size=len(train_feats),
        precision=spec.precision,
    )


def spec_dict(spec: PromptSpec) -> dict:
    d = asdict(spec)
    d["lrs"] = list(spec.lrs)
    return d
