"""The affinity scorer: predicts the transfer gain a_ij from the pair of task embeddings.

s([P_target; P_source]) -> gain. Its encoder starts from the same pretrained backbone as the
prompt pool (and, unlike there, is fine-tuned); it reads the two embeddings (2L x H) as
``inputs_embeds`` and a linear head on the mean of its output states gives one number. Loss:
smooth L1 with threshold beta.

The learning rate is chosen by k-fold cross-validation **grouped by task** (:func:`task_folds`),
which mirrors how the scorer is used: a novel target, ranked over sources the scorer has seen.
The tasks are dealt into k folds; fold k's model trains on the pairs that touch none of its
held-out tasks and predicts the pairs whose *target* is held out (sources from the other folds),
so no held-out target has a pair on the training side. A pair whose source and target fall in
the same fold is predicted by no fold. The held-out predictions of the chosen rate are kept, so
the report can show predicted against true gain on targets the scorer never saw.
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

from tasktransfer.prompting.backbone import load_backbone
from tasktransfer.prompting.training import pick_device, seed_everything

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


def _stack(
    pairs: Sequence[TrainingPair], emb: dict[str, torch.Tensor], target_emb: dict[str, torch.Tensor] | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    target_emb = emb if target_emb is None else target_emb
    t = torch.stack([target_emb[p.target] for p in pairs]).float()
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
    target_emb: dict[str, torch.Tensor] | None = None,
) -> AffinityScorer:
    """Fine-tune a copy of ``base`` on the pairs; deterministic for a seed.

    ``emb`` holds the source-side embeddings, ``target_emb`` the target-side ones (default: ``emb``):
    a task can be embedded by its pool prompt as a source and by its target-role run as a target.
    """
    from transformers import get_linear_schedule_with_warmup

    seed_everything(seed)
    device = pick_device()
    model = copy.deepcopy(base).to(device)
    model.head.reset_parameters()
    t, s, y = _stack(pairs, emb, target_emb)
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


def task_folds(pairs: Sequence[TrainingPair], folds: int, seed: int) -> dict[str, int]:
    """Seeded, balanced assignment of the pairs' tasks (sources and targets) to folds."""
    tasks = sorted({p.source for p in pairs} | {p.target for p in pairs})
    random.Random(seed).shuffle(tasks)
    return {task: rank % folds for rank, task in enumerate(tasks)}


def grouped_splits(pairs: Sequence[TrainingPair], fold: dict[str, int], folds: int) -> list[tuple[list[int], list[int]]]:
    """Per fold: (training pair indices, test pair indices).

    Test: the pairs whose target is in the fold and whose source is not. Training: the pairs
    with neither task in the fold. So a held-out target never has a pair on the training side.
    """
    splits = []
    for k in range(folds):
        train = [i for i, p in enumerate(pairs) if fold[p.source] != k and fold[p.target] != k]
        test = [i for i, p in enumerate(pairs) if fold[p.target] == k and fold[p.source] != k]
        splits.append((train, test))
    return splits


def plan_folds(pairs: Sequence[TrainingPair], spec: ScorerSpec, seed: int, log: Log = print) -> dict:
    """The task-grouped folds cross-validation uses: ``spec.folds`` of them where every fold with
    test pairs keeps at least 2 training pairs, else more folds (fewer tasks held out each, up to
    one task per fold), else none (too few pairs: no cross-validation)."""
    n_tasks = len({p.source for p in pairs} | {p.target for p in pairs})
    for folds in range(max(2, min(spec.folds, n_tasks)), n_tasks + 1):
        fold = task_folds(pairs, folds, seed)
        splits = grouped_splits(pairs, fold, folds)
        short = [k for k, (train, test) in enumerate(splits) if test and len(train) < 2]
        if not short and any(test for _, test in splits):
            if folds != spec.folds:
                log(
                    f"task-grouped CV: {folds} folds instead of {spec.folds}, so that every fold keeps at least "
                    f"2 training pairs ({len(pairs)} pairs among {n_tasks} tasks)"
                )
            return {"folds": folds, "fold_of_task": fold, "splits": splits}
    log(
        f"task-grouped CV is impossible with {len(pairs)} pairs among {n_tasks} tasks (some held-out task leaves "
        "fewer than 2 training pairs even with one task per fold): no cross-validation, no held-out predictions; "
        "raise pairs.m for them"
    )
    return {"folds": 0, "fold_of_task": {}, "splits": []}


def cross_validate(
    base: AffinityScorer,
    pairs: Sequence[TrainingPair],
    emb: dict[str, torch.Tensor],
    spec: ScorerSpec,
    lr: float,
    seed: int,
    splits: list[tuple[list[int], list[int]]],
    log: Log = print,
    target_emb: dict[str, torch.Tensor] | None = None,
) -> dict[int, float]:
    """Pair index -> held-out prediction, from the fold model that saw none of its target's pairs."""
    held_out: dict[int, float] = {}
    for train, test in splits:
        if not test:
            continue
        model = train_scorer_once(base, [pairs[i] for i in train], emb, spec, lr, seed, log, target_emb)
        targets = emb if target_emb is None else target_emb
        for i in test:
            p = pairs[i]
            held_out[i] = predict(model, targets[p.target], {p.source: emb[p.source]})[p.source]
    return held_out


def fit_scorer(
    backbone_name: str,
    pairs: Sequence[TrainingPair],
    emb: dict[str, torch.Tensor],
    spec: ScorerSpec,
    seed: int,
    log: Log = print,
    target_emb: dict[str, torch.Tensor] | None = None,
) -> tuple[AffinityScorer, dict]:
    """Choose lr by task-grouped CV (mean absolute error of the held-out predictions), then
    train on all pairs with it. Without CV (too few pairs) the grid's first lr is used."""
    if len(pairs) < 2:
        raise ValueError(f"the scorer needs at least 2 training pairs, got {len(pairs)}; raise pairs.m")
    base = build_scorer(backbone_name)
    plan = plan_folds(pairs, spec, seed, log)
    cv: dict[float, dict[int, float]] = {}
    if plan["folds"]:
        for lr in spec.lrs:
            log(f"cross-validating lr {lr:g} over {plan['folds']} task-grouped folds of {len(pairs)} pairs")
            cv[lr] = cross_validate(base, pairs, emb, spec, lr, seed, plan["splits"], log, target_emb)
    mae = {lr: float(np.mean([abs(pred - pairs[i].gain) for i, pred in held.items()])) for lr, held in cv.items()}
    best_lr = min(spec.lrs, key=lambda lr: (mae[lr], lr)) if mae else spec.lrs[0]
    if mae:
        log(f"chose lr {best_lr:g} (cross-validated MAE {mae[best_lr]:.3f}); training on all pairs")
    else:
        log(f"lr {best_lr:g} (the grid's first; nothing to cross-validate on); training on all pairs")
    model = train_scorer_once(base, pairs, emb, spec, best_lr, seed, log, target_emb)
    held = cv.get(best_lr, {})
    predicted = sorted(held)
    fold = plan["fold_of_task"]
    report = {
        "lr": best_lr,
        "cv_mae": {str(k): v for k, v in mae.items()},
        "cv": {
            "grouped_by": "target task",
            "folds": plan["folds"],
            "requested_folds": spec.folds,
            "rule": "fold k trains on the pairs touching none of its tasks and predicts the pairs whose target is one of "
            "its tasks (source from another fold)",
            "per_fold": [
                {
                    "held_out_tasks": sorted(t for t, f in fold.items() if f == k),
                    "train_pairs": len(train),
                    "test_pairs": len(test),
                }
                for k, (train, test) in enumerate(plan["splits"])
            ],
            "predicted_pairs": len(predicted),
            "unpredicted_pairs": len(pairs) - len(predicted),
        },
        "tasks": sorted({p.source for p in pairs} | {p.target for p in pairs}),
        "held_out": [
            {
                "source": pairs[i].source,
                "target": pairs[i].target,
                "gain": pairs[i].gain,
                "predicted": held[i],
                "fold": fold[pairs[i].target],
            }
            for i in predicted
        ],
    }
    return model, report
