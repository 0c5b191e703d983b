"""The affinity scorer: predicts the transfer gain a_ij from the pair of task embeddings.

s([P_target; P_source]) -> gain. Its encoder starts from the same pretrained backbone as the
prompt pool (and, unlike there, is fine-tuned); it reads the two embeddings (2L x H) as
``inputs_embeds`` and a linear head on the mean of its output states gives one number. Loss:
smooth L1 with threshold beta.

What :class:`ScorerSpec` adds to the paper's scorer (each can be switched off; config/paper.yaml
does, which gives the paper's scorer):

- ``segments``: a learned 2 x H segment embedding added to the target half and the source half
  of the input, so the encoder is told which 20 vectors are the target's. A learned embedding
  rather than ``token_type_ids``: RoBERTa (the paper's backbone) has one token type only.
- ``standardise``: each input vector is standardised per hidden unit by the mean and standard
  deviation over every token of the pool's prompts, then scaled to the standard deviation of the
  backbone's word embeddings (the scale the encoder was pretrained on). The statistics are
  buffers of the model, saved and loaded with it.
- ``target_label``: what is learned. ``raw``: the gain (the paper). ``centred``: the gain minus
  the mean gain of its target's pairs; ``standardised``: that divided by their standard
  deviation. A ranking of sources for one target ignores the target's offset, which is most of a
  raw gain's variance; the predictions are then on the label's scale (gain relative to the
  target's mean source), which orders sources the same way.
- ``steps``: every model, the cross-validation folds' and the final one, takes the same number
  of optimizer steps: ``epochs x ceil(M / batch_size)`` of the full pair set (or ``steps``).
- ``select_on``: the learning rate is chosen by the mean per-target Spearman correlation of the
  held-out predictions (``spearman``) or by their mean absolute error (``mae``).
- ``ensemble``: the final scorer is the mean of this many members trained with seeds seed,
  seed + 1, ...; cross-validation trains one model (seed) per fold and lr.
- ``train_layers``: ``all``, or ``top-N``: the encoder's lower layers and input embeddings stay
  frozen, its top N layers, the head and the segment embedding train.

The learning rate is chosen by k-fold cross-validation **grouped by task** (:func:`task_folds`),
which mirrors how the scorer is used: a novel target, ranked over sources the scorer has seen.
The tasks are dealt into k folds; fold k's model trains on the pairs that touch none of its
held-out tasks and predicts the pairs whose *target* is held out (sources from the other folds),
so no held-out target has a pair on the training side. A pair whose source and target fall in
the same fold is predicted by no fold. The held-out predictions of the chosen rate are kept, so
the report can show predicted against true gain on targets the scorer never saw.

The model, and :func:`load_scorer` for a saved one: :mod:`tasktransfer.affinity.scorer_model`.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from tasktransfer.affinity.scorer_model import (  # noqa: F401 (build_scorer, load_scorer, predict: this module's API)
    AffinityScorer,
    ScorerEnsemble,
    build_scorer,
    freeze_lower_layers,
    load_scorer,
    pool_statistics,
    predict,
)
from tasktransfer.affinity.scorer_spec import (  # noqa: F401 (SELECT_ON, TARGET_LABELS: this module's API)
    SELECT_ON,
    TARGET_LABELS,
    ScorerSpec,
    TrainingPair,
    training_labels,
)
from tasktransfer.metrics import spearman
from tasktransfer.prompting.training import pick_device, seed_everything

Log = Callable[[str], None]

def _stack(
    pairs: Sequence[TrainingPair], emb: dict[str, torch.Tensor], target_emb: dict[str, torch.Tensor] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    target_emb = emb if target_emb is None else target_emb
    t = torch.stack([target_emb[p.target] for p in pairs]).float()
    s = torch.stack([emb[p.source] for p in pairs]).float()
    return t, s


def _fresh_copy(base: AffinityScorer, spec: ScorerSpec, seed: int) -> tuple[AffinityScorer, torch.device]:
    """A copy of ``base`` on the device, ready to train: its new parameters (head, segments) drawn
    anew from ``seed`` (seeded first, so every model of a seed starts alike), its lower layers frozen."""
    seed_everything(seed)
    device = pick_device()
    model = copy.deepcopy(base).to(device)
    model.reset_new_parameters()
    freeze_lower_layers(model, spec.train_layers)
    return model, device


def train_scorer_once(
    base: AffinityScorer,
    pairs: Sequence[TrainingPair],
    emb: dict[str, torch.Tensor],
    spec: ScorerSpec,
    lr: float,
    seed: int,
    log: Log = print,
    target_emb: dict[str, torch.Tensor] | None = None,
    steps: int | None = None,
) -> AffinityScorer:
    """Fine-tune a copy of ``base`` on the pairs' labels (``spec.target_label``); deterministic for a seed.

    ``emb`` holds the source-side embeddings, ``target_emb`` the target-side ones (default: ``emb``):
    a task can be embedded by its pool prompt as a source and by its target-role run as a target.
    ``steps``: optimizer steps (default ``spec.total_steps(len(pairs))``); the data is passed over
    in shuffled epochs until they are taken.
    """
    from transformers import get_linear_schedule_with_warmup

    model, device = _fresh_copy(base, spec, seed)
    t, s = _stack(pairs, emb, target_emb)
    y = torch.tensor(training_labels(pairs, spec.target_label), dtype=torch.float)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    per_epoch = math.ceil(len(pairs) / spec.batch_size)
    total = spec.total_steps(len(pairs)) if steps is None else steps
    passes = math.ceil(total / per_epoch)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(spec.warmup_ratio * total), total)
    loss_fn = nn.SmoothL1Loss(beta=spec.beta)
    rng = random.Random(seed)
    start = time.perf_counter()
    taken = 0
    model.train()
    for epoch in range(passes):
        order = list(range(len(pairs)))
        rng.shuffle(order)
        total_loss, seen = 0.0, 0
        for i in range(0, len(order), spec.batch_size):
            if taken == total:
                break
            idx = torch.tensor(order[i : i + spec.batch_size])
            pred = model(t[idx].to(device), s[idx].to(device))
            loss = loss_fn(pred, y[idx].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            taken += 1
            total_loss += loss.item() * len(idx)
            seen += len(idx)
        if epoch == passes - 1 or (epoch + 1) % 5 == 0:
            log(
                f"  lr {lr:g} seed {seed} epoch {epoch + 1}/{passes} step {taken}/{total} "
                f"loss {total_loss / max(seen, 1):.4f} ({time.perf_counter() - start:.0f}s)"
            )
    model.eval()
    return model.cpu()


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
    steps: int | None = None,
) -> dict[int, float]:
    """Pair index -> held-out prediction, from the fold model that saw none of its target's pairs.

    Every fold model takes ``steps`` optimizer steps (:func:`fit_scorer` passes the final fit's).
    """
    held_out: dict[int, float] = {}
    for train, test in splits:
        if not test:
            continue
        model = train_scorer_once(base, [pairs[i] for i in train], emb, spec, lr, seed, log, target_emb, steps=steps)
        targets = emb if target_emb is None else target_emb
        for i in test:
            p = pairs[i]
            held_out[i] = predict(model, targets[p.target], {p.source: emb[p.source]})[p.source]
    return held_out


def held_out_labels(pairs: Sequence[TrainingPair], held: dict[int, float], kind: str) -> dict[int, float]:
    """The label of each held-out pair, computed (like training's) within its target's held-out pairs."""
    index = sorted(held)
    return dict(zip(index, training_labels([pairs[i] for i in index], kind)))


def held_out_scores(pairs: Sequence[TrainingPair], held: dict[int, float], kind: str) -> dict:
    """MAE against the labels, and the mean over held-out targets (those with 2 or more held-out
    pairs) of the Spearman correlation between predictions and gains; None where undefined."""
    if not held:
        return {"mae": None, "spearman": None, "spearman_targets": 0}
    labels = held_out_labels(pairs, held, kind)
    by_target: dict[str, list[int]] = {}
    for i in sorted(held):
        by_target.setdefault(pairs[i].target, []).append(i)
    rhos = [
        spearman([held[i] for i in idx], [pairs[i].gain for i in idx]) for _, idx in sorted(by_target.items()) if len(idx) >= 2
    ]
    return {
        "mae": float(np.mean([abs(held[i] - labels[i]) for i in held])),
        "spearman": float(np.mean(rhos)) if rhos else None,
        "spearman_targets": len(rhos),
    }


def choose_lr(spec: ScorerSpec, scores: dict[float, dict], log: Log = print) -> tuple[float, str]:
    """The grid's best lr by ``spec.select_on`` (ties: lower MAE, then the smaller lr); by MAE
    where no held-out target has 2 pairs to correlate; the grid's first without CV."""
    if not scores:
        return spec.lrs[0], "none"
    on = spec.select_on
    if on == "spearman" and any(v["spearman"] is None for v in scores.values()):
        log("no held-out target has 2 or more held-out pairs to correlate: choosing the lr by MAE instead of Spearman")
        on = "mae"
    if on == "spearman":
        best = min(spec.lrs, key=lambda lr: (-scores[lr]["spearman"], scores[lr]["mae"], lr))
    else:
        best = min(spec.lrs, key=lambda lr: (scores[lr]["mae"], lr))
    return best, on


def _cross_validate_lrs(
    base: AffinityScorer,
    pairs: Sequence[TrainingPair],
    emb: dict[str, torch.Tensor],
    spec: ScorerSpec,
    seed: int,
    plan: dict,
    steps: int,
    log: Log,
    target_emb: dict[str, torch.Tensor] | None,
) -> dict[float, dict[int, float]]:
    """lr -> the held-out predictions of every lr of the grid (nothing without folds)."""
    cv: dict[float, dict[int, float]] = {}
    if plan["folds"]:
        for lr in spec.lrs:
            log(f"cross-validating lr {lr:g} over {plan['folds']} task-grouped folds of {len(pairs)} pairs, {steps} steps each")
            cv[lr] = cross_validate(base, pairs, emb, spec, lr, seed, plan["splits"], log, target_emb, steps=steps)
    return cv


def _log_choice(spec: ScorerSpec, scores: dict[float, dict], best_lr: float, chosen_on: str, log: Log) -> None:
    if scores:
        s = scores[best_lr]
        rho = "n/a" if s["spearman"] is None else f"{s['spearman']:.3f}"
        log(f"chose lr {best_lr:g} by {chosen_on} (cross-validated mean per-target Spearman {rho}, MAE {s['mae']:.3f}); "
            f"training {spec.ensemble} member(s) on all pairs")
    else:
        log(f"lr {best_lr:g} (the grid's first; nothing to cross-validate on); training on all pairs")


def _fit_report(
    pairs: Sequence[TrainingPair],
    spec: ScorerSpec,
    seed: int,
    steps: int,
    plan: dict,
    scores: dict[float, dict],
    held: dict[int, float],
    best_lr: float,
    chosen_on: str,
) -> dict:
    """The scorer's metrics record: the chosen lr and why, the folds, and every held-out prediction
    of the chosen lr (for the report's predicted-against-true plot)."""
    labels = held_out_labels(pairs, held, spec.target_label)
    predicted = sorted(held)
    fold = plan["fold_of_task"]
    return {
        "lr": best_lr,
        "selected_on": chosen_on,
        "steps": steps,
        "target_label": spec.target_label,
        "ensemble_seeds": [seed + k for k in range(spec.ensemble)],
        "cv_mae": {str(k): v["mae"] for k, v in scores.items()},
        "cv_spearman": {str(k): v["spearman"] for k, v in scores.items()},
        "cv": {
            "grouped_by": "target task",
            "folds": plan["folds"],
            "requested_folds": spec.folds,
            "rule": "fold k trains on the pairs touching none of its tasks and predicts the pairs whose target is one of "
            "its tasks (source from another fold)",
            "steps_per_model": steps,
            "seed": seed,
            "spearman": "mean over held-out targets with 2 or more held-out pairs of Spearman(predicted, gain)",
            "spearman_targets": scores[best_lr]["spearman_targets"] if scores else 0,
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
                "label": labels[i],
                "predicted": held[i],
                "fold": fold[pairs[i].target],
            }
            for i in predicted
        ],
    }


def fit_scorer(
    backbone_name: str,
    pairs: Sequence[TrainingPair],
    emb: dict[str, torch.Tensor],
    spec: ScorerSpec,
    seed: int,
    log: Log = print,
    target_emb: dict[str, torch.Tensor] | None = None,
) -> tuple[nn.Module, dict]:
    """Choose lr by task-grouped CV (``spec.select_on``), then train ``spec.ensemble`` members on
    all pairs with it. Without CV (too few pairs) the grid's first lr is used.

    Standardisation statistics come from every prompt given (sources and targets; no gains).
    Every model, fold or final, takes ``spec.total_steps(len(pairs))`` optimizer steps.
    """
    if len(pairs) < 2:
        raise ValueError(f"the scorer needs at least 2 training pairs, got {len(pairs)}; raise pairs.m")
    base = build_scorer(backbone_name, replace(spec, ensemble=1))
    if spec.standardise:
        base.set_standardisation(*pool_statistics([*emb.values(), *(target_emb or {}).values()]))
    steps = spec.total_steps(len(pairs))
    plan = plan_folds(pairs, spec, seed, log)
    cv = _cross_validate_lrs(base, pairs, emb, spec, seed, plan, steps, log, target_emb)
    scores = {lr: held_out_scores(pairs, held, spec.target_label) for lr, held in cv.items()}
    best_lr, chosen_on = choose_lr(spec, scores, log)
    _log_choice(spec, scores, best_lr, chosen_on, log)
    members = [train_scorer_once(base, pairs, emb, spec, best_lr, seed + k, log, target_emb, steps=steps)
               for k in range(spec.ensemble)]
    model = members[0] if len(members) == 1 else ScorerEnsemble(members)
    report = _fit_report(pairs, spec, seed, steps, plan, scores, cv.get(best_lr, {}), best_lr, chosen_on)
    return model, report
