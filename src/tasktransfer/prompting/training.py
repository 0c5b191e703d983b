"""Prompt tuning: train a prompt encoder (and a head) on one task with the backbone frozen.

One run per seed and learning rate in the grid, all runs of a job trained together as replicas
of one batched loop (one backbone pass per step serves them all); per seed, the best dev score
over the grid and over evaluation points is the task's score (r1 for a task tuned from scratch,
r2 when the prompt encoder starts from a source task's).
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

# the loop's parts, shared with full fine-tuning (finetune.py); imported here for their callers
from tasktransfer.prompting.loop_steps import (  # noqa: F401
    Progress,
    autocast_for,
    batches,
    evaluate,
    feature_length,
    to_device,
    train_step,
)
from tasktransfer.prompting.prompt_encoder import PromptEncoder, pool_states, prompted_states

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
    replicas: int = 1  # runs trained together in its loop (train_seconds, examples_per_second are the loop's)
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
    """Tune over the learning-rate grid; return the best run (by dev score, ties to the first lr).
    One seed of :func:`tune_prompts`."""
    return tune_prompts(backbone, meta, train_rows, dev_rows, spec, [seed], [init_prompt], log=log)[0]


def tune_prompts(
    backbone: Backbone,
    meta: TaskMeta,
    train_rows: list[dict],
    dev_rows: list[dict],
    spec: PromptSpec,
    seeds: list[int],
    init_prompts: list[dict[str, torch.Tensor] | None] | None = None,
    log: Log = print,
    max_replicas: int = 0,
) -> list[TuneResult]:
    """Tune one prompt per seed over the learning-rate grid, every (seed, lr) run a replica of one
    batched loop (:func:`tune_replicas`); per seed the best run (by dev score, ties to the first lr).

    ``init_prompts[i]`` starts seed i's runs from a source prompt (a transfer); ``max_replicas``
    caps the replicas trained together (0: all), the rest follow in later groups.
    """
    inits = list(init_prompts) if init_prompts is not None else [None] * len(seeds)
    if len(inits) != len(seeds):
        raise ValueError(f"{len(seeds)} seeds but {len(inits)} initial prompts")
    replicas = [Replica(seed, lr, init) for seed, init in zip(seeds, inits) for lr in spec.lrs]
    results = tune_replicas(backbone, meta, train_rows, dev_rows, spec, replicas, log=log, max_replicas=max_replicas)
    best: list[TuneResult] = []
    for i, seed in enumerate(seeds):
        runs = results[i * len(spec.lrs) : (i + 1) * len(spec.lrs)]
        for run in runs:
            log(f"seed {seed}, lr {run.lr:g}: best dev {meta.metric} {run.score:.2f}")
        best.append(max(runs, key=lambda r: r.score))  # max keeps the first of equal scores
    return best


@dataclass
class Replica:
    """One run of a batched loop: its seed (init and data order), learning rate and start."""

    seed: int
    lr: float
    init_prompt: dict[str, torch.Tensor] | None = None


def tune_replicas(
    backbone: Backbone,
    meta: TaskMeta,
    train_rows: list[dict],
    dev_rows: list[dict],
    spec: PromptSpec,
    replicas: list[Replica],
    log: Log = print,
    max_replicas: int = 0,
) -> list[TuneResult]:
    """Train K runs on one task together; one result per replica, in order.

    Each replica keeps its own prompt encoder, head, optimiser state, schedule, data order (its
    seed), dev evaluations and best evaluation point; only the frozen backbone is shared. At each
    step the replicas' batches are concatenated (padded to the longest row) and go through the
    backbone in one forward and one backward pass, each row behind its own replica's prompt; the
    replicas' losses are summed, so each replica's gradient is its own. Results equal those of
    training each replica alone (:func:`tune_prompt` is K = 1) up to float rounding; the same
    replicas give the same numbers. ``max_replicas`` > 0 trains them in groups of that size.
    """
    device = pick_device()
    spec = replace(spec, precision=resolve_precision(spec.precision, device))
    backbone.model.to(device)
    fmt = get_format(meta)
    tokenizer = backbone.tokenizer
    max_length = min(spec.max_length, backbone.max_positions - spec.length - 2)
    train_feats = fmt.encode(train_rows, tokenizer, max_length)
    dev_feats = fmt.encode(dev_rows, tokenizer, max_length)
    pad_id = tokenizer.pad_token_id or 0
    group = max_replicas if max_replicas > 0 else max(1, len(replicas))
    results: list[TuneResult] = []
    for at in range(0, len(replicas), group):
        loop = ReplicaLoop(backbone, fmt, spec, replicas[at : at + group], pad_id, device)
        results += loop.run(train_feats, dev_feats, dev_rows, log)
    return results


@dataclass(frozen=True)
class _StepPlan:
    """How many optimisation steps a loop takes, and at which ones it evaluates on dev."""

    total: int
    eval_every: int
    eval_after: int  # no evaluation up to this step (the final step is always evaluated)

    @classmethod
    def of(cls, spec: PromptSpec, n_train: int) -> _StepPlan:
        steps_per_epoch = -(-n_train // spec.batch_size)
        total = steps_per_epoch * spec.epochs
        if spec.max_steps:
            total = min(total, spec.max_steps)
        eval_every = max(1, steps_per_epoch // max(1, spec.evals_per_epoch))
        # no evaluation before the last eval_last_epochs epochs
        eval_after = max(0, total - spec.eval_last_epochs * steps_per_epoch) if spec.eval_last_epochs else 0
        return cls(total, eval_every, eval_after)

    def evaluates_at(self, step: int) -> bool:
        return (step % self.eval_every == 0 and step > self.eval_after) or step == self.total


class ReplicaLoop:
    """The state of K replicas trained together (one group of :func:`tune_replicas`); `step` is one
    optimisation step of all of them (bench/throughput.py and bench/gpu.py time it)."""

    def __init__(self, backbone: Backbone, fmt: TaskFormat, spec: PromptSpec, replicas: list[Replica], pad_id: int,
                 device: torch.device, concat: bool | None = None):
        self.backbone, self.fmt, self.spec, self.replicas = backbone, fmt, spec, replicas
        self.pad_id, self.device = pad_id, device
        # training steps through one backbone pass over the concatenated batches where that fills
        # the device (a GPU: launch-bound at batch 16); on a CPU a batch of 16 already keeps the
        # matrix units busy and concatenation would pad every replica's rows to the longest of
        # them, so each replica's batch takes its own pass there (same numbers up to rounding).
        # Dev evaluation is concatenated everywhere: every replica reads the same batch.
        self.concat = device.type == "cuda" if concat is None else concat
        self.prompts: list[PromptEncoder] = []
        self.heads: list[nn.Module] = []
        groups = []
        for replica in replicas:
            # each replica's modules are built right after seeding with its seed: the same
            # initial weights as a run alone
            seed_everything(replica.seed)
            prompt = PromptEncoder(spec.length, backbone.hidden_size, spec.mlp_hidden)
            if replica.init_prompt is not None:
                prompt.load_state_dict(replica.init_prompt)
            head = fmt.make_head(backbone.hidden_size)
            prompt.to(device)
            head.to(device)
            self.prompts.append(prompt)
            self.heads.append(head)
            groups.append({"params": [*prompt.parameters(), *head.parameters()], "lr": replica.lr})
        # one optimiser, one parameter group per replica (Adam is per parameter, so this equals K
        # optimisers, in fewer kernel launches); the schedule scales each group's own lr
        self.optimizer = torch.optim.Adam(groups)

    def forward(self, batches: list[dict[str, torch.Tensor]], concat: bool = True) -> list[torch.Tensor]:
        """Each replica's logits on its own batch, from one backbone pass over all the rows
        (``concat``) or from one pass per replica."""
        if not concat and len(batches) > 1:
            logits = []
            with autocast_for(self.device, self.spec.precision):
                for prompt, head, batch in zip(self.prompts, self.heads, batches):
                    rows = prompt().unsqueeze(0).expand(batch["input_ids"].shape[0], -1, -1)
                    states = prompted_states(self.backbone.model, rows, batch["input_ids"], batch["attention_mask"],
                                             batch.get("token_type_ids"))
                    tokens, pooled = pool_states(states, self.spec.length, batch["attention_mask"], self.spec.pooling)
                    logits.append(self.fmt.forward_head(head, tokens, pooled, batch))
            return logits
        width = max(b["input_ids"].shape[1] for b in batches)

        def padded(key: str, value: int) -> torch.Tensor:
            return torch.cat([nn.functional.pad(b[key], (0, width - b[key].shape[1]), value=value) for b in batches])

        input_ids, mask = padded("input_ids", self.pad_id), padded("attention_mask", 0)
        types = padded("token_type_ids", 0) if "token_type_ids" in batches[0] else None
        prompt_rows = torch.cat(
            [p().unsqueeze(0).expand(b["input_ids"].shape[0], -1, -1) for p, b in zip(self.prompts, batches)]
        )
        with autocast_for(self.device, self.spec.precision):
            states = prompted_states(self.backbone.model, prompt_rows, input_ids, mask, types)
            logits, row = [], 0
            for head, batch in zip(self.heads, batches):
                rows = batch["input_ids"].shape[0]
                tokens, pooled = pool_states(states[row : row + rows], self.spec.length, batch["attention_mask"],
                                             self.spec.pooling)
                logits.append(self.fmt.forward_head(head, tokens, pooled, batch))
                row += rows
        return logits

    def step(self, batches: list[dict[str, torch.Tensor]]) -> list[torch.Tensor]:
        """One optimisation step of every replica on its own (collated, on-device) batch: one
        forward and one backward pass through the backbone; returns each replica's loss."""
        losses = [self.fmt.loss(logits, b) for logits, b in zip(self.forward(batches, self.concat), batches)]
        self.optimizer.zero_grad(set_to_none=True)
        # each replica's parameters only reach its own loss: the sum's gradient is each one's own
        torch.stack(losses).sum().backward()
        self.optimizer.step()
        return losses

    @torch.no_grad()
    def _evaluate(self, dev_feats: list[dict], dev_rows: list[dict]) -> list[tuple[float, list]]:
        """Every replica's dev score and predictions, as :func:`evaluate` gives one run's (dev
        batches shortest first; each batch goes through the backbone once for all replicas)."""
        for module in (*self.prompts, *self.heads):
            module.eval()
        order = sorted(range(len(dev_feats)), key=lambda i: feature_length(dev_feats[i]))
        predictions: list[list] = [[None] * len(dev_feats) for _ in self.replicas]
        for at in range(0, len(order), self.spec.eval_batch_size):
            ids = order[at : at + self.spec.eval_batch_size]
            batch = to_device(self.fmt.collate([dev_feats[i] for i in ids], self.pad_id), self.device)
            for k, logits in enumerate(self.forward([batch] * len(self.replicas))):
                for i, prediction in zip(ids, self.fmt.predict(logits, batch)):
                    predictions[k][i] = prediction
        return [(self.fmt.score(p, dev_rows), p) for p in predictions]

    def _train_on(self, chunks: tuple[list[dict], ...]) -> list[torch.Tensor]:
        """One step of every replica on its chunk of training examples; each replica's loss."""
        for module in (*self.prompts, *self.heads):
            module.train()
        # the backbone stays in eval mode: dropout off, it is a fixed feature map
        self.backbone.model.eval()
        collated = [to_device(self.fmt.collate(c, self.pad_id), self.device) for c in chunks]
        return self.step(collated)

    def _evaluate_and_keep(
        self,
        step: int,
        losses: list[torch.Tensor],
        dev: tuple[list[dict], list[dict]],
        history: list[list[dict]],
        best: list[tuple],
        log: Log,
    ) -> float:
        """Evaluate every replica on dev, add the point to its history and keep its state where it
        is its best so far (the first of equal scores); return the seconds the evaluation took."""
        eval_start = time.perf_counter()
        scores = self._evaluate(*dev)
        eval_seconds = time.perf_counter() - eval_start
        for k, ((score, predictions), replica) in enumerate(zip(scores, self.replicas)):
            history[k].append({"lr": replica.lr, "step": step, "dev_score": score, "loss": float(losses[k].item())})
            if score > best[k][0]:
                state = (copy.deepcopy(self.prompts[k].state_dict()), copy.deepcopy(self.heads[k].state_dict()))
                best[k] = (score, state, predictions)
        log(f"eval at step {step}: dev " + " ".join(f"{s:.2f}" for s, _ in scores))
        return eval_seconds

    def _results(
        self, best: list[tuple], history: list[list[dict]], timing: tuple[float, float, float], train_size: int
    ) -> list[TuneResult]:
        """Each replica's result, its prompt back at its best evaluation point; ``timing`` is the
        loop's (elapsed, eval seconds, examples per second), shared by its replicas."""
        elapsed, eval_seconds, rate = timing
        results = []
        for k, replica in enumerate(self.replicas):
            score, (prompt_state, head_state), predictions = best[k]
            self.prompts[k].load_state_dict(prompt_state)
            with torch.no_grad():
                embedding = self.prompts[k]().detach().float().cpu()
            results.append(
                TuneResult(
                    score=score,
                    lr=replica.lr,
                    prompt_state={n: v.cpu() for n, v in prompt_state.items()},
                    head_state={n: v.cpu() for n, v in head_state.items()},
                    embedding=embedding,
                    dev_predictions=predictions,
                    history=history[k],
                    train_seconds=elapsed,
                    eval_seconds=eval_seconds,
                    # the loop's rate over all its replicas (the device's throughput)
                    examples_per_second=rate,
                    train_size=train_size,
                    precision=self.spec.precision,
                    replicas=len(self.replicas),
                )
            )
        return results

    def run(self, train_feats: list[dict], dev_feats: list[dict], dev_rows: list[dict], log: Log) -> list[TuneResult]:
        from transformers import get_linear_schedule_with_warmup

        spec, K = self.spec, len(self.replicas)
        plan = _StepPlan.of(spec, len(train_feats))
        scheduler = get_linear_schedule_with_warmup(self.optimizer, int(spec.warmup_ratio * plan.total), plan.total)
        rngs = [random.Random(r.seed) for r in self.replicas]
        history: list[list[dict]] = [[] for _ in range(K)]
        best = [(-float("inf"), None, []) for _ in range(K)]
        step, eval_seconds = 0, 0.0
        runs = ", ".join(f"seed {r.seed} lr {r.lr:g}" for r in self.replicas)
        log(
            f"{K} replica{'s' if K > 1 else ''} ({runs}): {len(train_feats)} train / {len(dev_feats)} dev examples, "
            f"{plan.total} steps on {self.device} ({spec.precision})"
        )
        progress = Progress(log, plan.total)
        while step < plan.total:
            epoch = [batches(train_feats, spec.batch_size, rng, spec.group_by_length) for rng in rngs]
            for chunks in zip(*epoch):
                losses = self._train_on(chunks)
                scheduler.step()
                step = progress.update(sum(len(c) for c in chunks), losses[0])
                if plan.evaluates_at(step):
                    eval_seconds += self._evaluate_and_keep(step, losses, (dev_feats, dev_rows), history, best, log)
                if step >= plan.total:
                    break
        elapsed = progress.elapsed()
        rate = progress.seen / (elapsed - eval_seconds) if elapsed > eval_seconds else 0.0
        return self._results(best, history, (elapsed, eval_seconds, rate), len(train_feats))


def spec_dict(spec: PromptSpec) -> dict:
    d = asdict(spec)
    d["lrs"] = list(spec.lrs)
    return d
