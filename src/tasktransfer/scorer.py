"""The affinity scorer: predicts the transfer gain a_ij from the pair of task embeddings.

s([P_target; P_source]) -> gain. Its encoder starts from the same pretrained backbone as the
prompt pool (and, unlike there, is fine-tuned); it reads the two embeddings (2L x H) as
``inputs_embeds`` and a linear head on the mean of its output states gives one number. Loss:
smooth L1 with threshold beta.

The learning rate is chosen by k-fold cross-validation over the training pairs; the held-out
predictions of the chosen rate are kept, so the report can show predicted against true gain on
pairs the scorer never saw.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from .backbone import load_backbone
from .training import pick_device, seed_everything

Log = Callable[[str], None]


@dataclass(frozen=True)
class ScorerSpec:
    lrs: tuple[float, ...] = (1e-4,)
    epochs: int = 20
    batch_size: int = 16
    beta: float = 1.0
    folds: int = 5
    warmup_ratio: float = 0.06

    @classmethod
    def from_dict(cls, d: dict) -> ScorerSpec:
        d = dict(d)
        if "lrs" in d:
            d["lrs"] = tuple(float(x) for x in d["lrs"])
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def to_dict(self) -> dict:
        d = asdict(self)
        d["lrs"] = list(self.lrs)
        return d


@dataclass(frozen=True)
class TrainingPair:
    source: str
    target: str
    gain: float


class AffinityScorer(nn.Module):
    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.config.hidden_size, 1)

    def forward(self, target_emb: torch.Tensor, source_emb: torch.Tensor) -> torch.Tensor:
        """(B, L, H) x (B, L, H) -> (B,) predicted gains."""
        embeds = torch.cat([target_emb, source_emb], dim=1)
        mask = torch.ones(embeds.shape[:2], dtype=torch.long, device=embeds.device)
        states = self.encoder(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
        return self.head(states.mean(1)).squeeze(-1)


def build_scorer(backbone_name: str) -> AffinityScorer:
    return AffinityScorer(load_backbone(backbone_name, frozen=False).model)


def _stack(pairs: Sequence[TrainingPair], emb: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    t = torch.stack([emb[p.target] for p in pairs]).float()
    s = torch.stack([emb[p.source] for p in pairs]).float()
    y = torch.tensor([p.gain for p in pairs], dtype=torch.float)
    return t, s, y


def train_scorer_once(
    base: AffinityScorer,
    pairs: Sequence[TrainingPair],
    emb: dict[str, torch.Tensor],
    spec: ScorerSpec,
    lr: float,
    seed: int,
    log: Log = print,
) -> AffinityScorer:
    """Fine-tune a copy of ``base`` on the pairs; deterministic for a seed."""
    from transformers import get_linear_schedule_with_warmup

    seed_everything(seed)
    device = pick_device()
    model = copy.deepcopy(base).to(device)
    model.head.reset_parameters()
    t, s, y = _stack(pairs, emb)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = -(-len(pairs) // spec.batch_size)
    total = steps_per_epoch * spec.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(spec.warmup_ratio * total), total)
    loss_fn = nn.SmoothL1Loss(beta=spec.beta)
    rng = random.Random(seed)
    start = time.perf_counter()
    model.train()
    for epoch in range(spec.epochs):
        order = list(range(len(pairs)))
        rng.shuffle(order)
        total_loss = 0.0
        for i in range(0, len(order), spec.batch_size):
            idx = torch.tensor(order[i : i + spec.batch_size])
            pred = model(t[idx].to(device), s[idx].to(device))
            loss = loss_fn(pred, y[idx].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += loss.item() * len(idx)
        if epoch == spec.epochs - 1 or (epoch + 1) % 5 == 0:
            log(f"  lr {lr:g} epoch {epoch + 1}/{spec.epochs} loss {total_loss / len(pairs):.4f} ({time.perf_counter() - start:.0f}s)")
    model.eval()
    return model.cpu()


@torch.no_grad()
def predict(model: AffinityScorer, target_emb: torch.Tensor, source_embs: dict[str, torch.Tensor]) -> dict[str, float]:
    """Predicted gain of every source for one target."""
    names = sorted(source_embs)
    if not names:
        return {}
    s = torch.stack([source_embs[n] for n in names]).float()
    t = target_emb.float().unsqueeze(0).expand(len(names), -1, -1)
    model.eval()
    return dict(zip(names, model(t, s).tolist()))


def fold_of(pairs: Sequence[TrainingPair], folds: int, seed: int) -> list[int]:
    """Seeded assignment of pairs to folds (balanced)."""
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    fold = [0] * len(pairs)
    for rank, i in enumerate(order):
        fold[i] = rank % folds
    return fold


def cross_validate(
    base: AffinityScorer,
    pairs: Sequence[TrainingPair],
    emb: dict[str, torch.Tensor],
    spec: ScorerSpec,
    lr: float,
    seed: int,
    log: Log = print,
) -> list[float]:
    """Held-out prediction for every pair, from the fold model that did not see it."""
    folds = max(2, min(spec.folds, len(pairs)))
    fold = fold_of(pairs, folds, seed)
    held_out = [0.0] * len(pairs)
    for k in range(folds):
        train = [p for p, f in zip(pairs, fold) if f != k]
        test = [i for i, f in enumerate(fold) if f == k]
        model = train_scorer_once(base, train, emb, spec, lr, seed, log)
        for i in test:
            p = pairs[i]
            held_out[i] = predict(model, emb[p.target], {p.source: emb[p.source]})[p.source]
    return held_out


def fit_scorer(
    backbone_name: str,
    pairs: Sequence[TrainingPair],
    emb: dict[str, torch.Tensor],
    spec: ScorerSpec,
    seed: int,
    log: Log = print,
) -> tuple[AffinityScorer, dict]:
    """Choose lr by k-fold CV (mean absolute error), then train on all pairs with it."""
    if len(pairs) < 2:
        raise ValueError(f"the scorer needs at least 2 training pairs, got {len(pairs)}; raise pairs.m")
    base = build_scorer(backbone_name)
    gains = np.array([p.gain for p in pairs])
    cv: dict[float, list[float]] = {}
    for lr in spec.lrs:
        log(f"cross-validating lr {lr:g} over {min(spec.folds, len(pairs))} folds of {len(pairs)} pairs")
        cv[lr] = cross_validate(base, pairs, emb, spec, lr, seed, log)
    mae = {lr: float(np.mean(np.abs(np.array(p) - gains))) for lr, p in cv.items()}
    best_lr = min(spec.lrs, key=lambda lr: (mae[lr], lr))
    log(f"chose lr {best_lr:g} (cross-validated MAE {mae[best_lr]:.3f}); training on all pairs")
    model = train_scorer_once(base, pairs, emb, spec, best_lr, seed, log)
    report = {
        "lr": best_lr,
        "cv_mae": {str(k): v for k, v in mae.items()},
        "held_out": [
            {"source": p.source, "target": p.target, "gain": p.gain, "predicted": pred}
            for p, pred in zip(pairs, cv[best_lr])
        ],
    }
    return model, report
