"""Replica training on a GPU: examples/s and achieved TFLOP/s for 1 to 16 replicas of batch 16.

Builds the encoders from their configurations with random weights (nothing is downloaded):
- `paper`: RoBERTa-large-shaped (24 layers, hidden 1024, 16 heads, FFN 4096), the paper's prompt
  length L = 50 and 128 input tokens;
- `minilm`: MiniLM-L6-shaped (6 layers, hidden 384, 12 heads, FFN 1536), the default's L = 20 and
  64 tokens;
- `tiny`: a 2-layer, hidden-32 encoder for a test of this script on any CPU.
For each replica count K it times the training step of the workflow's own loop
(training.ReplicaLoop.step: K prompt encoders and heads, one backbone pass over the K x 16
concatenated rows, summed losses, one Adam step), in bf16 autocast by default, and prints per K:
examples/s, tokens/s, model TFLOP/s, the share of the device's bf16 peak (if known or given) and
the peak GPU memory. One line of JSON per (shape, K) with --json.

Model FLOPs per token of a training step with a frozen backbone: 4N for the matrix multiplies
(forward 2N, backward to the activations 2N, no weight gradients; N = non-embedding parameters)
plus 12 x layers x T x H for attention (QK^T and AV: 4TH per layer forward, twice that backward),
T the prompted sequence length.

    .venv/bin/python bench/gpu.py                          # on a GPU: paper and minilm, K = 1 2 4 8 16
    .venv/bin/python bench/gpu.py --shapes paper --replicas 1 8 --steps 20
    .venv/bin/python bench/gpu.py --device cpu --shapes tiny --replicas 1 2 --steps 2 --precision fp32   # CPU check
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from tasktransfer.data.prepare import TaskMeta
from tasktransfer.prompting.backbone import Backbone
from tasktransfer.prompting.formats import get_format
from tasktransfer.prompting.training import PromptSpec, Replica, ReplicaLoop

SHAPES = {
    # name: (layers, hidden, heads, ffn, vocab, prompt length L, input tokens)
    "paper": (24, 1024, 16, 4096, 50265, 50, 128),
    "minilm": (6, 384, 12, 1536, 30522, 20, 64),
    "tiny": (2, 32, 2, 64, 1000, 4, 16),
}
#: dense bf16 peak TFLOP/s by device name (no sparsity)
PEAKS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0, "V100": 125.0}


def build_encoder(shape: str, device: torch.device) -> tuple[Backbone, int]:
    from transformers import BertConfig, BertModel, RobertaConfig, RobertaModel

    layers, hidden, heads, ffn, vocab, _, _ = SHAPES[shape]
    kwargs = {"vocab_size": vocab, "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
              "intermediate_size": ffn, "max_position_embeddings": 514}
    torch.manual_seed(0)
    if shape == "paper":
        model = RobertaModel(RobertaConfig(**kwargs, type_vocab_size=1), add_pooling_layer=False)
    else:
        model = BertModel(BertConfig(**kwargs), add_pooling_layer=False)
    model.eval().to(device)
    for p in model.parameters():
        p.requires_grad_(False)
    params = sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)
    return Backbone(name=f"random {shape}", model=model, tokenizer=None), params


def peak_tflops(device: torch.device, given: float) -> float:
    if given or device.type != "cuda":
        return given
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAKS.items() if k in name), 0.0)


def measure(shape: str, replicas: int, args: argparse.Namespace, device: torch.device) -> dict:
    layers, hidden, _, _, vocab, length, tokens = SHAPES[shape]
    backbone, params = build_encoder(shape, device)
    meta = TaskMeta("bench", "t", "classification", "accuracy", ["a", "b"], 0, 0, None)
    spec = PromptSpec(length=length, batch_size=args.batch, precision=args.precision, max_length=tokens)
    loop = ReplicaLoop(backbone, get_format(meta), spec, [Replica(s, 1e-4) for s in range(replicas)], 0, device,
                       concat=True)  # one backbone pass over all replicas: what a GPU runs
    g = torch.Generator().manual_seed(1)
    batches = [
        {
            "input_ids": torch.randint(5, vocab, (args.batch, tokens), generator=g).to(device),
            "attention_mask": torch.ones(args.batch, tokens, dtype=torch.long, device=device),
            "labels": torch.randint(0, 2, (args.batch,), generator=g).to(device),
        }
        for _ in range(replicas)
    ]

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(args.warmup):
        loop.step(batches)
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        loop.step(batches)
    sync()
    seconds = (time.perf_counter() - start) / args.steps
    examples = replicas * args.batch / seconds
    seq = length + tokens
    flops_per_token = 4 * params + 12 * layers * seq * hidden
    tflops = flops_per_token * examples * seq / 1e12
    peak = peak_tflops(device, args.peak_tflops)
    return {
        "shape": shape,
        "replicas": replicas,
        "device_batch": replicas * args.batch,
        "prompt_length": length,
        "tokens": tokens,
        "precision": args.precision,
        "step_ms": round(1000 * seconds, 2),
        "examples_per_s": round(examples, 1),
        "tokens_per_s": round(examples * seq, 0),
        "model_tflops": float(f"{tflops:.4g}"),
        "peak_share": round(tflops / peak, 4) if peak else None,
        "peak_memory_mib": round(torch.cuda.max_memory_allocated(device) / 2**20) if device.type == "cuda" else None,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shapes", nargs="+", choices=sorted(SHAPES), default=["paper", "minilm"])
    p.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    p.add_argument("--batch", type=int, default=16, help="examples per replica and step (the paper's 16)")
    p.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    p.add_argument("--peak-tflops", type=float, default=0.0, help="the device's bf16 peak (default: by GPU name)")
    p.add_argument("--json", action="store_true", help="one JSON line per measurement instead of a table")
    args = p.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    if not args.json:
        print(f"device {name}; {args.precision}; batch {args.batch} per replica; {args.steps} timed steps after {args.warmup}")
        print(f"{'shape':<7} {'K':>3} {'batch':>5} {'step ms':>8} {'ex/s':>9} {'TFLOP/s':>8} {'of peak':>8} {'GPU MiB':>8}")
    for shape in args.shapes:
        for k in args.replicas:
            try:
                row = measure(shape, k, args, device)
            except torch.OutOfMemoryError:
                row = {"shape": shape, "replicas": k, "error": "out of memory"}
                torch.cuda.empty_cache()
            if args.json:
                print(json.dumps(row), flush=True)
            elif "error" in row:
                print(f"{shape:<7} {k:>3} out of memory", flush=True)
            else:
                share = f"{100 * row['peak_share']:.1f} %" if row["peak_share"] is not None else "-"
                mem = row["peak_memory_mib"] if row["peak_memory_mib"] is not None else "-"
                print(f"{shape:<7} {k:>3} {row['device_batch']:>5} {row['step_ms']:>8.1f} {row['examples_per_s']:>9.1f} "
                      f"{row['model_tflops']:>8.3f} {share:>8} {mem:>8}", flush=True)


if __name__ == "__main__":
    main()
